// A complex FFT of N = 2^LOG_N points (64 <= N <= 16384) held by one CTA in shared memory, fp32.
// Building blocks for the on-chip FFT convolution (conv_fft_chip.cu); internal to native/cuda.
//
// Algorithm: mixed-radix Cooley-Tukey in place, N = R0 * R1 * R2 * R3 with radix 16 as far as N
// allows (the last pass takes the rest): each pass a radix-R DFT in registers (radix-2 stages
// with compile-time twiddles) per group of R elements at stride S, then the inter-pass twiddles.
//  - The forward transform is decimation in frequency: natural order in, digit-reversed order out
//    (frequency k sits at position pos(k)). The inverse is the exact adjoint (conjugate twiddles,
//    passes in reverse): digit-reversed in, natural out, unnormalised. A convolution multiplies in
//    the permuted order and never pays for a reordering pass.
//  - Data enter and leave through shared memory: the kernels stage their columns there with
//    coalesced 16-byte copies first (generating the inputs inside the first pass from global
//    memory made every thread wait on 32 dependent loads: run 17, 2.8 ms per call).
//  - Shared memory holds N float2 plus one pad element per 16 (pad(e) = e + e/16): with 8-byte
//    accesses a half-warp touches 16 distinct words mod 16 in every pass at N = 16384 (strides
//    1024, 64, 4, 1), so the passes are free of bank conflicts.
//  - Twiddles: W_M^(lo*j) from two __sincosf per group (W^lo and W^(8 lo)) and products (at
//    most 4 roundings per factor); the fp32 transform is then accurate to about 1e-6 relative.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <utility>

namespace chela::cuda::fft {

__device__ __forceinline__ float2 cadd(float2 a, float2 b) { return make_float2(a.x + b.x, a.y + b.y); }
__device__ __forceinline__ float2 csub(float2 a, float2 b) { return make_float2(a.x - b.x, a.y - b.y); }
__device__ __forceinline__ float2 cmul(float2 a, float2 b) {
    return make_float2(fmaf(a.x, b.x, -a.y * b.y), fmaf(a.x, b.y, a.y * b.x));
}
__device__ __forceinline__ float2 conj(float2 a) { return make_float2(a.x, -a.y); }

// Shared memory of an N = 2^log_n point buffer: N float2 plus one pad element per 16.
constexpr int64_t buffer_smem_bytes(int log_n) {
    return ((int64_t{1} << log_n) + (int64_t{1} << log_n) / 16) * 8;
}

template <int LOG_N>
struct Plan {
    static_assert(LOG_N >= 6 && LOG_N <= 14, "one-CTA FFT sizes: 64 .. 16384 points");
    static constexpr int N = 1 << LOG_N;
    // Radix-16 passes (the last one takes the rest: 16384 = 16 * 16 * 16 * 4). Radix 32 in three
    // passes needed 175 registers, so only 256 threads (8 warps) fitted and the SM sat waiting on
    // latencies (run 19); radix 16 leaves room for 512 threads at the same instruction count.
    static constexpr int L0 = 4;
    static constexpr int L1 = LOG_N - 4 >= 4 ? 4 : LOG_N - 4;
    static constexpr int L2 = LOG_N - L0 - L1 >= 4 ? 4 : LOG_N - L0 - L1;
    static constexpr int L3 = LOG_N - L0 - L1 - L2;  // 0 .. 2
    static constexpr int R0 = 1 << L0, R1 = 1 << L1, R2 = 1 << L2, R3 = 1 << L3;
    static constexpr int S0 = R1 * R2 * R3, S1 = R2 * R3, S2 = R3;
    static constexpr int kThreads = N / 16 < 64 ? 64 : (N / 16 > 512 ? 512 : N / 16);
    static constexpr int kSmemBytes = static_cast<int>(buffer_smem_bytes(LOG_N));

    __device__ __forceinline__ static int pad(int e) { return e + (e >> 4); }
    // pad(a | b) = pad(a) + pad(b) for a, b with disjoint bits (they stay disjoint when shifted), and
    // pos permutes bits, so pad(pos(a | b)) = join(pad(pos(a)), pad(pos(b))) (PlanTc: XOR).
    __device__ __forceinline__ static int join(int a, int b) { return a + b; }
    // Position of frequency k after the forward passes: the radix digits of k in reverse order.
    __device__ __forceinline__ static int pos(int k) {
        const int d0 = k & (R0 - 1), d1 = (k >> L0) & (R1 - 1), d2 = (k >> (L0 + L1)) & (R2 - 1),
                  d3 = k >> (L0 + L1 + L2);
        return (d0 << (L1 + L2 + L3)) | (d1 << (L2 + L3)) | (d2 << L3) | d3;
    }
};

// cos and sin of 2 pi m / 32 for m < 16. A switch, not a table: m is a compile-time constant once
// the callers' loops are unrolled, and a switch folds into immediates where an array would be
// placed in local memory before unrolling.
__device__ __forceinline__ float cos32(int m) {
    // Not recursive: a recursive helper is not inlined, and the calls stayed in the DFTs (run 18).
    switch (m) {
        case 0: return 1.0f;
        case 1: return 9.807852804e-01f;
        case 2: return 9.238795325e-01f;
        case 3: return 8.314696123e-01f;
        case 4: return 7.071067812e-01f;
        case 5: return 5.555702330e-01f;
        case 6: return 3.826834324e-01f;
        case 7: return 1.950903220e-01f;
        case 8: return 0.0f;
        case 9: return -1.950903220e-01f;
        case 10: return -3.826834324e-01f;
        case 11: return -5.555702330e-01f;
        case 12: return -7.071067812e-01f;
        case 13: return -8.314696123e-01f;
        case 14: return -9.238795325e-01f;
        default: return -9.807852804e-01f;  // 15
    }
}
__device__ __forceinline__ float sin32(int m) { return m <= 8 ? cos32(8 - m) : cos32(m - 8); }

// d * W_32^m (forward, W = exp(-2 pi i / 32)) or d * conj(W_32^m) (inverse).
template <bool INV>
__device__ __forceinline__ float2 rotate32(float2 d, int m) {
    if (m == 0) return d;
    if (m == 8) return INV ? make_float2(-d.y, d.x) : make_float2(d.y, -d.x);
    const float c = cos32(m), s = sin32(m);
    if (INV) return make_float2(d.x * c - d.y * s, d.y * c + d.x * s);
    return make_float2(d.x * c + d.y * s, d.y * c - d.x * s);
}

__host__ __device__ constexpr int bit_reverse(int k, int bits) {
    int r = 0;
    for (int b = 0; b < bits; ++b) r = (r << 1) | ((k >> b) & 1);
    return r;
}
__host__ __device__ constexpr int log2_of(int r) { return r <= 1 ? 0 : 1 + log2_of(r / 2); }

// v <- v[bit_reverse(k)], with every index a constant expression (no local memory).
template <int R, int... K>
__device__ __forceinline__ void bit_reverse_permute(float2 (&v)[R], std::integer_sequence<int, K...>) {
    const float2 t[R] = {v[bit_reverse(K, log2_of(R))]...};
#pragma unroll
    for (int k = 0; k < R; ++k) v[k] = t[k];
}

// One radix-2 decimation-in-frequency stage of half-width H, then the next (H / 2). A template per
// stage keeps every loop bound a constant, so all loops unroll and v stays in registers (loops
// over h = R/2, R/4, ... did not unroll, which put v in local memory).
template <int R, bool INV, int H>
__device__ __forceinline__ void dif_stages(float2 (&v)[R]) {
    if constexpr (H >= 1) {
#pragma unroll
        for (int blk = 0; blk < R; blk += 2 * H) {
#pragma unroll
            for (int i = 0; i < H; ++i) {
                const float2 a = v[blk + i], b = v[blk + i + H];
                v[blk + i] = cadd(a, b);
                v[blk + i + H] = rotate32<INV>(csub(a, b), i * (16 / H));
            }
        }
        dif_stages<R, INV, H / 2>(v);
    }
}

// In-register DFT of R <= 32 points, natural order in and out (forward: exp(-2 pi i jk / R)).
template <int R, bool INV>
__device__ __forceinline__ void dft(float2 (&v)[R]) {
    dif_stages<R, INV, R / 2>(v);
    // Radix-2 decimation in frequency leaves X[k] at the bit reversal of k.
    bit_reverse_permute(v, std::make_integer_sequence<int, R>{});
}

// v[j] *= W_M^(lo*j) (forward) or its conjugate (inverse), W_M = exp(-2 pi i / M).
template <int R, bool INV>
__device__ __forceinline__ void twiddle(float2 (&v)[R], int lo, int M) {
    if (R == 1) return;
    // Angles stay within half a turn (lo < M / R, so |8 a| <= pi / 2): the MUFU-based __sincosf
    // is accurate to ~4e-7 there, and costs two instructions instead of sincospif's ~40.
    constexpr float kPi = 3.14159265358979f;
    const float a = (INV ? 2.0f : -2.0f) * kPi * static_cast<float>(lo) / static_cast<float>(M);
    float2 w1, w8;
    __sincosf(a, &w1.y, &w1.x);
    __sincosf(8.0f * a, &w8.y, &w8.x);
    float2 p[8];  // w1^0 .. w1^7
    p[0] = make_float2(1.0f, 0.0f);
#pragma unroll
    for (int j = 1; j < 8 && j < R; ++j) p[j] = cmul(p[j - 1], w1);
    float2 q = make_float2(1.0f, 0.0f);  // w8^(j / 8)
#pragma unroll
    for (int j = 0; j < R; ++j) {
        if (j > 0 && j % 8 == 0) q = j == 8 ? w8 : cmul(q, w8);
        if (j > 0) v[j] = cmul(v[j], j < 8 ? p[j] : cmul(q, p[j % 8]));
    }
}

// One pass of radix 2^LR at stride S over the whole buffer, in place in shared memory.
template <class P, int LR, int S, bool INV>
__device__ __forceinline__ void smem_pass(float2* sm) {
    constexpr int R = 1 << LR, M = R * S, G = P::N / R;
    // Groups per thread, a compile-time count (blockDim.x == P::kThreads): unrolled so that the
    // shared-memory loads of several groups are in flight together (one CTA per SM has no other
    // warps to hide that latency; ncu, run 21: short-scoreboard stalls were 37 % of cycles).
    constexpr int kIters = (G + P::kThreads - 1) / P::kThreads;
    constexpr int kUnroll = R * kIters <= 32 ? kIters : (32 / R > 0 ? 32 / R : 1);
    if constexpr (R > 1) {
#pragma unroll kUnroll
        for (int it = 0; it < kIters; ++it) {
            const int g = it * P::kThreads + static_cast<int>(threadIdx.x);
            if (G % P::kThreads != 0 && g >= G) break;
            const int lo = g & (S - 1), base = (g / S) * M + lo;
            float2 v[R];
#pragma unroll
            for (int j = 0; j < R; ++j) v[j] = sm[P::pad(base + j * S)];
            if (!INV) {
                dft<R, false>(v);
                if (S > 1) twiddle<R, false>(v, lo, M);
            } else {
                if (S > 1) twiddle<R, true>(v, lo, M);
                dft<R, true>(v);
            }
#pragma unroll
            for (int j = 0; j < R; ++j) sm[P::pad(base + j * S)] = v[j];
        }
        __syncthreads();
    }
}

// Forward transform of the N points in sm (natural order, padded layout) into the digit-reversed
// spectrum, in place. Callers fill sm and sync first; ends with a barrier.
template <class P>
__device__ __forceinline__ void forward(float2* sm) {
    smem_pass<P, P::L0, P::S0, false>(sm);
    smem_pass<P, P::L1, P::S1, false>(sm);
    smem_pass<P, P::L2, P::S2, false>(sm);
    smem_pass<P, P::L3, 1, false>(sm);
}

// Inverse transform (unnormalised) of the digit-reversed spectrum in sm into natural order, in
// place. Ends with a barrier.
template <class P>
__device__ __forceinline__ void inverse(float2* sm) {
    smem_pass<P, P::L3, 1, true>(sm);
    smem_pass<P, P::L2, P::S2, true>(sm);
    smem_pass<P, P::L1, P::S1, true>(sm);
    smem_pass<P, P::L0, P::S0, true>(sm);
}

// Real-signal helpers. A real sequence a of length 2N is transformed as z[n] = a[2n] + i a[2n+1]
// (N points); its half spectrum follows from the pair (Z[k], Z[N-k]):
//   2 X[k] = (Z[k] + conj Z[N-k]) - i W^k (Z[k] - conj Z[N-k]),  W = exp(-pi i / N),
// and the inverse packing of a Hermitian spectrum Y back into N points is
//   2 Zy[k] = (Y[k] + conj Y[N-k]) + i W^-k (Y[k] - conj Y[N-k]).
// w = W^k; W^(N-k) = -conj(w).
__device__ __forceinline__ float2 real_spectrum2(float2 zk, float2 zk2, float2 w) {
    const float2 u = cadd(zk, conj(zk2)), v = csub(zk, conj(zk2));
    const float2 wv = cmul(w, v);
    return make_float2(u.x + wv.y, u.y - wv.x);  // u - i (w v)
}
__device__ __forceinline__ float2 real_pack2(float2 yk, float2 yk2, float2 w) {
    const float2 u = cadd(yk, conj(yk2)), v = csub(yk, conj(yk2));
    const float2 wv = cmul(conj(w), v);
    return make_float2(u.x - wv.y, u.y + wv.x);  // u + i (conj(w) v)
}

// Both members of a pair at once. With u = Z[k] + conj Z[N-k], v = Z[k] - conj Z[N-k], p = i W^k v:
//   2 X[k] = u - p,  2 X[N-k] = conj(u + p)   (real_spectrum2 of (k, N-k) and of (N-k, k)).
__device__ __forceinline__ void real_spectrum_pair(float2 zk, float2 zk2, float2 w, float2& xk, float2& xk2) {
    const float2 u = cadd(zk, conj(zk2)), v = csub(zk, conj(zk2));
    const float2 wv = cmul(w, v);
    const float2 p = make_float2(-wv.y, wv.x);
    xk = csub(u, p);
    xk2 = conj(cadd(u, p));
}
// The packing of real_pair_product on its own: the half-spectrum members Y[k], Y[N-k] of a real
// signal -> the packed transform's members Zy[k], Zy[N-k] (conv_fft_blocks.cu sums several
// products before it packs).
__device__ __forceinline__ void real_pack_pair(float2 yk, float2 yk2, float2 w, float2& zk, float2& zk2) {
    const float2 u = cadd(yk, conj(yk2)), v = csub(yk, conj(yk2));
    const float2 cv = cmul(conj(w), v);
    const float2 p = make_float2(-cv.y, cv.x);
    zk = cadd(u, p);
    zk2 = conj(csub(u, p));
}
// The convolution's step on a pair: the half spectrum X of the packed real column, Y = X .* H,
// packed back (real_pack2 of both members: with u' = Y[k] + conj Y[N-k], v' = Y[k] - conj Y[N-k],
// p' = i conj(W^k) v': Zy[k] = u' + p', Zy[N-k] = conj(u' - p')). In place on (zk, zk2).
__device__ __forceinline__ void real_pair_product(float2& zk, float2& zk2, float2 hk, float2 hk2, float2 w) {
    float2 xk, xk2;
    real_spectrum_pair(zk, zk2, w, xk, xk2);
    real_pack_pair(cmul(xk, hk), cmul(xk2, hk2), w, zk, zk2);
}

}  // namespace chela::cuda::fft
