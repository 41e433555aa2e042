#include "support/bad_checkpoints.h"

#include "support/checkpoint_writer.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>

namespace chela::test {

namespace {

chela_model_config base_config() {
    chela_model_config c = small_config();
    c.decay = 1;
    c.ffn_dim = 8;
    c.long_kernel = c.max_len = 16;
    return c;
}

// safetensors bytes from a literal header and a data section.
std::vector<uint8_t> raw(const std::string& header, size_t data_bytes, uint64_t claimed_len = 0) {
    std::vector<uint8_t> out(8);
    const uint64_t n = claimed_len ? claimed_len : header.size();
    for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(n >> (8 * i));
    out.insert(out.end(), header.begin(), header.end());
    for (size_t i = 0; i < data_bytes; ++i) out.push_back(static_cast<uint8_t>(0x3f));  // 0x3f3f3f3f: 0.75f
    return out;
}

SampleCheckpoint from(const std::string& name, const chela_model_config& c, std::vector<TensorData> t,
                      chela_status st, const std::string& needle, const std::string& config_override = "") {
    SampleCheckpoint s;
    s.name = name;
    s.config = config_override.empty() ? config_json(c) : config_override;
    s.weights = safetensors_bytes(t);
    s.status = st;
    s.needle = needle;
    return s;
}

std::string replace(std::string text, const std::string& what, const std::string& with) {
    const size_t at = text.find(what);
    if (at != std::string::npos) text.replace(at, what.size(), with);
    return text;
}

std::vector<TensorData> edit(std::vector<TensorData> t, const std::function<void(std::vector<TensorData>&)>& fn) {
    fn(t);
    return t;
}

TensorData& find(std::vector<TensorData>& t, const std::string& name) {
    for (auto& x : t)
        if (x.name == name) return x;
    return t.front();
}

}  // namespace

std::vector<SampleCheckpoint> bad_checkpoints() {
    const chela_model_config c = base_config();
    const auto w = random_weights(c, 7);
    const std::string cfg = config_json(c);
    const auto F = CHELA_ERR_FORMAT;
    std::vector<SampleCheckpoint> v;
    v.push_back(from("unknown_config_key", c, w, F, "unknown key \"dropout\"", replace(cfg, "{", "{\"dropout\": 0.1,")));
    v.push_back(from("config_wrong_type", c, w, F, "key \"d_model\" must be a number", replace(cfg, "\"d_model\": 16", "\"d_model\": \"16\"")));
    v.push_back(from("config_missing_key", c, w, F, "missing required key \"z_dim\"", replace(cfg, "\"z_dim\": 8,", "")));
    v.push_back(from("config_bad_enum", c, w, F, "\"norm\" = \"batchnorm\"", replace(cfg, "\"layernorm\"", "\"batchnorm\"")));
    v.push_back(from("config_heads_do_not_divide", c, w, F, "not divisible by n_heads", replace(cfg, "\"n_heads\": 1", "\"n_heads\": 3")));
    v.push_back(from("config_not_json", c, w, F, "config.json: invalid JSON", cfg.substr(0, cfg.size() / 2)));
    v.push_back(from("config_not_integer", c, w, F, "key \"n_layers\" must be an integer", replace(cfg, "\"n_layers\": 2", "\"n_layers\": 2.5")));
    v.push_back(from("config_even_bidirectional_kernel", c, w, F, "must be odd",
                     replace(replace(cfg, "\"causal\": true", "\"causal\": false"), "\"short_kernel\": 3", "\"short_kernel\": 4")));
    v.push_back(from("config_denominator_identity", c, w, F, "needs feature_map", replace(cfg, "\"attn_norm\": \"rmsnorm\"", "\"attn_norm\": \"denominator\"")));
    v.push_back(from("config_duplicate_key", c, w, F, "duplicate key \"eps\"", replace(cfg, "{", "{\"eps\": 0.001,")));

    auto raw_case = [&](const std::string& name, std::vector<uint8_t> bytes, const std::string& needle) {
        SampleCheckpoint s;
        s.name = name;
        s.config = cfg;
        s.weights = std::move(bytes);
        s.status = F;
        s.needle = needle;
        v.push_back(s);
    };
    raw_case("weights_shorter_than_header_length", {1, 2, 3}, "shorter than the 8-byte header length");
    raw_case("weights_header_past_end", raw("{}", 0, 1000), "runs past the end of the file");
    raw_case("weights_header_not_json", raw("{\"a\":", 0), "invalid JSON");
    raw_case("weights_header_not_object", raw("[1, 2, 3]", 0), "header must be a JSON object");
    raw_case("weights_header_duplicate_key",
             raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
             "duplicate key \"x\"");
    raw_case("weights_bad_dtype", raw("{\"embed.weight\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8),
             "tensor \"embed.weight\" has dtype \"F64\"");
    raw_case("weights_offsets_out_of_range",
             raw("{\"embed.weight\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8), "outside the data section");
    raw_case("weights_overlapping_offsets",
             raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12),
             "overlap");
    raw_case("weights_size_mismatch", raw("{\"omega\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,12]}}", 12),
             "holds 12 bytes but its shape and dtype need 16");
    raw_case("weights_entry_missing_field", raw("{\"omega\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4),
             "must have exactly dtype, shape and data_offsets");
    raw_case("weights_negative_extent", raw("{\"omega\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4),
             "bad shape extent");
    {
        auto bytes = safetensors_bytes(w);
        bytes.resize(bytes.size() - 40);  // cut inside the data section
        raw_case("weights_truncated_data", bytes, "outside the data section");
    }
    v.push_back(from("tensor_missing", c, edit(w, [](auto& t) { t.erase(t.begin() + 3); }), F, "missing tensor \""));
    v.push_back(from("tensor_extra", c,
                     edit(w, [](auto& t) { t.push_back(TensorData{"layers.0.extra.weight", {2}, {1.0f, 2.0f}}); }), F,
                     "unexpected tensor \"layers.0.extra.weight\""));
    v.push_back(from("tensor_misshaped", c,
                     edit(w, [](auto& t) {
                         auto& x = find(t, "layers.1.v_proj.weight");
                         x.shape = {x.shape[1], x.shape[0]};
                     }),
                     F, "tensor \"layers.1.v_proj.weight\" has shape [16, 12], expected [12, 16]"));
    v.push_back(from("tensor_decay_out_of_range", c,
                     edit(w, [](auto& t) { find(t, "layers.0.decay").values[0] = 1.25f; }), F,
                     "tensor \"layers.0.decay\" holds 1.25, outside (0, 1]"));
    v.push_back(from("tensor_not_finite", c,
                     edit(w, [](auto& t) { find(t, "layers.1.omega").values[2] = std::numeric_limits<float>::infinity(); }),
                     F, "tensor \"layers.1.omega\" holds a non-finite value"));
    {
        chela_model_config b = c;
        b.short_kernel = 5;
        auto wb = random_weights(b, 8, 3);  // branches 5, 4, 3
        b.short_kernel = 7;                 // config disagrees with the largest branch
        v.push_back(from("branches_disagree_with_config", b, wb, F, "largest branch"));
    }
    {
        SampleCheckpoint s = from("no_config_file", c, w, CHELA_ERR_IO, "config.json");
        s.has_config = false;
        v.push_back(s);
        SampleCheckpoint t = from("no_weights_file", c, w, CHELA_ERR_IO, "model.safetensors");
        t.has_weights = false;
        v.push_back(t);
    }
    return v;
}

std::vector<SampleCheckpoint> good_checkpoints() {
    std::vector<SampleCheckpoint> v;
    chela_model_config lm = base_config();
    v.push_back(from("lm_decay_ffn", lm, random_weights(lm, 1), CHELA_OK, ""));
    chela_model_config cls = base_config();
    cls.causal = 0;
    cls.task = CHELA_TASK_CLASSIFY;
    cls.num_classes = 4;
    cls.vocab_size = 0;
    cls.input_dim = 5;
    cls.short_kernel = 5;
    cls.n_heads = 2;
    cls.feature_map = CHELA_FEATURE_ELU1;
    cls.attn_norm = CHELA_ATTN_NORM_DENOMINATOR;
    cls.norm = CHELA_NORM_RMSNORM;
    v.push_back(from("classify_bidirectional_branches", cls, random_weights(cls, 2, 3), CHELA_OK, ""));
    chela_model_config tied = small_config();
    tied.tie_embeddings = 1;
    auto wt = random_weights(tied, 3);
    for (auto& t : wt) t.dtype = CHELA_DTYPE_BF16;
    v.push_back(from("lm_tied_bf16", tied, wt, CHELA_OK, ""));
    return v;
}

void write_sample(const std::string& dir, const SampleCheckpoint& s) {
    std::filesystem::create_directories(dir);
    if (s.has_config) std::ofstream(dir + "/config.json", std::ios::binary) << s.config;
    if (s.has_weights) {
        std::ofstream out(dir + "/model.safetensors", std::ios::binary);
        out.write(reinterpret_cast<const char*>(s.weights.data()), static_cast<std::streamsize>(s.weights.size()));
    }
}

std::vector<uint8_t> fuzz_input(const SampleCheckpoint& s) {
    std::vector<uint8_t> out(4);
    const uint32_t n = static_cast<uint32_t>(s.config.size());
    for (int i = 0; i < 4; ++i) out[i] = static_cast<uint8_t>(n >> (8 * i));
    out.insert(out.end(), s.config.begin(), s.config.end());
    out.insert(out.end(), s.weights.begin(), s.weights.end());
    return out;
}

}  // namespace chela::test
