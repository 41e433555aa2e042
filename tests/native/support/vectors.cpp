#include "support/vectors.h"

#include "support/checkpoint_writer.h"

#include <chela/chela.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>

namespace chela::test {

namespace {

std::vector<float> normal(size_t n, uint64_t seed, float scale = 1.0f) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

chela_tensor view(std::vector<float>& v, std::vector<int64_t> shape) {
    chela_tensor t{};
    t.data = v.data();
    t.dtype = CHELA_DTYPE_F32;
    t.rank = static_cast<int32_t>(shape.size());
    for (size_t i = 0; i < shape.size(); ++i) t.shape[i] = shape[i];
    return t;
}

void check(chela_status st) {
    if (st != CHELA_OK) throw std::runtime_error(std::string("write_vectors: ") + chela_last_error());
}

void save(const std::string& path, const std::vector<TensorData>& tensors) {
    const auto bytes = safetensors_bytes(tensors);
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                static_cast<std::streamsize>(bytes.size()));
}

void attention_case(chela_context* ctx, const std::string& name, int64_t B, int64_t L, int64_t e, int64_t f,
                    int32_t H, int causal, int fmap, int norm, uint64_t seed, std::vector<TensorData>& out) {
    auto q = normal(static_cast<size_t>(B * L * e), seed), k = normal(q.size(), seed + 1),
         v = normal(static_cast<size_t>(B * L * f), seed + 2);
    std::vector<float> o(static_cast<size_t>(B * L * f));
    std::vector<float> decay(static_cast<size_t>(H)), g = normal(static_cast<size_t>(f), seed + 3, 0.2f);
    for (int32_t h = 0; h < H; ++h) decay[h] = 0.9f + 0.05f * static_cast<float>(h);
    for (auto& x : g) x += 1.0f;
    chela_linear_attention_options opts;
    check(chela_linear_attention_options_init(&opts, e, H));
    opts.causal = causal;
    opts.feature_map = fmap;
    opts.attn_norm = norm;
    auto qt = view(q, {B, L, e}), kt = view(k, {B, L, e}), vt = view(v, {B, L, f}), ot = view(o, {B, L, f});
    auto dt = view(decay, {H}), gt = view(g, {f});
    check(chela_linear_attention(ctx, &qt, &kt, &vt, &dt, norm == CHELA_ATTN_NORM_RMSNORM ? &gt : nullptr, nullptr,
                                 nullptr, &ot, nullptr, nullptr, &opts));
    out.push_back({name + ".q", {B, L, e}, q});
    out.push_back({name + ".k", {B, L, e}, k});
    out.push_back({name + ".v", {B, L, f}, v});
    out.push_back({name + ".decay", {H}, decay});
    out.push_back({name + ".norm_weight", {f}, g});
    out.push_back({name + ".out", {B, L, f}, o});
}

void conv_case(chela_context* ctx, const std::string& name, int64_t B, int64_t L, int64_t d, int64_t ks, int64_t lk,
               int causal, uint64_t seed, std::vector<TensorData>& out) {
    auto x = normal(static_cast<size_t>(B * L * d), seed), ws = normal(static_cast<size_t>(d * ks), seed + 1, 0.5f),
         bs = normal(static_cast<size_t>(d), seed + 2, 0.1f),
         wl = normal(static_cast<size_t>(d * lk), seed + 3, 1.0f / std::sqrt(static_cast<float>(lk))),
         wr = normal(wl.size(), seed + 4, 1.0f / std::sqrt(static_cast<float>(lk))), om = normal(static_cast<size_t>(d), seed + 5);
    std::vector<float> o(x.size());
    auto xt = view(x, {B, L, d}), wst = view(ws, {d, ks}), bst = view(bs, {d}), wlt = view(wl, {d, lk}),
         wrt = view(wr, {d, lk}), omt = view(om, {d}), ot = view(o, {B, L, d});
    check(chela_short_long_conv(ctx, &xt, &wst, &bst, &wlt, causal ? nullptr : &wrt, &omt, &ot, causal));
    out.push_back({name + ".x", {B, L, d}, x});
    out.push_back({name + ".short_weight", {d, ks}, ws});
    out.push_back({name + ".short_bias", {d}, bs});
    out.push_back({name + ".long_weight", {d, lk}, wl});
    out.push_back({name + ".long_weight_rev", {d, lk}, wr});
    out.push_back({name + ".omega", {d}, om});
    out.push_back({name + ".out", {B, L, d}, o});
}

}  // namespace

void write_vectors(const std::string& dir) {
    std::filesystem::create_directories(dir);
    chela_context* ctx = nullptr;
    check(chela_context_create_cpu(2, &ctx));
    std::vector<TensorData> la, conv;
    attention_case(ctx, "causal", 2, 100, 16, 24, 2, 1, CHELA_FEATURE_ELU1, CHELA_ATTN_NORM_DENOMINATOR, 101, la);
    attention_case(ctx, "bidir", 1, 77, 8, 12, 1, 0, CHELA_FEATURE_SILU, CHELA_ATTN_NORM_RMSNORM, 202, la);
    conv_case(ctx, "causal", 2, 90, 6, 3, 90, 1, 303, conv);
    conv_case(ctx, "bidir", 1, 50, 5, 5, 20, 0, 404, conv);
    chela_context_destroy(ctx);
    save(dir + "/linear_attention.safetensors", la);
    save(dir + "/short_long_conv.safetensors", conv);
}

}  // namespace chela::test
