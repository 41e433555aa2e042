// C entry points: whole-model forward and single-layer forward (CPU backend, and the CUDA backend
// for models loaded into a CUDA context).
#include "core/context.h"
#include "core/error.h"
#include "core/tensor.h"
#include "model/forward.h"

#ifdef CHELA_WITH_CUDA
#include "cuda/model/device_model.h"
#include "cuda/runtime.h"
#endif

#include <algorithm>
#include <memory>
#include <vector>

using namespace chela;

namespace {

chela_model& check_model(chela_model* model) {
    if (model == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "model: model is null");
    if (model->ctx == nullptr || (model->ctx->device != CHELA_DEVICE_CPU && model->gpu == nullptr))
        fail(CHELA_ERR_UNSUPPORTED, "model: this model's context cannot run a forward in this build");
    return *model;
}

bool on_gpu(const chela_model& m) { return m.ctx->device != CHELA_DEVICE_CPU; }

// Where a tensor argument of a CUDA-context model lives: host tensors are accepted too (staged
// through device memory), device tensors are used in place.
int32_t placement(const chela_tensor* t) {
    return t != nullptr && t->device == CHELA_DEVICE_CUDA ? CHELA_DEVICE_CUDA : CHELA_DEVICE_CPU;
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

#ifdef CHELA_WITH_CUDA
// Device memory for a host argument of a CUDA forward; freed on every exit path.
class DeviceTemp {
public:
    DeviceTemp(const chela_context& c, size_t bytes)
        : dev_(c.device_index), p_(cuda::malloc_device(c.device_index, bytes)) {}
    ~DeviceTemp() {
        try {
            cuda::free_device(dev_, p_);
        } catch (...) {
        }
    }
    DeviceTemp(const DeviceTemp&) = delete;
    DeviceTemp& operator=(const DeviceTemp&) = delete;
    void* get() const { return p_; }

private:
    int dev_;
    void* p_;
};

// The CUDA forward: inputs and out on the device (or staged), lengths on the host.
void run_cuda(chela_model& m, const chela_tensor& in, const std::vector<int32_t>& lens, const chela_tensor& o) {
    chela_context& c = *m.ctx;
    const chela_model_config& cfg = m.ckpt.config;
    const bool token_model = cfg.vocab_size > 0;
    const int64_t B = in.shape[0], L = in.shape[1];
    const int64_t in_row = token_model ? 1 : cfg.input_dim;
    const int64_t out_row = cfg.task == CHELA_TASK_LM ? L * cfg.vocab_size : cfg.num_classes;
    cuda::select_device(c.device_index);

    std::unique_ptr<DeviceTemp> in_tmp, out_tmp;
    const void* in_dev = in.data;
    if (in.device == CHELA_DEVICE_CPU) {
        const size_t bytes = sizeof(float) * size_t(B * L * in_row);  // i32 and f32 are both 4 bytes
        in_tmp = std::make_unique<DeviceTemp>(c, bytes);
        if (token_model) {
            cuda::copy(c.device_index, c.stream, in_tmp->get(), in.data, bytes);
        } else {
            F32Input host(in);  // bf16/f16 host features become f32 here
            cuda::copy(c.device_index, c.stream, in_tmp->get(), host.data(), bytes);
        }
        in_dev = in_tmp->get();
    } else if (!token_model && in.dtype != CHELA_DTYPE_F32) {
        fail(CHELA_ERR_DTYPE, "inputs: device features must be f32 for a CUDA model");
    }
    float* out_dev = static_cast<float*>(o.data);
    if (o.device == CHELA_DEVICE_CPU) {
        out_tmp = std::make_unique<DeviceTemp>(c, sizeof(float) * size_t(B * out_row));
        out_dev = static_cast<float*>(out_tmp->get());
    }
    auto tokens_at = [&](int64_t b) { return token_model ? static_cast<const int32_t*>(in_dev) + b * L : nullptr; };
    auto features_at = [&](int64_t b) {
        return token_model ? nullptr : static_cast<const float*>(in_dev) + b * L * in_row;
    };
    if (lens.empty()) {
        cuda::model::forward(m, *m.gpu, c.stream, B, L, tokens_at(0), features_at(0), out_dev);
    } else {
        for (int64_t b = 0; b < B; ++b) {
            float* ob = out_dev + b * out_row;
            cuda::model::forward(m, *m.gpu, c.stream, 1, lens[b], tokens_at(b), features_at(b), ob);
            if (cfg.task == CHELA_TASK_LM && lens[b] < L)
                cuda::model::zero(c.stream, ob + lens[b] * cfg.vocab_size,
                                  sizeof(float) * size_t((L - lens[b]) * cfg.vocab_size));
        }
    }
    if (out_tmp) cuda::copy(c.device_index, c.stream, o.data, out_dev, sizeof(float) * size_t(B * out_row));
}
#endif

}  // namespace

extern "C" chela_status chela_model_forward(chela_model* model, const chela_tensor* inputs,
                                            const chela_tensor* lengths, chela_tensor* out) {
    return guard([&] {
        chela_model& m = check_model(model);
        const chela_model_config& cfg = m.ckpt.config;
        const bool token_model = cfg.vocab_size > 0;
        const bool gpu = on_gpu(m);
        const int32_t in_dev = gpu ? placement(inputs) : CHELA_DEVICE_CPU;
        const chela_tensor& in =
            token_model ? check_tensor(inputs, "inputs", kI32, {kAny, kAny}, in_dev)
                        : check_tensor(inputs, "inputs", kFloats, {kAny, kAny, cfg.input_dim}, in_dev);
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
        const int32_t out_dev = gpu ? placement(out) : CHELA_DEVICE_CPU;
        const chela_tensor& o =
            cfg.task == CHELA_TASK_LM
                ? check_tensor(out, "out", kF32, {B, L, cfg.vocab_size}, out_dev)
                : check_tensor(out, "out", kF32, {B, cfg.num_classes}, out_dev);
        if (gpu) {
#ifdef CHELA_WITH_CUDA
            run_cuda(m, in, lens, o);
#endif
            return;
        }
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
        if (on_gpu(m)) {
#ifdef CHELA_WITH_CUDA
            // Device tensors only (f32): a single layer is a building block, not an entry point
            // worth staging host memory for.
            const chela_tensor& xt = check_tensor(x, "x", kF32, {kAny, kAny, cfg.d_model}, CHELA_DEVICE_CUDA);
            const int64_t B = xt.shape[0], L = xt.shape[1];
            check_rows(B, L, "x");
            const chela_tensor& yt = check_tensor(y, "y", kF32, {B, L, cfg.d_model}, CHELA_DEVICE_CUDA);
            if (xt.data == yt.data) fail(CHELA_ERR_INVALID_ARGUMENT, "y: must not alias x");
            cuda::model::layer_forward(m, *m.gpu, m.ctx->stream, layer, B, L, static_cast<const float*>(xt.data),
                                       static_cast<float*>(yt.data));
#endif
            return;
        }
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
