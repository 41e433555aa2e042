// On-chip FFT short-long convolution (second generation of the FFT path; conv_fft.cu is cuFFT).
//
// Why: the cuFFT path moves fp32 columns of length 2L through HBM about eight times (docs/gpu.md).
// Here one CTA owns one (batch row, channel) column and keeps its whole 2L-point spectrum in
// shared memory (fft_smem.cuh, N = 2L/2 complex points, up to 16384 -> 136 KB), so HBM sees the
// column read once and written once:
//   1. kernel_spectra: per channel, the padded long kernels (causal taps at 0..K-1, anti-causal
//      at 2N-1..2N-K+1) -> half spectrum H[0..N] in natural order, scaled by 1/(4N) so the
//      convolution needs no normalisation pass ([d, N] float2, H[N] packed into H[0].y).
//      B-independent: once per call.
//   2. transpose x [B,L,C] -> [B,C,L] (same dtype: exact), so that the columns are contiguous.
//   3. conv_columns: per (b, c): A = SiLU(short conv) generated while the first FFT pass loads
//      x; forward FFT; Y = X * H with the real-signal packing both ways in one pass over the
//      frequency pairs (k, N-k); inverse FFT whose last pass writes SiLU(g + omega x) over the
//      column in place (each thread reads the x it overwrites).
//   4. transpose the columns back to [B,L,C].
// Blocks are ordered with the batch index fastest, so the B CTAs of a channel run together and
// read its spectrum from HBM once.
// Applicability: 2N >= L + K - 1 with N <= 16384 (L = Lk = 16384 fits) and enough opt-in shared
// memory (H100: 227 KB, A100: 163 KB); otherwise the cuFFT path runs.
#include "conv_common.cuh"
#include "fft_smem.cuh"

#include <algorithm>

namespace chela::cuda::conv {

namespace {

using fft::Plan;

// Frequency pairs (k, N-k), k = 0..N/2, read from the digit-reversed buffer.
template <class P, class Visit>
__device__ __forceinline__ void for_each_pair(Visit visit) {
    for (int k = threadIdx.x; k <= P::N / 2; k += blockDim.x) {
        float2 w;
        sincospif(-static_cast<float>(k) / static_cast<float>(P::N), &w.y, &w.x);  // W^k, W = exp(-pi i/N)
        visit(k, P::N - k, w);
    }
}

template <int LOG_N>
__global__ void __launch_bounds__(Plan<LOG_N>::kThreads)
    kernel_spectra(float2* __restrict__ spectra, const void* wl, int wl_dtype, const void* wr, int wr_dtype,
                   int64_t Lk, int K) {
    using P = Plan<LOG_N>;
    extern __shared__ float2 sm[];
    const int64_t c = blockIdx.x;
    const int n2 = 2 * P::N;
    auto tap = [&](int n) -> float {  // h[n] of the length-2N circular kernel
        if (n < K) return load_any(wl, wl_dtype, c * Lk + n);
        if (wr != nullptr && n > n2 - K) return load_any(wr, wr_dtype, c * Lk + (n2 - n));
        return 0.0f;
    };
    fft::forward<P>(sm, [&](int n) { return make_float2(tap(2 * n), tap(2 * n + 1)); });
    float2* h = spectra + c * P::N;
    const float scale = 1.0f / (8.0f * static_cast<float>(P::N));  // 2X -> X / (4N)
    for_each_pair<P>([&](int k, int k2, float2 w) {
        if (k == 0) {
            const float2 z = sm[0];
            h[0] = make_float2(2.0f * (z.x + z.y) * scale, 2.0f * (z.x - z.y) * scale);  // H[0], H[N]
            return;
        }
        const float2 zk = sm[P::pad(P::pos(k))], zk2 = sm[P::pad(P::pos(k2))];
        const float2 w2 = make_float2(-w.x, w.y);
        const float2 a = fft::real_spectrum2(zk, zk2, w), b = fft::real_spectrum2(zk2, zk, w2);
        h[k] = make_float2(a.x * scale, a.y * scale);
        h[k2] = make_float2(b.x * scale, b.y * scale);
    });
}

template <typename T, int LOG_N>
__global__ void __launch_bounds__(Plan<LOG_N>::kThreads)
    conv_columns(T* cols, const float2* __restrict__ spectra, const float* __restrict__ ws,
                 const float* __restrict__ bs, const float* __restrict__ omega, int L, int d, int ks, int centre) {
    using P = Plan<LOG_N>;
    extern __shared__ float2 sm[];
    const int b = blockIdx.x, c = blockIdx.y;
    T* col = cols + (static_cast<int64_t>(b) * d + c) * L;
    const float bias = bs[c], om = omega[c];
    const float* w = ws + static_cast<int64_t>(c) * ks;
    auto a_at = [&](int t) -> float {  // A[t] = SiLU(short conv), 0 past L (the zero padding)
        if (t >= L) return 0.0f;
        float s = bias;
        for (int j = 0; j < ks; ++j) {
            const int src = t - j + centre;
            if (src >= 0 && src < L) s = fmaf(__ldg(w + j), load_f(col + src), s);
        }
        return silu(s);
    };
    fft::forward<P>(sm, [&](int n) { return make_float2(a_at(2 * n), a_at(2 * n + 1)); });

    const float2* h = spectra + static_cast<int64_t>(c) * P::N;
    for_each_pair<P>([&](int k, int k2, float2 w) {
        if (k == 0) {  // X[0], X[N] and H[0], H[N] are real
            const float2 z = sm[0], hh = h[0];
            const float y0 = 2.0f * (z.x + z.y) * hh.x, yn = 2.0f * (z.x - z.y) * hh.y;
            sm[0] = make_float2(y0 + yn, y0 - yn);
            return;
        }
        const int pk = P::pad(P::pos(k)), pk2 = P::pad(P::pos(k2));
        const float2 zk = sm[pk], zk2 = sm[pk2];
        const float2 w2 = make_float2(-w.x, w.y);
        const float2 yk = fft::cmul(fft::real_spectrum2(zk, zk2, w), h[k]);
        const float2 yk2 = fft::cmul(fft::real_spectrum2(zk2, zk, w2), h[k2]);
        sm[pk] = fft::real_pack2(yk, yk2, w);
        sm[pk2] = fft::real_pack2(yk2, yk, w2);
    });
    __syncthreads();

    fft::inverse<P>(sm, [&](int n, float2 g) {
        const int t = 2 * n;
        if (t < L) store_f(col + t, silu(g.x + om * load_f(col + t)));
        if (t + 1 < L) store_f(col + t + 1, silu(g.y + om * load_f(col + t + 1)));
    });
}

// [B, R, Cc] -> [B, Cc, R] through a 32 x 32 shared tile (32 x 8 threads).
template <typename T>
__global__ void __launch_bounds__(256) transpose(const T* __restrict__ in, T* __restrict__ out, int64_t R, int64_t Cc) {
    __shared__ T tile[32][33];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int64_t r0 = int64_t(blockIdx.x) * 32, c0 = int64_t(blockIdx.y) * 32, b = blockIdx.z;
    const T* src = in + b * R * Cc;
    T* dst = out + b * R * Cc;
    for (int i = ty; i < 32; i += 8)
        if (r0 + i < R && c0 + tx < Cc) tile[i][tx] = src[(r0 + i) * Cc + c0 + tx];
    __syncthreads();
    for (int i = ty; i < 32; i += 8)
        if (c0 + i < Cc && r0 + tx < R) dst[(c0 + i) * R + r0 + tx] = tile[tx][i];
}

template <typename T>
void launch_transpose(cudaStream_t stream, const T* in, T* out, int64_t B, int64_t R, int64_t Cc) {
    const dim3 grid(static_cast<unsigned>((R + 31) / 32), static_cast<unsigned>((Cc + 31) / 32), static_cast<unsigned>(B));
    transpose<T><<<grid, dim3(32, 8), 0, stream>>>(in, out, R, Cc);
    check(cudaGetLastError(), "transpose launch");
}

int log2_points(const cpu::ShortLongConvParams& p) {
    const int64_t K = std::min(p.Lk, p.L), want = (p.L + K) / 2;  // 2N >= L + K - 1
    int lg = 6;
    while ((int64_t{1} << lg) < want) ++lg;
    return lg;
}

template <typename T, int LOG_N>
void run_sized(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a) {
    using P = Plan<LOG_N>;
    const int64_t B = p.B, L = p.L, d = p.d;
    const int K = static_cast<int>(std::min(p.Lk, L));
    check(cudaFuncSetAttribute(kernel_spectra<LOG_N>, cudaFuncAttributeMaxDynamicSharedMemorySize, P::kSmemBytes),
          "shared memory opt-in");
    check(cudaFuncSetAttribute(conv_columns<T, LOG_N>, cudaFuncAttributeMaxDynamicSharedMemorySize, P::kSmemBytes),
          "shared memory opt-in");
    DeviceBuffer spectra(sizeof(float2) * d * P::N, stream, "short_long_conv (CUDA): kernel spectra");
    DeviceBuffer cols(sizeof(T) * B * L * d, stream, "short_long_conv (CUDA): column buffer");
    kernel_spectra<LOG_N><<<static_cast<unsigned>(d), P::kThreads, P::kSmemBytes, stream>>>(
        spectra.as<float2>(), a.long_w, a.long_dtype, a.long_w_rev, a.long_rev_dtype, p.Lk, K);
    check(cudaGetLastError(), "kernel spectra launch");
    launch_transpose<T>(stream, static_cast<const T*>(a.x), cols.as<T>(), B, L, d);
    conv_columns<T, LOG_N><<<dim3(static_cast<unsigned>(B), static_cast<unsigned>(d)), P::kThreads, P::kSmemBytes,
                             stream>>>(cols.as<T>(), spectra.as<float2>(), a.short_w, a.short_b, a.omega,
                                       static_cast<int>(L), static_cast<int>(d), p.ks, p.causal ? 0 : (p.ks - 1) / 2);
    check(cudaGetLastError(), "column convolution launch");
    launch_transpose<T>(stream, cols.as<T>(), static_cast<T*>(a.out), B, d, L);
}

template <typename T>
void run_typed(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a) {
    switch (log2_points(p)) {
        case 6: return run_sized<T, 6>(stream, p, a);
        case 7: return run_sized<T, 7>(stream, p, a);
        case 8: return run_sized<T, 8>(stream, p, a);
        case 9: return run_sized<T, 9>(stream, p, a);
        case 10: return run_sized<T, 10>(stream, p, a);
        case 11: return run_sized<T, 11>(stream, p, a);
        case 12: return run_sized<T, 12>(stream, p, a);
        case 13: return run_sized<T, 13>(stream, p, a);
        case 14: return run_sized<T, 14>(stream, p, a);
        default: fail(CHELA_ERR_UNSUPPORTED, "short_long_conv (CUDA): on-chip FFT: sequence too long");
    }
}

}  // namespace

bool chip_fft_fits(int device, const cpu::ShortLongConvParams& p) {
    const int lg = log2_points(p);
    if (lg > 14 || p.B > 65535 || p.d > 65535) return false;
    int optin = 0;
    if (cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) != cudaSuccess) {
        (void)cudaGetLastError();
        return false;
    }
    const int64_t n = int64_t{1} << lg;
    return (n + n / 16) * 8 <= optin;
}

void run_chip_fft(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a) {
    if (a.dtype == CHELA_DTYPE_BF16) run_typed<__nv_bfloat16>(stream, p, a);
    else if (a.dtype == CHELA_DTYPE_F16) run_typed<__half>(stream, p, a);
    else run_typed<float>(stream, p, a);
}

}  // namespace chela::cuda::conv
