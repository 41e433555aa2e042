// cuFFT, loaded at run time (dlopen) rather than linked: the build machines have nvcc but no cuFFT
// headers or libraries, and the GPU machines have libcufft from the CUDA toolkit or from PyTorch's
// wheels. Only what the FFT convolution uses is declared; the values are cuFFT's (cufft.h,
// unchanged from cuFFT 10 to 12). Library search: $CHELA_CUFFT_LIB, then libcufft.so.12, .so.11,
// .so (an already loaded copy, e.g. PyTorch's, is found by its soname).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

namespace chela::cuda::cufft {

using Handle = int;
using Result = int;
constexpr Result kSuccess = 0x0;
constexpr Result kAllocFailed = 0x2;
constexpr int kR2C = 0x2a;
constexpr int kC2R = 0x2c;

struct Api {
    Result (*create)(Handle*);
    Result (*destroy)(Handle);
    Result (*set_auto_allocation)(Handle, int);
    Result (*make_plan_many64)(Handle, int, long long*, long long*, long long, long long, long long*, long long,
                               long long, int, long long, size_t*);
    Result (*set_work_area)(Handle, void*);
    Result (*set_stream)(Handle, cudaStream_t);
    Result (*exec_r2c)(Handle, float*, float2*);
    Result (*exec_c2r)(Handle, float2*, float*);
    Result (*get_version)(int*);
};

// The loaded API; throws chela::Error(CHELA_ERR_UNSUPPORTED) naming the libraries tried when
// cuFFT cannot be loaded. Thread-safe; loads once per process.
const Api& api();

// "CUFFT_INVALID_VALUE" etc.
const char* result_name(Result r);

}  // namespace chela::cuda::cufft
