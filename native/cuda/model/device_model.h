// A model on a CUDA device: its weights copied once into device memory at load time, and the whole
// forward (embedding -> layers -> final norm -> head) run there with no host round trip.
// Host-callable, no CUDA types (`stream` is a cudaStream_t). Throws chela::Error.
//
// Precision (docs/decisions.md, "CUDA model forward"): residual stream, norms, gates and the
// convolutions' arithmetic in fp32; projections on fp16 tensor cores (operands rounded to fp16 —
// the 10-bit mantissa of TF32 at twice its rate — fp32 accumulation); the attention core on fp16
// tensor cores (fp32 accumulation and output); intermediates that only feed gates, the attention or
// a GEMM stored fp16, what is added to the residual stream f32. Logits agree with the CPU backend
// and the float64 reference to rel-L2 <= 3e-3 (the 16-bit bound of the kernel tests).
#pragma once

#include "cuda/spectra_cache.h"
#include "model/model.h"

#include <cstddef>
#include <cstdint>
#include <memory>

namespace chela::cuda::model {

struct DeviceModel {
    int device = 0;
    void* base = nullptr;  // one allocation holding every weight tensor
    size_t bytes = 0;
    ModelParams params;    // the host model's ModelParams, translated to device pointers (f32)
    ModelParams half;      // the same fields pointing at fp16 copies (GEMM operands; reinterpret
                           // the pointers as __half)
    // The layers' long-kernel spectra, slot = layer index (the weights never change after upload).
    std::unique_ptr<SpectraCache> spectra;
    ~DeviceModel();
};

// Why the CUDA backend cannot run this configuration, or nullptr when it can.
const char* unsupported_reason(const chela_model_config& cfg);

// Copies the weights of `m` (already loaded on the host) to `device`. Waits for the copy.
std::shared_ptr<DeviceModel> upload(const chela_model& m, int device, void* stream);

// Whole forward of B sequences of L positions: tokens [B, L] i32 (validated here) or features
// [B, L, input_dim] f32, all on the device; out f32 on the device: [B, L, vocab] (lm) or
// [B, num_classes] (classify). Queued on `stream`; returns without waiting (except for the
// token check, which reads one number back).
void forward(const chela_model& m, const DeviceModel& dm, void* stream, int64_t B, int64_t L,
             const int32_t* tokens, const float* features, float* out);

// One layer: x, y [B, L, d] f32 on the device (may not alias).
void layer_forward(const chela_model& m, const DeviceModel& dm, void* stream, int layer, int64_t B, int64_t L,
                   const float* x, float* y);

// Fills `bytes` bytes at device pointer `p` with zeros, on `stream`.
void zero(void* stream, void* p, size_t bytes);

}  // namespace chela::cuda::model
