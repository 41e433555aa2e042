// The CHELA layer and the whole model against a float64 reference written from the spec, the
// layer against the composition of the public ops, unequal lengths, concurrency and bad input.
#include "cpu/layer_ops.h"
#include "reference/layer_ref.h"
#include "support/checkpoint_writer.h"
#include "support/loaded_model.h"
#include "support/test_util.h"

#include <atomic>
#include <cmath>
#include <filesystem>
#include <thread>

using namespace chela;
using namespace chela::test;

namespace {

struct LayerCase {
    const char* name;
    int causal, prenorm, norm, feature_map, attn_norm, decay, ffn, heads, ks, branches;
    int64_t L;
};

std::ostream& operator<<(std::ostream& os, const LayerCase& c) { return os << c.name; }

chela_model_config config_for(const LayerCase& c) {
    chela_model_config cfg = small_config();
    cfg.causal = c.causal;
    cfg.prenorm = c.prenorm;
    cfg.norm = c.norm;
    cfg.feature_map = c.feature_map;
    cfg.attn_norm = c.attn_norm;
    cfg.decay = c.decay;
    cfg.ffn_dim = c.ffn ? 20 : 0;
    cfg.n_heads = c.heads;
    cfg.z_dim = 8;
    cfg.v_dim = 12;
    cfg.short_kernel = c.ks;
    cfg.long_kernel = 50;
    cfg.max_len = 50;
    cfg.attn_scale = 1.0f / std::sqrt(static_cast<float>(cfg.z_dim / cfg.n_heads));
    return cfg;
}

class LayerVsReference : public testing::TestWithParam<LayerCase> {};

// chela_model_layer_forward equals the float64 spec reference of one layer.
TEST_P(LayerVsReference, MatchesFloat64) {
    const LayerCase& c = GetParam();
    Loaded m(config_for(c), 1000 + c.L, c.branches);
    ASSERT_NE(m.model, nullptr);
    const int64_t B = 2, d = m.cfg.d_model;
    const auto x = randn(static_cast<size_t>(B * c.L * d), 77);
    HostTensor xt({B, c.L, d}, x), yt({B, c.L, d});
    for (int layer = 0; layer < m.cfg.n_layers; ++layer) {
        ASSERT_CHELA_OK(chela_model_layer_forward(m.model, layer, xt.view(), yt.view()));
        const auto want = ref::layer(m.cfg, ref::Weights(m.model), layer, B, c.L, to_double(x));
        EXPECT_LE(rel_l2(yt.f32(), want), 2e-5) << "layer " << layer;
        yt.poison();
    }
}

const LayerCase kLayerCases[] = {
    {"causal_default", 1, 1, CHELA_NORM_LAYERNORM, CHELA_FEATURE_IDENTITY, CHELA_ATTN_NORM_RMSNORM, 0, 0, 1, 3, 1, 70},
    {"causal_decay_ffn_heads2", 1, 1, CHELA_NORM_LAYERNORM, CHELA_FEATURE_IDENTITY, CHELA_ATTN_NORM_RMSNORM, 1, 1, 2, 3, 1, 65},
    {"causal_rms_elu1_denominator", 1, 1, CHELA_NORM_RMSNORM, CHELA_FEATURE_ELU1, CHELA_ATTN_NORM_DENOMINATOR, 1, 0, 4, 5, 1, 33},
    {"causal_postnorm_ffn", 1, 0, CHELA_NORM_LAYERNORM, CHELA_FEATURE_SILU, CHELA_ATTN_NORM_NONE, 0, 1, 1, 3, 1, 64},
    {"causal_relu_branches", 1, 1, CHELA_NORM_LAYERNORM, CHELA_FEATURE_RELU, CHELA_ATTN_NORM_RMSNORM, 1, 0, 2, 5, 3, 1},
    {"bidir_default", 0, 1, CHELA_NORM_LAYERNORM, CHELA_FEATURE_IDENTITY, CHELA_ATTN_NORM_RMSNORM, 0, 0, 1, 3, 1, 70},
    {"bidir_decay_branches_ffn", 0, 1, CHELA_NORM_RMSNORM, CHELA_FEATURE_ELU1, CHELA_ATTN_NORM_DENOMINATOR, 1, 1, 2, 5, 2, 66},
    {"bidir_postnorm_len2", 0, 0, CHELA_NORM_RMSNORM, CHELA_FEATURE_SILU, CHELA_ATTN_NORM_NONE, 1, 1, 4, 3, 1, 2},
};

INSTANTIATE_TEST_SUITE_P(Configs, LayerVsReference, testing::ValuesIn(kLayerCases),
                         [](const auto& info) { return std::string(info.param.name); });

// The layer is the composition of the public ops (chela_short_long_conv, chela_linear_attention)
// and the dense glue: same weights, same input, same answer up to f32 rounding.
TEST(LayerComposition, EqualsPublicOps) {
    chela_model_config cfg = config_for(kLayerCases[1]);
    Loaded m(cfg, 5);
    ASSERT_NE(m.model, nullptr);
    const ref::Weights w = ref::Weights(m.model);
    const int64_t B = 2, L = 65, d = cfg.d_model, e = cfg.z_dim, f = cfg.v_dim, rows = B * L;
    const int64_t pw = 2 * d + e + f;
    const auto x = randn(static_cast<size_t>(rows * d), 9);
    auto name = [](const char* n) { return std::string("layers.0.") + n; };

    chela::ThreadPool pool(2);
    std::vector<float> xn(x.size());
    cpu::layer_norm(pool, rows, d, x.data(), w.f(name("norm.weight")), w.f(name("norm.bias")), cfg.eps, xn.data());
    HostTensor xnt({B, L, d}, xn), mt({B, L, d});
    ASSERT_CHELA_OK(chela_short_long_conv(m.ctx, xnt.view(), w.view(name("short_conv.weight")),
                                          w.view(name("short_conv.bias")), w.view(name("long_conv.weight")),
                                          nullptr, w.view(name("omega")), mt.view(), 1));
    const auto mv = mt.f32();
    std::vector<float> v(static_cast<size_t>(rows * f)), p(static_cast<size_t>(rows * pw));
    cpu::linear(rows, d, f, xn.data(), w.f(name("v_proj.weight")), w.f(name("v_proj.bias")), v.data());
    cpu::linear(rows, d, pw, mv.data(), w.f(name("mx_proj.weight")), w.f(name("mx_proj.bias")), p.data());
    std::vector<float> q(static_cast<size_t>(rows * e)), k(q.size()), r(static_cast<size_t>(rows * f));
    const float* g = w.f(name("qk_gamma"));
    const float* bt = w.f(name("qk_beta"));
    for (int64_t i = 0; i < rows; ++i) {
        for (int64_t c = 0; c < f; ++c) v[i * f + c] = cpu::silu(v[i * f + c]);
        for (int64_t c = 0; c < e; ++c) {
            const float z = cpu::silu(p[i * pw + d + c]);
            q[i * e + c] = z * g[c] + bt[c];
            k[i * e + c] = z * g[e + c] + bt[e + c];
        }
        for (int64_t c = 0; c < f; ++c) r[i * f + c] = cpu::silu(p[i * pw + d + e + c]);
    }
    HostTensor qt({B, L, e}, q), kt({B, L, e}, k), vt({B, L, f}, v), ot({B, L, f});
    chela_linear_attention_options opts;
    ASSERT_CHELA_OK(chela_linear_attention_options_init(&opts, e, cfg.n_heads));
    opts.scale = cfg.attn_scale;
    opts.eps = cfg.eps;
    ASSERT_CHELA_OK(chela_linear_attention(m.ctx, qt.view(), kt.view(), vt.view(), w.view(name("decay")),
                                           w.view(name("attn_norm.weight")), nullptr, nullptr, ot.view(),
                                           nullptr, nullptr, &opts));
    auto o = ot.f32();
    for (size_t i = 0; i < o.size(); ++i) o[i] *= r[i];
    std::vector<float> hd(static_cast<size_t>(rows * d)), y(static_cast<size_t>(rows * d));
    cpu::linear(rows, f, d, o.data(), w.f(name("h_proj.weight")), w.f(name("h_proj.bias")), hd.data());
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t c = 0; c < d; ++c) {
            const float h = cpu::silu(p[i * pw + d + e + f + c] + hd[i * d + c]);
            const float u = cpu::sigmoid(p[i * pw + c]);
            y[i * d + c] = x[i * d + c] + u * (h - x[i * d + c]);
        }
    // FFN (pre-norm)
    std::vector<float> yn(y.size()), mid(static_cast<size_t>(rows * cfg.ffn_dim)), ff(y.size());
    cpu::layer_norm(pool, rows, d, y.data(), w.f(name("ffn_norm.weight")), w.f(name("ffn_norm.bias")), cfg.eps, yn.data());
    cpu::linear(rows, d, cfg.ffn_dim, yn.data(), w.f(name("ffn.fc1.weight")), w.f(name("ffn.fc1.bias")), mid.data());
    for (float& t : mid) t = cpu::silu(t);
    cpu::linear(rows, cfg.ffn_dim, d, mid.data(), w.f(name("ffn.fc2.weight")), w.f(name("ffn.fc2.bias")), ff.data());
    for (size_t i = 0; i < y.size(); ++i) y[i] += ff[i];

    HostTensor xt({B, L, d}, x), yt({B, L, d});
    ASSERT_CHELA_OK(chela_model_layer_forward(m.model, 0, xt.view(), yt.view()));
    EXPECT_LE(rel_l2(yt.f32(), to_double(y)), 1e-6);
}

struct ModelCase {
    const char* name;
    int task, causal, tokens, pooling, tie, prenorm;
};
std::ostream& operator<<(std::ostream& os, const ModelCase& c) { return os << c.name; }

chela_model_config model_config(const ModelCase& c) {
    chela_model_config cfg = config_for(kLayerCases[c.causal ? 1 : 6]);
    cfg.task = c.task;
    cfg.prenorm = c.prenorm;
    cfg.tie_embeddings = c.tie;
    cfg.pooling = c.pooling;
    if (c.tokens) {
        cfg.vocab_size = 37;
        cfg.input_dim = 0;
    } else {
        cfg.vocab_size = 0;
        cfg.input_dim = 6;
    }
    cfg.num_classes = c.task == CHELA_TASK_CLASSIFY ? 5 : 0;
    return cfg;
}

class ModelVsReference : public testing::TestWithParam<ModelCase> {};

// Inputs for a model: token ids or features, as a tensor.
HostTensor model_inputs(const chela_model_config& cfg, int64_t B, int64_t L, uint64_t seed) {
    if (cfg.vocab_size > 0) {
        HostTensor t({B, L}, CHELA_DTYPE_I32);
        std::mt19937 rng(static_cast<unsigned>(seed));
        for (int64_t i = 0; i < B * L; ++i) t.data<int32_t>()[i] = static_cast<int32_t>(rng() % cfg.vocab_size);
        return t;
    }
    return HostTensor({B, L, cfg.input_dim}, randn(static_cast<size_t>(B * L * cfg.input_dim), seed));
}

TEST_P(ModelVsReference, MatchesFloat64) {
    const ModelCase& c = GetParam();
    Loaded m(model_config(c), 31);
    ASSERT_NE(m.model, nullptr);
    const int64_t B = 3, L = 41;
    HostTensor in = model_inputs(m.cfg, B, L, 3);
    const bool lm = m.cfg.task == CHELA_TASK_LM;
    HostTensor out(lm ? std::vector<int64_t>{B, L, m.cfg.vocab_size} : std::vector<int64_t>{B, m.cfg.num_classes});
    ASSERT_CHELA_OK(chela_model_forward(m.model, in.view(), nullptr, out.view()));
    const auto want = ref::model(m.cfg, ref::Weights(m.model), B, {L, L, L}, in);
    EXPECT_LE(rel_l2(out.f32(), want), 2e-5);
}

const ModelCase kModelCases[] = {
    {"lm_tokens", CHELA_TASK_LM, 1, 1, CHELA_POOLING_MEAN, 0, 1},
    {"lm_tied", CHELA_TASK_LM, 1, 1, CHELA_POOLING_MEAN, 1, 1},
    {"lm_postnorm", CHELA_TASK_LM, 1, 1, CHELA_POOLING_MEAN, 0, 0},
    {"classify_bidir_mean_tokens", CHELA_TASK_CLASSIFY, 0, 1, CHELA_POOLING_MEAN, 0, 1},
    {"classify_bidir_last_features", CHELA_TASK_CLASSIFY, 0, 0, CHELA_POOLING_LAST, 0, 1},
    {"classify_causal_last_features", CHELA_TASK_CLASSIFY, 1, 0, CHELA_POOLING_LAST, 0, 1},
};

INSTANTIATE_TEST_SUITE_P(Configs, ModelVsReference, testing::ValuesIn(kModelCases),
                         [](const auto& info) { return std::string(info.param.name); });

class UnequalLengths : public testing::TestWithParam<ModelCase> {};

// With lengths, each sequence's result equals running it alone, and whatever sits in the padding
// cannot change a valid output.
TEST_P(UnequalLengths, PaddingNeverInfluencesValidPositions) {
    const ModelCase& c = GetParam();
    Loaded m(model_config(c), 41);
    ASSERT_NE(m.model, nullptr);
    const int64_t B = 3, L = 30;
    const std::vector<int64_t> lens = {30, 7, 18};
    HostTensor in = model_inputs(m.cfg, B, L, 5), lt({B}, CHELA_DTYPE_I32);
    for (int64_t b = 0; b < B; ++b) lt.data<int32_t>()[b] = static_cast<int32_t>(lens[static_cast<size_t>(b)]);
    const bool lm = m.cfg.task == CHELA_TASK_LM;
    const std::vector<int64_t> oshape = lm ? std::vector<int64_t>{B, L, m.cfg.vocab_size}
                                           : std::vector<int64_t>{B, m.cfg.num_classes};
    HostTensor out1(oshape), out2(oshape);
    ASSERT_CHELA_OK(chela_model_forward(m.model, in.view(), lt.view(), out1.view()));
    EXPECT_LE(rel_l2(out1.f32(), ref::model(m.cfg, ref::Weights(m.model), B, lens, in)), 2e-5);
    // Scribble over the padding and run again: identical bits.
    HostTensor in2 = model_inputs(m.cfg, B, L, 99);
    const size_t row = m.cfg.vocab_size > 0 ? 1 : static_cast<size_t>(m.cfg.input_dim);
    const size_t esz = chela_dtype_size(in.view()->dtype);
    for (int64_t b = 0; b < B; ++b)
        std::memcpy(static_cast<char*>(in2.view()->data) + b * L * row * esz,
                    static_cast<char*>(in.view()->data) + b * L * row * esz,
                    static_cast<size_t>(lens[static_cast<size_t>(b)]) * row * esz);
    ASSERT_CHELA_OK(chela_model_forward(m.model, in2.view(), lt.view(), out2.view()));
    const auto a = out1.f32(), bb = out2.f32();
    ASSERT_EQ(a.size(), bb.size());
    EXPECT_EQ(0, std::memcmp(a.data(), bb.data(), a.size() * sizeof(float)));
}

INSTANTIATE_TEST_SUITE_P(Configs, UnequalLengths,
                         testing::Values(kModelCases[0], kModelCases[3], kModelCases[4]),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ModelConcurrency, ManyThreadsOneModelSameLogits) {
    Loaded m(model_config(kModelCases[0]), 51);
    ASSERT_NE(m.model, nullptr);
    const int64_t B = 2, L = 33;
    HostTensor in = model_inputs(m.cfg, B, L, 8);
    HostTensor first({B, L, m.cfg.vocab_size});
    ASSERT_CHELA_OK(chela_model_forward(m.model, in.view(), nullptr, first.view()));
    const auto want = first.f32();
    std::atomic<int> mismatches{0}, failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 10; ++i) {
                HostTensor out({B, L, m.cfg.vocab_size});
                if (chela_model_forward(m.model, in.view(), nullptr, out.view()) != CHELA_OK) failures++;
                const auto got = out.f32();
                if (std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) != 0) mismatches++;
            }
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(mismatches.load(), 0);
}

TEST(ModelErrors, BadInputsNameTheProblem) {
    Loaded m(model_config(kModelCases[0]), 61);
    ASSERT_NE(m.model, nullptr);
    const int64_t V = m.cfg.vocab_size;
    HostTensor in = model_inputs(m.cfg, 1, 4, 1), out({1, 4, V});
    in.data<int32_t>()[2] = static_cast<int32_t>(V);
    EXPECT_CHELA_ERROR(chela_model_forward(m.model, in.view(), nullptr, out.view()), CHELA_ERR_INVALID_ARGUMENT,
                       "token id 37 at position [0, 2]");
    in.data<int32_t>()[2] = -1;
    EXPECT_CHELA_ERROR(chela_model_forward(m.model, in.view(), nullptr, out.view()), CHELA_ERR_INVALID_ARGUMENT,
                       "token id -1");
    in.data<int32_t>()[2] = 0;
    HostTensor bad_out({1, 5, V});
    EXPECT_CHELA_ERROR(chela_model_forward(m.model, in.view(), nullptr, bad_out.view()), CHELA_ERR_SHAPE, "out");
    HostTensor f_in({1, 4}, randn(4, 1));
    EXPECT_CHELA_ERROR(chela_model_forward(m.model, f_in.view(), nullptr, out.view()), CHELA_ERR_DTYPE, "inputs");
    EXPECT_CHELA_ERROR(chela_model_forward(nullptr, in.view(), nullptr, out.view()), CHELA_ERR_INVALID_ARGUMENT, "model");
    EXPECT_CHELA_ERROR(chela_model_forward(m.model, nullptr, nullptr, out.view()), CHELA_ERR_INVALID_ARGUMENT, "inputs");
    EXPECT_CHELA_ERROR(chela_model_forward(m.model, in.view(), nullptr, nullptr), CHELA_ERR_INVALID_ARGUMENT, "out");
    HostTensor lens({1}, CHELA_DTYPE_I32);
    lens.data<int32_t>()[0] = 5;
    EXPECT_CHELA_ERROR(chela_model_forward(m.model, in.view(), lens.view(), out.view()), CHELA_ERR_INVALID_ARGUMENT,
                       "lengths[0] = 5");
    HostTensor empty({1, 0}, CHELA_DTYPE_I32), empty_out({1, 0, V});
    EXPECT_CHELA_ERROR(chela_model_forward(m.model, empty.view(), nullptr, empty_out.view()), CHELA_ERR_SHAPE, "inputs");
}

TEST(ModelErrors, LayerForwardArguments) {
    Loaded m(model_config(kModelCases[0]), 71);
    ASSERT_NE(m.model, nullptr);
    const int64_t d = m.cfg.d_model;
    HostTensor x({1, 3, d}, randn(static_cast<size_t>(3 * d), 2)), y({1, 3, d}), bad({1, 3, d + 1});
    EXPECT_CHELA_ERROR(chela_model_layer_forward(m.model, 2, x.view(), y.view()), CHELA_ERR_INVALID_ARGUMENT, "layer");
    EXPECT_CHELA_ERROR(chela_model_layer_forward(m.model, -1, x.view(), y.view()), CHELA_ERR_INVALID_ARGUMENT, "layer");
    EXPECT_CHELA_ERROR(chela_model_layer_forward(m.model, 0, x.view(), bad.view()), CHELA_ERR_SHAPE, "y");
    EXPECT_CHELA_ERROR(chela_model_layer_forward(m.model, 0, bad.view(), y.view()), CHELA_ERR_SHAPE, "x");
    EXPECT_CHELA_ERROR(chela_model_layer_forward(m.model, 0, x.view(), x.view()), CHELA_ERR_INVALID_ARGUMENT, "alias");
}

// bf16 layer input/output storage: the answer is the f32 one rounded.
TEST(ModelDtypes, LayerForwardBf16Storage) {
    Loaded m(config_for(kLayerCases[0]), 81);
    ASSERT_NE(m.model, nullptr);
    const int64_t d = m.cfg.d_model, L = 20;
    const auto x = round_through(randn(static_cast<size_t>(L * d), 3), CHELA_DTYPE_BF16);
    HostTensor xb({1, L, d}, x, CHELA_DTYPE_BF16), yb({1, L, d}, CHELA_DTYPE_BF16);
    ASSERT_CHELA_OK(chela_model_layer_forward(m.model, 0, xb.view(), yb.view()));
    const auto want = ref::layer(m.cfg, ref::Weights(m.model), 0, 1, L, to_double(x));
    EXPECT_LE(rel_l2(yb.f32(), want), 8e-3);
}

TEST(ModelLifetime, ContextRefusesToDieBeforeItsModels) {
    chela_model_config cfg = small_config();
    const std::string dir = testing::TempDir() + "chela_lifetime_" + std::to_string(::getpid());
    write_checkpoint(dir, cfg, random_weights(cfg, 3));
    chela_context* ctx = nullptr;
    chela_model* model = nullptr;
    ASSERT_CHELA_OK(chela_context_create_cpu(1, &ctx));
    ASSERT_CHELA_OK(chela_model_load(ctx, dir.c_str(), &model));
    EXPECT_CHELA_ERROR(chela_context_destroy(ctx), CHELA_ERR_INVALID_ARGUMENT, "still alive");
    ASSERT_CHELA_OK(chela_model_destroy(model));
    ASSERT_CHELA_OK(chela_context_destroy(ctx));
    std::filesystem::remove_all(dir);
}

}  // namespace
