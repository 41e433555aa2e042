#include "runtime.h"

#include "core/error.h"

#include <cuda_runtime.h>

namespace chela::cuda {
namespace {

[[noreturn]] void throw_cuda(cudaError_t err, const char* what) {
    cudaGetLastError();  // clear a sticky-free error so the next call starts clean
    fail(err == cudaErrorMemoryAllocation ? CHELA_ERR_OUT_OF_MEMORY : CHELA_ERR_DEVICE, "cuda: ", what, ": ",
         cudaGetErrorName(err), " (", cudaGetErrorString(err), ")");
}
inline void check(cudaError_t err, const char* what) {
    if (err != cudaSuccess) throw_cuda(err, what);
}
cudaMemcpyKind kind_of(CopyKind k) {
    switch (k) {
        case CopyKind::HostToDevice: return cudaMemcpyHostToDevice;
        case CopyKind::DeviceToHost: return cudaMemcpyDeviceToHost;
        case CopyKind::DeviceToDevice: return cudaMemcpyDeviceToDevice;
        default: return cudaMemcpyDefault;
    }
}

}  // namespace

int device_count() noexcept {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return n;
}

std::string device_name(int index) {
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, index), "cudaGetDeviceProperties");
    return std::string(prop.name) + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ", " +
           std::to_string(prop.multiProcessorCount) + " SMs)";
}

void set_device(int index) { check(cudaSetDevice(index), "cudaSetDevice"); }

void* malloc_device(size_t bytes) {
    if (bytes == 0) return nullptr;
    void* p = nullptr;
    check(cudaMalloc(&p, bytes), "cudaMalloc");
    return p;
}
void free_device(void* p) noexcept {
    if (p) cudaFree(p);
}
void* malloc_async(size_t bytes, void* stream) {
    if (bytes == 0) return nullptr;
    void* p = nullptr;
    check(cudaMallocAsync(&p, bytes, static_cast<cudaStream_t>(stream)), "cudaMallocAsync");
    return p;
}
void free_async(void* p, void* stream) noexcept {
    if (p) cudaFreeAsync(p, static_cast<cudaStream_t>(stream));
}

void copy(void* dst, const void* src, size_t bytes, CopyKind kind) {
    if (bytes) check(cudaMemcpy(dst, src, bytes, kind_of(kind)), "cudaMemcpy");
}
void copy_async(void* dst, const void* src, size_t bytes, CopyKind kind, void* stream) {
    if (bytes) check(cudaMemcpyAsync(dst, src, bytes, kind_of(kind), static_cast<cudaStream_t>(stream)), "cudaMemcpyAsync");
}
void memset_async(void* dst, int value, size_t bytes, void* stream) {
    if (bytes) check(cudaMemsetAsync(dst, value, bytes, static_cast<cudaStream_t>(stream)), "cudaMemsetAsync");
}

void* stream_create() {
    cudaStream_t s = nullptr;
    check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
    return s;
}
void stream_destroy(void* s) noexcept {
    if (s) cudaStreamDestroy(static_cast<cudaStream_t>(s));
}
void stream_synchronize(void* s) { check(cudaStreamSynchronize(static_cast<cudaStream_t>(s)), "cudaStreamSynchronize"); }
void device_synchronize() { check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

void check_last_error(const char* what) { check(cudaGetLastError(), what); }

}  // namespace chela::cuda
