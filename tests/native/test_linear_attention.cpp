// Tiled linear attention (chela_linear_attention) against the float64 O(L^2) reference.
#include "cpu/linear_attention.h"
#include "reference/linear_attention_ref.h"
#include "support/test_util.h"

#include <functional>
#include <memory>

using namespace chela;
using namespace chela::test;

namespace {

constexpr int64_t C = cpu::kDefaultChunk;

struct Case {
    int64_t B, L, e, f, H;
    bool causal;
    int fmap, norm;
    bool decay;
};

std::string case_name(const Case& c) {
    static const char* fm[] = {"identity", "elu1", "relu", "silu"};
    static const char* nm[] = {"rmsnorm", "none", "denominator"};
    return std::string(c.causal ? "causal" : "bidir") + "_L" + std::to_string(c.L) + "_H" + std::to_string(c.H) +
           "_" + fm[c.fmap] + "_" + nm[c.norm] + (c.decay ? "_decay" : "");
}

void PrintTo(const Case& c, std::ostream* os) { *os << case_name(c); }

// Inputs, reference and a call of the C API for one case.
struct Fixture {
    Case c;
    std::vector<float> q, k, v, decay, normw;
    chela_context* ctx = nullptr;
    explicit Fixture(const Case& cs, uint64_t seed = 1) : c(cs) {
        q = randn(static_cast<size_t>(c.B * c.L * c.e), seed);
        k = randn(q.size(), seed + 1);
        v = randn(static_cast<size_t>(c.B * c.L * c.f), seed + 2);
        decay = uniform(static_cast<size_t>(c.H), seed + 3, 0.8f, 1.0f);
        normw = uniform(static_cast<size_t>(c.f), seed + 4, 0.5f, 1.5f);
        EXPECT_EQ(chela_context_create_cpu(3, &ctx), CHELA_OK);
    }
    ~Fixture() { chela_context_destroy(ctx); }

    chela_linear_attention_options options(int chunk = 0) const {
        chela_linear_attention_options o;
        EXPECT_EQ(chela_linear_attention_options_init(&o, c.e, static_cast<int32_t>(c.H)), CHELA_OK);
        o.causal = c.causal;
        o.feature_map = c.fmap;
        o.attn_norm = c.norm;
        o.chunk_size = chunk;
        return o;
    }

    ref::AttentionSpec spec() const {
        ref::AttentionSpec s;
        s.B = c.B; s.L = c.L; s.e = c.e; s.f = c.f; s.H = c.H;
        s.causal = c.causal;
        s.feature_map = c.fmap;
        s.attn_norm = c.norm;
        s.scale = 1.0 / std::sqrt(static_cast<double>(c.e / c.H));
        s.eps = 1e-5;
        if (c.decay) s.decay = to_double(decay);
        if (c.norm == CHELA_ATTN_NORM_RMSNORM) s.norm_weight = to_double(normw);
        return s;
    }

    ref::AttentionResult reference() const { return ref::linear_attention(spec(), to_double(q), to_double(k), to_double(v)); }
};

class AttentionVsReference : public testing::TestWithParam<Case> {};

TEST_P(AttentionVsReference, F32MatchesFloat64) {
    Fixture fx(GetParam());
    const Case& c = fx.c;
    HostTensor q({c.B, c.L, c.e}, fx.q), k({c.B, c.L, c.e}, fx.k), v({c.B, c.L, c.f}, fx.v), out({c.B, c.L, c.f});
    HostTensor decay({c.H}, fx.decay), normw({c.f}, fx.normw);
    const auto opts = fx.options();
    ASSERT_CHELA_OK(chela_linear_attention(fx.ctx, q.view(), k.view(), v.view(), c.decay ? decay.view() : nullptr,
                                           c.norm == CHELA_ATTN_NORM_RMSNORM ? normw.view() : nullptr, nullptr,
                                           nullptr, out.view(), nullptr, nullptr, &opts));
    EXPECT_LE(rel_l2(out.f32(), fx.reference().out), 1e-5);
}

std::vector<Case> all_cases() {
    std::vector<Case> cases;
    for (int64_t L : {int64_t{1}, int64_t{2}, C - 1, C, C + 1, int64_t{257}, int64_t{1000}}) {
        cases.push_back({2, L, 8, 12, 1, true, CHELA_FEATURE_IDENTITY, CHELA_ATTN_NORM_RMSNORM, false});
        cases.push_back({1, L, 16, 24, 2, true, CHELA_FEATURE_ELU1, CHELA_ATTN_NORM_DENOMINATOR, true});
        cases.push_back({1, L, 16, 16, 4, false, CHELA_FEATURE_SILU, CHELA_ATTN_NORM_NONE, true});
        cases.push_back({2, L, 8, 12, 2, false, CHELA_FEATURE_RELU, CHELA_ATTN_NORM_DENOMINATOR, false});
        cases.push_back({1, L, 16, 24, 4, true, CHELA_FEATURE_RELU, CHELA_ATTN_NORM_NONE, true});
    }
    cases.push_back({1, 130, 8, 20, 1, true, CHELA_FEATURE_SILU, CHELA_ATTN_NORM_RMSNORM, true});
    cases.push_back({1, 130, 8, 20, 1, false, CHELA_FEATURE_ELU1, CHELA_ATTN_NORM_RMSNORM, true});
    // A CHELA-like single wide head; v width not a multiple of the 64-column task block.
    cases.push_back({1, 150, 64, 200, 1, true, CHELA_FEATURE_IDENTITY, CHELA_ATTN_NORM_RMSNORM, true});
    cases.push_back({1, 150, 64, 200, 1, false, CHELA_FEATURE_IDENTITY, CHELA_ATTN_NORM_RMSNORM, false});
    return cases;
}

INSTANTIATE_TEST_SUITE_P(Shapes, AttentionVsReference, testing::ValuesIn(all_cases()),
                         [](const auto& info) { return case_name(info.param); });

// Any chunk size gives the same answer.
TEST(AttentionChunks, EveryChunkSizeAgrees) {
    for (bool causal : {true, false}) {
        Fixture fx({1, 200, 8, 16, 2, causal, CHELA_FEATURE_ELU1, CHELA_ATTN_NORM_DENOMINATOR, true});
        const auto want = fx.reference().out;
        for (int chunk : {1, 3, 16, 64, 199, 200, 512}) {
            HostTensor q({1, 200, 8}, fx.q), k({1, 200, 8}, fx.k), v({1, 200, 16}, fx.v), out({1, 200, 16});
            HostTensor decay({2}, fx.decay);
            const auto opts = fx.options(chunk);
            ASSERT_CHELA_OK(chela_linear_attention(fx.ctx, q.view(), k.view(), v.view(), decay.view(), nullptr,
                                                   nullptr, nullptr, out.view(), nullptr, nullptr, &opts));
            EXPECT_LE(rel_l2(out.f32(), want), 1e-5) << "chunk " << chunk << (causal ? " causal" : " bidir");
        }
    }
}

struct Split {
    int64_t L, first;
    int norm;
};

void PrintTo(const Split& s, std::ostream* os) { *os << "L" << s.L << " first " << s.first << " norm " << s.norm; }

class AttentionState : public testing::TestWithParam<Split> {};

// Running [0, first) with state_out, then [first, L) from that state, equals one pass; and the
// final state equals the reference's.
TEST_P(AttentionState, TwoHalvesEqualOnePass) {
    const Split sp = GetParam();
    const int fmap = sp.norm == CHELA_ATTN_NORM_DENOMINATOR ? CHELA_FEATURE_ELU1 : CHELA_FEATURE_IDENTITY;
    Fixture fx({2, sp.L, 16, 24, 2, true, fmap, sp.norm, true});
    const Case& c = fx.c;
    const auto want = fx.reference();
    const bool den = sp.norm == CHELA_ATTN_NORM_DENOMINATOR;
    HostTensor decay({c.H}, fx.decay), normw({c.f}, fx.normw);
    const int64_t dk = c.e / c.H, dv = c.f / c.H;
    HostTensor state({c.B, c.H, dk, dv}), ksum({c.B, c.H, dk});
    std::vector<double> got(static_cast<size_t>(c.B * c.L * c.f));
    const auto opts = fx.options();
    for (int part = 0; part < 2; ++part) {
        const int64_t t0 = part ? sp.first : 0, n = part ? sp.L - sp.first : sp.first;
        auto slice = [&](const std::vector<float>& src, int64_t w) {
            std::vector<float> s;
            for (int64_t b = 0; b < c.B; ++b)
                s.insert(s.end(), src.begin() + (b * c.L + t0) * w, src.begin() + (b * c.L + t0 + n) * w);
            return s;
        };
        HostTensor q({c.B, n, c.e}, slice(fx.q, c.e)), k({c.B, n, c.e}, slice(fx.k, c.e)),
            v({c.B, n, c.f}, slice(fx.v, c.f)), out({c.B, n, c.f});
        // The second part reads the state the first wrote, in place (state_out aliases state_in).
        ASSERT_CHELA_OK(chela_linear_attention(fx.ctx, q.view(), k.view(), v.view(), decay.view(),
                                               sp.norm == CHELA_ATTN_NORM_RMSNORM ? normw.view() : nullptr,
                                               part ? state.view() : nullptr, part && den ? ksum.view() : nullptr,
                                               out.view(), state.view(), den ? ksum.view() : nullptr, &opts));
        const auto o = out.f32();
        for (int64_t b = 0; b < c.B; ++b)
            for (int64_t i = 0; i < n * c.f; ++i) got[static_cast<size_t>((b * c.L + t0) * c.f + i)] = o[static_cast<size_t>(b * n * c.f + i)];
    }
    std::vector<float> gotf(got.begin(), got.end());
    EXPECT_LE(rel_l2(gotf, want.out), 1e-5);
    EXPECT_LE(rel_l2(state.f32(), want.state_out), 1e-5);
    if (den) EXPECT_LE(rel_l2(ksum.f32(), want.ksum_out), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Splits, AttentionState,
                         testing::Values(Split{300, 1, CHELA_ATTN_NORM_NONE}, Split{300, C, CHELA_ATTN_NORM_NONE},
                                         Split{300, 100, CHELA_ATTN_NORM_RMSNORM},
                                         Split{300, 299, CHELA_ATTN_NORM_DENOMINATOR},
                                         Split{257, C + 1, CHELA_ATTN_NORM_DENOMINATOR}),
                         [](const auto& info) {
                             return "L" + std::to_string(info.param.L) + "_first" + std::to_string(info.param.first) +
                                    "_norm" + std::to_string(info.param.norm);
                         });

// A random (non-zero) initial state matches the reference's meaning of a state.
TEST(AttentionState, RandomInitialState) {
    Fixture fx({1, 90, 8, 12, 2, true, CHELA_FEATURE_RELU, CHELA_ATTN_NORM_DENOMINATOR, true});
    const Case& c = fx.c;
    const auto s0 = randn(static_cast<size_t>(c.H * 4 * 6), 9), z0 = uniform(static_cast<size_t>(c.H * 4), 10, 0.5f, 2.0f);
    auto spec = fx.spec();
    spec.state_in = to_double(s0);
    spec.ksum_in = to_double(z0);
    const auto want = ref::linear_attention(spec, to_double(fx.q), to_double(fx.k), to_double(fx.v));
    HostTensor q({1, 90, 8}, fx.q), k({1, 90, 8}, fx.k), v({1, 90, 12}, fx.v), out({1, 90, 12}), decay({2}, fx.decay);
    HostTensor si({1, 2, 4, 6}, s0), zi({1, 2, 4}, z0), so({1, 2, 4, 6}), zo({1, 2, 4});
    const auto opts = fx.options();
    ASSERT_CHELA_OK(chela_linear_attention(fx.ctx, q.view(), k.view(), v.view(), decay.view(), nullptr, si.view(),
                                           zi.view(), out.view(), so.view(), zo.view(), &opts));
    EXPECT_LE(rel_l2(out.f32(), want.out), 1e-5);
    EXPECT_LE(rel_l2(so.f32(), want.state_out), 1e-5);
    EXPECT_LE(rel_l2(zo.f32(), want.ksum_out), 1e-5);
}

class AttentionDtypes : public testing::TestWithParam<int32_t> {};

// bf16/f16 storage: the kernel sees the rounded inputs, computes in f32, rounds the output.
TEST_P(AttentionDtypes, LowPrecisionStorage) {
    const int32_t dt = GetParam();
    Fixture fx({2, 130, 16, 24, 2, true, CHELA_FEATURE_IDENTITY, CHELA_ATTN_NORM_RMSNORM, true});
    fx.q = round_through(fx.q, dt);
    fx.k = round_through(fx.k, dt);
    fx.v = round_through(fx.v, dt);
    const Case& c = fx.c;
    HostTensor q({c.B, c.L, c.e}, fx.q, dt), k({c.B, c.L, c.e}, fx.k, dt), v({c.B, c.L, c.f}, fx.v, dt),
        out({c.B, c.L, c.f}, dt), decay({c.H}, fx.decay), normw({c.f}, fx.normw);
    const auto opts = fx.options();
    ASSERT_CHELA_OK(chela_linear_attention(fx.ctx, q.view(), k.view(), v.view(), decay.view(), normw.view(), nullptr,
                                           nullptr, out.view(), nullptr, nullptr, &opts));
    EXPECT_LE(rel_l2(out.f32(), fx.reference().out), dt == CHELA_DTYPE_BF16 ? 6e-3 : 1e-3);
}

INSTANTIATE_TEST_SUITE_P(Storage, AttentionDtypes, testing::Values(CHELA_DTYPE_BF16, CHELA_DTYPE_F16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

// ---------------------------------------------------------------- bad arguments

struct BadCall {
    const char* name;
    std::function<void(chela_linear_attention_options&)> edit_opts;
    std::function<void(HostTensor& q, HostTensor& k, HostTensor& v, HostTensor& out)> edit_tensors;
    int which;  // 0 normal; 1 decay bad; 2 missing norm; 3 norm given for none; 4 state on bidir; 5 ksum w/o denominator; 6 bad state shape; 7 null ctx; 8 null q
    chela_status status;
    const char* needle;
};

TEST(AttentionErrors, EveryBadArgumentIsNamed) {
    const BadCall calls[] = {
        {"null ctx", nullptr, nullptr, 7, CHELA_ERR_INVALID_ARGUMENT, "ctx"},
        {"null q", nullptr, nullptr, 8, CHELA_ERR_INVALID_ARGUMENT, "q: tensor is null"},
        {"q rank", nullptr, [](HostTensor& q, HostTensor&, HostTensor&, HostTensor&) { q.view()->rank = 2; }, 0, CHELA_ERR_SHAPE, "q:"},
        {"k shape", nullptr, [](HostTensor&, HostTensor& k, HostTensor&, HostTensor&) { k.view()->shape[1] = 3; }, 0, CHELA_ERR_SHAPE, "k:"},
        {"out shape", nullptr, [](HostTensor&, HostTensor&, HostTensor&, HostTensor& o) { o.view()->shape[2] = 5; }, 0, CHELA_ERR_SHAPE, "out:"},
        {"q dtype", nullptr, [](HostTensor& q, HostTensor&, HostTensor&, HostTensor&) { q.view()->dtype = CHELA_DTYPE_I32; }, 0, CHELA_ERR_DTYPE, "q: dtype i32"},
        {"v bad dtype code", nullptr, [](HostTensor&, HostTensor&, HostTensor& v, HostTensor&) { v.view()->dtype = 77; }, 0, CHELA_ERR_DTYPE, "v: dtype"},
        {"heads divide e", [](chela_linear_attention_options& o) { o.n_heads = 3; }, nullptr, 0, CHELA_ERR_SHAPE, "n_heads"},
        {"heads >= 1", [](chela_linear_attention_options& o) { o.n_heads = 0; }, nullptr, 0, CHELA_ERR_INVALID_ARGUMENT, "opts.n_heads"},
        {"feature map", [](chela_linear_attention_options& o) { o.feature_map = 9; }, nullptr, 0, CHELA_ERR_INVALID_ARGUMENT, "opts.feature_map"},
        {"attn norm", [](chela_linear_attention_options& o) { o.attn_norm = -1; }, nullptr, 0, CHELA_ERR_INVALID_ARGUMENT, "opts.attn_norm"},
        {"scale", [](chela_linear_attention_options& o) { o.scale = 0; }, nullptr, 0, CHELA_ERR_INVALID_ARGUMENT, "opts.scale"},
        {"eps nan", [](chela_linear_attention_options& o) { o.eps = NAN; }, nullptr, 0, CHELA_ERR_INVALID_ARGUMENT, "opts.eps"},
        {"chunk", [](chela_linear_attention_options& o) { o.chunk_size = -2; }, nullptr, 0, CHELA_ERR_INVALID_ARGUMENT, "opts.chunk_size"},
        {"reserved", [](chela_linear_attention_options& o) { o.reserved = 1; }, nullptr, 0, CHELA_ERR_INVALID_ARGUMENT, "opts.reserved"},
        {"causal flag", [](chela_linear_attention_options& o) { o.causal = 2; }, nullptr, 0, CHELA_ERR_INVALID_ARGUMENT, "opts.causal"},
        {"denominator identity", [](chela_linear_attention_options& o) { o.attn_norm = CHELA_ATTN_NORM_DENOMINATOR; }, nullptr, 0, CHELA_ERR_INVALID_ARGUMENT, "non-negative feature map"},
        {"decay range", nullptr, nullptr, 1, CHELA_ERR_INVALID_ARGUMENT, "decay[1] = 1.5"},
        {"norm weight missing", nullptr, nullptr, 2, CHELA_ERR_INVALID_ARGUMENT, "norm_weight: required"},
        {"norm weight unexpected", [](chela_linear_attention_options& o) { o.attn_norm = CHELA_ATTN_NORM_NONE; }, nullptr, 3, CHELA_ERR_INVALID_ARGUMENT, "norm_weight: given"},
        {"state bidirectional", [](chela_linear_attention_options& o) { o.causal = 0; }, nullptr, 4, CHELA_ERR_INVALID_ARGUMENT, "only for causal"},
        {"ksum without denominator", nullptr, nullptr, 5, CHELA_ERR_INVALID_ARGUMENT, "ksum_in/ksum_out"},
        {"state shape", nullptr, nullptr, 6, CHELA_ERR_SHAPE, "state_in:"},
    };
    chela_context* ctx = nullptr;
    ASSERT_CHELA_OK(chela_context_create_cpu(1, &ctx));
    for (const BadCall& bc : calls) {
        SCOPED_TRACE(bc.name);
        HostTensor q({1, 4, 8}, randn(32, 1)), k({1, 4, 8}, randn(32, 2)), v({1, 4, 6}, randn(24, 3)), out({1, 4, 6});
        HostTensor decay({2}, std::vector<float>{0.9f, 1.5f}), normw({6}, uniform(6, 4, 0.5f, 1.5f));
        HostTensor state({1, 2, 4, 3}), bad_state({1, 2, 4, 4}), ksum({1, 2, 4});
        chela_linear_attention_options o;
        ASSERT_CHELA_OK(chela_linear_attention_options_init(&o, 8, 2));
        if (bc.edit_opts) bc.edit_opts(o);
        if (bc.edit_tensors) bc.edit_tensors(q, k, v, out);
        const chela_tensor* nw = bc.which == 2 ? nullptr : normw.view();
        EXPECT_CHELA_ERROR(chela_linear_attention(bc.which == 7 ? nullptr : ctx, bc.which == 8 ? nullptr : q.view(), k.view(),
                                                  v.view(), bc.which == 1 ? decay.view() : nullptr, nw,
                                                  bc.which == 4 ? state.view() : bc.which == 6 ? bad_state.view() : nullptr,
                                                  bc.which == 5 ? ksum.view() : nullptr, out.view(), nullptr, nullptr, &o),
                           bc.status, bc.needle);
    }
    EXPECT_CHELA_ERROR(chela_linear_attention_options_init(nullptr, 8, 2), CHELA_ERR_INVALID_ARGUMENT, "opts");
    chela_linear_attention_options o;
    EXPECT_CHELA_ERROR(chela_linear_attention_options_init(&o, 7, 2), CHELA_ERR_INVALID_ARGUMENT, "z_dim");
    chela_context_destroy(ctx);
}

TEST(AttentionOptions, DefaultsAreTheSpecs) {
    chela_linear_attention_options o;
    ASSERT_CHELA_OK(chela_linear_attention_options_init(&o, 128, 2));
    EXPECT_EQ(o.n_heads, 2);
    EXPECT_EQ(o.causal, 1);
    EXPECT_EQ(o.feature_map, CHELA_FEATURE_IDENTITY);
    EXPECT_EQ(o.attn_norm, CHELA_ATTN_NORM_RMSNORM);
    EXPECT_FLOAT_EQ(o.scale, 0.125f);
    EXPECT_FLOAT_EQ(o.eps, 1e-5f);
    EXPECT_EQ(o.chunk_size, 0);
}

}  // namespace
