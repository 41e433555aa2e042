// On-chip FFT short-long convolution for columns longer than one CTA holds (third generation of
// the FFT path; conv_fft_chip.cu is one CTA per column, conv_fft.cu is cuFFT).
//
// Why: past L + K = 32768 the column's spectrum (M > 16384 complex points) no longer fits one
// CTA's shared memory and the cuFFT path moved every column through HBM about eight times (B1
// C1024 L65536: 4.1 ms, 1.5x the torch pipeline, run 46). Here a thread-block cluster of kCtas
// CTAs (Hopper, sm_90) owns one column, each CTA 16384 of its M = 16384 kCtas points in shared
// memory, and they exchange through distributed shared memory; HBM sees the column once each way.
//
// The transform is the four-step split M = kCtas * 16384 with the point index n = n1 + 16384 n2
// and the frequency k = k2 + kCtas k1 (n1, k1 < 16384; n2, k2 < kCtas):
//   Z[k2 + kCtas k1] = sum_n1 W_16384^(n1 k1) [ W_M^(n1 k2) sum_n2 z[n1 + 16384 n2] W_kCtas^(n2 k2) ],
// so CTA k2 ("rank") forms its bracket y_k2[n1] in the exchange that stages the column (each CTA
// computes the activations of a 1/kCtas slice of n1 for every n2 and stores all kCtas brackets
// into their owners' buffers), then runs the one-CTA tensor-core transform (fft_smem_tc.cuh) on
// it: Z[k2 + kCtas k1] sits at PlanTc's digit-reversed slot of k1 in CTA k2. The inverse is the
// same read backwards: each CTA's local inverse, then the output phase gathers the kCtas values of
// its n1 slice through distributed shared memory, applies W_M^(-n1 k2) and the radix-kCtas sum.
// The real-signal pairs (k, M - k) of the spectrum product join CTA k2 with CTA kCtas - k2 (CTA 0
// with itself: the one-CTA pairs), the partner's member at slot 16383 - k1 (its bits flipped).
//
// Spectra: [d][kCtas][16385] float2, slice q holding the packed kernel's transform Z[q + kCtas i]
// (slice 0 also Z[M] = Z[0] at i = 16384), so each CTA reads its frequencies contiguously; the pair
// step unpacks H[k], H[M - k] from Z[k], Z[M - k] as it goes. slice_spectra computes each slice on
// an independent CTA (no cluster). Numerics as the one-CTA
// tensor-core path (fp16 operands, fp32 accumulation, one column scale for the cluster); the
// cross-CTA radix and twiddles are fp32.
// Applicability (cluster_fft_fits): bf16/f16, sm_90+, 16384 < (L + K) / 2 <= 16384 kCtas with
// kCtas = 2 or 4 and L <= M, L a multiple of 8, short kernels within the chunked window.
#include "conv_chip_common.cuh"
#include "fft_smem_tc.cuh"

#include <cooperative_groups.h>

#include <type_traits>

namespace chela::cuda::conv {

namespace {

namespace cg = cooperative_groups;
using fft::cadd;
using fft::cmul;
using fft::conj;
using fft::PlanTc;

constexpr int kLocal = PlanTc::N;  // points per CTA

template <int kCtas_>
struct Cluster {
    static constexpr int kCtas = kCtas_;
    static constexpr int M = kCtas * kLocal;       // complex points of a column's transform
    static constexpr int kChunks = kLocal / 4 / kCtas;  // 4-point chunks of n1 per CTA in the exchanges
    static_assert(kChunks % PlanTc::kThreads == 0, "whole chunks per thread");
    static constexpr int kHalves = kCtas / 2;       // blocks n2 that hold the column (L <= M)
    static constexpr int kSlice = kLocal + 1;       // spectrum entries per slice
    static constexpr int kSpectrum = kCtas * kSlice;
};

// z W_4^e, exactly: e = 0, 1, 2, 3 multiply by 1, -i, -1, i.
__device__ __forceinline__ float2 rot4(float2 z, int e) {
    switch (e & 3) {
        case 0: return z;
        case 1: return make_float2(z.y, -z.x);
        case 2: return make_float2(-z.x, -z.y);
        default: return make_float2(-z.y, z.x);
    }
}

// W_M^(n1 s) for s = 1 .. kCtas - 1 (n1 < 16384: the angle is within [-2 pi / kCtas, 0]).
template <class C>
__device__ __forceinline__ void cross_twiddles(int n1, float2 (&w)[C::kCtas]) {
    constexpr float kTwoPi = 6.28318530717959f;
    w[0] = make_float2(1.0f, 0.0f);
    __sincosf(-kTwoPi / static_cast<float>(C::M) * static_cast<float>(n1), &w[1].y, &w[1].x);
#pragma unroll
    for (int s = 2; s < C::kCtas; ++s) w[s] = cmul(w[s - 1], w[1]);
}

// The four points 4m .. 4m+3 of a chunk sit in one aligned group of four slots: PlanTc::pad XORs
// the low bits with a function of bits 4 and up only, so slot pad(4m) ^ j holds point 4m + j. A
// group moves as two 16-byte accesses (distributed shared memory moves 8-byte accesses at half
// the rate), with the points permuted by the slot's low bits: slot (base + i) holds point i ^ s.
__device__ __forceinline__ void permute_group(float2 (&v)[4], int s) {
    if (s & 1) {
        const float2 t0 = v[0], t2 = v[2];
        v[0] = v[1], v[1] = t0, v[2] = v[3], v[3] = t2;
    }
    if (s & 2) {
        const float2 t0 = v[0], t1 = v[1];
        v[0] = v[2], v[1] = v[3], v[2] = t0, v[3] = t1;
    }
}
__device__ __forceinline__ void store_group(float2* buf, int s0, float2 (&v)[4]) {
    permute_group(v, s0 & 3);
    auto* p = reinterpret_cast<float4*>(buf + (s0 & ~3));
    p[0] = make_float4(v[0].x, v[0].y, v[1].x, v[1].y);
    p[1] = make_float4(v[2].x, v[2].y, v[3].x, v[3].y);
}
__device__ __forceinline__ void load_group(const float2* buf, int s0, float2 (&v)[4]) {
    const auto* p = reinterpret_cast<const float4*>(buf + (s0 & ~3));
    const float4 a = p[0], b = p[1];
    v[0] = make_float2(a.x, a.y), v[1] = make_float2(a.z, a.w), v[2] = make_float2(b.x, b.y), v[3] = make_float2(b.z, b.w);
    permute_group(v, s0 & 3);
}

// The exchange's first step for chunk m (points n1 = 4m + j): y_k2 = W_M^(n1 k2) sum_n2 z[n2]
// W_kCtas^(n2 k2) for every k2, stored into CTA k2's buffer (dst[k2]: local or distributed).
template <class C, int kIn>
__device__ __forceinline__ void scatter_chunk(float2* const (&dst)[C::kCtas], int m, const float2 (&z)[kIn][4]) {
    float2 y[C::kCtas][4];
#pragma unroll
    for (int j = 0; j < 4; ++j) {
        float2 w[C::kCtas];
        cross_twiddles<C>(4 * m + j, w);
#pragma unroll
        for (int k2 = 0; k2 < C::kCtas; ++k2) {
            float2 s = z[0][j];
#pragma unroll
            for (int n2 = 1; n2 < kIn; ++n2) s = cadd(s, rot4(z[n2][j], (4 / C::kCtas) * n2 * k2));
            y[k2][j] = k2 == 0 ? s : cmul(s, w[k2]);
        }
    }
    const int s0 = PlanTc::pad(4 * m);
#pragma unroll
    for (int k2 = 0; k2 < C::kCtas; ++k2) store_group(dst[k2], s0, y[k2]);
}

// The output phase for chunk m: g[j][n2] = sum_k2 W_kCtas^(-n2 k2) W_M^(-n1 k2) v_k2 at the points
// n1 = 4m + j, v_k2 from CTA k2, for the blocks n2 < kHalves that hold the column.
template <class C>
__device__ __forceinline__ void gather_chunk(float2* const (&src)[C::kCtas], int m, float2 (&g)[4][C::kHalves]) {
    const int s0 = PlanTc::pad(4 * m);
    float2 v[C::kCtas][4];
#pragma unroll
    for (int k2 = 0; k2 < C::kCtas; ++k2) load_group(src[k2], s0, v[k2]);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
        float2 w[C::kCtas];
        cross_twiddles<C>(4 * m + j, w);
#pragma unroll
        for (int n2 = 0; n2 < C::kHalves; ++n2) {
            float2 s = v[0][j];
#pragma unroll
            for (int k2 = 1; k2 < C::kCtas; ++k2) s = cadd(s, rot4(cmul(v[k2][j], conj(w[k2])), -(4 / C::kCtas) * n2 * k2));
            g[j][n2] = s;
        }
    }
}

// The cluster helpers below use cooperative_groups' cluster_group, which exists only for sm_90+
// device code: the sm_80 pass of the default build (CHELA_CUDA_GENCODE) skips them, as it skips
// the kernels' bodies.
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 900
// Every CTA's buffer in the cluster, by rank (this CTA's own as a plain shared pointer).
template <class C>
__device__ __forceinline__ void cluster_buffers(cg::cluster_group& cluster, float2* sm, float2* (&bufs)[C::kCtas]) {
    const int rank = static_cast<int>(cluster.block_rank());
#pragma unroll
    for (int q = 0; q < C::kCtas; ++q) bufs[q] = q == rank ? sm : cluster.map_shared_rank(sm, q);
}

// The buffer of this CTA's partner in the spectrum product (CTA kCtas - rank; 0 and kCtas / 2 are
// their own). Not an index into cluster_buffers: a run-time index put that array in local memory.
template <class C>
__device__ __forceinline__ float2* partner_buffer(cg::cluster_group& cluster, float2* sm) {
    const int rank = static_cast<int>(cluster.block_rank()), partner = (C::kCtas - rank) % C::kCtas;
    return partner == rank ? sm : cluster.map_shared_rank(sm, partner);
}

// What both kernels set up first: the cluster, this CTA's rank, its transform tables (filled)
// after the buffer, every CTA's buffer by rank. Ends with a cluster barrier: every CTA runs (and
// has its tables) before anyone stores into its buffer.
template <class C>
struct ClusterCta {
    cg::cluster_group cluster;
    int rank;
    fft::TcTables* tables;
    float2* bufs[C::kCtas];
    __device__ __forceinline__ explicit ClusterCta(float2* sm)
        : cluster(cg::this_cluster()), rank(static_cast<int>(cluster.block_rank())),
          tables(reinterpret_cast<fft::TcTables*>(sm + PlanTc::kSmemBytes / 8)) {
        fft::fill_tables(tables);
        cluster.sync();
        cluster_buffers<C>(cluster, sm, bufs);
    }
};

// The largest of every CTA's v (block_max) over the cluster. Contains cluster barriers: the
// first also orders every CTA's exchange stores before the transform that follows.
template <class C>
__device__ __forceinline__ float cluster_max(cg::cluster_group& cluster, float v) {
    __shared__ float cta_max;
    const float m = block_max<PlanTc::kThreads>(v);
    if (threadIdx.x == 0) cta_max = m;
    cluster.sync();
    float all = 0.0f;
#pragma unroll
    for (int q = 0; q < C::kCtas; ++q) all = fmaxf(all, *cluster.map_shared_rank(&cta_max, q));
    return all;
}
#endif

// A batch of the spectrum product's pairs as this CTA visits them: own slot sk, the partner's slot
// sk2 (in CTA kCtas - rank), their spectrum entries hk, hk2 (offsets into the channel's slices),
// w = W^k with W = exp(-pi i / M).
template <int kCount_, bool kPairedSlots_>
struct ClusterPairs {
    static constexpr int kCount = kCount_;
    // Pairs 2g and 2g + 1 occupy one aligned slot pair on both sides (sk[2g + 1] = sk[2g] ^ 1,
    // likewise sk2): their members move as 16-byte accesses.
    static constexpr bool kPairedSlots = kPairedSlots_;
    int sk[kCount], sk2[kCount], hk[kCount], hk2[kCount];
    float2 w[kCount];
};

// The pairs (k, M - k) of the cluster's spectrum, each visited by exactly one CTA. CTA 0 holds
// k = kCtas k1 and pairs with itself as the one-CTA transform does (for_each_pair: k1 and
// 16384 - k1). CTA r > 0 takes k = r + kCtas j for j < 8192, partner M - k = (kCtas - r) +
// kCtas (16383 - j): slot pad(pos(16383 - j)) = that of j XOR that of 16383 (pos permutes bits,
// pad is XOR-linear), the partner CTA's spectrum slice read backwards. There j = j' + 4096 e
// (j' < 4096, e = 0, 1) differ in the slot's bit 0 only (pos puts k's bits 12, 13 lowest), on
// both sides, so the two pairs of a j' are visited together with paired slots: the partner's
// members are read and written in distributed shared memory by 16-byte accesses (8-byte ones
// moved at half the rate). No barriers inside.
template <class C, class Visit>
__device__ __forceinline__ void for_each_cluster_pair(int rank, Visit visit) {
    if (rank == 0) {
        for_each_pair<PlanTc, kPairBatch>([&](const auto& p) {
            constexpr int n = std::decay_t<decltype(p)>::kCount;
            ClusterPairs<n, false> q;
#pragma unroll
            for (int j = 0; j < n; ++j) {
                q.sk[j] = p.sk[j];
                q.sk2[j] = p.sk2[j];
                q.hk[j] = p.k[j];
                q.hk2[j] = kLocal - p.k[j];
                q.w[j] = p.w[j];
            }
            visit(q);
        });
        return;
    }
    constexpr float kPi = 3.14159265358979f;
    constexpr int S = PlanTc::kThreads, I = kLocal / 4 / S, kPer = kPairBatch / 2;
    static_assert(I % kPer == 0 && kPairBatch % 2 == 0, "whole batches");
    auto slot = [](int k) { return PlanTc::pad(PlanTc::pos(k)); };
    const int tid = static_cast<int>(threadIdx.x), own = slot(tid), flip = slot(kLocal - 1);
    const int partner = C::kCtas - rank;
#pragma unroll
    for (int i0 = 0; i0 < I; i0 += kPer) {
        ClusterPairs<kPairBatch, true> q;
#pragma unroll
        for (int g = 0; g < kPer; ++g) {
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                const int jj = 2 * g + e, j = tid + S * (i0 + g) + kLocal / 4 * e;
                q.sk[jj] = PlanTc::join(own, slot(S * (i0 + g))) ^ e;  // slot(4096) = 1
                q.sk2[jj] = q.sk[jj] ^ flip;
                q.hk[jj] = rank * C::kSlice + j;
                q.hk2[jj] = partner * C::kSlice + (kLocal - 1 - j);
                // k < M / 2: the angle is within [-pi/2, 0]
                __sincosf(-kPi / static_cast<float>(C::M) * static_cast<float>(rank + C::kCtas * j), &q.w[jj].y,
                          &q.w[jj].x);
            }
        }
        visit(q);
    }
}

// The members Z[k] (own buffer) and Z[M - k] (partner's) of a batch, and back.
__device__ __forceinline__ void load_slot_pair(const float2* buf, int s, float2& a, float2& b) {
    const float4 v = *reinterpret_cast<const float4*>(buf + (s & ~1));
    const float2 lo = make_float2(v.x, v.y), hi = make_float2(v.z, v.w);
    a = (s & 1) ? hi : lo;  // slot s
    b = (s & 1) ? lo : hi;  // slot s ^ 1
}
__device__ __forceinline__ void store_slot_pair(float2* buf, int s, float2 a, float2 b) {
    const float2 lo = (s & 1) ? b : a, hi = (s & 1) ? a : b;
    *reinterpret_cast<float4*>(buf + (s & ~1)) = make_float4(lo.x, lo.y, hi.x, hi.y);
}
template <class Q>
__device__ __forceinline__ void load_members(const float2* own, const float2* other, const Q& q,
                                             float2 (&zk)[Q::kCount], float2 (&zk2)[Q::kCount]) {
#pragma unroll
    for (int j = 0; j < Q::kCount; ++j) {
        if constexpr (Q::kPairedSlots) {
            if (j % 2 == 1) continue;
            load_slot_pair(own, q.sk[j], zk[j], zk[j + 1]);
            load_slot_pair(other, q.sk2[j], zk2[j], zk2[j + 1]);
        } else {
            zk[j] = own[q.sk[j]];
            zk2[j] = other[q.sk2[j]];
        }
    }
}
template <class Q>
__device__ __forceinline__ void store_members(float2* own, float2* other, const Q& q, const float2 (&zk)[Q::kCount],
                                              const float2 (&zk2)[Q::kCount]) {
#pragma unroll
    for (int j = 0; j < Q::kCount; ++j) {
        if constexpr (Q::kPairedSlots) {
            if (j % 2 == 1) continue;
            store_slot_pair(own, q.sk[j], zk[j], zk[j + 1]);
            store_slot_pair(other, q.sk2[j], zk2[j], zk2[j + 1]);
        } else {
            own[q.sk[j]] = zk[j];
            other[q.sk2[j]] = zk2[j];
        }
    }
}

// Per (channel c, slice k2) work item, persistent CTAs (no cluster): the bracket y_k2[n1] of the
// padded long kernels (causal taps at 0..K-1, anti-causal at 2M-1 .. 2M-K+1) for all n1, its local
// transform, and the slice of the packed transform Z[k2 + kCtas i] (i = 0 .. 16383; slice 0 also
// Z[M] = Z[0] at i = 16384) in natural order, scaled by 1/(4M), the transforms' gains and this
// slice's own column scale undone. The real-signal unpacking (which pairs slice k2 with slice
// kCtas - k2) is left to the columns kernel's pair step, which reads both members anyway. Before
// (runs 47-65) a cluster of kCtas CTAs per channel exchanged the brackets and unpacked through
// distributed shared memory: 0.85 ms at B1 C1024 L65536 (run 49, IPC 1.0).
// kIn: the blocks n2 holding taps (causal: the first kHalves, as K <= L <= M; else all).
template <class C, int kIn>
__global__ void __launch_bounds__(PlanTc::kThreads, 1)
    slice_spectra(float2* __restrict__ spectra, const void* wl, int wl_dtype, const void* wr, int wr_dtype,
                  int64_t Lk, int K, int d) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900  // the cluster path's (sm_90+); sm_80 skips it
    extern __shared__ float2 sm[];  // the FFT buffer, then the transform's tables
    auto* tables = reinterpret_cast<fft::TcTables*>(sm + PlanTc::kSmemBytes / 8);
    fft::fill_tables(tables);  // ordered before the transform by block_max's barrier
    const bool vec = Lk % 8 == 0 && (reinterpret_cast<uintptr_t>(wl) & 15) == 0;
    constexpr float kTwoPi = 6.28318530717959f;
    const float gain = PlanTc::kOneWayGain * PlanTc::gain() / (8.0f * static_cast<float>(C::M));
    for (int item = blockIdx.x; item < d * C::kCtas; item += gridDim.x) {
        const int64_t c = item / C::kCtas;
        const int k2 = item % C::kCtas;
        const int64_t row = c * Lk;
        __syncthreads();  // every thread done with the previous item's buffer
        float amax = 0.0f;
#pragma unroll 2
        for (int m = threadIdx.x; m < kLocal / 4; m += PlanTc::kThreads) {  // points n1 = 4m .. 4m+3
            float2 z[kIn][4];
#pragma unroll
            for (int b2 = 0; b2 < kIn; ++b2) {
                float v[8];
                kernel_taps8(wl, wl_dtype, wr, wr_dtype, row, 8 * (m + b2 * (kLocal / 4)), K, 2 * C::M, vec, v);
#pragma unroll
                for (int j = 0; j < 4; ++j) {
                    z[b2][j] = make_float2(v[2 * j], v[2 * j + 1]);
                    amax = fmaxf(amax, fmaxf(fabsf(v[2 * j]), fabsf(v[2 * j + 1])));
                }
            }
            float2 y[4];
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                float2 sum = z[0][j];
#pragma unroll
                for (int n2 = 1; n2 < kIn; ++n2) sum = cadd(sum, rot4(z[n2][j], (4 / C::kCtas) * n2 * k2));
                // W_M^(n1 k2): the angle n1 k2 / M < 3/4 of a turn; __sincosf is exact enough below pi.
                float2 w = make_float2(1.0f, 0.0f), w1;
                __sincosf(-kTwoPi / static_cast<float>(C::M) * static_cast<float>(4 * m + j), &w1.y, &w1.x);
                for (int q = 0; q < k2; ++q) w = cmul(w, w1);
                y[j] = cmul(sum, w);
            }
            store_group(sm, PlanTc::pad(4 * m), y);
        }
        const ColumnScale cs = column_scale(block_max<PlanTc::kThreads>(amax));  // also the barrier
        fft::forward_tc(sm, tables, cs.in);
        __syncthreads();  // the whole slice transformed before it is read in natural order
        const float scale = cs.out * gain;
        float2* h = spectra + (c * C::kCtas + k2) * C::kSlice;
        for (int i = threadIdx.x; i < kLocal; i += PlanTc::kThreads) {
            const float2 zi = sm[PlanTc::pad(PlanTc::pos(i))];
            h[i] = make_float2(zi.x * scale, zi.y * scale);
            if (i == 0 && k2 == 0) h[kLocal] = h[0];  // Z[M] = Z[0], the pair partner of k = 0
        }
    }
#endif
}

// Per (b, c): the x column (of [B, C, L] columns) -> SiLU(long conv of SiLU(short conv) + omega x)
// into the same column of out (may be x's buffer), the stages of conv_fft_chip.cu's conv_columns
// spread over the cluster.
// Persistent: cluster i of gridDim.x / kCtas takes columns i, i + clusters, ... (column q = (b, c)
// with b = q % B: the B columns of a channel run together and share its spectrum reads), so the
// tables are built and the cluster formed once per CTA, not once per column.
template <typename T, class C>
__global__ void __launch_bounds__(PlanTc::kThreads, 1)
    cluster_conv_columns(const T* x, T* out, const float2* __restrict__ spectra, const float* __restrict__ ws,
                         const float* __restrict__ bs, const float* __restrict__ omega, int L, int d, int B, int ks,
                         int centre) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    extern __shared__ float2 sm[];  // the FFT buffer, then the transform's tables
    ClusterCta<C> cta(sm);
    auto& [cluster, rank, tables, bufs] = cta;
    const int clusters = static_cast<int>(gridDim.x) / C::kCtas;
    for (int column = static_cast<int>(blockIdx.x) / C::kCtas; column < B * d; column += clusters) {
        const int b = column % B, c = column / B;
        const int64_t at = (static_cast<int64_t>(b) * d + c) * L;
        const T* col = x + at;
        const int chunks = L / 8;  // zero past them: the padding
        // Exchange: SiLU(short conv) of this CTA's n1 slice in every block n2, the brackets to their CTAs.
        const ShortTaps taps(ws + static_cast<int64_t>(c) * ks, ks, centre, bs[c]);
        float amax = 0.0f;
        // Not unrolled: with both exchange loops unrolled the kernel spilled (84 bytes). Unrolling
        // the output loop alone (run 50) changed nothing measurable (1.45 -> 1.49 ms, noise).
#pragma unroll 1
        for (int i = 0; i < C::kChunks / PlanTc::kThreads; ++i) {
            const int q = static_cast<int>(threadIdx.x) + PlanTc::kThreads * i;
            const int m = rank * C::kChunks + q;
            float2 z[C::kHalves][4];
#pragma unroll
            for (int b2 = 0; b2 < C::kHalves; ++b2) {
                const int mb = m + b2 * (kLocal / 4);
                float a[8];
#pragma unroll
                for (int o = 0; o < 8; ++o) a[o] = 0.0f;
                if (mb < chunks) chunk_activations(col, mb, chunks, taps, a);
#pragma unroll
                for (int j = 0; j < 4; ++j) {
                    z[b2][j] = make_float2(a[2 * j], a[2 * j + 1]);
                    amax = fmaxf(amax, fmaxf(fabsf(a[2 * j]), fabsf(a[2 * j + 1])));
                }
            }
            scatter_chunk<C, C::kHalves>(bufs, m, z);
        }
        const ColumnScale cs = column_scale(cluster_max<C>(cluster, amax));
        fft::forward_tc(sm, tables, cs.in);
        cluster.sync();  // the partners' spectra are complete
        // Y = X .* H per frequency pair, partner members in the partner CTA.
        const float2* h = spectra + static_cast<int64_t>(c) * C::kSpectrum;
        float2* other = partner_buffer<C>(cluster, sm);
        for_each_cluster_pair<C>(rank, [&](const auto& p) {
            constexpr int n = std::decay_t<decltype(p)>::kCount;
            float2 zk[n], zk2[n], hk[n], hk2[n];
#pragma unroll
            for (int j = 0; j < n; ++j)  // H[k], H[M - k] from the kernel's packed transform (slice_spectra)
                fft::real_spectrum_pair(h[p.hk[j]], h[p.hk2[j]], p.w[j], hk[j], hk2[j]);
            load_members(sm, other, p, zk, zk2);
#pragma unroll
            for (int j = 0; j < n; ++j) fft::real_pair_product(zk[j], zk2[j], hk[j], hk2[j], p.w[j]);
            store_members(sm, other, p, zk, zk2);
        });
        cluster.sync();  // every product stored, in both partners
        fft::inverse_tc(sm, tables);
        cluster.sync();  // every CTA's inverse done before the gather reads it
        // Output: this CTA's n1 slice of each block n2 < kHalves, SiLU(g * unscale + omega x).
        const float om = omega[c], unscale = cs.out;
#pragma unroll 1
        for (int i = 0; i < C::kChunks / PlanTc::kThreads; ++i) {
            const int q = static_cast<int>(threadIdx.x) + PlanTc::kThreads * i;
            const int m = rank * C::kChunks + q;
            float2 g[4][C::kHalves];
            gather_chunk<C>(bufs, m, g);
#pragma unroll
            for (int b2 = 0; b2 < C::kHalves; ++b2) {
                const int mb = m + b2 * (kLocal / 4);
                if (mb >= chunks) continue;
                float xv[8], y[8];
                load8(col + 8 * mb, xv);
#pragma unroll
                for (int j = 0; j < 4; ++j) {
                    y[2 * j] = silu(fmaf(g[j][b2].x, unscale, om * xv[2 * j]));
                    y[2 * j + 1] = silu(fmaf(g[j][b2].y, unscale, om * xv[2 * j + 1]));
                }
                store8(out + at + 8 * mb, y);
            }
        }
        cluster.sync();  // nobody refills (next column) or leaves while another CTA still reads its buffer
    }
#endif
}

constexpr int kClusterSmem = PlanTc::kSmemBytes + static_cast<int>(sizeof(fft::TcTables));

// A launch of `grid` CTAs in clusters of `ctas` along x with the kernels' shared memory (not
// copyable: cfg points at attr).
struct ClusterLaunch {
    cudaLaunchAttribute attr[1];
    cudaLaunchConfig_t cfg{};
    ClusterLaunch(int ctas, dim3 grid, cudaStream_t stream) {
        cfg.gridDim = grid;
        cfg.blockDim = dim3(PlanTc::kThreads);
        cfg.dynamicSmemBytes = kClusterSmem;
        cfg.stream = stream;
        attr[0].id = cudaLaunchAttributeClusterDimension;
        attr[0].val.clusterDim.x = static_cast<unsigned>(ctas);
        attr[0].val.clusterDim.y = 1;
        attr[0].val.clusterDim.z = 1;
        cfg.attrs = attr;
        cfg.numAttrs = 1;
    }
    ClusterLaunch(const ClusterLaunch&) = delete;
    ClusterLaunch& operator=(const ClusterLaunch&) = delete;
};

// How many clusters of `ctas` CTAs of `kernel` fit on the device at once (one wave of a persistent
// launch; H200: 30 of 4, 66 of 2), capped by CHELA_CUDA_CONV_CTAS as resident_ctas is.
template <class Kernel>
int64_t resident_clusters(Kernel kernel, int ctas) {
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kClusterSmem),
          "shared memory opt-in");
    const ClusterLaunch launch(ctas, dim3(ctas), nullptr);
    int fit = 0;
    check(cudaOccupancyMaxActiveClusters(&fit, kernel, &launch.cfg), "cluster occupancy");
    const int64_t cap = env_count("CHELA_CUDA_CONV_CTAS", 0);
    return std::max<int64_t>(1, cap > 0 ? std::min<int64_t>(fit, cap / ctas) : fit);
}

// The kernel spectra into `dst` ([d][kCtas][16385] float2: slice_spectra's packed transforms).
template <int kCtas>
void launch_cluster_spectra(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a, float2* dst) {
    using C = Cluster<kCtas>;
    const int K = static_cast<int>(std::min(p.Lk, p.L));
    // causal: the taps fill the first kHalves blocks only (run 48: 0.885 ms for all four at B1 L65536)
    const auto kernel = p.causal ? slice_spectra<C, C::kHalves> : slice_spectra<C, kCtas>;
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kClusterSmem),
          "shared memory opt-in");
    const int64_t ctas = std::min<int64_t>(p.d * kCtas, resident_ctas(kernel, PlanTc::kThreads, kClusterSmem));
    kernel<<<static_cast<unsigned>(ctas), PlanTc::kThreads, kClusterSmem, stream>>>(
        dst, a.long_w, a.long_dtype, a.long_w_rev, a.long_rev_dtype, p.Lk, K, static_cast<int>(p.d));
    check(cudaGetLastError(), "kernel spectra launch");
}

template <typename T, int kCtas>
void run_cluster_typed(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a) {
    using C = Cluster<kCtas>;
    const int64_t B = p.B, L = p.L, d = p.d;
    const CallSpectra spectra(a, cluster_spectra_bytes(p), stream,
                              [&](float2* dst) { launch_cluster_spectra<kCtas>(stream, p, a, dst); });
    const ColumnsIo<T> io(a, B, L, d, stream);
    const auto kernel = cluster_conv_columns<T, C>;
    const int64_t clusters = std::min(B * d, resident_clusters(kernel, kCtas));
    const ClusterLaunch launch(kCtas, dim3(static_cast<unsigned>(kCtas * clusters)), stream);
    check(cudaLaunchKernelEx(&launch.cfg, kernel, io.x, io.out, spectra.get(), a.short_w, a.short_b, a.omega,
                             static_cast<int>(L), static_cast<int>(d), static_cast<int>(B), p.ks, short_centre(p)),
          "column convolution launch");
    io.finish(stream);
}

// 2 CTAs per column at 32768 points, else 4.
int cluster_ctas(const cpu::ShortLongConvParams& p) { return log2_points(p) == 15 ? 2 : 4; }

template <typename T>
void run_cluster_sized(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a) {
    if (cluster_ctas(p) == 2) run_cluster_typed<T, 2>(stream, p, a);
    else run_cluster_typed<T, 4>(stream, p, a);
}

}  // namespace

bool cluster_fft_fits(int device, const cpu::ShortLongConvParams& p, int dtype) {
    if (dtype != CHELA_DTYPE_BF16 && dtype != CHELA_DTYPE_F16) return false;
    const int lg = log2_points(p);
    // Column numbers (B d, the persistent clusters' loop) and spectra items (d kCtas) stay ints.
    if (lg < 15 || lg > 16 || p.L > (int64_t{1} << lg) || p.L % 8 != 0 || p.B * p.d * 4 > 0x7fffffff || p.d > 65535 ||
        !ShortTaps::fits(p.ks, short_centre(p)))
        return false;
    int major = 0, optin = 0;
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
        cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) != cudaSuccess) {
        (void)cudaGetLastError();
        return false;
    }
    return major >= 9 && optin >= kClusterSmem;
}

int64_t cluster_spectra_bytes(const cpu::ShortLongConvParams& p) {
    return int64_t{sizeof(float2)} * p.d * (cluster_ctas(p) == 2 ? Cluster<2>::kSpectrum : Cluster<4>::kSpectrum);
}

void cluster_spectra(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a, void* dst) {
    if (cluster_ctas(p) == 2) launch_cluster_spectra<2>(stream, p, a, static_cast<float2*>(dst));
    else launch_cluster_spectra<4>(stream, p, a, static_cast<float2*>(dst));
}

void run_cluster_fft(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a) {
    if (a.dtype == CHELA_DTYPE_BF16) run_cluster_sized<__nv_bfloat16>(stream, p, a);
    else run_cluster_sized<__half>(stream, p, a);
}

}  // namespace chela::cuda::conv
