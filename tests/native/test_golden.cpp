// Golden files: models and logits written by the PyTorch reference (tests/reference/make_golden.py,
// float64, stored f32). Every tests/golden/<case>/ is loaded with chela_model_load and run with
// chela_model_forward on the CPU backend; the logits must match with rel-L2 <= 1e-5.
// The folder is found from CHELA_GOLDEN_DIR (environment), else the source tree's tests/golden.
#include "support/golden_io.h"
#include "support/test_util.h"

#include <cstdio>

using namespace chela;
using namespace chela::test;

namespace {

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
