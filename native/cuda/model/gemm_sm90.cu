// Hopper (sm_90a) fp16 GEMMs for model::linear_f16: CUTLASS 3.x collective builders, wgmma
// (warpgroup MMA) with TMA loads, warp-specialized cooperative schedule, bias + activation fused
// through the epilogue's per-column-bias fusion. Used when the device is sm_90 and the operands
// meet TMA's 16-byte alignment; gemm.cu's sm_80 kernels take every other case.
#include "gemm.h"

#include "core/error.h"

#include <cute/tensor.hpp>
#include <cutlass/cutlass.h>
#include <cutlass/epilogue/collective/collective_builder.hpp>
#include <cutlass/epilogue/fusion/operations.hpp>
#include <cutlass/epilogue/thread/activation.h>
#include <cutlass/gemm/collective/collective_builder.hpp>
#include <cutlass/gemm/device/gemm_universal_adapter.h>
#include <cutlass/gemm/kernel/gemm_universal.hpp>

#include <cuda_runtime.h>

namespace chela::cuda::model {

namespace {

using namespace cute;

template <class Out, template <class> class Act>
struct Sm90Gemm {
    using ElementA = cutlass::half_t;
    using ElementB = cutlass::half_t;
    using LayoutA = cutlass::layout::RowMajor;     // x [rows, in]
    using LayoutB = cutlass::layout::ColumnMajor;  // W [out, in] row-major = B^T, K-major
    using LayoutD = cutlass::layout::RowMajor;
    static constexpr int kAlignAB = 8, kAlignD = 128 / cutlass::sizeof_bits<Out>::value;
    using TileShape = Shape<_128, _256, _64>;
    using ClusterShape = Shape<_1, _1, _1>;
    using Fusion = cutlass::epilogue::fusion::LinCombPerColBiasEltAct<Act, Out, float, Out, void, float>;
    using Epilogue = typename cutlass::epilogue::collective::CollectiveBuilder<
        cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, TileShape, ClusterShape,
        cutlass::epilogue::collective::EpilogueTileAuto, float, float, void, LayoutD, kAlignD, Out, LayoutD, kAlignD,
        cutlass::epilogue::TmaWarpSpecializedCooperative, Fusion>::CollectiveOp;
    using Mainloop = typename cutlass::gemm::collective::CollectiveBuilder<
        cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, ElementA, LayoutA, kAlignAB, ElementB, LayoutB, kAlignAB,
        float, TileShape, ClusterShape,
        cutlass::gemm::collective::StageCountAutoCarveout<static_cast<int>(sizeof(typename Epilogue::SharedStorage))>,
        cutlass::gemm::KernelTmaWarpSpecializedCooperative>::CollectiveOp;
    using Kernel = cutlass::gemm::kernel::GemmUniversal<Shape<int, int, int, int>, Mainloop, Epilogue>;
    using Gemm = cutlass::gemm::device::GemmUniversalAdapter<Kernel>;
};

template <class G>
bool run(cudaStream_t stream, int M, int K, int N, const void* x, const void* W, const void* b, void* y) {
    using Gemm = typename G::Gemm;
    using Kernel = typename G::Kernel;
    typename Kernel::StrideA sa{};
    typename Kernel::StrideB sb{};
    typename Kernel::StrideD sd{};
    sa = make_stride(int64_t(K), Int<1>{}, int64_t(M) * K);
    sb = make_stride(int64_t(K), Int<1>{}, int64_t(N) * K);
    sd = make_stride(int64_t(N), Int<1>{}, int64_t(M) * N);
    using Out = typename G::Epilogue::ElementD;
    typename Gemm::Arguments args{cutlass::gemm::GemmUniversalMode::kGemm,
                                  {M, N, K, 1},
                                  {static_cast<const cutlass::half_t*>(x), sa, static_cast<const cutlass::half_t*>(W), sb},
                                  {{}, nullptr, sd, static_cast<Out*>(y), sd}};
    args.epilogue.thread.alpha = 1.0f;
    args.epilogue.thread.beta = 0.0f;
    args.epilogue.thread.bias_ptr = static_cast<const Out*>(b);
    Gemm gemm;
    if (gemm.can_implement(args) != cutlass::Status::kSuccess) return false;
    // The cooperative schedule needs no workspace for a plain (non split-K) GEMM.
    if (Gemm::get_workspace_size(args) != 0) return false;
    cutlass::Status st = gemm.initialize(args, nullptr, stream);
    if (st == cutlass::Status::kSuccess) st = gemm.run(stream);
    if (st != cutlass::Status::kSuccess)
        fail(CHELA_ERR_DEVICE, "linear (CUDA, sm90): GEMM launch failed: ", cutlass::cutlassGetStatusString(st), " (",
             cudaGetErrorString(cudaGetLastError()), ")");
    return true;
}

template <class Out>
bool dispatch(cudaStream_t s, Activation act, int M, int K, int N, const void* x, const void* W, const void* b,
              void* y) {
    if (act == Activation::kSilu) return run<Sm90Gemm<Out, cutlass::epilogue::thread::SiLu>>(s, M, K, N, x, W, b, y);
    return run<Sm90Gemm<Out, cutlass::epilogue::thread::Identity>>(s, M, K, N, x, W, b, y);
}

bool is_sm90(int device) {
    static int cached[64] = {};  // 0 = unknown, 1 = yes, 2 = no
    if (device < 0 || device >= 64) return false;
    if (cached[device] == 0) {
        int major = 0, minor = 0;
        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device);
        cached[device] = major == 9 && minor == 0 ? 1 : 2;
    }
    return cached[device] == 1;
}

}  // namespace

bool linear_f16_sm90(void* stream, int64_t rows, int64_t in, int64_t out, const void* x, const void* W, const void* b,
                     void* y, bool y_f16, Activation act) {
    int device = 0;
    if (cudaGetDevice(&device) != cudaSuccess || !is_sm90(device)) return false;
    // TMA: 16-byte aligned rows and bases; the bias (one row, read per tile) needs no more.
    const int out_align = y_f16 ? 8 : 4;
    auto aligned = [](const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; };
    if (in % 8 != 0 || out % out_align != 0 || b == nullptr || !aligned(x) || !aligned(W) || !aligned(y) || !aligned(b))
        return false;
    auto s = static_cast<cudaStream_t>(stream);
    return y_f16 ? dispatch<cutlass::half_t>(s, act, int(rows), int(in), int(out), x, W, b, y)
                 : dispatch<float>(s, act, int(rows), int(in), int(out), x, W, b, y);
}

}  // namespace chela::cuda::model
