// CUDA tiled linear attention, forward, causal — first kernel generation (tensor cores via WMMA).
//
// One CTA per (batch, head, 64 value columns) walks the sequence in chunks of C = 64 rows keeping
// its slice of the running state S (dk x 64, f32) in shared memory:
//   A   = (phi(Q_c) phi(K_c)^T) .* s lambda^{i-j} [j <= i]          (C x C, tensor cores)
//   O_c = A V_c + s lambda^{i+1} phi(Q_c) S                          (tensor cores)
//   S   = lambda^n S + (phi(K_c) .* lambda^{n-1-j})^T V_c            (tensor cores)
// q, k and v are read once per value block and o is written once. Known limits of this generation
// (docs/gpu.md): 1 CTA per SM (160 KB of shared memory), no load pipelining, S rounded to the input
// type for the Q S product (as fla does), fragments staged through shared memory for the row
// scaling. The CuTe/wgmma generation replaces it.
#include "linear_attention.h"

#include <chela/chela.h>

#include "core/error.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <mma.h>

namespace chela::cuda {

namespace {

using namespace nvcuda;

constexpr int C = 64;        // chunk rows
constexpr int NB = 64;       // value columns per CTA
constexpr int kThreads = 128;  // 4 warps, each owning 16 rows of a chunk

template <typename T> __device__ inline float to_f(T x);
template <> __device__ inline float to_f(__nv_bfloat16 x) { return __bfloat162float(x); }
template <> __device__ inline float to_f(__half x) { return __half2float(x); }
template <typename T> __device__ inline T from_f(float x);
template <> __device__ inline __nv_bfloat16 from_f(float x) { return __float2bfloat16(x); }
template <> __device__ inline __half from_f(float x) { return __float2half(x); }

__device__ inline float feature(int map, float x) {
    switch (map) {
        case CHELA_FEATURE_ELU1: return x > 0.f ? x + 1.f : __expf(x);
        case CHELA_FEATURE_RELU: return fmaxf(x, 0.f);
        case CHELA_FEATURE_SILU: return x / (1.f + __expf(-x));
        default: return x;
    }
}

template <typename T>
struct Args {
    const T* q;
    const T* k;
    const T* v;
    T* out;            // written when out_f32 is null
    float* out_f32;    // rmsnorm: unnormalised rows go here first
    const float* decay;
    const float* state_in;
    float* state_out;
    int L, e, f, H, dv;
    float scale;
    int fmap;
};

template <int DK>
struct Smem {
    static constexpr size_t q = 0;
    static constexpr size_t k = q + C * DK * 2;
    static constexpr size_t kd = k + C * DK * 2;
    static constexpr size_t v = kd + C * DK * 2;
    static constexpr size_t s = v + C * NB * 2;
    static constexpr size_t sb = s + DK * NB * 4;
    static constexpr size_t a = sb + DK * NB * 2;
    static constexpr size_t ab = a + C * C * 4;
    static constexpr size_t o = ab + C * C * 2;
    static constexpr size_t qs = o + C * NB * 4;
    static constexpr size_t bytes = qs + C * NB * 4;
};

// Copies rows [t0, t0+C) x `width` columns (from column col0 of rows of length `stride`) into
// shared memory, 8 elements (16 bytes) per access, applying phi; rows past L become zeros.
template <typename T>
__device__ void load_rows(T* dst, const T* src, int t0, int L, int stride, int col0, int width, bool phi, int fmap) {
    const int vecs = width / 8;
    for (int idx = threadIdx.x; idx < C * vecs; idx += kThreads) {
        const int r = idx / vecs, cv = idx % vecs;
        uint4 raw = make_uint4(0, 0, 0, 0);
        if (t0 + r < L) raw = *reinterpret_cast<const uint4*>(src + static_cast<size_t>(t0 + r) * stride + col0 + cv * 8);
        if (phi && t0 + r < L) {
            T* e8 = reinterpret_cast<T*>(&raw);
#pragma unroll
            for (int i = 0; i < 8; ++i) e8[i] = from_f<T>(feature(fmap, to_f(e8[i])));
        }
        *reinterpret_cast<uint4*>(dst + r * width + cv * 8) = raw;
    }
}

template <typename T, int DK>
__global__ void __launch_bounds__(kThreads, 1) causal_forward(Args<T> args) {
    extern __shared__ __align__(128) unsigned char smem[];
    using S = Smem<DK>;
    T* sQ = reinterpret_cast<T*>(smem + S::q);
    T* sK = reinterpret_cast<T*>(smem + S::k);
    T* sKd = reinterpret_cast<T*>(smem + S::kd);
    T* sV = reinterpret_cast<T*>(smem + S::v);
    float* sS = reinterpret_cast<float*>(smem + S::s);
    T* sSb = reinterpret_cast<T*>(smem + S::sb);
    float* sA = reinterpret_cast<float*>(smem + S::a);
    T* sAb = reinterpret_cast<T*>(smem + S::ab);
    float* sO = reinterpret_cast<float*>(smem + S::o);
    float* sQS = reinterpret_cast<float*>(smem + S::qs);

    const int blk = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int L = args.L, e = args.e, f = args.f;
    const float log_lambda = args.decay ? __logf(args.decay[h]) : 0.f;
    auto pw = [&](int n) { return args.decay ? __expf(static_cast<float>(n) * log_lambda) : 1.f; };

    const T* q = args.q + static_cast<size_t>(b) * L * e;
    const T* k = args.k + static_cast<size_t>(b) * L * e;
    const T* v = args.v + static_cast<size_t>(b) * L * f;
    const int qcol = h * DK, vcol = h * args.dv + blk * NB;
    const size_t state_base = (static_cast<size_t>(b) * args.H + h) * DK * args.dv + blk * NB;

    // Running state: from state_in or zeros.
    for (int i = threadIdx.x; i < DK * NB; i += kThreads) {
        const int r = i / NB, c = i % NB;
        const float x = args.state_in ? args.state_in[state_base + static_cast<size_t>(r) * args.dv + c] : 0.f;
        sS[i] = x;
        sSb[i] = from_f<T>(x);
    }

    for (int t0 = 0; t0 < L; t0 += C) {
        const int n = min(C, L - t0);
        load_rows(sQ, q, t0, L, e, qcol, DK, args.fmap != CHELA_FEATURE_IDENTITY, args.fmap);
        load_rows(sK, k, t0, L, e, qcol, DK, args.fmap != CHELA_FEATURE_IDENTITY, args.fmap);
        load_rows(sV, v, t0, L, f, vcol, NB, false, 0);
        __syncthreads();

        // Scores for this warp's 16 rows: sA = sQ sK^T.
        const int r0 = warp * 16;
        for (int jt = 0; jt < C / 16; ++jt) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::fill_fragment(acc, 0.f);
            for (int kk = 0; kk < DK / 16; ++kk) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> fa;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> fb;
                wmma::load_matrix_sync(fa, sQ + r0 * DK + kk * 16, DK);
                wmma::load_matrix_sync(fb, sK + jt * 16 * DK + kk * 16, DK);
                wmma::mma_sync(acc, fa, fb, acc);
            }
            wmma::store_matrix_sync(sA + r0 * C + jt * 16, acc, C, wmma::mem_row_major);
        }
        __syncwarp();
        // Causal decay mask and scale, rounded to T for the next product.
        for (int x = lane; x < 16 * C; x += 32) {
            const int i = r0 + x / C, j = x % C;
            const float w = (j <= i && t0 + j < L) ? args.scale * pw(i - j) * sA[i * C + j] : 0.f;
            sAb[i * C + j] = from_f<T>(w);
        }
        __syncwarp();
        // O = A V and QS = Q S for this warp's rows.
        for (int ct = 0; ct < NB / 16; ++ct) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::fill_fragment(acc, 0.f);
            for (int kk = 0; kk < C / 16; ++kk) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> fa;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> fb;
                wmma::load_matrix_sync(fa, sAb + r0 * C + kk * 16, C);
                wmma::load_matrix_sync(fb, sV + kk * 16 * NB + ct * 16, NB);
                wmma::mma_sync(acc, fa, fb, acc);
            }
            wmma::store_matrix_sync(sO + r0 * NB + ct * 16, acc, NB, wmma::mem_row_major);
            wmma::fill_fragment(acc, 0.f);
            for (int kk = 0; kk < DK / 16; ++kk) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> fa;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> fb;
                wmma::load_matrix_sync(fa, sQ + r0 * DK + kk * 16, DK);
                wmma::load_matrix_sync(fb, sSb + kk * 16 * NB + ct * 16, NB);
                wmma::mma_sync(acc, fa, fb, acc);
            }
            wmma::store_matrix_sync(sQS + r0 * NB + ct * 16, acc, NB, wmma::mem_row_major);
        }
        __syncwarp();
        for (int x = lane; x < 16 * NB; x += 32) {
            const int i = r0 + x / NB, c = x % NB;
            if (t0 + i >= L) continue;
            const float val = sO[i * NB + c] + args.scale * pw(i + 1) * sQS[i * NB + c];
            const size_t at = (static_cast<size_t>(b) * L + t0 + i) * f + vcol + c;
            if (args.out_f32) args.out_f32[at] = val;
            else args.out[at] = from_f<T>(val);
        }
        __syncthreads();  // every warp is done with sSb and sK before the state update

        // Decayed keys: K_d[j] = phi(k_j) lambda^{n-1-j} (rows >= n are zeros already).
        for (int x = threadIdx.x; x < C * DK; x += kThreads) {
            const int j = x / DK;
            sKd[x] = j < n ? from_f<T>(to_f(sK[x]) * pw(n - 1 - j)) : from_f<T>(0.f);
        }
        __syncthreads();
        // S = lambda^n S + K_d^T V: warp owns DK/4 rows of S.
        const float decay_n = pw(n);
        for (int rt = 0; rt < DK / 64; ++rt) {
            const int sr = warp * (DK / 4) + rt * 16;
            for (int ct = 0; ct < NB / 16; ++ct) {
                wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
                wmma::load_matrix_sync(acc, sS + sr * NB + ct * 16, NB, wmma::mem_row_major);
                for (int i = 0; i < acc.num_elements; ++i) acc.x[i] *= decay_n;
                for (int kk = 0; kk < C / 16; ++kk) {
                    wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::col_major> fa;
                    wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> fb;
                    wmma::load_matrix_sync(fa, sKd + kk * 16 * DK + sr, DK);
                    wmma::load_matrix_sync(fb, sV + kk * 16 * NB + ct * 16, NB);
                    wmma::mma_sync(acc, fa, fb, acc);
                }
                wmma::store_matrix_sync(sS + sr * NB + ct * 16, acc, NB, wmma::mem_row_major);
            }
        }
        __syncthreads();
        for (int i = threadIdx.x; i < DK * NB; i += kThreads) sSb[i] = from_f<T>(sS[i]);
        __syncthreads();
    }
    if (args.state_out) {
        for (int i = threadIdx.x; i < DK * NB; i += kThreads) {
            const int r = i / NB, c = i % NB;
            args.state_out[state_base + static_cast<size_t>(r) * args.dv + c] = sS[i];
        }
    }
}

// RMSNorm over rows of width f (f32 in) times weight, written as T.
template <typename T>
__global__ void rms_rows(const float* in, const float* w, int f, float eps, T* out) {
    const size_t row = blockIdx.x;
    const float* x = in + row * f;
    float s2 = 0.f;
    for (int c = threadIdx.x; c < f; c += blockDim.x) s2 += x[c] * x[c];
    __shared__ float part[32];
    for (int o = 16; o > 0; o >>= 1) s2 += __shfl_xor_sync(0xffffffffu, s2, o);
    if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = s2;
    __syncthreads();
    if (threadIdx.x < 32) {
        s2 = threadIdx.x < blockDim.x / 32 ? part[threadIdx.x] : 0.f;
        for (int o = 16; o > 0; o >>= 1) s2 += __shfl_xor_sync(0xffffffffu, s2, o);
        if (threadIdx.x == 0) part[0] = s2;
    }
    __syncthreads();
    const float inv = rsqrtf(part[0] / static_cast<float>(f) + eps);
    for (int c = threadIdx.x; c < f; c += blockDim.x) out[row * f + c] = from_f<T>(x[c] * inv * w[c]);
}

void check(cudaError_t err, const char* what) {
    if (err != cudaSuccess) {
        (void)cudaGetLastError();
        fail(CHELA_ERR_DEVICE, "linear_attention (CUDA): ", what, ": ", cudaGetErrorString(err));
    }
}

template <typename T, int DK>
void launch(cudaStream_t stream, const cpu::LinearAttentionParams& p, const void* q, const void* k, const void* v,
            const float* state_in, void* out, float* state_out, float* workspace) {
    Args<T> a;
    a.q = static_cast<const T*>(q);
    a.k = static_cast<const T*>(k);
    a.v = static_cast<const T*>(v);
    a.out = static_cast<T*>(out);
    a.out_f32 = workspace;
    a.decay = p.decay;
    a.state_in = state_in;
    a.state_out = state_out;
    a.L = static_cast<int>(p.L);
    a.e = static_cast<int>(p.e);
    a.f = static_cast<int>(p.f);
    a.H = p.H;
    a.dv = static_cast<int>(p.f / p.H);
    a.scale = p.scale;
    a.fmap = p.feature_map;
    const size_t smem = Smem<DK>::bytes;
    check(cudaFuncSetAttribute(causal_forward<T, DK>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)),
          "cudaFuncSetAttribute");
    const dim3 grid(static_cast<unsigned>(a.dv / NB), static_cast<unsigned>(p.H), static_cast<unsigned>(p.B));
    causal_forward<T, DK><<<grid, kThreads, smem, stream>>>(a);
    check(cudaGetLastError(), "kernel launch");
    if (workspace) {
        rms_rows<T><<<static_cast<unsigned>(p.B * p.L), 256, 0, stream>>>(workspace, p.norm_weight, a.f, p.eps,
                                                                       static_cast<T*>(out));
        check(cudaGetLastError(), "rmsnorm launch");
    }
}

}  // namespace

bool supports(const cpu::LinearAttentionParams& p, int dtype, const char** why) {
    const int64_t dk = p.e / p.H, dv = p.f / p.H;
    if (!p.causal) return *why = "bidirectional attention is not in the CUDA kernel yet", false;
    if (dtype != CHELA_DTYPE_BF16 && dtype != CHELA_DTYPE_F16) return *why = "the CUDA kernel takes bf16 or f16 q/k/v/out", false;
    if (dk != 64 && dk != 128) return *why = "the CUDA kernel needs e/H in {64, 128}", false;
    if (dv % NB != 0) return *why = "the CUDA kernel needs f/H to be a multiple of 64", false;
    if (p.attn_norm == CHELA_ATTN_NORM_DENOMINATOR) return *why = "denominator normalisation is not in the CUDA kernel yet", false;
    if (p.L >= (int64_t{1} << 31) / p.f) return *why = "sequence too long for 32-bit row indexing", false;
    return true;
}

void linear_attention(int device, void* stream_ptr, const cpu::LinearAttentionParams& p, int dtype, const void* q,
                      const void* k, const void* v, const float* state_in, void* out, float* state_out) {
    const char* why = nullptr;
    if (!supports(p, dtype, &why)) fail(CHELA_ERR_UNSUPPORTED, "linear_attention (CUDA): ", why);
    check(cudaSetDevice(device), "cudaSetDevice");
    auto stream = static_cast<cudaStream_t>(stream_ptr);
    float* workspace = nullptr;
    if (p.attn_norm == CHELA_ATTN_NORM_RMSNORM)
        check(cudaMallocAsync(reinterpret_cast<void**>(&workspace), sizeof(float) * p.B * p.L * p.f, stream),
              "cudaMallocAsync");
    const int64_t dk = p.e / p.H;
    if (dtype == CHELA_DTYPE_BF16) {
        if (dk == 64) launch<__nv_bfloat16, 64>(stream, p, q, k, v, state_in, out, state_out, workspace);
        else launch<__nv_bfloat16, 128>(stream, p, q, k, v, state_in, out, state_out, workspace);
    } else {
        if (dk == 64) launch<__half, 64>(stream, p, q, k, v, state_in, out, state_out, workspace);
        else launch<__half, 128>(stream, p, q, k, v, state_in, out, state_out, workspace);
    }
    if (workspace) check(cudaFreeAsync(workspace, stream), "cudaFreeAsync");
}

}  // namespace chela::cuda
