#include "model/model.h"

#include "core/error.h"

namespace chela {

namespace {

// Pointer to a tensor's data, or null when the checkpoint has no such tensor.
const float* find(const Checkpoint& ck, const std::string& name) {
    auto it = ck.tensors.find(name);
    return it == ck.tensors.end() ? nullptr : it->second.data.data();
}

}  // namespace

ModelParams bind_params(const Checkpoint& ck) {
    const chela_model_config& c = ck.config;
    ModelParams m;
    m.embed = find(ck, "embed.weight");
    m.input_w = find(ck, "input_proj.weight");
    m.input_b = find(ck, "input_proj.bias");
    for (int i = 0; i < c.n_layers; ++i) {
        const std::string p = "layers." + std::to_string(i) + ".";
        LayerParams l;
        l.norm_w = find(ck, p + "norm.weight");
        l.norm_b = find(ck, p + "norm.bias");
        l.short_w = find(ck, p + "short_conv.weight");
        l.short_b = find(ck, p + "short_conv.bias");
        l.long_w = find(ck, p + "long_conv.weight");
        l.long_w_rev = find(ck, p + "long_conv.weight_rev");
        l.omega = find(ck, p + "omega");
        l.v_w = find(ck, p + "v_proj.weight");
        l.v_b = find(ck, p + "v_proj.bias");
        l.mx_w = find(ck, p + "mx_proj.weight");
        l.mx_b = find(ck, p + "mx_proj.bias");
        l.qk_gamma = find(ck, p + "qk_gamma");
        l.qk_beta = find(ck, p + "qk_beta");
        l.attn_norm_w = find(ck, p + "attn_norm.weight");
        l.decay = find(ck, p + "decay");
        l.h_w = find(ck, p + "h_proj.weight");
        l.h_b = find(ck, p + "h_proj.bias");
        l.ffn_norm_w = find(ck, p + "ffn_norm.weight");
        l.ffn_norm_b = find(ck, p + "ffn_norm.bias");
        l.fc1_w = find(ck, p + "ffn.fc1.weight");
        l.fc1_b = find(ck, p + "ffn.fc1.bias");
        l.fc2_w = find(ck, p + "ffn.fc2.weight");
        l.fc2_b = find(ck, p + "ffn.fc2.bias");
        if (!l.short_w || !l.long_w || !l.mx_w || !l.h_w || !l.v_w)
            fail(CHELA_ERR_INTERNAL, "bind_params: layer ", i, " is incomplete after validation");
        m.layers.push_back(l);
    }
    m.final_norm_w = find(ck, "final_norm.weight");
    m.final_norm_b = find(ck, "final_norm.bias");
    m.lm_head = c.tie_embeddings ? m.embed : find(ck, "lm_head.weight");
    m.cls_w = find(ck, "classifier.weight");
    m.cls_b = find(ck, "classifier.bias");
    return m;
}

}  // namespace chela
