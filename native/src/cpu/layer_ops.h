// The remaining CPU ops of a CHELA layer and model: norms, dense projections (OpenBLAS),
// activations and gates. f32, contiguous row-major, rows = B*L.
#pragma once

#include "core/thread_pool.h"

#include <cmath>
#include <cstdint>

namespace chela::cpu {

inline float silu(float x) { return x / (1.0f + std::exp(-x)); }
inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// y[r,:] = LayerNorm(x[r,:]) * w + b   (b may be null: RMSNorm when rms is true ignores b)
void layer_norm(ThreadPool& pool, int64_t rows, int64_t n, const float* x, const float* w,
                const float* b, float eps, float* y);
void rms_norm(ThreadPool& pool, int64_t rows, int64_t n, const float* x, const float* w, float eps,
              float* y);

// y[rows, out] = x[rows, in] * W[out, in]^T + b[out]   (PyTorch Linear; b may be null)
void linear(int64_t rows, int64_t in, int64_t out, const float* x, const float* W, const float* b,
            float* y);

}  // namespace chela::cpu
