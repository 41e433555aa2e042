// Entry of the CUDA short-long convolution: converts the small per-channel parameters to f32 on
// the device, picks the long-conv path (direct for short kernels, else the on-chip FFT where the
// sequence fits one CTA, its block variant past that, else cuFFT) and runs it.
#include "short_long_conv.h"

#include "conv_common.cuh"
#include "env_switch.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

namespace chela::cuda {

namespace {

__global__ void to_f32(float* dst, const void* src, int dtype, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        dst[i] = conv::load_any(src, dtype, i);
}

int64_t direct_threshold() {
    return std::min<int64_t>(env_count("CHELA_CUDA_CONV_DIRECT_MAX", kDefaultDirectMaxTaps), kDirectMaxTapsCap);
}

}  // namespace

ConvPath choose_conv_path(int device, const cpu::ShortLongConvParams& p, int dtype) {
    const int64_t K = std::min(p.Lk, p.L);
    if (K <= direct_threshold()) return ConvPath::kDirect;
    const std::string fft = env_switch("CHELA_CUDA_CONV_FFT", {"chip", "tc", "cufft", "blocks", "cluster"});
    if (fft == "cufft") return ConvPath::kFftCufft;
    // Forced (tests, A/B timing): the block path at any length it takes, the cluster where it fits.
    if (fft == "blocks" && conv::blocks_fft_fits(device, p, dtype)) return ConvPath::kFftBlocks;
    if (fft == "cluster" && conv::cluster_fft_fits(device, p, dtype)) return ConvPath::kFftCluster;
    if (!conv::chip_fft_fits(device, p, dtype)) {  // past one CTA; "chip" (the fp32 passes) has neither variant
        if (fft != "chip" && conv::blocks_fft_fits(device, p, dtype)) return ConvPath::kFftBlocks;
        if (fft != "chip" && conv::cluster_fft_fits(device, p, dtype)) return ConvPath::kFftCluster;
        return ConvPath::kFftCufft;
    }
    // The tensor-core transform is the default (run 38, H200: 1.64 vs 1.81 ms per call at B4 C1024
    // L16384, same accuracy); it falls back to the fp32 passes itself for f32 columns and for
    // transforms other than 16384 points. "chip" forces the fp32 passes.
    return fft == "chip" ? ConvPath::kFft : ConvPath::kFftTensorCores;
}

void short_long_conv(int device, void* stream_ptr, const cpu::ShortLongConvParams& p, const ConvTensors& t,
                     ConvPath path, SpectraCache* cache, int cache_slot) {
    if (p.B == 0 || p.L == 0 || p.d == 0) return;
    const bool chip = path == ConvPath::kFft || path == ConvPath::kFftTensorCores;
    if (path == ConvPath::kAuto) path = choose_conv_path(device, p, t.dtype);  // checks the fit itself
    else if (chip && !conv::chip_fft_fits(device, p, t.dtype)) path = ConvPath::kFftCufft;
    else if (path == ConvPath::kFftCluster && !conv::cluster_fft_fits(device, p, t.dtype)) path = ConvPath::kFftCufft;
    else if (path == ConvPath::kFftBlocks && !conv::blocks_fft_fits(device, p, t.dtype)) path = ConvPath::kFftCufft;
    conv::check(cudaSetDevice(device), "cudaSetDevice");
    auto stream = static_cast<cudaStream_t>(stream_ptr);

    // ws [d, ks] | bs [d] | omega [d] in f32: the caller's tensors where they are f32 already, else
    // converted into one buffer (three small launches that a call with f32 weights skips).
    const int64_t nw = p.d * p.ks;
    conv::DeviceBuffer params(sizeof(float) * (nw + 2 * p.d), stream, "short_long_conv (CUDA): parameter buffer");
    struct Cast {
        float* dst;
        const void* src;
        int dtype;
        int64_t n;
        const float* f32() const { return dtype == CHELA_DTYPE_F32 ? static_cast<const float*>(src) : dst; }
    };
    const Cast casts[] = {{params.as<float>(), t.short_w, t.w_dtypes[0], nw},
                          {params.as<float>() + nw, t.short_b, t.w_dtypes[1], p.d},
                          {params.as<float>() + nw + p.d, t.omega, t.w_dtypes[4], p.d}};
    for (const auto& c : casts) {
        if (c.dtype == CHELA_DTYPE_F32) continue;
        to_f32<<<static_cast<unsigned>(std::min<int64_t>((c.n + 255) / 256, 1024)), 256, 0, stream>>>(c.dst, c.src,
                                                                                                      c.dtype, c.n);
        conv::check(cudaGetLastError(), "parameter conversion launch");
    }
    const float* ws = casts[0].f32();
    const float* bs = casts[1].f32();
    const float* om = casts[2].f32();

    conv::ConvArgs a{};
    a.x = t.x;
    a.out = t.out;
    a.dtype = t.dtype;
    a.channels_major = t.channels_major;
    a.short_w = ws;
    a.short_b = bs;
    a.omega = om;
    a.long_w = t.long_w;
    a.long_w_rev = p.causal ? nullptr : t.long_w_rev;
    a.long_dtype = t.w_dtypes[2];
    a.long_rev_dtype = t.w_dtypes[3];
    // Cached kernel spectra (held until the columns' work is queued), or null: computed per call.
    std::shared_ptr<const SpectraCache::Entry> cached;
    const bool chip_path = path == ConvPath::kFft || path == ConvPath::kFftTensorCores;
    if (cache != nullptr && (chip_path || path == ConvPath::kFftCluster || path == ConvPath::kFftBlocks)) {
        const SpectraCache::Key key{cache_slot, static_cast<int>(path), t.dtype, p.L, stream_ptr};
        const int64_t bytes = chip_path                         ? conv::chip_spectra_bytes(p)
                              : path == ConvPath::kFftCluster ? conv::cluster_spectra_bytes(p)
                                                                : conv::blocks_spectra_bytes(p);
        cached = cache->acquire(key, bytes, [&](void* dst) {
            if (chip_path) conv::chip_spectra(stream, p, a, path == ConvPath::kFftTensorCores, dst);
            else if (path == ConvPath::kFftCluster) conv::cluster_spectra(stream, p, a, dst);
            else conv::blocks_spectra(stream, p, a, dst);
        });
        if (cached) a.spectra = SpectraCache::data(*cached);
    }
    if (chip_path) return conv::run_chip_fft(stream, p, a, path == ConvPath::kFftTensorCores);
    if (path == ConvPath::kFftCluster) return conv::run_cluster_fft(stream, p, a);
    if (path == ConvPath::kFftBlocks) return conv::run_blocks_fft(stream, p, a);
    // The direct and cuFFT paths read token rows: channel-major x and out are transposed around them.
    std::optional<conv::DeviceBuffer> rows;
    if (t.channels_major) {
        const int64_t bytes = p.B * p.L * p.d * static_cast<int64_t>(chela_dtype_size(t.dtype));
        rows.emplace(static_cast<size_t>(2 * bytes), stream, "short_long_conv (CUDA): token rows");
        conv::transpose(stream, t.dtype, t.x, rows->as<char>(), p.B, p.d, p.L);
        a.x = rows->as<char>();
        a.out = rows->as<char>() + bytes;
        a.channels_major = false;
    }
    if (path == ConvPath::kDirect) conv::run_direct(stream, p, a);
    else conv::run_fft(device, stream, p, a);
    if (rows) conv::transpose(stream, t.dtype, a.out, t.out, p.B, p.L, p.d);
}

}  // namespace chela::cuda
