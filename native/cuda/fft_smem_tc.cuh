// Tensor-core variant of the shared-memory FFT passes (fft_smem.cuh): every radix-16 DFT is a
// 16x16 complex matrix product on mma.sync m16n8k16 (fp16 operands, fp32 accumulation, sm_80+),
// 8 groups per warp-wide product. Same data layout, same digit-reversed order, same twiddles as
// the fp32 passes; each tensor-core pass is scaled by 1/4 (the unitary 1/sqrt(16)) so that values
// keep their magnitude in fp16, and the caller multiplies the spectrum product by gain() to undo it.
//
// Status: written 2026-11-28 without a GPU (the session's device time was spent); the lane ->
// element mapping was checked against the reference pass in a float64 emulation of the fragments
// (max error 1.4e-15), and the numerics in tools/proto/tc_fft_accuracy.py (fp16 operands: 6.6e-4
// on the long conv, inside the 3e-3 bf16 bound). Opt-in (CHELA_CUDA_CONV_FFT=tc, bf16/f16 only)
// until the GPU tests and the bench have run it.
#pragma once

#include "fft_smem.cuh"

#include <cuda_fp16.h>

#include <cstdint>

namespace chela::cuda::fft {

// The DFT-16 matrix F[k][j] = exp(-2 pi i kj / 16) / 4 as m16n8k16 A fragments of this lane:
// register q holds (row, col), (row, col + 1) with rows {g, g+8, g, g+8} and cols {2t, 2t, 2t+8,
// 2t+8} (g = lane / 4, t = lane % 4), the lower column in the low half.
struct Dft16Fragments {
    uint32_t re[4], im[4], neg_im[4];
};

__device__ __forceinline__ uint32_t pack_half2(float lo, float hi) {
    const __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&h);
}

__device__ inline Dft16Fragments dft16_fragments() {
    const int lane = static_cast<int>(threadIdx.x % 32), g = lane >> 2, t = lane & 3;
    const int rows[4] = {g, g + 8, g, g + 8}, cols[4] = {2 * t, 2 * t, 2 * t + 8, 2 * t + 8};
    Dft16Fragments f;
#pragma unroll
    for (int q = 0; q < 4; ++q) {
        float s0, c0, s1, c1;  // angle -2 pi (row * col mod 16) / 16, exact multiples of pi / 8
        sincospif(-static_cast<float>((rows[q] * cols[q]) & 15) / 8.0f, &s0, &c0);
        sincospif(-static_cast<float>((rows[q] * (cols[q] + 1)) & 15) / 8.0f, &s1, &c1);
        f.re[q] = pack_half2(0.25f * c0, 0.25f * c1);
        f.im[q] = pack_half2(0.25f * s0, 0.25f * s1);
        f.neg_im[q] = pack_half2(-0.25f * s0, -0.25f * s1);
    }
    return f;
}

// c += A * B on the tensor cores (A 16x16 row-major fragments, B 16x8 column-major: b0 holds
// rows 2t, 2t+1 and b1 rows 2t+8, 2t+9 of column g).
__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// W_M^e (forward) or its conjugate, with e reduced mod M to half a turn either way, where
// __sincosf is accurate to ~4e-7.
template <bool INV>
__device__ __forceinline__ float2 twiddle_at(int e, int M) {
    constexpr float kTwoPi = 6.28318530717959f;
    int a = e & (M - 1);
    if (a > M / 2) a -= M;
    float2 w;
    __sincosf((INV ? kTwoPi : -kTwoPi) * static_cast<float>(a) / static_cast<float>(M), &w.y, &w.x);
    return w;
}

// One radix-16 pass at stride S on the tensor cores, in place; same result as
// smem_pass<P, 4, S, INV> times 1/4. Needs N / 16 a multiple of 8 (whole tiles of 8 groups).
template <class P, int S, bool INV>
__device__ __forceinline__ void smem_pass_tc16(float2* sm, const Dft16Fragments& f) {
    constexpr int R = 16, M = R * S, G = P::N / R, kTiles = G / 8, kWarps = P::kThreads / 32;
    static_assert(G % 8 == 0, "tensor-core passes need whole tiles of 8 groups");
    const int lane = static_cast<int>(threadIdx.x % 32), warp = static_cast<int>(threadIdx.x / 32);
    const int g = lane >> 2, t = lane & 3;
    for (int tile = warp; tile < kTiles; tile += kWarps) {
        // B operand: elements j = 2t, 2t+1, 2t+8, 2t+9 of group tile*8 + g.
        const int gi = tile * 8 + g, lo = gi & (S - 1), base = (gi / S) * M + lo;
        float2 x0 = sm[P::pad(base + (2 * t) * S)], x1 = sm[P::pad(base + (2 * t + 1) * S)];
        float2 x2 = sm[P::pad(base + (2 * t + 8) * S)], x3 = sm[P::pad(base + (2 * t + 9) * S)];
        if (INV && S > 1) {  // the adjoint applies the conjugate twiddles before the DFT
            x0 = cmul(x0, twiddle_at<true>(lo * (2 * t), M));
            x1 = cmul(x1, twiddle_at<true>(lo * (2 * t + 1), M));
            x2 = cmul(x2, twiddle_at<true>(lo * (2 * t + 8), M));
            x3 = cmul(x3, twiddle_at<true>(lo * (2 * t + 9), M));
        }
        const uint32_t br0 = pack_half2(x0.x, x1.x), br1 = pack_half2(x2.x, x3.x);
        const uint32_t bi0 = pack_half2(x0.y, x1.y), bi1 = pack_half2(x2.y, x3.y);
        float cr[4] = {0.f, 0.f, 0.f, 0.f}, ci[4] = {0.f, 0.f, 0.f, 0.f};
        if (!INV) {  // (Fr + i Fi)(Xr + i Xi)
            mma16816(cr, f.re, br0, br1);
            mma16816(cr, f.neg_im, bi0, bi1);
            mma16816(ci, f.re, bi0, bi1);
            mma16816(ci, f.im, br0, br1);
        } else {  // (Fr - i Fi)(Xr + i Xi)
            mma16816(cr, f.re, br0, br1);
            mma16816(cr, f.im, bi0, bi1);
            mma16816(ci, f.re, bi0, bi1);
            mma16816(ci, f.neg_im, br0, br1);
        }
        __syncwarp();  // the tile is rewritten in place: every lane has read it
        // D fragment: (k, n) = (g, 2t), (g, 2t+1), (g+8, 2t), (g+8, 2t+1).
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            const int k = g + (q >> 1) * 8, n = 2 * t + (q & 1);
            const int gn = tile * 8 + n, lon = gn & (S - 1), basen = (gn / S) * M + lon;
            float2 y = make_float2(cr[q], ci[q]);
            if (!INV && S > 1) y = cmul(y, twiddle_at<false>(lon * k, M));
            sm[P::pad(basen + k * S)] = y;
        }
    }
    __syncthreads();
}

// Pass p of the plan on the tensor cores where it is a radix-16 pass of whole tiles, else on the
// fp32 path.
template <class P, int LR, int S, bool INV>
__device__ __forceinline__ void pass_tc(float2* sm, const Dft16Fragments& f) {
    if constexpr (LR == 4 && (P::N / 16) % 8 == 0) smem_pass_tc16<P, S, INV>(sm, f);
    else smem_pass<P, LR, S, INV>(sm);
}

template <class P>
constexpr int tc_pass_count() {
    auto tc = [](int lr) { return lr == 4 && (P::N / 16) % 8 == 0 ? 1 : 0; };
    return tc(P::L0) + tc(P::L1) + tc(P::L2) + tc(P::L3);
}

// What a forward + inverse transform pair on the tensor cores loses against the fp32 pair:
// 1/4 per tensor-core pass each way.
template <class P>
constexpr float tc_gain() {
    float g = 1.0f;
    for (int i = 0; i < 2 * tc_pass_count<P>(); ++i) g *= 4.0f;
    return g;
}

template <class P>
__device__ __forceinline__ void forward_tc(float2* sm, const Dft16Fragments& f) {
    pass_tc<P, P::L0, P::S0, false>(sm, f);
    pass_tc<P, P::L1, P::S1, false>(sm, f);
    pass_tc<P, P::L2, P::S2, false>(sm, f);
    pass_tc<P, P::L3, 1, false>(sm, f);
}

template <class P>
__device__ __forceinline__ void inverse_tc(float2* sm, const Dft16Fragments& f) {
    pass_tc<P, P::L3, 1, true>(sm, f);
    pass_tc<P, P::L2, P::S2, true>(sm, f);
    pass_tc<P, P::L1, P::S1, true>(sm, f);
    pass_tc<P, P::L0, P::S0, true>(sm, f);
}

}  // namespace chela::cuda::fft
