// Device helpers shared by the on-chip FFT convolutions (conv_fft_chip.cu: one CTA per column;
// conv_fft_cluster.cu: a cluster of CTAs per column): vector accesses of column chunks, the
// frequency-pair walk, the column scale of the tensor-core transform, the chunked short conv and
// the [B,L,C] <-> [B,C,L] transposes. Internal to native/cuda.
#pragma once

#include "conv_common.cuh"
#include "env_switch.h"
#include "fft_smem.cuh"

#include <algorithm>
#include <cstdint>
#include <optional>

namespace chela::cuda::conv {

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

// The half spectrum at a batch of pairs of the transformed buffer: a = 2X[k], b = 2X[N-k]
// (real_spectrum_pair of the slots' members). All the batch's loads first.
template <class Pairs>
__device__ __forceinline__ void unpack_pairs(const float2* sm, const Pairs& p, float2 (&a)[Pairs::kCount],
                                             float2 (&b)[Pairs::kCount]) {
    float2 zk[Pairs::kCount], zk2[Pairs::kCount];
#pragma unroll
    for (int e = 0; e < Pairs::kCount; ++e) {
        zk[e] = sm[p.sk[e]];
        zk2[e] = sm[p.sk2[e]];
    }
#pragma unroll
    for (int e = 0; e < Pairs::kCount; ++e) fft::real_spectrum_pair(zk[e], zk2[e], p.w[e], a[e], b[e]);
}

// Eight real samples v (chunk m) as the packed points 4m .. 4m+3 into the buffer's slots (P's
// layout). Returns the largest |v|.
template <class P>
__device__ __forceinline__ float put_chunk(float2* sm, int m, const float (&v)[8]) {
    const int s0 = P::pad(4 * m);
    float amax = 0.0f;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
        sm[P::join(s0, j)] = make_float2(v[2 * j], v[2 * j + 1]);
        amax = fmaxf(amax, fmaxf(fabsf(v[2 * j]), fabsf(v[2 * j + 1])));
    }
    return amax;
}

// The kernel spectra a call reads: the caller's cached ones (a.spectra), else a stream-ordered
// buffer of `bytes` that compute(dst) fills for this call only (both on-chip paths).
class CallSpectra {
public:
    template <class Compute>
    CallSpectra(const ConvArgs& a, int64_t bytes, cudaStream_t stream, Compute compute)
        : p_(static_cast<const float2*>(a.spectra)) {
        if (p_ != nullptr) return;
        own_.emplace(static_cast<size_t>(bytes), stream, "short_long_conv (CUDA): kernel spectra");
        compute(own_->as<float2>());
        p_ = own_->as<float2>();
    }
    const float2* get() const { return p_; }

private:
    std::optional<DeviceBuffer> own_;
    const float2* p_;
};

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

// The same copy issued asynchronously (cp.async, 16 bytes per request, through L2 only) and
// committed as one group, for a column a later step uses: copy_column_wait() before reading it.
// n * sizeof(T) a multiple of 16 and both ends 16-byte aligned (the caller checks).
template <typename T>
__device__ __forceinline__ void copy_column_async(T* dst, const T* src, int n) {
    constexpr int kPer = 16 / sizeof(T);
    for (int i = threadIdx.x; i < n / kPer; i += blockDim.x) {
        const auto s = static_cast<uint32_t>(__cvta_generic_to_shared(dst + kPer * i));
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(src + kPer * i) : "memory");
    }
    asm volatile("cp.async.commit_group;\n" ::: "memory");
}
__device__ __forceinline__ void copy_column_wait() { asm volatile("cp.async.wait_all;\n" ::: "memory"); }

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

// The channels' long kernels as the spectrum steps read them: causal taps wl [d, Lk] (lag s >= 0 is
// wl[s]), anti-causal taps wr (null: causal; lag -s is wr[s]), K = min(Lk, L) taps used.
struct LongTaps {
    const void* wl = nullptr;
    int wl_dtype = 0;
    const void* wr = nullptr;
    int wr_dtype = 0;
    int64_t Lk = 0;
    int K = 0;
};

inline LongTaps long_taps(const cpu::ShortLongConvParams& p, const ConvArgs& a) {
    return {a.long_w, a.long_dtype, a.long_w_rev, a.long_rev_dtype, p.Lk, static_cast<int>(std::min(p.Lk, p.L))};
}

// Eight samples m0 .. m0+7 of a channel's length-n circular long kernel h (row: the channel's
// first tap): causal taps at 0..K-1, anti-causal taps (wr, may be null) at n-1 .. n-K+1, zeros
// between. Whole causal chunks are one or two 16-byte loads where `vec` (aligned rows; run 41:
// element loads kept the spectra waiting on memory), the rest element by element.
__device__ __forceinline__ void kernel_taps8(const void* wl, int wl_dtype, const void* wr, int wr_dtype, int64_t row,
                                             int m0, int K, int n, bool vec, float (&v)[8]) {
    if (vec && m0 + 8 <= K) {
        load8_any(wl, wl_dtype, row + m0, v);
        return;
    }
#pragma unroll
    for (int o = 0; o < 8; ++o) {
        const int m = m0 + o;
        v[o] = 0.0f;
        if (m < K) v[o] = load_any(wl, wl_dtype, row + m);
        else if (wr != nullptr && m > n - K) v[o] = load_any(wr, wr_dtype, row + (n - m));
    }
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
// `in` stops at 2^100: 1/amax of a column of denormals (a long kernel decayed to 1e-40 in its later
// partitions, conv_fft_blocks.cu) is infinite in f32, and inf x 0 made the whole column NaN (run 75);
// values that small round to zero in fp16 either way.
struct ColumnScale {
    float in = 1.0f, out = 1.0f;
};
__device__ __forceinline__ ColumnScale column_scale(float amax) {
    if (!(amax > 0.0f) || !isfinite(amax)) return {};
    constexpr float kMaxIn = 1.2676506e30f;  // 2^100
    if (amax < 1.0f / kMaxIn) return {kMaxIn, 1.0f / kMaxIn};
    return {1.0f / amax, amax};
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

// The short conv's taps for the chunked staging: u[kReach + d] is the weight of x[t + d] (tap j
// sits at d = centre - j); usable when back = ks - 1 - centre and centre are both <= kReach.
struct ShortTaps {
    float u[2 * kReach + 1];
    float bias;
    int centre, back;
    __device__ __forceinline__ ShortTaps(const float* w, int ks, int centre_, float bias_)
        : bias(bias_), centre(centre_), back(ks - 1 - centre_) {
#pragma unroll
        for (int d = -kReach; d <= kReach; ++d) {
            const int j = centre - d;
            u[kReach + d] = j >= 0 && j < ks ? __ldg(w + j) : 0.0f;
        }
    }
    static bool fits(int ks, int centre) { return ks - 1 - centre <= kReach && centre <= kReach; }
};

// a = SiLU(short conv) at the eight samples cur, with the chunks either side (prev, next) as halo.
__device__ __forceinline__ void short_conv_silu8(const float (&prev)[8], const float (&cur)[8], const float (&next)[8],
                                                 const ShortTaps& taps, float (&a)[8]) {
    float v[8 + 2 * kReach];
#pragma unroll
    for (int o = 0; o < kReach; ++o) {
        v[o] = prev[8 - kReach + o];
        v[kReach + 8 + o] = next[o];
    }
#pragma unroll
    for (int o = 0; o < 8; ++o) v[kReach + o] = cur[o];
    if (taps.centre != 0) short_conv8<kReach, kReach>(v, taps.u, taps.bias, a);
    else if (taps.back <= 2) short_conv8<2, 0>(v, taps.u, taps.bias, a);  // the default ks = 3
    else short_conv8<kReach, 0>(v, taps.u, taps.bias, a);
#pragma unroll
    for (int o = 0; o < 8; ++o) a[o] = silu(a[o]);
}

// The same at chunk m (of `chunks`) of the column x (shared or global memory, 16-byte aligned
// chunks), zero halo past the column's ends.
template <typename T>
__device__ __forceinline__ void chunk_activations(const T* x, int m, int chunks, const ShortTaps& taps, float (&a)[8]) {
    float cur[8], prev[8], next[8];
    load8(x + 8 * m, cur);
#pragma unroll
    for (int o = 0; o < 8; ++o) prev[o] = next[o] = 0.0f;
    if (m > 0) load8(x + 8 * m - 8, prev);
    if (taps.centre > 0 && m + 1 < chunks) load8(x + 8 * m + 8, next);
    short_conv_silu8(prev, cur, next, taps, a);
}

// SiLU(g * scale + omega x) of the eight samples of chunk m from the transformed buffer (points
// 4m .. 4m+3 at slots join(pad(4m), e)) and x.
template <class P>
__device__ __forceinline__ void output_chunk(const float2* sm, int m, const float (&x)[8], float scale, float om,
                                             float (&y)[8]) {
    const int s0 = P::pad(4 * m);
#pragma unroll
    for (int e = 0; e < 4; ++e) {
        const float2 g = sm[P::join(s0, e)];
        y[2 * e] = silu(fmaf(g.x, scale, om * x[2 * e]));
        y[2 * e + 1] = silu(fmaf(g.y, scale, om * x[2 * e + 1]));
    }
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

// The same for 2-byte types where R is a multiple of 32 RPT rows and Cc of 64 (16-byte aligned
// rows): a tile of 32 RPT rows x 64 columns, 256 threads, every global access 16 bytes (a warp
// moves 4 rows x 128 bytes). The shared tile holds the 64 columns as rows of 32 RPT elements, the
// 16-byte chunk index XOR-swizzled by the column's group of eight, so the transposing 2-byte stores
// and the 16-byte reads are free of bank conflicts. At B4 L16384 C1024 bf16 (H200, run 58,
// tools/device/transpose_probe.cu) 68-69 us a direction against the generic kernel's 72 and a
// cudaMemcpy of the same bytes' 66.
template <typename T, int RPT>
__global__ void __launch_bounds__(256) transpose16(const T* __restrict__ in, T* __restrict__ out, int64_t R, int64_t Cc) {
    static_assert(sizeof(T) == 2, "16-byte vectors of eight elements");
    constexpr int kRows = 32 * RPT, kChunks = kRows / 8;
    static_assert(kChunks >= 8, "the swizzle XORs the chunk index with a column group below 8");
    __shared__ __align__(16) T tile[64][kRows];
    const int t = static_cast<int>(threadIdx.x), seg = t % 8, sub = t / 8;
    const int64_t r0 = int64_t(blockIdx.x) * kRows, c0 = int64_t(blockIdx.y) * 64, b = blockIdx.z;
    const T* src = in + b * R * Cc;
    T* dst = out + b * R * Cc;
    uint4 v[RPT];  // all loads in flight before the first shared store
#pragma unroll
    for (int k = 0; k < RPT; ++k) v[k] = *reinterpret_cast<const uint4*>(src + (r0 + sub + 32 * k) * Cc + c0 + 8 * seg);
#pragma unroll
    for (int k = 0; k < RPT; ++k) {
        const int r = sub + 32 * k;
        const T* e = reinterpret_cast<const T*>(&v[k]);
#pragma unroll
        for (int j = 0; j < 8; ++j) {
            const int c = 8 * seg + j;
            tile[c][((r / 8) ^ (c / 8)) * 8 + r % 8] = e[j];
        }
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < 64 * kChunks / 256; ++k) {
        const int i = t + 256 * k, c = i / kChunks, q = i % kChunks;
        *reinterpret_cast<uint4*>(dst + (c0 + c) * R + r0 + 8 * q) =
            *reinterpret_cast<const uint4*>(&tile[c][(q ^ (c / 8)) * 8]);
    }
}

template <typename T>
void launch_transpose(cudaStream_t stream, const T* in, T* out, int64_t B, int64_t R, int64_t Cc) {
    if constexpr (sizeof(T) == 2) {
        constexpr int kRpt = 2;  // 64 x 64 tiles (128 x 64 measured the same)
        const bool aligned = ((reinterpret_cast<uintptr_t>(in) | reinterpret_cast<uintptr_t>(out)) & 15) == 0;
        if (aligned && R % (32 * kRpt) == 0 && Cc % 64 == 0) {
            const dim3 grid(static_cast<unsigned>(R / (32 * kRpt)), static_cast<unsigned>(Cc / 64), static_cast<unsigned>(B));
            transpose16<T, kRpt><<<grid, 256, 0, stream>>>(in, out, R, Cc);
            check(cudaGetLastError(), "transpose launch");
            return;
        }
    }
    const dim3 grid(static_cast<unsigned>((R + 63) / 64), static_cast<unsigned>((Cc + 63) / 64), static_cast<unsigned>(B));
    transpose<T><<<grid, dim3(32, 8), 0, stream>>>(in, out, R, Cc);
    check(cudaGetLastError(), "transpose launch");
}

// The device's opt-in shared memory per CTA, and how many CTAs of `kernel` with `smem` bytes fit
// on it at once (one wave of a persistent launch).
inline int optin_smem() {
    int device = 0, optin = 0;
    check(cudaGetDevice(&device), "cudaGetDevice");
    check(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device), "device attribute");
    return optin;
}
// CHELA_CUDA_CONV_CTAS (read per call; unset or 0: no cap) caps it, so that the tests make a few
// CTAs walk many columns on small shapes (the sanitizer's) and A/B runs can vary the grid.
template <class Kernel>
int64_t resident_ctas(Kernel kernel, int threads, int64_t smem) {
    int device = 0, sms = 0, per_sm = 0;
    check(cudaGetDevice(&device), "cudaGetDevice");
    check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), "device attribute");
    check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads, static_cast<size_t>(smem)),
          "occupancy");
    const int64_t fit = int64_t{std::max(per_sm, 1)} * sms, cap = env_count("CHELA_CUDA_CONV_CTAS", 0);
    return cap > 0 ? std::min(fit, cap) : fit;
}

// The [B, d, L] columns an on-chip column kernel reads (x) and writes (out): the call's own tensors
// when they are channel-major, else one stream-ordered buffer that x is transposed into before the
// kernel (which then works in place) and that finish() transposes into the call's [B, L, d] out.
// The column kernels move 16-byte vectors: channel-major tensors that do not start on 16 bytes (a
// caller's view into the middle of a buffer) are copied into the aligned buffer and back instead.
template <typename T>
class ColumnsIo {
public:
    ColumnsIo(const ConvArgs& a, int64_t B, int64_t L, int64_t d, cudaStream_t stream)
        : x(static_cast<const T*>(a.x)), out(static_cast<T*>(a.out)), B_(B), L_(L), d_(d), dst_(out),
          copy_(a.channels_major) {
        if (a.channels_major && ((reinterpret_cast<uintptr_t>(a.x) | reinterpret_cast<uintptr_t>(a.out)) & 15) == 0)
            return;
        buf_.emplace(bytes(), stream, "short_long_conv (CUDA): column buffer");
        if (copy_) check(cudaMemcpyAsync(buf_->as<T>(), x, bytes(), cudaMemcpyDeviceToDevice, stream), "column copy");
        else launch_transpose<T>(stream, x, buf_->as<T>(), B, L, d);
        x = out = buf_->as<T>();
    }
    void finish(cudaStream_t stream) const {
        if (!buf_) return;
        if (copy_) check(cudaMemcpyAsync(dst_, buf_->as<T>(), bytes(), cudaMemcpyDeviceToDevice, stream), "column copy");
        else launch_transpose<T>(stream, buf_->as<T>(), dst_, B_, d_, L_);
    }

    const T* x;
    T* out;

private:
    size_t bytes() const { return sizeof(T) * static_cast<size_t>(B_ * L_ * d_); }
    int64_t B_, L_, d_;
    T* const dst_;     // the call's out (`out` points at the column buffer when there is one)
    const bool copy_;  // channel-major through the buffer: plain copies, no transposes
    std::optional<DeviceBuffer> buf_;
};

inline int log2_points(const cpu::ShortLongConvParams& p) {
    const int64_t K = std::min(p.Lk, p.L), want = (p.L + K) / 2;  // 2N >= L + K - 1
    int lg = 6;
    while ((int64_t{1} << lg) < want) ++lg;
    return lg;
}

}  // namespace chela::cuda::conv
