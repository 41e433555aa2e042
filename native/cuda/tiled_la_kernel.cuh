// Tensor-core chunked linear attention forward (CuTe, mma.sync SM80 atoms: runs on sm_80 and sm_90a).
//
// One CTA owns (batch b, head h, a block of DVB value columns, an L-segment) and walks the segment's
// chunks of C = 64 tokens in order, the running state S (DK x DVB, fp32) in registers:
//   A   = (Q_c K_c^T) .* M          M[i,j] = s * lambda^(i-j) for j <= i, else 0     (64 x 64)
//   O_c = diag(s * lambda^(i+1)) Q_c S  +  A V_c                                   (64 x DVB)
//   S   = lambda^n S + K_c^T diag(lambda^(n-1-j)) V_c                              (DK x DVB)
// (n = valid tokens of the chunk). Q, K, V arrive through cp.async, kStages deep; O leaves through
// shared memory as 16-byte stores. S is kept in shared memory as T for the Q S product.
// kStateOnly = the segment pre-pass: only the S recurrence, result written to seg_state.
#pragma once

#include "feature_map.cuh"
#include "tiled_la_chunk.cuh"

#include <cute/tensor.hpp>
#include <cutlass/numeric_types.h>

#include <cstdint>
#include <type_traits>

namespace chela::cuda::tiled::la {

using namespace cute;

template <class T_, int DK_, int DVB_, int kStages_, int kMinBlocks_>
struct Traits {
    using T = T_;
    static constexpr int C = 64, DK = DK_, DVB = DVB_, kThreads = 128, kStages = kStages_;
    static constexpr int kMinBlocks = kMinBlocks_, kGroups = 1;  // value-column blocks per CTA
    using MmaOp = std::conditional_t<std::is_same_v<T, cutlass::half_t>, SM80_16x8x16_F32F16F16F32_TN,
                                     SM80_16x8x16_F32BF16BF16F32_TN>;
    using TiledMma = TiledMMA<MMA_Atom<MmaOp>, Layout<Shape<_4, _1, _1>>, Tile<_64, _16, _16>>;
    using Atom64 = decltype(composition(Swizzle<3, 3, 3>{}, Layout<Shape<_8, _64>, Stride<_64, _1>>{}));
    using Atom32 = decltype(composition(Swizzle<2, 3, 3>{}, Layout<Shape<_8, _32>, Stride<_32, _1>>{}));
    using AtomV = std::conditional_t<DVB % 64 == 0, Atom64, Atom32>;
    using LayoutQK = decltype(tile_to_shape(Atom64{}, Shape<Int<C>, Int<DK>>{}));
    using LayoutKt = decltype(composition(LayoutQK{}, make_layout(Shape<Int<DK>, Int<C>>{}, GenRowMajor{})));
    using LayoutV = decltype(tile_to_shape(AtomV{}, Shape<Int<C>, Int<DVB>>{}));
    using LayoutVt = decltype(composition(LayoutV{}, make_layout(Shape<Int<DVB>, Int<C>>{}, GenRowMajor{})));
    using LayoutS = decltype(tile_to_shape(AtomV{}, Shape<Int<DK>, Int<DVB>>{}));
    using LayoutSt = decltype(composition(LayoutS{}, make_layout(Shape<Int<DVB>, Int<DK>>{}, GenRowMajor{})));
    static constexpr int kQK = C * DK, kV = C * DVB, kS = DK * DVB;
    static constexpr int kStageElems = 2 * kQK + kV;
    static constexpr int kLamOffsetBytes = (kStages * kStageElems + kS + kV) * int(sizeof(T));
    static constexpr int kSmemBytes = kLamOffsetBytes + 80 * 4;  // + lambda^m, m = 0..64
};

// (MMA=4, MMA_M, MMA_N) accumulator layout -> ((4,2), MMA_M, MMA_N/2) A-operand layout (m16n8k16).
template <class Layout>
CUTE_HOST_DEVICE auto acc_to_a_layout(Layout acc) {
    auto l = logical_divide(acc, Shape<Underscore, Underscore, _2>{});
    return make_layout(make_layout(get<0>(l), get<2, 0>(l)), get<1>(l), get<2, 1>(l));
}


template <class Tr, bool kStateOnly>
__global__ void __launch_bounds__(Tr::kThreads, Tr::kMinBlocks) la_fwd_kernel(const KernelArgs a) {
    using T = typename Tr::T;
    constexpr int C = Tr::C, DK = Tr::DK, DVB = Tr::DVB, NT = Tr::kThreads, kStages = Tr::kStages;
    extern __shared__ __align__(128) char smem_raw[];
    T* smem = reinterpret_cast<T*>(smem_raw);
    float* lam = reinterpret_cast<float*>(smem_raw + Tr::kLamOffsetBytes);

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
        constexpr int V16 = DVB / 8;
        cp_async_qk<C, DK, NT, !kStateOnly>(tq, tk, gq, gk, a.ldqk, t0, L, dk, tid);
        CUTE_UNROLL
        for (int i = tid; i < C * V16; i += NT) {
            const int r = i / V16, cc = (i % V16) * 8;
            const bool ok = t0 + r < L && col0 + cc < dv;
            cp_async16(&tv(r, cc), gv + (ok ? (t0 + r) * a.ldv + cc : 0), ok);
        }
    };

    typename Tr::TiledMma mma;
    auto thr = mma.get_thread_slice(tid);
    auto cpA = make_tiled_copy_A(Copy_Atom<SM75_U32x4_LDSM_N, T>{}, mma);
    auto cpB = make_tiled_copy_B(Copy_Atom<SM75_U32x4_LDSM_N, T>{}, mma);
    auto cpAt = make_tiled_copy_A(Copy_Atom<SM75_U16x8_LDSM_T, T>{}, mma);
    auto cpBt = make_tiled_copy_B(Copy_Atom<SM75_U16x8_LDSM_T, T>{}, mma);
    auto thrA = cpA.get_thread_slice(tid);
    auto thrB = cpB.get_thread_slice(tid);
    auto thrAt = cpAt.get_thread_slice(tid);
    auto thrBt = cpBt.get_thread_slice(tid);

    T* sS_ptr = smem + kStages * Tr::kStageElems;
    T* sO_ptr = sS_ptr + Tr::kS;
    Tensor sS = make_tensor(make_smem_ptr(sS_ptr), typename Tr::LayoutS{});
    Tensor sSt = make_tensor(make_smem_ptr(sS_ptr), typename Tr::LayoutSt{});
    Tensor sO = make_tensor(make_smem_ptr(sO_ptr), typename Tr::LayoutV{});

    // ---- running state: registers (fp32), initial value from state_init
    Tensor accS = partition_fragment_C(mma, Shape<Int<DK>, Int<DVB>>{});
    Tensor cS = thr.partition_C(make_identity_tensor(Shape<Int<DK>, Int<DVB>>{}));
    load_start_state(accS, cS, a, b, h, seg, col0);
    if (!kStateOnly) {
        Tensor tsS = thr.partition_C(sS);
        CUTE_UNROLL
        for (int i = 0; i < size(accS); ++i) tsS(i) = static_cast<T>(accS(i));
    }

    // ---- prologue: chunks c_begin .. c_begin + kStages - 2
    CUTE_UNROLL
    for (int st = 0; st < kStages - 1; ++st) {
        if (c_begin + st < c_end) load_chunk(c_begin + st, st);
        cp_async_commit();
    }

    Tensor cA = thr.partition_C(make_identity_tensor(Shape<Int<C>, Int<C>>{}));
    Tensor cO = thr.partition_C(make_identity_tensor(Shape<Int<C>, Int<DVB>>{}));
    Tensor cVt = thr.partition_B(make_identity_tensor(Shape<Int<DVB>, Int<C>>{}));

    for (int c = c_begin; c < c_end; ++c) {
        const int it = c - c_begin;
        const int st = it % kStages;
        {   // prefetch chunk c + kStages - 1 into the stage consumed by the previous iteration
            const int cn = c + kStages - 1;
            if (cn < c_end) load_chunk(cn, (it + kStages - 1) % kStages);
            cp_async_commit();
        }
        cp_async_wait<kStages - 1>();
        __syncthreads();  // chunk c visible to all; sS of the previous chunk too

        const int64_t t0 = int64_t(c) * C;
        const int n = int(min<int64_t>(C, L - t0));
        T* sq_ptr = stage_ptr(st);
        T* sk_ptr = sq_ptr + Tr::kQK;
        T* sv_ptr = sk_ptr + Tr::kQK;
        Tensor sQ = make_tensor(make_smem_ptr(sq_ptr), typename Tr::LayoutQK{});
        Tensor sK = make_tensor(make_smem_ptr(sk_ptr), typename Tr::LayoutQK{});
        Tensor sKt = make_tensor(make_smem_ptr(sk_ptr), typename Tr::LayoutKt{});
        Tensor sVt = make_tensor(make_smem_ptr(sv_ptr), typename Tr::LayoutVt{});

        if (a.feature_map != 0) {  // phi on the valid part of the tiles, in place
            apply_feature_map<C, NT, !kStateOnly>(sQ, sK, a.feature_map, n, dk, tid);
            __syncthreads();
        }

        Tensor accO = partition_fragment_C(mma, Shape<Int<C>, Int<DVB>>{});
        Tensor accA = partition_fragment_C(mma, Shape<Int<C>, Int<C>>{});
        if constexpr (!kStateOnly) {
            // ---- A = Q K^T and O = Q S (shared Q fragments)
            Tensor rQ = thr.partition_fragment_A(sQ);
            Tensor rK = thr.partition_fragment_B(sK);
            Tensor rSt = thr.partition_fragment_B(sSt);
            Tensor tsQ = thrA.partition_S(sQ);
            Tensor trQ = thrA.retile_D(rQ);
            Tensor tsK = thrB.partition_S(sK);
            Tensor trK = thrB.retile_D(rK);
            Tensor tsSt = thrBt.partition_S(sSt);
            Tensor trSt = thrBt.retile_D(rSt);
            clear(accA);
            clear(accO);
            CUTE_UNROLL
            for (int kk = 0; kk < DK / 16; ++kk) {
                copy(cpA, tsQ(_, _, kk), trQ(_, _, kk));
                copy(cpB, tsK(_, _, kk), trK(_, _, kk));
                copy(cpBt, tsSt(_, _, kk), trSt(_, _, kk));
                gemm(mma, rQ(_, _, kk), rK(_, _, kk), accA);
                gemm(mma, rQ(_, _, kk), rSt(_, _, kk), accO);
            }
            // ---- causal decayed mask on A, inter-chunk row factor on O
            mask_scores(accA, cA, accO, cO, lam, s, has_decay);
        }
        // state decay over the chunk
        {
            const float ln = lam[n];
            CUTE_UNROLL
            for (int i = 0; i < size(accS); ++i) accS(i) *= ln;
        }
        Tensor rP = make_tensor<T>(accA.layout());
        Tensor rPlo = make_tensor<T>(accA.layout());
        if constexpr (!kStateOnly) split_hi_lo(accA, rP, rPlo);
        Tensor tOrP = make_tensor(rP.data(), acc_to_a_layout(rP.layout()));
        Tensor tOrPlo = make_tensor(rPlo.data(), acc_to_a_layout(rPlo.layout()));

        // ---- O += A V ; S += K^T diag(w) V   (V fragments shared)
        {
            Tensor rVt = thr.partition_fragment_B(sVt);
            Tensor rKt = thr.partition_fragment_A(sKt);
            Tensor tsVt = thrBt.partition_S(sVt);
            Tensor trVt = thrBt.retile_D(rVt);
            Tensor tsKt = thrAt.partition_S(sKt);
            Tensor trKt = thrAt.retile_D(rKt);
            CUTE_UNROLL
            for (int kk = 0; kk < C / 16; ++kk) {
                copy(cpBt, tsVt(_, _, kk), trVt(_, _, kk));
                copy(cpAt, tsKt(_, _, kk), trKt(_, _, kk));
                if constexpr (!kStateOnly) {
                    gemm(mma, tOrP(_, _, kk), rVt(_, _, kk), accO);
                    gemm(mma, tOrPlo(_, _, kk), rVt(_, _, kk), accO);
                }
                if (has_decay) {
                    Tensor rv = rVt(_, _, kk);
                    Tensor cv = cVt(_, _, kk);
                    CUTE_UNROLL
                    for (int i = 0; i < size(rv); ++i) {
                        const int j = get<1>(cv(i));
                        const float w = j < n ? lam[n - 1 - j] : 0.f;
                        rv(i) = static_cast<T>(float(rv(i)) * w);
                    }
                }
                gemm(mma, rKt(_, _, kk), rVt(_, _, kk), accS);
            }
        }

        if constexpr (!kStateOnly) {
            if (a.rowsq != nullptr) write_row_sumsq(accO, cO, a, tid, b, t0, n, h * (a.nblk / a.H) + dvb);
            if (a.o_f32) {
                store_o_f32(accO, cO, a, b, h, col0, t0, n);
            } else {
                Tensor tsO = thr.partition_C(sO);
                CUTE_UNROLL
                for (int i = 0; i < size(accO); ++i) tsO(i) = static_cast<T>(accO(i));
            }
        }
        __syncthreads();  // sO complete; every warp is done with this stage and with sS
        if constexpr (!kStateOnly) {
            if (!a.o_f32) store_o_rows<C, DVB, NT>(sO, go, a.ldv, t0, n, col0, dv, tid);
            Tensor tsS = thr.partition_C(sS);
            CUTE_UNROLL
            for (int i = 0; i < size(accS); ++i) tsS(i) = static_cast<T>(accS(i));
        }
    }
    cp_async_wait<0>();
    store_end_state(accS, cS, a, b, h, seg, col0, kStateOnly);
}

}  // namespace chela::cuda::tiled::la
