// Upload and forward of DeviceModel: the CUDA counterpart of model/forward.cpp, composed of the
// GEMMs (gemm.h), row kernels (layer_kernels.h), the CUDA short-long convolution and the tiled
// linear attention kernel. Every intermediate lives in one stream-ordered scratch allocation per
// call (StreamBuffer); the device's memory pool keeps it cached between calls.
#include "device_model.h"

#include "gemm.h"
#include "layer_kernels.h"

#include "core/error.h"
#include "cuda/short_long_conv.h"
#include "cuda/stream_buffer.cuh"
#include "cuda/tiled_linear_attention.h"

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <vector>

namespace chela::cuda::model {

namespace {

void check(cudaError_t err, const char* what) {
    if (err == cudaSuccess) return;
    (void)cudaGetLastError();
    if (err == cudaErrorMemoryAllocation)
        fail(CHELA_ERR_OUT_OF_MEMORY, "model (CUDA): ", what, ": out of device memory");
    fail(CHELA_ERR_DEVICE, "model (CUDA): ", what, ": ", cudaGetErrorName(err), ": ", cudaGetErrorString(err));
}

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// Hands out 256-byte aligned slices from `base`; with a null base it only counts the bytes, so the
// same layout code sizes the scratch and then carves it.
class Carver {
public:
    explicit Carver(char* base) : base_(base) {}
    void* take(size_t bytes) {
        void* p = base_ != nullptr ? base_ + used_ : nullptr;
        used_ += static_cast<size_t>(round_up(static_cast<int64_t>(bytes ? bytes : 1), 256));
        return p;
    }
    size_t used() const { return used_; }

private:
    char* base_;
    size_t used_ = 0;
};

// The attention layout of every layer of this model (weights differ, shapes do not).
AttentionLayout layout_of(const chela_model_config& cfg, int64_t B, int64_t L) {
    AttentionLayout a;
    a.B = B;
    a.L = L;
    a.d = cfg.d_model;
    a.e = cfg.z_dim;
    a.f = cfg.v_dim;
    a.H = cfg.n_heads;
    a.dk = static_cast<int>(cfg.z_dim / cfg.n_heads);
    a.dv = static_cast<int>(cfg.v_dim / cfg.n_heads);
    a.dkp = static_cast<int>(round_up(a.dk, 8));
    const bool den = cfg.attn_norm == CHELA_ATTN_NORM_DENOMINATOR;
    a.dvp = static_cast<int>(round_up(a.dv + (den ? 1 : 0), 8));
    a.feature_map = cfg.feature_map;
    a.attn_norm = cfg.attn_norm;
    a.bidirectional = cfg.causal == 0;
    a.scale = cfg.attn_scale;
    a.eps = cfg.eps;
    a.p_width = 2 * a.d + a.e + a.f;
    return a;
}

// Buffers of one layer's forward over rows = B * L positions: fp16 for what only feeds GEMMs, the
// attention and the gates (P, the widest, is read by three kernels: fp16 halves that traffic), f32
// for what is added to the residual stream.
struct LayerBuffers {
    void *xn, *m, *v, *p, *orr, *ffn_in, *ffn_mid;  // fp16
    float* hd;                                        // f32
    void *q, *k, *vv, *q_rev, *k_rev, *v_rev;    // fp16, padded heads
    float *o, *o_rev;                             // f32 attention kernel output, padded heads
};

// V as the GEMM writes it ([rows, f] fp16) is already the attention kernel's padded value layout
// when the heads need no padding and no denominator column: then vv is v itself, not a copy
// (attention_inputs skips it: 0.5 GB less traffic per layer at 16384 x 4).
bool v_is_padded(const AttentionLayout& a) { return a.dvp == a.dv && a.attn_norm != CHELA_ATTN_NORM_DENOMINATOR; }

LayerBuffers carve_layer(Carver& c, const chela_model_config& cfg, const AttentionLayout& a) {
    const size_t rows = size_t(a.B * a.L), h2 = 2, f4 = sizeof(float);
    const size_t qk = rows * a.H * a.dkp * h2, vb = rows * a.H * a.dvp * h2, ob = rows * a.H * a.dvp * f4;
    const bool bi = a.bidirectional;
    LayerBuffers b{};
    b.xn = c.take(rows * a.d * h2);
    b.m = c.take(rows * a.d * h2);
    b.v = c.take(rows * a.f * h2);
    b.orr = c.take(rows * a.f * h2);
    b.ffn_in = cfg.ffn_dim > 0 ? c.take(rows * a.d * h2) : nullptr;
    b.ffn_mid = cfg.ffn_dim > 0 ? c.take(rows * cfg.ffn_dim * h2) : nullptr;
    b.p = c.take(rows * a.p_width * h2);
    b.hd = static_cast<float*>(c.take(rows * a.d * f4));
    b.q = c.take(qk);
    b.k = c.take(qk);
    b.vv = v_is_padded(a) ? b.v : c.take(vb);
    b.o = static_cast<float*>(c.take(ob));
    if (bi) {
        b.q_rev = c.take(qk);
        b.k_rev = c.take(qk);
        b.v_rev = c.take(vb);
        b.o_rev = static_cast<float*>(c.take(ob));
    }
    return b;
}

// The fp16 copy of a weight (DeviceModel::half holds them at the f32 pointers' places).
const void* h16(const float* p) { return p; }

void apply_norm(cudaStream_t s, const chela_model_config& cfg, int64_t rows, const float* x, const float* w,
                const float* b, void* y, bool y_f16) {
    norm_rows(s, rows, cfg.d_model, x, w, b, cfg.eps, cfg.norm == CHELA_NORM_RMSNORM, y, y_f16);
}

// The causal tensor-core kernel over the padded fp16 layout, fp32 output (no output rounding),
// attn_norm left to attention_output.
void attention_pass(cudaStream_t s, const AttentionLayout& a, const float* decay, const void* q,
                    const void* k, const void* v, void* o) {
    tiled::LinearAttentionParams tp;
    tp.B = a.B;
    tp.L = a.L;
    tp.e = int64_t(a.H) * a.dkp;
    tp.f = int64_t(a.H) * a.dvp;
    tp.H = a.H;
    tp.causal = true;
    tp.feature_map = CHELA_FEATURE_IDENTITY;  // applied by attention_inputs
    tp.attn_norm = CHELA_ATTN_NORM_NONE;
    tp.scale = a.scale;
    tp.eps = a.eps;
    tp.decay = decay;
    tp.dtype = CHELA_DTYPE_F16;
    tp.out_dtype = CHELA_DTYPE_F32;
    tiled::linear_attention(tp, q, k, v, nullptr, nullptr, o, nullptr, nullptr, nullptr, 0, s);
}

// Spec "One CHELA layer", steps 1-6, on the device: x -> y [rows, d] (f32). `lp` holds the f32
// weights, `hp` the same fields pointing at their fp16 copies (the GEMM operands).
void run_layer(const DeviceModel& dm, cudaStream_t s, const chela_model_config& cfg, int layer,
               const AttentionLayout& a, const LayerBuffers& b, const float* x, float* y) {
    const LayerParams& lp = dm.params.layers[size_t(layer)];
    const LayerParams& hp = dm.half.layers[size_t(layer)];
    const int64_t rows = a.B * a.L, d = cfg.d_model;
    if (cfg.prenorm)
        apply_norm(s, cfg, rows, x, lp.norm_w, lp.norm_b, b.xn, true);
    else
        to_f16(s, rows * d, x, b.xn);
    cpu::ShortLongConvParams cp;
    cp.B = a.B;
    cp.L = a.L;
    cp.d = d;
    cp.ks = cfg.short_kernel;
    cp.Lk = cfg.long_kernel;
    cp.causal = cfg.causal != 0;
    ConvTensors ct;
    ct.x = b.xn;
    ct.short_w = lp.short_w;
    ct.short_b = lp.short_b;
    ct.long_w = lp.long_w;
    ct.long_w_rev = cfg.causal ? nullptr : lp.long_w_rev;
    ct.omega = lp.omega;
    ct.out = b.m;
    ct.dtype = CHELA_DTYPE_F16;  // x and out; the convolution computes in fp32
    for (int32_t& wd : ct.w_dtypes) wd = CHELA_DTYPE_F32;
    short_long_conv(dm.device, s, cp, ct, ConvPath::kAuto, dm.spectra.get(), layer);

    linear_f16(s, rows, d, cfg.v_dim, b.xn, h16(hp.v_w), h16(hp.v_b), b.v, true, Activation::kSilu);
    linear_f16(s, rows, d, a.p_width, b.m, h16(hp.mx_w), h16(hp.mx_b), b.p, true, Activation::kNone);
    attention_inputs(s, a, b.p, b.v, lp.qk_gamma, lp.qk_beta, b.q, b.k, v_is_padded(a) ? nullptr : b.vv, b.q_rev,
                     b.k_rev, b.v_rev);
    const float* decay = cfg.decay ? lp.decay : nullptr;
    attention_pass(s, a, decay, b.q, b.k, b.vv, b.o);
    if (a.bidirectional) attention_pass(s, a, decay, b.q_rev, b.k_rev, b.v_rev, b.o_rev);
    attention_output(s, a, b.o, b.o_rev, b.q, b.k, b.vv, b.p, lp.attn_norm_w, b.orr);
    linear_f16(s, rows, cfg.v_dim, d, b.orr, h16(hp.h_w), lp.h_b, b.hd, false, Activation::kNone);
    gated_residual(s, rows, d, a.p_width, b.p, b.hd, x, y);
    if (!cfg.prenorm) apply_norm(s, cfg, rows, y, lp.norm_w, lp.norm_b, y, false);

    if (cfg.ffn_dim > 0) {
        // Pre-norm: y += FFN(Norm(y)). Post-norm: y = Norm(y + FFN(y)). hd holds FFN's output.
        if (cfg.prenorm)
            apply_norm(s, cfg, rows, y, lp.ffn_norm_w, lp.ffn_norm_b, b.ffn_in, true);
        else
            to_f16(s, rows * d, y, b.ffn_in);
        linear_f16(s, rows, d, cfg.ffn_dim, b.ffn_in, h16(hp.fc1_w), h16(hp.fc1_b), b.ffn_mid, true,
                   Activation::kSilu);
        linear_f16(s, rows, cfg.ffn_dim, d, b.ffn_mid, h16(hp.fc2_w), lp.fc2_b, b.hd, false, Activation::kNone);
        if (cfg.prenorm) {
            add_into(s, rows * d, b.hd, y);
        } else {
            add_into(s, rows * d, y, b.hd);
            apply_norm(s, cfg, rows, b.hd, lp.ffn_norm_w, lp.ffn_norm_b, y, false);
        }
    }
}

// Keep freed scratch cached in the device's pool between calls instead of returning it to the
// driver at every synchronisation (the default threshold is 0).
void keep_pool_memory(int device) {
    cudaMemPool_t pool = nullptr;
    check(cudaDeviceGetDefaultMemPool(&pool, device), "cudaDeviceGetDefaultMemPool");
    uint64_t keep = UINT64_MAX;
    check(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep), "cudaMemPoolSetAttribute");
}

}  // namespace

DeviceModel::~DeviceModel() {
    if (base != nullptr) {
        (void)cudaSetDevice(device);
        (void)cudaFree(base);
    }
}

const char* unsupported_reason(const chela_model_config& cfg) {
    const int64_t dk = cfg.z_dim / cfg.n_heads;
    if (cfg.d_model % 2 != 0 || cfg.z_dim % 2 != 0 || cfg.v_dim % 2 != 0 || cfg.ffn_dim % 2 != 0)
        return "d_model, z_dim, v_dim and ffn_dim must be even (the fp16 GEMMs read rows 4 bytes at a time)";
    if (round_up(dk, 8) > 256) return "z_dim / n_heads exceeds 256 (the tensor-core attention kernel's limit)";
    if (int64_t(cfg.n_heads) > 1536)
        return "more than 1536 heads (the attention epilogue keeps 2 floats per head and row in shared memory)";
    return nullptr;
}

namespace {

__global__ void f32_to_f16_kernel(const float* x, __half* y, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        y[i] = __float2half_rn(x[i]);
}

// Translates every pointer of `hp` (host tensors of `m`) with `dev`.
template <class Dev>
ModelParams translate(const ModelParams& hp, Dev dev) {
    ModelParams dp;
    dp.embed = dev(hp.embed);
    dp.input_w = dev(hp.input_w);
    dp.input_b = dev(hp.input_b);
    dp.final_norm_w = dev(hp.final_norm_w);
    dp.final_norm_b = dev(hp.final_norm_b);
    dp.lm_head = dev(hp.lm_head);
    dp.cls_w = dev(hp.cls_w);
    dp.cls_b = dev(hp.cls_b);
    for (const LayerParams& h : hp.layers) {
        LayerParams l;
        l.norm_w = dev(h.norm_w), l.norm_b = dev(h.norm_b);
        l.short_w = dev(h.short_w), l.short_b = dev(h.short_b);
        l.long_w = dev(h.long_w), l.long_w_rev = dev(h.long_w_rev);
        l.omega = dev(h.omega);
        l.v_w = dev(h.v_w), l.v_b = dev(h.v_b);
        l.mx_w = dev(h.mx_w), l.mx_b = dev(h.mx_b);
        l.qk_gamma = dev(h.qk_gamma), l.qk_beta = dev(h.qk_beta);
        l.attn_norm_w = dev(h.attn_norm_w);
        l.decay = dev(h.decay);
        l.h_w = dev(h.h_w), l.h_b = dev(h.h_b);
        l.ffn_norm_w = dev(h.ffn_norm_w), l.ffn_norm_b = dev(h.ffn_norm_b);
        l.fc1_w = dev(h.fc1_w), l.fc1_b = dev(h.fc1_b), l.fc2_w = dev(h.fc2_w), l.fc2_b = dev(h.fc2_b);
        dp.layers.push_back(l);
    }
    return dp;
}

}  // namespace

std::shared_ptr<DeviceModel> upload(const chela_model& m, int device, void* stream_ptr) {
    if (const char* why = unsupported_reason(m.ckpt.config))
        fail(CHELA_ERR_UNSUPPORTED, "model: the CUDA backend cannot run this configuration: ", why);
    auto s = static_cast<cudaStream_t>(stream_ptr);
    check(cudaSetDevice(device), "cudaSetDevice");
    keep_pool_memory(device);

    // One allocation: every tensor in f32, then every tensor again in fp16 (the GEMM operands), each
    // at a 256-byte boundary (16-byte vector loads in the GEMMs).
    std::map<const float*, std::pair<size_t, size_t>> offset_of;  // host data -> (f32, fp16) offsets
    size_t total = 0;
    for (const auto& kv : m.ckpt.tensors) {
        offset_of[kv.second.data.data()].first = total;
        total += size_t(round_up(int64_t(kv.second.data.size() * sizeof(float)), 256));
    }
    const size_t f32_bytes = total;
    for (const auto& kv : m.ckpt.tensors) {
        offset_of[kv.second.data.data()].second = total;
        total += size_t(round_up(int64_t(kv.second.data.size() * 2), 256));
    }
    auto dm = std::make_shared<DeviceModel>();
    dm->device = device;
    dm->bytes = total;
    check(cudaMalloc(&dm->base, total ? total : 256), "weights");
    char* base = static_cast<char*>(dm->base);
    std::vector<char> staging(f32_bytes);
    for (const auto& kv : m.ckpt.tensors)
        std::copy(reinterpret_cast<const char*>(kv.second.data.data()),
                  reinterpret_cast<const char*>(kv.second.data.data() + kv.second.data.size()),
                  staging.begin() + static_cast<std::ptrdiff_t>(offset_of[kv.second.data.data()].first));
    check(cudaMemcpyAsync(base, staging.data(), f32_bytes, cudaMemcpyHostToDevice, s), "weight copy");
    for (const auto& kv : m.ckpt.tensors) {
        const auto& off = offset_of[kv.second.data.data()];
        const int64_t n = int64_t(kv.second.data.size());
        f32_to_f16_kernel<<<unsigned(std::min<int64_t>((n + 255) / 256, 4096)), 256, 0, s>>>(
            reinterpret_cast<const float*>(base + off.first), reinterpret_cast<__half*>(base + off.second), n);
        check(cudaGetLastError(), "fp16 weight copies");
    }
    check(cudaStreamSynchronize(s), "weight copy");

    // Every ModelParams pointer points at the start of a checkpoint tensor (or is null).
    auto at = [&](bool half) {
        return [&, half](const float* host) -> const float* {
            if (host == nullptr) return nullptr;
            auto it = offset_of.find(host);
            if (it == offset_of.end()) fail(CHELA_ERR_INTERNAL, "model (CUDA): a parameter is not a checkpoint tensor");
            return reinterpret_cast<const float*>(base + (half ? it->second.second : it->second.first));
        };
    };
    dm->params = translate(m.params, at(false));
    dm->half = translate(m.params, at(true));
    dm->spectra = std::make_unique<SpectraCache>(device);
    return dm;
}

void forward(const chela_model& m, const DeviceModel& dm, void* stream_ptr, int64_t B, int64_t L,
             const int32_t* tokens, const float* features, float* out) {
    const chela_model_config& cfg = m.ckpt.config;
    const ModelParams& mp = dm.params;
    auto s = static_cast<cudaStream_t>(stream_ptr);
    check(cudaSetDevice(dm.device), "cudaSetDevice");
    const int64_t d = cfg.d_model, rows = B * L;
    if (tokens != nullptr) {
        const int64_t bad = first_bad_token(s, tokens, rows, cfg.vocab_size);
        if (bad >= 0) {
            int32_t id = 0;
            check(cudaMemcpy(&id, tokens + bad, sizeof(id), cudaMemcpyDeviceToHost), "token read-back");
            fail(CHELA_ERR_INVALID_ARGUMENT, "inputs: token id ", id, " at position [", bad / L, ", ", bad % L,
                 "] is outside [0, ", cfg.vocab_size, ")");
        }
    }
    const AttentionLayout a = layout_of(cfg, B, L);
    auto carve = [&](Carver& c, float** x0, float** x1, float** pooled, LayerBuffers* lb) {
        *x0 = static_cast<float*>(c.take(size_t(rows) * d * sizeof(float)));
        *x1 = static_cast<float*>(c.take(size_t(rows) * d * sizeof(float)));
        *pooled = static_cast<float*>(c.take(size_t(B) * d * sizeof(float)));
        *lb = carve_layer(c, cfg, a);
    };
    float *cur, *next, *pool;
    LayerBuffers buf;
    Carver count(nullptr);
    carve(count, &cur, &next, &pool, &buf);
    StreamBuffer scratch(count.used(), s, "model (CUDA): scratch for the forward");
    Carver carver(scratch.as<char>());
    carve(carver, &cur, &next, &pool, &buf);

    if (tokens != nullptr)
        embed_rows(s, tokens, mp.embed, rows, d, cur);
    else
        linear(s, rows, cfg.input_dim, d, features, mp.input_w, mp.input_b, cur, Activation::kNone);
    for (size_t i = 0; i < mp.layers.size(); ++i) {
        run_layer(dm, s, cfg, static_cast<int>(i), a, buf, cur, next);
        std::swap(cur, next);
    }
    if (cfg.task == CHELA_TASK_LM) {
        // The head's operand: final norm (prenorm) or the last layer's output, in fp16.
        if (cfg.prenorm)
            apply_norm(s, cfg, rows, cur, mp.final_norm_w, mp.final_norm_b, next, true);
        else
            to_f16(s, rows * d, cur, next);
        linear_f16(s, rows, d, cfg.vocab_size, next, h16(dm.half.lm_head), nullptr, out, false, Activation::kNone);
    } else {
        const float* hidden = cur;
        if (cfg.prenorm) {
            apply_norm(s, cfg, rows, cur, mp.final_norm_w, mp.final_norm_b, next, false);
            hidden = next;
        }
        pool_rows(s, B, L, L, d, hidden, cfg.pooling != CHELA_POOLING_LAST, pool);
        linear(s, B, d, cfg.num_classes, pool, mp.cls_w, mp.cls_b, out, Activation::kNone);
    }
}

void layer_forward(const chela_model& m, const DeviceModel& dm, void* stream_ptr, int layer, int64_t B, int64_t L,
                   const float* x, float* y) {
    const chela_model_config& cfg = m.ckpt.config;
    auto s = static_cast<cudaStream_t>(stream_ptr);
    check(cudaSetDevice(dm.device), "cudaSetDevice");
    const AttentionLayout a = layout_of(cfg, B, L);
    Carver count(nullptr);
    carve_layer(count, cfg, a);
    StreamBuffer scratch(count.used(), s, "model (CUDA): scratch for the forward");
    Carver carver(scratch.as<char>());
    const LayerBuffers buf = carve_layer(carver, cfg, a);
    run_layer(dm, s, cfg, layer, a, buf, x, y);
}

void zero(void* stream, void* p, size_t bytes) {
    check(cudaMemsetAsync(p, 0, bytes, static_cast<cudaStream_t>(stream)), "cudaMemsetAsync");
}

}  // namespace chela::cuda::model
