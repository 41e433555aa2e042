// Device helpers shared by the short-long convolution kernels (conv_direct.cu, conv_fft.cu) and
// their host-side error/allocation helpers. Internal to native/cuda.
#pragma once

#include <chela/chela.h>

#include "core/error.h"
#include "cpu/short_long_conv.h"
#include "stream_buffer.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace chela::cuda::conv {

template <typename T> __device__ __forceinline__ float load_f(const T* p);
template <> __device__ __forceinline__ float load_f(const float* p) { return *p; }
template <> __device__ __forceinline__ float load_f(const __nv_bfloat16* p) { return __bfloat162float(*p); }
template <> __device__ __forceinline__ float load_f(const __half* p) { return __half2float(*p); }

template <typename T> __device__ __forceinline__ void store_f(T* p, float v);
template <> __device__ __forceinline__ void store_f(float* p, float v) { *p = v; }
template <> __device__ __forceinline__ void store_f(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }
template <> __device__ __forceinline__ void store_f(__half* p, float v) { *p = __float2half_rn(v); }

// Element i of a tensor stored as `dtype` (f32/bf16/f16), for the weight-preparation kernels that
// read each weight tensor once per call (not worth a template instance per dtype).
__device__ __forceinline__ float load_any(const void* p, int dtype, int64_t i) {
    if (dtype == CHELA_DTYPE_BF16) return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    if (dtype == CHELA_DTYPE_F16) return __half2float(static_cast<const __half*>(p)[i]);
    return static_cast<const float*>(p)[i];
}

// SiLU in fp32 from the hardware approximations (~2 ulp each, far inside the fp32 test bound):
// z * rcp(1 + 2^(-z log2 e)), five instructions (the IEEE division and rcp.rn have slow-path
// calls that spilled registers; __fdividef adds a range test per call: ncu, run 42). exp overflow
// (z < -88) makes the denominator inf, rcp(inf) = 0: SiLU -> -0, as it should.
__device__ __forceinline__ float silu(float z) {
    float e, r;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(e) : "f"(z * -1.4426950408889634f));
    asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(1.0f + e));
    return z * r;
}

// What both paths receive: the per-channel parameters already in f32 on the device, the long
// kernels as stored (each path lays them out its own way), x and out as stored.
struct ConvArgs {
    const void* x;
    void* out;
    int dtype;                // x and out
    // x and out [B, d, L] (the columns the FFT paths transform), else [B, L, d]. Only the on-chip
    // FFT paths read it; short_long_conv transposes around the others.
    bool channels_major = false;
    const float* short_w;     // [d, ks] f32
    const float* short_b;     // [d] f32
    const float* omega;       // [d] f32
    const void* long_w;       // [d, Lk] as stored
    const void* long_w_rev;   // [d, Lk] as stored, or null (causal)
    int long_dtype, long_rev_dtype;
    // The on-chip FFT paths' kernel spectra, laid out as their *_spectra function writes them, from a
    // caller that keeps them between calls (SpectraCache); null: the path computes them per call.
    const void* spectra = nullptr;
};

// The short conv's centre tap: taps reach `centre` steps ahead (bidirectional, odd ks) and
// ks - 1 - centre behind; causal kernels only look back.
inline int short_centre(const cpu::ShortLongConvParams& p) { return p.causal ? 0 : (p.ks - 1) / 2; }

// Host side: CUDA error -> chela::Error (the sticky-free error is cleared so later calls are not
// blamed for it).
inline void check(cudaError_t err, const char* what) {
    if (err == cudaSuccess) return;
    (void)cudaGetLastError();
    if (err == cudaErrorMemoryAllocation)
        fail(CHELA_ERR_OUT_OF_MEMORY, "short_long_conv (CUDA): ", what, ": out of device memory");
    fail(CHELA_ERR_DEVICE, "short_long_conv (CUDA): ", what, ": ", cudaGetErrorName(err), ": ",
         cudaGetErrorString(err));
}

// Stream-ordered scratch (stream_buffer.cuh); callers name their buffers "short_long_conv (CUDA): ...".
using DeviceBuffer = StreamBuffer;

// The long-conv algorithms (conv_direct.cu, conv_fft.cu with cuFFT, conv_fft_chip.cu and
// conv_fft_cluster.cu on chip).
// K = min(Lk, L) taps per side.
int64_t direct_max_taps_cap();
void run_direct(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a);
void run_fft(int device, cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a);
// Whether the on-chip FFT handles these parameters on this device (length and shared memory).
bool chip_fft_fits(int device, const cpu::ShortLongConvParams& p, int dtype);
// tensor_cores: the radix-16 passes on mma.sync (bf16/f16 columns; opt-in, CHELA_CUDA_CONV_FFT=tc).
void run_chip_fft(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a, bool tensor_cores);
// The kernel spectra run_chip_fft computes first (B-independent): their size, and the kernel that
// writes them to `dst` (device memory of chip_spectra_bytes) for a later call's a.spectra.
int64_t chip_spectra_bytes(const cpu::ShortLongConvParams& p);
void chip_spectra(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a, bool tensor_cores,
                  void* dst);
// The cluster variant (conv_fft_cluster.cu): 2 or 4 CTAs per column for 16384 < (L + K) / 2 <= 65536
// (bf16/f16 columns, sm_90+).
bool cluster_fft_fits(int device, const cpu::ShortLongConvParams& p, int dtype);
void run_cluster_fft(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a);
int64_t cluster_spectra_bytes(const cpu::ShortLongConvParams& p);
void cluster_spectra(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a, void* dst);
// The block variant (conv_fft_blocks.cu): one-CTA transforms of 16384-sample blocks with the
// overlap-add in the spectrum, any L (bf16/f16 columns, L a multiple of 8, sm_80+); its kernel
// spectra are the windows' (blocks_spectra_bytes, cacheable as the others).
bool blocks_fft_fits(int device, const cpu::ShortLongConvParams& p, int dtype);
void run_blocks_fft(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a);
int64_t blocks_spectra_bytes(const cpu::ShortLongConvParams& p);
void blocks_spectra(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a, void* dst);
// [B, R, C] -> [B, C, R] in `dtype` (f32/bf16/f16; conv_fft_chip.cu's transpose kernels).
void transpose(cudaStream_t stream, int dtype, const void* in, void* out, int64_t B, int64_t R, int64_t C);

}  // namespace chela::cuda::conv
