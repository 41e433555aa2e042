// The epilogue that turns causal tensor-core passes into the full attention of the spec: for one
// row (one CTA), per head h with value columns padded to dvp:
//   o[j]  = o1[h*dvp + j] (+ o2[h*dvp + j] - s * (q_t . k_t) * v[h*dvp + j])   bidirectional: the
//           causal and the time-reversed pass both count j = t, so the diagonal is removed once
//   den   = the same for column dv (a column of ones in v): s * sum lambda (q.k) (+ eps, inverted)
//   then rmsnorm over the whole f row (with norm_w), and store(c, value).
// Shared by the C-ABI op (tiled_linear_attention.cu) and the model forward (model/layer_kernels.cu).
// Internal to native/cuda.
#pragma once

#include <chela/chela.h>

#include <cuda_runtime.h>

#include <cstdint>

namespace chela::cuda::combine {

struct RowShape {
    int H, dv, dvp;
    int64_t f;             // H * dv
    bool bidirectional;
    int attn_norm;         // chela_attn_norm
    float scale, eps;
};

// Walks the columns c = threadIdx.x, +blockDim.x, ... of a row made of heads of `width` columns,
// keeping (head, column in head) without a division per element (the 64-bit divisions of the
// first version made these row kernels several times slower than their memory traffic).
struct HeadCursor {
    int h, j;
    const int width, step;
    __device__ HeadCursor(int c, int width_, int step_) : h(c / width_), j(c % width_), width(width_), step(step_) {}
    __device__ void advance() {
        j += step;
        while (j >= width) {
            j -= width;
            ++h;
        }
    }
};

// Sum over the warp; every lane gets the result.
__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Sum over the CTA (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
__device__ inline float block_sum(float v, float* scratch32) {
    v = warp_sum(v);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    __syncthreads();
    if (lane == 0) scratch32[warp] = v;
    __syncthreads();
    float s = 0.f;
    for (int w = 0; w < int(blockDim.x / 32); ++w) s += scratch32[w];
    return s;
}

// One warp per row (kRowsPerCta rows per CTA of 32 * kRowsPerCta threads): warp reductions instead
// of CTA barriers, and no row buffer: the row is recomputed from o1/o2 in the second pass (L1/L2
// hits). The first version (one CTA per row, the row in shared memory) moved 0.8 GB in 0.64 ms at
// the anchor shape (1.25 TB/s; H200 run 23) and capped f at 12280 by its 48 KiB buffer.
constexpr int kRowsPerCta = 8;

// o1(i), o2(i): the two passes' outputs at padded column i (o2 unused when causal); v(h, j): the
// value at column j of head h; qk(h): q_t . k_t of head h (phi applied, as the kernel saw them);
// store(c, x). warp_smem: 2H floats of this warp's own.
template <class O1, class O2, class V, class QK, class Store>
__device__ void combine_row(const RowShape& r, O1 o1, O2 o2, V v, QK qk, const float* norm_w, Store store,
                            float* warp_smem) {
    const int lane = static_cast<int>(threadIdx.x % 32);
    float* diag = warp_smem;
    float* den = warp_smem + r.H;
    const bool denominator = r.attn_norm == CHELA_ATTN_NORM_DENOMINATOR;
    for (int h = lane; h < r.H; h += 32) {
        diag[h] = r.bidirectional ? r.scale * qk(h) : 0.f;
        if (denominator) {
            const int64_t c = int64_t(h) * r.dvp + r.dv;
            float dsum = o1(c);
            if (r.bidirectional) dsum += o2(c) - diag[h];
            den[h] = 1.f / (dsum + r.eps);
        }
    }
    __syncwarp();
    auto value = [&](int h, int j) {
        const int64_t src = int64_t(h) * r.dvp + j;
        float x = o1(src);
        if (r.bidirectional) x += o2(src) - diag[h] * v(h, j);
        if (denominator) x *= den[h];
        return x;
    };
    const bool rms = r.attn_norm == CHELA_ATTN_NORM_RMSNORM;
    if (r.dvp == r.dv && !r.bidirectional && !denominator) {
        // The common causal case: column c of the row is column c of the pass output. Unrolled so
        // that eight loads per lane are in flight (the cursor loop below kept one, and a warp per
        // row then ran slower than a CTA per row: run 25).
        float inv = 1.f;
        if (rms) {
            float s2 = 0.f;
#pragma unroll 8
            for (int64_t c = lane; c < r.f; c += 32) {
                const float x = o1(c);
                s2 = fmaf(x, x, s2);
            }
            inv = rsqrtf(warp_sum(s2) / float(r.f) + r.eps);
        }
#pragma unroll 8
        for (int64_t c = lane; c < r.f; c += 32) store(c, rms ? o1(c) * inv * norm_w[c] : o1(c));
        return;
    }
    float inv = 1.f;
    if (rms) {
        float s2 = 0.f;
        HeadCursor cur(lane, r.dv, 32);
        for (int64_t c = lane; c < r.f; c += 32, cur.advance()) {
            const float x = value(cur.h, cur.j);
            s2 = fmaf(x, x, s2);
        }
        inv = rsqrtf(warp_sum(s2) / float(r.f) + r.eps);
    }
    HeadCursor cur(lane, r.dv, 32);
    for (int64_t c = lane; c < r.f; c += 32, cur.advance()) {
        float x = value(cur.h, cur.j);
        if (rms) x *= inv * norm_w[c];
        store(c, x);
    }
}

}  // namespace chela::cuda::combine
