// The golden files of tests/golden (written by tests/reference/make_golden.py): where they are, and a
// small reader for their io.safetensors (F32 / I32 tensors). Shared by the CPU and CUDA golden tests.
#pragma once

#include "model/json.h"

#include <chela/chela.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace chela::test {

namespace fs = std::filesystem;

// CHELA_GOLDEN_DIR (environment: the device runs use it), else the source tree's tests/golden.
inline std::string golden_root() {
    if (const char* env = std::getenv("CHELA_GOLDEN_DIR")) return env;
#ifdef CHELA_GOLDEN_DIR
    return CHELA_GOLDEN_DIR;
#else
    return "tests/golden";
#endif
}

// Case folders (those holding config.json), sorted so failures read the same on every run.
inline std::vector<fs::path> golden_cases() {
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(golden_root(), ec))
        if (entry.is_directory() && fs::exists(entry.path() / "config.json")) out.push_back(entry.path());
    std::sort(out.begin(), out.end());
    return out;
}

// One tensor of io.safetensors: F32 or I32 (the model loader accepts only float dtypes, so the
// golden io files get this small reader of their own).
struct IoTensor {
    std::string dtype;
    std::vector<int64_t> shape;
    std::vector<unsigned char> bytes;
    int64_t numel() const {
        int64_t n = 1;
        for (int64_t s : shape) n *= s;
        return n;
    }
};

inline std::map<std::string, IoTensor> read_io(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::vector<unsigned char> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (data.size() < 8) throw std::runtime_error(file.string() + ": too short");
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(data[i]) << (8 * i);
    if (n > data.size() - 8) throw std::runtime_error(file.string() + ": bad header length");
    const json::Value root =
        json::parse(std::string_view(reinterpret_cast<const char*>(data.data() + 8), n), "io.safetensors");
    std::map<std::string, IoTensor> out;
    for (const auto& kv : root.object) {
        if (kv.first == "__metadata__") continue;
        IoTensor t;
        t.dtype = kv.second.find("dtype")->string;
        for (const auto& s : kv.second.find("shape")->array) t.shape.push_back(s.integer);
        const auto& off = kv.second.find("data_offsets")->array;
        const size_t begin = 8 + n + static_cast<size_t>(off[0].integer), end = 8 + n + static_cast<size_t>(off[1].integer);
        if (end > data.size() || begin > end) throw std::runtime_error(file.string() + ": bad offsets for " + kv.first);
        t.bytes.assign(data.begin() + static_cast<std::ptrdiff_t>(begin), data.begin() + static_cast<std::ptrdiff_t>(end));
        out.emplace(kv.first, std::move(t));
    }
    return out;
}

inline chela_tensor view_of(IoTensor& t) {
    chela_tensor v{};
    v.data = t.bytes.data();
    v.dtype = t.dtype == "I32" ? CHELA_DTYPE_I32 : CHELA_DTYPE_F32;
    v.device = CHELA_DEVICE_CPU;
    v.rank = static_cast<int32_t>(t.shape.size());
    for (size_t i = 0; i < t.shape.size(); ++i) v.shape[i] = t.shape[i];
    return v;
}

}  // namespace chela::test
