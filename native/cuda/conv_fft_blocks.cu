// Block FFT short-long convolution for columns longer than one CTA's transform (fourth generation
// of the FFT path: conv_fft_chip.cu is one CTA per column, conv_fft_cluster.cu a cluster of CTAs
// per column, conv_fft.cu cuFFT).
//
// Why: the cluster variant spends most of its time in the exchanges between its CTAs (distributed
// shared memory latency, barriers, the pair imbalance: IPC 1.2 against the one-CTA kernel's 2.0),
// and takes 2.0 ms at B1 C1024 L65536 against the 1.24 ms of acceptance item 2 (docs/gpu.md). Here
// every CTA works alone on the one-CTA tensor-core transform (fft_smem_tc.cuh, N = 16384 packed
// points = 2b real samples, b = 16384) and the long convolution is cut into blocks of b samples
// (uniformly partitioned convolution, overlap-add folded into the spectrum):
//   a_j  = the activations SiLU(short conv) of samples jb .. jb + b - 1 (zero past L),
//   g_q  = the long kernel h at the lags qb - b .. qb + b - 1, rotated so that lag qb sits at 0:
//          g_q[n] = h[qb + n] (n < b), h[qb + n - 2b] (n >= b),
//   out block i = the first b samples of IDFT_2b( sum_j DFT(a_j, 0) DFT(g_(i-j)) ).
// The second half of g_q carries the previous partition's tail, so one inverse per output block
// completes the overlap-add (tools/proto/block_conv_check.py checks the algebra in float64). Every
// transform is the half-zero or full one-CTA transform, so the work is the one-CTA kernel's: per
// channel and block one forward of x, one of the kernel window, one inverse.
// Two launches, persistent CTAs (tables built once per CTA):
//   window_spectra  per channel: the windows' half spectra G_q = H_q + (-1)^k H_(q-1) from the
//                   partitions' half-zero transforms (B-independent; a loaded model caches them:
//                   SpectraCache),
//   block_columns   per column: every block's half spectrum A_j into the CTA's own scratch, then per
//                   output block the sum of products, packed back, inverse, skip + SiLU.
// The half spectra (real_spectrum_pair's 2X[k], k = 0 .. N) are stored as fp16 pairs with a float
// scale per spectrum (64 KB each: the transform rounds every operand to fp16 anyway); a CTA's block
// spectra (nb x 64 KB, 132 CTAs: 35 MB at nb = 4) stay in L2 between their write and their reads.
// Applicability (blocks_fft_fits): bf16/f16, sm_80+ with 216 KB of shared memory per CTA (Hopper;
// not the A100), L a multiple of 8, short kernels within the chunked window, at most kMaxBlocks
// blocks (the sums grow as nb^2); any K.
#include "conv_chip_common.cuh"
#include "fft_smem_tc.cuh"

#include <algorithm>
#include <type_traits>

namespace chela::cuda::conv {

namespace {

using fft::PlanTc;

constexpr int kN = PlanTc::N;                   // packed points of a block transform
constexpr int kBlock = PlanTc::N;               // samples per block: the transform holds 2 kBlock
constexpr int kBlockChunks = kBlock / 8;        // eight-sample chunks per block
constexpr int kSmem = PlanTc::kSmemBytes + static_cast<int>(sizeof(fft::TcTables));
constexpr int kMaxBlocks = 8;                   // L <= 131072

// The blocks and kernel windows of a call: nb blocks of the column, windows q = qlo .. qhi (q = i - j
// for output block i and input block j; windows without taps are left out).
struct BlockPlan {
    int nb = 0, qlo = 0, qhi = 0;
    int nq() const { return qhi - qlo + 1; }
};
BlockPlan block_plan(const cpu::ShortLongConvParams& p) {
    const int64_t K = std::min(p.Lk, p.L);
    BlockPlan bp;
    bp.nb = static_cast<int>((p.L + kBlock - 1) / kBlock);
    // g_q has taps when qb - b < K (and, bidirectional, qb + b > -K)
    const int reach = static_cast<int>(std::min<int64_t>(bp.nb - 1, (K - 1) / kBlock + 1));
    bp.qhi = reach;
    bp.qlo = p.causal ? 0 : -reach;
    return bp;
}

// A stored half spectrum (k = 0 .. N: real_spectrum_pair's 2X[k]) is two half rows of fp16 pairs:
// lo holds 2X[k], hi holds 2X[N - k], both at bin_slot(k) for k = 0 .. N/2, so that the members of a
// frequency pair sit at the same index. Within a half row the four bins a thread visits in one
// for_each_pair batch (k = tid + 512 (4 b + e), e = 0..3) are consecutive: a batch moves as one
// 16-byte access per half row and a warp's accesses cover 512 contiguous bytes (the block sums read
// several spectra per output: with 4-byte accesses they waited on memory, run 70).
constexpr int kHalf = kN / 2 + 4;  // entries per half row (N/2 + 1, 16-byte aligned)
constexpr int kRow = 2 * kHalf;    // entries per stored spectrum
static_assert(PlanTc::kThreads == 512 && kPairBatch == 4, "bin_slot follows for_each_pair's batches");
__device__ __forceinline__ int bin_slot(int k) {
    return k == kN / 2 ? k : (k & ~2047) | ((k & 511) << 2) | ((k >> 9) & 3);
}
template <bool kReadOnly>
__device__ __forceinline__ void load_bins(const __half2* p, float2 (&v)[4]) {
    const uint4 u = kReadOnly ? __ldg(reinterpret_cast<const uint4*>(p)) : *reinterpret_cast<const uint4*>(p);
    v[0] = __half22float2(fft::as_half2(u.x)), v[1] = __half22float2(fft::as_half2(u.y));
    v[2] = __half22float2(fft::as_half2(u.z)), v[3] = __half22float2(fft::as_half2(u.w));
}
__device__ __forceinline__ void store_bins(__half2* p, const float2 (&v)[4]) {
    *reinterpret_cast<uint4*>(p) = make_uint4(fft::as_word(__float22half2_rn(v[0])), fft::as_word(__float22half2_rn(v[1])),
                                              fft::as_word(__float22half2_rn(v[2])), fft::as_word(__float22half2_rn(v[3])));
}
// The members of a batch of pairs from a stored spectrum (lo and hi at bin_slot of the batch).
// kReadOnly: a row no thread writes during the kernel (the windows): read through the
// non-coherent path, which the compiler may also move ahead of the shared-memory stores around it.
template <bool kReadOnly = false, class Pairs>
__device__ __forceinline__ void load_members(const __half2* row, const Pairs& p, float2 (&a)[Pairs::kCount],
                                             float2 (&b)[Pairs::kCount]) {
    if constexpr (Pairs::kCount == 4) {
        const int s = bin_slot(p.k[0]);
        load_bins<kReadOnly>(row + s, a);
        load_bins<kReadOnly>(row + kHalf + s, b);
    } else {
#pragma unroll
        for (int e = 0; e < Pairs::kCount; ++e) {
            const int s = bin_slot(p.k[e]);
            a[e] = __half22float2(kReadOnly ? __ldg(row + s) : row[s]);
            b[e] = __half22float2(kReadOnly ? __ldg(row + kHalf + s) : row[kHalf + s]);
        }
    }
}

template <class Pairs>
__device__ __forceinline__ void store_members(__half2* row, const Pairs& p, const float2 (&a)[Pairs::kCount],
                                              const float2 (&b)[Pairs::kCount]) {
    if constexpr (Pairs::kCount == 4) {
        const int s = bin_slot(p.k[0]);
        store_bins(row + s, a);
        store_bins(row + kHalf + s, b);
    } else {
#pragma unroll
        for (int e = 0; e < Pairs::kCount; ++e) {
            const int s = bin_slot(p.k[e]);
            row[s] = __float22half2_rn(a[e]);
            row[kHalf + s] = __float22half2_rn(b[e]);
        }
    }
}

// The half spectrum of the transformed buffer as fp16 pairs into the stored spectrum `row`. No
// barriers.
__device__ __forceinline__ void store_half_spectrum(const float2* sm, __half2* row) {
    for_each_pair<PlanTc, kPairBatch>([&](const auto& p) {
        constexpr int n = std::decay_t<decltype(p)>::kCount;
        float2 a[n], b[n];
        unpack_pairs(sm, p, a, b);
        store_members(row, p, a, b);
    });
}

// Asks L2 for `bytes` (a multiple of 16) from the 16-byte aligned p on, in 16 KB requests by threads
// `first` .. of the CTA: the data a later phase of this CTA reads, fetched while it transforms.
// Hopper's bulk prefetch; a no-op before sm_90.
__device__ __forceinline__ void prefetch_l2(const void* p, int64_t bytes, int first) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    constexpr int64_t kChunk = 16384;
    const int64_t t = static_cast<int64_t>(threadIdx.x) - first;
    if (t < 0 || t * kChunk >= bytes) return;
    const auto size = static_cast<uint32_t>(std::min(kChunk, bytes - t * kChunk));
    asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;\n" ::"l"(static_cast<const char*>(p) + t * kChunk), "r"(size)
                 : "memory");
#endif
}

// h at lags s0 .. s0 + 7 of the channel whose taps start at `row` (zero outside (-K, K), and at
// negative lags when causal).
__device__ __forceinline__ void lag_taps8(const LongTaps& t, int64_t row, int s0, bool vec, float (&v)[8]) {
    if (vec && s0 >= 0 && s0 + 8 <= t.K) {
        load8_any(t.wl, t.wl_dtype, row + s0, v);
        return;
    }
#pragma unroll
    for (int o = 0; o < 8; ++o) {
        const int s = s0 + o;
        v[o] = 0.0f;
        if (s >= 0) {
            if (s < t.K) v[o] = load_any(t.wl, t.wl_dtype, row + s);
        } else if (t.wr != nullptr && -s < t.K) {
            v[o] = load_any(t.wr, t.wr_dtype, row - s);
        }
    }
}

// Per channel c, persistent CTAs: the windows' half spectra G_q (q = qlo .. qhi) into the rows
// spec[c nq + q - qlo] and the factors they are read with into scale[...]: each window's column
// scale, the transforms' unitary scaling and the columns' forward + inverse gain, 1/(8N)
// (kernel_spectra's factors in conv_fft_chip.cu).
// A window is two partitions: g_q = [h_q | h_(q-1)] with h_p the taps at lags pb .. pb + b - 1, so
// G_q = H_q + (-1)^k H_(q-1) (the second half is a shift by b), H_p the half-zero transform of h_p.
// The CTA walks q upwards with H_(q-1) kept in shared memory (fp16 pairs, 64 KB), one half-zero
// transform per window instead of a full one (plus H_(qlo-1) first where anti-causal taps reach it;
// causal taps have none before lag 0). Before (run 72): one full transform per (channel, q) item,
// 0.391 ms at B1 C1024 L65536.
__global__ void __launch_bounds__(PlanTc::kThreads, 1)
    window_spectra(__half2* __restrict__ spec, float* __restrict__ scale, LongTaps taps, int d, int qlo, int nq) {
    extern __shared__ float2 sm[];  // the FFT buffer, the transform's tables, H_(q-1)
    auto* tables = reinterpret_cast<fft::TcTables*>(sm + PlanTc::kSmemBytes / 8);
    auto* prev = reinterpret_cast<__half2*>(reinterpret_cast<char*>(tables) + sizeof(fft::TcTables));
    fft::fill_tables(tables);  // ordered before the transform by block_max's barrier
    const bool vec = taps.Lk % 8 == 0 && (reinterpret_cast<uintptr_t>(taps.wl) & 15) == 0;
    const bool l2_ahead = vec && taps.wl_dtype == CHELA_DTYPE_F32;
    const float gain = PlanTc::kOneWayGain * PlanTc::gain() / (8.0f * static_cast<float>(kN));
    const int qhi = qlo + nq - 1, q0 = taps.wr == nullptr ? qlo : qlo - 1;
    // The causal taps of partition p of channel c into L2 (a contiguous range of wl's row).
    auto prefetch_partition = [&](int cc, int pp) {
        const int first = pp * kBlock, count = std::min(taps.K, first + kBlock) - first;
        if (l2_ahead && cc < d && pp >= 0 && count > 0)
            prefetch_l2(static_cast<const float*>(taps.wl) + static_cast<int64_t>(cc) * taps.Lk + first,
                        int64_t{count} / 4 * 16, 0);
    };
    for (int c = blockIdx.x; c < d; c += gridDim.x) {
        const int64_t row = static_cast<int64_t>(c) * taps.Lk;
        float prev_scale = 0.0f;  // H_(q-1)'s column scale; 0: none (zero taps)
        for (int q = q0; q <= qhi; ++q) {
            __syncthreads();  // every thread done with the buffer and with prev
            if (q < qhi) prefetch_partition(c, q + 1);
            else prefetch_partition(c + gridDim.x, q0);
            float amax = 0.0f;
#pragma unroll  // four chunks per thread: all their loads in flight
            for (int m = threadIdx.x; m < kBlockChunks; m += PlanTc::kThreads) {
                float v[8];
                lag_taps8(taps, row, q * kBlock + 8 * m, vec, v);
                amax = fmaxf(amax, put_chunk<PlanTc>(sm, m, v));
            }
            const ColumnScale cs = column_scale(block_max<PlanTc::kThreads>(amax));  // also the barrier
            fft::forward_tc<true>(sm, tables, cs.in);
            const bool window = q >= qlo, has_prev = prev_scale > 0.0f;
            const float wsum = fmaxf(cs.out, prev_scale), own = cs.out / wsum, back = prev_scale / wsum;
            __half2* g = spec + (static_cast<int64_t>(c) * nq + (q - qlo)) * kRow;
            for_each_pair<PlanTc, kPairBatch>([&](const auto& p) {
                constexpr int n = std::decay_t<decltype(p)>::kCount;
                float2 h[n], h2[n], hp[n], hp2[n];
                // H_(q-1) at this thread's bins; none (zero) before the first partition, whose
                // shared memory holds the previous channel's (or nothing)
                if (has_prev) load_members(prev, p, hp, hp2);
#pragma unroll
                for (int e = 0; e < n; ++e)
                    if (!has_prev) hp[e] = hp2[e] = make_float2(0.0f, 0.0f);
                unpack_pairs(sm, p, h, h2);
                if (window) {
                    float2 gk[n], gk2[n];
#pragma unroll
                    for (int e = 0; e < n; ++e) {
                        const float sb = (p.k[e] & 1) ? -back : back;  // (-1)^k, the same for both members (N even)
                        gk[e] = make_float2(own * h[e].x + sb * hp[e].x, own * h[e].y + sb * hp[e].y);
                        gk2[e] = make_float2(own * h2[e].x + sb * hp2[e].x, own * h2[e].y + sb * hp2[e].y);
                    }
                    store_members(g, p, gk, gk2);
                }
                store_members(prev, p, h, h2);  // H_q for the next window (same bins: read before)
            });
            if (window && threadIdx.x == 0) scale[c * nq + (q - qlo)] = wsum * gain;
            prev_scale = cs.out;
        }
    }
}

// The columns of a call: column q = (b, c) with b = q % B, nb blocks each.
struct Columns {
    int B, d, L, nb;
    __device__ __forceinline__ int64_t at(int q) const { return (static_cast<int64_t>(q % B) * d + q / B) * L; }
};

// The x blocks as the kernel stages them: kBlock samples with one eight-sample chunk of halo either
// side (zero outside the column), fetched by cp.async into one of two shared-memory slots while the
// previous block is transformed (with one CTA per SM nothing else hides the copy's latency). The
// staging steps of a CTA are numbered s = 0, 1, ...: column blockIdx.x + gridDim.x (s / nb), block
// s % nb, in slot s % 2.
constexpr int kStagedElems = kBlock + 16;
template <typename T>
struct BlockStager {
    static_assert(sizeof(T) == 2, "eight samples per 16-byte copy");
    T* slot0;  // two members, not an array: a run-time index put an array in local memory
    T* slot1;
    const T* x;
    Columns cols;
    // Issues step s's copy (nothing past the CTA's last column) as one cp.async group.
    __device__ __forceinline__ void fetch(int s) const {
        const int q = static_cast<int>(blockIdx.x) + static_cast<int>(gridDim.x) * (s / cols.nb);
        if (q < cols.B * cols.d) {
            const T* col = x + cols.at(q);
            T* dst = (s & 1) ? slot1 : slot0;
            const int first = (s % cols.nb) * kBlockChunks - 1;  // the chunk before the block
            for (int e = threadIdx.x; e < kStagedElems / 8; e += PlanTc::kThreads) {
                const int mc = first + e;
                const bool in = mc >= 0 && mc < cols.L / 8;
                const auto d = static_cast<uint32_t>(__cvta_generic_to_shared(dst + 8 * e));
                asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(col + 8 * (in ? mc : 0)),
                             "r"(in ? 16 : 0)
                             : "memory");  // src-size 0: zeros
            }
        }
        asm volatile("cp.async.commit_group;\n" ::: "memory");
    }
    // Waits for step s's copy, then (barrier) hands out its slot and starts step s + 1's copy into the
    // other slot, which every thread is done with by then. Returns the block's first sample.
    __device__ __forceinline__ const T* begin(int s) const {
        copy_column_wait();
        __syncthreads();
        fetch(s + 1);
        return ((s & 1) ? slot1 : slot0) + 8;
    }
};

// a = SiLU(short conv) of chunk m of a staged block (its halo chunks in place either side).
template <typename T>
__device__ __forceinline__ void staged_activations(const T* xs, int m, const ShortTaps& taps, float (&a)[8]) {
    float cur[8], prev[8], next[8];
    load8(xs + 8 * m - 8, prev);
    load8(xs + 8 * m, cur);
    load8(xs + 8 * m + 8, next);
    short_conv_silu8(prev, cur, next, taps, a);
}

// Block j (staged at xs) -> A = SiLU(short conv) as packed points into the buffer's first half (the
// half-zero transform reads no more), zero past L. Returns this thread's largest |A|.
template <typename T>
__device__ __forceinline__ float stage_block(float2* sm, const T* xs, int j, int chunks, const ShortTaps& taps) {
    float amax = 0.0f;
#pragma unroll 2
    for (int m = threadIdx.x; m < kBlockChunks; m += PlanTc::kThreads) {
        float a[8];
#pragma unroll
        for (int o = 0; o < 8; ++o) a[o] = 0.0f;
        if (j * kBlockChunks + m < chunks) staged_activations(xs, m, taps, a);
        amax = fmaxf(amax, put_chunk<PlanTc>(sm, m, a));
    }
    return amax;
}

// The terms of output block i's sum: coef_j A_j .* G_(i-j) for the stored blocks j = jlo .. jhi
// (this CTA's scratch `mine`), the windows of this channel from g0 (window q at g0 + q).
struct SumTerms {
    const __half2* mine;
    const float* mine_scale;
    const __half2* wspec;
    const float* wscale;
    int i, jlo, jhi, g0;
    float smax;
};
// Adds the stored terms of a batch of pairs to (yk, yk2), two terms' loads in flight.
template <class Pairs>
__device__ __forceinline__ void add_terms(const SumTerms& t, const Pairs& p, float2 (&yk)[Pairs::kCount],
                                          float2 (&yk2)[Pairs::kCount]) {
    constexpr int n = Pairs::kCount;
#pragma unroll 2
    for (int j = t.jlo; j <= t.jhi; ++j) {
        const int g = t.g0 + t.i - j;
        const float coef = t.mine_scale[j] / t.smax * __ldg(t.wscale + g);
        float2 ak[n], ak2[n], hk[n], hk2[n];
        load_members(t.mine + static_cast<int64_t>(j) * kRow, p, ak, ak2);
        load_members<true>(t.wspec + static_cast<int64_t>(g) * kRow, p, hk, hk2);
#pragma unroll
        for (int e = 0; e < n; ++e) {
            const float2 u = fft::cmul(ak[e], hk[e]), v = fft::cmul(ak2[e], hk2[e]);
            yk[e] = make_float2(fmaf(coef, u.x, yk[e].x), fmaf(coef, u.y, yk[e].y));
            yk2[e] = make_float2(fmaf(coef, v.x, yk2[e].x), fmaf(coef, v.y, yk2[e].y));
        }
    }
}
template <int n>
__device__ __forceinline__ void pack_into(float2* sm, const Pairs<n>& p, const float2 (&yk)[n], const float2 (&yk2)[n]) {
#pragma unroll
    for (int e = 0; e < n; ++e) {
        float2 zk, zk2;
        fft::real_pack_pair(yk[e], yk2[e], p.w[e], zk, zk2);
        sm[p.sk[e]] = zk;
        sm[p.sk2[e]] = zk2;
    }
}

// Y = the stored terms' sum per frequency pair, packed back into the buffer's slots (the inverse's
// input). No barriers.
__device__ __forceinline__ void block_sum(float2* sm, const SumTerms& t) {
    for_each_pair<PlanTc, kPairBatch>([&](const auto& p) {
        constexpr int n = std::decay_t<decltype(p)>::kCount;
        float2 yk[n], yk2[n];
#pragma unroll
        for (int e = 0; e < n; ++e) yk[e] = yk2[e] = make_float2(0.0f, 0.0f);
        add_terms(t, p, yk, yk2);
        pack_into(sm, p, yk, yk2);
    });
}

// Causal block i on its transformed buffer: its own term A_i .* G_0 straight from the buffer (A_i
// also stored for the later blocks when `keep`) plus the stored terms j < i, packed back in place
// (each pair's slots are read and written by one thread). No barriers.
__device__ __forceinline__ void causal_block_sum(float2* sm, const SumTerms& t, float own_coef, __half2* keep) {
    const __half2* g_own = t.wspec + static_cast<int64_t>(t.g0) * kRow;  // window 0
    for_each_pair<PlanTc, kPairBatch>([&](const auto& p) {
        constexpr int n = std::decay_t<decltype(p)>::kCount;
        float2 ak[n], ak2[n], hk[n], hk2[n], yk[n], yk2[n];
        load_members<true>(g_own, p, hk, hk2);  // global first: the longer wait
        unpack_pairs(sm, p, ak, ak2);
#pragma unroll
        for (int e = 0; e < n; ++e) {
            const float2 u = fft::cmul(ak[e], hk[e]), v = fft::cmul(ak2[e], hk2[e]);
            yk[e] = make_float2(own_coef * u.x, own_coef * u.y);
            yk2[e] = make_float2(own_coef * v.x, own_coef * v.y);
        }
        if (keep != nullptr) store_members(keep, p, ak, ak2);
        add_terms(t, p, yk, yk2);
        pack_into(sm, p, yk, yk2);
    });
}

// SiLU(g smax + omega x) over block i of the column (x from the staged block or the column).
template <typename T>
__device__ __forceinline__ void write_block(const float2* sm, const T* xs, T* oc, int i, int chunks, float smax, float om) {
    for (int m = threadIdx.x; m < kBlockChunks; m += PlanTc::kThreads) {
        const int mc = i * kBlockChunks + m;
        if (mc >= chunks) break;
        float xv[8], y[8];
        load8(xs + 8 * m, xv);
        output_chunk<PlanTc>(sm, m, xv, smax, om, y);
        store8(oc + 8 * mc, y);
    }
}

// The largest of the column scales of blocks jlo .. jhi (and `own`), 1 where none is positive and
// finite (non-finite data stays so through the sums).
__device__ __forceinline__ float sum_scale(const float* scales, int jlo, int jhi, float own) {
    float smax = own;
    for (int j = jlo; j <= jhi; ++j) smax = fmaxf(smax, scales[j]);
    return smax > 0.0f && isfinite(smax) ? smax : 1.0f;
}

// Persistent: CTA r takes columns r, r + gridDim.x, ...
// Causal: per block i in order: stage, forward, its sum (own term from the buffer, A_i kept in the
// CTA's scratch for the later blocks, the earlier blocks' terms read back from it), inverse, output.
// Bidirectional (later blocks contribute too): first every block's A_j into the scratch, then per
// block the sum of the stored terms, inverse, output.
// The scratch (nb stored spectra and their column scales per CTA; 132 CTAs x 4 x 64 KB = 35 MB at
// nb = 4) is written and read back by this CTA only: plain (coherent) accesses ordered by the
// barriers, and it stays in L2. out may be x's buffer: a block's output is written after its x has
// been staged (and, bidirectional, after the whole column has), each element by one thread.
template <typename T, bool kCausal>
__global__ void __launch_bounds__(PlanTc::kThreads, 1)
    block_columns(const T* x, T* out, const __half2* __restrict__ wspec, const float* __restrict__ wscale,
                  __half2* scratch, float* scratch_scale, const float* __restrict__ ws, const float* __restrict__ bs,
                  const float* __restrict__ omega, Columns cols, int ks, int centre, int qlo, int qhi) {
    extern __shared__ float2 sm[];  // the FFT buffer, the transform's tables, two staged x blocks
    auto* tables = reinterpret_cast<fft::TcTables*>(sm + PlanTc::kSmemBytes / 8);
    T* const staged = reinterpret_cast<T*>(reinterpret_cast<char*>(tables) + sizeof(fft::TcTables));
    fft::fill_tables(tables);  // ordered before the transforms by the first block_max's barrier
    __half2* const mine = scratch + static_cast<int64_t>(blockIdx.x) * cols.nb * kRow;
    float* const mine_scale = scratch_scale + static_cast<int64_t>(blockIdx.x) * cols.nb;
    const int nq = qhi - qlo + 1, chunks = cols.L / 8;
    const BlockStager<T> stager{staged, staged + kStagedElems, x, cols};
    stager.fetch(0);
    int s = 0;  // staging step
    for (int q = blockIdx.x; q < cols.B * cols.d; q += gridDim.x) {
        const int c = q / cols.B;
        T* oc = out + cols.at(q);
        for (int j = 0; j < cols.nb; ++j, ++s) {
            const T* xs = stager.begin(s);  // also: every thread done with the buffer
            // Causal: window j is first read by this block's sum (windows < j were read before).
            if (kCausal && j <= qhi) prefetch_l2(wspec + (static_cast<int64_t>(c) * nq + j) * kRow, int64_t{kRow} * 4, 0);
            // Built per block: held across the transforms, its registers were spilled.
            const ShortTaps taps(ws + static_cast<int64_t>(c) * ks, ks, centre, bs[c]);
            const float amax = stage_block(sm, xs, j, chunks, taps);
            const ColumnScale cs = column_scale(block_max<PlanTc::kThreads>(amax));  // also the barrier
            fft::forward_tc<true>(sm, tables, cs.in);
            if constexpr (kCausal) {
                const int jlo = max(0, j - qhi);
                const float smax = sum_scale(mine_scale, jlo, j - 1, cs.out);
                const SumTerms t{mine, mine_scale, wspec, wscale, j, jlo, j - 1, c * nq, smax};
                const bool keep = j + 1 < cols.nb && qhi >= 1;  // a later block reads A_j
                causal_block_sum(sm, t, cs.out / smax * __ldg(wscale + c * nq), keep ? mine + int64_t{j} * kRow : nullptr);
                if (threadIdx.x == 0) mine_scale[j] = cs.out;  // read by the later blocks, after barriers
                __syncthreads();
                fft::inverse_tc<true>(sm, tables);
                write_block(sm, xs, oc, j, chunks, smax, __ldg(omega + c));
            } else {
                store_half_spectrum(sm, mine + static_cast<int64_t>(j) * kRow);
                if (threadIdx.x == 0) mine_scale[j] = cs.out;
            }
        }
        if constexpr (!kCausal) {
            const T* xc = x + cols.at(q);
            for (int i = 0; i < cols.nb; ++i) {
                __syncthreads();  // the scratch complete; every thread done with the buffer
                const int jlo = max(0, i - qhi), jhi = min(cols.nb - 1, i - qlo);
                const float smax = sum_scale(mine_scale, jlo, jhi, 0.0f);
                block_sum(sm, SumTerms{mine, mine_scale, wspec, wscale, i, jlo, jhi, c * nq - qlo, smax});
                __syncthreads();
                fft::inverse_tc<true>(sm, tables);
                write_block(sm, xc + i * kBlock, oc, i, chunks, smax, __ldg(omega + c));
            }
        }
    }
    copy_column_wait();  // the last (empty) group
}

int64_t spectra_bytes(int64_t count) {  // count stored spectra, then their count floats
    return (int64_t{sizeof(__half2)} * kRow + int64_t{sizeof(float)}) * count;
}

// block_columns' shared memory: the transform's, then two staged x blocks (2-byte samples);
// window_spectra's: the transform's, then one stored half spectrum.
constexpr int kColumnsSmem = kSmem + 2 * kStagedElems * 2;
constexpr int kWindowsSmem = kSmem + kRow * static_cast<int>(sizeof(__half2));

template <class Kernel>
int64_t persistent_ctas(Kernel kernel, int smem, int64_t items) {
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem), "shared memory opt-in");
    return std::max<int64_t>(1, std::min(items, resident_ctas(kernel, PlanTc::kThreads, smem)));
}

void launch_window_spectra(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a, void* dst) {
    const BlockPlan bp = block_plan(p);
    const int64_t items = p.d * bp.nq();
    auto* spec = static_cast<__half2*>(dst);
    auto* scale = reinterpret_cast<float*>(spec + items * kRow);
    const LongTaps taps = long_taps(p, a);
    const int64_t ctas = persistent_ctas(window_spectra, kWindowsSmem, p.d);
    window_spectra<<<static_cast<unsigned>(ctas), PlanTc::kThreads, kWindowsSmem, stream>>>(
        spec, scale, taps, static_cast<int>(p.d), bp.qlo, bp.nq());
    check(cudaGetLastError(), "kernel window spectra launch");
}

template <typename T>
void run_blocks_typed(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a) {
    const BlockPlan bp = block_plan(p);
    const int64_t B = p.B, L = p.L, d = p.d, nq = bp.nq();
    const CallSpectra windows(a, blocks_spectra_bytes(p), stream,
                              [&](float2* dst) { launch_window_spectra(stream, p, a, dst); });
    const auto* wspec = reinterpret_cast<const __half2*>(windows.get());
    const auto* wscale = reinterpret_cast<const float*>(wspec + d * nq * kRow);
    const auto kernel = p.causal ? block_columns<T, true> : block_columns<T, false>;
    const int64_t ctas = persistent_ctas(kernel, kColumnsSmem, B * d);
    DeviceBuffer scratch(static_cast<size_t>(spectra_bytes(ctas * bp.nb)), stream,
                         "short_long_conv (CUDA): block spectra");
    auto* bspec = scratch.as<__half2>();
    auto* bscale = reinterpret_cast<float*>(bspec + ctas * bp.nb * kRow);
    const ColumnsIo<T> io(a, B, L, d, stream);
    const Columns cols{static_cast<int>(B), static_cast<int>(d), static_cast<int>(L), bp.nb};
    kernel<<<static_cast<unsigned>(ctas), PlanTc::kThreads, kColumnsSmem, stream>>>(
        io.x, io.out, wspec, wscale, bspec, bscale, a.short_w, a.short_b, a.omega, cols, p.ks, short_centre(p),
        bp.qlo, bp.qhi);
    check(cudaGetLastError(), "block columns launch");
    io.finish(stream);
}

}  // namespace

bool blocks_fft_fits(int device, const cpu::ShortLongConvParams& p, int dtype) {
    if (dtype != CHELA_DTYPE_BF16 && dtype != CHELA_DTYPE_F16) return false;
    if (p.L % 8 != 0 || !ShortTaps::fits(p.ks, short_centre(p))) return false;
    // The block sums grow as nb^2 (cuFFT's cost as nb log nb); item numbers (B d, d nq) stay ints.
    const BlockPlan bp = block_plan(p);
    if (bp.nb > kMaxBlocks || p.B * p.d > 0x7fffffff || p.d * bp.nq() > 0x7fffffff) return false;
    int major = 0, optin = 0;
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
        cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) != cudaSuccess) {
        (void)cudaGetLastError();
        return false;
    }
    return major >= 8 && optin >= std::max(kColumnsSmem, kWindowsSmem);  // H100/H200: 227 KB; A100's 163 KB is short of it
}

int64_t blocks_spectra_bytes(const cpu::ShortLongConvParams& p) { return spectra_bytes(p.d * block_plan(p).nq()); }

void blocks_spectra(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a, void* dst) {
    launch_window_spectra(stream, p, a, dst);
}

void run_blocks_fft(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a) {
    if (a.dtype == CHELA_DTYPE_BF16) run_blocks_typed<__nv_bfloat16>(stream, p, a);
    else run_blocks_typed<__half>(stream, p, a);
}

}  // namespace chela::cuda::conv
