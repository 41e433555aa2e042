// chela-bench: times the CPU backend's linear attention, short-long convolution and a full CHELA
// layer at one shape, next to the naive O(L^2) formulas (at L <= 8192) in the same run.
//
//   chela-bench [--op la|conv|layer|all] [--B 1] [--H 1] [--L 8192] [--e 128] [--f 1024]
//               [--d 1024] [--lk L] [--threads 0] [--reps 5] [--no-naive]
//   chela-bench --op decode --model DIR [--context 1024,8192,32768] [--steps 64] [--threads 0]
//   chela-bench --op forward --model DIR [--device cpu|cuda] [--B 1] [--context 4096,16384] [--reps 5]
//
// decode: streaming on a causal LM checkpoint: prefill a random prompt of each context length
// (time and tokens/s), then --steps single-token decode steps (median ms/token and tokens/s).
// forward: the whole-model forward (chela_model_forward + chela_context_synchronize) on random
// tokens of each length, inputs and logits in the context's memory (device tensors on CUDA): median
// ms and tokens/s. The Java peer is ModelForwardBenchmark (JMH), same model, shapes and placement.
// Prints, per op: median ms over --reps runs (after one warm-up), effective GB/s counting the
// fewest bytes the op must move (inputs read once, outputs written once, f32), and the naive time.
#include <chela/chela.h>

#include "core/context.h"
#include "core/thread_pool.h"
#include "cpu/layer_ops.h"
#include "model/forward.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace {

struct Args {
    std::string op = "all";
    int64_t B = 1, H = 1, L = 8192, e = 128, f = 1024, d = 1024, lk = 0;
    int threads = 0, reps = 5;
    bool naive = true;
    std::string model, contexts = "1024,8192,32768";
    int steps = 64;
    std::string device = "cpu";
};

Args parse(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        std::string k = argv[i];
        auto next = [&]() -> const char* {
            if (i + 1 >= argc) { std::fprintf(stderr, "missing value for %s\n", k.c_str()); std::exit(2); }
            return argv[++i];
        };
        if (k == "--op") a.op = next();
        else if (k == "--B") a.B = std::atoll(next());
        else if (k == "--H") a.H = std::atoll(next());
        else if (k == "--L") a.L = std::atoll(next());
        else if (k == "--e") a.e = std::atoll(next());
        else if (k == "--f") a.f = std::atoll(next());
        else if (k == "--d") a.d = std::atoll(next());
        else if (k == "--lk") a.lk = std::atoll(next());
        else if (k == "--threads") a.threads = std::atoi(next());
        else if (k == "--reps") a.reps = std::atoi(next());
        else if (k == "--no-naive") a.naive = false;
        else if (k == "--model") a.model = next();
        else if (k == "--context") a.contexts = next();
        else if (k == "--steps") a.steps = std::atoi(next());
        else if (k == "--device") a.device = next();
        else { std::fprintf(stderr, "unknown option %s (see the header of bench.cpp)\n", k.c_str()); std::exit(2); }
    }
    if (a.lk <= 0) a.lk = a.L;
    return a;
}

std::vector<float> randn(size_t n, uint64_t seed, float scale = 1.0f) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    return v;
}

chela_tensor view(std::vector<float>& v, std::initializer_list<int64_t> shape) {
    chela_tensor t{};
    t.data = v.data();
    t.dtype = CHELA_DTYPE_F32;
    t.rank = static_cast<int32_t>(shape.size());
    int i = 0;
    for (int64_t s : shape) t.shape[i++] = s;
    return t;
}

double seconds_of(const std::function<void()>& fn) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median_ms(int reps, const std::function<void()>& fn) {
    fn();  // warm-up
    std::vector<double> t;
    for (int r = 0; r < reps; ++r) t.push_back(seconds_of(fn) * 1e3);
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

void check(chela_status st) {
    if (st != CHELA_OK) {
        std::fprintf(stderr, "error: %s: %s\n", chela_status_name(st), chela_last_error());
        std::exit(1);
    }
}

void report(const char* op, const Args& a, double ms, double bytes, double naive_ms) {
    std::printf("%-6s B%lld H%lld L%lld  %10.3f ms  %7.2f GB/s", op, (long long)a.B, (long long)a.H,
                (long long)a.L, ms, bytes / (ms * 1e-3) / 1e9);
    if (naive_ms > 0) std::printf("  naive %10.1f ms  speed-up %6.1fx", naive_ms, naive_ms / ms);
    std::printf("\n");
    std::fflush(stdout);
}

// Naive causal linear attention (no decay, identity map, no norm): O(L^2), the formula as written,
// parallel over output rows so it uses the same cores.
void naive_attention(chela::ThreadPool& pool, const Args& a, const float* q, const float* k,
                     const float* v, float* o, float s) {
    const int64_t dk = a.e / a.H, dv = a.f / a.H;
    pool.parallel_for(a.B * a.L, [&](int64_t bt) {
        const int64_t b = bt / a.L, t = bt % a.L;
        for (int64_t h = 0; h < a.H; ++h) {
            float* out = o + (b * a.L + t) * a.f + h * dv;
            std::fill(out, out + dv, 0.0f);
            const float* qt = q + (b * a.L + t) * a.e + h * dk;
            for (int64_t j = 0; j <= t; ++j) {
                const float* kj = k + (b * a.L + j) * a.e + h * dk;
                float dot = 0;
                for (int64_t c = 0; c < dk; ++c) dot += qt[c] * kj[c];
                const float* vj = v + (b * a.L + j) * a.f + h * dv;
                for (int64_t c = 0; c < dv; ++c) out[c] += s * dot * vj[c];
            }
        }
    });
}

void bench_attention(chela_context* ctx, const Args& a) {
    auto q = randn(a.B * a.L * a.e, 1), k = randn(a.B * a.L * a.e, 2), v = randn(a.B * a.L * a.f, 3);
    std::vector<float> o(a.B * a.L * a.f);
    auto qt = view(q, {a.B, a.L, a.e}), kt = view(k, {a.B, a.L, a.e}), vt = view(v, {a.B, a.L, a.f});
    auto ot = view(o, {a.B, a.L, a.f});
    chela_linear_attention_options opts;
    check(chela_linear_attention_options_init(&opts, a.e, static_cast<int32_t>(a.H)));
    opts.attn_norm = CHELA_ATTN_NORM_NONE;
    const double ms = median_ms(a.reps, [&] {
        check(chela_linear_attention(ctx, &qt, &kt, &vt, nullptr, nullptr, nullptr, nullptr, &ot,
                                     nullptr, nullptr, &opts));
    });
    double naive = 0;
    if (a.naive && a.L <= 8192) {
        std::vector<float> o2(o.size());
        naive = seconds_of([&] { naive_attention(*ctx->pool, a, q.data(), k.data(), v.data(), o2.data(), opts.scale); }) * 1e3;
        double num = 0, den = 0;
        for (size_t i = 0; i < o.size(); ++i) { num += (o[i] - o2[i]) * (double)(o[i] - o2[i]); den += (double)o2[i] * o2[i]; }
        std::printf("  (chunked vs naive rel-L2 %.2e)\n", std::sqrt(num / den));
    }
    report("la", a, ms, 4.0 * a.B * a.L * (2.0 * a.e + 2.0 * a.f), naive);
}

void naive_conv(chela::ThreadPool& pool, const Args& a, const float* x, const float* ws,
                const float* bs, int ks, const float* wl, const float* om, float* out) {
    const int64_t L = a.L, d = a.d, lk = a.lk;
    pool.parallel_for(a.B * d, [&](int64_t bc) {
        const int64_t b = bc / d, c = bc % d;
        std::vector<float> act(L);
        for (int64_t t = 0; t < L; ++t) {
            float s = bs[c];
            for (int j = 0; j < ks && j <= t; ++j) s += ws[c * ks + j] * x[(b * L + t - j) * d + c];
            act[t] = chela::cpu::silu(s);
        }
        for (int64_t t = 0; t < L; ++t) {
            float g = 0;
            for (int64_t j = 0; j <= std::min(t, lk - 1); ++j) g += wl[c * lk + j] * act[t - j];
            out[(b * L + t) * d + c] = chela::cpu::silu(g + om[c] * x[(b * L + t) * d + c]);
        }
    });
}

void bench_conv(chela_context* ctx, const Args& a) {
    const int ks = 3;
    auto x = randn(a.B * a.L * a.d, 4), ws = randn(a.d * ks, 5, 0.5f), bs = randn(a.d, 6, 0.1f);
    auto wl = randn(a.d * a.lk, 7, 1.0f / std::sqrt((float)a.lk)), om = randn(a.d, 8);
    std::vector<float> o(x.size());
    auto xt = view(x, {a.B, a.L, a.d}), wst = view(ws, {a.d, ks}), bst = view(bs, {a.d});
    auto wlt = view(wl, {a.d, a.lk}), omt = view(om, {a.d}), ot = view(o, {a.B, a.L, a.d});
    const double ms = median_ms(a.reps, [&] {
        check(chela_short_long_conv(ctx, &xt, &wst, &bst, &wlt, nullptr, &omt, &ot, 1));
    });
    double naive = 0;
    if (a.naive && a.L <= 8192) {
        std::vector<float> o2(o.size());
        naive = seconds_of([&] { naive_conv(*ctx->pool, a, x.data(), ws.data(), bs.data(), ks, wl.data(), om.data(), o2.data()); }) * 1e3;
    }
    report("conv", a, ms, 4.0 * (2.0 * a.B * a.L * a.d + a.d * (a.lk + ks + 2.0)), naive);
}

void bench_layer(chela_context* ctx, const Args& a) {
    chela_model_config cfg{};
    cfg.d_model = (int32_t)a.d; cfg.z_dim = (int32_t)a.e; cfg.v_dim = (int32_t)a.f;
    cfg.n_heads = (int32_t)a.H; cfg.n_layers = 1; cfg.short_kernel = 3; cfg.long_kernel = (int32_t)a.lk;
    cfg.max_len = (int32_t)a.L; cfg.causal = 1; cfg.prenorm = 1; cfg.norm = CHELA_NORM_LAYERNORM;
    cfg.feature_map = CHELA_FEATURE_IDENTITY; cfg.attn_norm = CHELA_ATTN_NORM_RMSNORM;
    cfg.attn_scale = 1.0f / std::sqrt((float)(a.e / a.H)); cfg.eps = 1e-5f;
    const int64_t d = a.d, e = a.e, f = a.f, pw = 2 * d + e + f;
    std::vector<std::vector<float>> keep;
    auto w = [&](size_t n, float scale) { keep.push_back(randn(n, 100 + keep.size(), scale)); return keep.back().data(); };
    auto ones = [&](size_t n) { keep.emplace_back(n, 1.0f); return keep.back().data(); };
    chela::LayerParams lp;
    lp.norm_w = ones(d); lp.norm_b = w(d, 0.1f);
    lp.short_w = w(d * 3, 0.5f); lp.short_b = w(d, 0.1f);
    lp.long_w = w(d * a.lk, 1.0f / std::sqrt((float)a.lk)); lp.omega = w(d, 1.0f);
    lp.v_w = w(f * d, 1.0f / std::sqrt((float)d)); lp.v_b = w(f, 0.1f);
    lp.mx_w = w(pw * d, 1.0f / std::sqrt((float)d)); lp.mx_b = w(pw, 0.1f);
    lp.qk_gamma = w(2 * e, 1.0f); lp.qk_beta = w(2 * e, 0.1f);
    lp.attn_norm_w = ones(f);
    lp.h_w = w(d * f, 1.0f / std::sqrt((float)f)); lp.h_b = w(d, 0.1f);
    auto x = randn(a.B * a.L * d, 9);
    std::vector<float> y(x.size());
    const double ms = median_ms(a.reps, [&] {
        chela::layer_forward(*ctx->pool, cfg, lp, a.B, a.L, x.data(), y.data());
    });
    const double weights = d * 3 + d * a.lk + f * d + pw * d + d * f;
    report("layer", a, ms, 4.0 * (2.0 * a.B * a.L * d + weights), 0);
    std::printf("  layer d%lld e%lld f%lld: %.0f tokens/s\n", (long long)d, (long long)e, (long long)f,
                a.B * a.L / (ms * 1e-3));
}

void bench_decode(chela_context* ctx, const Args& a) {
    chela_model* model = nullptr;
    check(chela_model_load(ctx, a.model.c_str(), &model));
    chela_model_config cfg{};
    check(chela_model_get_config(model, &cfg));
    std::printf("decode: %s (d%d e%d f%d, %d layers, Lk %d, vocab %d)\n", a.model.c_str(), cfg.d_model, cfg.z_dim,
                cfg.v_dim, cfg.n_layers, cfg.long_kernel, cfg.vocab_size);
    std::mt19937 rng(7);
    std::vector<float> logits(static_cast<size_t>(cfg.vocab_size));
    for (size_t at = 0; at < a.contexts.size();) {
        size_t comma = a.contexts.find(',', at);
        if (comma == std::string::npos) comma = a.contexts.size();
        const int64_t context = std::atoll(a.contexts.substr(at, comma - at).c_str());
        at = comma + 1;
        std::vector<int32_t> ids(static_cast<size_t>(context));
        for (auto& id : ids) id = static_cast<int32_t>(rng() % static_cast<uint32_t>(cfg.vocab_size));
        chela_state* st = nullptr;
        check(chela_state_create(model, 1, &st));
        chela_tensor in{}, out{};
        in.data = ids.data(); in.dtype = CHELA_DTYPE_I32; in.rank = 2; in.shape[0] = 1; in.shape[1] = context;
        out.data = logits.data(); out.dtype = CHELA_DTYPE_F32; out.rank = 2; out.shape[0] = 1; out.shape[1] = cfg.vocab_size;
        const double prefill_ms = seconds_of([&] { check(chela_state_prefill(st, &in, &out)); }) * 1e3;
        std::vector<double> step_ms;
        int32_t token = ids.back();
        in.data = &token; in.rank = 1; in.shape[0] = 1;
        for (int i = 0; i < a.steps; ++i) {
            step_ms.push_back(seconds_of([&] { check(chela_state_decode(st, &in, &out)); }) * 1e3);
            token = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
        }
        std::sort(step_ms.begin(), step_ms.end());
        const double med = step_ms[step_ms.size() / 2];
        std::printf("  context %6lld: prefill %9.1f ms (%6.0f tokens/s); decode median %.3f ms/token "
                    "(%.0f tokens/s), p90 %.3f ms over %d steps\n",
                    (long long)context, prefill_ms, context / (prefill_ms * 1e-3), med, 1e3 / med,
                    step_ms[step_ms.size() * 9 / 10], a.steps);
        check(chela_state_destroy(st));
    }
    check(chela_model_destroy(model));
}

std::vector<int64_t> lengths_of(const std::string& list) {
    std::vector<int64_t> out;
    for (size_t at = 0; at < list.size();) {
        size_t comma = list.find(',', at);
        if (comma == std::string::npos) comma = list.size();
        out.push_back(std::atoll(list.substr(at, comma - at).c_str()));
        at = comma + 1;
    }
    return out;
}

void bench_forward(chela_context* ctx, const Args& a) {
    chela_model* model = nullptr;
    check(chela_model_load(ctx, a.model.c_str(), &model));
    chela_model_config cfg{};
    check(chela_model_get_config(model, &cfg));
    if (cfg.vocab_size <= 0) {
        std::fprintf(stderr, "forward: the bench feeds token ids; %s has no vocabulary\n", a.model.c_str());
        std::exit(2);
    }
    std::printf("forward on %s: %s (d%d e%d f%d H%d, %d layers, Lk %d, vocab %d)\n", a.device.c_str(),
                a.model.c_str(), cfg.d_model, cfg.z_dim, cfg.v_dim, cfg.n_heads, cfg.n_layers, cfg.long_kernel,
                cfg.vocab_size);
    std::mt19937 rng(7);
    for (int64_t L : lengths_of(a.contexts)) {
        std::vector<int32_t> ids(static_cast<size_t>(a.B * L));
        for (auto& id : ids) id = static_cast<int32_t>(rng() % static_cast<uint32_t>(cfg.vocab_size));
        chela_tensor host_in{}, in{}, out{};
        host_in.data = ids.data(); host_in.dtype = CHELA_DTYPE_I32; host_in.rank = 2;
        host_in.shape[0] = a.B; host_in.shape[1] = L;
        const int64_t in_shape[2] = {a.B, L};
        const int64_t out_shape[3] = {a.B, L, cfg.vocab_size};
        const int32_t out_rank = cfg.task == CHELA_TASK_LM ? 3 : 2;
        const int64_t cls_shape[2] = {a.B, cfg.num_classes};
        check(chela_tensor_allocate(ctx, CHELA_DTYPE_I32, 2, in_shape, &in));
        check(chela_tensor_copy(ctx, &host_in, &in));
        check(chela_tensor_allocate(ctx, CHELA_DTYPE_F32, out_rank, out_rank == 3 ? out_shape : cls_shape, &out));
        const double ms = median_ms(a.reps, [&] {
            check(chela_model_forward(model, &in, nullptr, &out));
            check(chela_context_synchronize(ctx));
        });
        std::printf("  forward B%lld L%6lld: %9.3f ms  (%9.0f tokens/s)\n", (long long)a.B, (long long)L, ms,
                    a.B * L / (ms * 1e-3));
        check(chela_tensor_release(ctx, &in));
        check(chela_tensor_release(ctx, &out));
    }
    check(chela_model_destroy(model));
}

}  // namespace

int main(int argc, char** argv) {
    const Args a = parse(argc, argv);
    chela_context* ctx = nullptr;
    if (a.device == "cuda")
        check(chela_context_create_cuda(0, &ctx));
    else
        check(chela_context_create_cpu(a.threads, &ctx));
    int32_t threads = 0;
    check(chela_context_threads(ctx, &threads));
    std::printf("chela-bench: %s, %d threads, e%lld f%lld d%lld Lk%lld, median of %d\n",
                chela_build_info(), threads, (long long)a.e, (long long)a.f, (long long)a.d,
                (long long)a.lk, a.reps);
    if (a.op == "la" || a.op == "all") bench_attention(ctx, a);
    if (a.op == "conv" || a.op == "all") bench_conv(ctx, a);
    if (a.op == "layer" || a.op == "all") bench_layer(ctx, a);
    if (a.op == "decode") bench_decode(ctx, a);
    if (a.op == "forward") bench_forward(ctx, a);
    chela_context_destroy(ctx);
    return 0;
}
