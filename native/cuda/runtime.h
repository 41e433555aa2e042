// Host-side interface of the CUDA backend. No CUDA types here: the rest of libchela (built by the
// host compiler) calls these functions, which live in .cu files built by nvcc. Every function
// throws chela::Error(CHELA_ERR_DEVICE or CHELA_ERR_UNSUPPORTED, message) on failure.
#pragma once

#include <cstddef>
#include <cstdint>

namespace chela::cuda {

int device_count();                       // 0 when no driver or device
void select_device(int device);           // makes `device` current on the calling thread
void* create_stream(int device);          // selects `device`, returns its new stream
void destroy_stream(int device, void* stream);
void synchronize(int device, void* stream);
void* malloc_device(int device, size_t bytes);
void free_device(int device, void* ptr);
// Copies bytes between any two of host/device (cudaMemcpyDefault) on `stream`, then waits.
void copy(int device, void* stream, void* dst, const void* src, size_t bytes);

}  // namespace chela::cuda
