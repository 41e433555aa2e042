// Shared helpers for the native tests: seeded random data, NaN-poisoned outputs, tensors in any
// storage dtype, and the relative L2 error against a float64 reference.
#pragma once

#include <chela/chela.h>

#include "core/tensor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace chela::test {

// Normal(0, scale) values from a fixed seed. Never all zeros.
inline std::vector<float> randn(size_t n, uint64_t seed, float scale = 1.0f) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    return v;
}

// Uniform(lo, hi) values from a fixed seed.
inline std::vector<float> uniform(size_t n, uint64_t seed, float lo, float hi) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    return v;
}

inline std::vector<double> to_double(const std::vector<float>& v) {
    return std::vector<double>(v.begin(), v.end());
}

// [B, R, C] -> [B, C, R]: between the conv's two layouts (chela_conv_layout).
template <typename T>
std::vector<T> swap_last_two(const std::vector<T>& v, int64_t B, int64_t R, int64_t C) {
    std::vector<T> out(v.size());
    for (int64_t b = 0; b < B; ++b)
        for (int64_t r = 0; r < R; ++r)
            for (int64_t c = 0; c < C; ++c) out[(b * C + c) * R + r] = v[(b * R + r) * C + c];
    return out;
}

// ||got - ref|| / ||ref||; +inf when any value of got is not finite (NaN poison never passes).
inline double rel_l2(const float* got, const double* ref, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; ++i) {
        if (!std::isfinite(got[i])) return std::numeric_limits<double>::infinity();
        const double d = static_cast<double>(got[i]) - ref[i];
        num += d * d;
        den += ref[i] * ref[i];
    }
    return std::sqrt(num) / std::max(std::sqrt(den), 1e-300);
}
inline double rel_l2(const std::vector<float>& got, const std::vector<double>& ref) {
    EXPECT_EQ(got.size(), ref.size());
    return rel_l2(got.data(), ref.data(), std::min(got.size(), ref.size()));
}

// A host tensor owning its storage in any dtype. The view points at the storage.
class HostTensor {
public:
    HostTensor() = default;
    HostTensor(std::vector<int64_t> shape, int32_t dtype = CHELA_DTYPE_F32) { reset(std::move(shape), dtype); }
    // Stores `values` (f32) converted to `dtype`.
    HostTensor(std::vector<int64_t> shape, const std::vector<float>& values, int32_t dtype = CHELA_DTYPE_F32) {
        reset(std::move(shape), dtype);
        EXPECT_EQ(static_cast<int64_t>(values.size()), numel());
        from_f32(values.data(), view_);
    }

    void reset(std::vector<int64_t> shape, int32_t dtype) {
        shape_ = std::move(shape);
        int64_t n = 1;
        for (int64_t s : shape_) n *= s;
        bytes_.assign(static_cast<size_t>(n) * chela_dtype_size(dtype) + 8, 0xAB);
        std::memset(&view_, 0, sizeof view_);
        view_.data = bytes_.data();
        view_.dtype = dtype;
        view_.device = CHELA_DEVICE_CPU;
        view_.rank = static_cast<int32_t>(shape_.size());
        for (size_t i = 0; i < shape_.size(); ++i) view_.shape[i] = shape_[i];
        poison();
    }

    // Fills every element with NaN (float dtypes) or 0x7fffffff (ints) so unwritten outputs show.
    void poison() {
        const int64_t n = numel();
        if (view_.dtype == CHELA_DTYPE_F32) {
            float* p = static_cast<float*>(view_.data);
            for (int64_t i = 0; i < n; ++i) p[i] = std::numeric_limits<float>::quiet_NaN();
        } else if (view_.dtype == CHELA_DTYPE_BF16 || view_.dtype == CHELA_DTYPE_F16) {
            uint16_t* p = static_cast<uint16_t*>(view_.data);
            const uint16_t nan = view_.dtype == CHELA_DTYPE_BF16 ? 0x7fc0 : 0x7e00;
            for (int64_t i = 0; i < n; ++i) p[i] = nan;
        } else if (view_.dtype == CHELA_DTYPE_I32) {
            int32_t* p = static_cast<int32_t*>(view_.data);
            for (int64_t i = 0; i < n; ++i) p[i] = 0x7fffffff;
        }
    }

    std::vector<float> f32() const {
        std::vector<float> out(static_cast<size_t>(numel()));
        to_f32(view_, out.data());
        return out;
    }

    int64_t numel() const { return chela::numel(view_); }
    chela_tensor* view() { return &view_; }
    const chela_tensor* view() const { return &view_; }
    template <typename T> T* data() { return static_cast<T*>(view_.data); }

private:
    std::vector<int64_t> shape_;
    std::vector<unsigned char> bytes_;
    chela_tensor view_{};
};

// Rounds values through a storage dtype (what the kernel sees after bf16/f16 storage).
inline std::vector<float> round_through(const std::vector<float>& v, int32_t dtype) {
    HostTensor t({static_cast<int64_t>(v.size())}, v, dtype);
    return t.f32();
}

// A fixture owning one CPU context (3 threads: more than the CI machine's cores, so the thread
// pool's sharing is exercised).
class CpuContextTest : public testing::Test {
protected:
    void SetUp() override { ASSERT_EQ(chela_context_create_cpu(3, &ctx), CHELA_OK) << chela_last_error(); }
    void TearDown() override { chela_context_destroy(ctx); }
    chela_context* ctx = nullptr;
};

// Asserts a status and that chela_last_error() contains `needle`.
#define EXPECT_CHELA_ERROR(call, status, needle)                                         \
    do {                                                                                 \
        const chela_status st_ = (call);                                                 \
        EXPECT_EQ(st_, status) << chela_status_name(st_) << ": " << chela_last_error();  \
        EXPECT_NE(std::string(chela_last_error()).find(needle), std::string::npos)       \
            << "message was: " << chela_last_error();                                    \
    } while (0)

#define ASSERT_CHELA_OK(call)                                                            \
    do {                                                                                 \
        const chela_status st_ = (call);                                                 \
        ASSERT_EQ(st_, CHELA_OK) << chela_status_name(st_) << ": " << chela_last_error(); \
    } while (0)

#define EXPECT_CHELA_OK(call)                                                            \
    do {                                                                                 \
        const chela_status st_ = (call);                                                 \
        EXPECT_EQ(st_, CHELA_OK) << chela_status_name(st_) << ": " << chela_last_error(); \
    } while (0)

}  // namespace chela::test
