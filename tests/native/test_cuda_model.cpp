// The whole model on the CUDA backend (chela_model_load into a CUDA context + chela_model_forward),
// against the float64 reference's golden logits and against the CPU backend, through the C ABI.
// Bound: rel-L2 <= 3e-3, the 16-bit bound (the attention core runs on fp16 tensor cores, the
// projections on TF32; docs/decisions.md "CUDA model forward"). Outputs are NaN-poisoned first.
// Every test skips with one line where no CUDA device is usable (CI, CPU-only builds).
#include "support/checkpoint_writer.h"
#include "support/cuda_fixture.h"
#include "support/golden_io.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

using namespace chela;
using namespace chela::test;

namespace {

constexpr double kBound = 3e-3;

std::string models_root() {
    if (const char* env = std::getenv("CHELA_MODELS_DIR")) return env;
#ifdef CHELA_MODELS_DIR
    return CHELA_MODELS_DIR;
#else
    return "models";
#endif
}

// A CUDA context plus a CPU context, and models loaded into both from one folder.
class CudaModel : public CudaTest {
protected:
    void SetUp() override {
        CudaTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        ASSERT_CHELA_OK(chela_context_create_cpu(2, &cpu));
    }
    void TearDown() override {
        chela_model_destroy(gpu_model);
        chela_model_destroy(cpu_model);
        if (cpu) chela_context_destroy(cpu);
        CudaTest::TearDown();
    }
    void load_both(const std::string& dir) {
        ASSERT_CHELA_OK(chela_model_load(ctx, dir.c_str(), &gpu_model));
        ASSERT_CHELA_OK(chela_model_load(cpu, dir.c_str(), &cpu_model));
        ASSERT_CHELA_OK(chela_model_get_config(cpu_model, &cfg));
    }
    // A random-weight model with config `c`, written to a temp dir and loaded on both backends.
    void load_random(const chela_model_config& c, uint64_t seed) {
        static int counter = 0;
        const std::string dir = testing::TempDir() + "chela_cuda_model_" + std::to_string(::getpid()) + "_" +
                                std::to_string(counter++);
        write_checkpoint(dir, c, random_weights(c, seed));
        load_both(dir);
        std::filesystem::remove_all(dir);
    }
    // Logits of both backends for the same host inputs (the GPU reads a device copy and writes a
    // poisoned device tensor); returns the GPU's rel-L2 distance from the CPU's.
    double compare(HostTensor& inputs, HostTensor* lengths) {
        const int64_t B = inputs.view()->shape[0], L = inputs.view()->shape[1];
        std::vector<int64_t> oshape = cfg.task == CHELA_TASK_LM ? std::vector<int64_t>{B, L, cfg.vocab_size}
                                                                : std::vector<int64_t>{B, cfg.num_classes};
        HostTensor want(oshape), got(oshape);
        EXPECT_CHELA_OK(chela_model_forward(cpu_model, inputs.view(), lengths ? lengths->view() : nullptr, want.view()));
        chela_tensor* dout = to_device(got);  // NaN-poisoned on the device
        EXPECT_CHELA_OK(chela_model_forward(gpu_model, to_device(inputs), lengths ? lengths->view() : nullptr, dout));
        EXPECT_CHELA_OK(chela_context_synchronize(ctx));
        to_host(dout, got);
        return rel_l2(got.f32(), to_double(want.f32()));
    }
    HostTensor random_tokens(int64_t B, int64_t L, uint64_t seed) {
        HostTensor t({B, L}, CHELA_DTYPE_I32);
        const auto u = uniform(static_cast<size_t>(B * L), seed, 0.0f, 1.0f);
        for (int64_t i = 0; i < B * L; ++i)
            t.data<int32_t>()[i] = std::min<int32_t>(cfg.vocab_size - 1, static_cast<int32_t>(u[i] * cfg.vocab_size));
        return t;
    }

    chela_context* cpu = nullptr;
    chela_model *gpu_model = nullptr, *cpu_model = nullptr;
    chela_model_config cfg{};
};

TEST_F(CudaModel, EveryGoldenCaseMatchesTheFloat64Reference) {
    const auto cases = golden_cases();
    if (cases.empty()) GTEST_SKIP() << "no golden cases under " << golden_root();
    for (const fs::path& dir : cases) {
        SCOPED_TRACE("golden case " + dir.filename().string());
        auto io = read_io(dir / "io.safetensors");
        chela_model* model = nullptr;
        ASSERT_CHELA_OK(chela_model_load(ctx, dir.c_str(), &model));
        IoTensor& expected = io.at("logits");
        chela_tensor in = view_of(io.at("inputs"));
        chela_tensor lengths{};
        const bool has_lengths = io.count("lengths") > 0;
        if (has_lengths) lengths = view_of(io.at("lengths"));
        HostTensor host_in;  // a device copy of the inputs: the forward reads device memory
        host_in.reset(std::vector<int64_t>(in.shape, in.shape + in.rank), in.dtype);
        std::memcpy(host_in.view()->data, in.data, io.at("inputs").bytes.size());
        HostTensor out(expected.shape);
        chela_tensor* dout = to_device(out);
        EXPECT_CHELA_OK(chela_model_forward(model, to_device(host_in), has_lengths ? &lengths : nullptr, dout));
        EXPECT_CHELA_OK(chela_context_synchronize(ctx));
        to_host(dout, out);
        std::vector<double> want(static_cast<size_t>(expected.numel()));
        const float* e = reinterpret_cast<const float*>(expected.bytes.data());
        for (size_t i = 0; i < want.size(); ++i) want[i] = e[i];
        const double err = rel_l2(out.f32(), want);
        EXPECT_LE(err, kBound) << dir.filename();
        std::printf("cuda golden %-42s rel-L2 %.2e\n", dir.filename().c_str(), err);
        chela_model_destroy(model);
    }
}

TEST_F(CudaModel, ShippedByteLmMatchesTheCpu) {
    const std::string dir = models_root() + "/bytelm";
    if (!fs::exists(dir + "/config.json")) GTEST_SKIP() << "no model at " << dir;
    load_both(dir);
    HostTensor tokens = random_tokens(2, 1500, 11);
    const double err = compare(tokens, nullptr);
    std::printf("cuda bytelm B2 L1500 vs CPU: rel-L2 %.2e\n", err);
    EXPECT_LE(err, kBound);
}

TEST_F(CudaModel, ShippedListOpsMatchesTheCpuWithUnequalLengths) {
    const std::string dir = models_root() + "/listops";
    if (!fs::exists(dir + "/config.json")) GTEST_SKIP() << "no model at " << dir;
    load_both(dir);
    HostTensor tokens = random_tokens(3, 700, 12);
    HostTensor lengths({3}, CHELA_DTYPE_I32);
    lengths.data<int32_t>()[0] = 700;
    lengths.data<int32_t>()[1] = 333;
    lengths.data<int32_t>()[2] = 1;
    const double err = compare(tokens, &lengths);
    std::printf("cuda listops B3 L700 lengths vs CPU: rel-L2 %.2e\n", err);
    EXPECT_LE(err, kBound);
}

// CHELA's shape: one wide value head (dk 128, dv 1024), decay, FFN; causal and bidirectional; odd L.
// Widths that are multiples of 128 take the vectorised row kernels (layer_kernels.cu: norms, the
// attention output, the gated residual) and V serves as the attention's padded values; the
// bidirectional model is post-norm with rmsnorm, so the norms also run in place on f32 rows.
TEST_F(CudaModel, WideSingleHeadModelsMatchTheCpu) {
    for (int causal : {1, 0}) {
        SCOPED_TRACE(causal ? "causal" : "bidirectional");
        chela_model_config c = small_config();
        c.d_model = 256;
        c.z_dim = 128;
        c.v_dim = 1024;
        c.n_layers = 2;
        c.short_kernel = 3;
        c.long_kernel = 1100;
        c.max_len = 1100;
        c.causal = causal;
        c.prenorm = causal;
        c.norm = causal ? CHELA_NORM_LAYERNORM : CHELA_NORM_RMSNORM;
        c.decay = 1;
        c.feature_map = CHELA_FEATURE_ELU1;
        c.attn_scale = 1.0f / std::sqrt(128.0f);
        c.ffn_dim = 512;
        c.vocab_size = 300;
        load_random(c, 21 + causal);
        HostTensor tokens = random_tokens(2, 1037, 13);
        const double err = compare(tokens, nullptr);
        std::printf("cuda wide %s B2 L1037 vs CPU: rel-L2 %.2e\n", causal ? "causal" : "bidir", err);
        EXPECT_LE(err, kBound);
        chela_model_destroy(gpu_model);
        chela_model_destroy(cpu_model);
        gpu_model = cpu_model = nullptr;
    }
}

// Continuous inputs, denominator normalisation, post-norm, rmsnorm, last pooling, several heads.
TEST_F(CudaModel, FeatureClassifierWithDenominatorMatchesTheCpu) {
    chela_model_config c = small_config();
    c.d_model = 64;
    c.z_dim = 48;
    c.v_dim = 96;
    c.n_heads = 3;
    c.long_kernel = 300;
    c.max_len = 300;
    c.causal = 0;
    c.prenorm = 0;
    c.norm = CHELA_NORM_RMSNORM;
    c.feature_map = CHELA_FEATURE_RELU;
    c.attn_norm = CHELA_ATTN_NORM_DENOMINATOR;
    c.attn_scale = 0.25f;
    c.task = CHELA_TASK_CLASSIFY;
    c.vocab_size = 0;
    c.input_dim = 5;
    c.num_classes = 7;
    c.pooling = CHELA_POOLING_LAST;
    load_random(c, 31);
    HostTensor x({2, 257, 5}, randn(2 * 257 * 5, 14));
    const double err = compare(x, nullptr);
    std::printf("cuda feature classifier vs CPU: rel-L2 %.2e\n", err);
    EXPECT_LE(err, kBound);
}

TEST_F(CudaModel, HostArgumentsGiveTheSameLogitsAsDeviceOnes) {
    chela_model_config c = small_config();
    c.long_kernel = c.max_len = 200;
    load_random(c, 41);
    HostTensor tokens = random_tokens(2, 130, 15);
    HostTensor host_out({2, 130, cfg.vocab_size}), dev_out({2, 130, cfg.vocab_size});
    ASSERT_CHELA_OK(chela_model_forward(gpu_model, tokens.view(), nullptr, host_out.view()));
    chela_tensor* dout = to_device(dev_out);
    ASSERT_CHELA_OK(chela_model_forward(gpu_model, to_device(tokens), nullptr, dout));
    ASSERT_CHELA_OK(chela_context_synchronize(ctx));
    to_host(dout, dev_out);
    EXPECT_EQ(host_out.f32(), dev_out.f32());
}

TEST_F(CudaModel, BadTokenIsAClearErrorAndLeavesTheOutputAlone) {
    load_random(small_config(), 51);
    HostTensor tokens = random_tokens(2, 40, 16);
    tokens.data<int32_t>()[40 + 17] = cfg.vocab_size;  // sequence 1, position 17
    HostTensor out({2, 40, cfg.vocab_size});
    chela_tensor* dout = to_device(out);
    EXPECT_CHELA_ERROR(chela_model_forward(gpu_model, to_device(tokens), nullptr, dout), CHELA_ERR_INVALID_ARGUMENT,
                       "position [1, 17]");
    to_host(dout, out);
    for (float v : out.f32()) ASSERT_TRUE(std::isnan(v));
    // The model still works afterwards.
    tokens.data<int32_t>()[40 + 17] = 3;
    EXPECT_LE(compare(tokens, nullptr), kBound);
}

TEST_F(CudaModel, LayerForwardOnDeviceTensorsMatchesTheCpu) {
    chela_model_config c = small_config();
    c.d_model = 48;
    c.z_dim = 32;
    c.v_dim = 64;
    c.n_heads = 2;
    c.long_kernel = c.max_len = 500;
    c.decay = 1;
    load_random(c, 61);
    HostTensor x({2, 321, 48}, randn(2 * 321 * 48, 17)), want({2, 321, 48}), got({2, 321, 48});
    ASSERT_CHELA_OK(chela_model_layer_forward(cpu_model, 1, x.view(), want.view()));
    chela_tensor* dy = to_device(got);
    ASSERT_CHELA_OK(chela_model_layer_forward(gpu_model, 1, to_device(x), dy));
    ASSERT_CHELA_OK(chela_context_synchronize(ctx));
    to_host(dy, got);
    EXPECT_LE(rel_l2(got.f32(), to_double(want.f32())), kBound);
    // Host tensors are refused for the single layer (device tensors only), with the reason.
    EXPECT_CHELA_ERROR(chela_model_layer_forward(gpu_model, 1, x.view(), dy), CHELA_ERR_INVALID_ARGUMENT, "x");
}

// A loaded model keeps its layers' long-kernel spectra between forwards (cuda/spectra_cache.h).
// Logits with the cache off, at the forward that fills it, at one that reuses it, and under a
// budget that holds one layer's spectra (the layers evict each other every call) are the same bits,
// on the one-CTA tensor-core FFT (L 16000) and on the cluster FFT (L 20000), after a forward at the
// other length; and they match the CPU backend.
TEST_F(CudaModel, CachedKernelSpectraGiveTheSameLogits) {
    chela_model_config c = small_config();
    c.d_model = 64;
    c.z_dim = 32;
    c.v_dim = 64;
    c.n_heads = 2;
    c.long_kernel = c.max_len = 20000;
    load_random(c, 81);
    auto gpu_logits = [&](HostTensor& tokens) {
        HostTensor out({1, tokens.view()->shape[1], cfg.vocab_size});
        chela_tensor* dout = to_device(out);  // NaN-poisoned
        EXPECT_CHELA_OK(chela_model_forward(gpu_model, to_device(tokens), nullptr, dout));
        EXPECT_CHELA_OK(chela_context_synchronize(ctx));
        to_host(dout, out);
        return out.f32();
    };
    struct Case {
        int64_t L;
        const char* one_layer_mb;  // just over one layer's spectra: 64 (N + 1) 8 bytes
    };
    for (const Case& k : {Case{16000, "9"}, Case{20000, "17"}}) {
        SCOPED_TRACE("L " + std::to_string(k.L));
        HostTensor tokens = random_tokens(1, k.L, 19);
        setenv("CHELA_CUDA_SPECTRA_CACHE_MB", "0", 1);
        const std::vector<float> off = gpu_logits(tokens);
        unsetenv("CHELA_CUDA_SPECTRA_CACHE_MB");
        const std::vector<float> filling = gpu_logits(tokens), reusing = gpu_logits(tokens);
        setenv("CHELA_CUDA_SPECTRA_CACHE_MB", k.one_layer_mb, 1);
        const std::vector<float> evicting = gpu_logits(tokens);
        unsetenv("CHELA_CUDA_SPECTRA_CACHE_MB");
        for (float v : off) ASSERT_TRUE(std::isfinite(v));
        EXPECT_TRUE(filling == off);
        EXPECT_TRUE(reusing == off);
        EXPECT_TRUE(evicting == off);
        const double err = compare(tokens, nullptr);
        std::printf("cuda cached spectra L%lld vs CPU: rel-L2 %.2e\n", static_cast<long long>(k.L), err);
        EXPECT_LE(err, kBound);
    }
    setenv("CHELA_CUDA_SPECTRA_CACHE_MB", "lots", 1);
    HostTensor tokens = random_tokens(1, 16000, 20);
    HostTensor out({1, 16000, cfg.vocab_size});
    EXPECT_CHELA_ERROR(chela_model_forward(gpu_model, to_device(tokens), nullptr, to_device(out)),
                       CHELA_ERR_INVALID_ARGUMENT, "CHELA_CUDA_SPECTRA_CACHE_MB");
    unsetenv("CHELA_CUDA_SPECTRA_CACHE_MB");
    EXPECT_CHELA_OK(chela_model_forward(gpu_model, to_device(tokens), nullptr, to_device(out)));
}

TEST_F(CudaModel, StreamingOnACudaModelSaysItIsUnsupported) {
    load_random(small_config(), 71);
    chela_state* st = nullptr;
    EXPECT_CHELA_ERROR(chela_state_create(gpu_model, 1, &st), CHELA_ERR_UNSUPPORTED, "streaming");
    EXPECT_EQ(st, nullptr);
}

}  // namespace
