// Launch of the tensor-core kernel for one element type (included by one TU per dtype).
#pragma once

#include "tiled_la_impl.h"
#include "tiled_la_kernel.cuh"
#include "tiled_la_wgmma.cuh"

#include "core/error.h"

namespace chela::cuda::tiled::la {

// Tr: the kernel's traits (its tile sizes and shared memory); wgmma: the sm_90a kernel, else mma.sync.
template <class Tr, bool kStateOnly, bool kWgmma>
void launch_tc_one(const Launch& l) {
    const LinearAttentionParams& p = *l.p;
    const Plan& pl = *l.plan;
    KernelArgs a{};
    a.q = l.q;
    a.k = l.k;
    a.v = l.v;
    a.o = l.o;
    a.o_f32 = l.p->out_dtype == CHELA_DTYPE_F32;
    a.L = p.L;
    a.H = p.H;
    a.dk = pl.dk;
    a.dv = pl.dv;
    a.ldqk = p.e;
    a.ldv = p.f;
    a.scale = p.scale;
    a.decay = p.decay;
    a.feature_map = p.feature_map;
    a.state_init = kStateOnly ? nullptr : l.state_init;
    a.init_nseg = l.init_nseg;
    a.nseg = pl.nseg;
    a.seg_chunks = pl.seg_chunks;
    a.state_out = l.state_out;
    a.seg_state = l.seg_state;
    a.rowsq = kStateOnly ? nullptr : l.rowsq;
    a.nblk = p.H * pl.dvblocks;
    auto kernel = [] {
        if constexpr (kWgmma) return la_fwd_wgmma_kernel<Tr, kStateOnly>;
        else return la_fwd_kernel<Tr, kStateOnly>;
    }();
    const int smem = Tr::kSmemBytes;
    if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem) != cudaSuccess)
        check_launch("linear attention: cudaFuncSetAttribute");
    dim3 grid((pl.dvblocks + Tr::kGroups - 1) / Tr::kGroups, p.H, unsigned(p.B * pl.nseg));
    if constexpr (kWgmma) {
        const TmaMaps maps = la_tma_maps(l, std::is_same_v<typename Tr::T, cutlass::bfloat16_t>);
        kernel<<<grid, Tr::kThreads, smem, l.stream>>>(a, maps);
    } else {
        kernel<<<grid, Tr::kThreads, smem, l.stream>>>(a);
    }
    check_launch(kStateOnly ? "linear attention (segment states)" : "linear attention");
}

template <class T>
void launch_tc(const Launch& l, bool state_only) {
    const int DK = l.plan->DK;
    // 2 stages; DK <= 128 keeps two CTAs per SM (104 KB of shared memory each at DK 128), both
    // generations (the grid and the segment plan are the same).
    using T64 = Traits<T, 64, 64, 2, 2>;
    using T128 = Traits<T, 128, 64, 2, 2>;
    using T256 = Traits<T, 256, 32, 2, 1>;
    // wgmma: one warpgroup per CTA and 2 stages (two CTAs per SM), or two warpgroups sharing Q and K
    // with 3 stages (one CTA per SM, 193 KB at DK 128).
    using W64 = WgmmaTraits<T, 64, 2, 1>;
    using W128 = WgmmaTraits<T, 128, 2, 1>;
    using W64x2 = WgmmaTraits<T, 64, 3, 2>;
    using W128x2 = WgmmaTraits<T, 128, 3, 2>;
    auto go = [&](auto tr, auto wgmma) {
        using Tr = decltype(tr);
        constexpr bool kW = decltype(wgmma)::value;
        state_only ? launch_tc_one<Tr, true, kW>(l) : launch_tc_one<Tr, false, kW>(l);
    };
    // the plan's generation and warpgroup count pick among a dk's tiles
    auto go_dk = [&](auto sync_tiles, auto wgmma_1, auto wgmma_2) {
        if (!l.plan->wgmma) go(sync_tiles, std::false_type{});
        else if (l.plan->groups == 2) go(wgmma_2, std::true_type{});
        else go(wgmma_1, std::true_type{});
    };
    if (DK == 64) go_dk(T64{}, W64{}, W64x2{});
    else if (DK == 128) go_dk(T128{}, W128{}, W128x2{});
    else if (DK == 256) go(T256{}, std::false_type{});
    else fail(CHELA_ERR_INTERNAL, "linear attention: no tile for dk ", DK);
}

}  // namespace chela::cuda::tiled::la
