// Tensor-core linear attention kernels, bf16 inputs (one TU per dtype keeps compile times short).
#include "tiled_la_tc.cuh"

namespace chela::cuda::tiled::la {
void launch_tc_bf16(const Launch& l, bool state_only) { launch_tc<cutlass::bfloat16_t>(l, state_only); }
}  // namespace chela::cuda::tiled::la
