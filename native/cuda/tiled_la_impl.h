// Internal to native/cuda: the plan shared by the dispatcher and the per-dtype kernel TUs.
#pragma once

#include "tiled_linear_attention.h"

#include <cuda.h>  // CUtensorMap (the type; maps are encoded through the runtime's driver entry point)
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace chela::cuda::tiled::la {

struct Plan {
    int dk = 0, dv = 0;
    int DK = 0, DVB = 0;     // tile sizes of the tensor-core kernel (0 = SIMT fp32 path)
    int dvblocks = 0;        // ceil(dv / DVB) (SIMT: ceil(dv / 32))
    bool wgmma = false;      // tensor-core kernel generation: sm_90a wgmma, else mma.sync (tc_use_wgmma)
    int groups = 1;          // wgmma: value-column blocks (warpgroups) per CTA sharing Q and K (tc_groups)
    int nseg = 1, seg_chunks = 0;
    size_t ws_seg = 0;       // bytes of segment start states [B, H, nseg, dk, dv] f32
    size_t ws_rowsq = 0;     // bytes of rmsnorm partial sums [B*L, nblk] f32
};

struct Launch {
    const LinearAttentionParams* p;
    const Plan* plan;
    const void *q, *k, *v;
    void* o;
    const float* state_init;  // user state_in (init_nseg 1) or the segment states (init_nseg nseg)
    int init_nseg;
    float* state_out;
    float* seg_state;
    float* rowsq;
    cudaStream_t stream;
};

// Tensor maps of q, k, v for the wgmma kernel's TMA loads: 3-D (columns, L, B) tensors, 64 x 64 boxes
// with the 128-byte swizzle of the GMMA tiles. on = false: the kernel loads by cp.async instead.
struct TmaMaps {
    CUtensorMap q, k, v;
    bool on;
};

// The maps for one call (tiled_la_tma.cu): on where dk and dv are multiples of 64, L < 2^31 and the
// driver provides cuTensorMapEncodeTiled; CHELA_CUDA_LA_TMA=0 turns TMA off (A/B runs, tests), =1 is
// the default, anything else is INVALID_ARGUMENT.
TmaMaps la_tma_maps(const Launch& l, bool bf16);

// Tensor-core path (bf16 / f16), defined in linear_attention_bf16.cu / _f16.cu.
// state_only: the segment pre-pass (writes seg_state); else the main pass.
void launch_tc_bf16(const Launch& l, bool state_only);
void launch_tc_f16(const Launch& l, bool state_only);

// Tile choice for the tensor-core kernel (DK = padded dk, DVB = value columns per CTA).
inline void tc_tiles(int dk, int* DK, int* DVB) {
    *DK = dk <= 64 ? 64 : dk <= 128 ? 128 : 256;
    *DVB = *DK == 256 ? 32 : 64;
}

void check_launch(const char* what);

// The wgmma kernel where it exists: an sm_90 device and DK <= 128. CHELA_CUDA_LA_MMA=sync forces the
// mma.sync kernel (A/B runs, and the tests run both); =wgmma on another device or tile falls back to
// mma.sync; anything else is INVALID_ARGUMENT.
bool tc_use_wgmma(int DK);

// wgmma kernel: warpgroups per CTA. 2 (sharing Q and K, one CTA per SM) for narrow heads (2 to 4
// value-column blocks) unless only the one-group grid fills the chip unsplit; 1 for wide heads, whose
// q and k are a small share of the bytes (run 85, H100 sweep: tools/device/la_groups_sweep.py; run 32,
// H200: B8 H16 dv128 0.761 ms with 2 vs 0.817 with 1; B4 H1 dv1024 0.256 ms with 1 vs 0.273 with 2).
// CHELA_CUDA_LA_GROUPS=1|2 overrides it (A/B runs, tests); else INVALID_ARGUMENT.
int tc_groups(int dvblocks, int64_t batch_heads);

// Bidirectional and/or denominator attention from causal passes (full_attention.cu); L == 0 and the
// arguments are checked by the caller.
void full_attention(const LinearAttentionParams& p, const void* q, const void* k, const void* v, const float* state_in,
                    const float* ksum_in, void* out, float* state_out, float* ksum_out, void* stream);  // cudaGetLastError -> chela::Error(CHELA_ERR_DEVICE)

}  // namespace chela::cuda::tiled::la
