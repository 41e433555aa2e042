// Golden files: models and logits written by the PyTorch reference (tests/reference/make_golden.py,
// float64, stored f32). Every tests/golden/<case>/ is loaded with chela_model_load and run with
// chela_model_forward on the CPU backend; the logits must match with rel-L2 <= 1e-5.
// The folder is found from CHELA_GOLDEN_DIR (environment), else the source tree's tests/golden.
#include "model/json.h"
#include "support/test_util.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

using namespace chela;
using namespace chela::test;
namespace fs = std::filesystem;

namespace {

std::string golden_root() {
    if (const char* env = std::getenv("CHELA_GOLDEN_DIR")) return env;
#ifdef CHELA_GOLDEN_DIR
    return CHELA_GOLDEN_DIR;
#else
    return "tests/golden";
#endif
}

// Case folders (those holding config.json), sorted so failures read the same on every run.
std::vector<fs::path> golden_cases() {
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

std::map<std::string, IoTensor> read_io(const fs::path& file) {
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

chela_tensor view_of(IoTensor& t) {
    chela_tensor v{};
    v.data = t.bytes.data();
    v.dtype = t.dtype == "I32" ? CHELA_DTYPE_I32 : CHELA_DTYPE_F32;
    v.device = CHELA_DEVICE_CPU;
    v.rank = static_cast<int32_t>(t.shape.size());
    for (size_t i = 0; i < t.shape.size(); ++i) v.shape[i] = t.shape[i];
    return v;
}

class GoldenTest : public CpuContextTest {};

TEST_F(GoldenTest, EveryCaseMatchesTheReference) {
    const auto cases = golden_cases();
    if (cases.empty())
        GTEST_SKIP() << "no golden cases under " << golden_root()
                     << " (generate them: python3 tests/reference/make_golden.py, see tests/golden/README.md)";
    for (const fs::path& dir : cases) {
        SCOPED_TRACE("golden case " + dir.filename().string());
        auto io = read_io(dir / "io.safetensors");
        ASSERT_TRUE(io.count("inputs") && io.count("logits")) << dir << ": io.safetensors needs inputs and logits";
        chela_model* model = nullptr;
        ASSERT_CHELA_OK(chela_model_load(ctx, dir.c_str(), &model));
        IoTensor& expected = io.at("logits");
        ASSERT_EQ(expected.dtype, "F32");
        chela_tensor in = view_of(io.at("inputs"));
        chela_tensor lengths{};
        const bool has_lengths = io.count("lengths") > 0;
        if (has_lengths) lengths = view_of(io.at("lengths"));
        HostTensor out(expected.shape);  // NaN-poisoned: anything unwritten fails
        const chela_status st = chela_model_forward(model, &in, has_lengths ? &lengths : nullptr, out.view());
        EXPECT_EQ(st, CHELA_OK) << chela_last_error();
        if (st == CHELA_OK) {
            std::vector<double> want(static_cast<size_t>(expected.numel()));
            const float* e = reinterpret_cast<const float*>(expected.bytes.data());
            for (size_t i = 0; i < want.size(); ++i) want[i] = e[i];
            const double err = rel_l2(out.f32(), want);
            EXPECT_LE(err, 1e-5) << dir.filename();
            std::printf("golden %-42s rel-L2 %.2e\n", dir.filename().c_str(), err);
        }
        chela_model_destroy(model);
    }
}

}  // namespace
