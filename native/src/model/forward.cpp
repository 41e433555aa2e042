#include "model/forward.h"

#include "core/error.h"
#include "cpu/layer_ops.h"
#include "cpu/linear_attention.h"
#include "cpu/short_long_conv.h"

#include <algorithm>
#include <vector>

namespace chela {

namespace {

using cpu::sigmoid;
using cpu::silu;

void apply_norm(ThreadPool& pool, const chela_model_config& cfg, int64_t rows, const float* x,
                const float* w, const float* b, float* y) {
    if (cfg.norm == CHELA_NORM_LAYERNORM)
        cpu::layer_norm(pool, rows, cfg.d_model, x, w, b, cfg.eps, y);
    else
        cpu::rms_norm(pool, rows, cfg.d_model, x, w, cfg.eps, y);
}

// Y = Y + FFN(Norm(Y)) (prenorm) or Y = Norm(Y + FFN(Y)) (postnorm).
void ffn_block(ThreadPool& pool, const chela_model_config& cfg, const LayerParams& lp, int64_t rows,
               float* y) {
    const int64_t d = cfg.d_model, h = cfg.ffn_dim;
    std::vector<float> in(static_cast<size_t>(rows * d)), mid(static_cast<size_t>(rows * h)),
        out(static_cast<size_t>(rows * d));
    if (cfg.prenorm)
        apply_norm(pool, cfg, rows, y, lp.ffn_norm_w, lp.ffn_norm_b, in.data());
    else
        std::copy(y, y + rows * d, in.begin());
    cpu::linear(rows, d, h, in.data(), lp.fc1_w, lp.fc1_b, mid.data());
    for (float& v : mid) v = silu(v);
    cpu::linear(rows, h, d, mid.data(), lp.fc2_w, lp.fc2_b, out.data());
    for (int64_t i = 0; i < rows * d; ++i) out[i] += y[i];
    if (cfg.prenorm)
        std::copy(out.begin(), out.end(), y);
    else
        apply_norm(pool, cfg, rows, out.data(), lp.ffn_norm_w, lp.ffn_norm_b, y);
}

}  // namespace

void layer_forward(ThreadPool& pool, const chela_model_config& cfg, const LayerParams& lp,
                   int64_t B, int64_t L, const float* x, float* y) {
    const int64_t d = cfg.d_model, e = cfg.z_dim, f = cfg.v_dim, rows = B * L;
    const int64_t p_width = 2 * d + e + f;

    // 1. Xn = Norm(X) when prenorm.
    std::vector<float> xn_buf;
    const float* xn = x;
    if (cfg.prenorm) {
        xn_buf.resize(static_cast<size_t>(rows * d));
        apply_norm(pool, cfg, rows, x, lp.norm_w, lp.norm_b, xn_buf.data());
        xn = xn_buf.data();
    }

    // 2. M = SiLU(longconv(SiLU(shortconv(Xn))) + omega * Xn).
    std::vector<float> m(static_cast<size_t>(rows * d));
    cpu::ShortLongConvParams cp;
    cp.B = B;
    cp.L = L;
    cp.d = d;
    cp.ks = cfg.short_kernel;
    cp.Lk = cfg.long_kernel;
    cp.causal = cfg.causal != 0;
    cpu::short_long_conv(pool, cp, xn, lp.short_w, lp.short_b, lp.long_w, lp.long_w_rev, lp.omega,
                         m.data());

    // 3. Projections. V = SiLU(Xn Wv^T + bv); P = M Wmx^T + bmx = [U | ZR | Hx].
    std::vector<float> v(static_cast<size_t>(rows * f)), p(static_cast<size_t>(rows * p_width));
    cpu::linear(rows, d, f, xn, lp.v_w, lp.v_b, v.data());
    cpu::linear(rows, d, p_width, m.data(), lp.mx_w, lp.mx_b, p.data());
    std::vector<float> q(static_cast<size_t>(rows * e)), k(static_cast<size_t>(rows * e)),
        r(static_cast<size_t>(rows * f));
    pool.parallel_range(rows, 64, [&](int64_t r0, int64_t r1) {
        for (int64_t i = r0; i < r1; ++i) {
            float* vi = v.data() + i * f;
            for (int64_t c = 0; c < f; ++c) vi[c] = silu(vi[c]);
            const float* zr = p.data() + i * p_width + d;
            for (int64_t c = 0; c < e; ++c) {
                const float z = silu(zr[c]);
                q[i * e + c] = z * lp.qk_gamma[c] + lp.qk_beta[c];
                k[i * e + c] = z * lp.qk_gamma[e + c] + lp.qk_beta[e + c];
            }
            for (int64_t c = 0; c < f; ++c) r[i * f + c] = silu(zr[e + c]);
        }
    });

    // 4. Linear attention.
    std::vector<float> o(static_cast<size_t>(rows * f));
    cpu::LinearAttentionParams ap;
    ap.B = B;
    ap.L = L;
    ap.e = e;
    ap.f = f;
    ap.H = cfg.n_heads;
    ap.causal = cfg.causal != 0;
    ap.feature_map = cfg.feature_map;
    ap.attn_norm = cfg.attn_norm;
    ap.scale = cfg.attn_scale;
    ap.eps = cfg.eps;
    ap.decay = cfg.decay ? lp.decay : nullptr;
    ap.norm_weight = lp.attn_norm_w;
    cpu::linear_attention(pool, ap, q.data(), k.data(), v.data(), nullptr, nullptr, o.data(),
                          nullptr, nullptr);

    // 5. Hd = SiLU(Hx + (O*R) Wh^T + bh); Y = X + u * (Hd - X).
    for (int64_t i = 0; i < rows * f; ++i) o[i] *= r[i];
    std::vector<float> hd(static_cast<size_t>(rows * d));
    cpu::linear(rows, f, d, o.data(), lp.h_w, lp.h_b, hd.data());
    pool.parallel_range(rows, 64, [&](int64_t r0, int64_t r1) {
        for (int64_t i = r0; i < r1; ++i) {
            const float* pi = p.data() + i * p_width;
            const float* hx = pi + d + e + f;
            for (int64_t c = 0; c < d; ++c) {
                const float h = silu(hx[c] + hd[i * d + c]);
                const float u = sigmoid(pi[c]);
                const float xv = x[i * d + c];
                y[i * d + c] = xv + u * (h - xv);
            }
        }
    });
    if (!cfg.prenorm) {
        std::vector<float> tmp(y, y + rows * d);
        apply_norm(pool, cfg, rows, tmp.data(), lp.norm_w, lp.norm_b, y);
    }

    // 6. Optional FFN.
    if (cfg.ffn_dim > 0) ffn_block(pool, cfg, lp, rows, y);
}

void model_hidden(ThreadPool& pool, const chela_model& m, int64_t B, int64_t L,
                  const int32_t* tokens, const float* features, float* hidden) {
    const chela_model_config& cfg = m.ckpt.config;
    const ModelParams& mp = m.params;
    const int64_t d = cfg.d_model, rows = B * L;
    std::vector<float> a(static_cast<size_t>(rows * d));
    if (tokens != nullptr) {
        for (int64_t i = 0; i < rows; ++i) {
            const int32_t id = tokens[i];
            if (id < 0 || id >= cfg.vocab_size)
                fail(CHELA_ERR_INVALID_ARGUMENT, "inputs: token id ", id, " at position [", i / L,
                     ", ", i % L, "] is outside [0, ", cfg.vocab_size, ")");
            std::copy(mp.embed + id * d, mp.embed + (id + 1) * d, a.begin() + i * d);
        }
    } else {
        cpu::linear(rows, cfg.input_dim, d, features, mp.input_w, mp.input_b, a.data());
    }
    std::vector<float> b(static_cast<size_t>(rows * d));
    float* cur = a.data();
    float* next = b.data();
    for (const LayerParams& lp : mp.layers) {
        layer_forward(pool, cfg, lp, B, L, cur, next);
        std::swap(cur, next);
    }
    if (cfg.prenorm)
        apply_norm(pool, cfg, rows, cur, mp.final_norm_w, mp.final_norm_b, hidden);
    else
        std::copy(cur, cur + rows * d, hidden);
}

void lm_head(const chela_model& m, int64_t rows, const float* hidden, float* logits) {
    const chela_model_config& cfg = m.ckpt.config;
    cpu::linear(rows, cfg.d_model, cfg.vocab_size, hidden, m.params.lm_head, nullptr, logits);
}

void classify_head(const chela_model& m, int64_t length, const float* hidden, float* logits) {
    const chela_model_config& cfg = m.ckpt.config;
    const int64_t d = cfg.d_model;
    std::vector<float> pooled(static_cast<size_t>(d), 0.0f);
    if (cfg.pooling == CHELA_POOLING_LAST) {
        std::copy(hidden + (length - 1) * d, hidden + length * d, pooled.begin());
    } else {
        std::vector<double> acc(static_cast<size_t>(d), 0.0);
        for (int64_t t = 0; t < length; ++t)
            for (int64_t c = 0; c < d; ++c) acc[c] += hidden[t * d + c];
        for (int64_t c = 0; c < d; ++c) pooled[c] = static_cast<float>(acc[c] / static_cast<double>(length));
    }
    cpu::linear(1, d, cfg.num_classes, pooled.data(), m.params.cls_w, m.params.cls_b, logits);
}

}  // namespace chela
