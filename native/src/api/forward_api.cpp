// C entry points: whole-model forward and single-layer forward (CPU backend).
#include "core/context.h"
#include "core/error.h"
#include "core/tensor.h"
#include "model/forward.h"

#include <algorithm>
#include <vector>

using namespace chela;

namespace {

chela_model& check_model(chela_model* model) {
    if (model == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "model: model is null");
    if (model->ctx == nullptr || model->ctx->device != CHELA_DEVICE_CPU)
        fail(CHELA_ERR_UNSUPPORTED, "model: only CPU-context models can run forward in this build");
    return *model;
}

// BLAS takes 32-bit extents: keep every GEMM dimension and row count under 2^31.
void check_rows(int64_t B, int64_t L, const char* name) {
    if (B < 1 || L < 1)
        fail(CHELA_ERR_SHAPE, name, ": batch and length must be >= 1, got [", B, ", ", L, "]");
    if (B * L >= (int64_t{1} << 31))
        fail(CHELA_ERR_SHAPE, name, ": ", B, " x ", L, " positions exceed the 2^31 limit of one call");
}

// Runs the model on one run of sequences [B, L] and writes the head's logits.
void run(ThreadPool& pool, const chela_model& m, int64_t B, int64_t L, const int32_t* tokens,
         const float* features, float* out) {
    const chela_model_config& cfg = m.ckpt.config;
    std::vector<float> hidden(static_cast<size_t>(B * L * cfg.d_model));
    model_hidden(pool, m, B, L, tokens, features, hidden.data());
    if (cfg.task == CHELA_TASK_LM) {
        lm_head(m, B * L, hidden.data(), out);
    } else {
        for (int64_t b = 0; b < B; ++b)
            classify_head(m, L, hidden.data() + b * L * cfg.d_model, out + b * cfg.num_classes);
    }
}

}  // namespace

extern "C" chela_status chela_model_forward(chela_model* model, const chela_tensor* inputs,
                                            const chela_tensor* lengths, chela_tensor* out) {
    return guard([&] {
        chela_model& m = check_model(model);
        const chela_model_config& cfg = m.ckpt.config;
        const bool token_model = cfg.vocab_size > 0;
        const chela_tensor& in =
            token_model ? check_tensor(inputs, "inputs", kI32, {kAny, kAny})
                        : check_tensor(inputs, "inputs", kFloats, {kAny, kAny, cfg.input_dim});
        const int64_t B = in.shape[0], L = in.shape[1];
        check_rows(B, L, "inputs");

        std::vector<int32_t> lens;
        if (lengths != nullptr) {
            const chela_tensor& lt = check_tensor(lengths, "lengths", kI32, {B});
            const int32_t* lp = static_cast<const int32_t*>(lt.data);
            for (int64_t b = 0; b < B; ++b)
                if (lp[b] < 1 || lp[b] > L)
                    fail(CHELA_ERR_INVALID_ARGUMENT, "lengths: lengths[", b, "] = ", lp[b],
                         " is outside [1, ", L, "]");
            lens.assign(lp, lp + B);
        }
        const chela_tensor& o =
            cfg.task == CHELA_TASK_LM
                ? check_tensor(out, "out", kF32, {B, L, cfg.vocab_size})
                : check_tensor(out, "out", kF32, {B, cfg.num_classes});
        float* op = static_cast<float*>(o.data);

        F32Input features_f32(token_model ? make_view(nullptr, {0}) : in);
        const int32_t* tokens = token_model ? static_cast<const int32_t*>(in.data) : nullptr;
        const float* features = token_model ? nullptr : features_f32.data();
        ThreadPool& pool = host_pool(*m.ctx);

        if (lens.empty()) {
            run(pool, m, B, L, tokens, features, op);
            return;
        }
        // Unequal lengths: each sequence runs on its valid prefix alone, so padding can never
        // reach a valid position (causal or bidirectional). LM logits of padding are written 0.
        const int64_t in_row = token_model ? 1 : cfg.input_dim;
        const int64_t out_row = cfg.task == CHELA_TASK_LM ? L * cfg.vocab_size : cfg.num_classes;
        for (int64_t b = 0; b < B; ++b) {
            float* ob = op + b * out_row;
            run(pool, m, 1, lens[b], tokens ? tokens + b * L : nullptr,
                features ? features + b * L * in_row : nullptr, ob);
            if (cfg.task == CHELA_TASK_LM)
                std::fill(ob + lens[b] * cfg.vocab_size, ob + out_row, 0.0f);
        }
    });
}

extern "C" chela_status chela_model_layer_forward(chela_model* model, int32_t layer,
                                                  const chela_tensor* x, chela_tensor* y) {
    return guard([&] {
        chela_model& m = check_model(model);
        const chela_model_config& cfg = m.ckpt.config;
        if (layer < 0 || layer >= cfg.n_layers)
            fail(CHELA_ERR_INVALID_ARGUMENT, "layer: index ", layer, " is outside [0, ", cfg.n_layers, ")");
        const chela_tensor& xt = check_tensor(x, "x", kFloats, {kAny, kAny, cfg.d_model});
        const int64_t B = xt.shape[0], L = xt.shape[1];
        check_rows(B, L, "x");
        const chela_tensor& yt = check_tensor(y, "y", kFloats, {B, L, cfg.d_model});
        if (xt.data == yt.data) fail(CHELA_ERR_INVALID_ARGUMENT, "y: must not alias x");
        F32Input xin(xt);
        F32Output yout(yt);
        layer_forward(host_pool(*m.ctx), cfg, m.params.layers[static_cast<size_t>(layer)], B, L,
                      xin.data(), yout.data());
        yout.commit();
    });
}
