// Float64 reference of linear attention, straight from the spec's formulas (section 4): the
// O(L^2) double sum, no chunking. Includes an initial state (causal) and returns the final one.
#pragma once

#include <chela/chela.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <vector>

namespace chela::ref {

inline double feature_map(int map, double x) {
    switch (map) {
        case CHELA_FEATURE_ELU1: return x > 0 ? x + 1 : std::exp(x);
        case CHELA_FEATURE_RELU: return x > 0 ? x : 0;
        case CHELA_FEATURE_SILU: return x / (1.0 + std::exp(-x));
        default: return x;
    }
}

struct AttentionSpec {
    int64_t B = 1, L = 1, e = 1, f = 1, H = 1;
    bool causal = true;
    int feature_map = CHELA_FEATURE_IDENTITY;
    int attn_norm = CHELA_ATTN_NORM_NONE;
    double scale = 1, eps = 1e-5;
    std::vector<double> decay;        // [H]; empty = 1
    std::vector<double> norm_weight;  // [f] for rmsnorm
    std::vector<double> state_in;     // [B,H,dk,dv]; empty = 0
    std::vector<double> ksum_in;      // [B,H,dk]; empty = 0
};

struct AttentionResult {
    std::vector<double> out, state_out, ksum_out;
};

// q, k [B,L,e]; v [B,L,f].
inline AttentionResult linear_attention(const AttentionSpec& s, const std::vector<double>& q,
                                        const std::vector<double>& k, const std::vector<double>& v) {
    const int64_t B = s.B, L = s.L, e = s.e, f = s.f, H = s.H, dk = e / H, dv = f / H;
    AttentionResult r;
    r.out.assign(static_cast<size_t>(B * L * f), 0.0);
    r.state_out.assign(static_cast<size_t>(B * H * dk * dv), 0.0);
    r.ksum_out.assign(static_cast<size_t>(B * H * dk), 0.0);
    auto phi = [&](double x) { return feature_map(s.feature_map, x); };
    for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h) {
            const double lam = s.decay.empty() ? 1.0 : s.decay[h];
            const double* S0 = s.state_in.empty() ? nullptr : &s.state_in[(b * H + h) * dk * dv];
            const double* z0 = s.ksum_in.empty() ? nullptr : &s.ksum_in[(b * H + h) * dk];
            auto qv = [&](int64_t t, int64_t c) { return phi(q[(b * L + t) * e + h * dk + c]); };
            auto kv = [&](int64_t t, int64_t c) { return phi(k[(b * L + t) * e + h * dk + c]); };
            for (int64_t t = 0; t < L; ++t) {
                double* o = &r.out[(b * L + t) * f + h * dv];
                double den = 0;
                for (int64_t j = 0; j < L; ++j) {
                    if (s.causal && j > t) break;
                    double dot = 0;
                    for (int64_t c = 0; c < dk; ++c) dot += qv(t, c) * kv(j, c);
                    const double w = s.scale * std::pow(lam, static_cast<double>(std::llabs(t - j))) * dot;
                    den += w;
                    for (int64_t c = 0; c < dv; ++c) o[c] += w * v[(b * L + j) * f + h * dv + c];
                }
                // An initial state stands for keys before position 0: decayed by t+1 steps.
                const double lt = s.scale * std::pow(lam, static_cast<double>(t + 1));
                for (int64_t c = 0; c < dk; ++c) {
                    if (S0)
                        for (int64_t x = 0; x < dv; ++x) o[x] += lt * qv(t, c) * S0[c * dv + x];
                    if (z0) den += lt * qv(t, c) * z0[c];
                }
                if (s.attn_norm == CHELA_ATTN_NORM_DENOMINATOR)
                    for (int64_t c = 0; c < dv; ++c) o[c] /= den + s.eps;
            }
            // Final state after position L-1.
            double* So = &r.state_out[(b * H + h) * dk * dv];
            double* zo = &r.ksum_out[(b * H + h) * dk];
            const double lL = std::pow(lam, static_cast<double>(L));
            for (int64_t c = 0; c < dk; ++c) {
                zo[c] = z0 ? lL * z0[c] : 0.0;
                for (int64_t x = 0; x < dv; ++x) So[c * dv + x] = S0 ? lL * S0[c * dv + x] : 0.0;
            }
            for (int64_t j = 0; j < L; ++j) {
                const double w = std::pow(lam, static_cast<double>(L - 1 - j));
                for (int64_t c = 0; c < dk; ++c) {
                    zo[c] += w * kv(j, c);
                    for (int64_t x = 0; x < dv; ++x) So[c * dv + x] += w * kv(j, c) * v[(b * L + j) * f + h * dv + x];
                }
            }
        }
    if (s.attn_norm == CHELA_ATTN_NORM_RMSNORM)
        for (int64_t row = 0; row < B * L; ++row) {
            double* o = &r.out[row * f];
            double ms = 0;
            for (int64_t c = 0; c < f; ++c) ms += o[c] * o[c];
            const double inv = 1.0 / std::sqrt(ms / static_cast<double>(f) + s.eps);
            for (int64_t c = 0; c < f; ++c) o[c] *= inv * s.norm_weight[c];
        }
    return r;
}

}  // namespace chela::ref
