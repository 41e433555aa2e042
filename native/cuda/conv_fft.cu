// FFT short-long convolution (cuFFT, fp32), first generation. Per call:
//   1. pad_kernel: h_c -> [d, N] real (causal taps at 0..K-1, anti-causal taps at N-1..N-K+1,
//      scaled by 1/N so the inverse transform needs no extra pass); R2C -> W [d, N/2+1].
//      B-independent: done once per call for all channels.
//   2. short_conv_to_columns: x [B,L,d] -> A = SiLU(short conv) as per-(b,c) columns [B*d, N],
//      zero-padded to N. The [B,L,d] -> [B,d,L] transpose is fused through a 32x32 shared tile so
//      that both the x reads (32 channels) and the column writes (32 steps) are coalesced.
//   3. R2C (batch B*d) -> spectrum; 4. spectrum *= W (each thread walks the batch so W is read
//      once); 5. C2R back into the column buffer.
//   6. columns_to_out: out = SiLU(g + omega * x), transposed back through a shared tile.
// cuFFT is loaded at run time (cufft_dl.h). N = smallest 2,3,5,7-smooth even number >= L + K - 1 (linear = circular convolution there; the
// anti-causal taps wrap to the end). Plans are cached process-wide by (device, N, batch, kind) and
// checked out for exclusive use (contexts may run on several threads; cufftSetStream mutates the
// plan); their work areas come from stream-ordered allocation on the call's stream.
#include "conv_common.cuh"

#include "cufft_dl.h"

#include <algorithm>
#include <mutex>
#include <vector>

namespace chela::cuda::conv {

namespace {

using cufft::Handle;

void fft_ok(cufft::Result r, const char* what) {
    if (r == cufft::kSuccess) return;
    if (r == cufft::kAllocFailed)
        fail(CHELA_ERR_OUT_OF_MEMORY, "short_long_conv (CUDA): cuFFT ", what, ": out of device memory");
    fail(CHELA_ERR_DEVICE, "short_long_conv (CUDA): cuFFT ", what, ": ", cufft::result_name(r), " (", r, ")");
}

// ---- plan cache
struct PlanKey {
    int device;
    int64_t n, batch;
    int type;
    bool operator==(const PlanKey& o) const { return device == o.device && n == o.n && batch == o.batch && type == o.type; }
};
struct Plan {
    PlanKey key;
    Handle handle;
    size_t work_bytes;
};

class PlanCache {
public:
    // An idle plan for `key` (removed from the cache until release), or a new one.
    Plan acquire(const PlanKey& key) {
        {
            std::lock_guard<std::mutex> lock(mu_);
            for (size_t i = 0; i < idle_.size(); ++i)
                if (idle_[i].key == key) {
                    Plan p = idle_[i];
                    idle_.erase(idle_.begin() + static_cast<std::ptrdiff_t>(i));
                    return p;
                }
        }
        const cufft::Api& fft = cufft::api();
        Plan p{key, 0, 0};
        fft_ok(fft.create(&p.handle), "plan create");
        // Work areas come from the caller's stream-ordered pool, not from the plan.
        cufft::Result r = fft.set_auto_allocation(p.handle, 0);
        long long n = key.n;
        if (r == cufft::kSuccess)
            r = fft.make_plan_many64(p.handle, 1, &n, nullptr, 1, 0, nullptr, 1, 0, key.type, key.batch, &p.work_bytes);
        if (r != cufft::kSuccess) {
            fft.destroy(p.handle);
            fft_ok(r, "plan (size and batch too large for cuFFT?)");
        }
        return p;
    }
    // Returns a plan to the cache; the oldest idle plans are destroyed past kMaxIdle.
    void release(const Plan& p) {
        std::vector<Handle> drop;
        {
            std::lock_guard<std::mutex> lock(mu_);
            idle_.push_back(p);
            while (idle_.size() > kMaxIdle) {
                drop.push_back(idle_.front().handle);
                idle_.erase(idle_.begin());
            }
        }
        for (Handle h : drop) cufft::api().destroy(h);
    }

private:
    static constexpr size_t kMaxIdle = 16;
    std::mutex mu_;
    std::vector<Plan> idle_;
};

// Never destroyed: plans must not be torn down after the CUDA runtime has shut down at exit.
PlanCache& plans() {
    static PlanCache* cache = new PlanCache;
    return *cache;
}

// A checked-out plan bound to a stream and a stream-ordered work area for one execution.
class PlanUse {
public:
    PlanUse(const PlanKey& key, cudaStream_t stream) : plan_(plans().acquire(key)) {
        try {
            work_ = new DeviceBuffer(plan_.work_bytes, stream, "short_long_conv (CUDA): cuFFT work area");
            fft_ok(cufft::api().set_work_area(plan_.handle, work_->as<void>()), "set work area");
            fft_ok(cufft::api().set_stream(plan_.handle, stream), "set stream");
        } catch (...) {
            delete work_;
            plans().release(plan_);
            throw;
        }
    }
    ~PlanUse() {
        delete work_;  // freed in stream order: after the transform that uses it
        plans().release(plan_);
    }
    PlanUse(const PlanUse&) = delete;
    PlanUse& operator=(const PlanUse&) = delete;
    Handle handle() const { return plan_.handle; }

private:
    Plan plan_;
    DeviceBuffer* work_ = nullptr;
};

int64_t fft_size(int64_t want) {
    for (int64_t n = std::max<int64_t>(2, want);; ++n) {
        if (n % 2) continue;
        int64_t m = n;
        for (int64_t f : {2, 3, 5, 7})
            while (m % f == 0) m /= f;
        if (m == 1) return n;
    }
}

// ---- kernels
constexpr int kT = 32;  // transpose tile: 32 steps x 32 channels, 256 threads (32 x 8)

__global__ void pad_kernel(float* h, const void* wl, int wl_dtype, const void* wr, int wr_dtype, int64_t d,
                           int64_t Lk, int64_t K, int64_t N, float scale) {
    const int64_t total = d * N;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t c = i / N, n = i % N;
        float v = 0.0f;
        if (n < K) v = load_any(wl, wl_dtype, c * Lk + n);
        else if (wr != nullptr && n > N - K) v = load_any(wr, wr_dtype, c * Lk + (N - n));
        h[i] = v * scale;
    }
}

template <typename T>
__global__ void __launch_bounds__(256) short_conv_to_columns(const T* __restrict__ x, float* __restrict__ cols,
                                                             const float* __restrict__ ws,
                                                             const float* __restrict__ bs, int64_t L, int64_t d,
                                                             int64_t N, int ks, int centre) {
    __shared__ float tile[kT][kT + 1];  // [step][channel]
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int64_t t0 = int64_t(blockIdx.x) * kT, c0 = int64_t(blockIdx.y) * kT, b = blockIdx.z;
    if (t0 < L) {
        const int64_t c = c0 + tx;
        const T* xb = x + b * L * d;
        for (int r = ty; r < kT; r += 8) {
            const int64_t t = t0 + r;
            float v = 0.0f;
            if (c < d && t < L) {
                float s = bs[c];
                for (int j = 0; j < ks; ++j) {
                    const int64_t src = t - (j - centre);
                    if (src >= 0 && src < L) s = fmaf(ws[c * ks + j], load_f(xb + src * d + c), s);
                }
                v = silu(s);
            }
            tile[r][tx] = v;
        }
        __syncthreads();
    }
    // Write 32 consecutive steps of one column per warp row (zeros past L: the padding).
    const int64_t t = t0 + tx;
    if (t >= N) return;
    for (int cc = ty; cc < kT; cc += 8) {
        const int64_t c = c0 + cc;
        if (c < d) cols[(b * d + c) * N + t] = t0 < L ? tile[tx][cc] : 0.0f;
    }
}

// spec[b, c, f] *= W[c, f]; one thread per (c, f), walking the batch.
__global__ void multiply_spectra(float2* __restrict__ spec, const float2* __restrict__ w, int64_t B, int64_t d,
                                 int64_t F) {
    const int64_t total = d * F, stride_b = d * F;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
        const float2 h = w[i];
        for (int64_t b = 0; b < B; ++b) {
            float2 z = spec[b * stride_b + i];
            spec[b * stride_b + i] = make_float2(z.x * h.x - z.y * h.y, z.x * h.y + z.y * h.x);
        }
    }
}

template <typename T>
__global__ void __launch_bounds__(256) columns_to_out(const float* __restrict__ cols, const T* __restrict__ x,
                                                      T* __restrict__ out, const float* __restrict__ omega,
                                                      int64_t L, int64_t d, int64_t N) {
    __shared__ float tile[kT][kT + 1];  // [channel][step]
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int64_t t0 = int64_t(blockIdx.x) * kT, c0 = int64_t(blockIdx.y) * kT, b = blockIdx.z;
    {
        const int64_t t = t0 + tx;
        for (int cc = ty; cc < kT; cc += 8) {
            const int64_t c = c0 + cc;
            tile[cc][tx] = (c < d && t < L) ? cols[(b * d + c) * N + t] : 0.0f;
        }
    }
    __syncthreads();
    const int64_t c = c0 + tx;
    if (c >= d) return;
    const float om = omega[c];
    for (int r = ty; r < kT; r += 8) {
        const int64_t t = t0 + r;
        if (t < L) {
            const int64_t i = (b * L + t) * d + c;
            store_f(out + i, silu(tile[tx][r] + om * load_f(x + i)));
        }
    }
}

unsigned blocks_for(int64_t n) { return static_cast<unsigned>(std::min<int64_t>((n + 255) / 256, 8192)); }

template <typename T>
void run_typed(int device, cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a) {
    const int64_t B = p.B, L = p.L, d = p.d, K = std::min(p.Lk, L);
    const int64_t N = fft_size(L + K - 1), F = N / 2 + 1;
    if (B > 65535 || (d + kT - 1) / kT > 65535)
        fail(CHELA_ERR_UNSUPPORTED, "short_long_conv (CUDA): batch ", B, " or width ", d, " exceeds the launch grid");
    // cols: A columns, later g (C2R output); first it holds the padded kernels (d <= B*d columns).
    DeviceBuffer cols(sizeof(float) * B * d * N, stream, "short_long_conv (CUDA): FFT column buffer");
    DeviceBuffer spec(sizeof(float2) * B * d * F, stream, "short_long_conv (CUDA): FFT spectrum buffer");
    DeviceBuffer wspec(sizeof(float2) * d * F, stream, "short_long_conv (CUDA): FFT kernel spectrum buffer");

    pad_kernel<<<blocks_for(d * N), 256, 0, stream>>>(cols.as<float>(), a.long_w, a.long_dtype, a.long_w_rev,
                                                      a.long_rev_dtype, d, p.Lk, K, N, 1.0f / static_cast<float>(N));
    check(cudaGetLastError(), "pad kernel launch");
    {
        PlanUse plan({device, N, d, cufft::kR2C}, stream);
        fft_ok(cufft::api().exec_r2c(plan.handle(), cols.as<float>(), wspec.as<float2>()),
               "R2C of the long kernels");
    }
    const dim3 tile_threads(kT, 8);
    const dim3 in_grid(static_cast<unsigned>((N + kT - 1) / kT), static_cast<unsigned>((d + kT - 1) / kT),
                       static_cast<unsigned>(B));
    short_conv_to_columns<T><<<in_grid, tile_threads, 0, stream>>>(static_cast<const T*>(a.x), cols.as<float>(),
                                                                   a.short_w, a.short_b, L, d, N, p.ks,
                                                                   short_centre(p));
    check(cudaGetLastError(), "short conv kernel launch");
    {
        PlanUse plan({device, N, B * d, cufft::kR2C}, stream);
        fft_ok(cufft::api().exec_r2c(plan.handle(), cols.as<float>(), spec.as<float2>()),
               "R2C of the activations");
    }
    multiply_spectra<<<blocks_for(d * F), 256, 0, stream>>>(spec.as<float2>(), wspec.as<float2>(), B, d, F);
    check(cudaGetLastError(), "spectrum product launch");
    {
        PlanUse plan({device, N, B * d, cufft::kC2R}, stream);
        fft_ok(cufft::api().exec_c2r(plan.handle(), spec.as<float2>(), cols.as<float>()),
               "C2R");
    }
    const dim3 out_grid(static_cast<unsigned>((L + kT - 1) / kT), static_cast<unsigned>((d + kT - 1) / kT),
                        static_cast<unsigned>(B));
    columns_to_out<T><<<out_grid, tile_threads, 0, stream>>>(cols.as<float>(), static_cast<const T*>(a.x),
                                                             static_cast<T*>(a.out), a.omega, L, d, N);
    check(cudaGetLastError(), "epilogue kernel launch");
}

}  // namespace

void run_fft(int device, cudaStream_t stream, const cpu::ShortLongConvParams& p, const ConvArgs& a) {
    if (a.dtype == CHELA_DTYPE_BF16) run_typed<__nv_bfloat16>(device, stream, p, a);
    else if (a.dtype == CHELA_DTYPE_F16) run_typed<__half>(device, stream, p, a);
    else run_typed<float>(device, stream, p, a);
}

}  // namespace chela::cuda::conv
