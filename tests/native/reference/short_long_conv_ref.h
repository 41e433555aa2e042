// Float64 reference of the short-long convolution, straight from the spec (section 2): direct
// sums, no FFT.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace chela::ref {

// x [B,L,d]; ws [d,ks]; bs [d]; wl, wr [d,Lk] (wr empty when causal); omega [d]. Returns M [B,L,d].
inline std::vector<double> short_long_conv(int64_t B, int64_t L, int64_t d, int64_t ks, int64_t lk, bool causal,
                                           const std::vector<double>& x, const std::vector<double>& ws,
                                           const std::vector<double>& bs, const std::vector<double>& wl,
                                           const std::vector<double>& wr, const std::vector<double>& omega) {
    auto silu = [](double z) { return z / (1.0 + std::exp(-z)); };
    const int64_t centre = causal ? 0 : (ks - 1) / 2;  // index centre is the current step
    std::vector<double> a(static_cast<size_t>(B * L * d)), m(a.size());
    for (int64_t b = 0; b < B; ++b)
        for (int64_t t = 0; t < L; ++t)
            for (int64_t c = 0; c < d; ++c) {
                double s = bs[c];
                for (int64_t j = 0; j < ks; ++j) {
                    const int64_t src = t - (j - centre);  // index j reaches j - centre steps back
                    if (src >= 0 && src < L) s += ws[c * ks + j] * x[(b * L + src) * d + c];
                }
                a[(b * L + t) * d + c] = silu(s);
            }
    for (int64_t b = 0; b < B; ++b)
        for (int64_t t = 0; t < L; ++t)
            for (int64_t c = 0; c < d; ++c) {
                double g = 0;
                for (int64_t j = 0; j <= std::min(t, lk - 1); ++j) g += wl[c * lk + j] * a[(b * L + t - j) * d + c];
                if (!causal)
                    for (int64_t j = 1; j < lk && t + j < L; ++j) g += wr[c * lk + j] * a[(b * L + t + j) * d + c];
                m[(b * L + t) * d + c] = silu(g + omega[c] * x[(b * L + t) * d + c]);
            }
    return m;
}

}  // namespace chela::ref
