// Upload and forward of DeviceModel: the CUDA counterpart of model/forward.cpp, composed of the
// GEMMs (gemm.h), row kernels (layer_kernels.h), the CUDA short-long convolution and the tiled
// linear attention kernel. Every intermediate lives in one stream-ordered scratch allocation per
// call; the stream's memory pool keeps it cached between calls.
#include "device_model.h"

#include "gemm.h"
#include "layer_kernels.h"

#include "core/error.h"
#include "cuda/short_long_conv.h"
#include "cuda/tiled_linear_attention.h"

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

// Per-call scratch: slices of one cudaMallocAsync block, each 256-byte aligned, freed stream-ordered.
class Scratch {
public:
    Scratch(cudaStream_t s) : stream_(s) {}
    ~Scratch() {
        if (base_ != nullptr) (void)cudaFreeAsync(base_, stream_);
    }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    // Plans a slice of `bytes`; the pointer is valid after allocate().
    size_t plan(size_t bytes) {
        const size_t at = size_;
        size_ += static_cast<size_t>(round_up(static_cast<int64_t>(bytes ? bytes : 1), 256));
        return at;
    }
    void allocate() { check(cudaMallocAsync(&base_, size_, stream_), "scratch for the forward"); }
    template <class T> T* at(size_t offset) const { return reinterpret_cast<T*>(static_cast<char*>(base_) + offset); }

private:
    cudaStream_t stream_;
    void* base_ = nullptr;
    size_t size_ = 0;
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

// Buffers of one layer's forward over rows = B * L positions.
struct LayerBuffers {
    float *xn, *m, *v, *p, *orr, *hd, *ffn_in, *ffn_mid;
    void *q, *k, *vv, *o, *q_rev, *k_rev, *v_rev, *o_rev;
};

struct LayerPlan {
    size_t xn, m, v, p, orr, hd, ffn_in, ffn_mid, q, k, vv, o, q_rev, k_rev, v_rev, o_rev;
};

LayerPlan plan_layer(Scratch& s, const chela_model_config& cfg, const AttentionLayout& a) {
    const int64_t rows = a.B * a.L;
    const size_t f4 = sizeof(float), b2 = 2;
    const size_t qk = size_t(rows) * a.H * a.dkp * b2, vb = size_t(rows) * a.H * a.dvp * b2;
    LayerPlan lp{};
    lp.xn = s.plan(size_t(rows) * a.d * f4);
    lp.m = s.plan(size_t(rows) * a.d * f4);
    lp.v = s.plan(size_t(rows) * a.f * f4);
    lp.p = s.plan(size_t(rows) * a.p_width * f4);
    lp.orr = s.plan(size_t(rows) * a.f * f4);
    lp.hd = s.plan(size_t(rows) * a.d * f4);
    lp.ffn_in = s.plan(cfg.ffn_dim > 0 ? size_t(rows) * a.d * f4 : 0);
    lp.ffn_mid = s.plan(size_t(rows) * cfg.ffn_dim * f4);
    lp.q = s.plan(qk);
    lp.k = s.plan(qk);
    lp.vv = s.plan(vb);
    lp.o = s.plan(vb);
    const bool bi = a.bidirectional;
    lp.q_rev = s.plan(bi ? qk : 0);
    lp.k_rev = s.plan(bi ? qk : 0);
    lp.v_rev = s.plan(bi ? vb : 0);
    lp.o_rev = s.plan(bi ? vb : 0);
    return lp;
}

LayerBuffers buffers_of(const Scratch& s, const LayerPlan& lp, bool bidirectional) {
    LayerBuffers b{};
    b.xn = s.at<float>(lp.xn);
    b.m = s.at<float>(lp.m);
    b.v = s.at<float>(lp.v);
    b.p = s.at<float>(lp.p);
    b.orr = s.at<float>(lp.orr);
    b.hd = s.at<float>(lp.hd);
    b.ffn_in = s.at<float>(lp.ffn_in);
    b.ffn_mid = s.at<float>(lp.ffn_mid);
    b.q = s.at<void>(lp.q);
    b.k = s.at<void>(lp.k);
    b.vv = s.at<void>(lp.vv);
    b.o = s.at<void>(lp.o);
    if (bidirectional) {
        b.q_rev = s.at<void>(lp.q_rev);
        b.k_rev = s.at<void>(lp.k_rev);
        b.v_rev = s.at<void>(lp.v_rev);
        b.o_rev = s.at<void>(lp.o_rev);
    }
    return b;
}

void apply_norm(cudaStream_t s, const chela_model_config& cfg, int64_t rows, const float* x, const float* w,
                const float* b, float* y) {
    norm_rows(s, rows, cfg.d_model, x, w, b, cfg.eps, cfg.norm == CHELA_NORM_RMSNORM, y);
}

// The causal tensor-core kernel over the padded bf16 layout, attn_norm left to attention_output.
void attention_pass(int device, cudaStream_t s, const AttentionLayout& a, const float* decay, const void* q,
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
    tp.dtype = CHELA_DTYPE_BF16;
    (void)device;
    tiled::linear_attention(tp, q, k, v, nullptr, nullptr, o, nullptr, nullptr, nullptr, 0, s);
}

// Spec "One CHELA layer", steps 1-6, on the device: x -> y [rows, d].
void run_layer(int device, cudaStream_t s, const chela_model_config& cfg, const LayerParams& lp,
               const AttentionLayout& a, const LayerBuffers& b, const float* x, float* y) {
    const int64_t rows = a.B * a.L, d = cfg.d_model;
    const float* xn = x;
    if (cfg.prenorm) {
        apply_norm(s, cfg, rows, x, lp.norm_w, lp.norm_b, b.xn);
        xn = b.xn;
    }
    cpu::ShortLongConvParams cp;
    cp.B = a.B;
    cp.L = a.L;
    cp.d = d;
    cp.ks = cfg.short_kernel;
    cp.Lk = cfg.long_kernel;
    cp.causal = cfg.causal != 0;
    ConvTensors ct;
    ct.x = xn;
    ct.short_w = lp.short_w;
    ct.short_b = lp.short_b;
    ct.long_w = lp.long_w;
    ct.long_w_rev = cfg.causal ? nullptr : lp.long_w_rev;
    ct.omega = lp.omega;
    ct.out = b.m;
    ct.dtype = CHELA_DTYPE_F32;
    for (int32_t& wd : ct.w_dtypes) wd = CHELA_DTYPE_F32;
    short_long_conv(device, s, cp, ct);

    linear(s, rows, d, cfg.v_dim, xn, lp.v_w, lp.v_b, b.v, Activation::kSilu);
    linear(s, rows, d, a.p_width, b.m, lp.mx_w, lp.mx_b, b.p, Activation::kNone);
    attention_inputs(s, a, b.p, b.v, lp.qk_gamma, lp.qk_beta, b.q, b.k, b.vv, b.q_rev, b.k_rev, b.v_rev);
    const float* decay = cfg.decay ? lp.decay : nullptr;
    attention_pass(device, s, a, decay, b.q, b.k, b.vv, b.o);
    if (a.bidirectional) attention_pass(device, s, a, decay, b.q_rev, b.k_rev, b.v_rev, b.o_rev);
    attention_output(s, a, b.o, b.o_rev, b.q, b.k, b.vv, b.p, lp.attn_norm_w, b.orr);
    linear(s, rows, cfg.v_dim, d, b.orr, lp.h_w, lp.h_b, b.hd, Activation::kNone);
    gated_residual(s, rows, d, a.p_width, b.p, b.hd, x, y);
    if (!cfg.prenorm) apply_norm(s, cfg, rows, y, lp.norm_w, lp.norm_b, y);

    if (cfg.ffn_dim > 0) {
        // Pre-norm: y += FFN(Norm(y)). Post-norm: y = Norm(y + FFN(y)). hd holds FFN's output.
        const float* in = y;
        if (cfg.prenorm) {
            apply_norm(s, cfg, rows, y, lp.ffn_norm_w, lp.ffn_norm_b, b.ffn_in);
            in = b.ffn_in;
        }
        linear(s, rows, d, cfg.ffn_dim, in, lp.fc1_w, lp.fc1_b, b.ffn_mid, Activation::kSilu);
        linear(s, rows, cfg.ffn_dim, d, b.ffn_mid, lp.fc2_w, lp.fc2_b, b.hd, Activation::kNone);
        if (cfg.prenorm) {
            add_into(s, rows * d, b.hd, y);
        } else {
            add_into(s, rows * d, y, b.hd);
            apply_norm(s, cfg, rows, b.hd, lp.ffn_norm_w, lp.ffn_norm_b, y);
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
    if (round_up(dk, 8) > 256) return "z_dim / n_heads exceeds 256 (the tensor-core attention kernel's limit)";
    if (int64_t(cfg.v_dim) * 4 + 8 * int64_t(cfg.n_heads) > 48 * 1024)
        return "v_dim exceeds 12280 (the attention epilogue's row buffer)";
    return nullptr;
}

std::shared_ptr<DeviceModel> upload(const chela_model& m, int device, void* stream_ptr) {
    if (const char* why = unsupported_reason(m.ckpt.config))
        fail(CHELA_ERR_UNSUPPORTED, "model: the CUDA backend cannot run this configuration: ", why);
    auto s = static_cast<cudaStream_t>(stream_ptr);
    check(cudaSetDevice(device), "cudaSetDevice");
    keep_pool_memory(device);

    // One allocation, each tensor at a 256-byte boundary (16-byte vector loads in the GEMMs).
    std::map<const float*, size_t> offset_of;
    size_t total = 0;
    for (const auto& kv : m.ckpt.tensors) {
        offset_of[kv.second.data.data()] = total;
        total += size_t(round_up(int64_t(kv.second.data.size() * sizeof(float)), 256));
    }
    auto dm = std::make_shared<DeviceModel>();
    dm->device = device;
    dm->bytes = total;
    check(cudaMalloc(&dm->base, total ? total : 256), "weights");
    std::vector<char> staging(total);
    for (const auto& kv : m.ckpt.tensors)
        std::copy(reinterpret_cast<const char*>(kv.second.data.data()),
                  reinterpret_cast<const char*>(kv.second.data.data() + kv.second.data.size()),
                  staging.begin() + static_cast<std::ptrdiff_t>(offset_of[kv.second.data.data()]));
    check(cudaMemcpyAsync(dm->base, staging.data(), total, cudaMemcpyHostToDevice, s), "weight copy");
    check(cudaStreamSynchronize(s), "weight copy");

    // Every ModelParams pointer points at the start of a checkpoint tensor (or is null).
    auto dev = [&](const float* host) -> const float* {
        if (host == nullptr) return nullptr;
        auto it = offset_of.find(host);
        if (it == offset_of.end()) fail(CHELA_ERR_INTERNAL, "model (CUDA): a parameter is not a checkpoint tensor");
        return reinterpret_cast<const float*>(static_cast<char*>(dm->base) + it->second);
    };
    const ModelParams& hp = m.params;
    ModelParams& dp = dm->params;
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
    Scratch scratch(s);
    const size_t x0 = scratch.plan(size_t(rows) * d * sizeof(float)), x1 = scratch.plan(size_t(rows) * d * sizeof(float));
    const size_t pooled = scratch.plan(size_t(B) * d * sizeof(float));
    const LayerPlan plan = plan_layer(scratch, cfg, a);
    scratch.allocate();
    const LayerBuffers buf = buffers_of(scratch, plan, a.bidirectional);

    float* cur = scratch.at<float>(x0);
    float* next = scratch.at<float>(x1);
    if (tokens != nullptr)
        embed_rows(s, tokens, mp.embed, rows, d, cur);
    else
        linear(s, rows, cfg.input_dim, d, features, mp.input_w, mp.input_b, cur, Activation::kNone);
    for (const LayerParams& lp : mp.layers) {
        run_layer(dm.device, s, cfg, lp, a, buf, cur, next);
        std::swap(cur, next);
    }
    const float* hidden = cur;
    if (cfg.prenorm) {
        apply_norm(s, cfg, rows, cur, mp.final_norm_w, mp.final_norm_b, next);
        hidden = next;
    }
    if (cfg.task == CHELA_TASK_LM) {
        linear(s, rows, d, cfg.vocab_size, hidden, mp.lm_head, nullptr, out, Activation::kNone);
    } else {
        float* pool = scratch.at<float>(pooled);
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
    Scratch scratch(s);
    const LayerPlan plan = plan_layer(scratch, cfg, a);
    scratch.allocate();
    run_layer(dm.device, s, cfg, dm.params.layers[size_t(layer)], a, buffers_of(scratch, plan, a.bidirectional), x, y);
}

void zero(void* stream, void* p, size_t bytes) {
    check(cudaMemsetAsync(p, 0, bytes, static_cast<cudaStream_t>(stream)), "cudaMemsetAsync");
}

}  // namespace chela::cuda::model
