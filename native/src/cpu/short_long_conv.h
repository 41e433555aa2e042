// CPU short-long convolution (short depthwise conv -> SiLU -> long depthwise conv via FFT ->
// + omega * x -> SiLU), f32, contiguous row-major; and the short-kernel reparameterisation merge.
#pragma once

#include "core/thread_pool.h"

#include <cstdint>
#include <vector>

namespace chela::cpu {

struct ShortLongConvParams {
    int64_t B = 0, L = 0, d = 0;
    int ks = 3;        // short kernel size (odd when bidirectional)
    int64_t Lk = 1;    // long kernel size
    bool causal = true;
};

// x, out: [B,L,d]; short_w: [d,ks]; short_b: [d]; long_w, long_w_rev: [d,Lk] (rev: bidirectional
// only, else null); omega: [d].
void short_long_conv(ThreadPool& pool, const ShortLongConvParams& p, const float* x,
                     const float* short_w, const float* short_b, const float* long_w,
                     const float* long_w_rev, const float* omega, float* out);

// Sums branches weights[i] ([d, sizes[i]]) and biases[i] ([d]) into out_w [d, max size] and
// out_b [d], as the spec's structural reparameterisation says (causal: pad at the old end;
// bidirectional: odd sizes, centres aligned).
void merge_short_kernels(int64_t d, const std::vector<const float*>& weights,
                         const std::vector<int>& sizes, const std::vector<const float*>& biases,
                         bool causal, float* out_w, float* out_b);

}  // namespace chela::cpu
