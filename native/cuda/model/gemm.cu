// CUTLASS instantiations behind model::linear. The bias enters as the epilogue's C operand with a
// row stride of 0 (every output row reads the same bias row), so bias and activation are fused.
#include "gemm.h"

#include "core/error.h"

#include <cutlass/epilogue/thread/linear_combination.h>
#include <cutlass/epilogue/thread/linear_combination_silu.h>
#include <cutlass/gemm/device/gemm.h>

#include <cuda_runtime.h>

#include <climits>
#include <cstdlib>
#include <cstring>

namespace chela::cuda::model {

namespace {

template <int kAlign, class Out = float>
using PlainEpilogue = cutlass::epilogue::thread::LinearCombination<Out, kAlign, float, float>;
template <int kAlign, class Out = float>
using SiluEpilogue = cutlass::epilogue::thread::LinearCombinationSilu<Out, kAlign, float, float>;

// 128x128x32 CTA tile, 64x64 warps, m16n8k8 TF32 MMA, 3-stage cp.async pipeline: CUTLASS's
// standard sm_80 TF32 configuration. kAlign = elements per global access (4 = 16 bytes).
template <int kAlign, class Epilogue>
using Tf32Gemm = cutlass::gemm::device::Gemm<
    float, cutlass::layout::RowMajor,     // A = x
    float, cutlass::layout::ColumnMajor,  // B = W^T: W [out, in] row-major is W^T column-major
    float, cutlass::layout::RowMajor,     // C (bias, row stride 0) and D = y
    float, cutlass::arch::OpClassTensorOp, cutlass::arch::Sm80,
    cutlass::gemm::GemmShape<128, 128, 32>, cutlass::gemm::GemmShape<64, 64, 32>,
    cutlass::gemm::GemmShape<16, 8, 8>, Epilogue,
    cutlass::gemm::threadblock::GemmIdentityThreadblockSwizzle<>, 3, kAlign, kAlign>;

// fp16 operands: 128x256x64 CTA tile, 64x64 warps, m16n8k16, 3 stages (CUTLASS's large sm_80
// fp16 configuration). kAlignK = fp16 elements per operand access (8 = 16 bytes, 2 = 4 bytes).
template <int kAlignK, class Out, class Epilogue>
using F16Gemm = cutlass::gemm::device::Gemm<
    cutlass::half_t, cutlass::layout::RowMajor, cutlass::half_t, cutlass::layout::ColumnMajor, Out,
    cutlass::layout::RowMajor, float, cutlass::arch::OpClassTensorOp, cutlass::arch::Sm80,
    cutlass::gemm::GemmShape<128, 256, 64>, cutlass::gemm::GemmShape<64, 64, 64>,
    cutlass::gemm::GemmShape<16, 8, 16>, Epilogue, cutlass::gemm::threadblock::GemmIdentityThreadblockSwizzle<>, 3,
    kAlignK, kAlignK>;

const char* status_name(cutlass::Status s) { return cutlass::cutlassGetStatusString(s); }

template <class Gemm, class In, class Out>
void run(cudaStream_t stream, int rows, int in, int out, const In* x, const In* W, const Out* b, Out* y) {
    const float beta = b != nullptr ? 1.0f : 0.0f;
    typename Gemm::Arguments args({rows, out, in}, {x, in}, {W, in}, {b != nullptr ? b : y, 0}, {y, out},
                                  {1.0f, beta});
    Gemm gemm;
    cutlass::Status st = gemm.can_implement(args);
    if (st != cutlass::Status::kSuccess)
        fail(CHELA_ERR_UNSUPPORTED, "linear (CUDA): CUTLASS cannot run [", rows, " x ", in, "] x [", in, " x ",
             out, "]: ", status_name(st));
    // This configuration needs no split-K workspace.
    st = gemm(args, nullptr, stream);
    if (st != cutlass::Status::kSuccess) {
        const cudaError_t err = cudaGetLastError();
        fail(CHELA_ERR_DEVICE, "linear (CUDA): GEMM launch failed: ", status_name(st), " (",
             cudaGetErrorString(err), ")");
    }
}

template <int kAlign>
void dispatch_act(cudaStream_t s, Activation act, int rows, int in, int out, const float* x, const float* W,
                  const float* b, float* y) {
    if (act == Activation::kSilu)
        run<Tf32Gemm<kAlign, SiluEpilogue<kAlign>>>(s, rows, in, out, x, W, b, y);
    else
        run<Tf32Gemm<kAlign, PlainEpilogue<kAlign>>>(s, rows, in, out, x, W, b, y);
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// Output alignment (kOut elements per store) follows `out`; operand alignment follows `in`.
template <int kAlignK, class Out>
void f16_dispatch(cudaStream_t s, Activation act, int rows, int in, int out, const cutlass::half_t* x,
                  const cutlass::half_t* W, const Out* b, Out* y) {
    constexpr int kOut = 128 / cutlass::sizeof_bits<Out>::value;  // 16-byte stores
    const bool vec_out = out % kOut == 0 && aligned16(y) && (b == nullptr || aligned16(b));
    if (act == Activation::kSilu) {
        if (vec_out) run<F16Gemm<kAlignK, Out, SiluEpilogue<kOut, Out>>>(s, rows, in, out, x, W, b, y);
        else run<F16Gemm<kAlignK, Out, SiluEpilogue<1, Out>>>(s, rows, in, out, x, W, b, y);
    } else {
        if (vec_out) run<F16Gemm<kAlignK, Out, PlainEpilogue<kOut, Out>>>(s, rows, in, out, x, W, b, y);
        else run<F16Gemm<kAlignK, Out, PlainEpilogue<1, Out>>>(s, rows, in, out, x, W, b, y);
    }
}

template <class Out>
void f16_linear(cudaStream_t s, Activation act, int rows, int in, int out, const void* x, const void* W,
                const void* b, void* y) {
    auto xh = static_cast<const cutlass::half_t*>(x);
    auto wh = static_cast<const cutlass::half_t*>(W);
    auto bo = static_cast<const Out*>(b);
    auto yo = static_cast<Out*>(y);
    if (in % 8 == 0 && aligned16(x) && aligned16(W))
        f16_dispatch<8, Out>(s, act, rows, in, out, xh, wh, bo, yo);
    else
        f16_dispatch<2, Out>(s, act, rows, in, out, xh, wh, bo, yo);
}

}  // namespace

void linear(void* stream, int64_t rows, int64_t in, int64_t out, const float* x, const float* W,
            const float* b, float* y, Activation act) {
    if (rows <= 0 || out <= 0) return;
    if (rows > INT_MAX || in > INT_MAX || out > INT_MAX)
        fail(CHELA_ERR_SHAPE, "linear (CUDA): extents [", rows, ", ", in, ", ", out, "] exceed 2^31");
    auto s = static_cast<cudaStream_t>(stream);
    const bool vec = in % 4 == 0 && out % 4 == 0 && aligned16(x) && aligned16(W) && aligned16(y) &&
                     (b == nullptr || aligned16(b));
    if (vec)
        dispatch_act<4>(s, act, int(rows), int(in), int(out), x, W, b, y);
    else
        dispatch_act<1>(s, act, int(rows), int(in), int(out), x, W, b, y);
}

void linear_f16(void* stream, int64_t rows, int64_t in, int64_t out, const void* x, const void* W, const void* b,
                void* y, bool y_f16, Activation act) {
    if (rows <= 0 || out <= 0) return;
    if (rows > INT_MAX || in > INT_MAX || out > INT_MAX)
        fail(CHELA_ERR_SHAPE, "linear (CUDA): extents [", rows, ", ", in, ", ", out, "] exceed 2^31");
    if (in % 2 != 0)
        fail(CHELA_ERR_UNSUPPORTED, "linear (CUDA, fp16): the inner extent ", in, " must be even");
    static const bool sm80_only = [] {
        const char* v = std::getenv("CHELA_CUDA_GEMM");
        return v != nullptr && std::strcmp(v, "sm80") == 0;
    }();
    if (!sm80_only && linear_f16_sm90(stream, rows, in, out, x, W, b, y, y_f16, act)) return;
    auto s = static_cast<cudaStream_t>(stream);
    if (y_f16)
        f16_linear<cutlass::half_t>(s, act, int(rows), int(in), int(out), x, W, b, y);
    else
        f16_linear<float>(s, act, int(rows), int(in), int(out), x, W, b, y);
}

}  // namespace chela::cuda::model
