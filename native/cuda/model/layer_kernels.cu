// Kernels of layer_kernels.h. Row-wise kernels run one warp per row with the row in registers
// where its width is a multiple of 128 (the *_vec kernels), else one CTA per row (rows are d .. f
// wide, a few thousand floats at most); element-wise ones a grid-stride loop. Launch errors become
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
#include <cstdint>
#include <type_traits>

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

// The row kernels' vectorised variants: one warp per row, the row in registers (KC 16-byte chunks
// of 4 floats per lane: rows up to 128 KC wide), 16-byte loads of f32 and 8-byte accesses of fp16,
// warp reductions only. The scalar one-CTA-per-row kernels moved 1.4-1.7 TB/s at the bench layer
// (H200 run 62: norm 277 us, attention output 609, for 0.38 and 1.0 GB); they remain for the
// shapes these do not take (row widths not a multiple of 128 or past 4096, unaligned P slices).
constexpr int kVecRows = 8;  // rows (warps) per CTA

__device__ __forceinline__ void store4(float* p, float4 v) { *reinterpret_cast<float4*>(p) = v; }
__device__ __forceinline__ void store4(__half* p, float4 v) {
    const __half2 lo = __halves2half2(to_half(v.x), to_half(v.y)), hi = __halves2half2(to_half(v.z), to_half(v.w));
    uint2 u;
    u.x = *reinterpret_cast<const uint32_t*>(&lo);
    u.y = *reinterpret_cast<const uint32_t*>(&hi);
    *reinterpret_cast<uint2*>(p) = u;
}
// The row of this warp in a *_vec kernel's launch (kVecRows warps per CTA).
__device__ __forceinline__ int64_t warp_row() { return int64_t(blockIdx.x) * kVecRows + threadIdx.x / 32; }
__device__ __forceinline__ float4 load4(const float* p) { return *reinterpret_cast<const float4*>(p); }
__device__ __forceinline__ float4 unpack4(uint2 u) {  // four fp16 as stored
    const float2 lo = __half22float2(*reinterpret_cast<const __half2*>(&u.x));
    const float2 hi = __half22float2(*reinterpret_cast<const __half2*>(&u.y));
    return make_float4(lo.x, lo.y, hi.x, hi.y);
}
__device__ __forceinline__ float4 load4(const __half* p) { return unpack4(*reinterpret_cast<const uint2*>(p)); }

// norm_kernel's arithmetic (mean, then the centred sum of squares, both over the registers).
template <int KC, class Out>
__global__ void __launch_bounds__(32 * kVecRows) norm_vec_kernel(int64_t rows, int n, const float* x, const float* w,
                                                                 const float* b, float eps, bool rms, Out* y) {
    const int lane = static_cast<int>(threadIdx.x % 32);
    const int64_t row = warp_row();
    if (row >= rows) return;
    const int chunks = n / 128;
    const float* xr = x + row * n;
    float4 v[KC];
    // Every load issued before the first use: a sum in the same loop waited for each load in turn.
#pragma unroll
    for (int i = 0; i < KC; ++i)
        if (i < chunks) v[i] = load4(xr + 4 * (32 * i + lane));
    float s = 0.f;
#pragma unroll
    for (int i = 0; i < KC; ++i)
        if (i < chunks) s += (v[i].x + v[i].y) + (v[i].z + v[i].w);
    const float mean = rms ? 0.f : combine::warp_sum(s) / float(n);
    float s2 = 0.f;
#pragma unroll
    for (int i = 0; i < KC; ++i) {
        if (i >= chunks) continue;
        const float a = v[i].x - mean, bb = v[i].y - mean, c = v[i].z - mean, d = v[i].w - mean;
        s2 += (a * a + bb * bb) + (c * c + d * d);
    }
    const float inv = rsqrtf(combine::warp_sum(s2) / float(n) + eps);
    Out* yr = y + row * n;
#pragma unroll
    for (int i = 0; i < KC; ++i) {
        if (i >= chunks) continue;
        const int c = 4 * (32 * i + lane);
        const float4 g = load4(w + c), o = b != nullptr ? load4(b + c) : make_float4(0.f, 0.f, 0.f, 0.f);
        store4(yr + c, make_float4((v[i].x - mean) * inv * g.x + o.x, (v[i].y - mean) * inv * g.y + o.y,
                                   (v[i].z - mean) * inv * g.z + o.z, (v[i].w - mean) * inv * g.w + o.w));
    }
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
    if (vv == nullptr && v_rev == nullptr) return;  // v is its own padded layout (v_is_padded)
    const bool denominator = a.attn_norm == CHELA_ATTN_NORM_DENOMINATOR;
    combine::HeadCursor cv(tid, a.dvp, step);
#pragma unroll 4
    for (int64_t c = threadIdx.x; c < v_w; c += blockDim.x, cv.advance()) {
        const int h = cv.h, j = cv.j;
        const __half vb = j < a.dv ? v[row * a.f + int64_t(h) * a.dv + j]
                                   : __float2half_rn(denominator && j == a.dv ? 1.f : 0.f);
        if (vv != nullptr) vv[row * v_w + c] = vb;
        if (v_rev != nullptr) v_rev[rev * v_w + c] = vb;
    }
}

// attention_inputs_kernel's causal case with unpadded heads (dkp = dk) and V as its own padded
// values (vv, v_rev null): q, k = phi(SiLU(Z) * gamma + beta) over the e columns of Z, one warp
// per row, four columns per lane and step (the CTA-per-row kernel left half its threads idle at
// e = 128: 85 us at the bench layer, H200 run 64).
__global__ void __launch_bounds__(32 * kVecRows) attention_inputs_vec_kernel(int64_t rows, int e, int64_t pw, int64_t z_off,
                                                                             int fm, const __half* p, const float* gamma,
                                                                             const float* beta, __half* q, __half* k) {
    const int lane = static_cast<int>(threadIdx.x % 32);
    const int64_t row = warp_row();
    if (row >= rows) return;
    const __half* zr = p + row * pw + z_off;
    for (int c = 4 * lane; c < e; c += 128) {
        const float4 z = load4(zr + c), gq = load4(gamma + c), bq = load4(beta + c), gk = load4(gamma + e + c),
                     bk = load4(beta + e + c);
        const float s[4] = {silu(z.x), silu(z.y), silu(z.z), silu(z.w)};
        store4(q + row * e + c, make_float4(feature_map(fm, s[0] * gq.x + bq.x), feature_map(fm, s[1] * gq.y + bq.y),
                                            feature_map(fm, s[2] * gq.z + bq.z), feature_map(fm, s[3] * gq.w + bq.w)));
        store4(k + row * e + c, make_float4(feature_map(fm, s[0] * gk.x + bk.x), feature_map(fm, s[1] * gk.y + bk.y),
                                            feature_map(fm, s[2] * gk.z + bk.z), feature_map(fm, s[3] * gk.w + bk.w)));
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

// attention_output_kernel's common causal case (combine_row's first branch: no diagonal, no
// denominator, dvp = dv) vectorised: out = (rmsnorm(o) or o) * SiLU(R), R at p + row * p_stride + r_off.
template <int KC>
__global__ void __launch_bounds__(32 * kVecRows) attention_output_vec_kernel(int64_t rows, int f, int64_t p_stride,
                                                                             int64_t r_off, const float* o,
                                                                             const __half* p, const float* norm_w,
                                                                             bool rms, float eps, __half* out) {
    const int lane = static_cast<int>(threadIdx.x % 32);
    const int64_t row = warp_row();
    if (row >= rows) return;
    const int chunks = f / 128;
    const float* orow = o + row * f;
    const __half* r = p + row * p_stride + r_off;
    // The row's o and R loads all issued before the first use (a sum in the loading loop waited for
    // each load in turn: 621 us at the bench layer, H200 run 63, as slow as the scalar kernel).
    float4 v[KC];
    uint2 rz[KC];
#pragma unroll
    for (int i = 0; i < KC; ++i) {
        if (i >= chunks) continue;
        const int c = 4 * (32 * i + lane);
        v[i] = load4(orow + c);
        rz[i] = *reinterpret_cast<const uint2*>(r + c);
    }
    float s2 = 0.f;
#pragma unroll
    for (int i = 0; i < KC; ++i)
        if (i < chunks) s2 += (v[i].x * v[i].x + v[i].y * v[i].y) + (v[i].z * v[i].z + v[i].w * v[i].w);
    const float inv = rms ? rsqrtf(combine::warp_sum(s2) / float(f) + eps) : 1.f;
    __half* yr = out + row * f;
#pragma unroll
    for (int i = 0; i < KC; ++i) {
        if (i >= chunks) continue;
        const int c = 4 * (32 * i + lane);
        const float4 g = rms ? load4(norm_w + c) : make_float4(1.f, 1.f, 1.f, 1.f);
        const float4 z = unpack4(rz[i]);
        store4(yr + c, make_float4(v[i].x * inv * g.x * silu(z.x), v[i].y * inv * g.y * silu(z.y),
                                   v[i].z * inv * g.z * silu(z.z), v[i].w * inv * g.w * silu(z.w)));
    }
}

// gated_residual_kernel vectorised: one warp per row, four columns per lane and step.
__global__ void __launch_bounds__(32 * kVecRows) gated_residual_vec_kernel(int64_t rows, int d, int64_t pw,
                                                                           const __half* p, const float* hd,
                                                                           const float* x, float* y) {
    const int lane = static_cast<int>(threadIdx.x % 32);
    const int64_t row = warp_row();
    if (row >= rows) return;
    const __half* u = p + row * pw;
    const __half* hx = u + pw - d;
    const float *hr = hd + row * d, *xr = x + row * d;
    float* yr = y + row * d;
#pragma unroll 4
    for (int c = 4 * lane; c < d; c += 128) {
        const float4 g = load4(u + c), a = load4(hx + c), h = load4(hr + c), xv = load4(xr + c);
        auto one = [](float g1, float a1, float h1, float x1) { return x1 + sigmoid(g1) * (silu(a1 + h1) - x1); };
        store4(yr + c, make_float4(one(g.x, a.x, h.x, xv.x), one(g.y, a.y, h.y, xv.y), one(g.z, a.z, h.z, xv.z),
                                   one(g.w, a.w, h.w, xv.w)));
    }
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

// Whether the vectorised row kernels take rows of `n` (a multiple of 128, at most 4096) at these
// addresses (16-byte aligned f32, 8-byte aligned fp16 rows: the allocations are 256-byte aligned,
// so the row widths decide).
bool vec_rows(int64_t n) { return n % 128 == 0 && n <= 4096; }
bool aligned(const void* p, int bytes) { return reinterpret_cast<uintptr_t>(p) % static_cast<uintptr_t>(bytes) == 0; }
unsigned vec_grid(int64_t rows) { return static_cast<unsigned>((rows + kVecRows - 1) / kVecRows); }

// Runs launch(KC) with the smallest KC in {8, 16, 32}, at most kMax, that holds n / 128 chunks
// (the caller has checked n <= 128 kMax).
template <int kMax, class Launch>
void with_chunks(int64_t n, Launch launch) {
    if (n <= 1024) launch(std::integral_constant<int, 8>{});
    else if (kMax == 16 || n <= 2048) launch(std::integral_constant<int, 16>{});
    else if constexpr (kMax >= 32) launch(std::integral_constant<int, 32>{});
}

void norm_rows(void* stream, int64_t rows, int64_t n, const float* x, const float* w, const float* b, float eps,
               bool rms, void* y, bool y_f16) {
    if (rows == 0) return;
    if (vec_rows(n) && aligned(x, 16) && aligned(w, 16) && (b == nullptr || aligned(b, 16)) && aligned(y, 16)) {
        with_chunks<32>(n, [&](auto kc) {
            constexpr int KC = decltype(kc)::value;
            const int ni = static_cast<int>(n);
            if (y_f16)
                norm_vec_kernel<KC><<<vec_grid(rows), 32 * kVecRows, 0, as_stream(stream)>>>(
                    rows, ni, x, w, b, eps, rms, static_cast<__half*>(y));
            else
                norm_vec_kernel<KC><<<vec_grid(rows), 32 * kVecRows, 0, as_stream(stream)>>>(
                    rows, ni, x, w, b, eps, rms, static_cast<float*>(y));
        });
        launched("norm");
        return;
    }
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
    const int64_t rows = a.B * a.L;
    if (vv == nullptr && q_rev == nullptr && v_rev == nullptr && a.dkp == a.dk && a.e % 4 == 0 && a.d % 4 == 0 &&
        a.p_width % 4 == 0 && aligned(p, 8) && aligned(gamma, 16) && aligned(beta, 16) && aligned(q, 8) &&
        aligned(k, 8)) {
        attention_inputs_vec_kernel<<<vec_grid(rows), 32 * kVecRows, 0, as_stream(stream)>>>(
            rows, static_cast<int>(a.e), a.p_width, a.d, a.feature_map, static_cast<const hf*>(p), gamma, beta,
            static_cast<hf*>(q), static_cast<hf*>(k));
        launched("attention inputs");
        return;
    }
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
    const int64_t r_off = a.d + a.e;  // R = ZR[e:] in P = [U | ZR | Hx]
    const bool simple = !a.bidirectional && a.dvp == a.dv && a.attn_norm != CHELA_ATTN_NORM_DENOMINATOR;
    if (simple && vec_rows(a.f) && a.f <= 2048 && a.p_width % 4 == 0 && r_off % 4 == 0 && aligned(o, 16) && aligned(p, 8) &&
        aligned(out, 8) && aligned(norm_w, 16)) {
        with_chunks<16>(a.f, [&](auto kc) {
            attention_output_vec_kernel<decltype(kc)::value><<<vec_grid(rows), 32 * kVecRows, 0, as_stream(stream)>>>(
                rows, static_cast<int>(a.f), a.p_width, r_off, static_cast<const float*>(o), static_cast<const hf*>(p),
                norm_w, a.attn_norm == CHELA_ATTN_NORM_RMSNORM, a.eps, static_cast<hf*>(out));
        });
        launched("attention output");
        return;
    }
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
    if (d % 4 == 0 && p_width % 4 == 0 && aligned(p, 8) && aligned(hd, 16) && aligned(x, 16) && aligned(y, 16)) {
        gated_residual_vec_kernel<<<vec_grid(rows), 32 * kVecRows, 0, as_stream(stream)>>>(
            rows, static_cast<int>(d), p_width, static_cast<const __half*>(p), hd, x, y);
        launched("gated residual");
        return;
    }
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
