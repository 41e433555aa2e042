// CUDA tiled ("flash") linear attention forward: the host-side interface of the CUDA backend.
//
// No CUDA type appears here: streams travel as void* (a cudaStream_t, nullptr = the legacy default
// stream) so that host code that includes this header needs no CUDA headers. All pointers are DEVICE
// pointers. Errors are thrown as chela::Error (CHELA_ERR_* + message), like the rest of libchela; the
// C entry points convert them with chela::guard().
//
// Semantics are those of chela_linear_attention (chela.h) and chela::cpu::linear_attention:
//   q, k: [B, L, e] (e = H*dk, head h = columns h*dk .. h*dk+dk-1, i.e. [B, L, H, dk])
//   v, out: [B, L, f] (f = H*dv)            decay: [H] f32 in (0,1] or null
//   state_in / state_out: [B, H, dk, dv] f32 or null (may alias); norm_weight: [f] f32 (rmsnorm)
//
// Implemented (see docs/gpu.md for the design and what is left):
//   dtypes bf16 / f16 -> tensor-core kernel (mma.sync m16n8k16, fp32 accumulation, C = 64),
//          f32        -> SIMT fp32 kernel (recurrent form, exact fp32 arithmetic; correctness path);
//   causal and bidirectional; per-head decay; feature maps identity/elu1/relu/silu; attn_norm
//   none/rmsnorm/denominator (ksum in/out for causal); state in/out; any L >= 1; dk a multiple of 8
//   up to 256; dv a multiple of 8 (any dv for bidirectional or denominator, which are built from
//   causal passes in full_attention.cu and take their scratch from the stream-ordered pool).
//   out in the input dtype, or f32 with bf16/f16 inputs (no output rounding).
#pragma once

#include <chela/chela.h>

#include <cstddef>
#include <cstdint>

namespace chela::cuda::tiled {

struct LinearAttentionParams {
    int64_t B = 0, L = 0, e = 0, f = 0;
    int H = 1;
    bool causal = true;
    int feature_map = 0;  // chela_feature_map
    int attn_norm = 0;    // chela_attn_norm
    float scale = 1.0f;
    float eps = 1e-5f;
    int chunk = 0;                       // ignored: the CUDA kernel tiles by 64 (any C = same result)
    const float* decay = nullptr;        // device [H] or null (lambda = 1)
    const float* norm_weight = nullptr;  // device [f] for rmsnorm
    int dtype = CHELA_DTYPE_BF16;        // of q, k, v (chela_dtype)
    int out_dtype = -1;                  // of out: -1 = dtype; CHELA_DTYPE_F32 with bf16/f16 inputs
                                         // writes the fp32 accumulators without rounding
    int segments = 0;                    // 0 = automatic; >= 1 forces that many L-segments (tests)
};

// Device scratch the call needs (segment states, rmsnorm partial sums); 0 when none. Pass at least
// this much as `workspace`, or workspace = nullptr to let the call allocate it stream-ordered.
size_t linear_attention_workspace_bytes(const LinearAttentionParams& p);

// Validates and enqueues the forward on `stream`. Does not synchronize.
void linear_attention(const LinearAttentionParams& p, const void* q, const void* k, const void* v,
                      const float* state_in, const float* ksum_in, void* out, float* state_out,
                      float* ksum_out, void* workspace, size_t workspace_bytes, void* stream);

}  // namespace chela::cuda::tiled
