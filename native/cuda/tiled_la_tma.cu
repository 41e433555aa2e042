// Host side of the wgmma linear attention's TMA loads: the tensor maps of q, k and v for one call.
// cuTensorMapEncodeTiled is a driver function; the runtime hands it out (no link against libcuda).
#include "tiled_la_impl.h"
#include "env_switch.h"

#include <cstdint>

namespace chela::cuda::tiled::la {
namespace {

using EncodeTiled = CUresult (*)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*, const cuuint64_t*,
                                 const cuuint64_t*, const cuuint32_t*, const cuuint32_t*, CUtensorMapInterleave,
                                 CUtensorMapSwizzle, CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

EncodeTiled encode_tiled() {
    static const EncodeTiled fn = [] {
        void* f = nullptr;
        cudaDriverEntryPointQueryResult found{};
        if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000, cudaEnableDefault, &found) !=
                cudaSuccess ||
            found != cudaDriverEntryPointSuccess) {
            cudaGetLastError();  // not sticky; the kernel falls back to cp.async
            return EncodeTiled(nullptr);
        }
        return reinterpret_cast<EncodeTiled>(f);
    }();
    return fn;
}

// [B, L, cols] row-major 16-bit tensor, 64 x 64 boxes (64 columns = the 128-byte swizzle span).
bool encode(EncodeTiled fn, CUtensorMap* map, bool bf16, const void* base, int64_t cols, int64_t L, int64_t B) {
    const cuuint64_t dims[3] = {cuuint64_t(cols), cuuint64_t(L), cuuint64_t(B)};
    const cuuint64_t strides[2] = {cuuint64_t(cols) * 2, cuuint64_t(L) * cuuint64_t(cols) * 2};
    const cuuint32_t box[3] = {64, 64, 1};
    const cuuint32_t elem_strides[3] = {1, 1, 1};
    return fn(map, bf16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 3, const_cast<void*>(base),
              dims, strides, box, elem_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
              CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

}  // namespace

TmaMaps la_tma_maps(const Launch& l, bool bf16) {
    TmaMaps maps{};
    maps.on = false;
    if (env_switch("CHELA_CUDA_LA_TMA", {"0", "1"}) == "0") return maps;
    const LinearAttentionParams& p = *l.p;
    const Plan& pl = *l.plan;
    // Boxes are 64 columns of one head: dk and dv multiples of 64 keep them inside the head (the
    // cp.async path zero-fills the padding instead). Coordinates are 32-bit.
    if (pl.dk % 64 != 0 || pl.dv % 64 != 0 || p.L > INT32_MAX - 64 || p.B > INT32_MAX) return maps;
    const EncodeTiled fn = encode_tiled();
    if (fn == nullptr) return maps;
    maps.on = encode(fn, &maps.q, bf16, l.q, p.e, p.L, p.B) && encode(fn, &maps.k, bf16, l.k, p.e, p.L, p.B) &&
              encode(fn, &maps.v, bf16, l.v, p.f, p.L, p.B);
    return maps;
}

}  // namespace chela::cuda::tiled::la
