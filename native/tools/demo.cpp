// chela-demo: the CPU main job until a trained model ships. Writes a small random-weight
// checkpoint (the tests' writer) into <dir> if none is there, loads it through the C ABI and
// times a forward pass.
//
//   chela-demo <dir> [--batch 2] [--tokens 2048] [--threads 0] [--reps 3] [--write-only]
#include <chela/chela.h>

#include "support/checkpoint_writer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace {

void check(chela_status st, const char* what) {
    if (st != CHELA_OK) {
        std::fprintf(stderr, "chela-demo: %s failed: %s: %s\n", what, chela_status_name(st), chela_last_error());
        std::exit(1);
    }
}

bool exists(const std::string& path) { return std::ifstream(path).good(); }

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: chela-demo <dir> [--batch B] [--tokens L] [--threads T] [--reps R]\n");
        return 2;
    }
    const std::string dir = argv[1];
    int64_t B = 2, L = 2048;
    int threads = 0, reps = 3;
    bool write_only = false;
    for (int i = 2; i < argc; i += 2) {
        const std::string k = argv[i];
        if (k == "--write-only") { write_only = true; --i; continue; }
        if (i + 1 >= argc) { std::fprintf(stderr, "chela-demo: %s needs a value\n", k.c_str()); return 2; }
        if (k == "--batch") B = std::atoll(argv[i + 1]);
        else if (k == "--tokens") L = std::atoll(argv[i + 1]);
        else if (k == "--threads") threads = std::atoi(argv[i + 1]);
        else if (k == "--reps") reps = std::atoi(argv[i + 1]);
        else { std::fprintf(stderr, "chela-demo: unknown option %s\n", k.c_str()); return 2; }
    }

    if (!exists(dir + "/config.json") || !exists(dir + "/model.safetensors")) {
        chela_model_config cfg = chela::test::small_config();
        cfg.d_model = 256; cfg.z_dim = 64; cfg.v_dim = 512; cfg.n_layers = 4; cfg.vocab_size = 256;
        cfg.max_len = 4096; cfg.long_kernel = 4096; cfg.decay = 1; cfg.ffn_dim = 512;
        cfg.attn_scale = 1.0f / std::sqrt(64.0f);
        chela::test::write_checkpoint(dir, cfg, chela::test::random_weights(cfg, 20261122));
        std::printf("wrote a random-weight demo checkpoint to %s\n", dir.c_str());
    }
    if (write_only) return 0;

    chela_context* ctx = nullptr;
    check(chela_context_create_cpu(threads, &ctx), "context");
    chela_model* model = nullptr;
    check(chela_model_load(ctx, dir.c_str(), &model), "load");
    chela_model_config cfg{};
    check(chela_model_get_config(model, &cfg), "config");
    int32_t nthreads = 0;
    chela_context_threads(ctx, &nthreads);
    std::printf("%s\nmodel: %d layers, d=%d e=%d f=%d heads=%d vocab=%d, %s\n", chela_build_info(),
                cfg.n_layers, cfg.d_model, cfg.z_dim, cfg.v_dim, cfg.n_heads, cfg.vocab_size,
                cfg.causal ? "causal" : "bidirectional");

    std::vector<int32_t> tokens(static_cast<size_t>(B * L));
    std::mt19937 rng(7);
    for (auto& t : tokens) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(cfg.vocab_size));
    std::vector<float> logits(static_cast<size_t>(B * L * cfg.vocab_size));
    chela_tensor in{}, out{};
    in.data = tokens.data(); in.dtype = CHELA_DTYPE_I32; in.rank = 2; in.shape[0] = B; in.shape[1] = L;
    out.data = logits.data(); out.dtype = CHELA_DTYPE_F32; out.rank = 3;
    out.shape[0] = B; out.shape[1] = L; out.shape[2] = cfg.vocab_size;

    check(chela_model_forward(model, &in, nullptr, &out), "forward (warm-up)");
    std::vector<double> ms;
    for (int r = 0; r < reps; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        check(chela_model_forward(model, &in, nullptr, &out), "forward");
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    const double med = ms[ms.size() / 2];
    double checksum = 0;
    for (float v : logits) checksum += v;
    std::printf("forward [%lld, %lld] -> logits [%lld, %lld, %d] on CPU (%d threads): %.1f ms, %.0f tokens/s "
                "(checksum %.4f)\n",
                (long long)B, (long long)L, (long long)B, (long long)L, cfg.vocab_size, nthreads, med,
                B * L / (med * 1e-3), checksum);
    check(chela_model_destroy(model), "destroy model");
    check(chela_context_destroy(ctx), "destroy context");
    return 0;
}
