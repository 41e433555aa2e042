// Bidirectional and denominator-normalised linear attention on the GPU, built from the causal
// tiled kernel (no second kernel to keep in step with it):
//   - denominator: v gets one more column of ones per head (heads padded to a multiple of 8 for the
//     tensor cores); the kernel's sum over that column is s * sum lambda (q.k), the denominator. The
//     running key sum of the streaming state is the state's same column, so ksum in/out ride along.
//   - bidirectional: a second causal pass over the time-reversed q, k, v; both passes count j = t,
//     so the epilogue removes the diagonal s * (q_t.k_t) v_t once (attention_combine.cuh).
// Scratch comes from the stream-ordered pool. Costs against the causal kernel: one extra pass of
// reads and writes for the reversed copies and the f32 pass outputs.
#include "attention_combine.cuh"
#include "feature_map.cuh"
#include "numeric.cuh"
#include "stream_buffer.cuh"
#include "tiled_la_impl.h"

#include "core/error.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <memory>
#include <vector>

namespace chela::cuda::tiled::la {

namespace {

struct Shape {
    int64_t B, L;
    int H, dk, dv, dvp;
    __host__ __device__ int64_t e() const { return int64_t(H) * dk; }
    __host__ __device__ int64_t f() const { return int64_t(H) * dv; }
    __host__ __device__ int64_t fp() const { return int64_t(H) * dvp; }
};

// vp: v with heads padded to dvp (a ones column at dv when `ones`); with reversed outputs non-null,
// also q, k and vp reversed in time. One CTA per row.
template <class T>
__global__ void pack_kernel(Shape s, const T* q, const T* k, const T* v, bool ones, T* vp, T* q_rev, T* k_rev,
                            T* v_rev) {
    const int64_t row = blockIdx.x, b = row / s.L, t = row % s.L, rev = b * s.L + (s.L - 1 - t);
    if (q_rev != nullptr)
        for (int64_t c = threadIdx.x; c < s.e(); c += blockDim.x) {
            q_rev[rev * s.e() + c] = q[row * s.e() + c];
            k_rev[rev * s.e() + c] = k[row * s.e() + c];
        }
    combine::HeadCursor cur(static_cast<int>(threadIdx.x), s.dvp, static_cast<int>(blockDim.x));
    for (int64_t c = threadIdx.x; c < s.fp(); c += blockDim.x, cur.advance()) {
        const int h = cur.h, j = cur.j;
        const T x = j < s.dv ? v[row * s.f() + int64_t(h) * s.dv + j] : from_f<T>(ones && j == s.dv ? 1.f : 0.f);
        if (vp != nullptr) vp[row * s.fp() + c] = x;
        if (v_rev != nullptr) v_rev[rev * s.fp() + c] = x;
    }
}

// Padded state [BH, dk, dvp] <-> (state [BH, dk, dv], ksum [BH, dk] at column dv).
__global__ void state_to_padded(Shape s, const float* state, const float* ksum, float* sp) {
    const int64_t n = s.B * s.H * s.dk * s.dvp;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t j = i % s.dvp, bhd = i / s.dvp;
        sp[i] = j < s.dv ? (state ? state[bhd * s.dv + j] : 0.f) : (j == s.dv && ksum ? ksum[bhd] : 0.f);
    }
}

__global__ void padded_to_state(Shape s, const float* sp, float* state, float* ksum) {
    const int64_t n = s.B * s.H * s.dk * s.dvp;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t j = i % s.dvp, bhd = i / s.dvp;
        if (j < s.dv && state) state[bhd * s.dv + j] = sp[i];
        if (j == s.dv && ksum) ksum[bhd] = sp[i];
    }
}

// One CTA per row: the passes' f32 outputs -> out (T or f32), diagonal, denominator, rmsnorm.
// phi(q).phi(k) is recomputed as the kernel saw it: phi in fp32, rounded to T.
template <class T, class OutT>
__global__ void combine_kernel(Shape s, combine::RowShape r, int fm, const float* o1, const float* o2, const T* q,
                               const T* k, const T* v, const float* norm_w, OutT* out) {
    extern __shared__ float smem[];
    const int warp = static_cast<int>(threadIdx.x / 32);
    const int64_t row = int64_t(blockIdx.x) * combine::kRowsPerCta + warp;
    if (row >= s.B * s.L) return;  // whole warps only: combine_row syncs within the warp
    const int64_t b = row / s.L, t = row % s.L, rev = b * s.L + (s.L - 1 - t);
    auto phi = [&](T x) { return to_f(from_f<T>(feature_map(fm, to_f(x)))); };
    combine::combine_row(
        r, [&](int64_t i) { return o1[row * s.fp() + i]; }, [&](int64_t i) { return o2[rev * s.fp() + i]; },
        [&](int h, int j) { return to_f(v[row * s.f() + int64_t(h) * s.dv + j]); },  // j < dv
        [&](int h) {
            float dot = 0.f;
            for (int j = 0; j < s.dk; ++j)
                dot += phi(q[row * s.e() + int64_t(h) * s.dk + j]) * phi(k[row * s.e() + int64_t(h) * s.dk + j]);
            return dot;
        },
        norm_w, [&](int64_t c, float x) { out[row * s.f() + c] = from_f<OutT>(x); }, smem + warp * 2 * s.H);
}

// The scratch buffers of one call, released stream-ordered together.
class Scratch {
public:
    explicit Scratch(cudaStream_t s) : s_(s) {}
    template <class X> X* get(size_t elems) {
        bufs_.push_back(std::make_unique<StreamBuffer>(elems * sizeof(X), s_, "linear attention (cuda): scratch"));
        return bufs_.back()->as<X>();
    }

private:
    cudaStream_t s_;
    std::vector<std::unique_ptr<StreamBuffer>> bufs_;
};

template <class T>
void run(const LinearAttentionParams& p, const void* qv, const void* kv, const void* vv, const float* state_in,
         const float* ksum_in, void* out, float* state_out, float* ksum_out, cudaStream_t stream) {
    const bool den = p.attn_norm == CHELA_ATTN_NORM_DENOMINATOR, bi = !p.causal;
    Shape s{p.B, p.L, p.H, int(p.e / p.H), int(p.f / p.H), 0};
    const int pad = p.dtype == CHELA_DTYPE_F32 ? 1 : 8;  // the tensor cores need multiples of 8
    s.dvp = int((s.dv + (den ? 1 : 0) + pad - 1) / pad * pad);
    const int64_t rows = s.B * s.L;
    auto q = static_cast<const T*>(qv), k = static_cast<const T*>(kv), v = static_cast<const T*>(vv);
    Scratch scratch(stream);
    T* vp = s.dvp != s.dv ? scratch.get<T>(size_t(rows * s.fp())) : nullptr;
    T *q_rev = nullptr, *k_rev = nullptr, *v_rev = nullptr;
    if (bi) {
        q_rev = scratch.get<T>(size_t(rows * s.e()));
        k_rev = scratch.get<T>(size_t(rows * s.e()));
        v_rev = scratch.get<T>(size_t(rows * s.fp()));
    }
    if (vp != nullptr || bi) {
        pack_kernel<T><<<unsigned(rows), 256, 0, stream>>>(s, q, k, v, den, vp, q_rev, k_rev, v_rev);
        check_launch("linear attention (pack)");
    }
    const T* v_pass = vp != nullptr ? vp : v;
    float* o1 = scratch.get<float>(size_t(rows * s.fp()));
    float* o2 = bi ? scratch.get<float>(size_t(rows * s.fp())) : nullptr;

    // The causal passes: identity attn_norm, f32 output; states padded to dvp (ksum in column dv).
    LinearAttentionParams cp = p;
    cp.causal = true;
    cp.attn_norm = CHELA_ATTN_NORM_NONE;
    cp.f = s.fp();
    cp.out_dtype = CHELA_DTYPE_F32;
    cp.norm_weight = nullptr;
    float *sp_in = nullptr, *sp_out = nullptr;
    const unsigned sgrid = unsigned(std::min<int64_t>((s.B * s.H * s.dk * s.dvp + 255) / 256, 4096));
    if (!bi && (state_in || ksum_in)) {
        sp_in = scratch.get<float>(size_t(s.B * s.H * s.dk * s.dvp));
        state_to_padded<<<sgrid, 256, 0, stream>>>(s, state_in, ksum_in, sp_in);
        check_launch("linear attention (state in)");
    }
    if (!bi && (state_out || ksum_out)) sp_out = scratch.get<float>(size_t(s.B * s.H * s.dk * s.dvp));
    linear_attention(cp, q, k, v_pass, sp_in, nullptr, o1, sp_out, nullptr, nullptr, 0, stream);
    if (bi) linear_attention(cp, q_rev, k_rev, v_rev, nullptr, nullptr, o2, nullptr, nullptr, nullptr, 0, stream);
    if (sp_out != nullptr) {
        padded_to_state<<<sgrid, 256, 0, stream>>>(s, sp_out, state_out, ksum_out);
        check_launch("linear attention (state out)");
    }

    const combine::RowShape r{s.H, s.dv, s.dvp, s.f(), bi, p.attn_norm, p.scale, p.eps};
    const size_t smem = sizeof(float) * 2 * size_t(s.H) * combine::kRowsPerCta;  // diagonal, denominator
    if (smem > 48 * 1024) fail(CHELA_ERR_UNSUPPORTED, "linear attention (cuda): ", s.H, " heads exceed the epilogue's buffer");
    const unsigned grid = unsigned((rows + combine::kRowsPerCta - 1) / combine::kRowsPerCta);
    const unsigned threads = 32 * combine::kRowsPerCta;
    if (p.out_dtype == CHELA_DTYPE_F32 || p.dtype == CHELA_DTYPE_F32)
        combine_kernel<T, float><<<grid, threads, smem, stream>>>(s, r, p.feature_map, o1, o2, q, k, v, p.norm_weight,
                                                                  static_cast<float*>(out));
    else
        combine_kernel<T, T><<<grid, threads, smem, stream>>>(s, r, p.feature_map, o1, o2, q, k, v, p.norm_weight,
                                                              static_cast<T*>(out));
    check_launch("linear attention (combine)");
}

}  // namespace

void full_attention(const LinearAttentionParams& p, const void* q, const void* k, const void* v, const float* state_in,
                    const float* ksum_in, void* out, float* state_out, float* ksum_out, void* stream) {
    if (!p.causal && (state_in || ksum_in || state_out || ksum_out))
        fail(CHELA_ERR_INVALID_ARGUMENT, "linear attention (cuda): a bidirectional pass has no running state");
    if (p.B * p.L > 0x7fffffff) fail(CHELA_ERR_UNSUPPORTED, "linear attention (cuda): B*L exceeds the grid");
    if (p.B == 0 || p.L == 0) return;
    auto s = static_cast<cudaStream_t>(stream);
    if (p.dtype == CHELA_DTYPE_BF16)
        run<__nv_bfloat16>(p, q, k, v, state_in, ksum_in, out, state_out, ksum_out, s);
    else if (p.dtype == CHELA_DTYPE_F16)
        run<__half>(p, q, k, v, state_in, ksum_in, out, state_out, ksum_out, s);
    else
        run<float>(p, q, k, v, state_in, ksum_in, out, state_out, ksum_out, s);
}

}  // namespace chela::cuda::tiled::la
