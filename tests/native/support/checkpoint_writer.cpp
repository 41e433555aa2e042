#include "support/checkpoint_writer.h"

#include "core/tensor.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace chela::test {

namespace {

const char* norm_name(int32_t v) { return v == CHELA_NORM_RMSNORM ? "rmsnorm" : "layernorm"; }
const char* feature_name(int32_t v) {
    switch (v) {
        case CHELA_FEATURE_ELU1: return "elu1";
        case CHELA_FEATURE_RELU: return "relu";
        case CHELA_FEATURE_SILU: return "silu";
        default: return "identity";
    }
}
const char* attn_norm_name(int32_t v) {
    switch (v) {
        case CHELA_ATTN_NORM_NONE: return "none";
        case CHELA_ATTN_NORM_DENOMINATOR: return "denominator";
        default: return "rmsnorm";
    }
}

// Seeded normal values with standard deviation `scale`.
class Filler {
public:
    explicit Filler(uint64_t seed) : rng_(seed) {}
    std::vector<float> normal(size_t n, float scale, float mean = 0.0f) {
        std::normal_distribution<float> dist(mean, scale);
        std::vector<float> v(n);
        for (auto& x : v) x = dist(rng_);
        return v;
    }
    std::vector<float> uniform(size_t n, float lo, float hi) {
        std::uniform_real_distribution<float> dist(lo, hi);
        std::vector<float> v(n);
        for (auto& x : v) x = dist(rng_);
        return v;
    }

private:
    std::mt19937_64 rng_;
};

const char* st_dtype(int32_t dtype) {
    switch (dtype) {
        case CHELA_DTYPE_BF16: return "BF16";
        case CHELA_DTYPE_F16: return "F16";
        default: return "F32";
    }
}

}  // namespace

chela_model_config small_config() {
    chela_model_config c{};
    c.d_model = 16;
    c.z_dim = 8;
    c.v_dim = 12;
    c.n_heads = 1;
    c.n_layers = 2;
    c.short_kernel = 3;
    c.long_kernel = 64;
    c.max_len = 64;
    c.causal = 1;
    c.prenorm = 1;
    c.norm = CHELA_NORM_LAYERNORM;
    c.feature_map = CHELA_FEATURE_IDENTITY;
    c.attn_norm = CHELA_ATTN_NORM_RMSNORM;
    c.attn_scale = 1.0f / std::sqrt(8.0f);
    c.decay = 0;
    c.ffn_dim = 0;
    c.task = CHELA_TASK_LM;
    c.vocab_size = 50;
    c.pooling = CHELA_POOLING_MEAN;
    c.eps = 1e-5f;
    return c;
}

std::string config_json(const chela_model_config& c) {
    std::ostringstream os;
    os.precision(9);
    os << "{\n  \"d_model\": " << c.d_model << ",\n  \"z_dim\": " << c.z_dim << ",\n  \"v_dim\": " << c.v_dim
       << ",\n  \"n_heads\": " << c.n_heads << ",\n  \"n_layers\": " << c.n_layers
       << ",\n  \"short_kernel\": " << c.short_kernel << ",\n  \"long_kernel\": " << c.long_kernel
       << ",\n  \"max_len\": " << c.max_len << ",\n  \"causal\": " << (c.causal ? "true" : "false")
       << ",\n  \"prenorm\": " << (c.prenorm ? "true" : "false") << ",\n  \"norm\": \"" << norm_name(c.norm)
       << "\",\n  \"feature_map\": \"" << feature_name(c.feature_map) << "\",\n  \"attn_norm\": \""
       << attn_norm_name(c.attn_norm) << "\",\n  \"attn_scale\": " << c.attn_scale
       << ",\n  \"decay\": " << (c.decay ? "true" : "false") << ",\n  \"ffn_dim\": " << c.ffn_dim
       << ",\n  \"task\": \"" << (c.task == CHELA_TASK_CLASSIFY ? "classify" : "lm") << "\"";
    if (c.vocab_size) os << ",\n  \"vocab_size\": " << c.vocab_size;
    if (c.input_dim) os << ",\n  \"input_dim\": " << c.input_dim;
    if (c.num_classes) os << ",\n  \"num_classes\": " << c.num_classes;
    os << ",\n  \"pooling\": \"" << (c.pooling == CHELA_POOLING_LAST ? "last" : "mean") << "\""
       << ",\n  \"tie_embeddings\": " << (c.tie_embeddings ? "true" : "false") << ",\n  \"eps\": " << c.eps
       << "\n}\n";
    return os.str();
}

std::vector<TensorData> random_weights(const chela_model_config& c, uint64_t seed, int short_branches) {
    Filler fill(seed);
    std::vector<TensorData> out;
    const int64_t d = c.d_model, e = c.z_dim, f = c.v_dim;
    auto add = [&](const std::string& name, std::vector<int64_t> shape, std::vector<float> values) {
        out.push_back(TensorData{name, std::move(shape), std::move(values), CHELA_DTYPE_F32});
    };
    auto linear = [&](const std::string& name, int64_t o, int64_t i, bool bias = true) {
        add(name + ".weight", {o, i}, fill.normal(static_cast<size_t>(o * i), 1.0f / std::sqrt(static_cast<float>(i))));
        if (bias) add(name + ".bias", {o}, fill.normal(static_cast<size_t>(o), 0.1f));
    };
    auto norm = [&](const std::string& name) {
        add(name + ".weight", {d}, fill.normal(static_cast<size_t>(d), 0.1f, 1.0f));
        if (c.norm == CHELA_NORM_LAYERNORM) add(name + ".bias", {d}, fill.normal(static_cast<size_t>(d), 0.1f));
    };

    if (c.vocab_size) add("embed.weight", {c.vocab_size, d}, fill.normal(static_cast<size_t>(c.vocab_size * d), 1.0f));
    else linear("input_proj", d, c.input_dim);
    for (int i = 0; i < c.n_layers; ++i) {
        const std::string p = "layers." + std::to_string(i) + ".";
        norm(p + "norm");
        if (short_branches <= 1) {
            add(p + "short_conv.weight", {d, c.short_kernel}, fill.normal(static_cast<size_t>(d * c.short_kernel), 0.5f));
            add(p + "short_conv.bias", {d}, fill.normal(static_cast<size_t>(d), 0.1f));
        } else {
            // Branch sizes short_kernel, then smaller by 2 (bidirectional, stays odd) or 1, at least 1.
            for (int j = 0; j < short_branches; ++j) {
                const int step = c.causal ? 1 : 2;
                const int ks = std::max(1, c.short_kernel - j * step);
                const std::string b = p + "short_conv." + std::to_string(j);
                add(b + ".weight", {d, ks}, fill.normal(static_cast<size_t>(d * ks), 0.5f));
                add(b + ".bias", {d}, fill.normal(static_cast<size_t>(d), 0.1f));
            }
        }
        const float lk_scale = 1.0f / std::sqrt(static_cast<float>(c.long_kernel));
        add(p + "long_conv.weight", {d, c.long_kernel}, fill.normal(static_cast<size_t>(d * c.long_kernel), lk_scale));
        if (!c.causal)
            add(p + "long_conv.weight_rev", {d, c.long_kernel}, fill.normal(static_cast<size_t>(d * c.long_kernel), lk_scale));
        add(p + "omega", {d}, fill.normal(static_cast<size_t>(d), 0.5f));
        linear(p + "v_proj", f, d);
        linear(p + "mx_proj", 2 * d + e + f, d);
        add(p + "qk_gamma", {2, e}, fill.normal(static_cast<size_t>(2 * e), 0.3f, 1.0f));
        add(p + "qk_beta", {2, e}, fill.normal(static_cast<size_t>(2 * e), 0.1f));
        if (c.attn_norm == CHELA_ATTN_NORM_RMSNORM)
            add(p + "attn_norm.weight", {f}, fill.normal(static_cast<size_t>(f), 0.1f, 1.0f));
        if (c.decay) add(p + "decay", {c.n_heads}, fill.uniform(static_cast<size_t>(c.n_heads), 0.5f, 1.0f));
        linear(p + "h_proj", d, f);
        if (c.ffn_dim > 0) {
            norm(p + "ffn_norm");
            linear(p + "ffn.fc1", c.ffn_dim, d);
            linear(p + "ffn.fc2", d, c.ffn_dim);
        }
    }
    if (c.prenorm) norm("final_norm");
    if (c.task == CHELA_TASK_LM) {
        if (!c.tie_embeddings) linear("lm_head", c.vocab_size, d, false);
    } else {
        linear("classifier", c.num_classes, d);
    }
    return out;
}

std::vector<uint8_t> safetensors_bytes(const std::vector<TensorData>& tensors) {
    std::ostringstream header;
    header << '{';
    size_t offset = 0;
    std::vector<uint8_t> data;
    for (size_t i = 0; i < tensors.size(); ++i) {
        const TensorData& t = tensors[i];
        const size_t esz = chela_dtype_size(t.dtype);
        const size_t bytes = t.values.size() * esz;
        header << (i ? "," : "") << '"' << t.name << "\":{\"dtype\":\"" << st_dtype(t.dtype) << "\",\"shape\":[";
        for (size_t k = 0; k < t.shape.size(); ++k) header << (k ? "," : "") << t.shape[k];
        header << "],\"data_offsets\":[" << offset << ',' << offset + bytes << "]}";
        data.resize(offset + bytes);
        chela_tensor view{};
        view.data = data.data() + offset;
        view.dtype = t.dtype;
        view.rank = 1;
        view.shape[0] = static_cast<int64_t>(t.values.size());
        from_f32(t.values.data(), view);
        offset += bytes;
    }
    header << '}';
    std::string h = header.str();
    while (h.size() % 8) h += ' ';
    std::vector<uint8_t> out(8);
    uint64_t n = h.size();
    for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(n >> (8 * i));
    out.insert(out.end(), h.begin(), h.end());
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

void write_checkpoint(const std::string& dir, const std::string& config_text,
                      const std::vector<TensorData>& tensors) {
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/config.json", std::ios::binary) << config_text;
    const auto bytes = safetensors_bytes(tensors);
    std::ofstream st(dir + "/model.safetensors", std::ios::binary);
    st.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!st) throw std::runtime_error("write_checkpoint: cannot write " + dir + "/model.safetensors");
}

void write_checkpoint(const std::string& dir, const chela_model_config& cfg,
                      const std::vector<TensorData>& tensors) {
    write_checkpoint(dir, config_json(cfg), tensors);
}

}  // namespace chela::test
