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
        views_.clear();
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
    // The same, starting `offset` elements into a larger allocation: a caller's view into the middle
    // of a buffer (not 16-byte aligned for an odd offset at 2-byte dtypes).
    chela_tensor* to_device_at(const HostTensor& h, int64_t offset) {
        const chela_tensor* hv = h.view();
        int64_t total = offset;
        int64_t n = 1;
        for (int32_t r = 0; r < hv->rank; ++r) n *= hv->shape[r];
        total += n;
        chela_tensor base{};
        EXPECT_EQ(chela_tensor_allocate(ctx, hv->dtype, 1, &total, &base), CHELA_OK) << chela_last_error();
        device_.push_back(base);
        chela_tensor v = base;
        v.rank = hv->rank;
        for (int32_t r = 0; r < hv->rank; ++r) v.shape[r] = hv->shape[r];
        v.data = static_cast<char*>(base.data) + offset * static_cast<int64_t>(chela_dtype_size(hv->dtype));
        views_.push_back(v);
        EXPECT_EQ(chela_tensor_copy(ctx, hv, &views_.back()), CHELA_OK) << chela_last_error();
        return &views_.back();
    }
    void to_host(const chela_tensor* d, HostTensor& h) {
        EXPECT_EQ(chela_tensor_copy(ctx, d, h.view()), CHELA_OK) << chela_last_error();
    }

    chela_context* ctx = nullptr;
    std::deque<chela_tensor> device_;
    std::deque<chela_tensor> views_;  // into allocations of device_ (released with them)
};

}  // namespace chela::test
