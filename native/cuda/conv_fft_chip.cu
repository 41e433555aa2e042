// On-chip FFT short-long convolution (second generation of the FFT path; conv_fft.cu is cuFFT).
//
// Why: the cuFFT path moves fp32 columns of length 2L through HBM about eight times (docs/gpu.md).
// Here one CTA owns one (batch row, channel) column and keeps its whole 2L-point spectrum in
// shared memory (fft_smem.cuh, N = 2L/2 complex points, up to 16384 -> 136 KB), so HBM sees the
// column read once and written once:
//   1. kernel_spectra: per channel, the padded long kernels (causal taps at 0..K-1, anti-causal
//      at 2N-1..2N-K+1) -> half spectrum H[0..N] in natural order, scaled by 1/(4N) so the
//      convolution needs no normalisation pass ([d, N + 1] float2).
//      B-independent: once per call.
//   2. transpose x [B,L,C] -> [B,C,L] (same dtype: exact), so that the columns are contiguous.
//   3. conv_columns: per (b, c): the x column staged in shared memory (16-byte copies);
//      A = SiLU(short conv) into the FFT buffer, eight samples per thread step; forward FFT;
//      Y = X * H with the real-signal packing both ways in one pass over the frequency pairs
//      (k, N-k); inverse FFT; SiLU(g + omega x) stored over the column in place by 16-byte stores.
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

// A batch of frequency pairs of one thread: slots sk = pad(pos(k)), sk2 = pad(pos(N-k mod N)),
// frequencies k and factors w = W^k, W = exp(-pi i / N).
template <int kCount_>
struct Pairs {
    static constexpr int kCount = kCount_;
    int sk[kCount], sk2[kCount], k[kCount];
    float2 w[kCount];
};

// Frequency pairs (k, N-k), k = 0 .. N/2, of the digit-reversed buffer, handed to visit in
// batches of up to kBatch (visit(const Pairs<n>&): a generic lambda) so that the visitor can issue
// all the batch's loads before its stores (in a pair at a time the compiler kept each pair's
// global and shared loads behind the previous pair's shared stores: 15 % of the stall samples,
// run 43). The pair formulas hold at k = 0 too (Z[N] = Z[0]; X[0] and X[N] come out as the two
// members), so no member needs a branch.
// Thread tid takes k = tid + S i (S = min(threads, N/2), i < N / 2S, unrolled), so each slot is
// one join of a per-thread term and a compile-time one (pad(pos(.)) per pair cost about twenty
// integer instructions): N - k = (S - tid) + (N - S (i+1)) with disjoint bits for tid >= 1.
// Thread 0 takes k = S i (partner N - S i, a constant) and last k = N/2, its own partner.
// No barriers inside.
template <class P, int kBatch, class Visit>
__device__ __forceinline__ void for_each_pair(Visit visit) {
    constexpr float kPi = 3.14159265358979f;
    constexpr int S = P::kThreads < P::N / 2 ? P::kThreads : P::N / 2, I = P::N / 2 / S;
    constexpr int kB = I < kBatch ? I : kBatch;
    static_assert(I % kB == 0, "whole batches");
    const int tid = static_cast<int>(threadIdx.x);
    if (tid >= S) return;
    auto slot = [](int k) { return P::pad(P::pos(k)); };
    const int own = slot(tid), mirror = slot(S - tid);  // mirror: for tid >= 1
    const float angle0 = -kPi / static_cast<float>(P::N) * static_cast<float>(tid);
#pragma unroll
    for (int i0 = 0; i0 < I; i0 += kB) {
        Pairs<kB> p;
#pragma unroll
        for (int j = 0; j < kB; ++j) {
            const int i = i0 + j;
            p.sk[j] = P::join(own, slot(S * i));
            p.sk2[j] = tid != 0 ? P::join(mirror, slot(P::N - S * (i + 1))) : slot((P::N - S * i) & (P::N - 1));
            p.k[j] = tid + S * i;
            // the angle is within [-pi/2, 0]: __sincosf is accurate to ~4e-7 there
            __sincosf(angle0 - kPi / static_cast<float>(P::N) * static_cast<float>(S * i), &p.w[j].y, &p.w[j].x);
        }
        visit(p);
    }
    if (tid == 0) {
        Pairs<1> p;
        p.sk[0] = p.sk2[0] = slot(P::N / 2);
        p.k[0] = P::N / 2;
        p.w[0] = make_float2(0.0f, -1.0f);
        visit(p);
    }
}

// Pairs per batch: four pairs' operands (64 registers with the spectrum) stay within the budget.
constexpr int kPairBatch = 4;

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

// Two neighbouring elements of a column as one vector, and their conversions.
template <typename T>
struct Pair;
template <> struct Pair<float> { using type = float2; };
template <> struct Pair<__nv_bfloat16> { using type = __nv_bfloat162; };
template <> struct Pair<__half> { using type = __half2; };
__device__ __forceinline__ float2 to_float2(float2 v) { return v; }
__device__ __forceinline__ float2 to_float2(__nv_bfloat162 v) { return __bfloat1622float2(v); }
__device__ __forceinline__ float2 to_float2(__half2 v) { return __half22float2(v); }
template <typename T2> __device__ __forceinline__ T2 from_float2(float2 v);
template <> __device__ __forceinline__ float2 from_float2(float2 v) { return v; }
template <> __device__ __forceinline__ __nv_bfloat162 from_float2(float2 v) { return __float22bfloat162_rn(v); }
template <> __device__ __forceinline__ __half2 from_float2(float2 v) { return __float22half2_rn(v); }

// Eight consecutive elements (aligned to 8 elements) as floats, and back: one or two 16-byte
// accesses, shared or global memory.
template <typename T>
__device__ __forceinline__ void load8(const T* p, float (&v)[8]) {
    using T2 = typename Pair<T>::type;
    constexpr int kVec = 16 / static_cast<int>(sizeof(T2));  // pairs per 16 bytes
#pragma unroll
    for (int q = 0; q < 4 / kVec; ++q) {
        const uint4 u = reinterpret_cast<const uint4*>(p)[q];
        const T2* pairs = reinterpret_cast<const T2*>(&u);
#pragma unroll
        for (int j = 0; j < kVec; ++j) {
            const float2 f = to_float2(pairs[j]);
            v[2 * (q * kVec + j)] = f.x;
            v[2 * (q * kVec + j) + 1] = f.y;
        }
    }
}
template <typename T>
__device__ __forceinline__ void store8(T* p, const float (&v)[8]) {
    using T2 = typename Pair<T>::type;
    constexpr int kVec = 16 / static_cast<int>(sizeof(T2));
#pragma unroll
    for (int q = 0; q < 4 / kVec; ++q) {
        uint4 u;
        T2* pairs = reinterpret_cast<T2*>(&u);
#pragma unroll
        for (int j = 0; j < kVec; ++j)
            pairs[j] = from_float2<T2>(make_float2(v[2 * (q * kVec + j)], v[2 * (q * kVec + j) + 1]));
        reinterpret_cast<uint4*>(p)[q] = u;
    }
}

// load8 for a tensor whose dtype is a run-time value (the weights), from element i.
__device__ __forceinline__ void load8_any(const void* p, int dtype, int64_t i, float (&v)[8]) {
    if (dtype == CHELA_DTYPE_BF16) load8(static_cast<const __nv_bfloat16*>(p) + i, v);
    else if (dtype == CHELA_DTYPE_F16) load8(static_cast<const __half*>(p) + i, v);
    else load8(static_cast<const float*>(p) + i, v);
}

// The maximum of v over the CTA's threads. Contains a barrier (which also orders the shared-memory
// writes before it): call from all threads.
template <int kThreads>
__device__ __forceinline__ float block_max(float v) {
    __shared__ float warp_max[kThreads / 32];
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    if (threadIdx.x % 32 == 0) warp_max[threadIdx.x / 32] = v;
    __syncthreads();
    float m = warp_max[0];
#pragma unroll
    for (int i = 1; i < kThreads / 32; ++i) m = fmaxf(m, warp_max[i]);
    return m;
}

// The tensor-core transform reads fp16 operands: a column is multiplied by `in` (|a| <= 1 after)
// as the first stage loads it and the result by `out`. Zeros stay zeros, non-finite data stays so.
struct ColumnScale {
    float in = 1.0f, out = 1.0f;
};
__device__ __forceinline__ ColumnScale column_scale(float amax) {
    if (!(amax > 0.0f) || !isfinite(amax)) return {};
    return {1.0f / amax, amax};
}

template <int LOG_N, bool TC>
__global__ void __launch_bounds__(Plan<LOG_N>::kThreads, 1)
    kernel_spectra(float2* __restrict__ spectra, const void* wl, int wl_dtype, const void* wr, int wr_dtype,
                   int64_t Lk, int K) {
    using P = std::conditional_t<TC, fft::PlanTc, Plan<LOG_N>>;
    extern __shared__ float2 sm[];  // the FFT buffer, then (TC) the transform's tables
    [[maybe_unused]] auto* tables = reinterpret_cast<fft::TcTables*>(sm + P::kSmemBytes / 8);
    if constexpr (TC) fft::fill_tables(tables);  // ordered before the transform by the barrier below
    const int64_t c = blockIdx.x;
    const int n2 = 2 * P::N;
    // The length-2N circular kernel h as packed real samples, eight per thread step: causal taps
    // at 0..K-1, anti-causal taps at 2N-1 .. 2N-K+1, zeros between. Whole causal chunks are one
    // or two 16-byte loads where aligned (run 41: element loads kept this kernel waiting on
    // memory, 226 us for 1024 channels), the rest element by element.
    const bool vec = Lk % 8 == 0 && (reinterpret_cast<uintptr_t>(wl) & 15) == 0;
    const int64_t row = c * Lk;
    float amax = 0.0f;
#pragma unroll 2
    for (int q = threadIdx.x; q < n2 / 8; q += blockDim.x) {
        const int m0 = 8 * q;
        float v[8];
        if (vec && m0 + 8 <= K) {
            load8_any(wl, wl_dtype, row + m0, v);
        } else {
#pragma unroll
            for (int o = 0; o < 8; ++o) {
                const int m = m0 + o;
                v[o] = 0.0f;
                if (m < K) v[o] = load_any(wl, wl_dtype, row + m);
                else if (wr != nullptr && m > n2 - K) v[o] = load_any(wr, wr_dtype, row + (n2 - m));
            }
        }
        const int s0 = P::pad(4 * q);  // packed points 4q .. 4q+3
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            sm[P::join(s0, j)] = make_float2(v[2 * j], v[2 * j + 1]);
            amax = fmaxf(amax, fmaxf(fabsf(v[2 * j]), fabsf(v[2 * j + 1])));
        }
    }
    float scale = 1.0f / (8.0f * static_cast<float>(P::N));  // 2X -> X / (4N)
    if constexpr (TC) {
        const ColumnScale cs = column_scale(block_max<P::kThreads>(amax));  // also the barrier
        // Undo the normalisation and the unitary scaling of this transform, and give the
        // columns' forward + inverse pair its gain here, once per channel instead of per pair.
        scale *= cs.out * P::kOneWayGain * P::gain();
        fft::forward_tc(sm, tables, cs.in);
    } else {
        __syncthreads();
        fft::forward<P>(sm);
    }
    float2* h = spectra + c * (P::N + 1);
    for_each_pair<P, kPairBatch>([&](const auto& p) {
        constexpr int n = std::decay_t<decltype(p)>::kCount;
        float2 zk[n], zk2[n];
#pragma unroll
        for (int j = 0; j < n; ++j) {
            zk[j] = sm[p.sk[j]];
            zk2[j] = sm[p.sk2[j]];
        }
#pragma unroll
        for (int j = 0; j < n; ++j) {
            float2 a, b;
            fft::real_spectrum_pair(zk[j], zk2[j], p.w[j], a, b);
            h[p.k[j]] = make_float2(a.x * scale, a.y * scale);
            h[P::N - p.k[j]] = make_float2(b.x * scale, b.y * scale);
        }
    });
}

// Dynamic shared memory of the kernels: the FFT buffer, with the tensor-core transform (tc) its
// tables, then (conv_columns) the column of L elements of elem_bytes each.
constexpr int64_t fft_smem_bytes(int log_n, bool tc) {
    return tc ? int64_t{fft::PlanTc::kSmemBytes} + int64_t{sizeof(fft::TcTables)} : fft::buffer_smem_bytes(log_n);
}
constexpr int64_t column_smem_bytes(int log_n, int64_t L, int64_t elem_bytes, bool tc) {
    return fft_smem_bytes(log_n, tc) + (L * elem_bytes + 15) / 16 * 16;
}

// The short conv reads x[t - back .. t + centre]. The staging by chunks of eight samples covers
// lags up to kReach either way (causal ks <= 4, centred ks <= 7) with a fixed window, so that
// every register index is a compile-time constant; longer short kernels take the element loop.
constexpr int kReach = 3;

// a[o] = bias + sum over lags d in [-DB, DF] of u[kReach + d] x[kReach + o + d], o < 8.
template <int DB, int DF>
__device__ __forceinline__ void short_conv8(const float (&x)[8 + 2 * kReach], const float (&u)[2 * kReach + 1],
                                            float bias, float (&a)[8]) {
#pragma unroll
    for (int o = 0; o < 8; ++o) {
        float s = bias;
#pragma unroll
        for (int d = -DB; d <= DF; ++d) s = fmaf(u[kReach + d], x[kReach + o + d], s);
        a[o] = s;
    }
}

// Step 3a: A = SiLU(short conv) of the staged column xs as packed real samples
// z[n] = (A[2n], A[2n+1]) into the FFT buffer, zero past L (the padding). Returns the largest |A|
// this thread wrote. w = the channel's ks taps (tap j reaches j - centre steps back).
template <class P, typename T>
__device__ __forceinline__ float stage_activations(float2* sm, const T* xs, int L, const float* w, float bias,
                                                   int ks, int centre) {
    const int back = ks - 1 - centre;
    float amax = 0.0f;
    if (L % 8 == 0 && back <= kReach && centre <= kReach) {
        // Chunks of eight samples from 16-byte loads: the chunk, and the neighbours for the halo.
        float u[2 * kReach + 1];  // u[kReach + d]: the weight of x[t + d]; tap j sits at d = centre - j
#pragma unroll
        for (int d = -kReach; d <= kReach; ++d) {
            const int j = centre - d;
            u[kReach + d] = j >= 0 && j < ks ? __ldg(w + j) : 0.0f;
        }
        const int chunks = L / 8;
        for (int m = threadIdx.x; m < chunks; m += blockDim.x) {
            float cur[8], prev[8], next[8];
            load8(xs + 8 * m, cur);
#pragma unroll
            for (int o = 0; o < 8; ++o) prev[o] = next[o] = 0.0f;
            if (m > 0) load8(xs + 8 * m - 8, prev);
            if (centre > 0 && m + 1 < chunks) load8(xs + 8 * m + 8, next);
            float x[8 + 2 * kReach];
#pragma unroll
            for (int o = 0; o < kReach; ++o) {
                x[o] = prev[8 - kReach + o];
                x[kReach + 8 + o] = next[o];
            }
#pragma unroll
            for (int o = 0; o < 8; ++o) x[kReach + o] = cur[o];
            float a[8];
            if (centre != 0) short_conv8<kReach, kReach>(x, u, bias, a);
            else if (back <= 2) short_conv8<2, 0>(x, u, bias, a);  // the default ks = 3
            else short_conv8<kReach, 0>(x, u, bias, a);
            const int s0 = P::pad(4 * m);  // points 4m .. 4m+3: slots join(s0, j)
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                const float2 z = make_float2(silu(a[2 * j]), silu(a[2 * j + 1]));
                sm[P::join(s0, j)] = z;
                amax = fmaxf(amax, fmaxf(fabsf(z.x), fabsf(z.y)));
            }
        }
        // The padding, points L/2 .. N-1: whole groups of 16 points (L a multiple of 32) fill a
        // contiguous range of slots, zeroed without computing pad per point: PlanTc's pad permutes
        // within a group (slots L/2 .. N-1); Plan's runs from pad(L/2) to pad(N-1), its one pad
        // slot per group in between never read.
        if ((L / 2) % 16 == 0) {
            constexpr bool kTc = std::is_same_v<P, fft::PlanTc>;
            const int first = kTc ? L / 2 : P::pad(L / 2), last = kTc ? P::N - 1 : P::pad(P::N - 1);
            for (int e = first + static_cast<int>(threadIdx.x); e <= last; e += blockDim.x) sm[e] = make_float2(0.0f, 0.0f);
        } else {
            for (int n = L / 2 + static_cast<int>(threadIdx.x); n < P::N; n += blockDim.x) sm[P::pad(n)] = make_float2(0.0f, 0.0f);
        }
        return amax;
    }
    // Any length and short kernel: element by element, taps outside [0, L) checked near the ends.
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
    return amax;
}

// Step 3c: out = SiLU(g * unscale + omega x) from the transformed buffer and the staged column,
// into the column in global memory. With L a multiple of 8, straight from registers by 16-byte
// stores; otherwise through the staged column and one coalesced copy. Contains barriers (the
// element path): call from all threads.
template <class P, typename T>
__device__ __forceinline__ void write_output(const float2* sm, T* xs, T* col, int L, float unscale, float om) {
    if (L % 8 == 0) {
        for (int m = threadIdx.x; m < L / 8; m += blockDim.x) {
            float x[8], y[8];
            load8(xs + 8 * m, x);
            const int s0 = P::pad(4 * m);
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                const float2 g = sm[P::join(s0, j)];
                y[2 * j] = silu(fmaf(g.x, unscale, om * x[2 * j]));
                y[2 * j + 1] = silu(fmaf(g.y, unscale, om * x[2 * j + 1]));
            }
            store8(col + 8 * m, y);
        }
        return;
    }
    for (int n = threadIdx.x; 2 * n < L; n += blockDim.x) {
        const float2 g = sm[P::pad(n)];
        const int t = 2 * n;
        store_f(xs + t, silu(g.x * unscale + om * load_f(xs + t)));
        if (t + 1 < L) store_f(xs + t + 1, silu(g.y * unscale + om * load_f(xs + t + 1)));
    }
    __syncthreads();
    copy_column(col, xs, L);
}

// TC: the transforms on the tensor cores (fft_smem_tc.cuh: N = 16384 only; bf16/f16 columns). The
// column's activations are then scaled to at most 1 in magnitude as the transform reads them
// (fp16 operands keep their range whatever the model's activations) and the result scaled back.
template <typename T, int LOG_N, bool TC>
__global__ void __launch_bounds__(Plan<LOG_N>::kThreads, 1)
    conv_columns(T* cols, const float2* __restrict__ spectra, const float* __restrict__ ws,
                 const float* __restrict__ bs, const float* __restrict__ omega, int L, int d, int ks, int centre) {
    static_assert(!TC || LOG_N == fft::PlanTc::LOG_N, "the tensor-core transform is for N = 16384");
    using P = std::conditional_t<TC, fft::PlanTc, Plan<LOG_N>>;
    extern __shared__ float2 sm[];  // the FFT buffer, (TC) the transform's tables, the column
    [[maybe_unused]] auto* tables = reinterpret_cast<fft::TcTables*>(sm + P::kSmemBytes / 8);
    T* xs = reinterpret_cast<T*>(sm + fft_smem_bytes(LOG_N, TC) / 8);
    if constexpr (TC) fft::fill_tables(tables);  // ordered before the transform by block_max's barrier
    const int b = blockIdx.x, c = blockIdx.y;
    T* col = cols + (static_cast<int64_t>(b) * d + c) * L;
    copy_column(xs, col, L);
    __syncthreads();
    const float amax = stage_activations<P>(sm, xs, L, ws + static_cast<int64_t>(c) * ks, bs[c], ks, centre);
    float unscale = 1.0f;  // what the transformed column is multiplied by afterwards
    if constexpr (TC) {
        const ColumnScale cs = column_scale(block_max<P::kThreads>(amax));  // also the barrier
        unscale = cs.out;
        fft::forward_tc(sm, tables, cs.in);
    } else {
        __syncthreads();
        fft::forward<P>(sm);
    }
    // Y = X .* H per frequency pair (the spectra carry every scale factor but the column's).
    const float2* h = spectra + static_cast<int64_t>(c) * (P::N + 1);
    for_each_pair<P, kPairBatch>([&](const auto& p) {
        constexpr int n = std::decay_t<decltype(p)>::kCount;
        float2 zk[n], zk2[n], hk[n], hk2[n];
#pragma unroll
        for (int j = 0; j < n; ++j) {  // all loads first: the batch's pairs are distinct slots
            zk[j] = sm[p.sk[j]];
            zk2[j] = sm[p.sk2[j]];
            hk[j] = h[p.k[j]];
            hk2[j] = h[P::N - p.k[j]];
        }
#pragma unroll
        for (int j = 0; j < n; ++j) {
            fft::real_pair_product(zk[j], zk2[j], hk[j], hk2[j], p.w[j]);
            sm[p.sk[j]] = zk[j];
            sm[p.sk2[j]] = zk2[j];
        }
    });
    __syncthreads();
    if constexpr (TC) fft::inverse_tc(sm, tables);
    else fft::inverse<P>(sm);
    write_output<P>(sm, xs, col, L, unscale, omega[c]);
}

// [B, R, Cc] -> [B, Cc, R] through a 64 x 64 shared tile, 32 x 8 threads; each thread moves two
// neighbouring elements per row, as one 2-element vector where the row is aligned for it (a warp
// then reads and writes 64 consecutive elements: full 128-byte lines at 2-byte types).
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
    const int spectra_smem = static_cast<int>(fft_smem_bytes(LOG_N, TC));
    check(cudaFuncSetAttribute(kernel_spectra<LOG_N, TC>, cudaFuncAttributeMaxDynamicSharedMemorySize, spectra_smem),
          "shared memory opt-in");
    const int col_smem = static_cast<int>(column_smem_bytes(LOG_N, L, sizeof(T), TC));
    check(cudaFuncSetAttribute(conv_columns<T, LOG_N, TC>, cudaFuncAttributeMaxDynamicSharedMemorySize, col_smem),
          "shared memory opt-in");
    DeviceBuffer spectra(sizeof(float2) * d * (P::N + 1), stream, "short_long_conv (CUDA): kernel spectra");
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
    // The larger of the two layouts (bf16/f16 at N = 16384 take the tensor-core one by default).
    const int64_t elem = dtype == CHELA_DTYPE_F32 ? 4 : 2;
    return std::max(column_smem_bytes(lg, p.L, elem, false), column_smem_bytes(lg, p.L, elem, lg == 14 && elem == 2)) <= optin;
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
