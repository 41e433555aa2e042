// The CHELA layer and the whole model on the CPU backend (spec sections "One CHELA layer" and
// "Model"), composed from the cpu/ ops. f32 host buffers.
#pragma once

#include "core/thread_pool.h"
#include "model/model.h"

#include <cstdint>

namespace chela {

// One layer: x, y [B, L, d] (may not alias).
void layer_forward(ThreadPool& pool, const chela_model_config& cfg, const LayerParams& lp,
                   int64_t B, int64_t L, const float* x, float* y);

// Embedding or input projection -> layers -> final norm: hidden [B, L, d].
// `tokens` [B, L] (vocab models) or `features` [B, L, input_dim]; exactly one is non-null.
void model_hidden(ThreadPool& pool, const chela_model& m, int64_t B, int64_t L,
                  const int32_t* tokens, const float* features, float* hidden);

// task=lm: logits [B, L, vocab] from hidden [B, L, d].
void lm_head(const chela_model& m, int64_t rows, const float* hidden, float* logits);

// task=classify: pools hidden [L, d] of one sequence of `length` valid positions and applies
// the classifier: logits [num_classes].
void classify_head(const chela_model& m, int64_t length, const float* hidden, float* logits);

}  // namespace chela
