// CPU tiled (chunked) linear attention, f32, contiguous row-major. See chela_linear_attention in
// chela.h for the meaning of every argument; the C entry point validates, this computes.
#pragma once

#include "core/thread_pool.h"

#include <cstdint>

namespace chela::cpu {

struct LinearAttentionParams {
    int64_t B = 0, L = 0, e = 0, f = 0;
    int H = 1;
    bool causal = true;
    int feature_map = 0;  // chela_feature_map
    int attn_norm = 0;    // chela_attn_norm
    float scale = 1.0f;
    float eps = 1e-5f;
    int chunk = 0;                      // 0 = default (kDefaultChunk)
    const float* decay = nullptr;       // [H] or null (lambda = 1)
    const float* norm_weight = nullptr; // [f] for rmsnorm
};

constexpr int kDefaultChunk = 64;

// q, k: [B,L,e]; v, out: [B,L,f]; state_in/out: [B,H,e/H,f/H] or null; ksum_in/out: [B,H,e/H]
// or null. state_out may alias state_in and ksum_out ksum_in.
void linear_attention(ThreadPool& pool, const LinearAttentionParams& p, const float* q,
                      const float* k, const float* v, const float* state_in, const float* ksum_in,
                      float* out, float* state_out, float* ksum_out);

}  // namespace chela::cpu
