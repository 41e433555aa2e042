// The CHELA layer and the whole model on the CPU backend (spec sections "One CHELA layer" and
// "Model"), composed from the cpu/ ops. f32 host buffers.
#pragma once

#include "core/thread_pool.h"
#include "model/model.h"

#include <cstdint>
#include <vector>

namespace chela {

// What one causal layer carries from one call to the next when a stream of tokens is fed in
// pieces (spec "Streaming / decode"), for B sequences. Rows are oldest first; rows before the
// start of the stream are zeros, which is exactly the causal convolutions' zero padding.
struct LayerState {
    std::vector<float> xn_hist;  // [B, ks-1, d]  the last ks-1 rows of Xn (short-conv window)
    std::vector<float> a_hist;   // [B, Lk-1, d]  the last Lk-1 rows of A = SiLU(shortconv(Xn))
    std::vector<float> s;        // [B, H, dk, dv] attention state
    std::vector<float> ksum;     // [B, H, dk]     running decayed key sum (attn_norm denominator)
};

// The streaming state of a whole causal model: one LayerState per layer and the tokens seen.
struct ModelState {
    int64_t B = 0;
    int64_t past = 0;  // tokens consumed per sequence
    bool broken = false;  // a layer failed mid-call: the layers may disagree on how far they got
    std::vector<LayerState> layers;
};

// A zeroed state for B sequences of model m (causal models only; the caller checks).
ModelState make_state(const chela_model& m, int64_t B);

// One layer: x, y [B, L, d] (may not alias). With `state`, the L rows continue the stream it holds
// (`past` rows already consumed) and the state is advanced past them.
void layer_forward(ThreadPool& pool, const chela_model_config& cfg, const LayerParams& lp,
                   int64_t B, int64_t L, const float* x, float* y, LayerState* state = nullptr,
                   int64_t past = 0);

// Embedding or input projection -> layers -> final norm: hidden [B, L, d].
// `tokens` [B, L] (vocab models) or `features` [B, L, input_dim]; exactly one is non-null.
// With `state`, the L positions continue its stream and the state advances (state->past += L).
// Inputs are validated before any layer runs, so a rejected call leaves the state as it was; a
// failure inside a layer sets state->broken.
void model_hidden(ThreadPool& pool, const chela_model& m, int64_t B, int64_t L,
                  const int32_t* tokens, const float* features, float* hidden,
                  ModelState* state = nullptr);

// task=lm: logits [B, L, vocab] from hidden [B, L, d].
void lm_head(const chela_model& m, int64_t rows, const float* hidden, float* logits);

// task=classify: pools hidden [L, d] of one sequence of `length` valid positions and applies
// the classifier: logits [num_classes].
void classify_head(const chela_model& m, int64_t length, const float* hidden, float* logits);

}  // namespace chela
