// Direct (no FFT) short-long convolution for short long-kernels: one fused kernel, everything on
// chip. x is read (through L1/L2) and out written once; A = SiLU(short conv) lives only in shared
// memory.
//
// Both halves of the long conv are one sum over signed lags: g[t] = sum_m h[m] A[t-m] with
// h[m] = w_l[m] (0 <= m < K) and h[-m] = w_lr[m] (bidirectional, 1 <= m < K). A one-off kernel
// lays h out as taps[k][c] (k = m - m_lo, padded with zeros to a multiple of 16) so that a CTA reads
// its channels' taps coalesced.
//
// CTA = (128 time steps, 32 channels, one batch row), 256 threads: lane = channel (so every
// shared-memory access of a warp hits 32 consecutive words: no bank conflicts), warp w owns the 16
// consecutive outputs t0 + 16w .. +15. Per block of 16 taps a thread loads a 31-value window of A
// into registers and does 256 FMAs from it (16 outputs x 16 taps; window index i - kk + 15 is a
// compile-time constant after unrolling, so the window never leaves registers).
#include "conv_common.cuh"
#include "short_long_conv.h"

namespace chela::cuda::conv {

namespace {

constexpr int kTile = 128;     // outputs (time steps) per CTA
constexpr int kCh = 32;        // channels per CTA (one per lane)
constexpr int kThreads = 256;  // 8 warps x 16 outputs
constexpr int kPerThread = 16;
constexpr int kMaxShort = 15;  // the C entry point's bound on ks

struct DirectGeom {
    int64_t K;       // taps per side
    int64_t m_lo;    // first signed lag: 0 (causal) or -(K-1)
    int64_t p16;     // taps padded to a multiple of 16
    int64_t rows;    // A rows a CTA needs: kTile + p16 - 1
    size_t smem() const { return static_cast<size_t>((rows + p16) * kCh) * sizeof(float); }
};

DirectGeom geometry(const cpu::ShortLongConvParams& p) {
    DirectGeom g;
    g.K = std::min(p.Lk, p.L);
    g.m_lo = p.causal ? 0 : -(g.K - 1);
    const int64_t taps = p.causal ? g.K : 2 * g.K - 1;
    g.p16 = (taps + 15) / 16 * 16;
    g.rows = kTile + g.p16 - 1;
    return g;
}

// taps[k * d + c] = h_c[m_lo + k] (zero past the last lag).
__global__ void build_taps(float* taps, const void* wl, int wl_dtype, const void* wr, int wr_dtype, int64_t d,
                           int64_t Lk, int64_t K, int64_t m_lo, int64_t p16) {
    const int64_t n = p16 * d;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t k = i / d, c = i % d, m = m_lo + k;
        float v = 0.0f;
        if (m >= 0 && m < K) v = load_any(wl, wl_dtype, c * Lk + m);
        else if (m < 0) v = load_any(wr, wr_dtype, c * Lk - m);
        taps[i] = v;
    }
}

template <typename T>
__global__ void __launch_bounds__(kThreads) direct_conv(const T* __restrict__ x, T* __restrict__ out,
                                                        const float* __restrict__ ws, const float* __restrict__ bs,
                                                        const float* __restrict__ omega,
                                                        const float* __restrict__ taps, int64_t L, int64_t d, int ks,
                                                        int centre, int64_t m_lo, int p16, int rows) {
    extern __shared__ float smem[];
    float* sa = smem;                 // [rows][32]: A at time r0 + r (0 outside [0, L))
    float* sh = smem + rows * kCh;    // [p16][32]: taps
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int64_t t0 = int64_t(blockIdx.x) * kTile, c = int64_t(blockIdx.y) * kCh + lane, b = blockIdx.z;
    const bool live = c < d;
    const int64_t r0 = t0 - (m_lo + p16 - 1);  // time of A row 0
    const T* xb = x + b * L * d;

    // Taps (coalesced: 32 consecutive channels per row).
    for (int k = warp; k < p16; k += kThreads / 32) sh[k * kCh + lane] = live ? taps[int64_t(k) * d + c] : 0.0f;
    // A = SiLU(short conv + bias); each thread keeps one channel (256 is a multiple of 32).
    const float bias = live ? bs[c] : 0.0f;
    float wsr[kMaxShort];  // this lane's short taps in registers (ks <= 15)
#pragma unroll
    for (int j = 0; j < kMaxShort; ++j) wsr[j] = (live && j < ks) ? ws[c * ks + j] : 0.0f;
    for (int r = warp; r < rows; r += kThreads / 32) {
        const int64_t t = r0 + r;
        float v = 0.0f;
        if (live && t >= 0 && t < L) {
            float s = bias;
#pragma unroll
            for (int j = 0; j < kMaxShort; ++j) {
                const int64_t src = t - (j - centre);
                if (j < ks && src >= 0 && src < L) s = fmaf(wsr[j], load_f(xb + src * d + c), s);
            }
            v = silu(s);
        }
        sa[r * kCh + lane] = v;
    }
    __syncthreads();

    float acc[kPerThread];
#pragma unroll
    for (int i = 0; i < kPerThread; ++i) acc[i] = 0.0f;
    // Output t0 + 16w + i, tap k: A row 16w + i + p16 - 1 - k.
    for (int kb = 0; kb < p16; kb += 16) {
        const int base = warp * kPerThread + p16 - 1 - kb - 15;
        float win[31];
#pragma unroll
        for (int q = 0; q < 31; ++q) win[q] = sa[(base + q) * kCh + lane];
#pragma unroll
        for (int kk = 0; kk < 16; ++kk) {
            const float h = sh[(kb + kk) * kCh + lane];
#pragma unroll
            for (int i = 0; i < kPerThread; ++i) acc[i] = fmaf(h, win[15 + i - kk], acc[i]);
        }
    }
    if (!live) return;
    const float om = omega[c];
#pragma unroll
    for (int i = 0; i < kPerThread; ++i) {
        const int64_t t = t0 + warp * kPerThread + i;
        if (t < L) store_f(out + (b * L + t) * d + c, silu(acc[i] + om * load_f(xb + t * d + c)));
    }
}

template <typename T>
void launch(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a, const DirectGeom& g,
            const float* taps) {
    const size_t smem = g.smem();
    check(cudaFuncSetAttribute(direct_conv<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)),
          "direct kernel: shared-memory opt-in");
    const dim3 grid(static_cast<unsigned>((p.L + kTile - 1) / kTile), static_cast<unsigned>((p.d + kCh - 1) / kCh),
                    static_cast<unsigned>(p.B));
    direct_conv<T><<<grid, kThreads, smem, stream>>>(
        static_cast<const T*>(a.x), static_cast<T*>(a.out), a.short_w, a.short_b, a.omega, taps, p.L, p.d, p.ks,
        short_centre(p), g.m_lo, static_cast<int>(g.p16), static_cast<int>(g.rows));
    check(cudaGetLastError(), "direct kernel launch");
}

}  // namespace

int64_t direct_max_taps_cap() { return kDirectMaxTapsCap; }

void run_direct(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a) {
    const DirectGeom g = geometry(p);
    if (g.K > kDirectMaxTapsCap)
        fail(CHELA_ERR_INTERNAL, "short_long_conv (CUDA): direct path asked for ", g.K, " taps (cap ",
             kDirectMaxTapsCap, ")");
    if (p.B > 65535 || (p.d + kCh - 1) / kCh > 65535)
        fail(CHELA_ERR_UNSUPPORTED, "short_long_conv (CUDA): batch ", p.B, " or width ", p.d, " exceeds the launch grid");
    DeviceBuffer taps(sizeof(float) * g.p16 * p.d, stream, "short_long_conv (CUDA): taps buffer");
    const int64_t n = g.p16 * p.d;
    build_taps<<<static_cast<unsigned>(std::min<int64_t>((n + 255) / 256, 4096)), 256, 0, stream>>>(
        taps.as<float>(), a.long_w, a.long_dtype, a.long_w_rev, a.long_rev_dtype, p.d, p.Lk, g.K, g.m_lo, g.p16);
    check(cudaGetLastError(), "taps kernel launch");
    if (a.dtype == CHELA_DTYPE_BF16) launch<__nv_bfloat16>(stream, p, a, g, taps.as<float>());
    else if (a.dtype == CHELA_DTYPE_F16) launch<__half>(stream, p, a, g, taps.as<float>());
    else launch<float>(stream, p, a, g, taps.as<float>());
}

}  // namespace chela::cuda::conv
