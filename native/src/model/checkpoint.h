// Checkpoint loading: config.json + model.safetensors, exactly as docs/spec/chela.md's checkpoint
// section says, validated strictly. Every error is a chela::Error with CHELA_ERR_FORMAT (or
// CHELA_ERR_IO for files that cannot be opened) and a message naming the key or tensor.
#pragma once

#include "model/model.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace chela {

// Parses and validates config.json text; applies the spec's defaults.
chela_model_config parse_config(std::string_view json);

// Validates a safetensors image (header + data) against `config`, converts tensors to f32 and
// merges short-conv branches. Never reads outside [data, data + size).
Checkpoint load_checkpoint_from_memory(std::string_view config_json, const uint8_t* data, size_t size);

// Reads dir/config.json and memory-maps dir/model.safetensors.
Checkpoint load_checkpoint(const std::string& dir);

}  // namespace chela
