// Times the layer's three fp16 projection GEMMs (M = 65536 rows, the bench layer's d 1024, e 128,
// f 2048: V 1024 -> 2048, mx 1024 -> 4224, h 2048 -> 1024 with f32 output) under several CUTLASS 3.x
// sm90 configurations: tile shape, cluster shape, cooperative vs ping-pong schedule. A probe for
// choosing gemm_sm90.cu's configuration, not part of the library. Build here (as transpose_probe.cu):
//   nvcc --options-file build-cuda/CMakeFiles/chela_cuda.dir/includes_CUDA.rsp -O3 -DNDEBUG -std=c++17
//        --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a -o .device/probe/gemm_probe
//        tools/device/gemm_probe.cu
// and run .device/probe/gemm_probe there (carry .device/probe). -DNDEBUG matters: with asserts ptxas
// serialises the wgmma pipeline (warning C7510) and the timings mean nothing.
#include <cute/tensor.hpp>
#include <cutlass/cutlass.h>
#include <cutlass/epilogue/collective/collective_builder.hpp>
#include <cutlass/epilogue/fusion/operations.hpp>
#include <cutlass/epilogue/thread/activation.h>
#include <cutlass/gemm/collective/collective_builder.hpp>
#include <cutlass/gemm/device/gemm_universal_adapter.h>
#include <cutlass/gemm/kernel/gemm_universal.hpp>

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <vector>

using namespace cute;

template <class Out, class Tile, class Cluster, class KernelSched, class EpiSched>
struct Cfg {
    using LayoutA = cutlass::layout::RowMajor;
    using LayoutB = cutlass::layout::ColumnMajor;
    using LayoutD = cutlass::layout::RowMajor;
    static constexpr int kAlignAB = 8, kAlignD = 128 / cutlass::sizeof_bits<Out>::value;
    using Fusion = cutlass::epilogue::fusion::LinCombPerColBiasEltAct<cutlass::epilogue::thread::Identity, Out, float,
                                                                      Out, void, float>;
    using Epilogue = typename cutlass::epilogue::collective::CollectiveBuilder<
        cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, Tile, Cluster, cutlass::epilogue::collective::EpilogueTileAuto,
        float, float, void, LayoutD, kAlignD, Out, LayoutD, kAlignD, EpiSched, Fusion>::CollectiveOp;
    using Mainloop = typename cutlass::gemm::collective::CollectiveBuilder<
        cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, cutlass::half_t, LayoutA, kAlignAB, cutlass::half_t, LayoutB,
        kAlignAB, float, Tile, Cluster,
        cutlass::gemm::collective::StageCountAutoCarveout<static_cast<int>(sizeof(typename Epilogue::SharedStorage))>,
        KernelSched>::CollectiveOp;
    using Kernel = cutlass::gemm::kernel::GemmUniversal<Shape<int, int, int, int>, Mainloop, Epilogue>;
    using Gemm = cutlass::gemm::device::GemmUniversalAdapter<Kernel>;
};

template <class G, class Out>
float time_gemm(int M, int K, int N, const void* x, const void* W, const void* b, void* y) {
    using Gemm = typename G::Gemm;
    using Kernel = typename G::Kernel;
    typename Kernel::StrideA sa = make_stride(int64_t(K), Int<1>{}, int64_t(M) * K);
    typename Kernel::StrideB sb = make_stride(int64_t(K), Int<1>{}, int64_t(N) * K);
    typename Kernel::StrideD sd = make_stride(int64_t(N), Int<1>{}, int64_t(M) * N);
    typename Gemm::Arguments args{cutlass::gemm::GemmUniversalMode::kGemm,
                                  {M, N, K, 1},
                                  {static_cast<const cutlass::half_t*>(x), sa, static_cast<const cutlass::half_t*>(W), sb},
                                  {{}, nullptr, sd, static_cast<Out*>(y), sd}};
    args.epilogue.thread.alpha = 1.0f;
    args.epilogue.thread.beta = 0.0f;
    args.epilogue.thread.bias_ptr = static_cast<const Out*>(b);
    Gemm gemm;
    if (gemm.can_implement(args) != cutlass::Status::kSuccess) return -1.f;
    size_t ws = Gemm::get_workspace_size(args);
    void* work = nullptr;
    if (ws) cudaMalloc(&work, ws);
    if (gemm.initialize(args, work) != cutlass::Status::kSuccess) return -2.f;
    for (int i = 0; i < 5; ++i) gemm.run();
    cudaEvent_t a, e;
    cudaEventCreate(&a);
    cudaEventCreate(&e);
    constexpr int kReps = 30;
    std::vector<float> ms;
    for (int r = 0; r < 5; ++r) {
        cudaEventRecord(a);
        for (int i = 0; i < kReps; ++i) gemm.run();
        cudaEventRecord(e);
        cudaEventSynchronize(e);
        float t = 0;
        cudaEventElapsedTime(&t, a, e);
        ms.push_back(t / kReps);
    }
    if (work) cudaFree(work);
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
}

using Coop = cutlass::gemm::KernelTmaWarpSpecializedCooperative;
using CoopEpi = cutlass::epilogue::TmaWarpSpecializedCooperative;
using Ping = cutlass::gemm::KernelTmaWarpSpecializedPingpong;
using PingEpi = cutlass::epilogue::TmaWarpSpecialized;

template <class Out>
void shape(const char* name, int M, int K, int N, const void* x, const void* W, const void* b, void* y) {
    const double flop = 2.0 * M * K * N;
    auto report = [&](const char* cfg, float ms) {
        std::printf("%-26s %-34s %8.3f ms %7.1f TFLOP/s\n", name, cfg, ms, ms > 0 ? flop / ms / 1e9 : 0.0);
        std::fflush(stdout);
    };
    report("coop 128x256x64 c1x1", time_gemm<Cfg<Out, Shape<_128, _256, _64>, Shape<_1, _1, _1>, Coop, CoopEpi>, Out>(M, K, N, x, W, b, y));
    report("coop 128x256x64 c2x1", time_gemm<Cfg<Out, Shape<_128, _256, _64>, Shape<_2, _1, _1>, Coop, CoopEpi>, Out>(M, K, N, x, W, b, y));
    report("coop 256x128x64 c1x1", time_gemm<Cfg<Out, Shape<_256, _128, _64>, Shape<_1, _1, _1>, Coop, CoopEpi>, Out>(M, K, N, x, W, b, y));
    report("ping 64x256x64 c1x1", time_gemm<Cfg<Out, Shape<_64, _256, _64>, Shape<_1, _1, _1>, Ping, PingEpi>, Out>(M, K, N, x, W, b, y));
    report("ping 128x128x64 c1x1", time_gemm<Cfg<Out, Shape<_128, _128, _64>, Shape<_1, _1, _1>, Ping, PingEpi>, Out>(M, K, N, x, W, b, y));
}

int main() {
    const int M = 65536;
    const size_t maxA = size_t(M) * 2048, maxW = size_t(4224) * 2048, maxY = size_t(M) * 4224;
    void *x, *W, *b, *y;
    cudaMalloc(&x, maxA * 2);
    cudaMalloc(&W, maxW * 2);
    cudaMalloc(&b, 4224 * 4);
    cudaMalloc(&y, maxY * 4);
    // Small non-zero values (the probe times; it does not check).
    std::vector<unsigned short> h(maxA);
    for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<unsigned short>(0x2000 + (i * 2654435761u >> 20) % 0x1000);
    cudaMemcpy(x, h.data(), maxA * 2, cudaMemcpyHostToDevice);
    cudaMemcpy(W, h.data(), maxW * 2, cudaMemcpyHostToDevice);
    cudaMemset(b, 0, 4224 * 4);
    shape<cutlass::half_t>("V 1024->2048 (fp16 out)", M, 1024, 2048, x, W, b, y);
    shape<cutlass::half_t>("mx 1024->4224 (fp16 out)", M, 1024, 4224, x, W, b, y);
    shape<float>("h 2048->1024 (f32 out)", M, 2048, 1024, x, W, b, y);
    std::printf("status: %s\n", cudaGetErrorString(cudaGetLastError()));
    return 0;
}
