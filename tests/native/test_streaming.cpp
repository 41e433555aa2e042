// Streaming (chela_state): prefill of t tokens then n decode steps equals one forward pass over the
// t+n tokens (the forward pass is itself checked against the float64 reference in test_model);
// multi-turn prefill; state lifetime and bad input. And chela_sample.
#include "support/loaded_model.h"

#include <cmath>
#include <map>

using namespace chela;
using namespace chela::test;

namespace {

struct StreamCase {
    const char* name;
    int prenorm, norm, feature_map, attn_norm, decay, ffn, heads, ks, branches;
    int64_t Lk;
};

std::ostream& operator<<(std::ostream& os, const StreamCase& c) { return os << c.name; }

chela_model_config config_for(const StreamCase& c) {
    chela_model_config cfg = small_config();
    cfg.prenorm = c.prenorm;
    cfg.norm = c.norm;
    cfg.feature_map = c.feature_map;
    cfg.attn_norm = c.attn_norm;
    cfg.decay = c.decay;
    cfg.ffn_dim = c.ffn ? 20 : 0;
    cfg.n_heads = c.heads;
    cfg.short_kernel = c.ks;
    cfg.long_kernel = static_cast<int32_t>(c.Lk);
    cfg.max_len = static_cast<int32_t>(c.Lk);
    cfg.attn_scale = 1.0f / std::sqrt(static_cast<float>(cfg.z_dim / cfg.n_heads));
    return cfg;
}

std::vector<int32_t> random_ids(size_t n, int vocab, uint64_t seed) {
    const auto u = uniform(n, seed, 0.0f, static_cast<float>(vocab));
    std::vector<int32_t> ids(n);
    for (size_t i = 0; i < n; ++i) ids[i] = std::min(vocab - 1, static_cast<int32_t>(u[i]));
    return ids;
}

HostTensor id_tensor(std::vector<int64_t> shape, const int32_t* ids) {
    HostTensor t(std::move(shape), CHELA_DTYPE_I32);
    std::copy(ids, ids + t.numel(), t.data<int32_t>());
    return t;
}

// Logits of one full forward pass: [B, T, V].
std::vector<float> full_forward(Loaded& m, int64_t B, int64_t T, const std::vector<int32_t>& ids) {
    HostTensor in = id_tensor({B, T}, ids.data()), out({B, T, m.cfg.vocab_size});
    EXPECT_CHELA_OK(chela_model_forward(m.model, in.view(), nullptr, out.view()));
    return out.f32();
}

// Rows [b, t, :] of a [B, T, V] array, for every b: [B, V].
std::vector<float> at_position(const std::vector<float>& all, int64_t B, int64_t T, int64_t V, int64_t t) {
    std::vector<float> out(static_cast<size_t>(B * V));
    for (int64_t b = 0; b < B; ++b)
        std::copy(all.begin() + (b * T + t) * V, all.begin() + (b * T + t + 1) * V, out.begin() + b * V);
    return out;
}

class StreamVsForward : public testing::TestWithParam<StreamCase> {};

TEST_P(StreamVsForward, PrefillThenDecodeEqualsOneForward) {
    const StreamCase& c = GetParam();
    Loaded m(config_for(c), 500 + c.Lk, c.branches);
    ASSERT_NE(m.model, nullptr);
    const int64_t B = 2, V = m.cfg.vocab_size;
    for (int64_t t : {1, 2, 63, 64, 65, 200}) {
        for (int64_t n : {1, 7, 40}) {
            SCOPED_TRACE("t=" + std::to_string(t) + " n=" + std::to_string(n));
            const int64_t T = t + n;
            const auto ids = random_ids(static_cast<size_t>(B * T), static_cast<int>(V), 10 * t + n);
            const auto want = full_forward(m, B, T, ids);
            chela_state* st = nullptr;
            ASSERT_CHELA_OK(chela_state_create(m.model, B, &st));
            std::vector<int32_t> prompt(static_cast<size_t>(B * t));
            for (int64_t b = 0; b < B; ++b)
                std::copy(ids.begin() + b * T, ids.begin() + b * T + t, prompt.begin() + b * t);
            HostTensor pin = id_tensor({B, t}, prompt.data()), logits({B, V});
            ASSERT_CHELA_OK(chela_state_prefill(st, pin.view(), logits.view()));
            EXPECT_LE(rel_l2(logits.f32(), to_double(at_position(want, B, T, V, t - 1))), 1e-5) << "prefill";
            for (int64_t i = 0; i < n; ++i) {
                int32_t step[2] = {ids[static_cast<size_t>(t + i)], ids[static_cast<size_t>(T + t + i)]};
                HostTensor din = id_tensor({B}, step);
                logits.poison();
                ASSERT_CHELA_OK(chela_state_decode(st, din.view(), logits.view()));
                EXPECT_LE(rel_l2(logits.f32(), to_double(at_position(want, B, T, V, t + i))), 1e-5) << "decode step " << i;
            }
            int64_t pos = 0;
            ASSERT_CHELA_OK(chela_state_position(st, &pos));
            EXPECT_EQ(pos, T);
            ASSERT_CHELA_OK(chela_state_destroy(st));
        }
    }
}

INSTANTIATE_TEST_SUITE_P(
    Configs, StreamVsForward,
    testing::Values(
        //          name                     pre norm                 fmap                     attn_norm                     decay ffn heads ks br  Lk
        StreamCase{"default_rmsnorm_attn",   1, CHELA_NORM_LAYERNORM, CHELA_FEATURE_IDENTITY, CHELA_ATTN_NORM_RMSNORM,     0,    0,  1,    3, 1,  64},
        StreamCase{"decay_ffn_heads",        1, CHELA_NORM_LAYERNORM, CHELA_FEATURE_IDENTITY, CHELA_ATTN_NORM_RMSNORM,     1,    1,  2,    3, 1,  64},
        StreamCase{"denominator_elu1",       1, CHELA_NORM_RMSNORM,   CHELA_FEATURE_ELU1,     CHELA_ATTN_NORM_DENOMINATOR, 1,    0,  2,    4, 1,  30},
        StreamCase{"postnorm_silu_none",     0, CHELA_NORM_LAYERNORM, CHELA_FEATURE_SILU,     CHELA_ATTN_NORM_NONE,        1,    1,  1,    3, 1, 100},
        StreamCase{"branches_relu_long_Lk",  1, CHELA_NORM_RMSNORM,   CHELA_FEATURE_RELU,     CHELA_ATTN_NORM_RMSNORM,     0,    1,  4,    5, 3, 300},
        StreamCase{"ks1_Lk1",                1, CHELA_NORM_LAYERNORM, CHELA_FEATURE_IDENTITY, CHELA_ATTN_NORM_NONE,        1,    0,  1,    1, 1,   1}),
    [](const testing::TestParamInfo<StreamCase>& i) { return std::string(i.param.name); });

// Prompts in several pieces (multi-turn), with all-position logits, equal one forward pass.
TEST(Stream, ChunkedPrefillWithAllPositionsEqualsForward) {
    chela_model_config cfg = small_config();
    cfg.decay = 1;
    cfg.attn_norm = CHELA_ATTN_NORM_DENOMINATOR;
    cfg.feature_map = CHELA_FEATURE_RELU;  // denominator needs a non-negative map
    cfg.long_kernel = cfg.max_len = 40;
    Loaded m(cfg, 77);
    const int64_t B = 1, V = m.cfg.vocab_size, T = 150;
    const auto ids = random_ids(T, static_cast<int>(V), 5);
    const auto want = full_forward(m, B, T, ids);
    chela_state* st = nullptr;
    ASSERT_CHELA_OK(chela_state_create(m.model, B, &st));
    int64_t at = 0;
    for (int64_t piece : {30, 1, 64, 55}) {
        HostTensor in = id_tensor({B, piece}, ids.data() + at), out({B, piece, V});
        ASSERT_CHELA_OK(chela_state_prefill(st, in.view(), out.view()));
        const std::vector<float> want_piece(want.begin() + at * V, want.begin() + (at + piece) * V);
        EXPECT_LE(rel_l2(out.f32(), to_double(want_piece)), 1e-5) << "piece at " << at;
        at += piece;
    }
    // Reset starts a new stream: the first piece again gives the same logits.
    ASSERT_CHELA_OK(chela_state_reset(st));
    HostTensor in = id_tensor({B, 30}, ids.data()), out({B, V});
    ASSERT_CHELA_OK(chela_state_prefill(st, in.view(), out.view()));
    EXPECT_LE(rel_l2(out.f32(), to_double(at_position(want, B, T, V, 29))), 1e-5);
    chela_state_destroy(st);
}

TEST(Stream, BadInputSaysWhyAndLeavesTheStateUsable) {
    Loaded m(small_config(), 3);
    const int64_t V = m.cfg.vocab_size;
    chela_state* st = nullptr;
    EXPECT_CHELA_ERROR(chela_state_create(m.model, 0, &st), CHELA_ERR_INVALID_ARGUMENT, "batch");
    EXPECT_CHELA_ERROR(chela_state_create(nullptr, 1, &st), CHELA_ERR_INVALID_ARGUMENT, "model");
    ASSERT_CHELA_OK(chela_state_create(m.model, 2, &st));
    int32_t good[4] = {1, 2, 3, 4}, bad[4] = {1, 2, static_cast<int32_t>(V), 4};
    HostTensor g = id_tensor({2, 2}, good), b = id_tensor({2, 2}, bad), logits({2, V}), wrong({3, V});
    EXPECT_CHELA_ERROR(chela_state_prefill(st, b.view(), logits.view()), CHELA_ERR_INVALID_ARGUMENT, "token id");
    EXPECT_CHELA_ERROR(chela_state_prefill(st, g.view(), wrong.view()), CHELA_ERR_SHAPE, "logits");
    HostTensor b1 = id_tensor({3, 1}, good);
    EXPECT_CHELA_ERROR(chela_state_prefill(st, b1.view(), logits.view()), CHELA_ERR_SHAPE, "inputs");
    EXPECT_CHELA_ERROR(chela_state_decode(nullptr, g.view(), logits.view()), CHELA_ERR_INVALID_ARGUMENT, "state");
    int64_t pos = -1;
    ASSERT_CHELA_OK(chela_state_position(st, &pos));
    EXPECT_EQ(pos, 0) << "failed calls must not advance the stream";
    ASSERT_CHELA_OK(chela_state_prefill(st, g.view(), logits.view()));
    // The model cannot go while a state uses it.
    EXPECT_CHELA_ERROR(chela_model_destroy(m.model), CHELA_ERR_INVALID_ARGUMENT, "streaming state");
    ASSERT_CHELA_OK(chela_state_destroy(st));
    ASSERT_CHELA_OK(chela_state_destroy(nullptr));
}

TEST(Stream, OnlyCausalLanguageModelsStream) {
    chela_model_config bidir = small_config();
    bidir.causal = 0;
    Loaded a(bidir, 4);
    chela_state* st = nullptr;
    EXPECT_CHELA_ERROR(chela_state_create(a.model, 1, &st), CHELA_ERR_UNSUPPORTED, "causal");
    chela_model_config cls = small_config();
    cls.task = CHELA_TASK_CLASSIFY;
    cls.num_classes = 3;
    Loaded b(cls, 5);
    EXPECT_CHELA_ERROR(chela_state_create(b.model, 1, &st), CHELA_ERR_UNSUPPORTED, "task");
}

// ---------------------------------------------------------------- sampling

std::vector<int32_t> draw(const std::vector<float>& logits, chela_sampling_options o, uint64_t seed, int n) {
    const int64_t V = static_cast<int64_t>(logits.size());
    HostTensor lt({1, V}, logits), ids({1}, CHELA_DTYPE_I32);
    std::vector<int32_t> out;
    uint64_t rng = seed;
    for (int i = 0; i < n; ++i) {
        EXPECT_CHELA_OK(chela_sample(lt.view(), &o, &rng, ids.view()));
        out.push_back(ids.data<int32_t>()[0]);
    }
    return out;
}

TEST(Sample, GreedyIsArgmaxAndTopK1IsGreedy) {
    const auto logits = randn(1000, 9);
    const int32_t arg = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    chela_sampling_options o;
    ASSERT_CHELA_OK(chela_sampling_options_init(&o));
    for (int32_t id : draw(logits, o, 1, 5)) EXPECT_EQ(id, arg);
    o.temperature = 2.0f;
    o.top_k = 1;
    for (int32_t id : draw(logits, o, 2, 20)) EXPECT_EQ(id, arg);
}

TEST(Sample, SameSeedSameIdsOtherSeedOtherIds) {
    const auto logits = randn(300, 10);
    chela_sampling_options o;
    chela_sampling_options_init(&o);
    o.temperature = 1.0f;
    EXPECT_EQ(draw(logits, o, 42, 50), draw(logits, o, 42, 50));
    EXPECT_NE(draw(logits, o, 42, 50), draw(logits, o, 43, 50));
}

TEST(Sample, TopPKeepsTheSmallestSetReachingP) {
    // probabilities 0.5, 0.25, 0.125, 0.125 (logits are their logs)
    const std::vector<float> logits = {std::log(0.125f), std::log(0.5f), std::log(0.125f), std::log(0.25f)};
    chela_sampling_options o;
    chela_sampling_options_init(&o);
    o.temperature = 1.0f;
    o.top_p = 0.7f;  // {1, 3} reaches 0.75
    std::map<int32_t, int> seen;
    for (int32_t id : draw(logits, o, 7, 4000)) seen[id]++;
    EXPECT_EQ(seen.count(0) + seen.count(2), 0u);
    EXPECT_NEAR(seen[1] / 4000.0, 2.0 / 3.0, 0.03);  // 0.5 / 0.75
    o.top_p = 0.5f;  // the first alone reaches 0.5
    for (int32_t id : draw(logits, o, 8, 100)) EXPECT_EQ(id, 1);
}

TEST(Sample, TemperatureFollowsTheDistribution) {
    const std::vector<float> logits = {0.0f, 1.0f, 2.0f};
    chela_sampling_options o;
    chela_sampling_options_init(&o);
    o.temperature = 2.0f;  // p ~ exp(x / 2)
    const double z = 1 + std::exp(0.5) + std::exp(1.0);
    std::map<int32_t, int> seen;
    const int n = 20000;
    for (int32_t id : draw(logits, o, 11, n)) seen[id]++;
    EXPECT_NEAR(seen[0] / double(n), 1 / z, 0.015);
    EXPECT_NEAR(seen[1] / double(n), std::exp(0.5) / z, 0.015);
    EXPECT_NEAR(seen[2] / double(n), std::exp(1.0) / z, 0.015);
}

TEST(Sample, BadOptionsAndLogitsSayWhy) {
    HostTensor lt({1, 3}, std::vector<float>{0.5f, NAN, 1.0f}), ids({1}, CHELA_DTYPE_I32);
    chela_sampling_options o;
    chela_sampling_options_init(&o);
    uint64_t rng = 1;
    EXPECT_CHELA_ERROR(chela_sample(lt.view(), &o, &rng, ids.view()), CHELA_ERR_INVALID_ARGUMENT, "NaN");
    o.top_p = 0.0f;
    EXPECT_CHELA_ERROR(chela_sample(lt.view(), &o, &rng, ids.view()), CHELA_ERR_INVALID_ARGUMENT, "top_p");
    o.top_p = 1.0f;
    o.temperature = -1.0f;
    EXPECT_CHELA_ERROR(chela_sample(lt.view(), &o, &rng, ids.view()), CHELA_ERR_INVALID_ARGUMENT, "temperature");
    o.temperature = 1.0f;
    EXPECT_CHELA_ERROR(chela_sample(lt.view(), &o, nullptr, ids.view()), CHELA_ERR_INVALID_ARGUMENT, "rng");
    HostTensor wrong({2}, CHELA_DTYPE_I32);
    EXPECT_CHELA_ERROR(chela_sample(lt.view(), &o, &rng, wrong.view()), CHELA_ERR_SHAPE, "ids");
}

}  // namespace
