#include "runtime.h"

#include "core/error.h"

#include <cuda_runtime.h>

namespace chela::cuda {

namespace {

void ok(cudaError_t err, const char* what) {
    if (err != cudaSuccess) {
        (void)cudaGetLastError();  // clear the sticky-free error so later calls are not blamed
        fail(CHELA_ERR_DEVICE, what, ": ", cudaGetErrorName(err), ": ", cudaGetErrorString(err));
    }
}

}  // namespace

int device_count() {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return n;
}

void select_device(int device) { ok(cudaSetDevice(device), "cudaSetDevice"); }

void* create_stream(int device) {
    const int n = device_count();
    if (device < 0 || device >= n)
        fail(CHELA_ERR_INVALID_ARGUMENT, "device_index: ", device, " is outside [0, ", n, ") (CUDA devices present)");
    ok(cudaSetDevice(device), "cudaSetDevice");
    cudaStream_t s = nullptr;
    ok(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
    return s;
}

void destroy_stream(int device, void* stream) {
    ok(cudaSetDevice(device), "cudaSetDevice");
    ok(cudaStreamDestroy(static_cast<cudaStream_t>(stream)), "cudaStreamDestroy");
}

void synchronize(int device, void* stream) {
    ok(cudaSetDevice(device), "cudaSetDevice");
    ok(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)), "cudaStreamSynchronize");
}

void* malloc_device(int device, size_t bytes) {
    ok(cudaSetDevice(device), "cudaSetDevice");
    void* p = nullptr;
    const cudaError_t err = cudaMalloc(&p, bytes ? bytes : 1);
    if (err == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();
        fail(CHELA_ERR_OUT_OF_MEMORY, "cudaMalloc of ", bytes, " bytes on device ", device);
    }
    ok(err, "cudaMalloc");
    return p;
}

void free_device(int device, void* ptr) {
    ok(cudaSetDevice(device), "cudaSetDevice");
    ok(cudaFree(ptr), "cudaFree");
}

void copy(int device, void* stream, void* dst, const void* src, size_t bytes) {
    ok(cudaSetDevice(device), "cudaSetDevice");
    auto s = static_cast<cudaStream_t>(stream);
    ok(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, s), "cudaMemcpyAsync");
    ok(cudaStreamSynchronize(s), "cudaStreamSynchronize");
}

}  // namespace chela::cuda
