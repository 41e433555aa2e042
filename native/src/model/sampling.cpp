#include "model/sampling.h"

#include "core/error.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace chela {

void check_sampling_options(const chela_sampling_options& o) {
    if (!std::isfinite(o.temperature) || o.temperature < 0.0f)
        fail(CHELA_ERR_INVALID_ARGUMENT, "opts.temperature: ", o.temperature, " must be finite and >= 0");
    if (o.top_k < 0) fail(CHELA_ERR_INVALID_ARGUMENT, "opts.top_k: ", o.top_k, " must be >= 0 (0 = no cut)");
    if (!(o.top_p > 0.0f && o.top_p <= 1.0f))
        fail(CHELA_ERR_INVALID_ARGUMENT, "opts.top_p: ", o.top_p, " must be in (0, 1]");
    if (o.reserved != 0) fail(CHELA_ERR_INVALID_ARGUMENT, "opts.reserved: must be 0");
}

uint64_t next_random(uint64_t& rng) {
    uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int32_t sample_one(const float* logits, int64_t V, const chela_sampling_options& o, uint64_t& rng) {
    for (int64_t i = 0; i < V; ++i)
        if (std::isnan(logits[i])) fail(CHELA_ERR_INVALID_ARGUMENT, "logits: entry ", i, " is NaN");
    if (o.temperature == 0.0f)  // greedy; max_element keeps the first (lowest id) of equal maxima
        return static_cast<int32_t>(std::max_element(logits, logits + V) - logits);

    // Most likely first; equal logits in id order, so the cut sets are well defined.
    std::vector<int32_t> order(static_cast<size_t>(V));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
    size_t keep = o.top_k > 0 ? std::min<size_t>(static_cast<size_t>(o.top_k), order.size()) : order.size();

    std::vector<double> p(keep);
    const double top = logits[order[0]], inv_t = 1.0 / o.temperature;
    double total = 0.0;
    for (size_t i = 0; i < keep; ++i) total += p[i] = std::exp((logits[order[i]] - top) * inv_t);
    if (o.top_p < 1.0f) {  // the smallest prefix whose probability reaches top_p
        double cum = 0.0;
        size_t n = 0;
        while (n < keep && cum < o.top_p * total) cum += p[n++];
        keep = std::max<size_t>(n, 1);
        total = std::accumulate(p.begin(), p.begin() + static_cast<long>(keep), 0.0);
    }
    const double u = static_cast<double>(next_random(rng) >> 11) * 0x1.0p-53 * total;
    double cum = 0.0;
    for (size_t i = 0; i < keep; ++i) {
        cum += p[i];
        if (u < cum) return order[i];
    }
    return order[keep - 1];  // u rounded onto the total
}

}  // namespace chela
