// Hopper (sm_90a) generation of the chunked linear attention forward: the same algorithm, tiles and
// grid as la_fwd_kernel (tiled_la_kernel.cuh), with every product on warpgroup MMAs (wgmma).
//
// One CTA owns (batch b, head h, kGroups blocks of DVB = 64 value columns, an L-segment) and walks the
// segment's chunks of C = 64 tokens; each warpgroup (128 threads) owns one value-column block and its
// running state S (DK x 64, fp32) in registers. The warpgroups share the chunk's Q and K tiles, so
// with two of them one CTA per SM keeps three stages (two chunks) in flight: one warpgroup per CTA
// and two stages left the loads latency-bound (run 29: DRAM 47 %, no eligible warp 52 % of cycles).
// Per chunk and warpgroup, two asynchronous wgmma batches:
//   1. A = Q K^T (SS, both K-major)  and  O = Q S (SS, S as bf16/f16 in shared memory, MN-major)
//   2. O += P V (RS: P = mask(A) from registers, as hi + lo)  and  S += K^T V (SS, MN-major A and B)
// K^T is the same shared-memory bytes as K: the K-major (token, dk) tile and the MN-major (dk, token)
// view coincide element for element (tools/proto/wgmma_layout_check.cu checks it), so the state
// update needs no transpose. Why: mma.sync spent ~350 issue slots per warp and chunk on HMMA + LDSM
// (run 28: issue-bound, 0.49 instructions per cycle per scheduler, 47 % tensor pipe); here each
// product is one instruction per 16-deep k-slice for the whole warpgroup and shared operands are read
// by the tensor cores through descriptors.
// Inputs arrive by TMA (one thread issues a chunk's boxes; an mbarrier per stage counts the bytes)
// where dk and dv are multiples of 64, else by cp.async with zero fill. Issuing the cp.async loads cost
// 1700 of a chunk's 7200 cycles (run 31, phase timing); TMA takes that off the threads. Every
// shared-memory write of the threads that wgmma reads afterwards (cp.async data, feature map, decay
// weights, the S copy) is followed by fence.proxy.async before the barrier.
#pragma once

#include "tiled_la_kernel.cuh"

#include <cute/arch/copy_sm90_tma.hpp>
#include <cute/arch/mma_sm90.hpp>
#include <cute/atom/mma_traits_sm90_gmma.hpp>
#include <cutlass/arch/barrier.h>

namespace chela::cuda::tiled::la {

template <class T_, int DK_, int kStages_, int kGroups_>
struct WgmmaTraits {
    using T = T_;
    static constexpr int C = 64, DK = DK_, DVB = 64, kStages = kStages_, kGroups = kGroups_;
    static constexpr int kGroupThreads = 128, kThreads = kGroupThreads * kGroups;
    static constexpr int kMinBlocks = kGroups == 1 ? 2 : 1;
    static_assert(DK == 64 || DK == 128, "wgmma tiles: dk 64 or 128");
    using LayoutQK = decltype(tile_to_shape(GMMA::Layout_K_SW128_Atom<T>{}, Shape<Int<C>, Int<DK>>{}));  // (t, d)
    // (d, t) view of the K tile: MN-major A operand of K^T V, the same bytes as LayoutQK
    using LayoutKt = decltype(tile_to_shape(GMMA::Layout_MN_SW128_Atom<T>{}, Shape<Int<DK>, Int<C>>{}, Step<_2, _1>{}));
    using LayoutV = decltype(tile_to_shape(GMMA::Layout_MN_SW128_Atom<T>{}, Shape<Int<DVB>, Int<C>>{}));    // (col, t)
    using LayoutS = decltype(tile_to_shape(GMMA::Layout_MN_SW128_Atom<T>{}, Shape<Int<DVB>, Int<DK>>{}));   // (col, d)
    // (d, col) view of LayoutS (same bytes): the accumulator's orientation, written with stmatrix
    using LayoutSdc = decltype(tile_to_shape(GMMA::Layout_K_SW128_Atom<T>{}, Shape<Int<DK>, Int<DVB>>{}));
    using LayoutO = typename Traits<T, DK, DVB, 2, 1>::LayoutV;  // (t, col) row-major staging for 16-byte stores
    using Tile = Shape<_64, _64, _16>;
    using MmaQK = decltype(make_tiled_mma(GMMA::ss_op_selector<T, T, float, Tile, GMMA::Major::K, GMMA::Major::K>()));
    using MmaQS = decltype(make_tiled_mma(GMMA::ss_op_selector<T, T, float, Tile, GMMA::Major::K, GMMA::Major::MN>()));
    using MmaPV = decltype(make_tiled_mma(GMMA::rs_op_selector<T, T, float, Tile, GMMA::Major::K, GMMA::Major::MN>()));
    using MmaKV = decltype(make_tiled_mma(GMMA::ss_op_selector<T, T, float, Tile, GMMA::Major::MN, GMMA::Major::MN>()));
    // accumulators -> shared memory as T: stmatrix (8x8 blocks, a few addresses per thread; element-wise
    // stores into the swizzled tiles kept ~100 addresses live and spilled)
    using StoreAtom = Copy_Atom<SM90_U32x4_STSM_N, T>;
    // shared memory (elements of T), every tile 1024-byte aligned (the 128-byte swizzle repeats there)
    static constexpr int kQK = C * DK, kV = C * DVB, kS = DK * DVB, kO = C * DVB;
    static constexpr int kStageElems = 2 * kQK + kGroups * kV;  // Q, K, one V tile per warpgroup
    // stages, then per warpgroup its S copy and O staging tile
    static constexpr int kLamOffsetBytes = (kStages * kStageElems + kGroups * (kS + kO)) * int(sizeof(T));
    static constexpr int kBarOffsetBytes = kLamOffsetBytes + 80 * 4;  // lambda^m (m = 0..64), then mbarriers
    static constexpr int kSmemBytes = kBarOffsetBytes + 8 * kStages + 1024;  // + alignment slack
    // TMA bytes per stage: K and the V tiles, plus Q in the main pass
    static constexpr uint32_t kTmaBytesKV = uint32_t((kQK + kGroups * kV) * sizeof(T));
    static constexpr uint32_t kTmaBytesQ = uint32_t(kQK * sizeof(T));
};

// (V=(2,2,N/8), MMA_M, MMA_N) wgmma accumulator -> ((2,2,2), MMA_M, (N/16, MMA_N)) A-register operand
// of a K = 16 wgmma (16-bit types): the same thread owns the same elements in both.
template <class Layout>
CUTE_HOST_DEVICE auto wgmma_acc_to_a_layout(Layout acc) {
    auto l = logical_divide(get<0>(acc), Shape<Underscore, Underscore, _2>{});
    return make_layout(make_layout(get<0>(l), get<1>(l), get<2, 0>(l)), get<1>(acc),
                       make_layout(get<2, 1>(l), get<2>(acc)));
}

// Issues acc (+)= A B over all k-blocks of the operands as part of the current wgmma batch.
template <class Mma, class TA, class TB, class TC>
CUTE_DEVICE void wgmma_issue(Mma& mma, const TA& a, const TB& b, TC& acc, bool zero_init) {
    mma.accumulate_ = zero_init ? GMMA::ScaleOut::Zero : GMMA::ScaleOut::One;
    CUTE_UNROLL
    for (int kb = 0; kb < size<2>(a); ++kb) {
        cute::gemm(mma, a(_, _, kb), b(_, _, kb), acc);
        mma.accumulate_ = GMMA::ScaleOut::One;
    }
}

// Developer builds with -DCHELA_LA_PHASES=1: thread 0 of CTA (0, 0, 0) accumulates clock cycles per
// phase of the chunk loop and prints them at the end (docs/gpu.md, "Phase timing"). Off: no code.
#ifndef CHELA_LA_PHASES
#define CHELA_LA_PHASES 0
#endif
struct PhaseClock {
#if CHELA_LA_PHASES && defined(__CUDA_ARCH__)
    long long acc[6] = {0, 0, 0, 0, 0, 0};
    long long prev = clock64();
    CUTE_DEVICE void mark(int k) {
        const long long now = clock64();
        acc[k] += now - prev;
        prev = now;
    }
    CUTE_DEVICE void report(const char* pass, int chunks) const {
        if (threadIdx.x == 0 && blockIdx.x == 0 && blockIdx.y == 0 && blockIdx.z == 0)
            printf("la phases, %s pass (cycles/chunk over %d chunks): prefetch %lld, load wait %lld, batch1 %lld, "
                   "elementwise %lld, batch2 %lld, epilogue %lld\n", pass, chunks, acc[0] / chunks,
                   acc[1] / chunks, acc[2] / chunks, acc[3] / chunks, acc[4] / chunks, acc[5] / chunks);
    }
#else
    CUTE_DEVICE void mark(int) {}
    CUTE_DEVICE void report(const char*, int) const {}
#endif
};

CUTE_DEVICE void fence_async_shared() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }

template <class Tr, bool kStateOnly>
__global__ void __launch_bounds__(Tr::kThreads, Tr::kMinBlocks)
    la_fwd_wgmma_kernel(const KernelArgs a, const __grid_constant__ TmaMaps tma) {
#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL)
    // Compiled for another target (sm_80): never launched there (the dispatcher checks the device).
    return;
#else
    using T = typename Tr::T;
    constexpr int C = Tr::C, DK = Tr::DK, DVB = Tr::DVB, NT = Tr::kThreads, kStages = Tr::kStages;
    extern __shared__ char smem_raw[];
    char* smem_base = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(smem_raw) + 1023) & ~uintptr_t(1023));
    T* smem = reinterpret_cast<T*>(smem_base);
    float* lam = reinterpret_cast<float*>(smem_base + Tr::kLamOffsetBytes);

    const int tid = threadIdx.x;                 // loads and in-place passes: the whole CTA
    const int g = tid / Tr::kGroupThreads;        // this thread's warpgroup = value-column block
    const int wtid = tid % Tr::kGroupThreads;     // MMA partitions: place in the warpgroup
    constexpr int GT = Tr::kGroupThreads;
    const int dvb = blockIdx.x, h = blockIdx.y;
    const int b = blockIdx.z / a.nseg, seg = blockIdx.z % a.nseg;
    const int nchunks = int((a.L + C - 1) / C);
    const int c_begin = seg * a.seg_chunks;
    const int c_end = min(nchunks, c_begin + a.seg_chunks);
    const int col0 = (dvb * Tr::kGroups + g) * DVB;
    const int dk = a.dk, dv = a.dv;
    const int64_t L = a.L;

    const T* gq = static_cast<const T*>(a.q) + int64_t(b) * L * a.ldqk + int64_t(h) * dk;
    const T* gk = static_cast<const T*>(a.k) + int64_t(b) * L * a.ldqk + int64_t(h) * dk;
    const T* gv_head = static_cast<const T*>(a.v) + int64_t(b) * L * a.ldv + int64_t(h) * dv;
    T* go = kStateOnly || a.o_f32 ? nullptr : static_cast<T*>(a.o) + int64_t(b) * L * a.ldv + int64_t(h) * dv + col0;

    const bool has_decay = a.decay != nullptr && a.decay[h] != 1.0f;
    const float log2l = has_decay ? log2f(a.decay[h]) : 0.f;
    if (tid <= C) lam[tid] = has_decay ? exp2f(log2l * float(tid)) : 1.f;  // lambda^m, m = 0..C
    const float s = a.scale;

    auto stage_ptr = [&](int st) { return smem + st * Tr::kStageElems; };
    uint64_t* full_bar = reinterpret_cast<uint64_t*>(smem_base + Tr::kBarOffsetBytes);
    using Barrier = cutlass::arch::ClusterTransactionBarrier;
    if (tma.on && tid == 0) {
        CUTE_UNROLL
        for (int st = 0; st < kStages; ++st) Barrier::init(&full_bar[st], 1);
        cutlass::arch::fence_barrier_init();
    }
    __syncthreads();  // barriers initialised (and lambda^m written) before anyone uses them
    auto load_chunk = [&](int c, int st) {
        T* sq = stage_ptr(st);
        T* sk = sq + Tr::kQK;
        if (tma.on) {  // one thread: 64 x 64 boxes, zero-filled past L
            if (tid == 0) {
                constexpr uint64_t kEvictNormal = 0x1000000000000000ull;  // L2 cache policy (CUTLASS's)
                Barrier::arrive_and_expect_tx(&full_bar[st], Tr::kTmaBytesKV + (kStateOnly ? 0 : Tr::kTmaBytesQ));
                const int t0 = c * C;
                CUTE_UNROLL
                for (int half = 0; half < DK / 64; ++half) {
                    const int col = h * dk + half * 64;
                    if (!kStateOnly) SM90_TMA_LOAD_3D::copy(&tma.q, &full_bar[st], kEvictNormal, sq + half * 64 * C, col, t0, b);
                    SM90_TMA_LOAD_3D::copy(&tma.k, &full_bar[st], kEvictNormal, sk + half * 64 * C, col, t0, b);
                }
                CUTE_UNROLL
                for (int gg = 0; gg < Tr::kGroups; ++gg) {
                    const int col = h * dv + (dvb * Tr::kGroups + gg) * DVB;
                    if (col < (h + 1) * dv)
                        SM90_TMA_LOAD_3D::copy(&tma.v, &full_bar[st], kEvictNormal, sk + Tr::kQK + gg * Tr::kV, col, t0, b);
                    else  // a warpgroup past dv: its bytes still have to arrive, as zeros
                        SM90_TMA_LOAD_3D::copy(&tma.v, &full_bar[st], kEvictNormal, sk + Tr::kQK + gg * Tr::kV, col, int(L), b);
                }
            }
            return;
        }
        Tensor tq = make_tensor(make_smem_ptr(sq), typename Tr::LayoutQK{});
        Tensor tk = make_tensor(make_smem_ptr(sk), typename Tr::LayoutQK{});
        const int64_t t0 = int64_t(c) * C;
        constexpr int V16 = DVB / 8;
        cp_async_qk<C, DK, NT, !kStateOnly>(tq, tk, gq, gk, a.ldqk, t0, L, dk, tid);
        CUTE_UNROLL
        for (int i = tid; i < Tr::kGroups * C * V16; i += NT) {
            const int gg = i / (C * V16), r = (i / V16) % C, cc = (i % V16) * 8;
            const int col = (dvb * Tr::kGroups + gg) * DVB + cc;
            Tensor tv = make_tensor(make_smem_ptr(sk + Tr::kQK + gg * Tr::kV), typename Tr::LayoutV{});
            const bool ok = t0 + r < L && col < dv;
            cp_async16(&tv(cc, r), gv_head + (ok ? (t0 + r) * a.ldv + col : 0), ok);
        }
    };

    typename Tr::MmaQK mma_qk;
    typename Tr::MmaQS mma_qs;
    typename Tr::MmaPV mma_pv;
    typename Tr::MmaKV mma_kv;
    auto thr_qk = mma_qk.get_thread_slice(wtid);
    auto thr_qs = mma_qs.get_thread_slice(wtid);
    auto thr_pv = mma_pv.get_thread_slice(wtid);
    auto thr_kv = mma_kv.get_thread_slice(wtid);

    T* sS_ptr = smem + kStages * Tr::kStageElems + g * (Tr::kS + Tr::kO);
    T* sO_ptr = sS_ptr + Tr::kS;
    Tensor sS = make_tensor(make_smem_ptr(sS_ptr), typename Tr::LayoutS{});     // (col, d)
    Tensor sSdc = make_tensor(make_smem_ptr(sS_ptr), typename Tr::LayoutSdc{}); // (d, col)
    Tensor sO = make_tensor(make_smem_ptr(sO_ptr), typename Tr::LayoutO{});     // (t, col)
    auto cpS = make_tiled_copy_C(typename Tr::StoreAtom{}, mma_kv);
    auto cpO = make_tiled_copy_C(typename Tr::StoreAtom{}, mma_qs);
    auto thr_cpS = cpS.get_thread_slice(wtid);
    auto thr_cpO = cpO.get_thread_slice(wtid);
    Tensor tSsS = thr_cpS.partition_D(sSdc);
    Tensor tOsO = thr_cpO.partition_D(sO);

    // ---- running state: registers (fp32), (d, col) coordinates; initial value from state_init
    Tensor accS = partition_fragment_C(mma_kv, Shape<Int<DK>, Int<DVB>>{});
    Tensor cS = thr_kv.partition_C(make_identity_tensor(Shape<Int<DK>, Int<DVB>>{}));
    load_start_state(accS, cS, a, b, h, seg, col0);
    auto store_state_copy = [&] {  // S as T into shared memory: the B operand of the next Q S
        Tensor r = make_tensor<T>(accS.layout());
        CUTE_UNROLL
        for (int i = 0; i < size(accS); ++i) r(i) = static_cast<T>(accS(i));
        copy(cpS, thr_cpS.retile_S(r), tSsS);
    };
    if (!kStateOnly) store_state_copy();

    CUTE_UNROLL
    for (int st = 0; st < kStages - 1; ++st) {
        if (c_begin + st < c_end) load_chunk(c_begin + st, st);
        cp_async_commit();
    }

    Tensor cA = thr_qk.partition_C(make_identity_tensor(Shape<Int<C>, Int<C>>{}));
    Tensor cO = thr_qs.partition_C(make_identity_tensor(Shape<Int<C>, Int<DVB>>{}));

    PhaseClock clk;
    for (int c = c_begin; c < c_end; ++c) {
        const int it = c - c_begin;
        const int st = it % kStages;
        {
            const int cn = c + kStages - 1;
            if (cn < c_end) load_chunk(cn, (it + kStages - 1) % kStages);
            cp_async_commit();
        }
        clk.mark(0);
        if (tma.on) Barrier::wait(&full_bar[st], (it / kStages) & 1);
        else cp_async_wait<kStages - 1>();
        fence_async_shared();  // this thread's cp.async data and S copy -> visible to wgmma
        __syncthreads();
        clk.mark(1);

        const int64_t t0 = int64_t(c) * C;
        const int n = int(min<int64_t>(C, L - t0));
        T* sq_ptr = stage_ptr(st);
        T* sk_ptr = sq_ptr + Tr::kQK;
        T* sv_ptr = sk_ptr + Tr::kQK + g * Tr::kV;
        Tensor sQ = make_tensor(make_smem_ptr(sq_ptr), typename Tr::LayoutQK{});
        Tensor sK = make_tensor(make_smem_ptr(sk_ptr), typename Tr::LayoutQK{});
        Tensor sKt = make_tensor(make_smem_ptr(sk_ptr), typename Tr::LayoutKt{});
        Tensor sV = make_tensor(make_smem_ptr(sv_ptr), typename Tr::LayoutV{});

        if (a.feature_map != 0) {  // phi on the valid part of the tiles, in place
            apply_feature_map<C, NT, !kStateOnly>(sQ, sK, a.feature_map, n, dk, tid);
            fence_async_shared();
            __syncthreads();
        }

        Tensor accO = partition_fragment_C(mma_qs, Shape<Int<C>, Int<DVB>>{});
        Tensor accA = partition_fragment_C(mma_qk, Shape<Int<C>, Int<C>>{});
        if constexpr (!kStateOnly) {
            // ---- batch 1: A = Q K^T, O = Q S
            Tensor tAq = thr_qk.partition_fragment_A(sQ);
            Tensor tAk = thr_qk.partition_fragment_B(sK);
            Tensor tOq = thr_qs.partition_fragment_A(sQ);
            Tensor tOs = thr_qs.partition_fragment_B(sS);
            warpgroup_fence_operand(accA);
            warpgroup_fence_operand(accO);
            warpgroup_arrive();
            wgmma_issue(mma_qk, tAq, tAk, accA, true);
            wgmma_issue(mma_qs, tOq, tOs, accO, true);
            warpgroup_commit_batch();
            warpgroup_wait<0>();
            warpgroup_fence_operand(accA);
            warpgroup_fence_operand(accO);
            clk.mark(2);
            // ---- causal decayed mask on A, inter-chunk row factor on O
            mask_scores(accA, cA, accO, cO, lam, s, has_decay);
        }
        {   // state decay over the chunk
            const float ln = lam[n];
            CUTE_UNROLL
            for (int i = 0; i < size(accS); ++i) accS(i) *= ln;
        }
        if (has_decay) {
            // K^T diag(w) V with w_j = lambda^(n-1-j): the weights go onto the K rows in place (Q K^T
            // above is complete); rows past n are zero already (cp.async zero-fill). The barrier first:
            // every warp's part of Q K^T must have finished reading K.
            __syncthreads();
            map_rows_inplace<NT>(sK, C, dk, n, tid, [&](int r, float x) { return x * lam[n - 1 - r]; });
            fence_async_shared();
            __syncthreads();
        }
        Tensor rP = make_tensor<T>(accA.layout());
        Tensor rPlo = make_tensor<T>(accA.layout());
        if constexpr (!kStateOnly) split_hi_lo(accA, rP, rPlo);
        clk.mark(3);
        Tensor tPa = make_tensor(rP.data(), wgmma_acc_to_a_layout(rP.layout()));
        Tensor tPalo = make_tensor(rPlo.data(), wgmma_acc_to_a_layout(rPlo.layout()));

        // ---- batch 2: O += P V (hi, lo), S += K^T V
        {
            Tensor tPv = thr_pv.partition_fragment_B(sV);
            Tensor tSk = thr_kv.partition_fragment_A(sKt);
            Tensor tSv = thr_kv.partition_fragment_B(sV);
            if constexpr (!kStateOnly) {
                warpgroup_fence_operand(tPa);
                warpgroup_fence_operand(tPalo);
                warpgroup_fence_operand(accO);
            }
            warpgroup_fence_operand(accS);
            warpgroup_arrive();
            if constexpr (!kStateOnly) {
                wgmma_issue(mma_pv, tPa, tPv, accO, false);
                wgmma_issue(mma_pv, tPalo, tPv, accO, false);
            }
            wgmma_issue(mma_kv, tSk, tSv, accS, false);
            warpgroup_commit_batch();
            warpgroup_wait<0>();
            warpgroup_fence_operand(accS);
            clk.mark(4);
            if constexpr (!kStateOnly) {
                warpgroup_fence_operand(accO);
                warpgroup_fence_operand(tPa);
                warpgroup_fence_operand(tPalo);
            }
        }

        if constexpr (!kStateOnly) {
            if (a.rowsq != nullptr && col0 < dv)  // (a warpgroup past dv has no rowsq column)
                write_row_sumsq(accO, cO, a, wtid, b, t0, n, h * (a.nblk / a.H) + dvb * Tr::kGroups + g);
            if (a.o_f32) {
                store_o_f32(accO, cO, a, b, h, col0, t0, n);
            } else {
                Tensor r = make_tensor<T>(accO.layout());
                CUTE_UNROLL
                for (int i = 0; i < size(accO); ++i) r(i) = static_cast<T>(accO(i));
                copy(cpO, thr_cpO.retile_S(r), tOsO);
            }
        }
        __syncthreads();  // sO complete; every warp is done with this stage
        if constexpr (!kStateOnly) {
            if (!a.o_f32) store_o_rows<C, DVB, GT>(sO, go, a.ldv, t0, n, col0, dv, wtid);
            store_state_copy();  // read by the next chunk's Q S after its fence + barrier
        }
        clk.mark(5);
    }
    clk.report(kStateOnly ? "state-only" : "main", c_end - c_begin);
    cp_async_wait<0>();

    store_end_state(accS, cS, a, b, h, seg, col0, kStateOnly);
#endif
}

}  // namespace chela::cuda::tiled::la
