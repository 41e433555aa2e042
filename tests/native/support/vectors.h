// Cross-language test vectors: inputs and the native CPU backend's outputs for fixed cases of
// chela_linear_attention and chela_short_long_conv, written as safetensors. The Java tests run
// the same cases through the Java API and require bit-identical outputs (same backend, same inputs).
#pragma once

#include <string>

namespace chela::test {

// Writes dir/linear_attention.safetensors and dir/short_long_conv.safetensors.
// linear_attention: cases "causal" (B2 L100 e16 f24 H2, elu1, denominator, decay, chunk 0) and
//   "bidir" (B1 L77 e8 f12 H1, silu, rmsnorm, decay); tensors <case>.q/.k/.v/.decay/.norm_weight/.out.
// short_long_conv: cases "causal" (B2 L90 d6 ks3 Lk90) and "bidir" (B1 L50 d5 ks5 Lk20); tensors
//   <case>.x/.short_weight/.short_bias/.long_weight/.long_weight_rev/.omega/.out.
void write_vectors(const std::string& dir);

}  // namespace chela::test
