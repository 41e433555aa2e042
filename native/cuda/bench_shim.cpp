// Tiny C entry point over chela::cuda::tiled::linear_attention taking raw device pointers, for
// tools/device/bench_linear_attention.py (ctypes). Built as libchela_cuda_bench.so; not part of
// the public ABI. Returns a chela_status; the message of the last failure is in chela_cuda_bench_error().
#include "tiled_linear_attention.h"
#include "core/error.h"

#include <cstring>
#include <string>

namespace {
thread_local std::string g_err;
}

extern "C" __attribute__((visibility("default"))) const char* chela_cuda_bench_error(void) { return g_err.c_str(); }

extern "C" __attribute__((visibility("default"))) int chela_cuda_bench_la(
    int dtype, long long B, long long L, int H, long long e, long long f, const void* q, const void* k,
    const void* v, void* out, const float* decay, const float* norm_weight, const float* state_in,
    float* state_out, int feature_map, int attn_norm, float scale, float eps, int segments, void* workspace,
    unsigned long long workspace_bytes, void* stream) {
    try {
        chela::cuda::tiled::LinearAttentionParams p;
        p.B = B;
        p.L = L;
        p.H = H;
        p.e = e;
        p.f = f;
        p.dtype = dtype;
        p.decay = decay;
        p.norm_weight = norm_weight;
        p.feature_map = feature_map;
        p.attn_norm = attn_norm;
        p.scale = scale;
        p.eps = eps;
        p.segments = segments;
        chela::cuda::tiled::linear_attention(p, q, k, v, state_in, nullptr, out, state_out, nullptr, workspace,
                                      workspace_bytes, stream);
        return CHELA_OK;
    } catch (const chela::Error& err) {
        g_err = err.what();
        return err.status();
    } catch (const std::exception& err) {
        g_err = err.what();
        return CHELA_ERR_INTERNAL;
    }
}

extern "C" __attribute__((visibility("default"))) unsigned long long chela_cuda_bench_la_workspace(
    int dtype, long long B, long long L, int H, long long e, long long f, int attn_norm, int segments) {
    try {
        chela::cuda::tiled::LinearAttentionParams p;
        p.B = B; p.L = L; p.H = H; p.e = e; p.f = f; p.dtype = dtype; p.attn_norm = attn_norm;
        p.segments = segments;
        p.norm_weight = reinterpret_cast<const float*>(16);  // only its presence matters for the size
        return chela::cuda::tiled::linear_attention_workspace_bytes(p);
    } catch (...) {
        return ~0ull;
    }
}
