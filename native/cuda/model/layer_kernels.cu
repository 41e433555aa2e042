// Kernels of layer_kernels.h. Row-wise kernels run one CTA per row (rows are d .. f wide, a few
// thousand floats at most), element-wise ones a grid-stride loop. Launch errors become
// chela::Error(CHELA_ERR_DEVICE).
#include "layer_kernels.h"

#include "cuda/attention_combine.cuh"
#include "cuda/feature_map.cuh"
#include "cuda/stream_buffer.cuh"

#include "core/error.h"

#include <chela/chela.h>

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>

namespace chela::cuda::model {

namespace {

constexpr int kThreads = 256;

void check(cudaError_t err, const char* what) {
    if (err == cudaSuccess) return;
    (void)cudaGetLastError();
    fail(CHELA_ERR_DEVICE, "model forward (CUDA): ", what, ": ", cudaGetErrorName(err), ": ", cudaGetErrorString(err));
}

void launched(const char* what) { check(cudaGetLastError(), what); }

unsigned grid_for(int64_t n) { return static_cast<unsigned>(std::clamp<int64_t>((n + kThreads - 1) / kThreads, 1, 65535 * 8)); }

cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

__device__ __forceinline__ float silu(float z) { return z / (1.0f + expf(-z)); }
__device__ __forceinline__ float sigmoid(float z) { return 1.0f / (1.0f + expf(-z)); }

// fp16 operands: 10 mantissa bits (bf16 has 7), range clamped to +-65504 so that a huge activation
// saturates instead of becoming inf and NaN downstream.
__device__ __forceinline__ __half to_half(float x) { return __float2half_rn(fminf(fmaxf(x, -65504.f), 65504.f)); }

__device__ __forceinline__ void store(float* p, float v) { *p = v; }
__device__ __forceinline__ void store(__half* p, float v) { *p = to_half(v); }


using combine::block_sum;

__global__ void bad_token_kernel(const int32_t* tokens, int64_t n, int64_t vocab, unsigned long long* first) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        if (tokens[i] < 0 || tokens[i] >= vocab) atomicMin(first, static_cast<unsigned long long>(i));
}

__global__ void embed_kernel(const int32_t* tokens, const float* embed, int64_t rows, int64_t d, float* out) {
    const int64_t n = rows * d;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        out[i] = embed[int64_t(tokens[i / d]) * d + i % d];
}

template <class Out>
__global__ void norm_kernel(int64_t n, const float* x, const float* w, const float* b, float eps, bool rms, Out* y) {
    __shared__ float scratch[kThreads / 32];
    const float* xr = x + blockIdx.x * n;
    Out* yr = y + blockIdx.x * n;
    float mean = 0.f;
    if (!rms) {
        float s = 0.f;
#pragma unroll 4
        for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += xr[i];
        mean = block_sum(s, scratch) / float(n);
    }
    float s2 = 0.f;
#pragma unroll 4
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        const float c = xr[i] - mean;
        s2 += c * c;
    }
    const float inv = rsqrtf(block_sum(s2, scratch) / float(n) + eps);
#pragma unroll 4
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
        store(yr + i, (xr[i] - mean) * inv * w[i] + (b != nullptr ? b[i] : 0.f));
}

__global__ void cast_kernel(int64_t n, const float* x, __half* y) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        y[i] = to_half(x[i]);
}

__global__ void attention_inputs_kernel(AttentionLayout a, const __half* p, const __half* v, const float* gamma,
                                        const float* beta, __half* q, __half* k, __half* vv, __half* q_rev,
                                        __half* k_rev, __half* v_rev) {
    const int64_t row = blockIdx.x, b = row / a.L, t = row % a.L;
    const int64_t rev = b * a.L + (a.L - 1 - t);
    const __half* zr = p + row * a.p_width + a.d;
    const int64_t qk_w = int64_t(a.H) * a.dkp, v_w = int64_t(a.H) * a.dvp;
    const int tid = static_cast<int>(threadIdx.x), step = static_cast<int>(blockDim.x);
    combine::HeadCursor cq(tid, a.dkp, step);
#pragma unroll 2
    for (int64_t c = threadIdx.x; c < qk_w; c += blockDim.x, cq.advance()) {
        const int h = cq.h, j = cq.j;
        float qv = 0.f, kv = 0.f;
        if (j < a.dk) {
            const int64_t col = int64_t(h) * a.dk + j;
            const float z = silu(__half2float(zr[col]));
            qv = feature_map(a.feature_map, z * gamma[col] + beta[col]);
            kv = feature_map(a.feature_map, z * gamma[a.e + col] + beta[a.e + col]);
        }
        const __half qb = to_half(qv), kb = to_half(kv);
        q[row * qk_w + c] = qb;
        k[row * qk_w + c] = kb;
        if (q_rev != nullptr) {
            q_rev[rev * qk_w + c] = qb;
            k_rev[rev * qk_w + c] = kb;
        }
    }
    const bool denominator = a.attn_norm == CHELA_ATTN_NORM_DENOMINATOR;
    combine::HeadCursor cv(tid, a.dvp, step);
#pragma unroll 4
    for (int64_t c = threadIdx.x; c < v_w; c += blockDim.x, cv.advance()) {
        const int h = cv.h, j = cv.j;
        const __half vb = j < a.dv ? v[row * a.f + int64_t(h) * a.dv + j]
                                   : __float2half_rn(denominator && j == a.dv ? 1.f : 0.f);
        vv[row * v_w + c] = vb;
        if (v_rev != nullptr) v_rev[rev * v_w + c] = vb;
    }
}

// Dynamic shared memory: f floats (the row) + 2 * H floats (diagonal, denominator).
__global__ void attention_output_kernel(AttentionLayout a, const float* o, const float* o_rev, const __half* q,
                                        const __half* k, const __half* vv, const __half* p, const float* norm_w,
                                        __half* out) {
    extern __shared__ float smem[];
    const int warp = static_cast<int>(threadIdx.x / 32);
    const int64_t row = int64_t(blockIdx.x) * combine::kRowsPerCta + warp;
    if (row >= a.B * a.L) return;  // whole warps only: combine_row syncs within the warp
    const int64_t b = row / a.L, t = row % a.L;
    const int64_t rev = b * a.L + (a.L - 1 - t);
    const int64_t qk_w = int64_t(a.H) * a.dkp, v_w = int64_t(a.H) * a.dvp;
    const combine::RowShape shape{a.H, a.dv, a.dvp, a.f, a.bidirectional, a.attn_norm, a.scale, a.eps};
    const __half* r = p + row * a.p_width + a.d + a.e;
    combine::combine_row(
        shape, [&](int64_t i) { return o[row * v_w + i]; }, [&](int64_t i) { return o_rev[rev * v_w + i]; },
        [&](int h, int j) { return __half2float(vv[row * v_w + int64_t(h) * a.dvp + j]); },
        [&](int h) {
            float dot = 0.f;
            for (int j = 0; j < a.dk; ++j)
                dot += __half2float(q[row * qk_w + h * a.dkp + j]) * __half2float(k[row * qk_w + h * a.dkp + j]);
            return dot;
        },
        norm_w, [&](int64_t c, float x) { out[row * a.f + c] = to_half(x * silu(__half2float(r[c]))); },
        smem + warp * 2 * a.H);
}

// One CTA per row: no per-element division, coalesced along the row.
__global__ void gated_residual_kernel(int64_t d, int64_t pw, const __half* p, const float* hd, const float* x,
                                      float* y) {
    const int64_t row = blockIdx.x;
    const __half* u = p + row * pw;
    const __half* hx = u + pw - d;
    const float *hr = hd + row * d, *xr = x + row * d;
    float* yr = y + row * d;
#pragma unroll 4
    for (int64_t c = threadIdx.x; c < d; c += blockDim.x) {
        const float h = silu(__half2float(hx[c]) + hr[c]);
        yr[c] = xr[c] + sigmoid(__half2float(u[c])) * (h - xr[c]);
    }
}

__global__ void add_kernel(int64_t n, const float* a, float* y) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        y[i] += a[i];
}

// One thread per (sequence, channel); consecutive threads read consecutive channels. fp64 sum as on
// the CPU (long sequences).
__global__ void pool_kernel(int64_t B, int64_t L, int64_t length, int64_t d, const float* hidden, bool mean,
                            float* out) {
    const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
    if (i >= B * d) return;
    const int64_t b = i / d, c = i % d;
    const float* h = hidden + b * L * d + c;
    if (!mean) {
        out[i] = h[(length - 1) * d];
        return;
    }
    double s = 0.0;
    for (int64_t t = 0; t < length; ++t) s += h[t * d];
    out[i] = static_cast<float>(s / double(length));
}

}  // namespace

int64_t first_bad_token(void* stream, const int32_t* tokens, int64_t n, int64_t vocab) {
    auto s = as_stream(stream);
    StreamBuffer first(sizeof(unsigned long long), s, "model forward (CUDA): token check buffer");
    unsigned long long host = ULLONG_MAX;
    check(cudaMemsetAsync(first.as<void>(), 0xff, sizeof(host), s), "token check");
    bad_token_kernel<<<grid_for(n), kThreads, 0, s>>>(tokens, n, vocab, first.as<unsigned long long>());
    launched("token check");
    check(cudaMemcpyAsync(&host, first.as<void>(), sizeof(host), cudaMemcpyDeviceToHost, s), "token check");
    check(cudaStreamSynchronize(s), "token check");
    return host == ULLONG_MAX ? -1 : static_cast<int64_t>(host);
}

void embed_rows(void* stream, const int32_t* tokens, const float* embed, int64_t rows, int64_t d, float* out) {
    embed_kernel<<<grid_for(rows * d), kThreads, 0, as_stream(stream)>>>(tokens, embed, rows, d, out);
    launched("embedding");
}

void norm_rows(void* stream, int64_t rows, int64_t n, const float* x, const float* w, const float* b, float eps,
               bool rms, void* y, bool y_f16) {
    if (rows == 0) return;
    const auto grid = static_cast<unsigned>(rows);
    if (y_f16)
        norm_kernel<<<grid, kThreads, 0, as_stream(stream)>>>(n, x, w, b, eps, rms, static_cast<__half*>(y));
    else
        norm_kernel<<<grid, kThreads, 0, as_stream(stream)>>>(n, x, w, b, eps, rms, static_cast<float*>(y));
    launched("norm");
}

void to_f16(void* stream, int64_t n, const float* x, void* y) {
    cast_kernel<<<grid_for(n), kThreads, 0, as_stream(stream)>>>(n, x, static_cast<__half*>(y));
    launched("fp16 cast");
}

void attention_inputs(void* stream, const AttentionLayout& a, const void* p, const void* v, const float* gamma,
                      const float* beta, void* q, void* k, void* vv, void* q_rev, void* k_rev, void* v_rev) {
    using hf = __half;
    attention_inputs_kernel<<<static_cast<unsigned>(a.B * a.L), kThreads, 0, as_stream(stream)>>>(
        a, static_cast<const hf*>(p), static_cast<const hf*>(v), gamma, beta, static_cast<hf*>(q), static_cast<hf*>(k), static_cast<hf*>(vv), static_cast<hf*>(q_rev),
        static_cast<hf*>(k_rev), static_cast<hf*>(v_rev));
    launched("attention inputs");
}

void attention_output(void* stream, const AttentionLayout& a, const void* o, const void* o_rev, const void* q,
                      const void* k, const void* vv, const void* p, const float* norm_w, void* out) {
    using hf = __half;
    const size_t smem = sizeof(float) * 2 * size_t(a.H) * combine::kRowsPerCta;  // diagonal, denominator
    if (smem > 48 * 1024)
        fail(CHELA_ERR_UNSUPPORTED, "model forward (CUDA): ", a.H, " heads exceed the attention epilogue's buffer");
    const int64_t rows = a.B * a.L;
    attention_output_kernel<<<static_cast<unsigned>((rows + combine::kRowsPerCta - 1) / combine::kRowsPerCta),
                              32 * combine::kRowsPerCta, smem, as_stream(stream)>>>(
        a, static_cast<const float*>(o), static_cast<const float*>(o_rev), static_cast<const hf*>(q),
        static_cast<const hf*>(k), static_cast<const hf*>(vv), static_cast<const hf*>(p), norm_w,
        static_cast<hf*>(out));
    launched("attention output");
}

void gated_residual(void* stream, int64_t rows, int64_t d, int64_t p_width, const void* p, const float* hd,
                    const float* x, float* y) {
    if (rows == 0) return;
    gated_residual_kernel<<<static_cast<unsigned>(rows), kThreads, 0, as_stream(stream)>>>(
        d, p_width, static_cast<const __half*>(p), hd, x, y);
    launched("gated residual");
}

void add_into(void* stream, int64_t n, const float* a, float* y) {
    add_kernel<<<grid_for(n), kThreads, 0, as_stream(stream)>>>(n, a, y);
    launched("residual add");
}

void pool_rows(void* stream, int64_t B, int64_t L, int64_t length, int64_t d, const float* hidden, bool mean,
               float* out) {
    pool_kernel<<<grid_for(B * d), kThreads, 0, as_stream(stream)>>>(B, L, length, d, hidden, mean, out);
    launched("pooling");
}

}  // namespace chela::cuda::model
