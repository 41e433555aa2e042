// The object behind chela_context: a backend (CPU or one CUDA device) and its resources.
#pragma once

#include <chela/chela.h>

#include "core/thread_pool.h"

#include <atomic>
#include <memory>

struct chela_context {
    int32_t device = CHELA_DEVICE_CPU;
    int32_t device_index = 0;
    std::unique_ptr<chela::ThreadPool> pool;  // CPU: the workers; CUDA: host-side helpers
    void* own_stream = nullptr;                 // CUDA: the context's cudaStream_t
    void* stream = nullptr;                     // CUDA: where work goes (own_stream or the caller's)
    // Models loaded in this context; destroying the context while any is alive is refused.
    std::atomic<int32_t> live_models{0};
};

namespace chela {

// Validates a context argument (non-null) and returns it.
chela_context& check_context(chela_context* ctx, const char* name = "ctx");

// The CPU context that a host-only helper runs on when the caller supplied a CUDA context.
ThreadPool& host_pool(chela_context& ctx);

}  // namespace chela
