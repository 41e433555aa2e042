// Dispatcher of the CUDA linear attention forward, plus its small kernels: the segment-state scan,
// the rmsnorm finish, and the fp32 SIMT path. The tensor-core kernel is in tiled_la_kernel.cuh.
#include "tiled_linear_attention.h"
#include "tiled_la_impl.h"
#include "env_switch.h"
#include "feature_map.cuh"
#include "numeric.cuh"
#include "stream_buffer.cuh"

#include "core/error.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <string>
#include <mutex>
#include <optional>

namespace chela::cuda::tiled {
namespace la {

void check_launch(const char* what) {
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) fail(CHELA_ERR_DEVICE, what, ": ", cudaGetErrorName(err), ": ", cudaGetErrorString(err));
}

namespace {



// seg[b,h,s] holds the state contribution of segment s (from zero); replaced by the state at the
// START of segment s. The state after the last segment goes to state_out.
__global__ void segment_scan_kernel(float* seg, const float* state_in, float* state_out, int H, int nseg,
                                    int seg_chunks, int64_t L, int64_t elems, const float* decay) {
    const int bh = blockIdx.y;
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= elems) return;
    const int h = bh % H;
    const float log2l = decay ? log2f(decay[h]) : 0.f;
    float S = state_in ? state_in[int64_t(bh) * elems + i] : 0.f;
    for (int sidx = 0; sidx < nseg; ++sidx) {
        float* p = seg + (int64_t(bh) * nseg + sidx) * elems + i;
        const float d = *p;
        *p = S;
        const int64_t len = std::min<int64_t>(int64_t(seg_chunks) * 64, L - int64_t(sidx) * seg_chunks * 64);
        const float ln = (decay && log2l != 0.f) ? exp2f(log2l * float(len)) : 1.f;
        S = S * ln + d;
    }
    if (state_out) state_out[int64_t(bh) * elems + i] = S;
}

// out[row, :] *= rsqrt(sum(rowsq[row, :]) / f + eps) * g. One warp per row.
template <class T>
__global__ void rmsnorm_finish_kernel(T* out, const float* rowsq, const float* g, int64_t rows, int64_t f,
                                      int nblk, float eps) {
    const int64_t row = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (row >= rows) return;
    float ss = 0.f;
    for (int i = lane; i < nblk; i += 32) ss += rowsq[row * nblk + i];
    for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
    const float r = rsqrtf(ss / float(f) + eps);
    T* p = out + row * f;
    for (int64_t c = lane; c < f; c += 32) p[c] = from_f<T>(to_f(p[c]) * r * g[c]);
}

// fp32 path: recurrent form S_t = lambda S_{t-1} + k_t^T v_t, o_t = s q_t S_t, exact fp32 arithmetic.
// CTA = (32 value columns, head, batch); 256 threads: lane = column, warp w holds rows w, w+8, ...
constexpr int kSimtMaxDk = 256;
__global__ void __launch_bounds__(256) simt_f32_kernel(const float* q, const float* k, const float* v, float* o,
                                                       int64_t L, int H, int dk, int dv, int64_t e, int64_t f,
                                                       float scale, const float* decay, int fm,
                                                       const float* state_in, float* state_out,
                                                       float* rowsq, int nblk) {
    __shared__ float sq[2][kSimtMaxDk], sk[2][kSimtMaxDk], sv[2][32], part[8][33];
    const int lane = threadIdx.x % 32, w = threadIdx.x / 32;
    const int h = blockIdx.y, b = blockIdx.z, col = blockIdx.x * 32 + lane;
    const bool colok = col < dv;
    const float lambda = decay ? decay[h] : 1.f;
    float S[kSimtMaxDk / 8];
    const int64_t sbase = (int64_t(b) * H + h) * int64_t(dk) * dv;
#pragma unroll
    for (int i = 0; i < kSimtMaxDk / 8; ++i) {
        const int d = w + 8 * i;
        S[i] = (state_in && d < dk && colok) ? state_in[sbase + int64_t(d) * dv + col] : 0.f;
    }
    for (int64_t t = 0; t < L; ++t) {
        const int buf = int(t & 1);
        const int64_t rq = (int64_t(b) * L + t) * e + int64_t(h) * dk;
        for (int d = threadIdx.x; d < dk; d += 256) {
            sq[buf][d] = feature_map(fm, q[rq + d]);
            sk[buf][d] = feature_map(fm, k[rq + d]);
        }
        if (threadIdx.x < 32) sv[buf][lane] = colok ? v[(int64_t(b) * L + t) * f + int64_t(h) * dv + col] : 0.f;
        __syncthreads();
        float acc = 0.f;
#pragma unroll
        for (int i = 0; i < kSimtMaxDk / 8; ++i) {
            const int d = w + 8 * i;
            if (d < dk) {
                S[i] = lambda * S[i] + sk[buf][d] * sv[buf][lane];
                acc += sq[buf][d] * S[i];
            }
        }
        part[w][lane] = acc;
        __syncthreads();
        if (w == 0) {
            float x = 0.f;
#pragma unroll
            for (int j = 0; j < 8; ++j) x += part[j][lane];
            x *= scale;
            if (colok) o[(int64_t(b) * L + t) * f + int64_t(h) * dv + col] = x;
            if (rowsq) {
                float ss = colok ? x * x : 0.f;
                for (int off = 16; off > 0; off >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, off);
                if (lane == 0) rowsq[(int64_t(b) * L + t) * nblk + h * (nblk / H) + blockIdx.x] = ss;
            }
        }
        // part[] is rewritten two syncs later, sq/sk/sv use the other buffer next step: one sync suffices
    }
    if (state_out) {
#pragma unroll
        for (int i = 0; i < kSimtMaxDk / 8; ++i) {
            const int d = w + 8 * i;
            if (d < dk && colok) state_out[sbase + int64_t(d) * dv + col] = S[i];
        }
    }
}

// A device attribute of the current device, cached per device (the dispatcher asks on every call).
template <cudaDeviceAttr kAttr>
int cached_attribute() {
    static std::mutex mu;
    static int cache[64] = {0};
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess) check_launch("cudaGetDevice");
    std::lock_guard<std::mutex> lock(mu);
    if (dev >= 0 && dev < 64 && cache[dev] > 0) return cache[dev];
    int n = 0;
    if (cudaDeviceGetAttribute(&n, kAttr, dev) != cudaSuccess) check_launch("cudaDeviceGetAttribute");
    if (dev >= 0 && dev < 64) cache[dev] = n;
    return n;
}
int sm_count() { return cached_attribute<cudaDevAttrMultiProcessorCount>(); }
int sm_major() { return cached_attribute<cudaDevAttrComputeCapabilityMajor>(); }

// CTAs of the tensor-core grid: one per (batch, head, run of `groups` value-column blocks).
int64_t grid_ctas(int64_t batch_heads, int dvblocks, int groups) {
    return batch_heads * int64_t((dvblocks + groups - 1) / groups);
}

// Whether a wgmma grid alone gives nearly every SM (7/8 of them) a CTA: such a grid runs unsplit
// (no segments), and the group rule counts it as filling the chip.
bool fills_chip(int64_t ctas) { return ctas >= int64_t(sm_count()) * 7 / 8; }

Plan make_plan(const LinearAttentionParams& p) {
    if (p.B < 1 || p.L < 0 || p.H < 1 || p.e < 1 || p.f < 1)
        fail(CHELA_ERR_SHAPE, "linear attention (cuda): bad sizes B=", p.B, " L=", p.L, " H=", p.H, " e=", p.e, " f=", p.f);
    if (p.e % p.H != 0 || p.f % p.H != 0)
        fail(CHELA_ERR_SHAPE, "linear attention (cuda): n_heads ", p.H, " must divide e=", p.e, " and f=", p.f);
    Plan pl;
    pl.dk = int(p.e / p.H);
    pl.dv = int(p.f / p.H);
    if (p.attn_norm != CHELA_ATTN_NORM_NONE && p.attn_norm != CHELA_ATTN_NORM_RMSNORM &&
        p.attn_norm != CHELA_ATTN_NORM_DENOMINATOR)
        fail(CHELA_ERR_INVALID_ARGUMENT, "linear attention (cuda): bad attn_norm ", p.attn_norm);
    if (p.feature_map < 0 || p.feature_map > 3)
        fail(CHELA_ERR_INVALID_ARGUMENT, "linear attention (cuda): bad feature_map ", p.feature_map);
    if (p.attn_norm == CHELA_ATTN_NORM_RMSNORM && p.norm_weight == nullptr)
        fail(CHELA_ERR_INVALID_ARGUMENT, "linear attention (cuda): rmsnorm needs norm_weight");
    if (pl.dk > 256) fail(CHELA_ERR_UNSUPPORTED, "linear attention (cuda): dk=", pl.dk, " > 256");
    if (p.out_dtype != -1 && p.out_dtype != p.dtype && !(p.out_dtype == CHELA_DTYPE_F32 && p.dtype != CHELA_DTYPE_F32))
        fail(CHELA_ERR_DTYPE, "linear attention (cuda): out must have the inputs' dtype, or be f32 with bf16/f16 inputs");
    if (p.dtype == CHELA_DTYPE_F32) {
        pl.DK = pl.DVB = 0;
        pl.dvblocks = (pl.dv + 31) / 32;
        pl.nseg = 1;
    } else if (p.dtype == CHELA_DTYPE_BF16 || p.dtype == CHELA_DTYPE_F16) {
        // (full_attention pads dv itself: only dk must be a multiple of 8 there)
        const bool padded_v = !p.causal || p.attn_norm == CHELA_ATTN_NORM_DENOMINATOR;
        if (pl.dk % 8 != 0 || (pl.dv % 8 != 0 && !padded_v))
            fail(CHELA_ERR_UNSUPPORTED, "linear attention (cuda): dk=", pl.dk, " and dv=", pl.dv,
                 " must be multiples of 8 for bf16/f16");
        tc_tiles(pl.dk, &pl.DK, &pl.DVB);
        pl.dvblocks = (pl.dv + pl.DVB - 1) / pl.DVB;
        pl.wgmma = tc_use_wgmma(pl.DK);
        pl.groups = pl.wgmma ? tc_groups(pl.dvblocks, p.B * p.H) : 1;
        const int64_t nchunks = std::max<int64_t>(1, (p.L + 63) / 64);
        if (nchunks > (int64_t(1) << 30)) fail(CHELA_ERR_UNSUPPORTED, "linear attention (cuda): L too long");
        int nseg = p.segments;
        if (nseg <= 0) {
            // Fill the chip in ONE wave (resident CTAs per SM x SMs): the H100 sweep (docs/gpu.md) showed
            // a partial second wave costs more than the parallelism gains (B2 H16 L64K: 5 segments
            // 2.01 ms, 4 segments 1.59 ms). A segment keeps >= 16 chunks so the pre-pass (which
            // re-reads k and v) stays small against the main pass. But splitting at all costs that
            // whole extra read of k and v: where the unsplit grid already gives nearly every SM a CTA
            // (wgmma), one segment wins (run 85, H100: B4 H16 L16K D128 0.503 ms unsplit vs 0.635 in
            // two segments; B4 H16 L32K 1.001 vs 1.297; B16 H1 L4K dv1024 0.176 vs 0.191).
            const int64_t base = grid_ctas(p.B * p.H, pl.dvblocks, pl.groups);
            const int64_t ctas_per_sm = pl.groups == 1 ? 2 : 1;  // resident CTAs per SM (two groups: one CTA)
            const int64_t slots = ctas_per_sm * int64_t(sm_count());
            if (pl.wgmma && fills_chip(base))
                nseg = 1;
            else
                nseg = int(std::max<int64_t>(1, std::min<int64_t>(slots / base, nchunks / 16)));
        }
        int seg_chunks = int((nchunks + nseg - 1) / nseg);
        nseg = int((nchunks + seg_chunks - 1) / seg_chunks);  // no empty segment
        pl.nseg = nseg;
        pl.seg_chunks = seg_chunks;
        if (p.B * nseg > 65535 || p.H > 65535)
            fail(CHELA_ERR_UNSUPPORTED, "linear attention (cuda): grid too large (B*segments=", p.B * nseg, ")");
    } else {
        fail(CHELA_ERR_DTYPE, "linear attention (cuda): dtype ", p.dtype, " not supported (f32, bf16, f16)");
    }
    if (pl.nseg > 1) pl.ws_seg = size_t(p.B) * p.H * pl.nseg * size_t(pl.dk) * pl.dv * sizeof(float);
    if (p.attn_norm == CHELA_ATTN_NORM_RMSNORM) pl.ws_rowsq = size_t(p.B) * p.L * p.H * pl.dvblocks * sizeof(float);
    return pl;
}

size_t align256(size_t n) { return (n + 255) / 256 * 256; }

}  // namespace

bool tc_use_wgmma(int DK) {
    const bool want = env_switch("CHELA_CUDA_LA_MMA", {"wgmma", "sync"}) != "sync";
    // sm_90 only: the library's sm_90a code is the one that runs there (sm_80 code lacks wgmma)
    return want && DK <= 128 && sm_major() == 9;
}

int tc_groups(int dvblocks, int64_t batch_heads) {
    const std::string forced = env_switch("CHELA_CUDA_LA_GROUPS", {"1", "2"});
    if (!forced.empty()) return forced == "2" ? 2 : 1;
    // Wide heads (more than 4 blocks of 64 value columns, dv > 256: CHELA's single head): q and k
    // are a small share of the bytes, so sharing them between two warpgroups saves little and halves
    // the CTAs per SM; one group won at every such shape of run 85 (B16 H1 L4K dv1024 0.176 ms vs
    // 0.191; dv1024 and dv2048 at L16K and L64K).
    if (dvblocks < 2 || dvblocks > 4) return 1;
    // Narrow heads: two groups halve the q, k traffic. One group only where its grid alone fills the
    // chip unsplit and the two-group grid would not (then two groups would pay for segments: run 85,
    // B4 H16 L16K D128 one group unsplit 0.503 ms vs two groups in two segments 0.602).
    const bool one_fills = fills_chip(grid_ctas(batch_heads, dvblocks, 1));
    const bool two_fill = fills_chip(grid_ctas(batch_heads, dvblocks, 2));
    return two_fill || !one_fills ? 2 : 1;
}
}  // namespace la

size_t linear_attention_workspace_bytes(const LinearAttentionParams& p) {
    la::Plan pl = la::make_plan(p);
    if (!p.causal || p.attn_norm == CHELA_ATTN_NORM_DENOMINATOR) return 0;  // full_attention: own scratch
    return la::align256(pl.ws_seg) + la::align256(pl.ws_rowsq);
}

void linear_attention(const LinearAttentionParams& p, const void* q, const void* k, const void* v,
                      const float* state_in, const float* ksum_in, void* out, float* state_out,
                      float* ksum_out, void* workspace, size_t workspace_bytes, void* stream_) {
    using namespace la;
    Plan pl = make_plan(p);
    if (!q || !k || !v || !out) fail(CHELA_ERR_INVALID_ARGUMENT, "linear attention (cuda): null q/k/v/out");
    if (!p.causal || p.attn_norm == CHELA_ATTN_NORM_DENOMINATOR) {
        // Built from causal passes; takes its scratch from the stream-ordered pool (workspace unused).
        full_attention(p, q, k, v, state_in, ksum_in, out, state_out, ksum_out, stream_);
        return;
    }
    if (ksum_in || ksum_out)
        fail(CHELA_ERR_INVALID_ARGUMENT, "linear attention (cuda): ksum is for attn_norm=denominator only");
    if (p.dtype != CHELA_DTYPE_F32) {
        for (const void* ptr : {q, k, v, static_cast<const void*>(out)})
            if (reinterpret_cast<uintptr_t>(ptr) % 16 != 0)
                fail(CHELA_ERR_UNSUPPORTED, "linear attention (cuda): bf16/f16 tensors must be 16-byte aligned");
    }
    cudaStream_t stream = static_cast<cudaStream_t>(stream_);
    const size_t need = align256(pl.ws_seg) + align256(pl.ws_rowsq);
    // Without a caller workspace, scratch comes from the stream-ordered pool (freed on every exit).
    std::optional<StreamBuffer> own_ws;
    void* ws = workspace;
    if (need > 0 && ws == nullptr) {
        own_ws.emplace(need, stream, "linear attention (cuda): workspace");
        ws = own_ws->as<void>();
    } else if (need > workspace_bytes) {
        fail(CHELA_ERR_INVALID_ARGUMENT, "linear attention (cuda): workspace of ", workspace_bytes, " bytes, need ", need);
    }
    float* seg = pl.ws_seg ? static_cast<float*>(ws) : nullptr;
    float* rowsq = pl.ws_rowsq ? reinterpret_cast<float*>(static_cast<char*>(ws) + align256(pl.ws_seg)) : nullptr;
    if (p.L == 0) {
        // nothing to compute; the state passes through
        const size_t sbytes = size_t(p.B) * p.H * size_t(pl.dk) * pl.dv * sizeof(float);
        if (state_out && state_out != state_in) {
            cudaError_t err = state_in ? cudaMemcpyAsync(state_out, state_in, sbytes, cudaMemcpyDeviceToDevice, stream)
                                       : cudaMemsetAsync(state_out, 0, sbytes, stream);
            if (err != cudaSuccess) check_launch("linear attention: state copy");
        }
    } else if (p.dtype == CHELA_DTYPE_F32) {
        dim3 grid(pl.dvblocks, p.H, unsigned(p.B));
        simt_f32_kernel<<<grid, 256, 0, stream>>>(
            static_cast<const float*>(q), static_cast<const float*>(k), static_cast<const float*>(v),
            static_cast<float*>(out), p.L, p.H, pl.dk, pl.dv, p.e, p.f, p.scale, p.decay, p.feature_map,
            state_in, state_out, rowsq, p.H * pl.dvblocks);
        check_launch("linear attention (fp32)");
    } else {
        Launch l{};
        l.p = &p;
        l.plan = &pl;
        l.q = q;
        l.k = k;
        l.v = v;
        l.o = out;
        l.state_out = state_out;
        l.rowsq = rowsq;
        l.stream = stream;
        auto tc = p.dtype == CHELA_DTYPE_BF16 ? launch_tc_bf16 : launch_tc_f16;
        if (pl.nseg > 1) {
            l.seg_state = seg;
            tc(l, true);
            const int64_t elems = int64_t(pl.dk) * pl.dv;
            dim3 grid(unsigned((elems + 255) / 256), unsigned(p.B * p.H));
            segment_scan_kernel<<<grid, 256, 0, stream>>>(seg, state_in, state_out, p.H, pl.nseg,
                                                          pl.seg_chunks, p.L, elems, p.decay);
            check_launch("linear attention (segment scan)");
            l.state_init = seg;
            l.init_nseg = pl.nseg;
        } else {
            l.state_init = state_in;
            l.init_nseg = 1;
        }
        tc(l, false);
    }
    if (p.attn_norm == CHELA_ATTN_NORM_RMSNORM && p.L > 0) {
        const int64_t rows = p.B * p.L;
        const int nblk = p.H * pl.dvblocks;
        dim3 grid(unsigned((rows + 7) / 8));
        if (p.dtype == CHELA_DTYPE_F32 || p.out_dtype == CHELA_DTYPE_F32)
            rmsnorm_finish_kernel<float><<<grid, 256, 0, stream>>>(static_cast<float*>(out), rowsq, p.norm_weight,
                                                                  rows, p.f, nblk, p.eps);
        else if (p.dtype == CHELA_DTYPE_BF16)
            rmsnorm_finish_kernel<__nv_bfloat16><<<grid, 256, 0, stream>>>(
                static_cast<__nv_bfloat16*>(out), rowsq, p.norm_weight, rows, p.f, nblk, p.eps);
        else
            rmsnorm_finish_kernel<__half><<<grid, 256, 0, stream>>>(static_cast<__half*>(out), rowsq,
                                                                   p.norm_weight, rows, p.f, nblk, p.eps);
        check_launch("linear attention (rmsnorm)");
    }
}

}  // namespace chela::cuda::tiled
