// C entry points: streaming prefill/decode over chela_state, and next-token sampling.
#include "core/context.h"
#include "core/error.h"
#include "core/tensor.h"
#include "model/forward.h"
#include "model/sampling.h"

#include <memory>
#include <vector>

using namespace chela;

struct chela_state {
    chela_model* model = nullptr;
    ModelState st;
};

namespace {

chela_state& check_state(chela_state* state) {
    if (state == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "state: state is null");
    if (state->st.broken)
        fail(CHELA_ERR_INVALID_ARGUMENT, "state: an earlier call failed inside the computation; "
                                         "chela_state_reset it before further use");
    return *state;
}

// Runs `t` positions of every stream through the model, advancing the state; writes the logits of
// the last position ([B, vocab]) or of all positions ([B, t, vocab]).
void advance(chela_state& s, const int32_t* tokens, const float* features, int64_t t, bool all_positions,
             float* logits) {
    const chela_model& m = *s.model;
    const chela_model_config& cfg = m.ckpt.config;
    const int64_t B = s.st.B, d = cfg.d_model;
    std::vector<float> hidden(static_cast<size_t>(B * t * d));
    model_hidden(host_pool(*m.ctx), m, B, t, tokens, features, hidden.data(), &s.st);
    if (all_positions) {
        lm_head(m, B * t, hidden.data(), logits);
        return;
    }
    std::vector<float> last(static_cast<size_t>(B * d));
    for (int64_t b = 0; b < B; ++b)
        std::copy(hidden.begin() + ((b * t) + t - 1) * d, hidden.begin() + (b * t + t) * d, last.begin() + b * d);
    lm_head(m, B, last.data(), logits);
}

// Checks the inputs of `t` positions per stream ([B, t] ids or [B, t, input_dim] features; for a
// decode step the t axis is absent) and runs them.
void feed(chela_state& s, const chela_tensor* inputs, chela_tensor* logits, bool decode) {
    const chela_model_config& cfg = s.model->ckpt.config;
    const int64_t B = s.st.B, V = cfg.vocab_size;
    const bool token_model = cfg.vocab_size > 0;
    const chela_tensor* in = nullptr;
    if (decode)
        in = token_model ? &check_tensor(inputs, "inputs", kI32, {B})
                         : &check_tensor(inputs, "inputs", kFloats, {B, cfg.input_dim});
    else
        in = token_model ? &check_tensor(inputs, "inputs", kI32, {B, kAny})
                         : &check_tensor(inputs, "inputs", kFloats, {B, kAny, cfg.input_dim});
    const int64_t t = decode ? 1 : in->shape[1];
    if (t < 1) fail(CHELA_ERR_SHAPE, "inputs: a prompt needs at least one position");
    if (B * t >= (int64_t{1} << 31))
        fail(CHELA_ERR_SHAPE, "inputs: ", B, " x ", t, " positions exceed the 2^31 limit of one call");
    bool all_positions = false;
    const chela_tensor* out = nullptr;
    if (!decode && logits != nullptr && logits->rank == 3) {
        out = &check_tensor(logits, "logits", kF32, {B, t, V});
        all_positions = true;
    } else {
        out = &check_tensor(logits, "logits", kF32, {B, V});
    }
    F32Input features(token_model ? make_view(nullptr, {0}) : *in);
    advance(s, token_model ? static_cast<const int32_t*>(in->data) : nullptr,
            token_model ? nullptr : features.data(), t, all_positions, static_cast<float*>(out->data));
}

}  // namespace

extern "C" chela_status chela_state_create(chela_model* model, int64_t batch, chela_state** out) {
    return guard([&] {
        if (out == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "out: pointer is null");
        *out = nullptr;
        if (model == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "model: model is null");
        const chela_model_config& cfg = model->ckpt.config;
        if (model->ctx->device != CHELA_DEVICE_CPU)
            fail(CHELA_ERR_UNSUPPORTED, "model: streaming runs on CPU-context models in this build");
        if (!cfg.causal)
            fail(CHELA_ERR_UNSUPPORTED, "model: streaming needs a causal model (this one is bidirectional)");
        if (cfg.task != CHELA_TASK_LM)
            fail(CHELA_ERR_UNSUPPORTED, "model: streaming yields next-token logits: task must be lm");
        if (batch < 1 || batch > (int64_t{1} << 20))
            fail(CHELA_ERR_INVALID_ARGUMENT, "batch: ", batch, " is outside [1, 2^20]");
        auto s = std::make_unique<chela_state>();
        s->model = model;
        s->st = make_state(*model, batch);
        model->live_states++;
        *out = s.release();
    });
}

extern "C" chela_status chela_state_destroy(chela_state* state) {
    return guard([&] {
        if (state == nullptr) return;
        state->model->live_states--;
        delete state;
    });
}

extern "C" chela_status chela_state_reset(chela_state* state) {
    return guard([&] {
        if (state == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "state: state is null");
        state->st = make_state(*state->model, state->st.B);
    });
}

extern "C" chela_status chela_state_position(const chela_state* state, int64_t* tokens) {
    return guard([&] {
        if (state == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "state: state is null");
        if (tokens == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "tokens: pointer is null");
        *tokens = state->st.past;
    });
}

extern "C" chela_status chela_state_prefill(chela_state* state, const chela_tensor* inputs, chela_tensor* logits) {
    return guard([&] { feed(check_state(state), inputs, logits, false); });
}

extern "C" chela_status chela_state_decode(chela_state* state, const chela_tensor* inputs, chela_tensor* logits) {
    return guard([&] { feed(check_state(state), inputs, logits, true); });
}

extern "C" chela_status chela_sampling_options_init(chela_sampling_options* opts) {
    return guard([&] {
        if (opts == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "opts: pointer is null");
        *opts = chela_sampling_options{0.0f, 0, 1.0f, 0};
    });
}

extern "C" chela_status chela_sample(const chela_tensor* logits, const chela_sampling_options* opts, uint64_t* rng,
                                     chela_tensor* ids) {
    return guard([&] {
        if (opts == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "opts: pointer is null");
        if (rng == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "rng: pointer is null");
        check_sampling_options(*opts);
        const chela_tensor& lt = check_tensor(logits, "logits", kF32, {kAny, kAny});
        const int64_t B = lt.shape[0], V = lt.shape[1];
        if (V < 1) fail(CHELA_ERR_SHAPE, "logits: the vocabulary axis is empty");
        const chela_tensor& it = check_tensor(ids, "ids", kI32, {B});
        const float* lp = static_cast<const float*>(lt.data);
        int32_t* ip = static_cast<int32_t*>(it.data);
        for (int64_t b = 0; b < B; ++b) ip[b] = sample_one(lp + b * V, V, *opts, *rng);
    });
}
