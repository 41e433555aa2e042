// Checkpoint loading: valid files round-trip, every hand-made corrupt file is rejected with the
// right status and a message naming the key or tensor, and the model API's argument checks.
#include "support/bad_checkpoints.h"
#include "support/checkpoint_writer.h"
#include "support/test_util.h"

#include <atomic>
#include <filesystem>
#include <unistd.h>

using namespace chela;
using namespace chela::test;

namespace {

std::string fresh_dir(const std::string& name) {
    static std::atomic<int> n{0};
    const std::string d = testing::TempDir() + "chela_ckpt_" + std::to_string(::getpid()) + "_" + std::to_string(n++) + "_" + name;
    std::filesystem::remove_all(d);
    return d;
}

using Ctx = CpuContextTest;

class BadCheckpoint : public Ctx, public testing::WithParamInterface<SampleCheckpoint> {};

TEST_P(BadCheckpoint, IsRejectedWithANamedReason) {
    const SampleCheckpoint& s = GetParam();
    const std::string dir = fresh_dir(s.name);
    write_sample(dir, s);
    chela_model* model = reinterpret_cast<chela_model*>(0x1);
    EXPECT_CHELA_ERROR(chela_model_load(ctx, dir.c_str(), &model), s.status, s.needle);
    EXPECT_EQ(model, nullptr);
    std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Table, BadCheckpoint, testing::ValuesIn(bad_checkpoints()),
                         [](const auto& info) { return info.param.name; });

class GoodCheckpoint : public Ctx, public testing::WithParamInterface<SampleCheckpoint> {};

TEST_P(GoodCheckpoint, LoadsAndReportsItsConfig) {
    const SampleCheckpoint& s = GetParam();
    const std::string dir = fresh_dir(s.name);
    write_sample(dir, s);
    chela_model* model = nullptr;
    ASSERT_CHELA_OK(chela_model_load(ctx, dir.c_str(), &model));
    chela_model_config cfg{};
    ASSERT_CHELA_OK(chela_model_get_config(model, &cfg));
    EXPECT_GT(cfg.d_model, 0);
    int32_t count = 0;
    ASSERT_CHELA_OK(chela_model_tensor_count(model, &count));
    EXPECT_GT(count, 10);
    for (int32_t i = 0; i < count; ++i) {
        const char* name = nullptr;
        ASSERT_CHELA_OK(chela_model_tensor_name(model, i, &name));
        chela_tensor t{};
        ASSERT_CHELA_OK(chela_model_tensor(model, name, &t));
        EXPECT_EQ(t.dtype, CHELA_DTYPE_F32);
        EXPECT_NE(t.data, nullptr);
    }
    ASSERT_CHELA_OK(chela_model_destroy(model));
    std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Table, GoodCheckpoint, testing::ValuesIn(good_checkpoints()),
                         [](const auto& info) { return info.param.name; });

// Weights come back exactly (f32) or as the rounded values (bf16, f16); config defaults apply.
TEST_F(Ctx, TensorsRoundTrip) {
    for (int32_t dt : {CHELA_DTYPE_F32, CHELA_DTYPE_BF16, CHELA_DTYPE_F16}) {
        chela_model_config c = small_config();
        auto w = random_weights(c, 11);
        for (auto& t : w) t.dtype = dt;
        const std::string dir = fresh_dir("roundtrip");
        write_checkpoint(dir, c, w);
        chela_model* model = nullptr;
        ASSERT_CHELA_OK(chela_model_load(ctx, dir.c_str(), &model));
        for (const auto& t : w) {
            chela_tensor v{};
            ASSERT_CHELA_OK(chela_model_tensor(model, t.name.c_str(), &v));
            ASSERT_EQ(v.rank, static_cast<int32_t>(t.shape.size())) << t.name;
            const auto want = round_through(t.values, dt);
            const float* got = static_cast<const float*>(v.data);
            for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[i], want[i]) << t.name << "[" << i << "]";
        }
        chela_model_destroy(model);
        std::filesystem::remove_all(dir);
    }
}

TEST_F(Ctx, ConfigDefaultsFollowTheSpec) {
    const std::string dir = fresh_dir("defaults");
    chela_model_config c = small_config();
    // A minimal config: only the required keys; everything else from the spec's defaults.
    const std::string minimal = "{\"d_model\":16,\"z_dim\":8,\"v_dim\":12,\"n_layers\":2,\"max_len\":64,\"vocab_size\":50}";
    write_checkpoint(dir, minimal, random_weights(c, 4));
    chela_model* model = nullptr;
    ASSERT_CHELA_OK(chela_model_load(ctx, dir.c_str(), &model));
    chela_model_config got{};
    chela_model_get_config(model, &got);
    EXPECT_EQ(got.n_heads, 1);
    EXPECT_EQ(got.short_kernel, 3);
    EXPECT_EQ(got.long_kernel, 64);
    EXPECT_EQ(got.causal, 1);
    EXPECT_EQ(got.prenorm, 1);
    EXPECT_EQ(got.norm, CHELA_NORM_LAYERNORM);
    EXPECT_EQ(got.feature_map, CHELA_FEATURE_IDENTITY);
    EXPECT_EQ(got.attn_norm, CHELA_ATTN_NORM_RMSNORM);
    EXPECT_FLOAT_EQ(got.attn_scale, 1.0f / std::sqrt(8.0f));
    EXPECT_EQ(got.decay, 0);
    EXPECT_EQ(got.ffn_dim, 0);
    EXPECT_EQ(got.task, CHELA_TASK_LM);
    EXPECT_EQ(got.pooling, CHELA_POOLING_MEAN);
    EXPECT_EQ(got.tie_embeddings, 0);
    EXPECT_FLOAT_EQ(got.eps, 1e-5f);
    chela_model_destroy(model);
    std::filesystem::remove_all(dir);
}

// Branches short_conv.{j} are merged into short_conv.weight / .bias: bidirectional, centred.
TEST_F(Ctx, BranchesAreMergedCentred) {
    chela_model_config c = small_config();
    c.causal = 0;
    c.short_kernel = 5;
    const auto w = random_weights(c, 12, 2);  // branches of sizes 5 and 3
    const std::string dir = fresh_dir("branches");
    write_checkpoint(dir, c, w);
    chela_model* model = nullptr;
    ASSERT_CHELA_OK(chela_model_load(ctx, dir.c_str(), &model));
    auto get = [&](const std::string& n) -> const TensorData& {
        for (const auto& t : w)
            if (t.name == n) return t;
        throw std::runtime_error(n);
    };
    const auto& w5 = get("layers.0.short_conv.0.weight");
    const auto& w3 = get("layers.0.short_conv.1.weight");
    const auto& b5 = get("layers.0.short_conv.0.bias");
    const auto& b3 = get("layers.0.short_conv.1.bias");
    chela_tensor mw{}, mb{};
    ASSERT_CHELA_OK(chela_model_tensor(model, "layers.0.short_conv.weight", &mw));
    ASSERT_CHELA_OK(chela_model_tensor(model, "layers.0.short_conv.bias", &mb));
    ASSERT_EQ(mw.shape[1], 5);
    const float* m = static_cast<const float*>(mw.data);
    for (int64_t ch = 0; ch < c.d_model; ++ch) {
        for (int j = 0; j < 5; ++j) {
            const float extra = (j >= 1 && j <= 3) ? w3.values[ch * 3 + j - 1] : 0.0f;
            EXPECT_FLOAT_EQ(m[ch * 5 + j], w5.values[ch * 5 + j] + extra);
        }
        EXPECT_FLOAT_EQ(static_cast<const float*>(mb.data)[ch], b5.values[ch] + b3.values[ch]);
    }
    chela_tensor none{};
    EXPECT_CHELA_ERROR(chela_model_tensor(model, "layers.0.short_conv.0.weight", &none), CHELA_ERR_INVALID_ARGUMENT,
                       "no tensor");
    chela_model_destroy(model);
    std::filesystem::remove_all(dir);
}

TEST_F(Ctx, ModelApiArgumentsAreChecked) {
    chela_model* model = nullptr;
    EXPECT_CHELA_ERROR(chela_model_load(nullptr, "x", &model), CHELA_ERR_INVALID_ARGUMENT, "ctx");
    EXPECT_CHELA_ERROR(chela_model_load(ctx, nullptr, &model), CHELA_ERR_INVALID_ARGUMENT, "dir");
    EXPECT_CHELA_ERROR(chela_model_load(ctx, "x", nullptr), CHELA_ERR_INVALID_ARGUMENT, "out");
    EXPECT_CHELA_ERROR(chela_model_load(ctx, "/nonexistent/chela", &model), CHELA_ERR_IO, "/nonexistent/chela/config.json");
    const std::string dir = fresh_dir("dir_as_weights");
    std::filesystem::create_directories(dir + "/model.safetensors");
    write_sample(dir, [] {
        SampleCheckpoint s = good_checkpoints().front();
        s.has_weights = false;
        return s;
    }());
    EXPECT_CHELA_ERROR(chela_model_load(ctx, dir.c_str(), &model), CHELA_ERR_IO, "not a regular file");
    std::filesystem::remove_all(dir);
    chela_model_config cfg;
    int32_t n;
    const char* name;
    chela_tensor t;
    EXPECT_CHELA_ERROR(chela_model_get_config(nullptr, &cfg), CHELA_ERR_INVALID_ARGUMENT, "model");
    EXPECT_CHELA_ERROR(chela_model_tensor_count(nullptr, &n), CHELA_ERR_INVALID_ARGUMENT, "model");
    EXPECT_CHELA_ERROR(chela_model_tensor_name(nullptr, 0, &name), CHELA_ERR_INVALID_ARGUMENT, "model");
    EXPECT_CHELA_ERROR(chela_model_tensor(nullptr, "x", &t), CHELA_ERR_INVALID_ARGUMENT, "model");
    ASSERT_CHELA_OK(chela_model_destroy(nullptr));
}

}  // namespace
