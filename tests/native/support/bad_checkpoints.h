// The table of hand-made corrupt checkpoints (and a few valid ones) shared by the native tests,
// the fuzz seed corpus and the Java CLI tests (written to disk by chela-checkpoint-samples).
#pragma once

#include <chela/chela.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace chela::test {

struct SampleCheckpoint {
    std::string name;
    std::string config;             // config.json text
    std::vector<uint8_t> weights;   // model.safetensors bytes
    bool has_config = true, has_weights = true;
    chela_status status = CHELA_OK; // what chela_model_load must return
    std::string needle;             // what its message must contain
};

// gtest prints samples by name.
inline void PrintTo(const SampleCheckpoint& s, std::ostream* os) { *os << s.name; }

// Every entry fails to load with `status` and a message containing `needle`.
std::vector<SampleCheckpoint> bad_checkpoints();

// Valid checkpoints of several configs (status CHELA_OK).
std::vector<SampleCheckpoint> good_checkpoints();

// Writes dir/config.json and/or dir/model.safetensors as the sample says.
void write_sample(const std::string& dir, const SampleCheckpoint& s);

// The fuzz input format: 4-byte little-endian config length, config text, safetensors bytes.
std::vector<uint8_t> fuzz_input(const SampleCheckpoint& s);

}  // namespace chela::test
