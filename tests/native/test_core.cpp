// Core pieces every op relies on: dtype conversion, tensor validation, errors, the thread pool,
// contexts and library-allocated tensors.
#include "core/error.h"
#include "core/thread_pool.h"
#include "support/test_util.h"

#include <atomic>
#include <cmath>
#include <thread>

using namespace chela;
using namespace chela::test;

namespace {

TEST(Version, MatchesHeader) {
    EXPECT_EQ(chela_abi_version(), CHELA_ABI_VERSION);
    EXPECT_STREQ(chela_version(), "0.1.0");
    EXPECT_NE(std::string(chela_build_info()).find("cpu"), std::string::npos);
}

TEST(Status, NamesEveryCode) {
    EXPECT_STREQ(chela_status_name(CHELA_OK), "CHELA_OK");
    EXPECT_STREQ(chela_status_name(CHELA_ERR_SHAPE), "CHELA_ERR_SHAPE");
    EXPECT_STREQ(chela_status_name(CHELA_ERR_INTERNAL), "CHELA_ERR_INTERNAL");
    EXPECT_STREQ(chela_status_name(12345), "CHELA_ERR_UNKNOWN");
}

TEST(DType, Sizes) {
    EXPECT_EQ(chela_dtype_size(CHELA_DTYPE_F32), 4u);
    EXPECT_EQ(chela_dtype_size(CHELA_DTYPE_BF16), 2u);
    EXPECT_EQ(chela_dtype_size(CHELA_DTYPE_F16), 2u);
    EXPECT_EQ(chela_dtype_size(CHELA_DTYPE_I32), 4u);
    EXPECT_EQ(chela_dtype_size(CHELA_DTYPE_I64), 8u);
    EXPECT_EQ(chela_dtype_size(99), 0u);
}

// Every bf16 value converts to f32 and back unchanged (NaNs stay NaN).
TEST(DType, Bf16RoundTripsAllValues) {
    for (uint32_t h = 0; h <= 0xffff; ++h) {
        const float f = bf16_to_f32(static_cast<uint16_t>(h));
        if (std::isnan(f)) {
            EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(f))));
        } else {
            EXPECT_EQ(f32_to_bf16(f), h) << h;
        }
    }
}

TEST(DType, F16RoundTripsAllValues) {
    for (uint32_t h = 0; h <= 0xffff; ++h) {
        const float f = f16_to_f32(static_cast<uint16_t>(h));
        if (std::isnan(f)) {
            EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(f))));
        } else {
            EXPECT_EQ(f32_to_f16(f), h) << h;
        }
    }
}

TEST(DType, F16KnownValues) {
    EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
    EXPECT_EQ(f16_to_f32(0xc000), -2.0f);
    EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
    EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
    EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);   // rounds up to inf
    EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie to even
    EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
}

// Rounding to nearest even on random values: the error is at most half an ulp of the target.
TEST(DType, RandomValuesRoundToNearest) {
    const auto v = randn(10000, 11, 100.0f);
    for (float x : v) {
        const float b = bf16_to_f32(f32_to_bf16(x));
        EXPECT_LE(std::fabs(b - x), std::fabs(x) * std::ldexp(1.0f, -8) * 1.0001f);
        const float h = f16_to_f32(f32_to_f16(x));
        EXPECT_LE(std::fabs(h - x), std::fabs(x) * std::ldexp(1.0f, -11) * 1.0001f + std::ldexp(1.0f, -25));
    }
}

TEST(TensorCheck, ReportsNameAndProblem) {
    HostTensor t({2, 3});
    EXPECT_NO_THROW(check_tensor(t.view(), "x", kF32, {2, 3}));
    try {
        check_tensor(t.view(), "x", kF32, {2, 4});
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), CHELA_ERR_SHAPE);
        EXPECT_NE(std::string(e.what()).find("x: shape [2, 3] does not match expected [2, 4]"), std::string::npos)
            << e.what();
    }
    try {
        check_tensor(t.view(), "w", kBF16, {2, 3});
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), CHELA_ERR_DTYPE);
        EXPECT_NE(std::string(e.what()).find("w: dtype f32"), std::string::npos) << e.what();
    }
    try {
        check_tensor(nullptr, "q", kF32, {1});
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), CHELA_ERR_INVALID_ARGUMENT);
    }
    t.view()->data = nullptr;
    EXPECT_THROW(check_tensor(t.view(), "x", kF32, {2, 3}), Error);
}

TEST(TensorCheck, RejectsBadRankDeviceAndReserved) {
    HostTensor t({4});
    t.view()->rank = 99;
    EXPECT_THROW(check_tensor(t.view(), "x", kF32, {4}), Error);
    t.view()->rank = 1;
    t.view()->device = CHELA_DEVICE_CUDA;
    EXPECT_THROW(check_tensor(t.view(), "x", kF32, {4}), Error);
    t.view()->device = CHELA_DEVICE_CPU;
    t.view()->reserved = 1;
    EXPECT_THROW(check_tensor(t.view(), "x", kF32, {4}), Error);
    t.view()->reserved = 0;
    t.view()->shape[0] = -1;
    EXPECT_THROW(check_tensor(t.view(), "x", kF32, {kAny}), Error);
}

TEST(Errors, AreThreadLocal) {
    chela_context* ctx = nullptr;
    EXPECT_CHELA_ERROR(chela_context_create_cpu(-1, &ctx), CHELA_ERR_INVALID_ARGUMENT, "threads");
    std::string other;
    std::thread([&] { other = chela_last_error(); }).join();
    EXPECT_EQ(other, "");
    EXPECT_NE(std::string(chela_last_error()).find("threads"), std::string::npos);
}

TEST(ThreadPool, CoversEveryIndexOnce) {
    ThreadPool pool(4);
    std::vector<std::atomic<int>> hits(1000);
    pool.parallel_for(1000, [&](int64_t i) { hits[static_cast<size_t>(i)]++; });
    for (auto& h : hits) EXPECT_EQ(h.load(), 1);
}

TEST(ThreadPool, RangesPartitionTheInterval) {
    ThreadPool pool(3);
    std::vector<std::atomic<int>> hits(997);
    pool.parallel_range(997, 10, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
    });
    for (auto& h : hits) EXPECT_EQ(h.load(), 1);
}

TEST(ThreadPool, NestedAndConcurrentCallsFinish) {
    ThreadPool pool(2);
    std::atomic<int64_t> sum{0};
    std::vector<std::thread> callers;
    for (int c = 0; c < 4; ++c)
        callers.emplace_back([&] {
            pool.parallel_for(8, [&](int64_t i) {
                pool.parallel_for(8, [&](int64_t j) { sum += i * 8 + j; });
            });
        });
    for (auto& t : callers) t.join();
    EXPECT_EQ(sum.load(), 4 * (63 * 64 / 2));
}

TEST(ThreadPool, RethrowsTheFirstException) {
    ThreadPool pool(3);
    EXPECT_THROW(pool.parallel_for(100, [](int64_t i) {
        if (i == 37) fail(CHELA_ERR_INTERNAL, "boom");
    }),
                 Error);
    // The pool still works afterwards.
    std::atomic<int> n{0};
    pool.parallel_for(10, [&](int64_t) { n++; });
    EXPECT_EQ(n.load(), 10);
}

TEST(Context, CreateQueryDestroy) {
    chela_context* ctx = nullptr;
    ASSERT_CHELA_OK(chela_context_create_cpu(3, &ctx));
    int32_t device = -1, threads = -1;
    ASSERT_CHELA_OK(chela_context_device(ctx, &device));
    ASSERT_CHELA_OK(chela_context_threads(ctx, &threads));
    EXPECT_EQ(device, CHELA_DEVICE_CPU);
    EXPECT_EQ(threads, 3);
    ASSERT_CHELA_OK(chela_context_synchronize(ctx));
    ASSERT_CHELA_OK(chela_context_destroy(ctx));
    ASSERT_CHELA_OK(chela_context_destroy(nullptr));
}

TEST(Context, DefaultThreadsUsesHardware) {
    chela_context* ctx = nullptr;
    ASSERT_CHELA_OK(chela_context_create_cpu(0, &ctx));
    int32_t threads = 0;
    ASSERT_CHELA_OK(chela_context_threads(ctx, &threads));
    EXPECT_GE(threads, 1);
    chela_context_destroy(ctx);
}

TEST(Context, BadArguments) {
    EXPECT_CHELA_ERROR(chela_context_create_cpu(1, nullptr), CHELA_ERR_INVALID_ARGUMENT, "out");
    chela_context* ctx = nullptr;
    EXPECT_CHELA_ERROR(chela_context_create_cpu(100000, &ctx), CHELA_ERR_INVALID_ARGUMENT, "threads");
    int32_t v;
    EXPECT_CHELA_ERROR(chela_context_device(nullptr, &v), CHELA_ERR_INVALID_ARGUMENT, "ctx");
    EXPECT_CHELA_ERROR(chela_context_threads(nullptr, &v), CHELA_ERR_INVALID_ARGUMENT, "ctx");
    EXPECT_CHELA_ERROR(chela_context_synchronize(nullptr), CHELA_ERR_INVALID_ARGUMENT, "ctx");
}

TEST(Backends, CpuAlwaysAvailable) {
    EXPECT_EQ(chela_backend_available(CHELA_DEVICE_CPU), 1);
    EXPECT_EQ(chela_backend_available(77), 0);
    int32_t n = -1;
    ASSERT_CHELA_OK(chela_cuda_device_count(&n));
    EXPECT_GE(n, 0);
    EXPECT_CHELA_ERROR(chela_cuda_device_count(nullptr), CHELA_ERR_INVALID_ARGUMENT, "count");
}

TEST(Backends, CudaContextWithoutGpuIsAClearError) {
    int32_t n = 0;
    ASSERT_CHELA_OK(chela_cuda_device_count(&n));
    if (n > 0) GTEST_SKIP() << "a CUDA device is present";
    chela_context* ctx = reinterpret_cast<chela_context*>(0x1);
    const chela_status st = chela_context_create_cuda(0, &ctx);
    EXPECT_NE(st, CHELA_OK);
    EXPECT_EQ(ctx, nullptr);
    EXPECT_NE(std::string(chela_last_error()).size(), 0u);
}

TEST(Context, CudaStreamNeedsACudaContext) {
    chela_context* ctx = nullptr;
    ASSERT_CHELA_OK(chela_context_create_cpu(1, &ctx));
    EXPECT_CHELA_ERROR(chela_context_set_cuda_stream(ctx, nullptr), CHELA_ERR_UNSUPPORTED, "CUDA context");
    EXPECT_CHELA_ERROR(chela_context_set_cuda_stream(nullptr, nullptr), CHELA_ERR_INVALID_ARGUMENT, "ctx");
    chela_context_destroy(ctx);
}

TEST(TensorAlloc, AllocateCopyRelease) {
    chela_context* ctx = nullptr;
    ASSERT_CHELA_OK(chela_context_create_cpu(1, &ctx));
    const int64_t shape[2] = {3, 5};
    chela_tensor a{}, b{};
    ASSERT_CHELA_OK(chela_tensor_allocate(ctx, CHELA_DTYPE_F32, 2, shape, &a));
    ASSERT_CHELA_OK(chela_tensor_allocate(ctx, CHELA_DTYPE_F32, 2, shape, &b));
    const auto v = randn(15, 3);
    std::copy(v.begin(), v.end(), static_cast<float*>(a.data));
    ASSERT_CHELA_OK(chela_tensor_copy(ctx, &a, &b));
    for (int i = 0; i < 15; ++i) EXPECT_EQ(static_cast<float*>(b.data)[i], v[static_cast<size_t>(i)]);
    ASSERT_CHELA_OK(chela_tensor_release(ctx, &a));
    ASSERT_CHELA_OK(chela_tensor_release(ctx, &b));
    EXPECT_EQ(a.data, nullptr);
    chela_context_destroy(ctx);
}

TEST(TensorAlloc, BadArguments) {
    chela_context* ctx = nullptr;
    ASSERT_CHELA_OK(chela_context_create_cpu(1, &ctx));
    const int64_t shape[2] = {3, -5};
    chela_tensor t{};
    EXPECT_CHELA_ERROR(chela_tensor_allocate(ctx, 42, 2, shape, &t), CHELA_ERR_DTYPE, "dtype");
    EXPECT_CHELA_ERROR(chela_tensor_allocate(ctx, CHELA_DTYPE_F32, 2, shape, &t), CHELA_ERR_SHAPE, "negative");
    EXPECT_CHELA_ERROR(chela_tensor_allocate(ctx, CHELA_DTYPE_F32, 9, shape, &t), CHELA_ERR_SHAPE, "rank");
    EXPECT_CHELA_ERROR(chela_tensor_allocate(nullptr, CHELA_DTYPE_F32, 1, shape, &t), CHELA_ERR_INVALID_ARGUMENT, "ctx");
    HostTensor a({2, 2}), b({2, 3}), c({2, 2}, CHELA_DTYPE_BF16);
    EXPECT_CHELA_ERROR(chela_tensor_copy(ctx, a.view(), b.view()), CHELA_ERR_SHAPE, "dst");
    EXPECT_CHELA_ERROR(chela_tensor_copy(ctx, a.view(), c.view()), CHELA_ERR_DTYPE, "dst");
    EXPECT_CHELA_ERROR(chela_tensor_copy(ctx, nullptr, c.view()), CHELA_ERR_INVALID_ARGUMENT, "src");
    chela_context_destroy(ctx);
}

}  // namespace
