// A complex FFT of N = 2^LOG_N points (64 <= N <= 16384) held by one CTA in shared memory, fp32.
// Building blocks for the on-chip FFT convolution (conv_fft_chip.cu); internal to native/cuda.
//
// Algorithm: mixed-radix Cooley-Tukey in place, N = R0 * R1 * R2 with R0 = R1 = 32 (as far as N
// allows) and R2 <= 16: three passes, each a radix-R DFT in registers (radix-2 stages with
// compile-time twiddles) per group of R elements at stride S, then the inter-pass twiddles.
//  - The forward transform is decimation in frequency: natural order in, digit-reversed order out
//    (frequency k sits at position pos(k)). The inverse is the exact adjoint (conjugate twiddles,
//    passes in reverse): digit-reversed in, natural out, unnormalised. A convolution multiplies in
//    the permuted order and never pays for a reordering pass.
//  - The first forward pass reads its inputs from a generator and the last inverse pass hands its
//    outputs to a sink, so the kernel's global loads and stores are fused into them (one shared
//    memory round trip fewer each way).
//  - Shared memory holds N float2 plus one pad element per 16 (pad(e) = e + e/16): with 8-byte
//    accesses a half-warp touches 16 consecutive words mod 16 in every pass at N = 16384, so the
//    passes are free of bank conflicts.
//  - Twiddles: W_M^(lo*j) from two sincospif calls per group (W^lo and W^(8 lo)) and products
//    (at most 4 roundings per factor); the fp32 transform is then accurate to a few 1e-7 relative.
#pragma once

#include <cuda_runtime.h>

#include <utility>

namespace chela::cuda::fft {

__device__ __forceinline__ float2 cadd(float2 a, float2 b) { return make_float2(a.x + b.x, a.y + b.y); }
__device__ __forceinline__ float2 csub(float2 a, float2 b) { return make_float2(a.x - b.x, a.y - b.y); }
__device__ __forceinline__ float2 cmul(float2 a, float2 b) {
    return make_float2(fmaf(a.x, b.x, -a.y * b.y), fmaf(a.x, b.y, a.y * b.x));
}
__device__ __forceinline__ float2 conj(float2 a) { return make_float2(a.x, -a.y); }

template <int LOG_N>
struct Plan {
    static_assert(LOG_N >= 6 && LOG_N <= 14, "one-CTA FFT sizes: 64 .. 16384 points");
    static constexpr int N = 1 << LOG_N;
    static constexpr int L0 = 5;
    static constexpr int L1 = LOG_N - 5 >= 5 ? 5 : LOG_N - 5;
    static constexpr int L2 = LOG_N - L0 - L1;  // 0 .. 4
    static constexpr int R0 = 1 << L0, R1 = 1 << L1, R2 = 1 << L2;
    static constexpr int S0 = R1 * R2, S1 = R2;
    // One radix-32 group per thread in the first pass (at least two warps).
    static constexpr int kThreads = N / 32 >= 64 ? N / 32 : 64;
    static constexpr int kSmemBytes = (N + N / 16) * 8;

    __device__ __forceinline__ static int pad(int e) { return e + (e >> 4); }
    // Position of frequency k after the forward passes: the radix digits of k in reverse order.
    __device__ __forceinline__ static int pos(int k) {
        const int d0 = k & (R0 - 1), d1 = (k >> L0) & (R1 - 1), d2 = k >> (L0 + L1);
        return (d0 << (L1 + L2)) | (d1 << L2) | d2;
    }
};

// cos and sin of 2 pi m / 32 for m < 16. A switch, not a table: m is a compile-time constant once
// the callers' loops are unrolled, and a switch folds into immediates where an array would be
// placed in local memory before unrolling.
__device__ __forceinline__ float cos32(int m) {
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
        default: return -cos32(16 - m);
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
    const float a = (INV ? 2.0f : -2.0f) * static_cast<float>(lo) / static_cast<float>(M);
    float2 w1, w8;
    sincospif(a, &w1.y, &w1.x);
    sincospif(8.0f * a, &w8.y, &w8.x);
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
    if constexpr (R > 1) {
        for (int g = threadIdx.x; g < G; g += blockDim.x) {
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

// Forward transform: element n of the input comes from gen(n); the result (digit-reversed) is
// left in sm. Ends with a barrier.
template <class P, class Gen>
__device__ __forceinline__ void forward(float2* sm, Gen gen) {
    for (int g = threadIdx.x; g < P::S0; g += blockDim.x) {
        float2 v[P::R0];
#pragma unroll
        for (int j = 0; j < P::R0; ++j) v[j] = gen(g + j * P::S0);
        dft<P::R0, false>(v);
        twiddle<P::R0, false>(v, g, P::N);
#pragma unroll
        for (int j = 0; j < P::R0; ++j) sm[P::pad(g + j * P::S0)] = v[j];
    }
    __syncthreads();
    smem_pass<P, P::L1, P::S1, false>(sm);
    smem_pass<P, P::L2, 1, false>(sm);
}

// Inverse transform (unnormalised) of the digit-reversed spectrum in sm: element n of the result
// goes to sink(n, value). Overwrites sm.
template <class P, class Sink>
__device__ __forceinline__ void inverse(float2* sm, Sink sink) {
    smem_pass<P, P::L2, 1, true>(sm);
    smem_pass<P, P::L1, P::S1, true>(sm);
    for (int g = threadIdx.x; g < P::S0; g += blockDim.x) {
        float2 v[P::R0];
#pragma unroll
        for (int j = 0; j < P::R0; ++j) v[j] = sm[P::pad(g + j * P::S0)];
        twiddle<P::R0, true>(v, g, P::N);
        dft<P::R0, true>(v);
#pragma unroll
        for (int j = 0; j < P::R0; ++j) sink(g + j * P::S0, v[j]);
    }
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

}  // namespace chela::cuda::fft
