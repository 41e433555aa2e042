// The element-wise and row-wise kernels of the CUDA model forward (everything that is not a GEMM,
// the convolution or the attention core). Host-callable launchers, no CUDA types: pointers are
// device memory, `stream` is a cudaStream_t. Formulas are those of cpu::layer_ops and
// model/forward.cpp (spec "One CHELA layer"); all arithmetic is fp32.
#pragma once

#include <cstdint>

namespace chela::cuda::model {

// Index of the first token id outside [0, vocab) in tokens[0..n), or -1. Synchronises the stream.
int64_t first_bad_token(void* stream, const int32_t* tokens, int64_t n, int64_t vocab);

// out[i, :] = embed[tokens[i], :]   (ids already validated)
void embed_rows(void* stream, const int32_t* tokens, const float* embed, int64_t rows, int64_t d, float* out);

// y[r, :] = LayerNorm(x[r, :]) * w + b (rms = false), or x / rms(x) * w (rms = true); y is f32
// (may alias x) or fp16 (y_f16: the operand of the next GEMM).
void norm_rows(void* stream, int64_t rows, int64_t n, const float* x, const float* w, const float* b, float eps,
               bool rms, void* y, bool y_f16 = false);

// y = fp16(x), n elements (clamped to the fp16 range).
void to_f16(void* stream, int64_t n, const float* x, void* y);

// How the attention inputs are laid out for the tensor-core kernel: heads padded to dkp / dvp
// columns (multiples of 8; padding is zeros, so dot products are unchanged), with an extra ones
// column at v[h, dv] when the denominator is computed as one more value column.
struct AttentionLayout {
    int64_t B = 0, L = 0, d = 0, e = 0, f = 0;
    int H = 1, dk = 0, dv = 0, dkp = 0, dvp = 0;
    int feature_map = 0;     // chela_feature_map, applied here (the kernel then runs identity)
    int attn_norm = 0;       // chela_attn_norm, applied in attention_output
    bool bidirectional = false;
    float scale = 1.0f, eps = 1e-5f;
    int64_t p_width = 0;     // 2d + e + f, the width of P
};

// From P = [U | ZR | Hx] (fp16, [rows, 2d+e+f]) and V (fp16, [rows, f]): q, k (phi applied) and v in
// fp16 (10 mantissa bits; clamped to the fp16 range), padded per head; for bidirectional layers also their time-reversed copies (q_rev, ...
// may be null otherwise). vv may be null where V already is the padded layout (dvp = dv, no
// denominator column): the caller then reads V in its place.
void attention_inputs(void* stream, const AttentionLayout& a, const void* p, const void* v, const float* gamma,
                      const float* beta, void* q, void* k, void* vv, void* q_rev, void* k_rev, void* v_rev);

// From the kernel's output(s) (f32 [rows, H*dvp]; o_rev = the reversed pass, or null when causal):
// removes the twice-counted diagonal (bidirectional), normalises (rmsnorm with norm_w / denominator
// / none), and multiplies by R = SiLU(ZR[e:]) read from P. out: fp16 [rows, f] (the h projection's
// operand).
void attention_output(void* stream, const AttentionLayout& a, const void* o, const void* o_rev, const void* q,
                      const void* k, const void* vv, const void* p, const float* norm_w, void* out);

// y = x + sigmoid(U) * (SiLU(Hx + hd) - x), U and Hx read from P (fp16).   [rows, d], f32
void gated_residual(void* stream, int64_t rows, int64_t d, int64_t p_width, const void* p, const float* hd,
                    const float* x, float* y);

// y += a   (n elements)
void add_into(void* stream, int64_t n, const float* a, float* y);

// out[b, :] = mean over t < length of hidden[b, t, :] (mean = true) or hidden[b, length-1, :].
void pool_rows(void* stream, int64_t B, int64_t L, int64_t length, int64_t d, const float* hidden, bool mean,
               float* out);

}  // namespace chela::cuda::model
