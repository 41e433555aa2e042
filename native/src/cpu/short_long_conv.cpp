// CPU short-long convolution: S = short depthwise conv (+bias), A = SiLU(S), G = long depthwise conv
// of A, out = SiLU(G + omega * x).
//
// The short conv and SiLU run fused over [B, L, d] rows. The long conv runs per channel: either as
// a direct sum (short kernels, short sequences) or through a real FFT of size N >= L + K - 1
// (K = min(Lk, L) taps can reach inside the sequence), where linear convolution equals circular
// convolution. A bidirectional kernel puts its anti-causal taps at negative lags (wrapped to the
// end of the length-N kernel), so one spectrum product does both halves. Each task owns one
// channel for the whole batch, so that channel's kernel spectrum is computed once per call.
#include "cpu/short_long_conv.h"

#include "core/error.h"
#include "core/simd.h"
#include "cpu/layer_ops.h"

#include <kiss_fftr.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

namespace chela::cpu {

namespace {

// RAII for a KissFFT real-transform plan. A plan holds scratch space that kiss_fftr writes, so
// each task makes its own.
struct FftPlan {
    kiss_fftr_cfg forward = nullptr, inverse = nullptr;
    explicit FftPlan(int n) {
        forward = kiss_fftr_alloc(n, 0, nullptr, nullptr);
        inverse = kiss_fftr_alloc(n, 1, nullptr, nullptr);
        if (!forward || !inverse) fail(CHELA_ERR_OUT_OF_MEMORY, "short_long_conv: FFT plan of size ", n);
    }
    ~FftPlan() {
        kiss_fftr_free(forward);
        kiss_fftr_free(inverse);
    }
    FftPlan(const FftPlan&) = delete;
    FftPlan& operator=(const FftPlan&) = delete;
};

// Smallest even n >= want whose only prime factors are 2, 3 and 5 (KissFFT's fast radices).
int64_t fft_size(int64_t want) {
    for (int64_t n = std::max<int64_t>(2, want);; ++n) {
        if (n % 2) continue;
        int64_t m = n;
        for (int64_t p : {2, 3, 5})
            while (m % p == 0) m /= p;
        if (m == 1) return n;
    }
}

// Direct sum when it costs less than about three transforms of size N per channel and batch row.
bool use_fft(int64_t L, int64_t K, bool causal, int64_t n) {
    const double direct = static_cast<double>(L) * static_cast<double>(K) * (causal ? 1.0 : 2.0);
    const double fft = 8.0 * static_cast<double>(n) * std::log2(static_cast<double>(n));
    return K > 16 && direct > fft;
}

// a[t] = SiLU(b + sum_j w[j] x[t - (j - centre)]) for all t, channels vectorised.
CHELA_MULTIVERSION
void short_conv_silu(const ShortLongConvParams& p, const float* x, const float* w, const float* bias,
                     float* a, int64_t b0, int64_t b1) {
    const int64_t d = p.d, L = p.L, ks = p.ks, centre = p.causal ? 0 : (ks - 1) / 2;
    std::vector<float> wt(static_cast<size_t>(ks * d));  // taps transposed: [ks, d]
    for (int64_t c = 0; c < d; ++c)
        for (int64_t j = 0; j < ks; ++j) wt[j * d + c] = w[c * ks + j];
    for (int64_t r = b0; r < b1; ++r) {  // r = b * L + t
        const int64_t b = r / L, t = r % L;
        float* ar = a + r * d;
        std::copy(bias, bias + d, ar);
        for (int64_t j = 0; j < ks; ++j) {
            const int64_t src = t - (j - centre);
            if (src < 0 || src >= L) continue;
            const float* xs = x + (b * L + src) * d;
            const float* wj = wt.data() + j * d;
            for (int64_t c = 0; c < d; ++c) ar[c] += wj[c] * xs[c];
        }
        for (int64_t c = 0; c < d; ++c) ar[c] = silu(ar[c]);
    }
}

// g[t] = sum_{j=0}^{min(t,K-1)} wl[j] a[t-j]  (+ sum_{j=1}^{K-1} wr[j] a[t+j] when wr).
void direct_long(int64_t L, int64_t K, const float* wl, const float* wr, const float* a, float* g) {
    for (int64_t t = 0; t < L; ++t) {
        float s = 0.0f;
        const int64_t jmax = std::min(t, K - 1);
        for (int64_t j = 0; j <= jmax; ++j) s += wl[j] * a[t - j];
        if (wr)
            for (int64_t j = 1; j < K && t + j < L; ++j) s += wr[j] * a[t + j];
        g[t] = s;
    }
}

}  // namespace

void short_long_conv(ThreadPool& pool, const ShortLongConvParams& p, const float* x,
                     const float* short_w, const float* short_b, const float* long_w,
                     const float* long_w_rev, const float* omega, float* out) {
    const int64_t B = p.B, L = p.L, d = p.d, rows = B * L;
    if (rows == 0 || d == 0) return;
    std::vector<float> a(static_cast<size_t>(rows * d));
    pool.parallel_range(rows, 32, [&](int64_t r0, int64_t r1) {
        short_conv_silu(p, x, short_w, short_b, a.data(), r0, r1);
    });

    const int64_t K = std::min(p.Lk, L);
    const int64_t n = fft_size(L + K - 1);
    const bool fft = use_fft(L, K, p.causal, n);
    const float inv_n = 1.0f / static_cast<float>(n);

    // Tasks own kChannelBlock adjacent channels so the strided gathers and scatters touch each
    // cache line of a [L, d] row once per task rather than once per channel.
    constexpr int64_t kChannelBlock = 16;
    const int64_t len = fft ? n : L;
    pool.parallel_for((d + kChannelBlock - 1) / kChannelBlock, [&](int64_t blk) {
        const int64_t c0 = blk * kChannelBlock, nc = std::min(kChannelBlock, d - c0);
        std::vector<float> cols(static_cast<size_t>(nc * len)), g(static_cast<size_t>(len));
        std::vector<std::vector<kiss_fft_cpx>> spec_w(static_cast<size_t>(fft ? nc : 0));
        std::vector<kiss_fft_cpx> spec_a(static_cast<size_t>(fft ? n / 2 + 1 : 0));
        std::unique_ptr<FftPlan> plan;
        if (fft) plan = std::make_unique<FftPlan>(static_cast<int>(n));
        for (int64_t i = 0; fft && i < nc; ++i) {
            // Kernel spectrum: causal taps at lags 0..K-1, anti-causal taps at N-1 .. N-K+1.
            const float* wl = long_w + (c0 + i) * p.Lk;
            std::fill(g.begin(), g.end(), 0.0f);
            for (int64_t j = 0; j < K; ++j) g[j] = wl[j];
            if (!p.causal)
                for (int64_t j = 1; j < K; ++j) g[n - j] = long_w_rev[(c0 + i) * p.Lk + j];
            spec_w[i].resize(static_cast<size_t>(n / 2 + 1));
            kiss_fftr(plan->forward, g.data(), spec_w[i].data());
        }
        for (int64_t b = 0; b < B; ++b) {
            const float* ab = a.data() + b * L * d + c0;
            for (int64_t t = 0; t < L; ++t)
                for (int64_t i = 0; i < nc; ++i) cols[i * len + t] = ab[t * d + i];
            for (int64_t i = 0; i < nc; ++i) {
                float* col = cols.data() + i * len;
                const int64_t c = c0 + i;
                if (fft) {
                    std::fill(col + L, col + n, 0.0f);
                    kiss_fftr(plan->forward, col, spec_a.data());
                    const kiss_fft_cpx* w = spec_w[i].data();
                    for (size_t f = 0; f < spec_a.size(); ++f) {
                        const kiss_fft_cpx u = spec_a[f];
                        spec_a[f].r = (u.r * w[f].r - u.i * w[f].i) * inv_n;
                        spec_a[f].i = (u.r * w[f].i + u.i * w[f].r) * inv_n;
                    }
                    kiss_fftri(plan->inverse, spec_a.data(), g.data());
                } else {
                    direct_long(L, K, long_w + c * p.Lk, p.causal ? nullptr : long_w_rev + c * p.Lk, col,
                                g.data());
                }
                std::copy(g.begin(), g.begin() + L, col);  // G replaces A in place
            }
            const float* xb = x + b * L * d + c0;
            float* ob = out + b * L * d + c0;
            for (int64_t t = 0; t < L; ++t)
                for (int64_t i = 0; i < nc; ++i)
                    ob[t * d + i] = silu(cols[i * len + t] + omega[c0 + i] * xb[t * d + i]);
        }
    });
}

void merge_short_kernels(int64_t d, const std::vector<const float*>& weights,
                         const std::vector<int>& sizes, const std::vector<const float*>& biases,
                         bool causal, float* out_w, float* out_b) {
    const int ks = *std::max_element(sizes.begin(), sizes.end());
    std::fill(out_w, out_w + d * ks, 0.0f);
    std::fill(out_b, out_b + d, 0.0f);
    for (size_t i = 0; i < weights.size(); ++i) {
        // Causal: lag 0 stays index 0 (pad at the old end). Bidirectional: centres aligned.
        const int offset = causal ? 0 : (ks - sizes[i]) / 2;
        for (int64_t c = 0; c < d; ++c) {
            for (int j = 0; j < sizes[i]; ++j) out_w[c * ks + offset + j] += weights[i][c * sizes[i] + j];
            out_b[c] += biases[i][c];
        }
    }
}

}  // namespace chela::cpu
