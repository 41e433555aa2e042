// Hopper (sm_90a) generation of the chunked linear attention forward: the same algorithm, tiles and
// grid as la_fwd_kernel (tiled_la_kernel.cuh), with every product on warpgroup MMAs (wgmma).
//
// One CTA is one warpgroup (128 threads) and owns (batch b, head h, DVB = 64 value columns, an
// L-segment); it walks the segment's chunks of C = 64 tokens with the running state S (DK x 64, fp32)
// in registers. Per chunk, two asynchronous wgmma batches:
//   1. A = Q K^T (SS, both K-major)  and  O = Q S (SS, S as bf16/f16 in shared memory, MN-major)
//   2. O += P V (RS: P = mask(A) from registers, as hi + lo)  and  S += K^T V (SS, MN-major A and B)
// K^T is the same shared-memory bytes as K: the K-major (token, dk) tile and the MN-major (dk, token)
// view coincide element for element (tools/proto/wgmma_layout_check.cu checks it), so the state
// update needs no transpose. Why: mma.sync spent ~350 issue slots per warp and chunk on HMMA + LDSM
// (run 28: issue-bound, 0.49 instructions per cycle per scheduler, 47 % tensor pipe); here each
// product is one instruction per 16-deep k-slice for the whole warpgroup and shared operands are read
// by the tensor cores through descriptors.
// Inputs arrive by cp.async (generic proxy); every shared-memory write that wgmma reads afterwards
// (loads, feature map, decay weights, the S copy) is followed by fence.proxy.async before the barrier.
#pragma once

#include "tiled_la_kernel.cuh"

#include <cute/arch/mma_sm90.hpp>
#include <cute/atom/mma_traits_sm90_gmma.hpp>

namespace chela::cuda::tiled::la {

template <class T_, int DK_, int kStages_>
struct WgmmaTraits {
    using T = T_;
    static constexpr int C = 64, DK = DK_, DVB = 64, kThreads = 128, kStages = kStages_;
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
    static constexpr int kStageElems = 2 * kQK + kV;
    static constexpr int kLamOffsetBytes = (kStages * kStageElems + kS + kO) * int(sizeof(T));
    static constexpr int kSmemBytes = kLamOffsetBytes + 80 * 4 + 1024;  // + lambda^m, + alignment slack
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

CUTE_DEVICE void fence_async_shared() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }

template <class Tr, bool kStateOnly>
__global__ void __launch_bounds__(Tr::kThreads, 2) la_fwd_wgmma_kernel(const KernelArgs a) {
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

    const int tid = threadIdx.x;
    const int dvb = blockIdx.x, h = blockIdx.y;
    const int b = blockIdx.z / a.nseg, seg = blockIdx.z % a.nseg;
    const int nchunks = int((a.L + C - 1) / C);
    const int c_begin = seg * a.seg_chunks;
    const int c_end = min(nchunks, c_begin + a.seg_chunks);
    const int col0 = dvb * DVB;
    const int dk = a.dk, dv = a.dv;
    const int64_t L = a.L;

    const T* gq = static_cast<const T*>(a.q) + int64_t(b) * L * a.ldqk + int64_t(h) * dk;
    const T* gk = static_cast<const T*>(a.k) + int64_t(b) * L * a.ldqk + int64_t(h) * dk;
    const T* gv = static_cast<const T*>(a.v) + int64_t(b) * L * a.ldv + int64_t(h) * dv + col0;
    T* go = kStateOnly || a.o_f32 ? nullptr : static_cast<T*>(a.o) + int64_t(b) * L * a.ldv + int64_t(h) * dv + col0;

    const bool has_decay = a.decay != nullptr && a.decay[h] != 1.0f;
    const float log2l = has_decay ? log2f(a.decay[h]) : 0.f;
    if (tid <= C) lam[tid] = has_decay ? exp2f(log2l * float(tid)) : 1.f;  // lambda^m, m = 0..C
    const float s = a.scale;

    auto stage_ptr = [&](int st) { return smem + st * Tr::kStageElems; };
    auto load_chunk = [&](int c, int st) {
        T* sq = stage_ptr(st);
        T* sk = sq + Tr::kQK;
        T* sv = sk + Tr::kQK;
        Tensor tq = make_tensor(make_smem_ptr(sq), typename Tr::LayoutQK{});
        Tensor tk = make_tensor(make_smem_ptr(sk), typename Tr::LayoutQK{});
        Tensor tv = make_tensor(make_smem_ptr(sv), typename Tr::LayoutV{});
        const int64_t t0 = int64_t(c) * C;
        constexpr int QK16 = DK / 8, V16 = DVB / 8;
        CUTE_UNROLL
        for (int i = tid; i < C * QK16; i += NT) {
            const int r = i / QK16, cc = (i % QK16) * 8;
            const bool ok = t0 + r < L && cc < dk;
            const int64_t off = ok ? (t0 + r) * a.ldqk + cc : 0;
            if (!kStateOnly) cp_async16(&tq(r, cc), gq + off, ok);
            cp_async16(&tk(r, cc), gk + off, ok);
        }
        CUTE_UNROLL
        for (int i = tid; i < C * V16; i += NT) {
            const int r = i / V16, cc = (i % V16) * 8;
            const bool ok = t0 + r < L && col0 + cc < dv;
            cp_async16(&tv(cc, r), gv + (ok ? (t0 + r) * a.ldv + cc : 0), ok);
        }
    };

    typename Tr::MmaQK mma_qk;
    typename Tr::MmaQS mma_qs;
    typename Tr::MmaPV mma_pv;
    typename Tr::MmaKV mma_kv;
    auto thr_qk = mma_qk.get_thread_slice(tid);
    auto thr_qs = mma_qs.get_thread_slice(tid);
    auto thr_pv = mma_pv.get_thread_slice(tid);
    auto thr_kv = mma_kv.get_thread_slice(tid);

    T* sS_ptr = smem + kStages * Tr::kStageElems;
    T* sO_ptr = sS_ptr + Tr::kS;
    Tensor sS = make_tensor(make_smem_ptr(sS_ptr), typename Tr::LayoutS{});     // (col, d)
    Tensor sSdc = make_tensor(make_smem_ptr(sS_ptr), typename Tr::LayoutSdc{}); // (d, col)
    Tensor sO = make_tensor(make_smem_ptr(sO_ptr), typename Tr::LayoutO{});     // (t, col)
    auto cpS = make_tiled_copy_C(typename Tr::StoreAtom{}, mma_kv);
    auto cpO = make_tiled_copy_C(typename Tr::StoreAtom{}, mma_qs);
    auto thr_cpS = cpS.get_thread_slice(tid);
    auto thr_cpO = cpO.get_thread_slice(tid);
    Tensor tSsS = thr_cpS.partition_D(sSdc);
    Tensor tOsO = thr_cpO.partition_D(sO);

    // ---- running state: registers (fp32), (d, col) coordinates; initial value from state_init
    Tensor accS = partition_fragment_C(mma_kv, Shape<Int<DK>, Int<DVB>>{});
    Tensor cS = thr_kv.partition_C(make_identity_tensor(Shape<Int<DK>, Int<DVB>>{}));
    if (a.state_init != nullptr) {
        const float* s0 = a.state_init + ((int64_t(b) * a.H + h) * a.init_nseg + (a.init_nseg > 1 ? seg : 0)) *
                                             int64_t(dk) * dv;
        CUTE_UNROLL
        for (int i = 0; i < size(accS); ++i) {
            const int d = get<0>(cS(i)), c = col0 + get<1>(cS(i));
            accS(i) = (d < dk && c < dv) ? s0[int64_t(d) * dv + c] : 0.f;
        }
    } else {
        clear(accS);
    }
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

    for (int c = c_begin; c < c_end; ++c) {
        const int it = c - c_begin;
        const int st = it % kStages;
        {
            const int cn = c + kStages - 1;
            if (cn < c_end) load_chunk(cn, (it + kStages - 1) % kStages);
            cp_async_commit();
        }
        cp_async_wait<kStages - 1>();
        fence_async_shared();  // this thread's cp.async data and S copy -> visible to wgmma
        __syncthreads();

        const int64_t t0 = int64_t(c) * C;
        const int n = int(min<int64_t>(C, L - t0));
        T* sq_ptr = stage_ptr(st);
        T* sk_ptr = sq_ptr + Tr::kQK;
        T* sv_ptr = sk_ptr + Tr::kQK;
        Tensor sQ = make_tensor(make_smem_ptr(sq_ptr), typename Tr::LayoutQK{});
        Tensor sK = make_tensor(make_smem_ptr(sk_ptr), typename Tr::LayoutQK{});
        Tensor sKt = make_tensor(make_smem_ptr(sk_ptr), typename Tr::LayoutKt{});
        Tensor sV = make_tensor(make_smem_ptr(sv_ptr), typename Tr::LayoutV{});

        if (a.feature_map != 0) {  // phi on the valid part of the tiles, in place
            for (int i = tid; i < C * DK; i += NT) {
                const int r = i / DK, d = i % DK;
                if (r < n && d < dk) {
                    if (!kStateOnly) sQ(r, d) = static_cast<T>(feature_map(a.feature_map, float(sQ(r, d))));
                    sK(r, d) = static_cast<T>(feature_map(a.feature_map, float(sK(r, d))));
                }
            }
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
            // ---- causal decayed mask on A, inter-chunk row factor on O
            CUTE_UNROLL
            for (int i = 0; i < size(accA); ++i) {
                const int r = get<0>(cA(i)), j = get<1>(cA(i));
                accA(i) = j <= r ? accA(i) * (s * lam[r - j]) : 0.f;
            }
            CUTE_UNROLL
            for (int i = 0; i < size(accO); ++i) accO(i) *= s * lam[get<0>(cO(i)) + 1];
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
            for (int i = tid; i < C * DK; i += NT) {
                const int r = i / DK, d = i % DK;
                if (r < n) sK(r, d) = static_cast<T>(float(sK(r, d)) * lam[n - 1 - r]);
            }
            fence_async_shared();
            __syncthreads();
        }
        // A enters the A.V product as hi + lo, both in T (see tiled_la_kernel.cuh)
        Tensor rP = make_tensor<T>(accA.layout());
        Tensor rPlo = make_tensor<T>(accA.layout());
        if constexpr (!kStateOnly) {
            CUTE_UNROLL
            for (int i = 0; i < size(accA); ++i) {
                const T hi = static_cast<T>(accA(i));
                rP(i) = hi;
                rPlo(i) = static_cast<T>(accA(i) - static_cast<float>(hi));
            }
        }
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
            if constexpr (!kStateOnly) {
                warpgroup_fence_operand(accO);
                warpgroup_fence_operand(tPa);
                warpgroup_fence_operand(tPalo);
            }
        }

        if constexpr (!kStateOnly) {
            if (a.rowsq != nullptr) {
                // each thread holds two rows (r0 = 16*warp + lane/4, r0 + 8) of the 64-row tile
                float sq0 = 0.f, sq1 = 0.f;
                const int r0 = get<0>(cO(0));
                CUTE_UNROLL
                for (int i = 0; i < size(accO); ++i) {
                    const float x = accO(i);
                    if (get<0>(cO(i)) == r0) sq0 += x * x; else sq1 += x * x;
                }
                sq0 += __shfl_xor_sync(0xffffffffu, sq0, 1);
                sq0 += __shfl_xor_sync(0xffffffffu, sq0, 2);
                sq1 += __shfl_xor_sync(0xffffffffu, sq1, 1);
                sq1 += __shfl_xor_sync(0xffffffffu, sq1, 2);
                if ((tid & 3) == 0) {
                    const int blk = h * (a.nblk / a.H) + dvb;
                    if (r0 < n) a.rowsq[(int64_t(b) * L + t0 + r0) * a.nblk + blk] = sq0;
                    if (r0 + 8 < n) a.rowsq[(int64_t(b) * L + t0 + r0 + 8) * a.nblk + blk] = sq1;
                }
            }
            if (a.o_f32) {
                float* gof = static_cast<float*>(a.o) + int64_t(b) * L * a.ldv + int64_t(h) * dv + col0;
                CUTE_UNROLL
                for (int i = 0; i < size(accO); ++i) {
                    const int r = get<0>(cO(i)), cc = get<1>(cO(i));
                    if (r < n && col0 + cc < dv) gof[(t0 + r) * a.ldv + cc] = accO(i);
                }
            } else {
                Tensor r = make_tensor<T>(accO.layout());
                CUTE_UNROLL
                for (int i = 0; i < size(accO); ++i) r(i) = static_cast<T>(accO(i));
                copy(cpO, thr_cpO.retile_S(r), tOsO);
            }
        }
        __syncthreads();  // sO complete; every warp is done with this stage
        if constexpr (!kStateOnly) {
            constexpr int V16 = DVB / 8;
            if (!a.o_f32) {
                CUTE_UNROLL
                for (int i = tid; i < C * V16; i += NT) {
                    const int r = i / V16, cc = (i % V16) * 8;
                    if (r < n && col0 + cc < dv)
                        *reinterpret_cast<uint4*>(go + (t0 + r) * a.ldv + cc) =
                            *reinterpret_cast<const uint4*>(&sO(r, cc));
                }
            }
            store_state_copy();  // read by the next chunk's Q S after its fence + barrier
        }
    }
    cp_async_wait<0>();

    float* dst = nullptr;
    if (kStateOnly) dst = a.seg_state + ((int64_t(b) * a.H + h) * a.nseg + seg) * int64_t(dk) * dv;
    else if (a.nseg == 1) dst = a.state_out ? a.state_out + (int64_t(b) * a.H + h) * int64_t(dk) * dv : nullptr;
    if (dst != nullptr) {
        CUTE_UNROLL
        for (int i = 0; i < size(accS); ++i) {
            const int d = get<0>(cS(i)), c = col0 + get<1>(cS(i));
            if (d < dk && c < dv) dst[int64_t(d) * dv + c] = accS(i);
        }
    }
#endif
}

}  // namespace chela::cuda::tiled::la
