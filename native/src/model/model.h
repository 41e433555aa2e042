// The in-memory model: validated config plus f32 host weights, and per-layer pointers into them.
#pragma once

#include <chela/chela.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace chela {

namespace cuda::model {
struct DeviceModel;  // native/cuda/model/device_model.h (CUDA builds only)
}

// One weight tensor, converted to f32 on load (checkpoints may store f32, bf16 or f16).
struct Weight {
    std::vector<int64_t> shape;
    std::vector<float> data;
};

// What the checkpoint loader produces: the parsed config (defaults applied, validated) and every
// tensor by name, after validation against the config and after merging short-conv branches into
// layers.{i}.short_conv.weight / .bias.
struct Checkpoint {
    chela_model_config config{};
    std::map<std::string, Weight> tensors;
};

// Pointers into Checkpoint::tensors for one CHELA layer (null where the config has no such tensor).
struct LayerParams {
    const float *norm_w = nullptr, *norm_b = nullptr;
    const float *short_w = nullptr, *short_b = nullptr;
    const float *long_w = nullptr, *long_w_rev = nullptr;
    const float *omega = nullptr;
    const float *v_w = nullptr, *v_b = nullptr;
    const float *mx_w = nullptr, *mx_b = nullptr;
    const float *qk_gamma = nullptr, *qk_beta = nullptr;
    const float *attn_norm_w = nullptr;
    const float *decay = nullptr;
    const float *h_w = nullptr, *h_b = nullptr;
    const float *ffn_norm_w = nullptr, *ffn_norm_b = nullptr;
    const float *fc1_w = nullptr, *fc1_b = nullptr, *fc2_w = nullptr, *fc2_b = nullptr;
};

struct ModelParams {
    const float *embed = nullptr;                       // [vocab, d]
    const float *input_w = nullptr, *input_b = nullptr; // [d, input_dim], [d]
    std::vector<LayerParams> layers;
    const float *final_norm_w = nullptr, *final_norm_b = nullptr;
    const float *lm_head = nullptr;                     // [vocab, d] (embed when tied)
    const float *cls_w = nullptr, *cls_b = nullptr;     // [num_classes, d], [num_classes]
};

// Resolves the pointers; the checkpoint must outlive the result.
ModelParams bind_params(const Checkpoint& ckpt);

}  // namespace chela

struct chela_model {
    chela_context* ctx = nullptr;
    chela::Checkpoint ckpt;
    chela::ModelParams params;
    std::vector<std::string> names;  // tensor names in index order for chela_model_tensor_name
    std::atomic<int32_t> live_states{0};  // chela_state objects on this model: destroy waits for 0
    // CUDA-context models: the weights on the device (the host copy above stays for inspection).
    std::shared_ptr<chela::cuda::model::DeviceModel> gpu;
};
