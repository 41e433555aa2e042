// A random-weight model written to a fresh temp dir and loaded on a CPU context (test helper).
#pragma once

#include "support/checkpoint_writer.h"
#include "support/test_util.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>

namespace chela::test {

struct Loaded {
    chela_context* ctx = nullptr;
    chela_model* model = nullptr;
    chela_model_config cfg{};
    Loaded(const chela_model_config& c, uint64_t seed, int branches = 1, int threads = 2) {
        static std::atomic<int> counter{0};
        const std::string dir = testing::TempDir() + "chela_model_" + std::to_string(::getpid()) + "_" +
                                std::to_string(counter++);
        write_checkpoint(dir, c, random_weights(c, seed, branches));
        EXPECT_EQ(chela_context_create_cpu(threads, &ctx), CHELA_OK) << chela_last_error();
        EXPECT_EQ(chela_model_load(ctx, dir.c_str(), &model), CHELA_OK) << chela_last_error();
        if (model) chela_model_get_config(model, &cfg);
        std::filesystem::remove_all(dir);
    }
    ~Loaded() {
        chela_model_destroy(model);
        chela_context_destroy(ctx);
    }
    Loaded(const Loaded&) = delete;
    Loaded& operator=(const Loaded&) = delete;
};

}  // namespace chela::test
