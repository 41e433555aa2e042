// The CUDA short-long convolution through the C ABI, against the float64 reference and the CPU
// backend: the long-conv paths (direct, on-chip FFT and its tensor-core variant, cuFFT; forced
// through CHELA_CUDA_CONV_DIRECT_MAX and CHELA_CUDA_CONV_FFT),
// causal and bidirectional, Lk < L and Lk = L, odd lengths, f32 and bf16, outputs poisoned first.
// Every test skips with one line where no CUDA device is usable (CI, CPU-only builds).
#include "reference/short_long_conv_ref.h"
#include "support/cuda_fixture.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace chela;
using namespace chela::test;

namespace {

// kFft: the on-chip FFT where it fits; kBlocks / kCluster: its block / cluster variant forced where
// it applies (kBlocks also at lengths one CTA holds).
enum class Path { kDirect, kFft, kTensorCores, kCufft, kBlocks, kCluster };

struct ConvCase {
    int64_t B, L, d, ks, lk;
    bool causal;
    int32_t dtype;
    Path path;
    bool channels_major = false;  // x and out [B, d, L] (CHELA_CONV_LAYOUT_BDL)
    bool misaligned = false;      // x and out views one element into their allocations
    float tau = 0.0f;             // > 0: long taps decay as exp(-lag / tau) (to denormals, then zero)
};

void PrintTo(const ConvCase& c, std::ostream* os) {
    *os << (c.causal ? "causal" : "bidir") << " B" << c.B << " L" << c.L << " d" << c.d << " ks" << c.ks << " lk"
        << c.lk << " " << dtype_name(c.dtype)
        << (c.path == Path::kFft              ? " fft"
            : c.path == Path::kTensorCores ? " fft-tc"
            : c.path == Path::kCufft       ? " cufft"
            : c.path == Path::kBlocks      ? " fft-blocks"
            : c.path == Path::kCluster     ? " fft-cluster"
                                           : " direct")
        << (c.channels_major ? " [B,d,L]" : "") << (c.misaligned ? " misaligned" : "")
        << (c.tau > 0 ? " decaying" : "");
}

class CudaConv : public CudaTest {
protected:
    void SetUp() override {
        CudaTest::SetUp();
        if (ctx == nullptr) return;  // skipped: no device
        ASSERT_CHELA_OK(chela_context_create_cpu(2, &cpu));
    }
    void TearDown() override {
        unsetenv("CHELA_CUDA_CONV_DIRECT_MAX");
        unsetenv("CHELA_CUDA_CONV_FFT");
        unsetenv("CHELA_CUDA_CONV_CTAS");
        if (cpu) chela_context_destroy(cpu);
        CudaTest::TearDown();
    }

    // Runs case c on the GPU (its path forced through the environment), checks the result against
    // float64 and the CPU backend, and returns it.
    std::vector<float> run_and_check(const ConvCase& c) {
        // 0 forces the FFT path; 256 (the cap) lets every kernel of <= 256 taps run direct.
        setenv("CHELA_CUDA_CONV_DIRECT_MAX", c.path == Path::kDirect ? "256" : "0", 1);
        const char* fft = c.path == Path::kCufft         ? "cufft"
                          : c.path == Path::kTensorCores ? "tc"
                          : c.path == Path::kBlocks      ? "blocks"
                          : c.path == Path::kCluster     ? "cluster"
                                                         : "chip";
        setenv("CHELA_CUDA_CONV_FFT", fft, 1);
        const float wscale = 1.0f / std::sqrt(static_cast<float>(c.lk));
        const auto x = round_through(randn(static_cast<size_t>(c.B * c.L * c.d), 11), c.dtype);
        const auto ws = round_through(randn(static_cast<size_t>(c.d * c.ks), 12, 0.5f), c.dtype);
        const auto bs = round_through(randn(static_cast<size_t>(c.d), 13, 0.1f), c.dtype);
        auto decay = [&](std::vector<float> w) {
            for (size_t i = 0; c.tau > 0 && i < w.size(); ++i)
                w[i] *= std::exp(-static_cast<float>(i % static_cast<size_t>(c.lk)) / c.tau);
            return w;
        };
        const auto wl = round_through(decay(randn(static_cast<size_t>(c.d * c.lk), 14, wscale)), c.dtype);
        const auto wr = round_through(decay(randn(wl.size(), 15, wscale)), c.dtype);
        const auto om = round_through(randn(static_cast<size_t>(c.d), 16), c.dtype);
        // Channel-major calls get x as [B, d, L] and give out back as [B, d, L], checked as [B, L, d].
        const int32_t layout = c.channels_major ? CHELA_CONV_LAYOUT_BDL : CHELA_CONV_LAYOUT_BLD;
        const std::vector<int64_t> io_shape =
            c.channels_major ? std::vector<int64_t>{c.B, c.d, c.L} : std::vector<int64_t>{c.B, c.L, c.d};
        auto as_rows = [&](const std::vector<float>& v) { return c.channels_major ? swap_last_two(v, c.B, c.d, c.L) : v; };
        HostTensor hx(io_shape, c.channels_major ? swap_last_two(x, c.B, c.L, c.d) : x, c.dtype),
            hws({c.d, c.ks}, ws, c.dtype), hbs({c.d}, bs, c.dtype), hwl({c.d, c.lk}, wl, c.dtype),
            hwr({c.d, c.lk}, wr, c.dtype), hom({c.d}, om, c.dtype), hout(io_shape, c.dtype), hcpu(io_shape, c.dtype);
        auto place = [&](const HostTensor& h) { return c.misaligned ? to_device_at(h, 1) : to_device(h); };
        chela_tensor* dout = place(hout);  // poisoned (NaN) before the call
        EXPECT_CHELA_OK(chela_short_long_conv_in_layout(ctx, place(hx), to_device(hws), to_device(hbs),
                                                        to_device(hwl), c.causal ? nullptr : to_device(hwr),
                                                        to_device(hom), dout, c.causal, layout));
        EXPECT_CHELA_OK(chela_context_synchronize(ctx));
        to_host(dout, hout);
        EXPECT_CHELA_OK(chela_short_long_conv_in_layout(cpu, hx.view(), hws.view(), hbs.view(), hwl.view(),
                                                        c.causal ? nullptr : hwr.view(), hom.view(), hcpu.view(),
                                                        c.causal, layout));
        const auto want = ref::short_long_conv(c.B, c.L, c.d, c.ks, c.lk, c.causal, to_double(x), to_double(ws),
                                               to_double(bs), to_double(wl),
                                               c.causal ? std::vector<double>() : to_double(wr), to_double(om));
        const double tol = c.dtype == CHELA_DTYPE_F32 ? 1e-5 : 3e-3;
        const auto got = as_rows(hout.f32());
        EXPECT_LE(rel_l2(got, want), tol);
        EXPECT_LE(rel_l2(got, to_double(as_rows(hcpu.f32()))), tol);
        return got;
    }

    chela_context* cpu = nullptr;
};

class CudaConvCases : public CudaConv, public testing::WithParamInterface<ConvCase> {};

TEST_P(CudaConvCases, MatchesFloat64AndCpu) { run_and_check(GetParam()); }

std::vector<ConvCase> cases() {
    std::vector<ConvCase> out;
    const int64_t d = 40;  // not a multiple of 32: partial channel tiles
    for (Path path : {Path::kDirect, Path::kFft, Path::kCufft})
        for (int64_t L : {1, 2, 63, 64, 65, 257, 1000, 4097}) {
            const bool big = L > 1000;
            const int64_t lk_short = std::min<int64_t>(L, 100);  // Lk < L except for tiny L
            out.push_back({2, L, d, 3, lk_short, true, CHELA_DTYPE_F32, path});
            out.push_back({1, L, d, 5, lk_short, false, CHELA_DTYPE_BF16, path});
            if (path != Path::kDirect || L <= 256) {  // Lk = L: direct only while L <= 256 taps
                out.push_back({big ? 1 : 2, L, big ? 8 : d, 3, L, true, CHELA_DTYPE_BF16, path});
                out.push_back({1, L, big ? 8 : d, 3, L, false, CHELA_DTYPE_F32, path});
            }
        }
    out.push_back({1, 300, 33, 7, 256, false, CHELA_DTYPE_F16, Path::kDirect});  // direct at its cap, f16
    out.push_back({2, 200, 33, 4, 350, true, CHELA_DTYPE_F16, Path::kFft});      // Lk > L, even ks
    out.push_back({2, 200, 33, 4, 350, true, CHELA_DTYPE_F16, Path::kCufft});
    // The on-chip FFT at its largest size (L + Lk = 32768: 16384 complex points per column) and
    // just past it (L + Lk > 32768: the cuFFT path takes over).
    out.push_back({2, 16384, 3, 3, 16384, false, CHELA_DTYPE_BF16, Path::kFft});
    out.push_back({1, 16384, 2, 3, 16384, true, CHELA_DTYPE_F32, Path::kFft});
    out.push_back({1, 12289, 3, 3, 12289, true, CHELA_DTYPE_F32, Path::kFft});
    out.push_back({1, 16385, 2, 3, 16385, false, CHELA_DTYPE_F32, Path::kFft});
    // The tensor-core transform of the on-chip FFT: N = 16384 points (16384 < L + Lk <= 32768),
    // bf16/f16 columns; odd lengths, both directions, even ks, partial channel tiles. Then what
    // falls back to the fp32 passes when tc is asked for: f32 columns and smaller transforms.
    // Cases 97, 98, 102, 103 are the sanitizer's (tools/device/conv_check.sh).
    out.push_back({1, 8193, 3, 3, 8193, true, CHELA_DTYPE_F16, Path::kTensorCores});
    out.push_back({1, 16384, 2, 4, 16384, true, CHELA_DTYPE_BF16, Path::kTensorCores});  // even ks: causal only
    out.push_back({2, 16384, 3, 3, 16384, true, CHELA_DTYPE_BF16, Path::kTensorCores});
    out.push_back({1, 16384, 3, 3, 16384, false, CHELA_DTYPE_F16, Path::kTensorCores});
    out.push_back({2, 12289, 40, 5, 12289, false, CHELA_DTYPE_BF16, Path::kTensorCores});
    out.push_back({1, 1000, 8, 3, 1000, true, CHELA_DTYPE_F32, Path::kTensorCores});
    out.push_back({2, 1000, 40, 3, 1000, true, CHELA_DTYPE_BF16, Path::kTensorCores});
    // Short kernels beyond the chunked staging's window (causal ks <= 4, centred ks <= 7) at lengths
    // that are multiples of 8: the element-by-element staging (case 104 is the sanitizer's).
    out.push_back({2, 2048, 5, 6, 2048, true, CHELA_DTYPE_BF16, Path::kTensorCores});
    out.push_back({1, 16384, 3, 9, 16384, false, CHELA_DTYPE_F16, Path::kTensorCores});
    // Past one CTA (16384 < (L + K) / 2 <= 65536): the cluster variant (conv_fft_cluster.cu; sm_90,
    // else cuFFT), 4 CTAs per column from (L + K) / 2 > 32768, else 2; the bench's L = Lk = 65536,
    // Lk < L, both directions, even ks. Case 106 is the sanitizer's (4 CTAs, one column).
    out.push_back({1, 36864, 1, 3, 36864, true, CHELA_DTYPE_BF16, Path::kCluster});
    out.push_back({1, 65536, 2, 3, 65536, true, CHELA_DTYPE_BF16, Path::kCluster});
    out.push_back({1, 65536, 2, 3, 65536, false, CHELA_DTYPE_F16, Path::kCluster});
    out.push_back({1, 40000, 3, 5, 30000, false, CHELA_DTYPE_BF16, Path::kCluster});
    out.push_back({2, 32768, 3, 3, 32768, true, CHELA_DTYPE_BF16, Path::kCluster});
    out.push_back({2, 20000, 5, 4, 20000, true, CHELA_DTYPE_F16, Path::kCluster});
    out.push_back({1, 24576, 2, 3, 12288, false, CHELA_DTYPE_BF16, Path::kCluster});  // Lk < L: 2 CTAs
    // The tensor-core transform's half-zero variants (fft_smem_tc.cuh, HALF): columns with L <= N
    // skip the padded half, kernel spectra of causal taps with K <= N too. More channels than
    // resident CTAs (the persistent loops); bidirectional (full spectra, half columns); L > N (full
    // columns, half spectra); both full (bidirectional, L > N).
    out.push_back({1, 16384, 192, 3, 104, true, CHELA_DTYPE_BF16, Path::kTensorCores});
    out.push_back({1, 16000, 150, 5, 400, false, CHELA_DTYPE_F16, Path::kTensorCores});
    out.push_back({2, 20000, 5, 3, 100, true, CHELA_DTYPE_BF16, Path::kTensorCores});
    out.push_back({1, 24000, 3, 3, 8000, false, CHELA_DTYPE_F16, Path::kTensorCores});
    // The transposes' 16-byte kernel (L and d multiples of 64; also the case above with d = 192):
    // case 117, the sanitizer's.
    out.push_back({2, 2048, 64, 3, 2048, true, CHELA_DTYPE_BF16, Path::kFft});
    // Channel-major x and out (CHELA_CONV_LAYOUT_BDL): the on-chip paths read and write the caller's
    // columns directly (the tensor-core transform, its half-zero variant with persistent CTAs, the
    // fp32 passes, the cluster), the direct and cuFFT paths run between two transposes. Case 118
    // (tensor cores, two CTAs' worth of columns) and 123 (cluster) are the sanitizer's.
    out.push_back({2, 8193, 3, 3, 8193, true, CHELA_DTYPE_F16, Path::kTensorCores, true});
    out.push_back({1, 16384, 150, 5, 400, false, CHELA_DTYPE_BF16, Path::kTensorCores, true});
    out.push_back({2, 16384, 3, 3, 16384, true, CHELA_DTYPE_BF16, Path::kTensorCores, true});
    out.push_back({2, 1000, 40, 3, 1000, true, CHELA_DTYPE_F32, Path::kFft, true});
    out.push_back({1, 4097, 8, 3, 4097, false, CHELA_DTYPE_BF16, Path::kFft, true});
    out.push_back({1, 36864, 1, 3, 36864, true, CHELA_DTYPE_BF16, Path::kCluster, true});
    out.push_back({1, 65536, 2, 3, 65536, false, CHELA_DTYPE_F16, Path::kCluster, true});
    out.push_back({2, 257, 40, 5, 100, false, CHELA_DTYPE_BF16, Path::kDirect, true});
    out.push_back({2, 1000, 33, 3, 1000, true, CHELA_DTYPE_F32, Path::kCufft, true});
    out.push_back({1, 4097, 8, 4, 4097, true, CHELA_DTYPE_F16, Path::kCufft, true});
    // The block variant (conv_fft_blocks.cu: 16384-sample blocks, kernel windows q = i - j, the
    // overlap-add in the spectrum): the bench's L = Lk = 65536 both directions (4 blocks, windows
    // 0..3 or -3..3), a partial last block with Lk < L, even ks with B = 2, short taps on a long
    // column (windows 0 and 1), past the cluster's reach (7 blocks, where cuFFT ran before), one
    // block (the one-CTA case), channel-major. Cases 134 and 135 are the sanitizer's.
    out.push_back({1, 65536, 2, 3, 65536, true, CHELA_DTYPE_BF16, Path::kBlocks});
    out.push_back({1, 65536, 2, 3, 65536, false, CHELA_DTYPE_F16, Path::kBlocks});
    out.push_back({1, 40000, 3, 5, 30000, false, CHELA_DTYPE_BF16, Path::kBlocks});
    out.push_back({2, 20000, 5, 4, 20000, true, CHELA_DTYPE_F16, Path::kBlocks});
    out.push_back({1, 50000, 3, 3, 300, true, CHELA_DTYPE_BF16, Path::kBlocks});
    out.push_back({1, 100000, 1, 3, 100000, true, CHELA_DTYPE_BF16, Path::kBlocks});
    out.push_back({2, 2048, 5, 3, 2048, true, CHELA_DTYPE_BF16, Path::kBlocks});
    out.push_back({1, 20000, 2, 3, 20000, false, CHELA_DTYPE_BF16, Path::kBlocks, true});
    out.push_back({1, 65536, 2, 3, 65536, true, CHELA_DTYPE_BF16, Path::kBlocks, true});
    // x and out one element into their buffers (not 16-byte aligned): the column kernels' 16-byte
    // accesses go through an aligned copy (channel-major) or the transposes (token rows); the direct
    // path reads elements.
    out.push_back({1, 20000, 2, 3, 20000, true, CHELA_DTYPE_BF16, Path::kBlocks, true, true});
    out.push_back({1, 20000, 2, 3, 20000, false, CHELA_DTYPE_F16, Path::kBlocks, false, true});
    out.push_back({2, 8193, 3, 3, 8193, true, CHELA_DTYPE_F16, Path::kTensorCores, true, true});
    out.push_back({1, 36864, 1, 3, 36864, true, CHELA_DTYPE_BF16, Path::kCluster, true, true});
    out.push_back({2, 257, 40, 5, 100, false, CHELA_DTYPE_BF16, Path::kDirect, false, true});
    out.push_back({1, 4097, 8, 3, 4097, true, CHELA_DTYPE_BF16, Path::kCufft, true, true});
    // Long kernels that decay to denormals (exp(-lag / 195): about 1e-39 in the block path's second
    // partition, as the reference model's initial kernels do) and then to zero: the transform's
    // column scale must stay finite (run 75 made whole columns NaN); both directions, every
    // on-chip path.
    out.push_back({1, 40000, 3, 3, 40000, true, CHELA_DTYPE_BF16, Path::kBlocks, true, false, 195.0f});
    out.push_back({1, 40000, 3, 5, 40000, false, CHELA_DTYPE_BF16, Path::kBlocks, true, false, 195.0f});
    out.push_back({1, 36864, 2, 3, 36864, true, CHELA_DTYPE_BF16, Path::kCluster, true, false, 195.0f});
    out.push_back({2, 16384, 3, 3, 16384, true, CHELA_DTYPE_BF16, Path::kTensorCores, true, false, 195.0f});
    return out;
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaConvCases, testing::ValuesIn(cases()));

// The persistent on-chip kernels (the tensor-core column CTAs and kernel-spectra CTAs; on the
// cluster path the spectra slices and the column clusters): capped by CHELA_CUDA_CONV_CTAS=2 (one
// cluster), each CTA or cluster walks several items (prefetching the next column) on a shape small
// enough for the sanitizer; each item is computed the same way whichever CTA takes it, so the
// output must be the same bits as with a full wave. The cases: causal L <= N (half-zero columns and
// taps), bidirectional L <= N (full taps, half columns), causal L > N (full columns, half taps),
// then the cluster path with 2 CTAs (six columns) and 4 CTAs (three columns, bidirectional), and the
// block path (6 columns of 3 blocks, windows 0 and 1: each CTA's scratch reused for 3 columns).
TEST_F(CudaConv, PersistentCtasWalkingManyColumnsGiveTheSameBits) {
    for (const ConvCase& c : {ConvCase{2, 16384, 5, 3, 16384, true, CHELA_DTYPE_BF16, Path::kTensorCores},
                              ConvCase{1, 16000, 5, 5, 400, false, CHELA_DTYPE_F16, Path::kTensorCores},
                              ConvCase{2, 20000, 3, 3, 104, true, CHELA_DTYPE_BF16, Path::kTensorCores},
                              ConvCase{2, 32768, 3, 3, 32768, true, CHELA_DTYPE_BF16, Path::kCluster},
                              ConvCase{1, 40000, 3, 5, 30000, false, CHELA_DTYPE_F16, Path::kCluster},
                              ConvCase{2, 40000, 3, 3, 2000, true, CHELA_DTYPE_BF16, Path::kBlocks}}) {
        SCOPED_TRACE(testing::PrintToString(c));
        unsetenv("CHELA_CUDA_CONV_CTAS");
        const std::vector<float> wide = run_and_check(c);
        setenv("CHELA_CUDA_CONV_CTAS", "2", 1);
        const std::vector<float> narrow = run_and_check(c);
        unsetenv("CHELA_CUDA_CONV_CTAS");
        ASSERT_EQ(wide.size(), narrow.size());
        EXPECT_EQ(std::memcmp(wide.data(), narrow.data(), wide.size() * sizeof(float)), 0);
    }
}

struct ErrorInputs {
    HostTensor x{{1, 8, 4}, randn(32, 1), CHELA_DTYPE_BF16}, ws{{4, 3}, randn(12, 2)}, bs{{4}, randn(4, 3)},
        wl{{4, 8}, randn(32, 4)}, om{{4}, randn(4, 5)}, out{{1, 8, 4}, CHELA_DTYPE_BF16};
};

TEST_F(CudaConv, HostTensorOnACudaContextIsAClearError) {
    ErrorInputs in;
    EXPECT_CHELA_ERROR(chela_short_long_conv(ctx, in.x.view(), to_device(in.ws), to_device(in.bs), to_device(in.wl),
                                             nullptr, to_device(in.om), to_device(in.out), 1),
                       CHELA_ERR_INVALID_ARGUMENT, "x: tensor is in host memory");
    EXPECT_CHELA_ERROR(chela_short_long_conv(ctx, to_device(in.x), to_device(in.ws), in.bs.view(), to_device(in.wl),
                                             nullptr, to_device(in.om), to_device(in.out), 1),
                       CHELA_ERR_INVALID_ARGUMENT, "short_bias: tensor is in host memory");
}

TEST_F(CudaConv, WrongShapesAndDtypesAreClearErrors) {
    ErrorInputs in;
    HostTensor bad_out({1, 7, 4}, CHELA_DTYPE_BF16), f32_out({1, 8, 4}), bad_wl({5, 8}, randn(40, 6));
    chela_tensor *dx = to_device(in.x), *dws = to_device(in.ws), *dbs = to_device(in.bs), *dwl = to_device(in.wl),
                 *dom = to_device(in.om);
    EXPECT_CHELA_ERROR(chela_short_long_conv(ctx, dx, dws, dbs, dwl, nullptr, dom, to_device(bad_out), 1),
                       CHELA_ERR_SHAPE, "out");
    EXPECT_CHELA_ERROR(chela_short_long_conv(ctx, dx, dws, dbs, to_device(bad_wl), nullptr, dom, to_device(in.out), 1),
                       CHELA_ERR_SHAPE, "long_weight");
    EXPECT_CHELA_ERROR(chela_short_long_conv(ctx, dx, dws, dbs, dwl, nullptr, dom, to_device(f32_out), 1),
                       CHELA_ERR_DTYPE, "dtype of x");
    EXPECT_CHELA_ERROR(chela_short_long_conv(ctx, dx, dws, dbs, dwl, nullptr, dom, to_device(in.out), 0),
                       CHELA_ERR_INVALID_ARGUMENT, "long_weight_rev");
    setenv("CHELA_CUDA_CONV_DIRECT_MAX", "lots", 1);
    EXPECT_CHELA_ERROR(chela_short_long_conv(ctx, dx, dws, dbs, dwl, nullptr, dom, to_device(in.out), 1),
                       CHELA_ERR_INVALID_ARGUMENT, "CHELA_CUDA_CONV_DIRECT_MAX");
    setenv("CHELA_CUDA_CONV_DIRECT_MAX", "0", 1);
    setenv("CHELA_CUDA_CONV_FFT", "fastest", 1);  // none of chip, tc, cufft
    EXPECT_CHELA_ERROR(chela_short_long_conv(ctx, dx, dws, dbs, dwl, nullptr, dom, to_device(in.out), 1),
                       CHELA_ERR_INVALID_ARGUMENT, "CHELA_CUDA_CONV_FFT");
}

// A failed call must leave the context usable.
TEST_F(CudaConv, ContextStillWorksAfterAnError) {
    ErrorInputs in;
    HostTensor bad_out({1, 7, 4}, CHELA_DTYPE_BF16), back({1, 8, 4}, CHELA_DTYPE_BF16);
    chela_tensor *dx = to_device(in.x), *dws = to_device(in.ws), *dbs = to_device(in.bs), *dwl = to_device(in.wl),
                 *dom = to_device(in.om), *dout = to_device(in.out);
    EXPECT_NE(chela_short_long_conv(ctx, dx, dws, dbs, dwl, nullptr, dom, to_device(bad_out), 1), CHELA_OK);
    ASSERT_CHELA_OK(chela_short_long_conv(ctx, dx, dws, dbs, dwl, nullptr, dom, dout, 1));
    ASSERT_CHELA_OK(chela_context_synchronize(ctx));
    to_host(dout, back);
    for (float v : back.f32()) EXPECT_TRUE(std::isfinite(v));
}

}  // namespace
