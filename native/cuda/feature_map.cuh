// phi, the spec's feature maps (chela_feature_map), in fp32 on the device. One definition for the
// tensor-core kernel, the fp32 path, the attention epilogue and the model's operand packing, so that
// an epilogue recomputing phi(q).phi(k) sees exactly what the kernel multiplied.
#pragma once

#include <chela/chela.h>

#include <cuda_runtime.h>

namespace chela::cuda {

__device__ __forceinline__ float feature_map(int fm, float x) {
    switch (fm) {
        case CHELA_FEATURE_ELU1: return x > 0.f ? x + 1.f : expf(x);
        case CHELA_FEATURE_RELU: return x > 0.f ? x : 0.f;
        case CHELA_FEATURE_SILU: return x / (1.f + expf(-x));
        default: return x;
    }
}

}  // namespace chela::cuda
