// Host-only check of the shared-memory views the wgmma linear attention kernel relies on
// (native/cuda/tiled_la_wgmma.cuh): the K tile read as the MN-major A operand of K^T V, and the S tile
// written in the accumulator's (d, col) orientation, are the same bytes as the layouts they alias.
//   nvcc -std=c++17 -I$CUTLASS_DIR/include -o /tmp/wgmma_layout_check tools/proto/wgmma_layout_check.cu
//   /tmp/wgmma_layout_check   # prints 0 mismatches per case, exit status 1 otherwise
#include <cute/atom/mma_traits_sm90_gmma.hpp>
#include <cute/tensor.hpp>

#include <cstdio>

using namespace cute;
using T = cutlass::bfloat16_t;

template <int DK>
int check() {
    auto k_tile = tile_to_shape(GMMA::Layout_K_SW128_Atom<T>{}, Shape<_64, Int<DK>>{});                    // (t, d)
    auto kt_view = tile_to_shape(GMMA::Layout_MN_SW128_Atom<T>{}, Shape<Int<DK>, _64>{}, Step<_2, _1>{});  // (d, t)
    auto s_tile = tile_to_shape(GMMA::Layout_MN_SW128_Atom<T>{}, Shape<_64, Int<DK>>{});                   // (col, d)
    auto s_view = tile_to_shape(GMMA::Layout_K_SW128_Atom<T>{}, Shape<Int<DK>, _64>{});                    // (d, col)
    int bad_k = 0, bad_s = 0;
    for (int i = 0; i < 64; ++i)
        for (int d = 0; d < DK; ++d) {
            bad_k += k_tile(i, d) != kt_view(d, i);
            bad_s += s_tile(i, d) != s_view(d, i);
        }
    std::printf("DK %3d: K^T view %d mismatches, S (d, col) view %d mismatches\n", DK, bad_k, bad_s);
    return bad_k + bad_s;
}

int main() { return check<64>() + check<128>() == 0 ? 0 : 1; }
