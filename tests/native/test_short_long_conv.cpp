// Short-long convolution (chela_short_long_conv) and the reparameterisation merge against the
// float64 direct-sum reference.
#include "reference/short_long_conv_ref.h"
#include "support/test_util.h"

using namespace chela;
using namespace chela::test;

namespace {

struct Case {
    int64_t B, L, d, ks, lk;
    bool causal;
};

void PrintTo(const Case& c, std::ostream* os) {
    *os << (c.causal ? "causal" : "bidir") << " B" << c.B << " L" << c.L << " d" << c.d << " ks" << c.ks << " lk" << c.lk;
}

struct Data {
    Case c;
    std::vector<float> x, ws, bs, wl, wr, om;
    explicit Data(const Case& cs, uint64_t seed = 1) : c(cs) {
        x = randn(static_cast<size_t>(c.B * c.L * c.d), seed);
        ws = randn(static_cast<size_t>(c.d * c.ks), seed + 1, 0.5f);
        bs = randn(static_cast<size_t>(c.d), seed + 2, 0.1f);
        wl = randn(static_cast<size_t>(c.d * c.lk), seed + 3, 1.0f / std::sqrt(static_cast<float>(c.lk)));
        wr = randn(wl.size(), seed + 4, 1.0f / std::sqrt(static_cast<float>(c.lk)));
        om = randn(static_cast<size_t>(c.d), seed + 5);
    }
    std::vector<double> reference() const {
        return ref::short_long_conv(c.B, c.L, c.d, c.ks, c.lk, c.causal, to_double(x), to_double(ws), to_double(bs),
                                    to_double(wl), c.causal ? std::vector<double>() : to_double(wr), to_double(om));
    }
    // Runs the C API with every tensor stored as `dt`; returns out as [B, L, d].
    std::vector<float> run(chela_context* ctx, int32_t dt = CHELA_DTYPE_F32) const {
        HostTensor xt({c.B, c.L, c.d}, x, dt), wst({c.d, c.ks}, ws, dt), bst({c.d}, bs, dt), wlt({c.d, c.lk}, wl, dt),
            wrt({c.d, c.lk}, wr, dt), omt({c.d}, om, dt), out({c.B, c.L, c.d}, dt);
        const chela_status st = chela_short_long_conv(ctx, xt.view(), wst.view(), bst.view(), wlt.view(),
                                                      c.causal ? nullptr : wrt.view(), omt.view(), out.view(), c.causal);
        EXPECT_EQ(st, CHELA_OK) << chela_last_error();
        return out.f32();
    }
    // The same call on channel-major x and out (CHELA_CONV_LAYOUT_BDL, [B, d, L]); out poisoned first
    // and returned as [B, L, d].
    std::vector<float> run_channel_major(chela_context* ctx) const {
        HostTensor xt({c.B, c.d, c.L}, swap_last_two(x, c.B, c.L, c.d)), wst({c.d, c.ks}, ws), bst({c.d}, bs),
            wlt({c.d, c.lk}, wl), wrt({c.d, c.lk}, wr), omt({c.d}, om), out({c.B, c.d, c.L});
        const chela_status st = chela_short_long_conv_in_layout(ctx, xt.view(), wst.view(), bst.view(), wlt.view(),
                                                                c.causal ? nullptr : wrt.view(), omt.view(), out.view(),
                                                                c.causal, CHELA_CONV_LAYOUT_BDL);
        EXPECT_EQ(st, CHELA_OK) << chela_last_error();
        return swap_last_two(out.f32(), c.B, c.d, c.L);
    }
};

using Context = CpuContextTest;

class ConvVsReference : public Context, public testing::WithParamInterface<Case> {};

TEST_P(ConvVsReference, F32MatchesFloat64) {
    const Data data(GetParam());
    EXPECT_LE(rel_l2(data.run(ctx), data.reference()), 1e-5);
}

TEST_P(ConvVsReference, ChannelMajorF32MatchesFloat64) {
    const Data data(GetParam(), 7);
    EXPECT_LE(rel_l2(data.run_channel_major(ctx), data.reference()), 1e-5);
}

std::vector<Case> cases() {
    std::vector<Case> out;
    for (int64_t L : {1, 2, 63, 64, 65, 257, 1000}) {
        out.push_back({2, L, 5, 3, std::max<int64_t>(1, L / 2), true});   // Lk < L
        out.push_back({1, L, 17, 3, L, false});                            // Lk == L
        out.push_back({1, L, 4, 5, L + 37, true});                         // Lk > L
    }
    for (int64_t ks : {1, 5, 7, 15}) out.push_back({2, 100, 6, ks, 100, true});
    for (int64_t ks : {1, 5, 15}) out.push_back({2, 100, 6, ks, 100, false});
    out.push_back({3, 300, 33, 3, 12, true});    // short long-kernel: the direct path
    out.push_back({3, 300, 33, 3, 12, false});
    out.push_back({1, 2000, 8, 3, 2000, true});  // long: the FFT path
    out.push_back({1, 2000, 8, 3, 2000, false});
    return out;
}

INSTANTIATE_TEST_SUITE_P(Shapes, ConvVsReference, testing::ValuesIn(cases()), [](const auto& info) {
    const Case& c = info.param;
    return std::string(c.causal ? "causal" : "bidir") + "_B" + std::to_string(c.B) + "_L" + std::to_string(c.L) + "_d" +
           std::to_string(c.d) + "_ks" + std::to_string(c.ks) + "_lk" + std::to_string(c.lk);
});

class ConvDtypes : public Context, public testing::WithParamInterface<int32_t> {};

TEST_P(ConvDtypes, LowPrecisionStorage) {
    const int32_t dt = GetParam();
    Data data({2, 200, 8, 3, 200, true});
    for (auto* v : {&data.x, &data.ws, &data.bs, &data.wl, &data.wr, &data.om}) *v = round_through(*v, dt);
    EXPECT_LE(rel_l2(data.run(ctx, dt), data.reference()), dt == CHELA_DTYPE_BF16 ? 6e-3 : 1e-3);
}

INSTANTIATE_TEST_SUITE_P(Storage, ConvDtypes, testing::Values(CHELA_DTYPE_BF16, CHELA_DTYPE_F16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

struct Branches {
    bool causal;
    std::vector<int64_t> sizes;
};

void PrintTo(const Branches& b, std::ostream* os) {
    *os << (b.causal ? "causal" : "bidir");
    for (int64_t s : b.sizes) *os << " " << s;
}

class Reparameterisation : public Context, public testing::WithParamInterface<Branches> {};

// Running the merged kernel once equals running the branches separately: the reference below sums
// each branch's own short convolution (with its own centre / lag-0 convention) before the SiLU.
TEST_P(Reparameterisation, MergedEqualsSeparateBranches) {
    const Branches br = GetParam();
    const int64_t B = 2, L = 90, d = 7, lk = 90;
    const int64_t ks = *std::max_element(br.sizes.begin(), br.sizes.end());
    std::vector<HostTensor> ws, bs;
    std::vector<std::vector<float>> wv, bv;
    for (size_t i = 0; i < br.sizes.size(); ++i) {
        wv.push_back(randn(static_cast<size_t>(d * br.sizes[i]), 10 + i, 0.5f));
        bv.push_back(randn(static_cast<size_t>(d), 20 + i, 0.1f));
        ws.emplace_back(std::vector<int64_t>{d, br.sizes[i]}, wv.back());
        bs.emplace_back(std::vector<int64_t>{d}, bv.back());
    }
    std::vector<const chela_tensor*> wp, bp;
    for (size_t i = 0; i < ws.size(); ++i) {
        wp.push_back(ws[i].view());
        bp.push_back(bs[i].view());
    }
    HostTensor mw({d, ks}), mb({d});
    ASSERT_CHELA_OK(chela_merge_short_kernels(wp.data(), bp.data(), static_cast<int32_t>(wp.size()), br.causal,
                                              mw.view(), mb.view()));
    Data data({B, L, d, ks, lk, br.causal});
    data.ws = mw.f32();
    data.bs = mb.f32();
    const auto got = data.run(ctx);

    // Reference: short conv of each branch separately (its own centre / lag-0 convention), summed.
    const auto x = to_double(data.x);
    std::vector<double> s(static_cast<size_t>(B * L * d), 0.0);
    for (size_t i = 0; i < br.sizes.size(); ++i) {
        const int64_t k = br.sizes[i], centre = br.causal ? 0 : (k - 1) / 2;
        for (int64_t b = 0; b < B; ++b)
            for (int64_t t = 0; t < L; ++t)
                for (int64_t c = 0; c < d; ++c) {
                    double v = bv[i][c];
                    for (int64_t j = 0; j < k; ++j) {
                        const int64_t src = t - (j - centre);
                        if (src >= 0 && src < L) v += wv[i][c * k + j] * x[(b * L + src) * d + c];
                    }
                    s[(b * L + t) * d + c] += v;
                }
    }
    // The rest of the pipeline (SiLU, long conv, skip, SiLU) as in the spec.
    auto silu = [](double z) { return z / (1.0 + std::exp(-z)); };
    std::vector<double> want(s.size());
    const auto wl = to_double(data.wl), wr = to_double(data.wr), om = to_double(data.om);
    for (int64_t b = 0; b < B; ++b)
        for (int64_t t = 0; t < L; ++t)
            for (int64_t c = 0; c < d; ++c) {
                double g = 0;
                for (int64_t j = 0; j <= std::min(t, lk - 1); ++j) g += wl[c * lk + j] * silu(s[(b * L + t - j) * d + c]);
                if (!br.causal)
                    for (int64_t j = 1; j < lk && t + j < L; ++j) g += wr[c * lk + j] * silu(s[(b * L + t + j) * d + c]);
                want[(b * L + t) * d + c] = silu(g + om[c] * x[(b * L + t) * d + c]);
            }
    EXPECT_LE(rel_l2(got, want), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Branches, Reparameterisation,
                         testing::Values(Branches{true, {3, 5, 7}}, Branches{true, {1, 3}}, Branches{true, {4, 2}},
                                         Branches{false, {3, 5, 7}}, Branches{false, {1, 3}}, Branches{false, {5}}),
                         [](const auto& info) {
                             std::string n = info.param.causal ? "causal" : "bidir";
                             for (int64_t s : info.param.sizes) n += "_" + std::to_string(s);
                             return n;
                         });

TEST_F(Context, ConvBadArgumentsAreNamed) {
    HostTensor x({1, 8, 4}, randn(32, 1)), ws({4, 3}, randn(12, 2)), bs({4}, randn(4, 3)), wl({4, 8}, randn(32, 4)),
        wr({4, 8}, randn(32, 5)), om({4}, randn(4, 6)), out({1, 8, 4});
    HostTensor ws_even({4, 4}, randn(16, 7)), ws_big({4, 16}, randn(64, 8)), wrong_d({5}, randn(5, 9)), out_bad({1, 8, 5});
    HostTensor xi({1, 8, 4}, CHELA_DTYPE_I32);
    EXPECT_CHELA_ERROR(chela_short_long_conv(nullptr, x.view(), ws.view(), bs.view(), wl.view(), nullptr, om.view(), out.view(), 1),
                       CHELA_ERR_INVALID_ARGUMENT, "ctx");
    EXPECT_CHELA_ERROR(chela_short_long_conv(ctx, nullptr, ws.view(), bs.view(), wl.view(), nullptr, om.view(), out.view(), 1),
                       CHELA_ERR_INVALID_ARGUMENT, "x: tensor is null");
    EXPECT_CHELA_ERROR(chela_short_long_conv(ctx, xi.view(), ws.view(), bs.view(), wl.view(), nullptr, om.view(), out.view(), 1),
                       CHELA_ERR_DTYPE, "x: dtype i32");
    EXPECT_CHELA_ERROR(chela_short_long_conv(ctx, x.view(), ws_big.view(), bs.view(), wl.view(), nullptr, om.view(), out.view(), 1),
                       CHELA_ERR_SHAPE, "short_weight: kernel size 16");
    EXPECT_CHELA_ERROR(chela_short_long_conv(ctx, x.view(), ws_even.view(), bs.view(), wl.view(), wr.view(), om.view(), out.view(), 0),
                       CHELA_ERR_SHAPE, "odd");
    EXPECT_CHELA_ERROR(chela_short_long_conv(ctx, x.view(), ws.view(), wrong_d.view(), wl.view(), nullptr, om.view(), out.view(), 1),
                       CHELA_ERR_SHAPE, "short_bias");
    EXPECT_CHELA_ERROR(chela_short_long_conv(ctx, x.view(), ws.view(), bs.view(), wl.view(), nullptr, wrong_d.view(), out.view(), 1),
                       CHELA_ERR_SHAPE, "omega");
    EXPECT_CHELA_ERROR(chela_short_long_conv(ctx, x.view(), ws.view(), bs.view(), wl.view(), nullptr, om.view(), out_bad.view(), 1),
                       CHELA_ERR_SHAPE, "out");
    EXPECT_CHELA_ERROR(chela_short_long_conv(ctx, x.view(), ws.view(), bs.view(), wl.view(), nullptr, om.view(), out.view(), 0),
                       CHELA_ERR_INVALID_ARGUMENT, "long_weight_rev: required");
    EXPECT_CHELA_ERROR(chela_short_long_conv(ctx, x.view(), ws.view(), bs.view(), wl.view(), wr.view(), om.view(), out.view(), 1),
                       CHELA_ERR_INVALID_ARGUMENT, "long_weight_rev: only");
    EXPECT_CHELA_ERROR(chela_short_long_conv(ctx, x.view(), ws.view(), bs.view(), wl.view(), nullptr, om.view(), out.view(), 5),
                       CHELA_ERR_INVALID_ARGUMENT, "causal");
    HostTensor x_bdl({1, 4, 8}, randn(32, 10)), out_bdl({1, 4, 8});
    EXPECT_CHELA_ERROR(chela_short_long_conv_in_layout(ctx, x.view(), ws.view(), bs.view(), wl.view(), nullptr,
                                                       om.view(), out.view(), 1, 2),
                       CHELA_ERR_INVALID_ARGUMENT, "layout: 2");
    // [B, d, L]: x [1, 4, 8] with an out laid out as [B, L, d] ([1, 8, 4]) is a shape error, and
    // x [1, 8, 4] read as [B, d, L] has d = 8 channels, which the weights ([4, ...]) do not match.
    EXPECT_CHELA_ERROR(chela_short_long_conv_in_layout(ctx, x_bdl.view(), ws.view(), bs.view(), wl.view(), nullptr,
                                                       om.view(), out.view(), 1, CHELA_CONV_LAYOUT_BDL),
                       CHELA_ERR_SHAPE, "out");
    EXPECT_CHELA_ERROR(chela_short_long_conv_in_layout(ctx, x.view(), ws.view(), bs.view(), wl.view(), nullptr,
                                                       om.view(), out_bdl.view(), 1, CHELA_CONV_LAYOUT_BDL),
                       CHELA_ERR_SHAPE, "short_weight");
    EXPECT_CHELA_OK(chela_short_long_conv_in_layout(ctx, x_bdl.view(), ws.view(), bs.view(), wl.view(), nullptr,
                                                    om.view(), out_bdl.view(), 1, CHELA_CONV_LAYOUT_BDL));
    HostTensor wl0({4, 0});
    EXPECT_CHELA_ERROR(chela_short_long_conv(ctx, x.view(), ws.view(), bs.view(), wl0.view(), nullptr, om.view(), out.view(), 1),
                       CHELA_ERR_SHAPE, "long_weight");
}

TEST(MergeErrors, BadBranchesAreNamed) {
    HostTensor w3({4, 3}, randn(12, 1)), w2({4, 2}, randn(8, 2)), w5d({5, 5}, randn(25, 3)), b({4}, randn(4, 4));
    HostTensor ow({4, 3}), ob({4}), ow_bad({4, 2});
    const chela_tensor* ws[] = {w3.view(), w2.view()};
    const chela_tensor* bs[] = {b.view(), b.view()};
    EXPECT_CHELA_ERROR(chela_merge_short_kernels(ws, bs, 0, 1, ow.view(), ob.view()), CHELA_ERR_INVALID_ARGUMENT, "count");
    EXPECT_CHELA_ERROR(chela_merge_short_kernels(nullptr, bs, 2, 1, ow.view(), ob.view()), CHELA_ERR_INVALID_ARGUMENT, "weights");
    EXPECT_CHELA_ERROR(chela_merge_short_kernels(ws, nullptr, 2, 1, ow.view(), ob.view()), CHELA_ERR_INVALID_ARGUMENT, "biases");
    EXPECT_CHELA_ERROR(chela_merge_short_kernels(ws, bs, 2, 0, ow.view(), ob.view()), CHELA_ERR_SHAPE, "weights[1]: bidirectional");
    EXPECT_CHELA_ERROR(chela_merge_short_kernels(ws, bs, 2, 1, ow_bad.view(), ob.view()), CHELA_ERR_SHAPE, "out_weight");
    const chela_tensor* ws2[] = {w3.view(), w5d.view()};
    EXPECT_CHELA_ERROR(chela_merge_short_kernels(ws2, bs, 2, 1, ow.view(), ob.view()), CHELA_ERR_SHAPE, "weights[1]");
    ASSERT_CHELA_OK(chela_merge_short_kernels(ws, bs, 2, 1, ow.view(), ob.view()));
    // Causal merge pads the shorter branch at its old end: index 0 and 1 sum, index 2 is w3's alone.
    const auto m = ow.f32(), a = w3.f32(), c = w2.f32();
    for (int ch = 0; ch < 4; ++ch) {
        EXPECT_FLOAT_EQ(m[ch * 3 + 0], a[ch * 3 + 0] + c[ch * 2 + 0]);
        EXPECT_FLOAT_EQ(m[ch * 3 + 1], a[ch * 3 + 1] + c[ch * 2 + 1]);
        EXPECT_FLOAT_EQ(m[ch * 3 + 2], a[ch * 3 + 2]);
    }
}

}  // namespace
