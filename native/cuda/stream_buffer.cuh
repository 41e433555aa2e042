// Stream-ordered device scratch: cudaMallocAsync on construction, cudaFreeAsync on the same stream
// when it goes out of scope — also when an error unwinds the call, so a failed call leaks nothing.
// The stream's memory pool keeps freed blocks for the next call. Internal to native/cuda.
#pragma once

#include <chela/chela.h>

#include "core/error.h"

#include <cuda_runtime.h>

#include <cstddef>

namespace chela::cuda {

class StreamBuffer {
public:
    // `what` names the buffer in the error (CHELA_ERR_OUT_OF_MEMORY or CHELA_ERR_DEVICE).
    StreamBuffer(size_t bytes, cudaStream_t stream, const char* what) : stream_(stream) {
        const cudaError_t err = cudaMallocAsync(&p_, bytes ? bytes : 16, stream);
        if (err != cudaSuccess) {
            (void)cudaGetLastError();
            p_ = nullptr;
            if (err == cudaErrorMemoryAllocation) fail(CHELA_ERR_OUT_OF_MEMORY, what, ": out of device memory");
            fail(CHELA_ERR_DEVICE, what, ": cudaMallocAsync: ", cudaGetErrorName(err), ": ", cudaGetErrorString(err));
        }
    }
    ~StreamBuffer() {
        if (p_) (void)cudaFreeAsync(p_, stream_);
    }
    StreamBuffer(const StreamBuffer&) = delete;
    StreamBuffer& operator=(const StreamBuffer&) = delete;
    template <typename T> T* as() const { return static_cast<T*>(p_); }

private:
    void* p_ = nullptr;
    cudaStream_t stream_;
};

}  // namespace chela::cuda
