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
//   window_spectra  per (channel, q): g_q -> its half spectrum (B-independent; a loaded model
//                   caches it: SpectraCache),
//   block_columns   per column: every block's half spectrum A_j into the CTA's own scratch, then per
//                   output block the sum of products, packed back, inverse, skip + SiLU.
// The half spectra (real_spectrum_pair's 2X[k], k = 0 .. N) are stored as fp16 pairs with a float
// scale per spectrum (64 KB each: the transform rounds every operand to fp16 anyway); a CTA's block
// spectra (nb x 64 KB, 132 CTAs: 35 MB at nb = 4) stay in L2 between their write and their reads.
// Applicability (blocks_fft_fits): bf16/f16, sm_80+, L a multiple of 8, short kernels within the
// chunked window, at most kMaxBlocks blocks (the sums grow as nb^2); any K.
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
__device__ __forceinline__ void load_bins(const __half2* p, float2 (&v)[4]) {
    const uint4 u = *reinterpret_cast<const uint4*>(p);
    v[0] = __half22float2(fft::as_half2(u.x)), v[1] = __half22float2(fft::as_half2(u.y));
    v[2] = __half22float2(fft::as_half2(u.z)), v[3] = __half22float2(fft::as_half2(u.w));
}
__device__ __forceinline__ void store_bins(__half2* p, const float2 (&v)[4]) {
    *reinterpret_cast<uint4*>(p) = make_uint4(fft::as_word(__float22half2_rn(v[0])), fft::as_word(__float22half2_rn(v[1])),
                                              fft::as_word(__float22half2_rn(v[2])), fft::as_word(__float22half2_rn(v[3])));
}
// The members of a batch of pairs from a stored spectrum (lo and hi at bin_slot of the batch).
template <class Pairs>
__device__ __forceinline__ void load_members(const __half2* row, const Pairs& p, float2 (&a)[Pairs::kCount],
                                             float2 (&b)[Pairs::kCount]) {
    if constexpr (Pairs::kCount == 4) {
        const int s = bin_slot(p.k[0]);
        load_bins(row + s, a);
        load_bins(row + kHalf + s, b);
    } else {
#pragma unroll
        for (int e = 0; e < Pairs::kCount; ++e) {
            const int s = bin_slot(p.k[e]);
            a[e] = __half22float2(row[s]);
            b[e] = __half22float2(row[kHalf + s]);
        }
    }
}

// The half spectrum of the transformed buffer as fp16 pairs into the stored spectrum `row`. No
// barriers.
__device__ __forceinline__ void store_half_spectrum(const float2* sm, __half2* row) {
    for_each_pair<PlanTc, kPairBatch>([&](const auto& p) {
        constexpr int n = std::decay_t<decltype(p)>::kCount;
        float2 zk[n], zk2[n], a[n], b[n];
#pragma unroll
        for (int e = 0; e < n; ++e) {
            zk[e] = sm[p.sk[e]];
            zk2[e] = sm[p.sk2[e]];
        }
#pragma unroll
        for (int e = 0; e < n; ++e) fft::real_spectrum_pair(zk[e], zk2[e], p.w[e], a[e], b[e]);
        if constexpr (n == 4) {
            const int s = bin_slot(p.k[0]);
            store_bins(row + s, a);
            store_bins(row + kHalf + s, b);
        } else {
#pragma unroll
            for (int e = 0; e < n; ++e) {
                const int s = bin_slot(p.k[e]);
                row[s] = __float22half2_rn(a[e]);
                row[kHalf + s] = __float22half2_rn(b[e]);
            }
        }
    });
}

// The long kernels as the windows read them: lag s >= 0 is wl[s] (s < K), lag s < 0 is wr[-s]
// (bidirectional, -s < K), zero elsewhere.
struct LagTaps {
    const void* wl = nullptr;
    int wl_dtype = 0;
    const void* wr = nullptr;
    int wr_dtype = 0;
    int64_t Lk = 0;
    int K = 0;
};
// h at lags s0 .. s0 + 7 of the channel whose taps start at `row`.
__device__ __forceinline__ void lag_taps8(const LagTaps& t, int64_t row, int s0, bool vec, float (&v)[8]) {
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

// Per (channel c, window q), item = c nq + (q - qlo): g_q's half spectrum into spec[item] and the
// factor it is read with into scale[item]: the transform's column scale, its unitary scaling and
// the columns' forward + inverse gain, 1/(8N) (kernel_spectra's factors in conv_fft_chip.cu).
// Causal q = 0 has no taps in its second half (negative lags): the half-zero transform.
__global__ void __launch_bounds__(PlanTc::kThreads, 1)
    window_spectra(__half2* __restrict__ spec, float* __restrict__ scale, LagTaps taps, int d, int qlo, int nq) {
    extern __shared__ float2 sm[];  // the FFT buffer, then the transform's tables
    auto* tables = reinterpret_cast<fft::TcTables*>(sm + PlanTc::kSmemBytes / 8);
    fft::fill_tables(tables);  // ordered before the transform by block_max's barrier
    const bool vec = taps.Lk % 8 == 0 && (reinterpret_cast<uintptr_t>(taps.wl) & 15) == 0;
    const float gain = PlanTc::kOneWayGain * PlanTc::gain() / (8.0f * static_cast<float>(kN));
    for (int item = blockIdx.x; item < d * nq; item += gridDim.x) {
        const int c = item / nq, q = qlo + item % nq;
        const bool half = taps.wr == nullptr && q == 0;
        const int64_t row = static_cast<int64_t>(c) * taps.Lk;
        __syncthreads();  // every thread done with the previous item's buffer
        float amax = 0.0f;
#pragma unroll 2
        for (int m = threadIdx.x; m < (half ? kBlockChunks : 2 * kBlockChunks); m += PlanTc::kThreads) {
            const int r0 = 8 * m;  // samples r0 .. r0 + 7 of the window (never across its halves)
            float v[8];
            lag_taps8(taps, row, q * kBlock + r0 - (r0 < kBlock ? 0 : 2 * kBlock), vec, v);
            const int s0 = PlanTc::pad(4 * m);
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                sm[PlanTc::join(s0, j)] = make_float2(v[2 * j], v[2 * j + 1]);
                amax = fmaxf(amax, fmaxf(fabsf(v[2 * j]), fabsf(v[2 * j + 1])));
            }
        }
        const ColumnScale cs = column_scale(block_max<PlanTc::kThreads>(amax));  // also the barrier
        if (half) fft::forward_tc<true>(sm, tables, cs.in);
        else fft::forward_tc<false>(sm, tables, cs.in);
        store_half_spectrum(sm, spec + static_cast<int64_t>(item) * kRow);
        if (threadIdx.x == 0) scale[item] = cs.out * gain;
    }
}

// The columns of a call: column q = (b, c) with b = q % B, nb blocks each.
struct Columns {
    int B, d, L, nb;
    __device__ __forceinline__ int64_t at(int q) const { return (static_cast<int64_t>(q % B) * d + q / B) * L; }
};

// Block j of the column col (chunks of eight samples): A = SiLU(short conv) as packed points into
// the buffer's first half (the half-zero transform reads no more), zero past L. Returns this
// thread's largest |A|.
template <typename T>
__device__ __forceinline__ float stage_block(float2* sm, const T* col, int j, int chunks, const ShortTaps& taps) {
    float amax = 0.0f;
#pragma unroll 2
    for (int m = threadIdx.x; m < kBlockChunks; m += PlanTc::kThreads) {
        const int mc = j * kBlockChunks + m;  // the chunk in the column
        float a[8];
#pragma unroll
        for (int o = 0; o < 8; ++o) a[o] = 0.0f;
        if (mc < chunks) chunk_activations(col, mc, chunks, taps, a);
        const int s0 = PlanTc::pad(4 * m);
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            sm[PlanTc::join(s0, e)] = make_float2(a[2 * e], a[2 * e + 1]);
            amax = fmaxf(amax, fmaxf(fabsf(a[2 * e]), fabsf(a[2 * e + 1])));
        }
    }
    return amax;
}

// Y = sum over j of coef_j A_j .* G_(i-j) per frequency pair, packed back into the buffer's slots
// (the inverse's input). mine: this CTA's block spectra of the column; the sum is relative to
// `smax` (the largest of the blocks' column scales). No barriers.
__device__ __forceinline__ void block_sum(float2* sm, const __half2* mine, const float* mine_scale,
                                          const __half2* __restrict__ wspec, const float* __restrict__ wscale,
                                          int i, int jlo, int jhi, int g0, float smax) {
    for_each_pair<PlanTc, kPairBatch>([&](const auto& p) {
        constexpr int n = std::decay_t<decltype(p)>::kCount;
        float2 yk[n], yk2[n];
#pragma unroll
        for (int e = 0; e < n; ++e) yk[e] = yk2[e] = make_float2(0.0f, 0.0f);
#pragma unroll 2
        for (int j = jlo; j <= jhi; ++j) {
            const int g = g0 + i - j;  // the window i - j of this channel
            const float coef = mine_scale[j] / smax * wscale[g];
            float2 ak[n], ak2[n], hk[n], hk2[n];
            load_members(mine + static_cast<int64_t>(j) * kRow, p, ak, ak2);
            load_members(wspec + static_cast<int64_t>(g) * kRow, p, hk, hk2);
#pragma unroll
            for (int e = 0; e < n; ++e) {
                const float2 u = fft::cmul(ak[e], hk[e]), v = fft::cmul(ak2[e], hk2[e]);
                yk[e] = make_float2(fmaf(coef, u.x, yk[e].x), fmaf(coef, u.y, yk[e].y));
                yk2[e] = make_float2(fmaf(coef, v.x, yk2[e].x), fmaf(coef, v.y, yk2[e].y));
            }
        }
#pragma unroll
        for (int e = 0; e < n; ++e) {
            float2 zk, zk2;
            fft::real_pack_pair(yk[e], yk2[e], p.w[e], zk, zk2);
            sm[p.sk[e]] = zk;
            sm[p.sk2[e]] = zk2;
        }
    });
}

// Persistent: CTA r takes columns r, r + gridDim.x, ... and for each
//   1. every block j: A_j = the half spectrum of a_j into the CTA's own scratch (nb stored spectra
//      and their column scales; L2-resident: the CTA reads them back at once),
//   2. every block i: the block sum over the windows with taps, the half-zero inverse (its first b
//      samples are the block's output), SiLU(g smax + omega x) over the column's block i.
// out may be x's buffer: step 2 runs after step 1 has read the whole column, and each output element
// is read (the skip) and then written by the same thread.
template <typename T>
__global__ void __launch_bounds__(PlanTc::kThreads, 1)
    block_columns(const T* x, T* out, const __half2* __restrict__ wspec, const float* __restrict__ wscale,
                  __half2* scratch, float* scratch_scale, const float* __restrict__ ws, const float* __restrict__ bs,
                  const float* __restrict__ omega, Columns cols, int ks, int centre, int qlo, int qhi) {
    extern __shared__ float2 sm[];
    auto* tables = reinterpret_cast<fft::TcTables*>(sm + PlanTc::kSmemBytes / 8);
    fft::fill_tables(tables);  // ordered before the transforms by the first block_max's barrier
    // Written and read back by this CTA only: plain (coherent) accesses, ordered by the barriers.
    __half2* const mine = scratch + static_cast<int64_t>(blockIdx.x) * cols.nb * kRow;
    float* const mine_scale = scratch_scale + static_cast<int64_t>(blockIdx.x) * cols.nb;
    const int nq = qhi - qlo + 1, chunks = cols.L / 8;
    for (int q = blockIdx.x; q < cols.B * cols.d; q += gridDim.x) {
        const int c = q / cols.B;
        const T* xc = x + cols.at(q);
        T* oc = out + cols.at(q);
        const ShortTaps taps(ws + static_cast<int64_t>(c) * ks, ks, centre, bs[c]);
        for (int j = 0; j < cols.nb; ++j) {
            __syncthreads();  // every thread done with the buffer (and, j = 0, the previous column's scratch)
            const float amax = stage_block(sm, xc, j, chunks, taps);
            const ColumnScale cs = column_scale(block_max<PlanTc::kThreads>(amax));  // also the barrier
            fft::forward_tc<true>(sm, tables, cs.in);
            store_half_spectrum(sm, mine + static_cast<int64_t>(j) * kRow);
            if (threadIdx.x == 0) mine_scale[j] = cs.out;
        }
        const float om = omega[c];
        for (int i = 0; i < cols.nb; ++i) {
            __syncthreads();  // the scratch complete; every thread done with the buffer
            const int jlo = max(0, i - qhi), jhi = min(cols.nb - 1, i - qlo);
            float smax = 0.0f;
            for (int j = jlo; j <= jhi; ++j) smax = fmaxf(smax, mine_scale[j]);
            if (!(smax > 0.0f) || !isfinite(smax)) smax = 1.0f;  // non-finite data stays so through the sums
            block_sum(sm, mine, mine_scale, wspec, wscale, i, jlo, jhi, c * nq - qlo, smax);
            __syncthreads();
            fft::inverse_tc<true>(sm, tables);
            for (int m = threadIdx.x; m < kBlockChunks; m += PlanTc::kThreads) {
                const int mc = i * kBlockChunks + m;
                if (mc >= chunks) break;
                float xv[8], y[8];
                load8(xc + 8 * mc, xv);
                const int s0 = PlanTc::pad(4 * m);
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const float2 g = sm[PlanTc::join(s0, e)];
                    y[2 * e] = silu(fmaf(g.x, smax, om * xv[2 * e]));
                    y[2 * e + 1] = silu(fmaf(g.y, smax, om * xv[2 * e + 1]));
                }
                store8(oc + 8 * mc, y);
            }
        }
    }
}

int64_t spectra_bytes(int64_t count) {  // count stored spectra, then their count floats
    return (int64_t{sizeof(__half2)} * kRow + int64_t{sizeof(float)}) * count;
}

template <class Kernel>
int64_t persistent_ctas(Kernel kernel, int64_t items) {
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem), "shared memory opt-in");
    return std::max<int64_t>(1, std::min(items, resident_ctas(kernel, PlanTc::kThreads, kSmem)));
}

void launch_window_spectra(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a, void* dst) {
    const BlockPlan bp = block_plan(p);
    const int64_t items = p.d * bp.nq();
    auto* spec = static_cast<__half2*>(dst);
    auto* scale = reinterpret_cast<float*>(spec + items * kRow);
    const LagTaps taps{a.long_w, a.long_dtype, a.long_w_rev, a.long_rev_dtype, p.Lk,
                       static_cast<int>(std::min(p.Lk, p.L))};
    const int64_t ctas = persistent_ctas(window_spectra, items);
    window_spectra<<<static_cast<unsigned>(ctas), PlanTc::kThreads, kSmem, stream>>>(
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
    const int64_t ctas = persistent_ctas(block_columns<T>, B * d);
    DeviceBuffer scratch(static_cast<size_t>(spectra_bytes(ctas * bp.nb)), stream,
                         "short_long_conv (CUDA): block spectra");
    auto* bspec = scratch.as<__half2>();
    auto* bscale = reinterpret_cast<float*>(bspec + ctas * bp.nb * kRow);
    const ColumnsIo<T> io(a, B, L, d, stream);
    const Columns cols{static_cast<int>(B), static_cast<int>(d), static_cast<int>(L), bp.nb};
    block_columns<T><<<static_cast<unsigned>(ctas), PlanTc::kThreads, kSmem, stream>>>(
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
    return major >= 8 && optin >= kSmem;
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
