// libFuzzer target: the checkpoint loader (config.json parser, safetensors header and data
// validation, branch merging) on arbitrary bytes. Input: 4-byte little-endian config length,
// config text, safetensors bytes (see tests/native/support/bad_checkpoints.h). Any exception other
// than chela::Error, any crash and any sanitizer report is a bug.
#include "core/error.h"
#include "model/checkpoint.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 4) return 0;
    uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n |= static_cast<uint32_t>(data[i]) << (8 * i);
    size -= 4;
    data += 4;
    if (n > size) n = static_cast<uint32_t>(size);
    const std::string_view config(reinterpret_cast<const char*>(data), n);
    try {
        chela::Checkpoint ck = chela::load_checkpoint_from_memory(config, data + n, size - n);
        (void)chela::bind_params(ck);
    } catch (const chela::Error&) {
        // Rejected input: the expected outcome for almost everything.
    }
    return 0;
}
