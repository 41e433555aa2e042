// What both generations of the chunked linear attention kernel share (tiled_la_kernel.cuh: mma.sync;
// tiled_la_wgmma.cuh: wgmma + TMA): the kernel arguments, cp.async, and the per-chunk steps that work
// on accumulator fragments through their coordinate tensors (identity partitions), so they hold for
// the mma.sync and the wgmma C layouts alike. In both, a thread holds rows r0 = 16*warp + lane/4 and
// r0 + 8 of a 64-row tile.
#pragma once

#include "feature_map.cuh"

#include <cute/tensor.hpp>

#include <cstdint>

namespace chela::cuda::tiled::la {

using namespace cute;

struct KernelArgs {
    const void* q;
    const void* k;
    const void* v;
    void* o;
    bool o_f32;                 // o is f32 (written from the fp32 accumulators) instead of T
    int64_t L;
    int H, dk, dv;
    int64_t ldqk, ldv;          // row strides (elements): e and f
    float scale;
    const float* decay;         // [H] or null
    int feature_map;
    const float* state_init;    // start states: [B, H, init_nseg, dk, dv] or null
    int init_nseg;
    int nseg, seg_chunks;       // L-segments (grid.z = B * nseg) and chunks per segment
    float* state_out;           // [B, H, dk, dv] or null (written when nseg == 1)
    float* seg_state;           // state-only pass: [B, H, nseg, dk, dv]
    float* rowsq;               // rmsnorm partial sums [B*L, nblk] or null
    int nblk;                   // H * dv-blocks
};

CUTE_DEVICE void cp_async16(void* smem, const void* gmem, bool pred) {
    uint32_t s = cast_smem_ptr_to_uint(smem);
    int sz = pred ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(sz));
}
CUTE_DEVICE void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
CUTE_DEVICE void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

// Rows t0 .. t0 + C - 1 of this head's q and k into their (row, d) tiles by cp.async, zero-filled past
// L and past dk (q only when kLoadQ: the state-only pass needs k alone).
template <int C, int DK, int kThreads, bool kLoadQ, class TQ, class TK, class T>
CUTE_DEVICE void cp_async_qk(TQ& tq, TK& tk, const T* gq, const T* gk, int64_t ldqk, int64_t t0, int64_t L, int dk,
                             int tid) {
    constexpr int QK16 = DK / 8;
    CUTE_UNROLL
    for (int i = tid; i < C * QK16; i += kThreads) {
        const int r = i / QK16, cc = (i % QK16) * 8;
        const bool ok = t0 + r < L && cc < dk;
        const int64_t off = ok ? (t0 + r) * ldqk + cc : 0;
        if (kLoadQ) cp_async16(&tq(r, cc), gq + off, ok);
        cp_async16(&tk(r, cc), gk + off, ok);
    }
}

// In-place pass over the valid rows (< n) of a (row, col) shared-memory tile of T whose 8-element
// granules are contiguous: f(row, x) on every element of the row's granules below `cols`, 16 bytes per
// access (element-wise indexing of a swizzled tile cost ~1 ms per call at B8 H16 L16K, run 29).
template <int kThreads, class Tile, class F>
CUTE_DEVICE void map_rows_inplace(Tile& t, int rows, int cols, int n, int tid, F f) {
    using T = typename Tile::value_type;
    const int granules = cols / 8;
    for (int i = tid; i < rows * granules; i += kThreads) {
        const int r = i / granules, cc = (i % granules) * 8;
        if (r >= n) continue;
        uint4* p = reinterpret_cast<uint4*>(&t(r, cc));
        uint4 u = *p;
        T* e = reinterpret_cast<T*>(&u);
        CUTE_UNROLL
        for (int k = 0; k < 8; ++k) e[k] = static_cast<T>(f(r, static_cast<float>(e[k])));
        *p = u;
    }
}

// phi on the valid rows of the Q (when kQ) and K tiles, in place.
template <int C, int kThreads, bool kQ, class TQ, class TK>
CUTE_DEVICE void apply_feature_map(TQ& sQ, TK& sK, int fm, int n, int dk, int tid) {
    auto phi = [fm](int, float x) { return feature_map(fm, x); };
    if (kQ) map_rows_inplace<kThreads>(sQ, C, dk, n, tid, phi);
    map_rows_inplace<kThreads>(sK, C, dk, n, tid, phi);
}

// S (d, col) from the start state: the caller's state_in, or this segment's from the segment scan.
template <class Acc, class Coord>
CUTE_DEVICE void load_start_state(Acc& accS, const Coord& cS, const KernelArgs& a, int b, int h, int seg, int col0) {
    if (a.state_init == nullptr) {
        clear(accS);
        return;
    }
    const float* s0 =
        a.state_init + ((int64_t(b) * a.H + h) * a.init_nseg + (a.init_nseg > 1 ? seg : 0)) * int64_t(a.dk) * a.dv;
    CUTE_UNROLL
    for (int i = 0; i < size(accS); ++i) {
        const int d = get<0>(cS(i)), c = col0 + get<1>(cS(i));
        accS(i) = (d < a.dk && c < a.dv) ? s0[int64_t(d) * a.dv + c] : 0.f;
    }
}

// After the last chunk: the segment's state contribution (state-only pass) or the final state.
template <class Acc, class Coord>
CUTE_DEVICE void store_end_state(const Acc& accS, const Coord& cS, const KernelArgs& a, int b, int h, int seg,
                                 int col0, bool state_only) {
    float* dst = nullptr;
    if (state_only) dst = a.seg_state + ((int64_t(b) * a.H + h) * a.nseg + seg) * int64_t(a.dk) * a.dv;
    else if (a.nseg == 1 && a.state_out != nullptr) dst = a.state_out + (int64_t(b) * a.H + h) * int64_t(a.dk) * a.dv;
    if (dst == nullptr) return;
    CUTE_UNROLL
    for (int i = 0; i < size(accS); ++i) {
        const int d = get<0>(cS(i)), c = col0 + get<1>(cS(i));
        if (d < a.dk && c < a.dv) dst[int64_t(d) * a.dv + c] = accS(i);
    }
}

// A (r, j) *= s * lambda^(r-j) for j <= r, else 0; O (r, :) (= Q S so far) *= s * lambda^(r+1).
// lam[m] = lambda^m; without decay no table reads.
template <class AccA, class CA, class AccO, class CO>
CUTE_DEVICE void mask_scores(AccA& accA, const CA& cA, AccO& accO, const CO& cO, const float* lam, float s,
                             bool has_decay) {
    if (has_decay) {
        CUTE_UNROLL
        for (int i = 0; i < size(accA); ++i) {
            const int r = get<0>(cA(i)), j = get<1>(cA(i));
            accA(i) = j <= r ? accA(i) * (s * lam[r - j]) : 0.f;
        }
        CUTE_UNROLL
        for (int i = 0; i < size(accO); ++i) accO(i) *= s * lam[get<0>(cO(i)) + 1];
    } else {
        CUTE_UNROLL
        for (int i = 0; i < size(accA); ++i) accA(i) = get<1>(cA(i)) <= get<0>(cA(i)) ? accA(i) * s : 0.f;
        CUTE_UNROLL
        for (int i = 0; i < size(accO); ++i) accO(i) *= s;
    }
}

// A enters the A.V product as hi + lo, both in T: one rounding of A to bf16 alone costs ~1e-3
// relative, as much as the output's own rounding (docs/gpu.md, accuracy notes).
template <class AccA, class P>
CUTE_DEVICE void split_hi_lo(const AccA& accA, P& hi, P& lo) {
    using T = typename P::value_type;
    CUTE_UNROLL
    for (int i = 0; i < size(accA); ++i) {
        const T x = static_cast<T>(accA(i));
        hi(i) = x;
        lo(i) = static_cast<T>(accA(i) - static_cast<float>(x));
    }
}

// rmsnorm: the fp32 sum of squares of this tile's part of each valid row (before rounding), to
// rowsq[row, blk]; the finishing kernel adds the blocks of a row.
template <class AccO, class CO>
CUTE_DEVICE void write_row_sumsq(const AccO& accO, const CO& cO, const KernelArgs& a, int lane, int b, int64_t t0,
                                 int n, int blk) {
    float sq0 = 0.f, sq1 = 0.f;
    const int r0 = get<0>(cO(0));
    CUTE_UNROLL
    for (int i = 0; i < size(accO); ++i) {
        const float x = accO(i);
        if (get<0>(cO(i)) == r0) sq0 += x * x; else sq1 += x * x;
    }
    sq0 += __shfl_xor_sync(0xffffffffu, sq0, 1);
    sq0 += __shfl_xor_sync(0xffffffffu, sq0, 2);
    sq1 += __shfl_xor_sync(0xffffffffu, sq1, 1);
    sq1 += __shfl_xor_sync(0xffffffffu, sq1, 2);
    if ((lane & 3) == 0) {
        if (r0 < n) a.rowsq[(int64_t(b) * a.L + t0 + r0) * a.nblk + blk] = sq0;
        if (r0 + 8 < n) a.rowsq[(int64_t(b) * a.L + t0 + r0 + 8) * a.nblk + blk] = sq1;
    }
}

// f32 output straight from the accumulators: no rounding to T on the way out.
template <class AccO, class CO>
CUTE_DEVICE void store_o_f32(const AccO& accO, const CO& cO, const KernelArgs& a, int b, int h, int col0, int64_t t0,
                             int n) {
    float* o = static_cast<float*>(a.o) + int64_t(b) * a.L * a.ldv + int64_t(h) * a.dv + col0;
    CUTE_UNROLL
    for (int i = 0; i < size(accO); ++i) {
        const int r = get<0>(cO(i)), cc = get<1>(cO(i));
        if (r < n && col0 + cc < a.dv) o[(t0 + r) * a.ldv + cc] = accO(i);
    }
}

// The valid rows of the (row, col) staging tile sO to o (this block's columns), 16 bytes per store;
// kThreads threads (tid = 0 .. kThreads - 1) share the work.
template <int C, int DVB, int kThreads, class SO, class T>
CUTE_DEVICE void store_o_rows(const SO& sO, T* o, int64_t ldv, int64_t t0, int n, int col0, int dv, int tid) {
    constexpr int V16 = DVB / 8;
    CUTE_UNROLL
    for (int i = tid; i < C * V16; i += kThreads) {
        const int r = i / V16, cc = (i % V16) * 8;
        if (r < n && col0 + cc < dv)
            *reinterpret_cast<uint4*>(o + (t0 + r) * ldv + cc) = *reinterpret_cast<const uint4*>(&sO(r, cc));
    }
}

}  // namespace chela::cuda::tiled::la
