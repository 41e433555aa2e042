// C entry points for linear attention: validate every argument, convert storage dtypes, run the
// CPU kernel.
#include "core/context.h"
#include "core/error.h"
#include "core/tensor.h"
#include "cpu/linear_attention.h"

#ifdef CHELA_WITH_CUDA
#include "cuda/tiled_linear_attention.h"
#include "cuda/runtime.h"
#endif

#include <cmath>
#include <vector>

using namespace chela;

namespace {

void check_options(const chela_linear_attention_options* o) {
    if (o == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "opts: options are null");
    if (o->n_heads < 1) fail(CHELA_ERR_INVALID_ARGUMENT, "opts.n_heads: ", o->n_heads, " must be >= 1");
    if (o->causal != 0 && o->causal != 1) fail(CHELA_ERR_INVALID_ARGUMENT, "opts.causal: ", o->causal, " must be 0 or 1");
    if (o->feature_map < CHELA_FEATURE_IDENTITY || o->feature_map > CHELA_FEATURE_SILU)
        fail(CHELA_ERR_INVALID_ARGUMENT, "opts.feature_map: unknown value ", o->feature_map);
    if (o->attn_norm < CHELA_ATTN_NORM_RMSNORM || o->attn_norm > CHELA_ATTN_NORM_DENOMINATOR)
        fail(CHELA_ERR_INVALID_ARGUMENT, "opts.attn_norm: unknown value ", o->attn_norm);
    if (!std::isfinite(o->scale) || o->scale <= 0.0f)
        fail(CHELA_ERR_INVALID_ARGUMENT, "opts.scale: ", o->scale, " must be finite and > 0");
    if (!std::isfinite(o->eps) || o->eps <= 0.0f)
        fail(CHELA_ERR_INVALID_ARGUMENT, "opts.eps: ", o->eps, " must be finite and > 0");
    if (o->chunk_size < 0 || o->chunk_size > 4096)
        fail(CHELA_ERR_INVALID_ARGUMENT, "opts.chunk_size: ", o->chunk_size, " is outside 0..4096");
    if (o->reserved != 0) fail(CHELA_ERR_INVALID_ARGUMENT, "opts.reserved: must be 0");
    if (o->attn_norm == CHELA_ATTN_NORM_DENOMINATOR && o->feature_map != CHELA_FEATURE_ELU1 &&
        o->feature_map != CHELA_FEATURE_RELU)
        fail(CHELA_ERR_INVALID_ARGUMENT,
             "opts.attn_norm: denominator normalisation needs a non-negative feature map (elu1 or relu)");
}

}  // namespace

extern "C" chela_status chela_linear_attention_options_init(chela_linear_attention_options* opts,
                                                            int64_t z_dim, int32_t n_heads) {
    return guard([&] {
        if (opts == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "opts: options are null");
        if (n_heads < 1) fail(CHELA_ERR_INVALID_ARGUMENT, "n_heads: ", n_heads, " must be >= 1");
        if (z_dim < 1 || z_dim % n_heads != 0)
            fail(CHELA_ERR_INVALID_ARGUMENT, "z_dim: ", z_dim, " must be >= 1 and divisible by n_heads ", n_heads);
        *opts = chela_linear_attention_options{};
        opts->n_heads = n_heads;
        opts->causal = 1;
        opts->feature_map = CHELA_FEATURE_IDENTITY;
        opts->attn_norm = CHELA_ATTN_NORM_RMSNORM;
        opts->scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(z_dim / n_heads)));
        opts->eps = 1e-5f;
    });
}

extern "C" chela_status chela_linear_attention(chela_context* ctx, const chela_tensor* q,
                                               const chela_tensor* k, const chela_tensor* v,
                                               const chela_tensor* decay,
                                               const chela_tensor* norm_weight,
                                               const chela_tensor* state_in,
                                               const chela_tensor* ksum_in, chela_tensor* out,
                                               chela_tensor* state_out, chela_tensor* ksum_out,
                                               const chela_linear_attention_options* opts) {
    return guard([&] {
        chela_context& c = check_context(ctx);
        check_options(opts);
        const int32_t dev = c.device;
        const chela_tensor& qt = check_tensor(q, "q", kFloats, {kAny, kAny, kAny}, dev);
        const int64_t B = qt.shape[0], L = qt.shape[1], e = qt.shape[2], H = opts->n_heads;
        const chela_tensor& kt = check_tensor(k, "k", kFloats, {B, L, e}, dev);
        const chela_tensor& vt = check_tensor(v, "v", kFloats, {B, L, kAny}, dev);
        const int64_t f = vt.shape[2];
        const chela_tensor& ot = check_tensor(out, "out", kFloats, {B, L, f}, dev);
        if (e == 0 || e % H != 0)
            fail(CHELA_ERR_SHAPE, "q: width e = ", e, " must be a positive multiple of opts.n_heads = ", H);
        if (f == 0 || f % H != 0)
            fail(CHELA_ERR_SHAPE, "v: width f = ", f, " must be a positive multiple of opts.n_heads = ", H);
        const int64_t dk = e / H, dv = f / H;

        const float* decay_p = nullptr;
        if (decay != nullptr) {
            decay_p = static_cast<const float*>(check_tensor(decay, "decay", kF32, {H}, dev).data);
            std::vector<float> lambda(decay_p, decay_p + (dev == CHELA_DEVICE_CPU ? H : 0));
#ifdef CHELA_WITH_CUDA
            if (dev == CHELA_DEVICE_CUDA) {  // validate a host copy (H values)
                lambda.resize(static_cast<size_t>(H));
                cuda::copy(c.device_index, c.stream, lambda.data(), decay_p, sizeof(float) * H);
            }
#endif
            for (int64_t h = 0; h < H; ++h)
                if (!(lambda[h] > 0.0f && lambda[h] <= 1.0f))
                    fail(CHELA_ERR_INVALID_ARGUMENT, "decay: decay[", h, "] = ", lambda[h], " is outside (0, 1]");
        }
        const bool rms = opts->attn_norm == CHELA_ATTN_NORM_RMSNORM;
        if (rms && norm_weight == nullptr)
            fail(CHELA_ERR_INVALID_ARGUMENT, "norm_weight: required for rmsnorm attention normalisation");
        if (!rms && norm_weight != nullptr)
            fail(CHELA_ERR_INVALID_ARGUMENT, "norm_weight: given, but attn_norm is not rmsnorm");
        const float* norm_p = rms ? static_cast<const float*>(check_tensor(norm_weight, "norm_weight", kF32, {f}, dev).data) : nullptr;

        const bool denominator = opts->attn_norm == CHELA_ATTN_NORM_DENOMINATOR;
        if (!opts->causal && (state_in || ksum_in || state_out || ksum_out))
            fail(CHELA_ERR_INVALID_ARGUMENT, "state_in/state_out: a running state exists only for causal attention");
        if (!denominator && (ksum_in || ksum_out))
            fail(CHELA_ERR_INVALID_ARGUMENT, "ksum_in/ksum_out: a key sum exists only for denominator normalisation");
        auto state_ptr = [&](const chela_tensor* t, const char* name) -> float* {
            return t ? static_cast<float*>(check_tensor(t, name, kF32, {B, H, dk, dv}, dev).data) : nullptr;
        };
        auto ksum_ptr = [&](const chela_tensor* t, const char* name) -> float* {
            return t ? static_cast<float*>(check_tensor(t, name, kF32, {B, H, dk}, dev).data) : nullptr;
        };

        cpu::LinearAttentionParams p;
        p.B = B;
        p.L = L;
        p.e = e;
        p.f = f;
        p.H = static_cast<int>(H);
        p.causal = opts->causal != 0;
        p.feature_map = opts->feature_map;
        p.attn_norm = opts->attn_norm;
        p.scale = opts->scale;
        p.eps = opts->eps;
        p.chunk = opts->chunk_size;
        p.decay = decay_p;
        p.norm_weight = norm_p;
        if (dev == CHELA_DEVICE_CUDA) {
#ifdef CHELA_WITH_CUDA
            if (kt.dtype != qt.dtype || vt.dtype != qt.dtype)
                fail(CHELA_ERR_DTYPE, "q, k, v: the CUDA kernel needs one dtype for all three");
            if (ot.dtype != qt.dtype && ot.dtype != CHELA_DTYPE_F32)
                fail(CHELA_ERR_DTYPE, "out: the CUDA kernel writes the inputs' dtype or f32");
            cuda::tiled::LinearAttentionParams tp;
            tp.B = B;
            tp.L = L;
            tp.e = e;
            tp.f = f;
            tp.H = p.H;
            tp.causal = p.causal;
            tp.feature_map = p.feature_map;
            tp.attn_norm = p.attn_norm;
            tp.scale = p.scale;
            tp.eps = p.eps;
            tp.decay = decay_p;
            tp.norm_weight = norm_p;
            tp.dtype = qt.dtype;
            tp.out_dtype = ot.dtype;
            cuda::select_device(c.device_index);
            // workspace = nullptr: the call takes its scratch stream-ordered from the device pool.
            cuda::tiled::linear_attention(tp, qt.data, kt.data, vt.data, state_ptr(state_in, "state_in"),
                                          ksum_ptr(ksum_in, "ksum_in"), ot.data, state_ptr(state_out, "state_out"),
                                          ksum_ptr(ksum_out, "ksum_out"), nullptr, 0, c.stream);
            return;
#endif
        }
        F32Input qf(qt), kf(kt), vf(vt);
        F32Output of(ot);
        cpu::linear_attention(*c.pool, p, qf.data(), kf.data(), vf.data(), state_ptr(state_in, "state_in"),
                              ksum_ptr(ksum_in, "ksum_in"), of.data(), state_ptr(state_out, "state_out"),
                              ksum_ptr(ksum_out, "ksum_out"));
        of.commit();
    });
}
