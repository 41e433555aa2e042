// CPU tiled ("flash") linear attention.
//
// Work split: one task per (batch, head, block of value columns). A task walks the sequence chunk
// by chunk (C rows) keeping its slice of the running state S (dk x nb) in a small local buffer:
//
//   O_c  = s * [ (Q_c K_c^T  .* D) V_c  +  (Q_c .* lambda^{i+1}) S ]      (D: causal decay mask)
//   S   <- lambda^n S + (K_c .* lambda^{n-1-j})^T V_c
//
// so the cost is O(L * (C + dk) * dv) and nothing of size L x L exists. Splitting the value
// columns gives a single wide head (CHELA: dk 128, dv 1024) enough tasks for every core; each
// task recomputes the cheap C x C score block. Bidirectional attention is a forward pass plus a
// time-reversed pass minus the diagonal they both count. Decay powers come from exp(n log lambda)
// with n >= 0 only, so long sequences cannot overflow.
#include "cpu/linear_attention.h"

#include <chela/chela.h>

#include "core/simd.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace chela::cpu {

namespace {

constexpr int64_t kColumnBlock = 64;  // value columns per task: 64 floats = 4 AVX-512 vectors

float feature(int map, float x) {
    switch (map) {
        case CHELA_FEATURE_ELU1: return x > 0.0f ? x + 1.0f : std::exp(x);
        case CHELA_FEATURE_RELU: return x > 0.0f ? x : 0.0f;
        case CHELA_FEATURE_SILU: return x / (1.0f + std::exp(-x));
        default: return x;
    }
}

// Geometry shared by every task of one call.
struct Geometry {
    int64_t L, e, f, dk, dv, C;
    float scale;
    int feature_map;
    bool denominator;
};

// dst[r, :] += a * src[:] over nb contiguous columns.
CHELA_MULTIVERSION
void axpy(int64_t nb, float a, const float* CHELA_RESTRICT src, float* CHELA_RESTRICT dst) {
    for (int64_t c = 0; c < nb; ++c) dst[c] += a * src[c];
}

// scores[i, j] = q[i, :] . kt[:, j]  for an n x n block (kt is k transposed: dk x n).
CHELA_MULTIVERSION
void score_block(int64_t n, int64_t dk, const float* CHELA_RESTRICT q, const float* CHELA_RESTRICT kt,
                 int64_t ldk, float* CHELA_RESTRICT scores) {
    for (int64_t i = 0; i < n; ++i) {
        float* row = scores + i * n;
        std::fill(row, row + n, 0.0f);
        for (int64_t c = 0; c < dk; ++c) {
            const float qc = q[i * dk + c];
            const float* kc = kt + c * ldk;
            for (int64_t j = 0; j < n; ++j) row[j] += qc * kc[j];
        }
    }
}

// One directional pass of one task. `reverse` walks time backwards (the anti-causal half).
// out_blk rows are written in the order of the original time index.
//   state: dk x nb slice of S (in/out), ksum: dk (in/out), den: L accumulators (may be null).
void directional_pass(const Geometry& g, bool reverse, const float* q, const float* k, const float* v,
                      float lambda, int64_t col0, int64_t nb, float* state, float* ksum, float* out,
                      float* den, bool accumulate) {
    const int64_t C = g.C, dk = g.dk;
    const float log_lambda = lambda < 1.0f ? std::log(lambda) : 0.0f;
    std::vector<float> pw(static_cast<size_t>(C + 1));
    for (int64_t i = 0; i <= C; ++i) pw[i] = std::exp(static_cast<float>(i) * log_lambda);

    std::vector<float> qc(static_cast<size_t>(C * dk)), kt(static_cast<size_t>(dk * C)),
        scores(static_cast<size_t>(C * C)), oc(static_cast<size_t>(C * nb)), dc(static_cast<size_t>(C));
    std::vector<const float*> vrow(static_cast<size_t>(C));
    for (int64_t t0 = 0; t0 < g.L; t0 += C) {
        const int64_t n = std::min(C, g.L - t0);
        // Gather the chunk: feature-mapped q rows, k transposed, value row pointers.
        for (int64_t i = 0; i < n; ++i) {
            const int64_t t = reverse ? g.L - 1 - (t0 + i) : t0 + i;
            const float* qr = q + t * g.e;
            const float* kr = k + t * g.e;
            for (int64_t c = 0; c < dk; ++c) {
                qc[i * dk + c] = feature(g.feature_map, qr[c]);
                kt[c * C + i] = feature(g.feature_map, kr[c]);
            }
            vrow[i] = v + t * g.f + col0;
        }
        score_block(n, dk, qc.data(), kt.data(), C, scores.data());
        // Intra-chunk: O_i = sum_{j<=i} s lambda^{i-j} (q_i.k_j) v_j.
        std::fill(oc.begin(), oc.begin() + n * nb, 0.0f);
        for (int64_t i = 0; i < n; ++i) {
            float* orow = oc.data() + i * nb;
            float d = 0.0f;
            for (int64_t j = 0; j <= i; ++j) {
                const float w = g.scale * pw[i - j] * scores[i * n + j];
                d += w;
                axpy(nb, w, vrow[j], orow);
            }
            // Inter-chunk: + s lambda^{i+1} q_i S, and the same for the denominator.
            const float sc = g.scale * pw[i + 1];
            const float* qi = qc.data() + i * dk;
            for (int64_t c = 0; c < dk; ++c) {
                axpy(nb, sc * qi[c], state + c * nb, orow);
                d += sc * qi[c] * ksum[c];
            }
            dc[i] = d;
        }
        // State update: S <- lambda^n S + sum_j lambda^{n-1-j} k_j v_j^T (ksum alike).
        const float decay_n = pw[n];
        if (decay_n != 1.0f) {
            for (int64_t x = 0; x < dk * nb; ++x) state[x] *= decay_n;
            for (int64_t c = 0; c < dk; ++c) ksum[c] *= decay_n;
        }
        for (int64_t c = 0; c < dk; ++c) {
            float* srow = state + c * nb;
            const float* kc = kt.data() + c * C;
            for (int64_t j = 0; j < n; ++j) {
                const float w = pw[n - 1 - j] * kc[j];
                axpy(nb, w, vrow[j], srow);
                ksum[c] += w;
            }
        }
        // Write back (accumulating for the second, reversed pass).
        for (int64_t i = 0; i < n; ++i) {
            const int64_t t = reverse ? g.L - 1 - (t0 + i) : t0 + i;
            float* dst = out + t * g.f + col0;
            const float* src = oc.data() + i * nb;
            if (accumulate) {
                for (int64_t c = 0; c < nb; ++c) dst[c] += src[c];
            } else {
                std::memcpy(dst, src, sizeof(float) * nb);
            }
            if (den) den[t] = accumulate ? den[t] + dc[i] : dc[i];
        }
    }
}

// Bidirectional: forward + backward both include j == t; remove one copy: s (q_t.k_t) v_t.
void remove_diagonal(const Geometry& g, const float* q, const float* k, const float* v, int64_t col0,
                     int64_t nb, float* out, float* den) {
    for (int64_t t = 0; t < g.L; ++t) {
        float dot = 0.0f;
        for (int64_t c = 0; c < g.dk; ++c) dot += feature(g.feature_map, q[t * g.e + c]) * feature(g.feature_map, k[t * g.e + c]);
        const float w = g.scale * dot;
        axpy(nb, -w, v + t * g.f + col0, out + t * g.f + col0);
        if (den) den[t] -= w;
    }
}

void rms_rows(ThreadPool& pool, int64_t rows, int64_t f, const float* w, float eps, float* out) {
    pool.parallel_range(rows, 16, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            float* o = out + r * f;
            double s2 = 0;
            for (int64_t c = 0; c < f; ++c) s2 += static_cast<double>(o[c]) * o[c];
            const float inv = static_cast<float>(1.0 / std::sqrt(s2 / static_cast<double>(f) + eps));
            for (int64_t c = 0; c < f; ++c) o[c] *= inv * w[c];
        }
    });
}

}  // namespace

void linear_attention(ThreadPool& pool, const LinearAttentionParams& p, const float* q,
                      const float* k, const float* v, const float* state_in, const float* ksum_in,
                      float* out, float* state_out, float* ksum_out) {
    Geometry g;
    g.L = p.L;
    g.e = p.e;
    g.f = p.f;
    g.dk = p.e / p.H;
    g.dv = p.f / p.H;
    g.C = p.chunk > 0 ? p.chunk : kDefaultChunk;
    g.scale = p.scale;
    g.feature_map = p.feature_map;
    g.denominator = p.attn_norm == CHELA_ATTN_NORM_DENOMINATOR;

    // Copy incoming states first: state_out / ksum_out may alias them.
    const int64_t state_len = p.B * p.H * g.dk * g.dv, ksum_len = p.B * p.H * g.dk;
    const std::vector<float> s_in = state_in ? std::vector<float>(state_in, state_in + state_len)
                                             : std::vector<float>(static_cast<size_t>(state_len), 0.0f);
    const std::vector<float> z_in = ksum_in ? std::vector<float>(ksum_in, ksum_in + ksum_len)
                                            : std::vector<float>(static_cast<size_t>(ksum_len), 0.0f);

    const int64_t blocks = (g.dv + kColumnBlock - 1) / kColumnBlock;
    pool.parallel_for(p.B * p.H * blocks, [&](int64_t task) {
        const int64_t blk = task % blocks, bh = task / blocks, h = bh % p.H, b = bh / p.H;
        const int64_t c0 = blk * kColumnBlock, nb = std::min(kColumnBlock, g.dv - c0);
        const float lambda = p.decay ? p.decay[h] : 1.0f;
        const float* qb = q + b * g.L * g.e + h * g.dk;
        const float* kb = k + b * g.L * g.e + h * g.dk;
        const float* vb = v + b * g.L * g.f + h * g.dv;
        float* ob = out + b * g.L * g.f + h * g.dv;

        std::vector<float> state(static_cast<size_t>(g.dk * nb)), ksum(static_cast<size_t>(g.dk));
        const float* s0 = s_in.data() + bh * g.dk * g.dv;
        for (int64_t c = 0; c < g.dk; ++c)
            std::memcpy(&state[c * nb], s0 + c * g.dv + c0, sizeof(float) * nb);
        std::copy(z_in.begin() + bh * g.dk, z_in.begin() + (bh + 1) * g.dk, ksum.begin());
        std::vector<float> den(g.denominator ? static_cast<size_t>(g.L) : 0);
        float* denp = g.denominator ? den.data() : nullptr;

        directional_pass(g, false, qb, kb, vb, lambda, c0, nb, state.data(), ksum.data(), ob, denp, false);
        if (p.causal) {
            if (state_out) {
                float* so = state_out + bh * g.dk * g.dv;
                for (int64_t c = 0; c < g.dk; ++c)
                    std::memcpy(so + c * g.dv + c0, &state[c * nb], sizeof(float) * nb);
            }
            if (ksum_out && blk == 0) std::copy(ksum.begin(), ksum.end(), ksum_out + bh * g.dk);
        } else {
            std::fill(state.begin(), state.end(), 0.0f);
            std::fill(ksum.begin(), ksum.end(), 0.0f);
            directional_pass(g, true, qb, kb, vb, lambda, c0, nb, state.data(), ksum.data(), ob, denp, true);
            remove_diagonal(g, qb, kb, vb, c0, nb, ob, denp);
        }
        if (denp) {
            for (int64_t t = 0; t < g.L; ++t) {
                const float inv = 1.0f / (den[t] + p.eps);
                float* o = ob + t * g.f + c0;
                for (int64_t c = 0; c < nb; ++c) o[c] *= inv;
            }
        }
    });
    if (p.attn_norm == CHELA_ATTN_NORM_RMSNORM) rms_rows(pool, p.B * p.L, p.f, p.norm_weight, p.eps, out);
}

}  // namespace chela::cpu
