// A CUDA context on device 0 for the GPU tests, with device copies of host tensors that are freed
// after the test. Every test using it skips with one line where no CUDA device is usable (CI,
// CPU-only builds).
#pragma once

#include "support/test_util.h"

#include <deque>

namespace chela::test {

class CudaTest : public testing::Test {
protected:
    void SetUp() override {
        int32_t n = 0;
        ASSERT_CHELA_OK(chela_cuda_device_count(&n));
        if (n == 0) GTEST_SKIP() << "no CUDA device (or CUDA backend not built): GPU tests skipped";
        ASSERT_CHELA_OK(chela_context_create_cuda(0, &ctx));
    }
    void TearDown() override {
        for (auto& t : device_) chela_tensor_release(ctx, &t);
        device_.clear();
        if (ctx) chela_context_destroy(ctx);
    }
    // A device copy of a host tensor (poisoned host outputs copy their NaNs too).
    chela_tensor* to_device(const HostTensor& h) {
        chela_tensor d{};
        EXPECT_EQ(chela_tensor_allocate(ctx, h.view()->dtype, h.view()->rank, h.view()->shape, &d), CHELA_OK)
            << chela_last_error();
        EXPECT_EQ(chela_tensor_copy(ctx, h.view(), &d), CHELA_OK) << chela_last_error();
        device_.push_back(d);
        return &device_.back();
    }
    void to_host(const chela_tensor* d, HostTensor& h) {
        EXPECT_EQ(chela_tensor_copy(ctx, d, h.view()), CHELA_OK) << chela_last_error();
    }

    chela_context* ctx = nullptr;
    std::deque<chela_tensor> device_;
};

}  // namespace chela::test
