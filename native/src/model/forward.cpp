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

// Streaming short-long conv: continues the windows that `st` holds for L new rows of Xn. Always
// computes A for the new rows (to advance the A history); with `long_conv`, also M (the direct
// O(L*Lk) sum, used for decode steps and for prompts that continue a non-empty stream; a prompt
// on a fresh stream takes the FFT op instead). Tasks own disjoint channels, windows included.
void stream_conv(ThreadPool& pool, const chela_model_config& cfg, const LayerParams& lp, int64_t B,
                 int64_t L, const float* xn, LayerState& st, bool long_conv, float* m) {
    const int64_t d = cfg.d_model, ks = cfg.short_kernel, Lk = cfg.long_kernel, ks1 = ks - 1, lk1 = Lk - 1;
    for (int64_t b = 0; b < B; ++b) {
        const float* xb = xn + b * L * d;
        float* xh = st.xn_hist.data() + b * ks1 * d;  // [ks1, d] row-major
        float* ah = st.a_hist.data() + b * d * lk1;   // [d, lk1] channel-major: the dot runs along j
        pool.parallel_range(d, 16, [&](int64_t c0, int64_t c1) {
            std::vector<float> xw(static_cast<size_t>(ks1 + L)), aw(static_cast<size_t>(lk1 + L));
            for (int64_t c = c0; c < c1; ++c) {
                for (int64_t i = 0; i < ks1; ++i) xw[i] = xh[i * d + c];
                for (int64_t t = 0; t < L; ++t) xw[ks1 + t] = xb[t * d + c];
                std::copy(ah + c * lk1, ah + (c + 1) * lk1, aw.begin());
                const float* ws = lp.short_w + c * ks;
                for (int64_t t = 0; t < L; ++t) {
                    float acc = lp.short_b[c];
                    for (int64_t j = 0; j < ks; ++j) acc += ws[j] * xw[ks1 + t - j];
                    aw[lk1 + t] = silu(acc);
                }
                if (long_conv) {
                    const float* wl = lp.long_w + c * Lk;
                    for (int64_t t = 0; t < L; ++t) {
                        const float* a = aw.data() + lk1 + t;
                        float g = 0.0f;
                        for (int64_t j = 0; j < Lk; ++j) g += wl[j] * a[-j];
                        m[(b * L + t) * d + c] = silu(g + lp.omega[c] * xb[t * d + c]);
                    }
                }
                for (int64_t i = 0; i < ks1; ++i) xh[i * d + c] = xw[L + i];
                std::copy(aw.begin() + L, aw.end(), ah + c * lk1);
            }
        });
    }
}

}  // namespace

ModelState make_state(const chela_model& m, int64_t B) {
    const chela_model_config& cfg = m.ckpt.config;
    const int64_t d = cfg.d_model, H = cfg.n_heads, dk = cfg.z_dim / H, dv = cfg.v_dim / H;
    ModelState st;
    st.B = B;
    st.layers.resize(static_cast<size_t>(cfg.n_layers));
    for (LayerState& ls : st.layers) {
        ls.xn_hist.assign(static_cast<size_t>(B * (cfg.short_kernel - 1) * d), 0.0f);
        ls.a_hist.assign(static_cast<size_t>(B * d * (cfg.long_kernel - 1)), 0.0f);
        ls.s.assign(static_cast<size_t>(B * H * dk * dv), 0.0f);
        if (cfg.attn_norm == CHELA_ATTN_NORM_DENOMINATOR) ls.ksum.assign(static_cast<size_t>(B * H * dk), 0.0f);
    }
    return st;
}

void layer_forward(ThreadPool& pool, const chela_model_config& cfg, const LayerParams& lp,
                   int64_t B, int64_t L, const float* x, float* y, LayerState* state, int64_t past) {
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
    const bool continuing = state != nullptr && past > 0;
    if (!continuing)  // a fresh stream's history is zeros: the FFT op's own causal padding
        cpu::short_long_conv(pool, cp, xn, lp.short_w, lp.short_b, lp.long_w, lp.long_w_rev, lp.omega,
                             m.data());
    if (state != nullptr) stream_conv(pool, cfg, lp, B, L, xn, *state, continuing, m.data());

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
    float* s_io = state ? state->s.data() : nullptr;
    float* ksum_io = state && !state->ksum.empty() ? state->ksum.data() : nullptr;
    cpu::linear_attention(pool, ap, q.data(), k.data(), v.data(), continuing ? s_io : nullptr,
                          continuing ? ksum_io : nullptr, o.data(), s_io, ksum_io);

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
                  const int32_t* tokens, const float* features, float* hidden, ModelState* state) {
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
    try {
        for (size_t i = 0; i < mp.layers.size(); ++i) {
            layer_forward(pool, cfg, mp.layers[i], B, L, cur, next, state ? &state->layers[i] : nullptr,
                          state ? state->past : 0);
            std::swap(cur, next);
        }
    } catch (...) {
        if (state != nullptr) state->broken = true;
        throw;
    }
    if (state != nullptr) state->past += L;
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
