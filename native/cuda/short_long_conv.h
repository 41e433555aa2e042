// CUDA short-long convolution (forward). Host-callable, no CUDA types: pointers are device memory.
// Same operation and parameters as cpu::short_long_conv (spec section 2): short depthwise conv +
// bias -> SiLU -> long depthwise conv (causal, or causal + anti-causal) -> + omega * x -> SiLU.
#pragma once

#include "cpu/short_long_conv.h"
#include "spectra_cache.h"

#include <cstdint>

namespace chela::cuda {

// Storage dtypes: x and out share one of f32/bf16/f16 (`dtype`); each weight tensor has its own
// (`w_dtypes`: short_w, short_b, long_w, long_w_rev, omega), converted to f32 on the device.
// Compute is fp32 throughout.
struct ConvTensors {
    const void* x = nullptr;
    const void* short_w = nullptr;    // [d, ks]
    const void* short_b = nullptr;    // [d]
    const void* long_w = nullptr;     // [d, Lk]
    const void* long_w_rev = nullptr; // [d, Lk], bidirectional only, else null
    const void* omega = nullptr;      // [d]
    void* out = nullptr;
    int32_t dtype = 0;
    bool channels_major = false;  // x and out [B, d, L] (CHELA_CONV_LAYOUT_BDL), else [B, L, d]
    int32_t w_dtypes[5] = {0, 0, 0, 0, 0};
};

// Which long-conv algorithm runs. kAuto: direct (on-chip sum) when min(Lk, L) <= the direct
// threshold, else FFT: the on-chip FFT (one CTA per column, conv_fft_chip.cu) where the sequence
// fits it (L + K <= 32768 on an H100), then its block variant (one-CTA transforms of 16384-sample
// blocks, conv_fft_blocks.cu: bf16/f16, L a multiple of 8, any length), else its cluster variant (2 or 4
// CTAs per column, conv_fft_cluster.cu: bf16/f16, L + K <= 131072, sm_90), else cuFFT. The on-chip
// FFT runs its transforms on the tensor cores where they apply (bf16/f16 columns, 16384 points:
// fft_smem_tc.cuh), else its fp32 passes. CHELA_CUDA_CONV_FFT=chip forces the fp32 passes, =tc the
// default, =cufft cuFFT, =blocks the block variant wherever it applies (also at short lengths),
// =cluster the cluster variant where it applies (A/B timing and tests). The threshold defaults to kDefaultDirectMaxTaps; the environment
// variable CHELA_CUDA_CONV_DIRECT_MAX overrides it (0 = always FFT; values are clamped to
// kDirectMaxTapsCap, what the direct kernel's shared memory allows) so the device bench can sweep it.
enum class ConvPath { kAuto, kDirect, kFft, kFftTensorCores, kFftCluster, kFftBlocks, kFftCufft };
constexpr int64_t kDirectMaxTapsCap = 256;
// Sweeps at B4 C1024 L16384 bf16: H100 run 2 (cuFFT) direct 1.76 ms vs FFT 2.07 at 128 taps, 2.24
// vs 2.07 at 192; H200 run 22 (on-chip FFT) direct 1.760 vs 1.787 at 128, 2.244 vs 1.785 at 192:
// the crossover moved from ~170 to ~131 taps.
constexpr int64_t kDefaultDirectMaxTaps = 128;

// Throws chela::Error (CHELA_ERR_DEVICE for CUDA/cuFFT failures, CHELA_ERR_OUT_OF_MEMORY when the
// device has no room for the FFT buffers). Work is queued on `stream`; nothing is synchronised.
// `cache` (optional): where the on-chip FFT paths keep the long kernels' spectra between calls, in
// the entry of `cache_slot`, which stands for these long weights (spectra_cache.h); the cuFFT and
// direct paths do not use it.
void short_long_conv(int device, void* stream, const cpu::ShortLongConvParams& p, const ConvTensors& t,
                     ConvPath path = ConvPath::kAuto, SpectraCache* cache = nullptr, int cache_slot = 0);

// The path kAuto picks for these parameters on this device (reads the environment overrides);
// kFft stands for the on-chip FFT, kFftTensorCores for its tensor-core variant, kFftCluster for the
// cluster variant, kFftBlocks for the block variant, kFftCufft for cuFFT.
ConvPath choose_conv_path(int device, const cpu::ShortLongConvParams& p, int dtype);

}  // namespace chela::cuda
