// CUDA runtime helpers of the CUDA backend: device selection, memory, copies and streams, every
// error turned into chela::Error(CHELA_ERR_DEVICE or CHELA_ERR_OUT_OF_MEMORY, message). No CUDA type
// leaks out: streams are void* (cudaStream_t), device pointers are void*.
#pragma once

#include <cstddef>
#include <string>

namespace chela::cuda {

// Number of usable devices (0 when the driver or a device is missing; never throws).
int device_count() noexcept;
// "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)" for device `index`.
std::string device_name(int index);
void set_device(int index);

void* malloc_device(size_t bytes);                 // cudaMalloc; nullptr for 0 bytes
void free_device(void* p) noexcept;                // cudaFree; null accepted
void* malloc_async(size_t bytes, void* stream);    // stream-ordered
void free_async(void* p, void* stream) noexcept;

enum class CopyKind { HostToDevice, DeviceToHost, DeviceToDevice, Default };
void copy(void* dst, const void* src, size_t bytes, CopyKind kind);                      // synchronous
void copy_async(void* dst, const void* src, size_t bytes, CopyKind kind, void* stream);
void memset_async(void* dst, int value, size_t bytes, void* stream);

void* stream_create();                 // non-blocking stream
void stream_destroy(void* s) noexcept;
void stream_synchronize(void* s);
void device_synchronize();

// Throws CHELA_ERR_DEVICE with `what` and the pending error, if any (after a kernel launch).
void check_last_error(const char* what);

// RAII device buffer.
class DeviceBuffer {
public:
    DeviceBuffer() = default;
    explicit DeviceBuffer(size_t bytes) : ptr_(malloc_device(bytes)), bytes_(bytes) {}
    ~DeviceBuffer() { free_device(ptr_); }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) { o.ptr_ = nullptr; o.bytes_ = 0; }
    DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
        if (this != &o) { free_device(ptr_); ptr_ = o.ptr_; bytes_ = o.bytes_; o.ptr_ = nullptr; o.bytes_ = 0; }
        return *this;
    }
    void* get() const { return ptr_; }
    template <class T> T* as() const { return static_cast<T*>(ptr_); }
    size_t bytes() const { return bytes_; }

private:
    void* ptr_ = nullptr;
    size_t bytes_ = 0;
};

}  // namespace chela::cuda
