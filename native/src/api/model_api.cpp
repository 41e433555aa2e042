// C entry points: loading, destroying and inspecting models.
#include "core/context.h"
#include "core/error.h"
#include "core/tensor.h"
#include "model/checkpoint.h"

#ifdef CHELA_WITH_CUDA
#include "cuda/model/device_model.h"
#endif

#include <memory>

using namespace chela;

namespace {

const chela_model& check_model(const chela_model* model) {
    if (model == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "model: model is null");
    return *model;
}

}  // namespace

extern "C" chela_status chela_model_load(chela_context* ctx, const char* dir, chela_model** out) {
    return guard([&] {
        if (out == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "out: pointer is null");
        *out = nullptr;
        chela_context& c = check_context(ctx);
        if (dir == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "dir: path is null");
        if (c.device != CHELA_DEVICE_CPU && c.device != CHELA_DEVICE_CUDA)
            fail(CHELA_ERR_UNSUPPORTED, "ctx: models can be loaded into CPU or CUDA contexts only");
        auto m = std::make_unique<chela_model>();
        m->ckpt = load_checkpoint(dir);
        m->params = bind_params(m->ckpt);
        if (c.device == CHELA_DEVICE_CUDA) {
#ifdef CHELA_WITH_CUDA
            // The weights go to the device once; forward calls then never touch host memory.
            m->gpu = cuda::model::upload(*m, c.device_index, c.stream);
#else
            fail(CHELA_ERR_UNSUPPORTED, "ctx: this build has no CUDA backend");
#endif
        }
        for (const auto& kv : m->ckpt.tensors) m->names.push_back(kv.first);
        m->ctx = &c;
        c.live_models++;
        *out = m.release();
    });
}

extern "C" chela_status chela_model_destroy(chela_model* model) {
    return guard([&] {
        if (model == nullptr) return;
        if (model->live_states.load() != 0)
            fail(CHELA_ERR_INVALID_ARGUMENT, "model: ", model->live_states.load(),
                 " streaming state(s) still use this model: destroy them first");
        model->ctx->live_models--;
        delete model;
    });
}

extern "C" chela_status chela_model_get_config(const chela_model* model, chela_model_config* out) {
    return guard([&] {
        const chela_model& m = check_model(model);
        if (out == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "out: pointer is null");
        *out = m.ckpt.config;
    });
}

extern "C" chela_status chela_model_tensor_count(const chela_model* model, int32_t* count) {
    return guard([&] {
        const chela_model& m = check_model(model);
        if (count == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "count: pointer is null");
        *count = static_cast<int32_t>(m.names.size());
    });
}

extern "C" chela_status chela_model_tensor_name(const chela_model* model, int32_t index, const char** name) {
    return guard([&] {
        const chela_model& m = check_model(model);
        if (name == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "name: pointer is null");
        if (index < 0 || static_cast<size_t>(index) >= m.names.size())
            fail(CHELA_ERR_INVALID_ARGUMENT, "index: ", index, " is outside [0, ", m.names.size(), ")");
        *name = m.names[static_cast<size_t>(index)].c_str();
    });
}

extern "C" chela_status chela_model_tensor(const chela_model* model, const char* name, chela_tensor* view) {
    return guard([&] {
        const chela_model& m = check_model(model);
        if (name == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "name: pointer is null");
        if (view == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "view: pointer is null");
        auto it = m.ckpt.tensors.find(name);
        if (it == m.ckpt.tensors.end()) fail(CHELA_ERR_INVALID_ARGUMENT, "name: the model has no tensor \"", name, "\"");
        *view = make_view(it->second.data.data(), it->second.shape);
    });
}
