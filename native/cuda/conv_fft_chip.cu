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
//   3. conv_columns: per (b, c): the x column staged in shared memory (16-byte copies);
//      A = SiLU(short conv) into the FFT buffer; forward FFT; Y = X * H with the real-signal
//      packing both ways in one pass over the frequency pairs (k, N-k); inverse FFT;
//      SiLU(g + omega x) over the staged column, copied back over the column in place.
//   4. transpose the columns back to [B,L,C].
// Blocks are ordered with the batch index fastest, so the B CTAs of a channel run together and
// read its spectrum from HBM once.
// Applicability: 2N >= L + K - 1 with N <= 16384 (L = Lk = 16384 fits) and enough opt-in shared
// memory for the spectrum and the column (H100/H200: 227 KB: every dtype at L = Lk = 16384; A100:
// 163 KB); otherwise the cuFFT path runs.
#include "conv_common.cuh"
#include "fft_smem.cuh"
#include "fft_smem_tc.cuh"

#include <algorithm>
#include <type_traits>

namespace chela::cuda::conv {

namespace {

using fft::Plan;

// Frequency pairs (k, N-k), k = 0..N/2, read from the digit-reversed buffer.
template <class P, class Visit>
__device__ __forceinline__ void for_each_pair(Visit visit) {
    constexpr float kPi = 3.14159265358979f;
#pragma unroll 2  // lets the spectrum loads of the next pair issue before this pair's arithmetic
    for (int k = threadIdx.x; k <= P::N / 2; k += blockDim.x) {
        float2 w;  // W^k, W = exp(-pi i / N); the angle is within [-pi/2, 0]
        __sincosf(-kPi * static_cast<float>(k) / static_cast<float>(P::N), &w.y, &w.x);
        visit(k, P::N - k, w);
    }
}

// Where element n of the FFT buffer lives: float2 index pad(n); real sample m of a packed real
// sequence (z[n] = a[2n] + i a[2n+1]) is float 2 pad(m/2) + m%2.
template <class P>
__device__ __forceinline__ int real_slot(int m) { return 2 * P::pad(m >> 1) + (m & 1); }

// Column copies between global memory and shared memory: 16-byte vectors when both ends are
// aligned (the usual case: L * sizeof(T) a multiple of 16), else element by element.
template <typename T>
__device__ __forceinline__ void copy_column(T* dst, const T* src, int n) {
    const bool vec = ((reinterpret_cast<uintptr_t>(dst) | reinterpret_cast<uintptr_t>(src)) & 15) == 0;
    int done = 0;
    if (vec) {
        constexpr int kPer = 16 / sizeof(T);
        const int nv = n / kPer;
#pragma unroll 4  // several loads in flight per thread: one CTA per SM has nothing else to overlap
        for (int i = threadIdx.x; i < nv; i += blockDim.x)
            reinterpret_cast<uint4*>(dst)[i] = reinterpret_cast<const uint4*>(src)[i];
        done = nv * kPer;
    }
    for (int i = done + threadIdx.x; i < n; i += blockDim.x) dst[i] = src[i];
}

// Scales the N points in sm so that none exceeds 1 in magnitude (the fp16 operands of the
// tensor-core transform then keep their range whatever the data) and returns the factor that
// undoes it; amax is this thread's share of the maximum. Contains barriers: call from all threads.
template <class P>
__device__ __forceinline__ float normalise_for_tc(float2* sm, float amax) {
    __shared__ float warp_max[32];
    for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
    if (threadIdx.x % 32 == 0) warp_max[threadIdx.x / 32] = amax;
    __syncthreads();
    for (int i = 0; i < P::kThreads / 32; ++i) amax = fmaxf(amax, warp_max[i]);
    if (!(amax > 0.0f) || !isfinite(amax)) return 1.0f;  // zeros stay zeros; non-finite data stays so
    const float s = 1.0f / amax;
    for (int n = threadIdx.x; n < P::N; n += blockDim.x) {
        const float2 z = sm[P::pad(n)];
        sm[P::pad(n)] = make_float2(z.x * s, z.y * s);
    }
    return amax;
}

template <int LOG_N, bool TC>
__global__ void __launch_bounds__(Plan<LOG_N>::kThreads, 1)
    kernel_spectra(float2* __restrict__ spectra, const void* wl, int wl_dtype, const void* wr, int wr_dtype,
                   int64_t Lk, int K) {
    using P = std::conditional_t<TC, fft::PlanTc, Plan<LOG_N>>;
    extern __shared__ float2 sm[];
    float* smf = reinterpret_cast<float*>(sm);
    const int64_t c = blockIdx.x;
    const int n2 = 2 * P::N;
    // The length-2N circular kernel h as packed real samples: causal taps at 0..K-1, anti-causal
    // taps at 2N-1 .. 2N-K+1, zeros between (independent loads: coalesced and all in flight).
    float amax = 0.0f;
#pragma unroll 4
    for (int m = threadIdx.x; m < n2; m += blockDim.x) {
        float v = 0.0f;
        if (m < K) v = load_any(wl, wl_dtype, c * Lk + m);
        else if (wr != nullptr && m > n2 - K) v = load_any(wr, wr_dtype, c * Lk + (n2 - m));
        smf[real_slot<P>(m)] = v;
        amax = fmaxf(amax, fabsf(v));
    }
    __syncthreads();
    float scale = 1.0f / (8.0f * static_cast<float>(P::N));  // 2X -> X / (4N)
    if constexpr (TC) {
        scale *= normalise_for_tc<P>(sm, amax) * P::kOneWayGain;  // undo the normalisation and the unitary scaling
        const fft::TcConstants frags = fft::tc_constants();
        __syncthreads();
        fft::forward_tc(sm, frags);
    } else {
        fft::forward<P>(sm);
    }
    float2* h = spectra + c * P::N;
    for_each_pair<P>([&](int k, int k2, float2 w) {
        if (k == 0) {
            const float2 z = sm[P::pad(0)];
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

// Dynamic shared memory of conv_columns: the FFT buffer, then the column (x in, y out) of L
// elements of elem_bytes each.
constexpr int64_t column_smem_bytes(int log_n, int64_t L, int64_t elem_bytes, bool tc = false) {
    return (tc ? int64_t{fft::PlanTc::kSmemBytes} : fft::buffer_smem_bytes(log_n)) + (L * elem_bytes + 15) / 16 * 16;
}

// TC: the transforms on the tensor cores (fft_smem_tc.cuh: N = 16384 only; bf16/f16 columns). The
// column's activations are then scaled to at most 1 in magnitude before the transform (fp16
// operands keep their range whatever the model's activations) and the result scaled back.
template <typename T, int LOG_N, bool TC>
__global__ void __launch_bounds__(Plan<LOG_N>::kThreads, 1)
    conv_columns(T* cols, const float2* __restrict__ spectra, const float* __restrict__ ws,
                 const float* __restrict__ bs, const float* __restrict__ omega, int L, int d, int ks, int centre) {
    static_assert(!TC || LOG_N == fft::PlanTc::LOG_N, "the tensor-core transform is for N = 16384");
    using P = std::conditional_t<TC, fft::PlanTc, Plan<LOG_N>>;
    extern __shared__ float2 sm[];
    T* xs = reinterpret_cast<T*>(sm + P::kSmemBytes / 8);
    const int b = blockIdx.x, c = blockIdx.y;
    T* col = cols + (static_cast<int64_t>(b) * d + c) * L;
    copy_column(xs, col, L);
    __syncthreads();

    // A = SiLU(short conv) as packed real samples z[n] = (A[2n], A[2n+1]), zero past L (the
    // padding). Taps reaching outside [0, L) are checked only near the ends.
    const float bias = bs[c], om = omega[c];
    const float* w = ws + static_cast<int64_t>(c) * ks;
    const int back = ks - 1 - centre;  // the short conv reads x[t - back .. t + centre]
    auto a_at = [&](int t) -> float {
        float s = bias;
        if (t >= back && t + centre < L) {
            const T* x0 = xs + t + centre;
            for (int j = 0; j < ks; ++j) s = fmaf(__ldg(w + j), load_f(x0 - j), s);
        } else {
            for (int j = 0; j < ks; ++j) {
                const int src = t - j + centre;
                if (src >= 0 && src < L) s = fmaf(__ldg(w + j), load_f(xs + src), s);
            }
        }
        return silu(s);
    };
    float amax = 0.0f;
    for (int n = threadIdx.x; n < P::N; n += blockDim.x) {
        const int t = 2 * n;
        float2 z = make_float2(0.0f, 0.0f);
        if (t < L) {
            z.x = a_at(t);
            if (t + 1 < L) z.y = a_at(t + 1);
        }
        sm[P::pad(n)] = z;
        amax = fmaxf(amax, fmaxf(fabsf(z.x), fabsf(z.y)));
    }
    __syncthreads();
    float unscale = 1.0f;  // what the transformed column is multiplied by afterwards
    [[maybe_unused]] fft::TcConstants frags;
    if constexpr (TC) {
        unscale = normalise_for_tc<P>(sm, amax);
        frags = fft::tc_constants();
        __syncthreads();
        fft::forward_tc(sm, frags);
    } else {
        fft::forward<P>(sm);
    }
    // The tensor-core transforms are unitary: their scaling is given back in the product.
    float gain = 1.0f;
    if constexpr (TC) gain = P::gain();

    const float2* h = spectra + static_cast<int64_t>(c) * P::N;
    for_each_pair<P>([&](int k, int k2, float2 w) {
        if (k == 0) {  // X[0], X[N] and H[0], H[N] are real
            const float2 z = sm[P::pad(0)], hh = h[0];
            const float y0 = 2.0f * gain * (z.x + z.y) * hh.x, yn = 2.0f * gain * (z.x - z.y) * hh.y;
            sm[P::pad(0)] = make_float2(y0 + yn, y0 - yn);
            return;
        }
        const int pk = P::pad(P::pos(k)), pk2 = P::pad(P::pos(k2));
        const float2 zk = sm[pk], zk2 = sm[pk2];
        const float2 w2 = make_float2(-w.x, w.y);
        const float2 hk = make_float2(gain * h[k].x, gain * h[k].y), hk2 = make_float2(gain * h[k2].x, gain * h[k2].y);
        const float2 yk = fft::cmul(fft::real_spectrum2(zk, zk2, w), hk);
        const float2 yk2 = fft::cmul(fft::real_spectrum2(zk2, zk, w2), hk2);
        sm[pk] = fft::real_pack2(yk, yk2, w);
        sm[pk2] = fft::real_pack2(yk2, yk, w2);
    });
    __syncthreads();
    if constexpr (TC) fft::inverse_tc(sm, frags);
    else fft::inverse<P>(sm);

    // out = SiLU(g + omega x) over the staged column, then one coalesced copy back.
    for (int n = threadIdx.x; 2 * n < L; n += blockDim.x) {
        const float2 g = sm[P::pad(n)];
        const int t = 2 * n;
        store_f(xs + t, silu(g.x * unscale + om * load_f(xs + t)));
        if (t + 1 < L) store_f(xs + t + 1, silu(g.y * unscale + om * load_f(xs + t + 1)));
    }
    __syncthreads();
    copy_column(col, xs, L);
}

// [B, R, Cc] -> [B, Cc, R] through a 64 x 64 shared tile, 32 x 8 threads; each thread moves two
// neighbouring elements per row, as one 2-element vector where the row is aligned for it (a warp
// then reads and writes 64 consecutive elements: full 128-byte lines at 2-byte types).
template <typename T>
struct Pair;
template <> struct Pair<float> { using type = float2; };
template <> struct Pair<__nv_bfloat16> { using type = __nv_bfloat162; };
template <> struct Pair<__half> { using type = __half2; };

template <typename T>
__global__ void __launch_bounds__(256) transpose(const T* __restrict__ in, T* __restrict__ out, int64_t R, int64_t Cc) {
    using T2 = typename Pair<T>::type;
    __shared__ T tile[64][65];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int64_t r0 = int64_t(blockIdx.x) * 64, c0 = int64_t(blockIdx.y) * 64, b = blockIdx.z;
    const T* src = in + b * R * Cc;
    T* dst = out + b * R * Cc;
    const bool vec_in = Cc % 2 == 0 && (reinterpret_cast<uintptr_t>(in) & (2 * sizeof(T) - 1)) == 0;
    const bool vec_out = R % 2 == 0 && (reinterpret_cast<uintptr_t>(out) & (2 * sizeof(T) - 1)) == 0;
    // All eight loads of a thread are issued before the first shared-memory store (unrolled, no
    // early exit): the loop with a break kept one load in flight (2.3 TB/s, run 23).
    const int64_t cc = c0 + 2 * tx;
    T2 v[8];
#pragma unroll
    for (int k = 0; k < 8; ++k) {
        const int64_t r = r0 + ty + 8 * k;
        v[k].x = v[k].y = T(0.0f);
        if (r < R) {
            if (vec_in && cc + 1 < Cc) {
                v[k] = *reinterpret_cast<const T2*>(src + r * Cc + cc);
            } else {
                if (cc < Cc) v[k].x = src[r * Cc + cc];
                if (cc + 1 < Cc) v[k].y = src[r * Cc + cc + 1];
            }
        }
    }
#pragma unroll
    for (int k = 0; k < 8; ++k) {
        tile[ty + 8 * k][2 * tx] = v[k].x;
        tile[ty + 8 * k][2 * tx + 1] = v[k].y;
    }
    __syncthreads();
    const int64_t rr = r0 + 2 * tx;
#pragma unroll
    for (int k = 0; k < 8; ++k) {
        const int i = ty + 8 * k;
        const int64_t c = c0 + i;
        if (c >= Cc) continue;
        T2 w;
        w.x = tile[2 * tx][i];
        w.y = tile[2 * tx + 1][i];
        if (vec_out && rr + 1 < R) {
            *reinterpret_cast<T2*>(dst + c * R + rr) = w;
        } else {
            if (rr < R) dst[c * R + rr] = w.x;
            if (rr + 1 < R) dst[c * R + rr + 1] = w.y;
        }
    }
}

template <typename T>
void launch_transpose(cudaStream_t stream, const T* in, T* out, int64_t B, int64_t R, int64_t Cc) {
    const dim3 grid(static_cast<unsigned>((R + 63) / 64), static_cast<unsigned>((Cc + 63) / 64), static_cast<unsigned>(B));
    transpose<T><<<grid, dim3(32, 8), 0, stream>>>(in, out, R, Cc);
    check(cudaGetLastError(), "transpose launch");
}

int log2_points(const cpu::ShortLongConvParams& p) {
    const int64_t K = std::min(p.Lk, p.L), want = (p.L + K) / 2;  // 2N >= L + K - 1
    int lg = 6;
    while ((int64_t{1} << lg) < want) ++lg;
    return lg;
}

template <typename T, int LOG_N, bool TC>
void run_sized(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a) {
    using P = Plan<LOG_N>;
    const int64_t B = p.B, L = p.L, d = p.d;
    const int K = static_cast<int>(std::min(p.Lk, L));
    const int spectra_smem = TC ? fft::PlanTc::kSmemBytes : P::kSmemBytes;
    check(cudaFuncSetAttribute(kernel_spectra<LOG_N, TC>, cudaFuncAttributeMaxDynamicSharedMemorySize, spectra_smem),
          "shared memory opt-in");
    const int col_smem = static_cast<int>(column_smem_bytes(LOG_N, L, sizeof(T), TC));
    check(cudaFuncSetAttribute(conv_columns<T, LOG_N, TC>, cudaFuncAttributeMaxDynamicSharedMemorySize, col_smem),
          "shared memory opt-in");
    DeviceBuffer spectra(sizeof(float2) * d * P::N, stream, "short_long_conv (CUDA): kernel spectra");
    DeviceBuffer cols(sizeof(T) * B * L * d, stream, "short_long_conv (CUDA): column buffer");
    kernel_spectra<LOG_N, TC><<<static_cast<unsigned>(d), P::kThreads, spectra_smem, stream>>>(
        spectra.as<float2>(), a.long_w, a.long_dtype, a.long_w_rev, a.long_rev_dtype, p.Lk, K);
    check(cudaGetLastError(), "kernel spectra launch");
    launch_transpose<T>(stream, static_cast<const T*>(a.x), cols.as<T>(), B, L, d);
    conv_columns<T, LOG_N, TC><<<dim3(static_cast<unsigned>(B), static_cast<unsigned>(d)), P::kThreads, col_smem,
                                 stream>>>(cols.as<T>(), spectra.as<float2>(), a.short_w, a.short_b, a.omega,
                                       static_cast<int>(L), static_cast<int>(d), p.ks, p.causal ? 0 : (p.ks - 1) / 2);
    check(cudaGetLastError(), "column convolution launch");
    launch_transpose<T>(stream, cols.as<T>(), static_cast<T*>(a.out), B, d, L);
}

template <typename T, bool TC>
void run_typed(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a) {
    switch (log2_points(p)) {
        case 6: return run_sized<T, 6, false>(stream, p, a);
        case 7: return run_sized<T, 7, false>(stream, p, a);
        case 8: return run_sized<T, 8, false>(stream, p, a);
        case 9: return run_sized<T, 9, false>(stream, p, a);
        case 10: return run_sized<T, 10, false>(stream, p, a);
        case 11: return run_sized<T, 11, false>(stream, p, a);
        case 12: return run_sized<T, 12, false>(stream, p, a);
        case 13: return run_sized<T, 13, false>(stream, p, a);
        case 14: return run_sized<T, 14, TC>(stream, p, a);  // the tensor-core transform's size
        default: fail(CHELA_ERR_UNSUPPORTED, "short_long_conv (CUDA): on-chip FFT: sequence too long");
    }
}

}  // namespace

bool chip_fft_fits(int device, const cpu::ShortLongConvParams& p, int dtype) {
    const int lg = log2_points(p);
    if (lg > 14 || p.B > 65535 || p.d > 65535) return false;
    int optin = 0;
    if (cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) != cudaSuccess) {
        (void)cudaGetLastError();
        return false;
    }
    return column_smem_bytes(lg, p.L, dtype == CHELA_DTYPE_F32 ? 4 : 2) <= optin;
}

void run_chip_fft(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a, bool tensor_cores) {
    // f32 columns keep the fp32 passes: fp16 operands are far outside their 1e-5 bound.
    if (a.dtype == CHELA_DTYPE_BF16) {
        if (tensor_cores) run_typed<__nv_bfloat16, true>(stream, p, a);
        else run_typed<__nv_bfloat16, false>(stream, p, a);
    } else if (a.dtype == CHELA_DTYPE_F16) {
        if (tensor_cores) run_typed<__half, true>(stream, p, a);
        else run_typed<__half, false>(stream, p, a);
    } else {
        run_typed<float, false>(stream, p, a);
    }
}

}  // namespace chela::cuda::conv
