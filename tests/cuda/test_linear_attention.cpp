// CUDA linear attention forward vs a float64 CPU reference written from docs/spec (section 4).
// Fresh random inputs per case, outputs (and state_out) poisoned with NaN first; rel-L2 bounds:
// bf16/f16 3e-3, fp32 1e-5 (the fp32 path is exact fp32 SIMT arithmetic, no tf32).
// Exit status: 0 all passed, 1 a failure, 77 skipped (no CUDA device; one line says so).
//
//   test_cuda_linear_attention [--quick] [--small] [--filter SUBSTRING]
//   --quick: skip cases with L > 1000; --small: a few short cases (for compute-sanitizer)
#include "cuda/tiled_linear_attention.h"
#include "core/error.h"

#include <cuda_runtime.h>

#include <chela/chela.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

void check(cudaError_t err, const char* what) {
    if (err != cudaSuccess) {
        std::printf("FAIL cuda: %s: %s\n", what, cudaGetErrorString(err));
        std::exit(1);
    }
}

// RAII device buffer (the test stays independent of the backend's runtime helpers).
class DeviceBuffer {
public:
    explicit DeviceBuffer(size_t bytes) {
        if (bytes) check(cudaMalloc(&ptr_, bytes), "cudaMalloc");
    }
    ~DeviceBuffer() { if (ptr_) cudaFree(ptr_); }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    void* get() const { return ptr_; }
    template <class T> T* as() const { return static_cast<T*>(ptr_); }

private:
    void* ptr_ = nullptr;
};

void h2d(void* dst, const void* src, size_t n) { check(cudaMemcpy(dst, src, n, cudaMemcpyHostToDevice), "H2D"); }
void d2h(void* dst, const void* src, size_t n) { check(cudaMemcpy(dst, src, n, cudaMemcpyDeviceToHost), "D2H"); }

uint16_t f2bf(float x) {
    uint32_t u;
    std::memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;
    u += 0x7fffu + ((u >> 16) & 1u);
    return uint16_t(u >> 16);
}
float bf2f(uint16_t b) {
    uint32_t u = uint32_t(b) << 16;
    float x;
    std::memcpy(&x, &u, 4);
    return x;
}
uint16_t f2h(float x) {  // round to nearest even, normal range only (test data is small)
    uint32_t u;
    std::memcpy(&u, &x, 4);
    uint32_t sign = (u >> 16) & 0x8000u;
    int32_t exp = int32_t((u >> 23) & 0xff) - 127 + 15;
    uint32_t mant = u & 0x7fffffu;
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7e00;
    if (exp >= 31) return uint16_t(sign | 0x7c00);
    if (exp <= 0) {  // subnormal
        if (exp < -10) return uint16_t(sign);
        mant |= 0x800000u;
        int shift = 14 - exp;
        uint32_t half = 1u << (shift - 1);
        uint32_t r = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1);
        if (rem > half || (rem == half && (r & 1))) ++r;
        return uint16_t(sign | r);
    }
    uint32_t r = (uint32_t(exp) << 10) | (mant >> 13);
    uint32_t rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1))) ++r;
    return uint16_t(sign | r);
}
float h2f(uint16_t h) {
    uint32_t sign = uint32_t(h & 0x8000u) << 16;
    int exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ffu;
    float x;
    if (exp == 0) {
        x = std::ldexp(float(mant), -24);
    } else if (exp == 31) {
        x = mant ? NAN : INFINITY;
    } else {
        x = std::ldexp(float(mant | 0x400u), exp - 25);
    }
    uint32_t u;
    std::memcpy(&u, &x, 4);
    u |= sign;
    std::memcpy(&x, &u, 4);
    return x;
}

struct Case {
    std::string name;
    int dtype = CHELA_DTYPE_BF16;
    int64_t B = 1, L = 64;
    int H = 1, dk = 64, dv = 64;
    bool decay = false;
    int fm = CHELA_FEATURE_IDENTITY;
    int norm = CHELA_ATTN_NORM_NONE;
    bool state_in = false, state_out = false, alias_state = false;
    int segments = 0;
};

double phi(int fm, double x) {
    switch (fm) {
        case CHELA_FEATURE_ELU1: return x > 0 ? x + 1 : std::exp(x);
        case CHELA_FEATURE_RELU: return x > 0 ? x : 0;
        case CHELA_FEATURE_SILU: return x / (1 + std::exp(-x));
        default: return x;
    }
}

double rel_l2(const std::vector<double>& ref, const std::vector<float>& got, int64_t* nonfinite) {
    double num = 0, den = 0;
    *nonfinite = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
        if (!std::isfinite(got[i])) { ++*nonfinite; continue; }
        double d = got[i] - ref[i];
        num += d * d;
        den += ref[i] * ref[i];
    }
    return std::sqrt(num / (den > 0 ? den : 1));
}

bool run_case(const Case& c, std::mt19937_64& rng) {
    const int64_t e = int64_t(c.H) * c.dk, f = int64_t(c.H) * c.dv;
    const int64_t nq = c.B * c.L * e, nv = c.B * c.L * f, ns = c.B * c.H * int64_t(c.dk) * c.dv;
    std::normal_distribution<float> nd(0.f, 1.f);
    std::uniform_real_distribution<float> ud(0.f, 1.f);
    std::vector<float> q(nq), k(nq), v(nv), s0(ns), decay(c.H), g(f);
    for (auto& x : q) x = nd(rng);
    for (auto& x : k) x = nd(rng);
    for (auto& x : v) x = nd(rng);
    for (auto& x : s0) x = nd(rng);
    for (auto& x : decay) x = 0.80f + 0.199f * ud(rng);
    for (auto& x : g) x = 0.5f + ud(rng);
    const bool half_prec = c.dtype != CHELA_DTYPE_F32;
    const size_t esz = half_prec ? 2 : 4;
    // round inputs to the storage type; the reference sees exactly what the device sees
    std::vector<uint16_t> q16, k16, v16;
    auto round_vec = [&](std::vector<float>& x, std::vector<uint16_t>& bits) {
        if (!half_prec) return;
        bits.resize(x.size());
        for (size_t i = 0; i < x.size(); ++i) {
            bits[i] = c.dtype == CHELA_DTYPE_BF16 ? f2bf(x[i]) : f2h(x[i]);
            x[i] = c.dtype == CHELA_DTYPE_BF16 ? bf2f(bits[i]) : h2f(bits[i]);
        }
    };
    round_vec(q, q16);
    round_vec(k, k16);
    round_vec(v, v16);
    const double scale = 1.0 / std::sqrt(double(c.dk));

    // ---- float64 reference: S_t = lambda S_{t-1} + phi(k_t)^T v_t ; o_t = s phi(q_t) S_t
    std::vector<double> ref(nv), ref_state(ns);
    std::vector<double> S(size_t(c.dk) * c.dv), qd(c.dk), kd(c.dk);
    for (int64_t b = 0; b < c.B; ++b)
        for (int h = 0; h < c.H; ++h) {
            const double lam = c.decay ? double(decay[h]) : 1.0;
            const int64_t sb = (b * c.H + h) * int64_t(c.dk) * c.dv;
            for (size_t i = 0; i < S.size(); ++i) S[i] = c.state_in ? s0[sb + i] : 0.0;
            for (int64_t t = 0; t < c.L; ++t) {
                const float* qr = &q[(b * c.L + t) * e + int64_t(h) * c.dk];
                const float* kr = &k[(b * c.L + t) * e + int64_t(h) * c.dk];
                const float* vr = &v[(b * c.L + t) * f + int64_t(h) * c.dv];
                for (int d = 0; d < c.dk; ++d) { qd[d] = phi(c.fm, qr[d]); kd[d] = phi(c.fm, kr[d]); }
                double* o = &ref[(b * c.L + t) * f + int64_t(h) * c.dv];
                for (int j = 0; j < c.dv; ++j) o[j] = 0;
                for (int d = 0; d < c.dk; ++d) {
                    double* Sr = &S[size_t(d) * c.dv];
                    for (int j = 0; j < c.dv; ++j) {
                        Sr[j] = lam * Sr[j] + kd[d] * vr[j];
                        o[j] += qd[d] * Sr[j];
                    }
                }
                for (int j = 0; j < c.dv; ++j) o[j] *= scale;
            }
            for (size_t i = 0; i < S.size(); ++i) ref_state[sb + i] = S[i];
        }
    if (c.norm == CHELA_ATTN_NORM_RMSNORM)
        for (int64_t r = 0; r < c.B * c.L; ++r) {
            double ss = 0;
            for (int64_t j = 0; j < f; ++j) ss += ref[r * f + j] * ref[r * f + j];
            const double inv = 1.0 / std::sqrt(ss / double(f) + 1e-5);
            for (int64_t j = 0; j < f; ++j) ref[r * f + j] *= inv * g[j];
        }

    // ---- device
    DeviceBuffer dq(nq * esz), dk(nq * esz), dvv(nv * esz), dout(nv * esz), dstate_in(ns * 4),
        dstate_out(ns * 4), ddecay(c.H * 4), dg(f * 4);
    auto up = [&](DeviceBuffer& dst, const std::vector<float>& x, const std::vector<uint16_t>& bits) {
        if (half_prec) h2d(dst.get(), bits.data(), bits.size() * 2);
        else h2d(dst.get(), x.data(), x.size() * 4);
    };
    up(dq, q, q16);
    up(dk, k, k16);
    up(dvv, v, v16);
    h2d(dstate_in.get(), s0.data(), ns * 4);
    h2d(ddecay.get(), decay.data(), c.H * 4);
    h2d(dg.get(), g.data(), f * 4);
    check(cudaMemset(dout.get(), 0xff, nv * esz), "poison out");  // NaN in every dtype
    if (!c.alias_state) check(cudaMemset(dstate_out.get(), 0xff, ns * 4), "poison state");

    chela::cuda::tiled::LinearAttentionParams p;
    p.B = c.B;
    p.L = c.L;
    p.e = e;
    p.f = f;
    p.H = c.H;
    p.causal = true;
    p.feature_map = c.fm;
    p.attn_norm = c.norm;
    p.scale = float(scale);
    p.eps = 1e-5f;
    p.decay = c.decay ? ddecay.as<float>() : nullptr;
    p.norm_weight = c.norm == CHELA_ATTN_NORM_RMSNORM ? dg.as<float>() : nullptr;
    p.dtype = c.dtype;
    p.segments = c.segments;
    float* sin = c.state_in ? dstate_in.as<float>() : nullptr;
    float* sout = c.alias_state ? dstate_in.as<float>() : (c.state_out ? dstate_out.as<float>() : nullptr);
    try {
        const size_t wsb = chela::cuda::tiled::linear_attention_workspace_bytes(p);
        DeviceBuffer ws(wsb);
        chela::cuda::tiled::linear_attention(p, dq.get(), dk.get(), dvv.get(), sin, nullptr, dout.get(), sout, nullptr,
                                      ws.get(), wsb, nullptr);
        check(cudaDeviceSynchronize(), "kernel");
    } catch (const chela::Error& err) {
        std::printf("FAIL %-44s error: %s\n", c.name.c_str(), err.what());
        return false;
    }
    std::vector<float> out(nv);
    if (half_prec) {
        std::vector<uint16_t> bits(nv);
        d2h(bits.data(), dout.get(), nv * 2);
        for (int64_t i = 0; i < nv; ++i) out[i] = c.dtype == CHELA_DTYPE_BF16 ? bf2f(bits[i]) : h2f(bits[i]);
    } else {
        d2h(out.data(), dout.get(), nv * 4);
    }
    const double tol = half_prec ? 3e-3 : 1e-5;
    int64_t bad = 0;
    const double err = rel_l2(ref, out, &bad);
    bool ok = bad == 0 && err <= tol;
    double serr = 0;
    int64_t sbad = 0;
    if (c.state_out || c.alias_state) {
        std::vector<float> st(ns);
        d2h(st.data(), sout, ns * 4);
        serr = rel_l2(ref_state, st, &sbad);
        ok = ok && sbad == 0 && serr <= tol;
    }
    std::printf("%s %-44s rel_l2 %.3e%s", ok ? "ok  " : "FAIL", c.name.c_str(), err,
                bad ? " (NON-FINITE)" : "");
    if (c.state_out || c.alias_state) std::printf("  state %.3e%s", serr, sbad ? " (NON-FINITE)" : "");
    std::printf("  (bound %.0e)\n", tol);
    return ok;
}

bool expect_error(const char* name, chela_status want, chela::cuda::tiled::LinearAttentionParams p) {
    try {
        DeviceBuffer buf(1 << 20);
        chela::cuda::tiled::linear_attention(p, buf.get(), buf.get(), buf.get(), nullptr, nullptr, buf.get(), nullptr,
                                      nullptr, nullptr, 0, nullptr);
    } catch (const chela::Error& e) {
        const bool ok = e.status() == want;
        std::printf("%s %-44s -> %s\n", ok ? "ok  " : "FAIL", name, e.what());
        return ok;
    }
    std::printf("FAIL %-44s -> no error\n", name);
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    bool quick = false, small = false;
    std::string filter;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--quick")) quick = true;
        else if (!std::strcmp(argv[i], "--small")) small = true;
        else if (!std::strcmp(argv[i], "--filter") && i + 1 < argc) filter = argv[++i];
    }
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        std::printf("SKIP test_cuda_linear_attention: no CUDA device\n");
        return 77;
    }
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
    std::printf("device: %s (sm_%d%d, %d SMs)\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount);
    std::vector<Case> cases;
    auto add = [&](Case c) { cases.push_back(c); };
    const int bf = CHELA_DTYPE_BF16, hf = CHELA_DTYPE_F16, f32 = CHELA_DTYPE_F32;
    for (int64_t L : {1, 63, 64, 65, 1000, 4097}) {
        Case c;
        c.name = "bf16 B2 H2 dk64 dv64 L" + std::to_string(L);
        c.B = 2; c.H = 2; c.L = L;
        add(c);
    }
    { Case c; c.name = "bf16 B1 H2 dk128 dv128 L4097 decay state"; c.H = 2; c.dk = 128; c.dv = 128; c.L = 4097;
      c.decay = c.state_in = c.state_out = true; add(c); }
    { Case c; c.name = "bf16 B2 H4 dk32 dv48 L1000 decay"; c.B = 2; c.H = 4; c.dk = 32; c.dv = 48; c.L = 1000;
      c.decay = true; add(c); }
    { Case c; c.name = "bf16 B1 H1 dk256 dv40 L700 decay state"; c.dk = 256; c.dv = 40; c.L = 700;
      c.decay = c.state_in = c.state_out = true; add(c); }
    { Case c; c.name = "bf16 B1 H3 dk128 dv72 L257 elu1 rmsnorm"; c.H = 3; c.dk = 128; c.dv = 72; c.L = 257;
      c.fm = CHELA_FEATURE_ELU1; c.norm = CHELA_ATTN_NORM_RMSNORM; add(c); }
    { Case c; c.name = "bf16 B2 H2 dk64 dv64 L300 relu decay rmsnorm"; c.B = 2; c.H = 2; c.L = 300;
      c.fm = CHELA_FEATURE_RELU; c.decay = true; c.norm = CHELA_ATTN_NORM_RMSNORM; add(c); }
    { Case c; c.name = "bf16 B1 H2 dk64 dv64 L200 silu state"; c.H = 2; c.L = 200; c.fm = CHELA_FEATURE_SILU;
      c.state_in = c.state_out = true; add(c); }
    { Case c; c.name = "bf16 segments=3 dk128 dv128 L1000 decay state"; c.H = 2; c.dk = 128; c.dv = 128;
      c.L = 1000; c.decay = c.state_in = c.state_out = true; c.segments = 3; add(c); }
    { Case c; c.name = "bf16 segments=5 elu1 rmsnorm L777"; c.H = 1; c.dk = 64; c.dv = 64; c.L = 777;
      c.fm = CHELA_FEATURE_ELU1; c.norm = CHELA_ATTN_NORM_RMSNORM; c.segments = 5; add(c); }
    { Case c; c.name = "bf16 alias state_in=state_out segments=2"; c.H = 2; c.L = 500; c.decay = true;
      c.state_in = true; c.alias_state = true; c.segments = 2; add(c); }
    { Case c; c.name = "bf16 alias state_in=state_out"; c.H = 2; c.L = 130; c.state_in = true; c.alias_state = true;
      add(c); }
    { Case c; c.name = "bf16 B2 H1 dk128 dv1024 L2048 decay auto-seg"; c.B = 2; c.dk = 128; c.dv = 1024;
      c.L = 2048; c.decay = true; c.state_out = true; add(c); }
    { Case c; c.name = "bf16 B2 H2 dk128 dv192 L333 decay rmsnorm state"; c.B = 2; c.H = 2; c.dk = 128;
      c.dv = 192; c.L = 333; c.decay = c.state_in = c.state_out = true; c.norm = CHELA_ATTN_NORM_RMSNORM; add(c); }
    { Case c; c.name = "f16 B1 H1 dk64 dv136 L129 silu segments=2 state"; c.dtype = hf; c.dk = 64; c.dv = 136;
      c.L = 129; c.fm = CHELA_FEATURE_SILU; c.segments = 2; c.state_out = true; add(c); }
    { Case c; c.name = "f16 B2 H2 dk128 dv64 L1000 decay state"; c.dtype = hf; c.B = 2; c.H = 2; c.dk = 128;
      c.L = 1000; c.decay = c.state_in = c.state_out = true; add(c); }
    { Case c; c.name = "f16 B1 H1 dk64 dv64 L65 rmsnorm"; c.dtype = hf; c.L = 65; c.norm = CHELA_ATTN_NORM_RMSNORM;
      add(c); }
    for (int64_t L : {1, 65, 1000}) {
        Case c; c.name = "f32 B2 H2 dk64 dv48 decay state L" + std::to_string(L); c.dtype = f32; c.B = 2; c.H = 2;
        c.dv = 48; c.L = L; c.decay = c.state_in = c.state_out = true; add(c);
    }
    { Case c; c.name = "f32 B1 H1 dk256 dv64 L300 silu rmsnorm"; c.dtype = f32; c.dk = 256; c.L = 300;
      c.fm = CHELA_FEATURE_SILU; c.norm = CHELA_ATTN_NORM_RMSNORM; add(c); }

    std::mt19937_64 rng(std::random_device{}());
    int failed = 0, ran = 0;
    // Every case under both generations of the tensor-core kernel: wgmma (sm_90a; elsewhere, and for
    // dk > 128, this falls back to mma.sync) and mma.sync. The fp32 cases take the SIMT path either way.
    // wgmma runs with one and with two warpgroups per CTA (two forced even where there is one value
    // block: the second warpgroup is then out of range and must write nothing).
    // Loads by TMA (dk, dv multiples of 64) and by cp.async (CHELA_CUDA_LA_TMA=0, and the other shapes).
    struct Variant { const char* mma; const char* groups; const char* tma; };
    for (const Variant var : {Variant{"wgmma", "2", "1"}, Variant{"wgmma", "1", "1"}, Variant{"wgmma", "2", "0"},
                              Variant{"sync", "1", "0"}}) {
        const char* mma = var.mma;
        setenv("CHELA_CUDA_LA_MMA", mma, 1);
        setenv("CHELA_CUDA_LA_GROUPS", var.groups, 1);
        setenv("CHELA_CUDA_LA_TMA", var.tma, 1);
        std::printf("-- CHELA_CUDA_LA_MMA=%s CHELA_CUDA_LA_GROUPS=%s CHELA_CUDA_LA_TMA=%s\n", mma, var.groups, var.tma);
        for (const Case& c : cases) {
            if (!filter.empty() && c.name.find(filter) == std::string::npos) continue;
            if (quick && c.L > 1000) continue;
            if (small && !(c.name.find("L65") != std::string::npos || c.name.find("segments=5") != std::string::npos || c.name.find("dv136") != std::string::npos ||
                           c.name.find("alias") != std::string::npos || c.name.find("dk256") != std::string::npos))
                continue;
            if (c.dtype == f32 && !(var.groups[0] == '2' && var.tma[0] == '1')) continue;  // fp32: SIMT, once
            ++ran;
            if (!run_case(c, rng)) ++failed;
        }
    }
    chela::cuda::tiled::LinearAttentionParams p;
    p.B = 1; p.L = 64; p.e = 64; p.f = 64; p.H = 1; p.scale = 0.125f; p.attn_norm = CHELA_ATTN_NORM_NONE;
    // (bidirectional and denominator are supported since full_attention.cu: tests/native/test_cuda.cpp)
    chela::cuda::tiled::LinearAttentionParams wide = p; wide.e = 512; wide.f = 64;
    failed += !expect_error("dk=512 -> UNSUPPORTED", CHELA_ERR_UNSUPPORTED, wide);
    chela::cuda::tiled::LinearAttentionParams out16 = p; out16.dtype = CHELA_DTYPE_F32; out16.out_dtype = CHELA_DTYPE_BF16;
    failed += !expect_error("f32 in, bf16 out -> DTYPE", CHELA_ERR_DTYPE, out16);
    chela::cuda::tiled::LinearAttentionParams odd = p; odd.e = 60; odd.f = 64;
    failed += !expect_error("dk=60 bf16 -> UNSUPPORTED", CHELA_ERR_UNSUPPORTED, odd);
    chela::cuda::tiled::LinearAttentionParams i32 = p; i32.dtype = CHELA_DTYPE_I32;
    failed += !expect_error("i32 -> DTYPE", CHELA_ERR_DTYPE, i32);
    chela::cuda::tiled::LinearAttentionParams rms = p; rms.attn_norm = CHELA_ATTN_NORM_RMSNORM;
    failed += !expect_error("rmsnorm without weight -> INVALID_ARGUMENT", CHELA_ERR_INVALID_ARGUMENT, rms);
    setenv("CHELA_CUDA_LA_MMA", "hmma", 1);
    failed += !expect_error("CHELA_CUDA_LA_MMA=hmma -> INVALID_ARGUMENT", CHELA_ERR_INVALID_ARGUMENT, p);
    unsetenv("CHELA_CUDA_LA_MMA");
    setenv("CHELA_CUDA_LA_GROUPS", "3", 1);
    failed += !expect_error("CHELA_CUDA_LA_GROUPS=3 -> INVALID_ARGUMENT", CHELA_ERR_INVALID_ARGUMENT, p);
    unsetenv("CHELA_CUDA_LA_GROUPS");
    setenv("CHELA_CUDA_LA_MMA", "wgmma", 1);
    setenv("CHELA_CUDA_LA_TMA", "yes", 1);
    chela::cuda::tiled::LinearAttentionParams bf16p = p; bf16p.dtype = CHELA_DTYPE_BF16;
    const bool hopper = prop.major == 9;  // elsewhere the wgmma kernel (and its TMA switch) is not used
    if (hopper) failed += !expect_error("CHELA_CUDA_LA_TMA=yes -> INVALID_ARGUMENT", CHELA_ERR_INVALID_ARGUMENT, bf16p);
    unsetenv("CHELA_CUDA_LA_TMA");
    unsetenv("CHELA_CUDA_LA_MMA");
    std::printf("%s: %d of %d cases failed\n", failed ? "FAILED" : "PASSED", failed, ran + 7 + (hopper ? 1 : 0));
    return failed ? 1 : 0;
}
