// The CUDA backend against the float64 reference and the CPU backend, through the C ABI only.
// Every test skips with one line where no CUDA device is usable (CI, CPU-only builds).
#include "reference/linear_attention_ref.h"
#include "support/cuda_fixture.h"

#include <cstdio>


using namespace chela;
using namespace chela::test;

namespace {

using Cuda = CudaTest;

struct LaCase {
    int64_t B, L, dk, dv, H;
    int32_t dtype;
    int fmap, norm;
    bool decay, state;
};

void PrintTo(const LaCase& c, std::ostream* os) {
    *os << "B" << c.B << " L" << c.L << " dk" << c.dk << " dv" << c.dv << " H" << c.H << " " << dtype_name(c.dtype)
        << " fmap" << c.fmap << " norm" << c.norm << (c.decay ? " decay" : "") << (c.state ? " state" : "");
}

class CudaAttention : public Cuda, public testing::WithParamInterface<LaCase> {};

// Fresh random inputs, outputs poisoned, compared with float64 (rel-L2 <= 3e-3 for 16-bit inputs).
TEST_P(CudaAttention, MatchesFloat64) {
    const LaCase c = GetParam();
    const int64_t e = c.dk * c.H, f = c.dv * c.H;
    auto q = round_through(randn(static_cast<size_t>(c.B * c.L * e), 1, 0.5f), c.dtype);
    auto k = round_through(randn(q.size(), 2, 0.5f), c.dtype);
    auto v = round_through(randn(static_cast<size_t>(c.B * c.L * f), 3), c.dtype);
    const auto lam = uniform(static_cast<size_t>(c.H), 4, 0.9f, 1.0f), g = uniform(static_cast<size_t>(f), 5, 0.5f, 1.5f);
    const auto s0 = randn(static_cast<size_t>(c.B * c.H * c.dk * c.dv), 6, 0.1f);
    HostTensor hq({c.B, c.L, e}, q, c.dtype), hk({c.B, c.L, e}, k, c.dtype), hv({c.B, c.L, f}, v, c.dtype),
        ho({c.B, c.L, f}, c.dtype), hd({c.H}, lam), hg({f}, g), hs0({c.B, c.H, c.dk, c.dv}, s0), hs1({c.B, c.H, c.dk, c.dv});
    chela_linear_attention_options o;
    ASSERT_CHELA_OK(chela_linear_attention_options_init(&o, e, static_cast<int32_t>(c.H)));
    o.feature_map = c.fmap;
    o.attn_norm = c.norm;
    chela_tensor* dout = to_device(ho);
    chela_tensor* dstate = c.state ? to_device(hs1) : nullptr;
    ASSERT_CHELA_OK(chela_linear_attention(ctx, to_device(hq), to_device(hk), to_device(hv), c.decay ? to_device(hd) : nullptr,
                                           c.norm == CHELA_ATTN_NORM_RMSNORM ? to_device(hg) : nullptr,
                                           c.state ? to_device(hs0) : nullptr, nullptr, dout, dstate, nullptr, &o));
    ASSERT_CHELA_OK(chela_context_synchronize(ctx));
    to_host(dout, ho);
    ref::AttentionSpec s;
    s.B = c.B; s.L = c.L; s.e = e; s.f = f; s.H = c.H;
    s.feature_map = c.fmap;
    s.attn_norm = c.norm;
    s.scale = o.scale;
    if (c.decay) s.decay = to_double(lam);
    s.norm_weight = to_double(g);
    if (c.state) s.state_in = to_double(s0);
    const auto want = ref::linear_attention(s, to_double(q), to_double(k), to_double(v));
    const double tol = c.dtype == CHELA_DTYPE_F32 ? 1e-5 : 3e-3;  // the bounds
    EXPECT_LE(rel_l2(ho.f32(), want.out), tol);
    if (c.state) {
        to_host(dstate, hs1);
        EXPECT_LE(rel_l2(hs1.f32(), want.state_out), tol);
    }
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaAttention,
                         testing::Values(LaCase{1, 1, 64, 64, 1, CHELA_DTYPE_BF16, 0, CHELA_ATTN_NORM_NONE, false, false},
                                         LaCase{2, 63, 64, 64, 2, CHELA_DTYPE_BF16, 0, CHELA_ATTN_NORM_NONE, true, true},
                                         LaCase{1, 64, 128, 128, 2, CHELA_DTYPE_F16, 1, CHELA_ATTN_NORM_RMSNORM, true, false},
                                         LaCase{2, 65, 128, 64, 1, CHELA_DTYPE_BF16, 3, CHELA_ATTN_NORM_NONE, true, true},
                                         LaCase{1, 1000, 128, 256, 1, CHELA_DTYPE_BF16, 0, CHELA_ATTN_NORM_RMSNORM, true, false},
                                         LaCase{1, 4097, 64, 128, 4, CHELA_DTYPE_F16, 2, CHELA_ATTN_NORM_NONE, false, true},
                                         LaCase{2, 129, 256, 64, 1, CHELA_DTYPE_BF16, 0, CHELA_ATTN_NORM_NONE, true, true},
                                         LaCase{1, 300, 128, 1024, 1, CHELA_DTYPE_BF16, 0, CHELA_ATTN_NORM_RMSNORM, true, true},
                                         LaCase{2, 257, 64, 64, 2, CHELA_DTYPE_F32, 1, CHELA_ATTN_NORM_RMSNORM, true, true},
                                         LaCase{1, 1000, 32, 48, 3, CHELA_DTYPE_F32, 0, CHELA_ATTN_NORM_NONE, false, false}));

// Bidirectional and denominator attention (built from causal passes on the GPU): every dtype, odd
// value widths (the ones column and the padding), decay, running state + key sum (causal
// denominator), against float64. Outputs poisoned first.
struct FullCase {
    int64_t B, L, dk, dv, H;
    int32_t dtype;
    int fmap, norm;
    bool bidir, decay, state;
};

void PrintTo(const FullCase& c, std::ostream* os) {
    *os << "B" << c.B << " L" << c.L << " dk" << c.dk << " dv" << c.dv << " H" << c.H << " " << dtype_name(c.dtype)
        << " fmap" << c.fmap << " norm" << c.norm << (c.bidir ? " bidir" : " causal") << (c.decay ? " decay" : "")
        << (c.state ? " state" : "");
}

class CudaFullAttention : public Cuda, public testing::WithParamInterface<FullCase> {};

TEST_P(CudaFullAttention, MatchesFloat64) {
    const FullCase c = GetParam();
    const int64_t e = c.dk * c.H, f = c.dv * c.H;
    const bool den = c.norm == CHELA_ATTN_NORM_DENOMINATOR;
    auto q = round_through(randn(static_cast<size_t>(c.B * c.L * e), 91, 0.5f), c.dtype);
    auto k = round_through(randn(q.size(), 92, 0.5f), c.dtype);
    auto v = round_through(randn(static_cast<size_t>(c.B * c.L * f), 93), c.dtype);
    const auto lam = uniform(static_cast<size_t>(c.H), 94, 0.9f, 1.0f), g = uniform(static_cast<size_t>(f), 95, 0.5f, 1.5f);
    const auto s0 = randn(static_cast<size_t>(c.B * c.H * c.dk * c.dv), 96, 0.1f);
    const auto z0 = uniform(static_cast<size_t>(c.B * c.H * c.dk), 97, 0.5f, 1.5f);
    HostTensor hq({c.B, c.L, e}, q, c.dtype), hk({c.B, c.L, e}, k, c.dtype), hv({c.B, c.L, f}, v, c.dtype),
        ho({c.B, c.L, f}, c.dtype), hd({c.H}, lam), hg({f}, g), hs0({c.B, c.H, c.dk, c.dv}, s0),
        hs1({c.B, c.H, c.dk, c.dv}), hz0({c.B, c.H, c.dk}, z0), hz1({c.B, c.H, c.dk});
    chela_linear_attention_options o;
    ASSERT_CHELA_OK(chela_linear_attention_options_init(&o, e, static_cast<int32_t>(c.H)));
    o.feature_map = c.fmap;
    o.attn_norm = c.norm;
    o.causal = c.bidir ? 0 : 1;
    chela_tensor* dout = to_device(ho);
    chela_tensor* dstate = c.state ? to_device(hs1) : nullptr;
    chela_tensor* dksum = c.state && den ? to_device(hz1) : nullptr;
    ASSERT_CHELA_OK(chela_linear_attention(ctx, to_device(hq), to_device(hk), to_device(hv), c.decay ? to_device(hd) : nullptr,
                                           c.norm == CHELA_ATTN_NORM_RMSNORM ? to_device(hg) : nullptr,
                                           c.state ? to_device(hs0) : nullptr, c.state && den ? to_device(hz0) : nullptr,
                                           dout, dstate, dksum, &o));
    ASSERT_CHELA_OK(chela_context_synchronize(ctx));
    to_host(dout, ho);
    ref::AttentionSpec s;
    s.B = c.B; s.L = c.L; s.e = e; s.f = f; s.H = c.H;
    s.causal = !c.bidir;
    s.feature_map = c.fmap;
    s.attn_norm = c.norm;
    s.scale = o.scale;
    s.eps = o.eps;
    if (c.decay) s.decay = to_double(lam);
    s.norm_weight = to_double(g);
    if (c.state) s.state_in = to_double(s0);
    if (c.state && den) s.ksum_in = to_double(z0);
    const auto want = ref::linear_attention(s, to_double(q), to_double(k), to_double(v));
    const double tol = c.dtype == CHELA_DTYPE_F32 ? 1e-5 : 3e-3;
    const double err = rel_l2(ho.f32(), want.out);
    EXPECT_LE(err, tol);
    std::printf("full attention rel-L2 %.2e\n", err);
    if (c.state) {
        to_host(dstate, hs1);
        EXPECT_LE(rel_l2(hs1.f32(), want.state_out), tol);  // fp32 accumulation of 16-bit k * decay * v
        if (den) {
            to_host(dksum, hz1);
            EXPECT_LE(rel_l2(hz1.f32(), want.ksum_out), tol);
        }
    }
}

constexpr int kRms = CHELA_ATTN_NORM_RMSNORM, kNone = CHELA_ATTN_NORM_NONE, kDen = CHELA_ATTN_NORM_DENOMINATOR;
INSTANTIATE_TEST_SUITE_P(Variants, CudaFullAttention,
                         testing::Values(FullCase{2, 300, 64, 96, 2, CHELA_DTYPE_BF16, 0, kRms, true, true, false},
                                         FullCase{1, 1000, 128, 1024, 1, CHELA_DTYPE_F16, 1, kNone, true, false, false},
                                         FullCase{2, 65, 64, 24, 2, CHELA_DTYPE_BF16, 2, kDen, false, true, true},
                                         FullCase{1, 513, 32, 20, 3, CHELA_DTYPE_F16, 1, kDen, true, true, false},
                                         FullCase{2, 129, 64, 64, 1, CHELA_DTYPE_F32, 1, kDen, true, false, false},
                                         FullCase{1, 200, 32, 40, 2, CHELA_DTYPE_F32, 2, kDen, false, true, true},
                                         FullCase{1, 1, 64, 64, 1, CHELA_DTYPE_BF16, 1, kDen, true, false, false}));

// bf16 inputs with an f32 output: the accumulators are written without rounding (rmsnorm, decay, two
// heads, odd L), against float64; the error is no larger than with a bf16 output.
TEST_F(Cuda, Bf16InputsWithF32OutputMatchFloat64) {
    const int64_t B = 2, L = 301, H = 2, dk = 64, dv = 96, e = H * dk, f = H * dv;
    auto q = round_through(randn(static_cast<size_t>(B * L * e), 81, 0.5f), CHELA_DTYPE_BF16);
    auto k = round_through(randn(q.size(), 82, 0.5f), CHELA_DTYPE_BF16);
    auto v = round_through(randn(static_cast<size_t>(B * L * f), 83), CHELA_DTYPE_BF16);
    const auto lam = uniform(static_cast<size_t>(H), 84, 0.9f, 1.0f), g = uniform(static_cast<size_t>(f), 85, 0.5f, 1.5f);
    HostTensor hq({B, L, e}, q, CHELA_DTYPE_BF16), hk({B, L, e}, k, CHELA_DTYPE_BF16), hv({B, L, f}, v, CHELA_DTYPE_BF16),
        o32({B, L, f}), o16({B, L, f}, CHELA_DTYPE_BF16), hd({H}, lam), hg({f}, g);
    chela_linear_attention_options o;
    ASSERT_CHELA_OK(chela_linear_attention_options_init(&o, e, static_cast<int32_t>(H)));
    chela_tensor *d32 = to_device(o32), *d16 = to_device(o16);
    chela_tensor *dq = to_device(hq), *dk_ = to_device(hk), *dv_ = to_device(hv), *dd = to_device(hd), *dg = to_device(hg);
    ASSERT_CHELA_OK(chela_linear_attention(ctx, dq, dk_, dv_, dd, dg, nullptr, nullptr, d32, nullptr, nullptr, &o));
    ASSERT_CHELA_OK(chela_linear_attention(ctx, dq, dk_, dv_, dd, dg, nullptr, nullptr, d16, nullptr, nullptr, &o));
    ASSERT_CHELA_OK(chela_context_synchronize(ctx));
    to_host(d32, o32);
    to_host(d16, o16);
    ref::AttentionSpec s;
    s.B = B; s.L = L; s.e = e; s.f = f; s.H = H;
    s.attn_norm = CHELA_ATTN_NORM_RMSNORM;
    s.scale = o.scale;
    s.decay = to_double(lam);
    s.norm_weight = to_double(g);
    const auto want = ref::linear_attention(s, to_double(q), to_double(k), to_double(v));
    const double err32 = rel_l2(o32.f32(), want.out), err16 = rel_l2(o16.f32(), want.out);
    EXPECT_LE(err32, 3e-3);
    EXPECT_LE(err32, err16);
    std::printf("bf16 in: f32 out rel-L2 %.2e, bf16 out %.2e\n", err32, err16);
}

TEST_F(Cuda, HostTensorOnACudaContextIsAClearError) {
    HostTensor q({1, 4, 64}, randn(256, 1), CHELA_DTYPE_BF16), o({1, 4, 64}, CHELA_DTYPE_BF16);
    chela_linear_attention_options opts;
    ASSERT_CHELA_OK(chela_linear_attention_options_init(&opts, 64, 1));
    opts.attn_norm = CHELA_ATTN_NORM_NONE;
    EXPECT_CHELA_ERROR(chela_linear_attention(ctx, q.view(), q.view(), q.view(), nullptr, nullptr, nullptr, nullptr,
                                              o.view(), nullptr, nullptr, &opts),
                       CHELA_ERR_INVALID_ARGUMENT, "q: tensor is in host memory");
}

TEST_F(Cuda, UnsupportedVariantsSayWhy) {
    HostTensor q({1, 4, 512}, randn(2048, 1), CHELA_DTYPE_BF16), o({1, 4, 512}, CHELA_DTYPE_BF16);
    chela_tensor* dq = to_device(q);
    chela_tensor* dout = to_device(o);
    chela_linear_attention_options opts;
    ASSERT_CHELA_OK(chela_linear_attention_options_init(&opts, 512, 1));
    opts.attn_norm = CHELA_ATTN_NORM_NONE;
    EXPECT_CHELA_ERROR(chela_linear_attention(ctx, dq, dq, dq, nullptr, nullptr, nullptr, nullptr, dout, nullptr,
                                              nullptr, &opts),
                       CHELA_ERR_UNSUPPORTED, "dk=512");
}

TEST_F(Cuda, CopiesRoundTrip) {
    const auto v = randn(1000, 9);
    HostTensor h({10, 100}, v), back({10, 100});
    to_host(to_device(h), back);
    EXPECT_EQ(back.f32(), v);
}

}  // namespace
