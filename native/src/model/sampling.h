// Next-token sampling (greedy, temperature, top-k, top-p) with a caller-held generator state, so
// equal seeds give equal draws on every machine.
#pragma once

#include <chela/chela.h>

#include <cstdint>

namespace chela {

// Throws CHELA_ERR_INVALID_ARGUMENT naming the bad field.
void check_sampling_options(const chela_sampling_options& opts);

// One id from logits[0..V); advances `rng`. Throws on NaN logits.
int32_t sample_one(const float* logits, int64_t V, const chela_sampling_options& opts, uint64_t& rng);

// SplitMix64: the next 64 random bits (the generator behind chela_sample).
uint64_t next_random(uint64_t& rng);

}  // namespace chela
