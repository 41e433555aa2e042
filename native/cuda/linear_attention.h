// CUDA tiled linear attention (forward). Host-callable, no CUDA types: pointers are device memory.
#pragma once

#include "cpu/linear_attention.h"

namespace chela::cuda {

// What this kernel generation covers (checked by the C entry point, which reports the rest as
// CHELA_ERR_UNSUPPORTED on CUDA): causal; bf16 or f16 q/k/v/out; e/H in {64, 128}; f/H a multiple
// of 64; attn_norm none or rmsnorm; any feature map; per-head decay; state in/out.
bool supports(const cpu::LinearAttentionParams& p, int dtype, const char** why);

// p.decay and p.norm_weight are device pointers (f32) or null. state_in/state_out: device f32
// [B,H,e/H,f/H] or null.
void linear_attention(int device, void* stream, const cpu::LinearAttentionParams& p, int dtype, const void* q,
                      const void* k, const void* v, const float* state_in, void* out, float* state_out);

}  // namespace chela::cuda
