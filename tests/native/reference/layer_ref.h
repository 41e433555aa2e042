// Float64 reference of one CHELA layer and of the whole model, written from the spec's formulas
// ("One CHELA layer", "Model"): direct sums everywhere (O(L^2) attention, O(L*Lk) convolution). Weights are read by name through the public C API
// (chela_model_tensor), so the reference does not share the engine's parameter binding.
#pragma once

#include <chela/chela.h>

#include "reference/linear_attention_ref.h"
#include "reference/short_long_conv_ref.h"
#include "support/test_util.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace chela::ref {

using Vec = std::vector<double>;

// Named weights of a loaded model (read-only f32 views).
class Weights {
public:
    explicit Weights(const chela_model* model) : model_(model) {}
    bool has(const std::string& name) const {
        chela_tensor t{};
        return chela_model_tensor(model_, name.c_str(), &t) == CHELA_OK;
    }
    const chela_tensor* view(const std::string& name) const {
        auto it = views_.find(name);
        if (it == views_.end()) {
            chela_tensor t{};
            EXPECT_EQ(chela_model_tensor(model_, name.c_str(), &t), CHELA_OK) << name << ": " << chela_last_error();
            it = views_.emplace(name, t).first;
        }
        return &it->second;
    }
    const float* f(const std::string& name) const { return static_cast<const float*>(view(name)->data); }
    Vec d(const std::string& name) const {
        const chela_tensor* t = view(name);
        const float* p = static_cast<const float*>(t->data);
        return Vec(p, p + chela::numel(*t));
    }

private:
    const chela_model* model_;
    mutable std::map<std::string, chela_tensor> views_;
};

inline double silu(double x) { return x / (1.0 + std::exp(-x)); }
inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Norm over rows of width n: LayerNorm (weight, bias) or RMSNorm (weight).
inline Vec norm(const chela_model_config& cfg, const Weights& w, const std::string& prefix, const Vec& x,
                int64_t n) {
    const Vec g = w.d(prefix + ".weight");
    const bool ln = cfg.norm == CHELA_NORM_LAYERNORM;
    const Vec b = ln ? w.d(prefix + ".bias") : Vec(static_cast<size_t>(n), 0.0);
    Vec y(x.size());
    for (size_t r = 0; r < x.size() / n; ++r) {
        const double* xr = &x[r * n];
        double mean = 0, var = 0;
        if (ln) {
            for (int64_t i = 0; i < n; ++i) mean += xr[i];
            mean /= n;
        }
        for (int64_t i = 0; i < n; ++i) var += (xr[i] - mean) * (xr[i] - mean);
        var /= n;
        for (int64_t i = 0; i < n; ++i) y[r * n + i] = (xr[i] - mean) / std::sqrt(var + cfg.eps) * g[i] + b[i];
    }
    return y;
}

// y = x W^T + b (PyTorch Linear), W [out, in].
inline Vec linear(const Vec& x, int64_t in, const Weights& w, const std::string& prefix, bool bias = true) {
    const chela_tensor* W = w.view(prefix + ".weight");
    const int64_t out = W->shape[0];
    const float* Wp = static_cast<const float*>(W->data);
    const Vec b = bias ? w.d(prefix + ".bias") : Vec(static_cast<size_t>(out), 0.0);
    const size_t rows = x.size() / in;
    Vec y(rows * out);
    for (size_t r = 0; r < rows; ++r)
        for (int64_t o = 0; o < out; ++o) {
            double s = b[o];
            for (int64_t i = 0; i < in; ++i) s += x[r * in + i] * Wp[o * in + i];
            y[r * out + o] = s;
        }
    return y;
}


// Short-long convolution of one sequence xn [L, d] (spec step 2), returning M.
inline Vec layer_conv(const chela_model_config& cfg, const Weights& w, const std::string& p, int64_t L,
                      const Vec& xn) {
    return short_long_conv(1, L, cfg.d_model, cfg.short_kernel, cfg.long_kernel, cfg.causal != 0, xn,
                           w.d(p + "short_conv.weight"), w.d(p + "short_conv.bias"), w.d(p + "long_conv.weight"),
                           cfg.causal ? Vec() : w.d(p + "long_conv.weight_rev"), w.d(p + "omega"));
}

// Linear attention of one sequence (spec step 4). q, k [L, e], v [L, f].
inline Vec layer_attention(const chela_model_config& cfg, const Weights& w, const std::string& p, int64_t L,
                           const Vec& q, const Vec& k, const Vec& v) {
    AttentionSpec s;
    s.L = L;
    s.e = cfg.z_dim;
    s.f = cfg.v_dim;
    s.H = cfg.n_heads;
    s.causal = cfg.causal != 0;
    s.feature_map = cfg.feature_map;
    s.attn_norm = cfg.attn_norm;
    s.scale = cfg.attn_scale;
    s.eps = cfg.eps;
    if (cfg.decay) s.decay = w.d(p + "decay");
    if (cfg.attn_norm == CHELA_ATTN_NORM_RMSNORM) s.norm_weight = w.d(p + "attn_norm.weight");
    return linear_attention(s, q, k, v).out;
}

// One CHELA layer on one sequence x [L, d] (spec steps 1-6).
inline Vec layer_one(const chela_model_config& cfg, const Weights& w, int layer, int64_t L, const Vec& x) {
    const std::string p = "layers." + std::to_string(layer) + ".";
    const int64_t d = cfg.d_model, e = cfg.z_dim, f = cfg.v_dim;
    const Vec xn = cfg.prenorm ? norm(cfg, w, p + "norm", x, d) : x;
    const Vec m = layer_conv(cfg, w, p, L, xn);
    Vec v = linear(xn, d, w, p + "v_proj");
    for (double& t : v) t = silu(t);
    const Vec P = linear(m, d, w, p + "mx_proj");
    const int64_t pw = 2 * d + e + f;
    const Vec g = w.d(p + "qk_gamma"), b = w.d(p + "qk_beta");
    Vec q(static_cast<size_t>(L * e)), k(q.size()), r(static_cast<size_t>(L * f));
    for (int64_t t = 0; t < L; ++t) {
        for (int64_t c = 0; c < e; ++c) {
            const double z = silu(P[t * pw + d + c]);
            q[t * e + c] = z * g[c] + b[c];
            k[t * e + c] = z * g[e + c] + b[e + c];
        }
        for (int64_t c = 0; c < f; ++c) r[t * f + c] = silu(P[t * pw + d + e + c]);
    }
    Vec o = layer_attention(cfg, w, p, L, q, k, v);
    for (size_t i = 0; i < o.size(); ++i) o[i] *= r[i];
    const Vec hproj = linear(o, f, w, p + "h_proj");
    Vec y(static_cast<size_t>(L * d));
    for (int64_t t = 0; t < L; ++t)
        for (int64_t c = 0; c < d; ++c) {
            const double hd = silu(P[t * pw + d + e + f + c] + hproj[t * d + c]);
            const double u = sigmoid(P[t * pw + c]);
            y[t * d + c] = x[t * d + c] + u * (hd - x[t * d + c]);
        }
    if (!cfg.prenorm) y = norm(cfg, w, p + "norm", y, d);
    if (cfg.ffn_dim > 0) {
        Vec h = linear(cfg.prenorm ? norm(cfg, w, p + "ffn_norm", y, d) : y, d, w, p + "ffn.fc1");
        for (double& t : h) t = silu(t);
        Vec ff = linear(h, cfg.ffn_dim, w, p + "ffn.fc2");
        for (size_t i = 0; i < y.size(); ++i) ff[i] += y[i];
        y = cfg.prenorm ? ff : norm(cfg, w, p + "ffn_norm", ff, d);
    }
    return y;
}

// One CHELA layer on x [B, L, d]: each batch element independently.
inline Vec layer(const chela_model_config& cfg, const Weights& w, int layer, int64_t B, int64_t L, const Vec& x) {
    const int64_t d = cfg.d_model;
    Vec y;
    for (int64_t b = 0; b < B; ++b) {
        const Vec xb(x.begin() + b * L * d, x.begin() + (b + 1) * L * d);
        const Vec yb = layer_one(cfg, w, layer, L, xb);
        y.insert(y.end(), yb.begin(), yb.end());
    }
    return y;
}

// Whole model: logits [B, L, vocab] (lm; padded positions 0) or [B, num_classes].
// `inputs` are i32 ids [B, L] or f32 features [B, L, input_dim]; lens[b] valid positions.
inline Vec model(const chela_model_config& cfg, const Weights& w, int64_t B, const std::vector<int64_t>& lens,
                 const test::HostTensor& inputs) {
    const int64_t d = cfg.d_model, L = inputs.view()->shape[1];
    const bool lm = cfg.task == CHELA_TASK_LM;
    Vec out;
    for (int64_t b = 0; b < B; ++b) {
        const int64_t n = lens[static_cast<size_t>(b)];
        Vec h(static_cast<size_t>(n * d));
        if (cfg.vocab_size > 0) {
            const Vec emb = w.d("embed.weight");
            const int32_t* ids = static_cast<const int32_t*>(inputs.view()->data) + b * L;
            for (int64_t t = 0; t < n; ++t)
                for (int64_t c = 0; c < d; ++c) h[t * d + c] = emb[ids[t] * d + c];
        } else {
            const auto all = inputs.f32();
            const Vec feats(all.begin() + b * L * cfg.input_dim, all.begin() + (b * L + n) * cfg.input_dim);
            h = linear(feats, cfg.input_dim, w, "input_proj");
        }
        for (int i = 0; i < cfg.n_layers; ++i) h = layer_one(cfg, w, i, n, h);
        if (cfg.prenorm) h = norm(cfg, w, "final_norm", h, d);
        if (lm) {
            const Vec logits = linear(h, d, w, cfg.tie_embeddings ? "embed" : "lm_head", false);
            out.insert(out.end(), logits.begin(), logits.end());
            out.resize(out.size() + static_cast<size_t>((L - n) * cfg.vocab_size), 0.0);
        } else {
            Vec pooled(static_cast<size_t>(d), 0.0);
            for (int64_t c = 0; c < d; ++c) {
                if (cfg.pooling == CHELA_POOLING_LAST) {
                    pooled[c] = h[(n - 1) * d + c];
                } else {
                    for (int64_t t = 0; t < n; ++t) pooled[c] += h[t * d + c];
                    pooled[c] /= static_cast<double>(n);
                }
            }
            const Vec logits = linear(pooled, d, w, "classifier");
            out.insert(out.end(), logits.begin(), logits.end());
        }
    }
    return out;
}

}  // namespace chela::ref
