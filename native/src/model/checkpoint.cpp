// config.json and model.safetensors, validated strictly against docs/spec/chela.md.
#include "model/checkpoint.h"

#include "core/error.h"
#include "core/tensor.h"
#include "cpu/short_long_conv.h"
#include "model/json.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace chela {

namespace {

constexpr int64_t kMaxDim = int64_t{1} << 24;           // any single config dimension
constexpr int64_t kMaxElements = int64_t{1} << 34;      // any single tensor
constexpr size_t kMaxConfigBytes = 1 << 20;
constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;  // as the safetensors reference reader

// ---------------------------------------------------------------- config.json

using json::Value;

const Value& expect(const Value& v, Value::Kind kind, const std::string& key) {
    if (v.kind != kind) {
        Value probe;
        probe.kind = kind;
        fail(CHELA_ERR_FORMAT, "config.json: key \"", key, "\" must be a ", probe.kind_name(), ", got ", v.kind_name());
    }
    return v;
}

int32_t get_int(const Value& v, const std::string& key, int64_t lo, int64_t hi) {
    expect(v, Value::Kind::Number, key);
    if (!v.integral) fail(CHELA_ERR_FORMAT, "config.json: key \"", key, "\" must be an integer, got ", v.number);
    if (v.integer < lo || v.integer > hi)
        fail(CHELA_ERR_FORMAT, "config.json: key \"", key, "\" = ", v.integer, " is outside [", lo, ", ", hi, "]");
    return static_cast<int32_t>(v.integer);
}

int32_t get_enum(const Value& v, const std::string& key, std::initializer_list<const char*> names) {
    expect(v, Value::Kind::String, key);
    int32_t i = 0;
    std::string all;
    for (const char* n : names) {
        if (v.string == n) return i;
        all += (i ? ", \"" : "\"") + std::string(n) + "\"";
        ++i;
    }
    fail(CHELA_ERR_FORMAT, "config.json: key \"", key, "\" = \"", v.string, "\" is not one of ", all);
}

}  // namespace

chela_model_config parse_config(std::string_view text) {
    const Value root = json::parse(text, "config.json");
    if (root.kind != Value::Kind::Object) fail(CHELA_ERR_FORMAT, "config.json: top level must be an object");
    static const std::set<std::string> known = {
        "d_model", "z_dim", "v_dim", "n_heads", "n_layers", "short_kernel", "long_kernel", "max_len",
        "causal", "prenorm", "norm", "feature_map", "attn_norm", "attn_scale", "decay", "ffn_dim", "task",
        "vocab_size", "input_dim", "num_classes", "pooling", "tie_embeddings", "eps"};
    for (const auto& kv : root.object)
        if (!known.count(kv.first)) fail(CHELA_ERR_FORMAT, "config.json: unknown key \"", kv.first, "\"");

    auto has = [&](const char* k) { return root.find(k) != nullptr; };
    auto req = [&](const char* k) -> const Value& {
        const Value* v = root.find(k);
        if (!v) fail(CHELA_ERR_FORMAT, "config.json: missing required key \"", k, "\"");
        return *v;
    };
    auto boolean = [&](const char* k, bool def) {
        const Value* v = root.find(k);
        return v ? expect(*v, Value::Kind::Bool, k).boolean : def;
    };

    chela_model_config c{};
    c.d_model = get_int(req("d_model"), "d_model", 1, kMaxDim);
    c.z_dim = get_int(req("z_dim"), "z_dim", 1, kMaxDim);
    c.v_dim = get_int(req("v_dim"), "v_dim", 1, kMaxDim);
    c.n_layers = get_int(req("n_layers"), "n_layers", 1, 4096);
    c.n_heads = has("n_heads") ? get_int(req("n_heads"), "n_heads", 1, kMaxDim) : 1;
    c.short_kernel = has("short_kernel") ? get_int(req("short_kernel"), "short_kernel", 1, 15) : 3;
    c.max_len = has("max_len") ? get_int(req("max_len"), "max_len", 1, kMaxDim) : 0;
    if (has("long_kernel")) c.long_kernel = get_int(req("long_kernel"), "long_kernel", 1, kMaxDim);
    else if (c.max_len > 0) c.long_kernel = c.max_len;
    else fail(CHELA_ERR_FORMAT, "config.json: missing required key \"long_kernel\" (or \"max_len\", its default)");
    if (c.max_len == 0) c.max_len = c.long_kernel;
    c.causal = boolean("causal", true);
    c.prenorm = boolean("prenorm", true);
    c.norm = has("norm") ? get_enum(req("norm"), "norm", {"layernorm", "rmsnorm"}) : CHELA_NORM_LAYERNORM;
    c.feature_map = has("feature_map") ? get_enum(req("feature_map"), "feature_map", {"identity", "elu1", "relu", "silu"})
                                       : CHELA_FEATURE_IDENTITY;
    c.attn_norm = has("attn_norm") ? get_enum(req("attn_norm"), "attn_norm", {"rmsnorm", "none", "denominator"})
                                   : CHELA_ATTN_NORM_RMSNORM;
    c.decay = boolean("decay", false);
    c.ffn_dim = has("ffn_dim") ? get_int(req("ffn_dim"), "ffn_dim", 0, kMaxDim) : 0;
    c.task = has("task") ? get_enum(req("task"), "task", {"lm", "classify"}) : CHELA_TASK_LM;
    c.vocab_size = has("vocab_size") ? get_int(req("vocab_size"), "vocab_size", 1, kMaxDim) : 0;
    c.input_dim = has("input_dim") ? get_int(req("input_dim"), "input_dim", 1, kMaxDim) : 0;
    c.num_classes = has("num_classes") ? get_int(req("num_classes"), "num_classes", 1, kMaxDim) : 0;
    c.pooling = has("pooling") ? get_enum(req("pooling"), "pooling", {"mean", "last"}) : CHELA_POOLING_MEAN;
    c.tie_embeddings = boolean("tie_embeddings", false);
    auto positive_float = [&](const char* k, double def) {
        const Value* v = root.find(k);
        if (!v) return static_cast<float>(def);
        const double x = expect(*v, Value::Kind::Number, k).number;
        if (!(x > 0) || !std::isfinite(static_cast<float>(x)))
            fail(CHELA_ERR_FORMAT, "config.json: key \"", k, "\" = ", x, " must be a finite number > 0");
        return static_cast<float>(x);
    };
    c.eps = positive_float("eps", 1e-5);

    if (c.z_dim % c.n_heads != 0)
        fail(CHELA_ERR_FORMAT, "config.json: key \"z_dim\" = ", c.z_dim, " is not divisible by n_heads = ", c.n_heads);
    if (c.v_dim % c.n_heads != 0)
        fail(CHELA_ERR_FORMAT, "config.json: key \"v_dim\" = ", c.v_dim, " is not divisible by n_heads = ", c.n_heads);
    c.attn_scale = positive_float("attn_scale", 1.0 / std::sqrt(static_cast<double>(c.z_dim / c.n_heads)));
    if (!c.causal && c.short_kernel % 2 == 0)
        fail(CHELA_ERR_FORMAT, "config.json: key \"short_kernel\" = ", c.short_kernel,
             " must be odd for a bidirectional model (causal = false)");
    if ((c.vocab_size > 0) == (c.input_dim > 0))
        fail(CHELA_ERR_FORMAT, "config.json: exactly one of \"vocab_size\" (token inputs) and \"input_dim\" (continuous inputs) must be set");
    if (c.task == CHELA_TASK_LM && c.vocab_size == 0)
        fail(CHELA_ERR_FORMAT, "config.json: key \"task\" = \"lm\" needs \"vocab_size\"");
    if (c.task == CHELA_TASK_CLASSIFY && c.num_classes == 0)
        fail(CHELA_ERR_FORMAT, "config.json: key \"task\" = \"classify\" needs \"num_classes\"");
    if (c.task == CHELA_TASK_LM && c.num_classes != 0)
        fail(CHELA_ERR_FORMAT, "config.json: key \"num_classes\" is only for task \"classify\"");
    if (c.tie_embeddings && c.task != CHELA_TASK_LM)
        fail(CHELA_ERR_FORMAT, "config.json: key \"tie_embeddings\" needs task \"lm\"");
    if (c.attn_norm == CHELA_ATTN_NORM_DENOMINATOR && c.feature_map != CHELA_FEATURE_ELU1 &&
        c.feature_map != CHELA_FEATURE_RELU)
        fail(CHELA_ERR_FORMAT, "config.json: key \"attn_norm\" = \"denominator\" needs feature_map \"elu1\" or \"relu\" (non-negative)");
    return c;
}

namespace {

// ---------------------------------------------------------------- safetensors

struct RawTensor {
    int32_t dtype;
    std::vector<int64_t> shape;
    uint64_t begin, end;
};

int32_t st_dtype(const std::string& name, const std::string& tensor) {
    if (name == "F32") return CHELA_DTYPE_F32;
    if (name == "BF16") return CHELA_DTYPE_BF16;
    if (name == "F16") return CHELA_DTYPE_F16;
    fail(CHELA_ERR_FORMAT, "model.safetensors: tensor \"", tensor, "\" has dtype \"", name,
         "\"; only F32, BF16 and F16 are accepted");
}

// Parses and checks the header: every tensor inside the data section, sizes consistent, no overlap.
std::map<std::string, RawTensor> read_header(const uint8_t* data, size_t size, size_t* data_start) {
    if (size < 8) fail(CHELA_ERR_FORMAT, "model.safetensors: file is ", size, " bytes, shorter than the 8-byte header length");
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(data[i]) << (8 * i);
    if (n > size - 8)
        fail(CHELA_ERR_FORMAT, "model.safetensors: header length ", n, " runs past the end of the file (", size, " bytes)");
    if (n > kMaxHeaderBytes) fail(CHELA_ERR_FORMAT, "model.safetensors: header length ", n, " is over the 100 MB limit");
    const json::Value root =
        json::parse(std::string_view(reinterpret_cast<const char*>(data + 8), static_cast<size_t>(n)), "model.safetensors header");
    if (root.kind != json::Value::Kind::Object) fail(CHELA_ERR_FORMAT, "model.safetensors: header must be a JSON object");
    *data_start = 8 + static_cast<size_t>(n);
    const uint64_t data_size = size - *data_start;

    std::map<std::string, RawTensor> out;
    for (const auto& kv : root.object) {
        const std::string& name = kv.first;
        const json::Value& e = kv.second;
        if (name == "__metadata__") {
            if (e.kind != json::Value::Kind::Object) fail(CHELA_ERR_FORMAT, "model.safetensors: __metadata__ must be an object");
            for (const auto& m : e.object)
                if (m.second.kind != json::Value::Kind::String)
                    fail(CHELA_ERR_FORMAT, "model.safetensors: __metadata__ value \"", m.first, "\" must be a string");
            continue;
        }
        if (e.kind != json::Value::Kind::Object)
            fail(CHELA_ERR_FORMAT, "model.safetensors: tensor \"", name, "\" entry must be an object");
        const json::Value* dt = e.find("dtype");
        const json::Value* sh = e.find("shape");
        const json::Value* off = e.find("data_offsets");
        if (!dt || !sh || !off || e.object.size() != 3)
            fail(CHELA_ERR_FORMAT, "model.safetensors: tensor \"", name, "\" must have exactly dtype, shape and data_offsets");
        if (dt->kind != json::Value::Kind::String) fail(CHELA_ERR_FORMAT, "model.safetensors: tensor \"", name, "\" dtype must be a string");
        RawTensor t;
        t.dtype = st_dtype(dt->string, name);
        if (sh->kind != json::Value::Kind::Array || sh->array.size() > CHELA_MAX_RANK)
            fail(CHELA_ERR_FORMAT, "model.safetensors: tensor \"", name, "\" shape must be an array of at most ", CHELA_MAX_RANK, " extents");
        int64_t elements = 1;
        for (const json::Value& s : sh->array) {
            if (s.kind != json::Value::Kind::Number || !s.integral || s.integer < 0 || s.integer > kMaxElements)
                fail(CHELA_ERR_FORMAT, "model.safetensors: tensor \"", name, "\" has a bad shape extent");
            t.shape.push_back(s.integer);
            if (s.integer != 0 && elements > kMaxElements / s.integer)
                fail(CHELA_ERR_FORMAT, "model.safetensors: tensor \"", name, "\" has too many elements");
            elements *= s.integer;
        }
        if (off->kind != json::Value::Kind::Array || off->array.size() != 2)
            fail(CHELA_ERR_FORMAT, "model.safetensors: tensor \"", name, "\" data_offsets must be [begin, end]");
        for (const json::Value& o : off->array)
            if (o.kind != json::Value::Kind::Number || !o.integral || o.integer < 0)
                fail(CHELA_ERR_FORMAT, "model.safetensors: tensor \"", name, "\" data_offsets must be non-negative integers");
        t.begin = static_cast<uint64_t>(off->array[0].integer);
        t.end = static_cast<uint64_t>(off->array[1].integer);
        if (t.begin > t.end || t.end > data_size)
            fail(CHELA_ERR_FORMAT, "model.safetensors: tensor \"", name, "\" data_offsets [", t.begin, ", ", t.end,
                 "] are outside the data section (", data_size, " bytes)");
        const uint64_t want = static_cast<uint64_t>(elements) * chela_dtype_size(t.dtype);
        if (t.end - t.begin != want)
            fail(CHELA_ERR_FORMAT, "model.safetensors: tensor \"", name, "\" holds ", t.end - t.begin,
                 " bytes but its shape and dtype need ", want);
        out.emplace(name, std::move(t));
    }
    // No two tensors may share bytes.
    std::vector<std::pair<uint64_t, const std::string*>> order;
    for (const auto& kv : out)
        if (kv.second.end > kv.second.begin) order.emplace_back(kv.second.begin, &kv.first);
    std::sort(order.begin(), order.end());
    for (size_t i = 1; i < order.size(); ++i) {
        const RawTensor& prev = out.at(*order[i - 1].second);
        if (order[i].first < prev.end)
            fail(CHELA_ERR_FORMAT, "model.safetensors: tensors \"", *order[i - 1].second, "\" and \"", *order[i].second,
                 "\" overlap");
    }
    return out;
}

std::string shape_str(const std::vector<int64_t>& s) {
    std::ostringstream os;
    os << '[';
    for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
    os << ']';
    return os.str();
}

// The tensors a config needs, by name and shape (short-conv handled separately).
std::map<std::string, std::vector<int64_t>> expected_tensors(const chela_model_config& c) {
    std::map<std::string, std::vector<int64_t>> m;
    const int64_t d = c.d_model, e = c.z_dim, f = c.v_dim;
    const bool ln = c.norm == CHELA_NORM_LAYERNORM;
    auto norm = [&](const std::string& p) {
        m[p + ".weight"] = {d};
        if (ln) m[p + ".bias"] = {d};
    };
    if (c.vocab_size) m["embed.weight"] = {c.vocab_size, d};
    else {
        m["input_proj.weight"] = {d, c.input_dim};
        m["input_proj.bias"] = {d};
    }
    for (int i = 0; i < c.n_layers; ++i) {
        const std::string p = "layers." + std::to_string(i) + ".";
        norm(p + "norm");
        m[p + "long_conv.weight"] = {d, c.long_kernel};
        if (!c.causal) m[p + "long_conv.weight_rev"] = {d, c.long_kernel};
        m[p + "omega"] = {d};
        m[p + "v_proj.weight"] = {f, d};
        m[p + "v_proj.bias"] = {f};
        m[p + "mx_proj.weight"] = {2 * d + e + f, d};
        m[p + "mx_proj.bias"] = {2 * d + e + f};
        m[p + "qk_gamma"] = {2, e};
        m[p + "qk_beta"] = {2, e};
        if (c.attn_norm == CHELA_ATTN_NORM_RMSNORM) m[p + "attn_norm.weight"] = {f};
        if (c.decay) m[p + "decay"] = {c.n_heads};
        m[p + "h_proj.weight"] = {d, f};
        m[p + "h_proj.bias"] = {d};
        if (c.ffn_dim > 0) {
            norm(p + "ffn_norm");
            m[p + "ffn.fc1.weight"] = {c.ffn_dim, d};
            m[p + "ffn.fc1.bias"] = {c.ffn_dim};
            m[p + "ffn.fc2.weight"] = {d, c.ffn_dim};
            m[p + "ffn.fc2.bias"] = {d};
        }
    }
    if (c.prenorm) norm("final_norm");
    if (c.task == CHELA_TASK_LM) {
        if (!c.tie_embeddings) m["lm_head.weight"] = {c.vocab_size, d};
    } else {
        m["classifier.weight"] = {c.num_classes, d};
        m["classifier.bias"] = {c.num_classes};
    }
    return m;
}

Weight convert(const uint8_t* data, const RawTensor& r) {
    Weight w;
    w.shape = r.shape;
    int64_t n = 1;
    for (int64_t s : r.shape) n *= s;
    w.data.resize(static_cast<size_t>(n));
    chela_tensor view{};
    view.data = const_cast<uint8_t*>(data + r.begin);
    view.dtype = r.dtype;
    view.rank = 1;
    view.shape[0] = n;
    // The mapped bytes may be unaligned for f32: copy through memcpy-based conversion.
    if (r.dtype == CHELA_DTYPE_F32) std::memcpy(w.data.data(), data + r.begin, static_cast<size_t>(n) * 4);
    else {
        std::vector<uint16_t> tmp(static_cast<size_t>(n));
        std::memcpy(tmp.data(), data + r.begin, static_cast<size_t>(n) * 2);
        view.data = tmp.data();
        to_f32(view, w.data.data());
    }
    return w;
}

// Collects layers.i.short_conv weights: one kernel, or branches short_conv.{j} merged into one.
void load_short_conv(const chela_model_config& c, int layer, const uint8_t* data,
                     const std::map<std::string, RawTensor>& raw, std::set<std::string>& used, Checkpoint& out) {
    const std::string p = "layers." + std::to_string(layer) + ".short_conv";
    const int64_t d = c.d_model;
    auto get = [&](const std::string& name, const std::vector<int64_t>* want) -> Weight {
        auto it = raw.find(name);
        if (it == raw.end()) fail(CHELA_ERR_FORMAT, "model.safetensors: missing tensor \"", name, "\"");
        if (want && it->second.shape != *want)
            fail(CHELA_ERR_FORMAT, "model.safetensors: tensor \"", name, "\" has shape ", shape_str(it->second.shape),
                 ", expected ", shape_str(*want));
        used.insert(name);
        return convert(data, it->second);
    };
    const std::vector<int64_t> bias_shape = {d};
    if (raw.count(p + ".weight") || !raw.count(p + ".0.weight")) {
        const std::vector<int64_t> ws = {d, c.short_kernel};
        out.tensors[p + ".weight"] = get(p + ".weight", &ws);
        out.tensors[p + ".bias"] = get(p + ".bias", &bias_shape);
        return;
    }
    std::vector<Weight> ws, bs;
    std::vector<int> sizes;
    for (int j = 0; raw.count(p + "." + std::to_string(j) + ".weight"); ++j) {
        const std::string b = p + "." + std::to_string(j);
        const RawTensor& r = raw.at(b + ".weight");
        if (r.shape.size() != 2 || r.shape[0] != d || r.shape[1] < 1 || r.shape[1] > 15 || (!c.causal && r.shape[1] % 2 == 0))
            fail(CHELA_ERR_FORMAT, "model.safetensors: tensor \"", b, ".weight\" has shape ", shape_str(r.shape),
                 ", expected [", d, ", k] with 1 <= k <= 15", c.causal ? "" : " and k odd");
        ws.push_back(get(b + ".weight", nullptr));
        bs.push_back(get(b + ".bias", &bias_shape));
        sizes.push_back(static_cast<int>(r.shape[1]));
    }
    const int largest = *std::max_element(sizes.begin(), sizes.end());
    if (largest != c.short_kernel)
        fail(CHELA_ERR_FORMAT, "model.safetensors: the largest branch of \"", p, "\" has size ", largest,
             " but config short_kernel is ", c.short_kernel);
    std::vector<const float*> wp, bp;
    for (size_t i = 0; i < ws.size(); ++i) {
        wp.push_back(ws[i].data.data());
        bp.push_back(bs[i].data.data());
    }
    Weight mw, mb;
    mw.shape = {d, largest};
    mw.data.resize(static_cast<size_t>(d * largest));
    mb.shape = {d};
    mb.data.resize(static_cast<size_t>(d));
    cpu::merge_short_kernels(d, wp, sizes, bp, c.causal != 0, mw.data.data(), mb.data.data());
    out.tensors[p + ".weight"] = std::move(mw);
    out.tensors[p + ".bias"] = std::move(mb);
}

}  // namespace

Checkpoint load_checkpoint_from_memory(std::string_view config_json, const uint8_t* data, size_t size) {
    Checkpoint ck;
    ck.config = parse_config(config_json);
    const chela_model_config& c = ck.config;
    size_t data_start = 0;
    const auto raw = read_header(data, size, &data_start);
    const uint8_t* body = data + data_start;

    std::set<std::string> used;
    for (const auto& kv : expected_tensors(c)) {
        auto it = raw.find(kv.first);
        if (it == raw.end()) fail(CHELA_ERR_FORMAT, "model.safetensors: missing tensor \"", kv.first, "\"");
        if (it->second.shape != kv.second)
            fail(CHELA_ERR_FORMAT, "model.safetensors: tensor \"", kv.first, "\" has shape ", shape_str(it->second.shape),
                 ", expected ", shape_str(kv.second));
        used.insert(kv.first);
        ck.tensors[kv.first] = convert(body, it->second);
    }
    for (int i = 0; i < c.n_layers; ++i) load_short_conv(c, i, body, raw, used, ck);
    for (const auto& kv : raw)
        if (!used.count(kv.first))
            fail(CHELA_ERR_FORMAT, "model.safetensors: unexpected tensor \"", kv.first, "\" (not part of this config)");
    for (const auto& kv : ck.tensors)
        for (float x : kv.second.data)
            if (!std::isfinite(x)) fail(CHELA_ERR_FORMAT, "model.safetensors: tensor \"", kv.first, "\" holds a non-finite value");
    if (c.decay)
        for (int i = 0; i < c.n_layers; ++i) {
            const std::string name = "layers." + std::to_string(i) + ".decay";
            for (float x : ck.tensors.at(name).data)
                if (!(x > 0.0f && x <= 1.0f))
                    fail(CHELA_ERR_FORMAT, "model.safetensors: tensor \"", name, "\" holds ", x, ", outside (0, 1]");
        }
    return ck;
}

namespace {

// A read-only memory map of a whole file, unmapped on scope exit.
class MappedFile {
public:
    explicit MappedFile(const std::string& path) {
        fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd_ < 0) fail(CHELA_ERR_IO, "cannot open ", path, ": ", std::strerror(errno));
        struct stat st {};
        if (::fstat(fd_, &st) != 0) fail(CHELA_ERR_IO, "cannot stat ", path, ": ", std::strerror(errno));
        if (!S_ISREG(st.st_mode)) fail(CHELA_ERR_IO, path, " is not a regular file");
        size_ = static_cast<size_t>(st.st_size);
        if (size_ > 0) {
            void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
            if (p == MAP_FAILED) fail(CHELA_ERR_IO, "cannot map ", path, ": ", std::strerror(errno));
            data_ = static_cast<const uint8_t*>(p);
        }
    }
    ~MappedFile() {
        if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
        if (fd_ >= 0) ::close(fd_);
    }
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    const uint8_t* data() const { return data_ ? data_ : reinterpret_cast<const uint8_t*>(""); }
    size_t size() const { return size_; }

private:
    int fd_ = -1;
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(CHELA_ERR_IO, "cannot open ", path, ": ", std::strerror(errno));
    std::string text;
    char buf[4096];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        text.append(buf, static_cast<size_t>(in.gcount()));
        if (text.size() > kMaxConfigBytes) fail(CHELA_ERR_FORMAT, path, " is larger than 1 MiB");
    }
    return text;
}

}  // namespace

Checkpoint load_checkpoint(const std::string& dir) {
    const std::string config = read_text(dir + "/config.json");
    const MappedFile st(dir + "/model.safetensors");
    return load_checkpoint_from_memory(config, st.data(), st.size());
}

}  // namespace chela
