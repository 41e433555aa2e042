// On-chip FFT short-long convolution (second generation of the FFT path; conv_fft.cu is cuFFT).
//
// Why: the cuFFT path moves fp32 columns of length 2L through HBM about eight times (docs/gpu.md).
// Here one CTA owns one (batch row, channel) column and keeps its whole 2L-point spectrum in
// shared memory (fft_smem.cuh, N = 2L/2 complex points, up to 16384 -> 136 KB), so HBM sees the
// column read once and written once:
//   1. kernel_spectra: per channel, the padded long kernels (causal taps at 0..K-1, anti-causal
//      at 2N-1..2N-K+1) -> half spectrum H[0..N] in natural order, scaled by 1/(4N) so the
//      convolution needs no normalisation pass ([d, N + 1] float2).
//      B-independent: once per call.
//   2. transpose x [B,L,C] -> [B,C,L] (same dtype: exact), so that the columns are contiguous.
//   3. conv_columns: per (b, c): the x column staged in shared memory (16-byte copies; a
//      persistent CTA per SM walks the columns and fetches its next one with cp.async while it
//      transforms this one);
//      A = SiLU(short conv) into the FFT buffer, eight samples per thread step; forward FFT;
//      Y = X * H with the real-signal packing both ways in one pass over the frequency pairs
//      (k, N-k); inverse FFT; SiLU(g + omega x) stored over the column in place by 16-byte stores.
//   4. transpose the columns back to [B,L,C].
// Columns are numbered with the batch index fastest, so the B CTAs of a channel run together and
// read its spectrum from HBM once.
// Applicability: 2N >= L + K - 1 with N <= 16384 (L = Lk = 16384 fits) and enough opt-in shared
// memory for the spectrum and the column (H100/H200: 227 KB: every dtype at L = Lk = 16384; A100:
// 163 KB); otherwise the cuFFT path runs.
#include "conv_chip_common.cuh"
#include "fft_smem_tc.cuh"

#include <algorithm>
#include <type_traits>

namespace chela::cuda::conv {

namespace {

// Dynamic shared memory of the kernels: the FFT buffer, with the tensor-core transform (tc) its
// tables, then (conv_columns) the column of L elements of elem_bytes each.
constexpr int64_t fft_smem_bytes(int log_n, bool tc) {
    return tc ? int64_t{fft::PlanTc::kSmemBytes} + int64_t{sizeof(fft::TcTables)} : fft::buffer_smem_bytes(log_n);
}
constexpr int64_t staged_column_bytes(int64_t L, int64_t elem_bytes) { return (L * elem_bytes + 15) / 16 * 16; }
constexpr int64_t column_smem_bytes(int log_n, int64_t L, int64_t elem_bytes, bool tc) {
    return fft_smem_bytes(log_n, tc) + staged_column_bytes(L, elem_bytes);
}


// Step 1 for channel c: the padded long kernels (causal taps at 0..K-1, anti-causal at
// 2N-1..2N-K+1) -> half spectrum H[0..N] in natural order into spectra[c] ([N + 1] float2), scaled
// by 1/(4N) (TC: also by the transforms' gains) so the convolution needs no normalisation pass.
// HALF (TC): causal taps only and K <= N, so the packed points N/2 .. N-1 are zero and the
// transform skips them (fft_smem_tc.cuh). Overwrites the FFT buffer first (the caller syncs
// before); no barrier at the end.
template <class P, bool TC, bool HALF>
__device__ __forceinline__ void channel_spectrum(float2* sm, [[maybe_unused]] const fft::TcTables* tables,
                                                 const LongTaps& t, int c, float2* spectra) {
    const int n2 = 2 * P::N;
    // The length-2N circular kernel h as packed real samples, eight per thread step (HALF: the
    // first N samples; the rest is zero and never read).
    const bool vec = t.Lk % 8 == 0 && (reinterpret_cast<uintptr_t>(t.wl) & 15) == 0;
    const int64_t row = static_cast<int64_t>(c) * t.Lk;
    float amax = 0.0f;
#pragma unroll 2
    for (int q = threadIdx.x; q < (HALF ? P::N : n2) / 8; q += blockDim.x) {
        float v[8];
        kernel_taps8(t.wl, t.wl_dtype, t.wr, t.wr_dtype, row, 8 * q, t.K, n2, vec, v);
        amax = fmaxf(amax, put_chunk<P>(sm, q, v));
    }
    float scale = 1.0f / (8.0f * static_cast<float>(P::N));  // 2X -> X / (4N)
    if constexpr (TC) {
        const ColumnScale cs = column_scale(block_max<P::kThreads>(amax));  // also the barrier
        // Undo the normalisation and the unitary scaling of this transform, and give the
        // columns' forward + inverse pair its gain here, once per channel instead of per pair.
        scale *= cs.out * P::kOneWayGain * P::gain();
        fft::forward_tc<HALF>(sm, tables, cs.in);
    } else {
        __syncthreads();
        fft::forward<P>(sm);
    }
    float2* h = spectra + static_cast<int64_t>(c) * (P::N + 1);
    for_each_pair<P, kPairBatch>([&](const auto& p) {
        constexpr int n = std::decay_t<decltype(p)>::kCount;
        float2 a[n], b[n];
        unpack_pairs(sm, p, a, b);
#pragma unroll
        for (int j = 0; j < n; ++j) {
            h[p.k[j]] = make_float2(a[j].x * scale, a[j].y * scale);
            h[P::N - p.k[j]] = make_float2(b[j].x * scale, b[j].y * scale);
        }
    });
}

// Step 1 for every channel. TC: persistent, CTA i takes channels i, i + gridDim.x, ... (the tables
// built once per CTA). The fp32 passes: one CTA per channel. (Tried and not kept: prefetching the
// next channel's f32 taps by cp.async into a 64 KB staged row, 107 -> 121 us at C1024 L16384, run
// 57; the spectra as work items of the column launch, run 58: docs/gpu.md.)
template <int LOG_N, bool TC, bool HALF>
__global__ void __launch_bounds__(Plan<LOG_N>::kThreads, 1)
    kernel_spectra(float2* __restrict__ spectra, LongTaps taps, int d) {
    using P = std::conditional_t<TC, fft::PlanTc, Plan<LOG_N>>;
    extern __shared__ float2 sm[];  // the FFT buffer, then (TC) the transform's tables
    auto* tables = reinterpret_cast<fft::TcTables*>(sm + P::kSmemBytes / 8);
    if constexpr (TC) fft::fill_tables(tables);  // ordered before the transform by the barrier in channel_spectrum
    if constexpr (!TC) {  // the fp32 passes: one channel per CTA (a loop would spill)
        channel_spectrum<P, TC, HALF>(sm, tables, taps, blockIdx.x, spectra);
    } else {
        for (int c = blockIdx.x; c < d; c += gridDim.x) {
            __syncthreads();  // every thread done with the previous channel's buffer
            channel_spectrum<P, TC, HALF>(sm, tables, taps, c, spectra);
        }
    }
}

// Step 3a: A = SiLU(short conv) of the staged column xs as packed real samples
// z[n] = (A[2n], A[2n+1]) into the FFT buffer, zero past L up to point `points` (the padding the
// transform reads: N, or N/2 for the half-zero transform). Returns the largest |A| this thread
// wrote. w = the channel's ks taps (tap j reaches j - centre steps back).
template <class P, typename T>
__device__ __forceinline__ float stage_activations(float2* sm, const T* xs, int L, const float* w, float bias,
                                                   int ks, int centre, int points) {
    const int back = ks - 1 - centre;
    float amax = 0.0f;
    if (L % 8 == 0 && back <= kReach && centre <= kReach) {
        const ShortTaps taps(w, ks, centre, bias);
        const int chunks = L / 8;
        for (int m = threadIdx.x; m < chunks; m += blockDim.x) {
            float a[8];
            chunk_activations(xs, m, chunks, taps, a);
            amax = fmaxf(amax, put_chunk<P>(sm, m, a));
        }
        // The padding, points L/2 .. points-1: whole groups of 16 points (L and `points` multiples
        // of 32) fill a contiguous range of slots, zeroed without computing pad per point: PlanTc's
        // pad permutes within a group (slots L/2 .. points-1); Plan's runs from pad(L/2) to
        // pad(points-1), its one pad slot per group in between never read.
        if ((L / 2) % 16 == 0 && points % 16 == 0) {
            constexpr bool kTc = std::is_same_v<P, fft::PlanTc>;
            const int first = kTc ? L / 2 : P::pad(L / 2), last = kTc ? points - 1 : P::pad(points - 1);
            for (int e = first + static_cast<int>(threadIdx.x); e <= last; e += blockDim.x) sm[e] = make_float2(0.0f, 0.0f);
        } else {
            for (int n = L / 2 + static_cast<int>(threadIdx.x); n < points; n += blockDim.x) sm[P::pad(n)] = make_float2(0.0f, 0.0f);
        }
        return amax;
    }
    // Any length and short kernel: element by element, taps outside [0, L) checked near the ends.
    auto a_at = [&](int t) -> float {
        float s = bias;
        if (t >= back && t + centre < L) {
            const T* x0 = xs + t + centre;
            for (int j = 0; j < ks; ++j) s = fmaf(__ldg(w + j), load_f(x0 - j), s);
        } else {
            for (int j = 0; j < ks; ++j) {
                const int src = t - j + centre;
                if (src >= 0 && src < L) s = fmaf(__ldg(w + j), load_f(xs + src), s);
            }
        }
        return silu(s);
    };
    for (int n = threadIdx.x; n < P::N; n += blockDim.x) {
        const int t = 2 * n;
        float2 z = make_float2(0.0f, 0.0f);
        if (t < L) {
            z.x = a_at(t);
            if (t + 1 < L) z.y = a_at(t + 1);
        }
        sm[P::pad(n)] = z;
        amax = fmaxf(amax, fmaxf(fabsf(z.x), fabsf(z.y)));
    }
    return amax;
}

// Step 3c: out = SiLU(g * unscale + omega x) from the transformed buffer and the staged column,
// into the column in global memory. With L a multiple of 8, straight from registers by 16-byte
// stores; otherwise through the staged column and one coalesced copy. Contains barriers (the
// element path): call from all threads.
template <class P, typename T>
__device__ __forceinline__ void write_output(const float2* sm, T* xs, T* col, int L, float unscale, float om) {
    if (L % 8 == 0) {
        for (int m = threadIdx.x; m < L / 8; m += blockDim.x) {
            float x[8], y[8];
            load8(xs + 8 * m, x);
            output_chunk<P>(sm, m, x, unscale, om, y);
            store8(col + 8 * m, y);
        }
        return;
    }
    for (int n = threadIdx.x; 2 * n < L; n += blockDim.x) {
        const float2 g = sm[P::pad(n)];
        const int t = 2 * n;
        store_f(xs + t, silu(g.x * unscale + om * load_f(xs + t)));
        if (t + 1 < L) store_f(xs + t + 1, silu(g.y * unscale + om * load_f(xs + t + 1)));
    }
    __syncthreads();
    copy_column(col, xs, L);
}

// TC: the transforms on the tensor cores (fft_smem_tc.cuh: N = 16384 only; bf16/f16 columns). The
// column's activations are then scaled to at most 1 in magnitude as the transform reads them
// (fp16 operands keep their range whatever the model's activations) and the result scaled back.
// TC: persistent, CTA i takes columns i, i + gridDim.x, ... (column q = (b, c) with b = q % B), so
// the transform's tables are built once per CTA and, with `prefetch` (a second staged column fits in
// shared memory, L * sizeof(T) a multiple of 16), the next column is fetched by cp.async while this
// one is transformed: the copy-in was a tenth of the stall samples (run 46) with nothing to hide it.
// HALF (TC, L <= N): the column's packed points N/2 .. N-1 are padding and the output does not
// read them, so the transform skips them (fft_smem_tc.cuh) and the staging does not zero them.
// The fp32 passes: one CTA per column.
template <typename T, int LOG_N, bool TC, bool HALF = false>
__global__ void __launch_bounds__(Plan<LOG_N>::kThreads, 1)
    conv_columns(const T* x, T* out, const float2* __restrict__ spectra, const float* __restrict__ ws,
                 const float* __restrict__ bs, const float* __restrict__ omega, int L, int d, int B, int ks,
                 int centre, bool prefetch) {
    static_assert(!TC || LOG_N == fft::PlanTc::LOG_N, "the tensor-core transform is for N = 16384");
    using P = std::conditional_t<TC, fft::PlanTc, Plan<LOG_N>>;
    extern __shared__ float2 sm[];  // the FFT buffer, (TC) the transform's tables, one or two staged columns
    [[maybe_unused]] auto* tables = reinterpret_cast<fft::TcTables*>(sm + P::kSmemBytes / 8);
    T* const staged0 = reinterpret_cast<T*>(sm + fft_smem_bytes(LOG_N, TC) / 8);
    T* const staged1 = prefetch ? staged0 + staged_column_bytes(L, sizeof(T)) / sizeof(T) : staged0;
    if constexpr (TC) fft::fill_tables(tables);  // ordered before the transform by block_max's barrier
    const int columns = B * d;
    // Column q of x or out ([B, d, L]; the same buffer when the call transposes around the kernel).
    auto column_at = [&](auto* cols, int q) { return cols + (static_cast<int64_t>(q % B) * d + q / B) * L; };
    // One column from its staged copy xs to the result in `col`.
    auto convolve = [&](T* xs, T* col, int c) {
        const float amax = stage_activations<P>(sm, xs, L, ws + static_cast<int64_t>(c) * ks, bs[c], ks, centre,
                                                HALF ? P::N / 2 : P::N);
        float unscale = 1.0f;  // what the transformed column is multiplied by afterwards
        if constexpr (TC) {
            const ColumnScale cs = column_scale(block_max<P::kThreads>(amax));  // also the barrier
            unscale = cs.out;
            fft::forward_tc<HALF>(sm, tables, cs.in);
        } else {
            __syncthreads();
            fft::forward<P>(sm);
        }
        // Y = X .* H per frequency pair (the spectra carry every scale factor but the column's).
        const float2* h = spectra + static_cast<int64_t>(c) * (P::N + 1);
        for_each_pair<P, kPairBatch>([&](const auto& p) {
            constexpr int n = std::decay_t<decltype(p)>::kCount;
            float2 zk[n], zk2[n], hk[n], hk2[n];
#pragma unroll
            for (int j = 0; j < n; ++j) {  // all loads first: the batch's pairs are distinct slots
                zk[j] = sm[p.sk[j]];
                zk2[j] = sm[p.sk2[j]];
                hk[j] = h[p.k[j]];
                hk2[j] = h[P::N - p.k[j]];
            }
#pragma unroll
            for (int j = 0; j < n; ++j) {
                fft::real_pair_product(zk[j], zk2[j], hk[j], hk2[j], p.w[j]);
                sm[p.sk[j]] = zk[j];
                sm[p.sk2[j]] = zk2[j];
            }
        });
        __syncthreads();
        if constexpr (TC) fft::inverse_tc<HALF>(sm, tables);
        else fft::inverse<P>(sm);
        write_output<P>(sm, xs, col, L, unscale, omega[c]);
    };
    if constexpr (!TC) {  // the fp32 passes: one column per CTA (the loop's registers made them spill)
        const int q = blockIdx.x;
        copy_column(staged0, column_at(x, q), L);
        __syncthreads();
        convolve(staged0, column_at(out, q), q / B);
        return;
    }
    if (prefetch && static_cast<int>(blockIdx.x) < columns) copy_column_async(staged0, column_at(x, blockIdx.x), L);
    for (int q = blockIdx.x, i = 0; q < columns; q += gridDim.x, ++i) {
        T* xs = (i & 1) ? staged1 : staged0;
        if (prefetch) {
            copy_column_wait();
            __syncthreads();  // this column staged; every thread done with the previous one
            if (q + static_cast<int>(gridDim.x) < columns)
                copy_column_async((i & 1) ? staged0 : staged1, column_at(x, q + gridDim.x), L);
        } else {
            __syncthreads();  // every thread done with the previous column
            copy_column(xs, column_at(x, q), L);
            __syncthreads();
        }
        convolve(xs, column_at(out, q), q / B);
    }
}

// Where the tensor-core transform may take its half-zero variant (HALF in the kernels): the packed
// points N/2 .. N-1 zero on the way in and unread on the way out - for the kernel spectra, causal
// taps only, K <= N; for the columns, L <= N.
constexpr bool half_zero_taps(bool bidirectional, int64_t K) { return !bidirectional && K <= fft::PlanTc::N; }
constexpr bool half_zero_columns(int64_t L) { return L <= fft::PlanTc::N; }

// Step 1 into `dst` ([d, N + 1] float2): the spectra of the channels' long kernels (TC: persistent
// CTAs, as many as fit at once).
template <int LOG_N, bool TC, bool HALF>
void launch_spectra_kernel(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a, float2* dst) {
    const auto kernel = kernel_spectra<LOG_N, TC, HALF>;
    const int64_t smem = fft_smem_bytes(LOG_N, TC);
    int64_t ctas = p.d;
    if constexpr (TC) ctas = std::min(ctas, resident_ctas(kernel, Plan<LOG_N>::kThreads, smem));
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)),
          "shared memory opt-in");
    kernel<<<static_cast<unsigned>(ctas), Plan<LOG_N>::kThreads, static_cast<size_t>(smem), stream>>>(
        dst, long_taps(p, a), static_cast<int>(p.d));
    check(cudaGetLastError(), "kernel spectra launch");
}
template <int LOG_N, bool TC>
void launch_spectra(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a, float2* dst) {
    if constexpr (TC) {
        if (half_zero_taps(a.long_w_rev != nullptr, long_taps(p, a).K))
            return launch_spectra_kernel<LOG_N, TC, true>(stream, p, a, dst);
    }
    launch_spectra_kernel<LOG_N, TC, false>(stream, p, a, dst);
}

template <typename T, int LOG_N, bool TC, bool HALF>
void run_columns(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a) {
    using P = Plan<LOG_N>;
    const int64_t B = p.B, L = p.L, d = p.d;
    const auto kernel = conv_columns<T, LOG_N, TC, HALF>;
    // The fp32 passes: one CTA per column. TC: persistent CTAs, as many as fit at once, with a second
    // staged column where it fits (prefetch).
    int64_t col_smem = column_smem_bytes(LOG_N, L, sizeof(T), TC), ctas = B * d;
    bool prefetch = false;
    if constexpr (TC) {
        const int64_t two = col_smem + staged_column_bytes(L, sizeof(T));
        prefetch = two <= optin_smem() && (L * static_cast<int64_t>(sizeof(T))) % 16 == 0;
        if (prefetch) col_smem = two;
        ctas = std::min(ctas, resident_ctas(kernel, P::kThreads, col_smem));
    }
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(col_smem)),
          "shared memory opt-in");
    const CallSpectra spectra(a, chip_spectra_bytes(p), stream,
                              [&](float2* dst) { launch_spectra<LOG_N, TC>(stream, p, a, dst); });
    const ColumnsIo<T> io(a, B, L, d, stream);
    kernel<<<static_cast<unsigned>(ctas), P::kThreads, static_cast<size_t>(col_smem), stream>>>(
        io.x, io.out, spectra.get(), a.short_w, a.short_b, a.omega, static_cast<int>(L), static_cast<int>(d),
        static_cast<int>(B), p.ks, short_centre(p), prefetch);
    check(cudaGetLastError(), "column convolution launch");
    io.finish(stream);
}
template <typename T, int LOG_N, bool TC>
void run_sized(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a) {
    if constexpr (TC) {
        if (half_zero_columns(p.L)) return run_columns<T, LOG_N, TC, true>(stream, p, a);
    }
    run_columns<T, LOG_N, TC, false>(stream, p, a);
}

// The transform (size, tensor cores or fp32 passes) run_chip_fft picks, as one dispatch.
template <class Run>
void for_transform(const cpu::ShortLongConvParams& p, int dtype, bool tensor_cores, Run run) {
    // f32 columns keep the fp32 passes: fp16 operands are far outside their 1e-5 bound.
    const bool tc = tensor_cores && dtype != CHELA_DTYPE_F32;
    switch (log2_points(p)) {
        case 6: return run(std::integral_constant<int, 6>{}, std::false_type{});
        case 7: return run(std::integral_constant<int, 7>{}, std::false_type{});
        case 8: return run(std::integral_constant<int, 8>{}, std::false_type{});
        case 9: return run(std::integral_constant<int, 9>{}, std::false_type{});
        case 10: return run(std::integral_constant<int, 10>{}, std::false_type{});
        case 11: return run(std::integral_constant<int, 11>{}, std::false_type{});
        case 12: return run(std::integral_constant<int, 12>{}, std::false_type{});
        case 13: return run(std::integral_constant<int, 13>{}, std::false_type{});
        case 14:  // the tensor-core transform's size
            if (tc) return run(std::integral_constant<int, 14>{}, std::true_type{});
            return run(std::integral_constant<int, 14>{}, std::false_type{});
        default: fail(CHELA_ERR_UNSUPPORTED, "short_long_conv (CUDA): on-chip FFT: sequence too long");
    }
}

}  // namespace

int64_t chip_spectra_bytes(const cpu::ShortLongConvParams& p) {
    return int64_t{sizeof(float2)} * p.d * ((int64_t{1} << log2_points(p)) + 1);
}

void chip_spectra(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a, bool tensor_cores,
                  void* dst) {
    for_transform(p, a.dtype, tensor_cores, [&](auto lg, auto tc) {
        launch_spectra<decltype(lg)::value, decltype(tc)::value>(stream, p, a, static_cast<float2*>(dst));
    });
}

bool chip_fft_fits(int device, const cpu::ShortLongConvParams& p, int dtype) {
    const int lg = log2_points(p);
    if (lg > 14 || p.B * p.d > 0x3fffffff) return false;  // column numbers stay ints
    int optin = 0;
    if (cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) != cudaSuccess) {
        (void)cudaGetLastError();
        return false;
    }
    // The larger of the two layouts (bf16/f16 at N = 16384 take the tensor-core one by default).
    const int64_t elem = dtype == CHELA_DTYPE_F32 ? 4 : 2;
    return std::max(column_smem_bytes(lg, p.L, elem, false), column_smem_bytes(lg, p.L, elem, lg == 14 && elem == 2)) <= optin;
}

void transpose(cudaStream_t stream, int dtype, const void* in, void* out, int64_t B, int64_t R, int64_t C) {
    if (dtype == CHELA_DTYPE_BF16)
        launch_transpose(stream, static_cast<const __nv_bfloat16*>(in), static_cast<__nv_bfloat16*>(out), B, R, C);
    else if (dtype == CHELA_DTYPE_F16)
        launch_transpose(stream, static_cast<const __half*>(in), static_cast<__half*>(out), B, R, C);
    else launch_transpose(stream, static_cast<const float*>(in), static_cast<float*>(out), B, R, C);
}

void run_chip_fft(cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a, bool tensor_cores) {
    for_transform(p, a.dtype, tensor_cores, [&](auto lg, auto tc) {
        constexpr int kLog = decltype(lg)::value;
        constexpr bool kTc = decltype(tc)::value;
        if (a.dtype == CHELA_DTYPE_BF16) run_sized<__nv_bfloat16, kLog, kTc>(stream, p, a);
        else if (a.dtype == CHELA_DTYPE_F16) run_sized<__half, kLog, kTc>(stream, p, a);
        else if constexpr (!kTc) run_sized<float, kLog, false>(stream, p, a);
    });
}

}  // namespace chela::cuda::conv
