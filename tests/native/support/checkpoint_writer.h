// Writes CHELA checkpoints (config.json + model.safetensors) for tests, the fuzz corpus and the
// demo: random weights with exactly the names and shapes of docs/spec/chela.md's checkpoint section.
#pragma once

#include <chela/chela.h>

#include <cstdint>
#include <string>
#include <vector>

namespace chela::test {

struct TensorData {
    std::string name;
    std::vector<int64_t> shape;
    std::vector<float> values;
    int32_t dtype = CHELA_DTYPE_F32;  // storage dtype in the file: f32, bf16 or f16
};

// A small valid config: causal LM, d=16, e=8, f=12, 2 layers, vocab 50, defaults elsewhere.
chela_model_config small_config();

// config.json text for `cfg` (every key written explicitly, in the spec's names and spellings).
std::string config_json(const chela_model_config& cfg);

// Random weights (fixed seed) for every tensor the config needs. `short_branches` > 1 writes
// short_conv.{j}.weight/bias branches of sizes short_kernel, short_kernel-2 (bidir) or -1 ...
// instead of one short_conv.weight. Decay values are drawn in (0.5, 1).
std::vector<TensorData> random_weights(const chela_model_config& cfg, uint64_t seed,
                                       int short_branches = 1);

// The safetensors image (8-byte header length, JSON header, data) for `tensors`, in order.
std::vector<uint8_t> safetensors_bytes(const std::vector<TensorData>& tensors);

// Writes dir/config.json and dir/model.safetensors (creating dir).
void write_checkpoint(const std::string& dir, const std::string& config_text,
                      const std::vector<TensorData>& tensors);
void write_checkpoint(const std::string& dir, const chela_model_config& cfg,
                      const std::vector<TensorData>& tensors);

}  // namespace chela::test
