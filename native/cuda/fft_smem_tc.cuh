// Tensor-core FFT of N = 16384 points held by one CTA in shared memory: the radix-16 passes of
// fft_smem.cuh as 16x16 complex matrix products on mma.sync m16n8k16 (fp16 operands, fp32
// accumulation, sm_80+), two passes per shared-memory round trip.
//
// Why two passes per round trip: the first tensor-core version (one pass per round trip, run 27)
// was slower than the fp32 passes: its MMAs did not pay for the fragment loads, conversions and
// stores around them, and it was shared-memory bound (ncu, run 36). Here a warp owns a 16 x 16
// tile of the buffer and applies both passes of a stage before it writes anything back:
//   Z = ((F16 X) .* T1) G .* T2,
// the first product with the DFT matrix as the constant A operand and the tile as B, the second
// with the twiddled result as A straight from the accumulators (the C fragments of two 16x8
// products are the A fragment of a 16x16 one, as P in flash attention) and a constant B. The
// adjoint (inverse) stage is computed transposed, X^T = ((conj(G) (conj T2 .* Z)^T) .* conj T1^T)
// conj(F16), so that again only the first product reads its operand from memory.
//
// N = 16384 = 16 * 16 * 16 * 4, the passes of Plan<14> (strides 1024, 64, 4, 1), in two stages:
//   stage 1: passes at strides 1024 and 64; tile lo' (0..63) = elements 1024 j + 64 j' + lo'.
//   stage 2: passes at stride 4 (radix 16) and 1 (radix 4); tile q = blocks 4q .. 4q+3 of 64
//            elements, column c = (block, lo): elements (4q + c/4) 64 + 4 j + c % 4; the radix-4
//            pass is the product with blockdiag(F4, F4, F4, F4).
// So the spectrum comes out in the same digit-reversed order as fft::forward<Plan<14>> (pos()).
//
// Layout: the buffer holds N float2 with an XOR swizzle of the low four index bits (PlanTc::pad):
// every fragment load and store of both stages, the staging copies and the spectrum product's
// pair accesses are free of bank conflicts (2 wavefronts per warp; checked by enumeration in
// tools/proto/tc_chained_check.py).
//
// Numerics: each DFT matrix is unitary (F16 / 4, F4 / 2), so values keep their magnitude in fp16;
// forward_tc scales the column by the caller's factor as it reads it (|a| <= 1) and the caller
// gives back gain() (= N, the two unitary scalings undone; conv_fft_chip.cu folds it into the
// kernel spectra). Accuracy model: tools/proto/tc_fft_accuracy.py.
#pragma once

#include "fft_smem.cuh"

#include <cuda_fp16.h>

#include <cstdint>

namespace chela::cuda::fft {

struct PlanTc {
    static constexpr int LOG_N = 14, N = 1 << LOG_N, kThreads = 512, kWarps = kThreads / 32, kTiles = 64;
    static constexpr int kSmemBytes = N * 8;
    // The twiddle tables of stage 1 (TcTables): W_N^e and W_1024^e for e < 1024.
    static constexpr int kTwiddles = 1024;
    // Swizzle of the float2 index: low 4 bits XOR a linear function of bits 4..13, chosen so that
    // the lane patterns of every access below hit 16 distinct slots per half warp.
    __device__ __forceinline__ static int pad(int e) {
        const int h = ((e >> 10) & 15) ^ ((e >> 6) & 1) ^ (((e >> 7) & 1) << 3) ^ (((e >> 8) & 1) << 2) ^
                      (((e >> 4) & 1) << 2);
        return e ^ h;
    }
    __device__ __forceinline__ static int pos(int k) { return Plan<LOG_N>::pos(k); }
    // pad(pos(a | b)) for a, b with disjoint bits, from pad(pos(a)) and pad(pos(b)): pos permutes
    // bits and pad is XOR-linear (Plan::join is the additive counterpart).
    __device__ __forceinline__ static int join(int a, int b) { return a ^ b; }
    // Each transform is unitary: 1/128 = 1/sqrt(N) against the unnormalised fp32 one.
    static constexpr float kOneWayGain = 128.0f;
    // What the forward + inverse pair loses against the unnormalised fp32 pair.
    static constexpr float gain() { return kOneWayGain * kOneWayGain; }
};

__device__ __forceinline__ uint32_t pack_half2(float lo, float hi) {
    const __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&h);
}
__device__ __forceinline__ __half2 as_half2(uint32_t w) { return *reinterpret_cast<const __half2*>(&w); }
__device__ __forceinline__ uint32_t as_word(__half2 h) { return *reinterpret_cast<const uint32_t*>(&h); }

// Two complex products at once on packed fp16 pairs: (re, im) .* (tr, ti) (or its conjugate), where
// each word holds the real (imaginary) parts of two elements. 4 instructions for two elements
// against 8 in fp32: the twiddles between a stage's two products act on values that are rounded to
// fp16 next anyway (the second product's A operand). Accuracy: tools/proto/tc_twiddle16_check.py.
template <bool CONJ>
__device__ __forceinline__ void cmul_half2(uint32_t& re, uint32_t& im, uint32_t tr, uint32_t ti) {
    const __half2 a = as_half2(re), b = as_half2(im), c = as_half2(tr), d = as_half2(ti);
    // (a + i b)(c +- i d): re = a c -+ b d, im = b c +- a d
    re = as_word(__hfma2(CONJ ? b : __hneg2(b), d, __hmul2(a, c)));
    im = as_word(__hfma2(CONJ ? __hneg2(a) : a, d, __hmul2(b, c)));
}

// Per-lane twiddle factors as packed fp16 pairs, word (h, s) = the C elements (h, 2s), (h, 2s + 1)
// of the first product, which c_to_a packs into one A register (register 2h + s).
struct TwiddleWords {
    uint32_t re[2][2], im[2][2];
};
__device__ __forceinline__ TwiddleWords twiddle_words(const float2 (&tab)[2][4]) {
    TwiddleWords w;
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
        for (int s = 0; s < 2; ++s) {
            w.re[h][s] = pack_half2(tab[h][2 * s].x, tab[h][2 * s + 1].x);
            w.im[h][s] = pack_half2(tab[h][2 * s].y, tab[h][2 * s + 1].y);
        }
    return w;
}

// c += A * B on the tensor cores (A 16x16 row-major fragments, B 16x8 column-major). Not volatile:
// pure arithmetic, free to be scheduled.
__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
// c = A * B: the first product of a chain takes a zero accumulator operand (no zeroing moves).
__device__ __forceinline__ void mma16816_first(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%10,%10,%10,%10};\n"
        : "=f"(c[0]), "=f"(c[1]), "=f"(c[2]), "=f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1), "f"(0.0f));
}

// c = A * B with k = 8: the first half of a k16 A fragment (a[0], a[1]: columns 0..7) and of a B
// fragment (b0: rows 0..7). For the half-zero stage 1 (HALF, below).
__device__ __forceinline__ void mma1688_first(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t b0) {
    asm("mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%7,%7,%7,%7};\n"
        : "=f"(c[0]), "=f"(c[1]), "=f"(c[2]), "=f"(c[3])
        : "r"(a0), "r"(a1), "r"(b0), "f"(0.0f));
}
__device__ __forceinline__ void mma1688(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t b0) {
    asm("mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a0), "r"(a1), "r"(b0));
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

// Fragment coordinates of this lane (g = lane / 4, t = lane % 4):
//   A (16x16): register r holds (row, col), (row, col + 1), rows {g, g+8, g, g+8}, cols {2t, 2t, 2t+8, 2t+8};
//   B (16x8, n-tile h): register r holds (row, 8h + g), (row + 1, 8h + g), rows {2t, 2t+8};
//   C (16x8, n-tile h): element q is (g + 8 (q >> 1), 8h + 2t + (q & 1)).
__device__ __forceinline__ int lane_g() { return static_cast<int>(threadIdx.x % 32) >> 2; }
__device__ __forceinline__ int lane_t() { return static_cast<int>(threadIdx.x % 32) & 3; }
__device__ __forceinline__ int c_row(int q) { return lane_g() + 8 * (q >> 1); }
__device__ __forceinline__ int c_col(int h, int q) { return 8 * h + 2 * lane_t() + (q & 1); }

// A constant complex 16x16 matrix as fp16 fragments: real part, imaginary part and its negation
// (the complex products then need no per-tile sign flips of the data: 16 fewer instructions per
// tile than negating the fragments, for 8 registers per matrix).
struct ConstA {
    uint32_t re[4], im[4], im_neg[4];
};
struct ConstB {
    uint32_t re[2][2], im[2][2], im_neg[2][2];  // [n-tile][register]
};

// The two constant matrices of the stages, unitary: F16[r][c] = W_16^(rc) / 4 and
// blockdiag(F4)[r][c] = W_4^(rc) / 2 inside the 4x4 diagonal blocks, else 0.
__device__ __forceinline__ float2 dft16_entry(int r, int c) {
    float2 w = twiddle_at<false>(r * c, 16);
    return make_float2(0.25f * w.x, 0.25f * w.y);
}
__device__ __forceinline__ float2 dft4_blocks_entry(int r, int c) {
    if ((r >> 2) != (c >> 2)) return make_float2(0.0f, 0.0f);
    const int e = ((r & 3) * (c & 3)) & 3;  // W_4^e = 1, -i, -1, i: exact
    const float re = e == 0 ? 0.5f : (e == 2 ? -0.5f : 0.0f), im = e == 1 ? -0.5f : (e == 3 ? 0.5f : 0.0f);
    return make_float2(re, im);
}

template <class Entry>
__device__ __forceinline__ ConstA const_a(Entry m) {
    const int g = lane_g(), t = lane_t();
    ConstA f;
#pragma unroll
    for (int r = 0; r < 4; ++r) {
        const int row = g + 8 * (r & 1), col = 2 * t + 8 * (r >> 1);
        const float2 v0 = m(row, col), v1 = m(row, col + 1);
        f.re[r] = pack_half2(v0.x, v1.x);
        f.im[r] = pack_half2(v0.y, v1.y);
        f.im_neg[r] = pack_half2(-v0.y, -v1.y);
    }
    return f;
}
template <class Entry>
__device__ __forceinline__ ConstB const_b(Entry m) {
    const int g = lane_g(), t = lane_t();
    ConstB f;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const int row = 2 * t + 8 * r, col = 8 * h + g;
            const float2 v0 = m(row, col), v1 = m(row + 1, col);
            f.re[h][r] = pack_half2(v0.x, v1.x);
            f.im[h][r] = pack_half2(v0.y, v1.y);
            f.im_neg[h][r] = pack_half2(-v0.y, -v1.y);
        }
    }
    return f;
}

// Y = M X (or conj(M) X) for a constant A and one n-tile of the tile as B: 4 real products.
template <bool CONJ>
__device__ __forceinline__ void cmma_const_a(float (&yr)[4], float (&yi)[4], const ConstA& m, const uint32_t (&xr)[2],
                                             const uint32_t (&xi)[2]) {
    // (Mr + i Mi)(Xr + i Xi): re = Mr Xr - Mi Xi, im = Mr Xi + Mi Xr; conj(M) flips the Mi terms.
    mma16816_first(yr, m.re, xr[0], xr[1]);
    mma16816(yr, CONJ ? m.im : m.im_neg, xi[0], xi[1]);
    mma16816_first(yi, m.re, xi[0], xi[1]);
    mma16816(yi, CONJ ? m.im_neg : m.im, xr[0], xr[1]);
}

// cmma_const_a for a tile whose rows 8..15 are zero: the k = 8 half of the same products.
__device__ __forceinline__ void cmma_const_a_k8(float (&yr)[4], float (&yi)[4], const ConstA& m, uint32_t xr,
                                                uint32_t xi) {
    mma1688_first(yr, m.re[0], m.re[1], xr);
    mma1688(yr, m.im_neg[0], m.im_neg[1], xi);
    mma1688_first(yi, m.re[0], m.re[1], xi);
    mma1688(yi, m.im[0], m.im[1], xr);
}

// Z = Y M (or Y conj(M)) for the data Y as A and n-tile h of a constant B: 4 real products.
template <bool CONJ>
__device__ __forceinline__ void cmma_const_b(float (&zr)[4], float (&zi)[4], const uint32_t (&yr)[4],
                                             const uint32_t (&yi)[4], const ConstB& m, int h) {
    // re = Yr Mr - Yi Mi, im = Yr Mi + Yi Mr; conj(M) flips the Mi terms.
    mma16816_first(zr, yr, m.re[h][0], m.re[h][1]);
    if constexpr (CONJ) {
        mma16816(zr, yi, m.im[h][0], m.im[h][1]);
        mma16816_first(zi, yr, m.im_neg[h][0], m.im_neg[h][1]);
    } else {
        mma16816(zr, yi, m.im_neg[h][0], m.im_neg[h][1]);
        mma16816_first(zi, yr, m.im[h][0], m.im[h][1]);
    }
    mma16816(zi, yi, m.re[h][0], m.re[h][1]);
}

// The constant operands of both stages, built once per CTA.
struct TcConstants {
    ConstA f16_a, f4_a;
    ConstB f16_b, f4_b;
};
__device__ __forceinline__ TcConstants tc_constants() {
    return {const_a(dft16_entry), const_a(dft4_blocks_entry), const_b(dft16_entry), const_b(dft4_blocks_entry)};
}

// What the transforms read besides the buffer, built once per CTA in shared memory (fill_tables;
// the caller syncs before the transforms):
//  - stage 1's tile-dependent twiddles W_N^(lo k) and W_1024^(lo c') (lo < 64, k, c' < 16:
//    exponents below 1024): twiddles[e] = W_N^e, twiddles[1024 + e] = W_1024^e (per tile,
//    __sincosf with its range reduction cost about 13 instructions per factor: ncu, run 42);
//  - the constant fragments, lane-major (frags[matrix][part][lane], 12 words per lane and matrix:
//    f16_a, f4_a, f16_b, f4_b), read back per stage: kept in registers across the kernel they
//    took 48 per thread and pushed the pipelined stages into spills.
enum : int { kF16A = 0, kF4A = 1, kF16B = 2, kF4B = 3 };
struct TcTables {
    float2 twiddles[2 * PlanTc::kTwiddles];
    uint4 frags[4][3][32];
};
__device__ __forceinline__ void store_words(uint4 (&dst)[3][32], const uint32_t* w) {
    const int lane = static_cast<int>(threadIdx.x % 32);
#pragma unroll
    for (int p = 0; p < 3; ++p) dst[p][lane] = make_uint4(w[4 * p], w[4 * p + 1], w[4 * p + 2], w[4 * p + 3]);
}
__device__ __forceinline__ void load_words(uint32_t* w, const uint4 (&src)[3][32]) {
    const int lane = static_cast<int>(threadIdx.x % 32);
#pragma unroll
    for (int p = 0; p < 3; ++p) {
        const uint4 v = src[p][lane];
        w[4 * p] = v.x;
        w[4 * p + 1] = v.y;
        w[4 * p + 2] = v.z;
        w[4 * p + 3] = v.w;
    }
}
// ConstA and ConstB are 12 consecutive words each (re, im, im_neg).
static_assert(sizeof(ConstA) == 48 && sizeof(ConstB) == 48, "12 words per constant matrix");
__device__ __forceinline__ void fill_tables(TcTables* t) {
    for (int e = threadIdx.x; e < PlanTc::kTwiddles; e += blockDim.x) {
        t->twiddles[e] = twiddle_at<false>(e, PlanTc::N);
        t->twiddles[PlanTc::kTwiddles + e] = twiddle_at<false>(e, 1024);
    }
    if (threadIdx.x < 32) {
        const TcConstants k = tc_constants();
        store_words(t->frags[kF16A], reinterpret_cast<const uint32_t*>(&k.f16_a));
        store_words(t->frags[kF4A], reinterpret_cast<const uint32_t*>(&k.f4_a));
        store_words(t->frags[kF16B], reinterpret_cast<const uint32_t*>(&k.f16_b));
        store_words(t->frags[kF4B], reinterpret_cast<const uint32_t*>(&k.f4_b));
    }
}
__device__ __forceinline__ ConstA table_a(const TcTables* t, int m) {
    ConstA a;
    load_words(reinterpret_cast<uint32_t*>(&a), t->frags[m]);
    return a;
}
__device__ __forceinline__ ConstB table_b(const TcTables* t, int m) {
    ConstB b;
    load_words(reinterpret_cast<uint32_t*>(&b), t->frags[m]);
    return b;
}

// Stage 1 (passes at strides 1024 and 64) of tile lo: X[j][c] = element 1024 j + 64 c + lo.
// T1 at (k, c) = W_N^((64 c + lo) k) = W_256^(ck) W_N^(lo k); T2 at c' = W_1024^(lo c').
// tw1 / tw2 give the forward factors at this lane's C elements; the inverse conjugates them.
template <bool INV>
struct Stage1 {
    static constexpr bool kTw2 = true;
    int lo;
    const TwiddleWords& w256;    // W_256^(row col) at C element (h, q): symmetric, both directions
    uint32_t lo_re[2], lo_im[2]; // W_N^(lo k) as fp16 words: k = row (forward, word s) or col (inverse, word h)
    float2 w2[2][2];             // W_1024^(lo c'), c' = 8h + 2t + s
    __device__ __forceinline__ Stage1(int tile, const TwiddleWords& tab, const float2* tw) : lo(tile), w256(tab) {
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            if (INV) {  // k = col: the word's two elements, cols 8i + 2t and 8i + 2t + 1
                const float2 w0 = tw[lo * c_col(i, 0)], w1 = tw[lo * c_col(i, 1)];
                lo_re[i] = pack_half2(w0.x, w1.x);
                lo_im[i] = pack_half2(w0.y, w1.y);
            } else {  // k = row g + 8i, shared by both elements of word s = i
                const float2 w = tw[lo * c_row(2 * i)];
                lo_re[i] = pack_half2(w.x, w.x);
                lo_im[i] = pack_half2(w.y, w.y);
            }
        }
#pragma unroll
        for (int h = 0; h < 2; ++h)
#pragma unroll
            for (int s = 0; s < 2; ++s) w2[h][s] = tw[PlanTc::kTwiddles + lo * c_col(h, s)];
    }
    // Element index without the tile's part; r and c fill disjoint bit fields (see load_tile).
    __device__ __forceinline__ static int index(int r, int c) { return 1024 * r + 64 * c; }
    __device__ __forceinline__ static int tile_origin(int tile) { return tile; }
    __device__ __forceinline__ int tile_index() const { return lo; }
    // T1 at word (h, s) (forward factors; the inverse conjugates them as it multiplies).
    __device__ __forceinline__ void tw1(int h, int s, uint32_t& re, uint32_t& im) const {
        re = w256.re[h][s];
        im = w256.im[h][s];
        cmul_half2<false>(re, im, lo_re[INV ? h : s], lo_im[INV ? h : s]);
    }
    __device__ __forceinline__ float2 tw2(int h, int s) const { return w2[h][s]; }
    // T2 at the B operand word (.., r) of the inverse: elements c' = 8r + 2t and 8r + 2t + 1.
    __device__ __forceinline__ void tw2_words(int r, uint32_t& re, uint32_t& im) const {
        re = pack_half2(w2[r][0].x, w2[r][1].x);
        im = pack_half2(w2[r][0].y, w2[r][1].y);
    }
};

// Stage 2 (pass at stride 4, radix 16, then stride 1, radix 4) of tile q: the 64-element blocks
// 4q .. 4q+3, X[j][c] = element (4q + c/4) 64 + 4 j + c%4. T1 at (k, c) = W_64^((c%4) k), a
// per-lane table (tab) for the direction's orientation of the C elements; no T2.
struct Stage2 {
    static constexpr bool kTw2 = false;
    int base;
    const TwiddleWords& tab;
    __device__ __forceinline__ Stage2(int tile, const TwiddleWords& t) : base(256 * tile), tab(t) {}
    __device__ __forceinline__ static int index(int r, int c) { return 64 * (c >> 2) + 4 * r + (c & 3); }
    __device__ __forceinline__ static int tile_origin(int tile) { return 256 * tile; }
    __device__ __forceinline__ int tile_index() const { return base; }
    __device__ __forceinline__ void tw1(int h, int s, uint32_t& re, uint32_t& im) const {
        re = tab.re[h][s];
        im = tab.im[h][s];
    }
    __device__ __forceinline__ float2 tw2(int, int) const { return make_float2(1.0f, 0.0f); }
};

// Shared-memory addressing of a tile. Every index the tile functions form is a sum of parts with
// disjoint bits (the lane's part, e.g. r = 2t, c = g; the unrolled register's constant part, e.g.
// r = 8 rr + s, c = 8h; the tile's part), so it is their XOR, and PlanTc::pad is XOR-linear: the
// swizzled byte offset is one XOR of per-stage, per-tile and compile-time terms. (Computing
// pad() per access cost more integer instructions than the MMAs saved: ncu, run 37.)
__device__ __forceinline__ uint32_t byte_of(int index) { return static_cast<uint32_t>(PlanTc::pad(index)) * 8u; }
__device__ __forceinline__ float2& at(float2* sm, uint32_t bytes) {
    return *reinterpret_cast<float2*>(reinterpret_cast<char*>(sm) + bytes);
}
__device__ __forceinline__ float2 at(const float2* sm, uint32_t bytes) {
    return *reinterpret_cast<const float2*>(reinterpret_cast<const char*>(sm) + bytes);
}

// C fragments of the two n-tiles (rows g, g+8 x 16 columns) as the A fragment of the next product.
__device__ __forceinline__ void c_to_a(uint32_t (&a)[4], const float (&c)[2][4]) {
    a[0] = pack_half2(c[0][0], c[0][1]);
    a[1] = pack_half2(c[0][2], c[0][3]);
    a[2] = pack_half2(c[1][0], c[1][1]);
    a[3] = pack_half2(c[1][2], c[1][3]);
}

// Half-zero stage 1 (HALF): a causal convolution of L <= N real samples has its column's points
// N/2 .. N-1 zero on the way in (the padding) and does not read them on the way out. Those are
// the rows j >= 8 of every stage-1 tile (element 1024 j + ..): the forward stage loads only rows
// 0..7 and its first product is the k = 8 half; the inverse stage forms and stores only the
// n-tile of rows 0..7 (the buffer's upper half is left as it is). With no zero fill of the
// padding either (conv_fft_chip.cu), the columns kernel went 597 -> 569 us (run 56).

// The two chained products of a tile, from its B fragments (xr, xi) to the C fragments (zr, zi):
// Z = ((A X) .* T1) B, or with conj(A), conj(T1), conj(B) for the inverse (INV). HALF: the forward's
// rows 8..15 of X are zero (xr[h][1], xi[h][1] unused); the inverse's n-tile 1 of Z is not formed.
template <bool INV, class Geo, bool HALF = false>
__device__ __forceinline__ void two_products(float (&zr)[2][4], float (&zi)[2][4], const uint32_t (&xr)[2][2],
                                             const uint32_t (&xi)[2][2], const ConstA& a, const ConstB& b,
                                             const Geo& geo) {
    float yr[2][4], yi[2][4];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        if constexpr (HALF && !INV) cmma_const_a_k8(yr[h], yi[h], a, xr[h][0], xi[h][0]);
        else cmma_const_a<INV>(yr[h], yi[h], a, xr[h], xi[h]);
    }
    uint32_t ar[4], ai[4];  // the accumulators as the next A operand, twiddled in fp16
    c_to_a(ar, yr);
    c_to_a(ai, yi);
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
        for (int s = 0; s < 2; ++s) {
            uint32_t tr, ti;
            geo.tw1(h, s, tr, ti);
            cmul_half2<INV>(ar[2 * h + s], ai[2 * h + s], tr, ti);
        }
#pragma unroll
    for (int h = 0; h < (HALF && INV ? 1 : 2); ++h) cmma_const_b<INV>(zr[h], zi[h], ar, ai, b, h);
}

// A tile's eight elements per lane as read from shared memory, v[h][r][s]: the B operand element
// (2t + 8r + s, 8h + g) of the first product (in the inverse: of the transposed tile).
struct TileData {
    float2 v[2][2][2];
};

// Loads tile `tile` of stage Geo: X[j][c] in the forward direction, Z^T in the inverse one.
// HALF (forward): rows 8..15 are zero and not loaded (v[h][1][s] left unset, never read).
template <bool INV, class Geo, bool HALF = false>
__device__ __forceinline__ TileData load_tile(const float2* sm, int tile) {
    const int g = lane_g(), t = lane_t();
    const uint32_t in = byte_of(INV ? Geo::index(g, 2 * t) : Geo::index(2 * t, g)) ^ byte_of(Geo::tile_origin(tile));
    TileData d;
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
        for (int r = 0; r < (HALF && !INV ? 1 : 2); ++r)
#pragma unroll
            for (int s = 0; s < 2; ++s)
                d.v[h][r][s] = at(sm, in ^ byte_of(INV ? Geo::index(8 * h, 8 * r + s) : Geo::index(8 * r + s, 8 * h)));
    return d;
}

// Forward stage on one loaded tile: Z = ((F16 X) .* T1) G .* T2, stored in place; X is scaled by
// `scale` first (1 folds away: the caller's normalisation rides on the first stage's loads).
template <class Geo, bool HALF>
__device__ __forceinline__ void finish_forward(float2* sm, const Geo& geo, const TileData& d, const ConstA& f,
                                               const ConstB& gm, float scale) {
    const int g = lane_g(), t = lane_t();
    const uint32_t out = byte_of(Geo::index(g, 2 * t)) ^ byte_of(geo.tile_index());
    uint32_t xr[2][2], xi[2][2];
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
        for (int r = 0; r < (HALF ? 1 : 2); ++r) {
            const float2 v0 = d.v[h][r][0], v1 = d.v[h][r][1];
            xr[h][r] = pack_half2(v0.x * scale, v1.x * scale);
            xi[h][r] = pack_half2(v0.y * scale, v1.y * scale);
        }
    float zr[2][4], zi[2][4];
    two_products<false, Geo, HALF>(zr, zi, xr, xi, f, gm, geo);
    __syncwarp();  // the tile is rewritten in place: every lane has read it (the MMAs imply it; say it)
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
        for (int q = 0; q < 4; ++q) {  // element (g + 8 (q >> 1), 8h + 2t + (q & 1))
            float2 z = make_float2(zr[h][q], zi[h][q]);
            if (Geo::kTw2) z = cmul(z, geo.tw2(h, q & 1));
            at(sm, out ^ byte_of(Geo::index(8 * (q >> 1), 8 * h + (q & 1)))) = z;
        }
}

// The adjoint of finish_forward, computed transposed:
// X^T = ((conj(G) (conj T2 .* Z)^T) .* conj T1^T) conj(F16), stored in place.
template <class Geo, bool HALF>
__device__ __forceinline__ void finish_inverse(float2* sm, const Geo& geo, const TileData& d, const ConstA& gm,
                                               const ConstB& f) {
    const int g = lane_g(), t = lane_t();
    const uint32_t out = byte_of(Geo::index(2 * t, g)) ^ byte_of(geo.tile_index());
    uint32_t xr[2][2], xi[2][2];
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
        for (int r = 0; r < 2; ++r) {  // B element (row c', col k) = Z[k][c'], k = 8h + g, c' = 2t + 8r + s
            const float2 v0 = d.v[h][r][0], v1 = d.v[h][r][1];
            xr[h][r] = pack_half2(v0.x, v1.x);
            xi[h][r] = pack_half2(v0.y, v1.y);
            if constexpr (Geo::kTw2) {  // conj T2 in fp16, as the stage's other twiddle
                uint32_t tr, ti;
                geo.tw2_words(r, tr, ti);
                cmul_half2<true>(xr[h][r], xi[h][r], tr, ti);
            }
        }
    float zr[2][4], zi[2][4];
    two_products<true, Geo, HALF>(zr, zi, xr, xi, gm, f, geo);
    __syncwarp();  // in place, as in finish_forward
#pragma unroll
    for (int h = 0; h < (HALF ? 1 : 2); ++h)
#pragma unroll
        for (int q = 0; q < 4; ++q)  // X[j][c] at j = 8h + 2t + (q & 1), c = g + 8 (q >> 1)
            at(sm, out ^ byte_of(Geo::index(8 * h + (q & 1), 8 * (q >> 1)))) = make_float2(zr[h][q], zi[h][q]);
}

// One stage over this warp's tiles (warp + 16 i), software-pipelined: the next tile's loads are
// issued before this tile's stores. The tiles of a stage are disjoint, so nothing orders them,
// but the compiler cannot prove it and kept every tile's load latency exposed. make(tile) builds
// the tile's geometry (its twiddles) once its turn comes.
template <bool INV, class Geo, bool HALF, class Make>
__device__ __forceinline__ void run_stage(float2* sm, Make make, const ConstA& a, const ConstB& b, float scale) {
    constexpr int kPer = PlanTc::kTiles / PlanTc::kWarps;
    const int warp = static_cast<int>(threadIdx.x / 32);
    TileData cur = load_tile<INV, Geo, HALF>(sm, warp);
#pragma unroll
    for (int i = 0; i < kPer; ++i) {
        const int tile = warp + PlanTc::kWarps * i;
        TileData next = cur;
        if (i + 1 < kPer) next = load_tile<INV, Geo, HALF>(sm, tile + PlanTc::kWarps);
        const Geo geo = make(tile);
        if constexpr (INV) finish_inverse<Geo, HALF>(sm, geo, cur, a, b);
        else finish_forward<Geo, HALF>(sm, geo, cur, a, b, scale);
        cur = next;
    }
}

// W_256^(row col) at this lane's C elements (stage 1, both directions).
__device__ __forceinline__ void stage1_table(float2 (&tab)[2][4]) {
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
        for (int q = 0; q < 4; ++q) tab[h][q] = twiddle_at<false>(c_row(q) * c_col(h, q), 256);
}
// W_64^((c%4) k) at this lane's C elements: forward (row k, col c) or inverse (row c, col k).
template <bool INV>
__device__ __forceinline__ void stage2_table(float2 (&tab)[2][4]) {
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            const int row = c_row(q), col = c_col(h, q);
            tab[h][q] = twiddle_at<false>(INV ? (row & 3) * col : (col & 3) * row, 64);
        }
}

// Forward transform of the N points in sm (natural order, PlanTc layout), each multiplied by
// `scale` as it is read (the caller's |a| <= 1 normalisation without a pass of its own), into the
// digit-reversed spectrum scaled by 1/128, in place. Callers fill sm and sync first; ends with a
// barrier. t: the CTA's tables (fill_tables). HALF: points N/2 .. N-1 are zero and are not read.
template <bool HALF = false>
__device__ __forceinline__ void forward_tc(float2* sm, const TcTables* t, float scale) {
    float2 tab[2][4];
    stage1_table(tab);
    TwiddleWords words = twiddle_words(tab);
    run_stage<false, Stage1<false>, HALF>(sm, [&](int tile) { return Stage1<false>(tile, words, t->twiddles); },
                                    table_a(t, kF16A), table_b(t, kF16B), scale);
    __syncthreads();
    stage2_table<false>(tab);
    words = twiddle_words(tab);
    run_stage<false, Stage2, false>(sm, [&](int tile) { return Stage2(tile, words); }, table_a(t, kF16A), table_b(t, kF4B), 1.0f);
    __syncthreads();
}

// Inverse (the adjoint of forward_tc: digit-reversed in, natural out, scaled by 1/128), in place.
// Ends with a barrier. t: the CTA's tables (fill_tables). HALF: only points 0 .. N/2-1 are formed
// (the rest of the buffer keeps what the last stage left there).
template <bool HALF = false>
__device__ __forceinline__ void inverse_tc(float2* sm, const TcTables* t) {
    float2 tab[2][4];
    stage2_table<true>(tab);
    TwiddleWords words = twiddle_words(tab);
    run_stage<true, Stage2, false>(sm, [&](int tile) { return Stage2(tile, words); }, table_a(t, kF4A), table_b(t, kF16B), 1.0f);
    __syncthreads();
    stage1_table(tab);
    words = twiddle_words(tab);
    run_stage<true, Stage1<true>, HALF>(sm, [&](int tile) { return Stage1<true>(tile, words, t->twiddles); },
                                  table_a(t, kF16A), table_b(t, kF16B), 1.0f);
    __syncthreads();
}

}  // namespace chela::cuda::fft
