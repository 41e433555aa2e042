// Dense projections of the CUDA model forward: y = act(x W^T + b) in PyTorch Linear convention,
// fp32 accumulation on tensor cores (CUTLASS 2.x device GEMMs, sm_80 code that also runs on sm_90a).
// Two flavours: fp16 operands (the layers' projections: twice the TF32 rate, half the bytes, the
// same 10-bit mantissa as TF32) and f32 operands on TF32 (the input projection and the classifier,
// whose inputs are the caller's f32 features and a pooled f32 row). Host-callable, no CUDA types:
// pointers are device memory, `stream` is a cudaStream_t. Throws chela::Error on failure.
#pragma once

#include <cstdint>

namespace chela::cuda::model {

enum class Activation { kNone, kSilu };

// x [rows, in] row-major, W [out, in] row-major (read as the column-major B operand), b [out] or
// null, y [rows, out] row-major (must not alias x). Any extents >= 1: 16-byte aligned rows take the
// vectorised kernel, others the 4-byte one.
void linear(void* stream, int64_t rows, int64_t in, int64_t out, const float* x, const float* W,
            const float* b, float* y, Activation act);

// fp16 x [rows, in] and W [out, in] (`in` even: rows are read 4 bytes at a time at least), bias b
// [out] in y's dtype or null; y f32 (y_f16 = false) or fp16 (rounded once from the fp32 epilogue).
void linear_f16(void* stream, int64_t rows, int64_t in, int64_t out, const void* x, const void* W, const void* b,
                void* y, bool y_f16, Activation act);

// The Hopper path of linear_f16 (gemm_sm90.cu: wgmma + TMA). Returns false, doing nothing, where it
// does not apply (not an sm_90 device, operands not 16-byte aligned, no bias); linear_f16 then runs
// the sm_80 kernels. CHELA_CUDA_GEMM=sm80 in the environment turns it off (A/B timing).
bool linear_f16_sm90(void* stream, int64_t rows, int64_t in, int64_t out, const void* x, const void* W, const void* b,
                     void* y, bool y_f16, Activation act);

}  // namespace chela::cuda::model
