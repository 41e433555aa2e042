// Dense projections of the CUDA model forward: y = act(x W^T + b) in PyTorch Linear convention,
// f32 storage, TF32 tensor cores with fp32 accumulation (CUTLASS 2.x device GEMM, sm_80 code that
// also runs on sm_90a). Host-callable, no CUDA types: pointers are device memory, `stream` is a
// cudaStream_t. Throws chela::Error on failure.
#pragma once

#include <cstdint>

namespace chela::cuda::model {

enum class Activation { kNone, kSilu };

// x [rows, in] row-major, W [out, in] row-major (read as the column-major B operand), b [out] or
// null, y [rows, out] row-major (must not alias x). Any extents >= 1: 16-byte aligned rows take the
// vectorised kernel, others the 4-byte one.
void linear(void* stream, int64_t rows, int64_t in, int64_t out, const float* x, const float* W,
            const float* b, float* y, Activation act);

}  // namespace chela::cuda::model
