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

// Sum over the CTA (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
__device__ inline float block_sum(float v, float* scratch32) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    __syncthreads();
    if (lane == 0) scratch32[warp] = v;
    __syncthreads();
    float s = 0.f;
    for (int w = 0; w < int(blockDim.x / 32); ++w) s += scratch32[w];
    return s;
}

// o1(i), o2(i): the two passes' outputs at padded column i (o2 unused when causal); v(h, j): the
// value at column j of head h; qk(h): q_t . k_t of head h (phi applied, as the kernel saw them); store(c, x).
// smem: f + 2H floats; scratch32: 32 floats.
template <class O1, class O2, class V, class QK, class Store>
__device__ void combine_row(const RowShape& r, O1 o1, O2 o2, V v, QK qk, const float* norm_w, Store store,
                            float* smem, float* scratch32) {
    float* row = smem;
    float* diag = smem + r.f;
    float* den = diag + r.H;
    const bool denominator = r.attn_norm == CHELA_ATTN_NORM_DENOMINATOR;
    for (int h = threadIdx.x; h < r.H; h += blockDim.x) {
        diag[h] = r.bidirectional ? r.scale * qk(h) : 0.f;
        if (denominator) {
            const int64_t c = int64_t(h) * r.dvp + r.dv;
            float dsum = o1(c);
            if (r.bidirectional) dsum += o2(c) - diag[h];
            den[h] = 1.f / (dsum + r.eps);
        }
    }
    __syncthreads();
    float s2 = 0.f;
    HeadCursor cur(static_cast<int>(threadIdx.x), r.dv, static_cast<int>(blockDim.x));
    for (int64_t c = threadIdx.x; c < r.f; c += blockDim.x, cur.advance()) {
        const int h = cur.h;
        const int64_t src = int64_t(h) * r.dvp + cur.j;
        float x = o1(src);
        if (r.bidirectional) x += o2(src) - diag[h] * v(h, cur.j);
        if (denominator) x *= den[h];
        row[c] = x;
        s2 += x * x;
    }
    float inv = 1.f;
    if (r.attn_norm == CHELA_ATTN_NORM_RMSNORM) inv = rsqrtf(block_sum(s2, scratch32) / float(r.f) + r.eps);
    for (int64_t c = threadIdx.x; c < r.f; c += blockDim.x) {
        float x = row[c];
        if (r.attn_norm == CHELA_ATTN_NORM_RMSNORM) x *= inv * norm_w[c];
        store(c, x);
    }
}

}  // namespace chela::cuda::combine
