// C entry points: version, backends, contexts and tensor allocation.
#include "core/context.h"
#include "core/error.h"
#include "core/tensor.h"

#ifdef CHELA_WITH_CUDA
#include "cuda/runtime.h"
#endif

#include <cstdlib>
#include <cstring>
#include <thread>

namespace chela {

chela_context& check_context(chela_context* ctx, const char* name) {
    if (ctx == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, name, ": context is null");
    return *ctx;
}

ThreadPool& host_pool(chela_context& ctx) { return *ctx.pool; }

}  // namespace chela

using namespace chela;

#define CHELA_STR2(x) #x
#define CHELA_STR(x) CHELA_STR2(x)

extern "C" {

const char* chela_version(void) {
    return CHELA_STR(CHELA_VERSION_MAJOR) "." CHELA_STR(CHELA_VERSION_MINOR) "." CHELA_STR(
        CHELA_VERSION_PATCH);
}

int32_t chela_abi_version(void) { return CHELA_ABI_VERSION; }

const char* chela_build_info(void) {
#ifdef CHELA_WITH_CUDA
    return "libchela " CHELA_STR(CHELA_VERSION_MAJOR) "." CHELA_STR(CHELA_VERSION_MINOR) "." CHELA_STR(
        CHELA_VERSION_PATCH) "; cpu: openblas, kissfft; cuda: built";
#else
    return "libchela " CHELA_STR(CHELA_VERSION_MAJOR) "." CHELA_STR(CHELA_VERSION_MINOR) "." CHELA_STR(
        CHELA_VERSION_PATCH) "; cpu: openblas, kissfft; cuda: not built";
#endif
}

int32_t chela_backend_available(int32_t device) {
    if (device == CHELA_DEVICE_CPU) return 1;
    int32_t count = 0;
    if (device == CHELA_DEVICE_CUDA && chela_cuda_device_count(&count) == CHELA_OK) return count > 0;
    return 0;
}

chela_status chela_cuda_device_count(int32_t* count) {
    return guard([&] {
        if (count == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "count: pointer is null");
#ifdef CHELA_WITH_CUDA
        *count = cuda::device_count();
#else
        *count = 0;
#endif
    });
}

chela_status chela_context_create_cuda(int32_t device_index, chela_context** out) {
    return guard([&] {
        if (out == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "out: pointer is null");
        *out = nullptr;
#ifdef CHELA_WITH_CUDA
        auto ctx = std::make_unique<chela_context>();
        ctx->device = CHELA_DEVICE_CUDA;
        ctx->device_index = device_index;
        ctx->pool = std::make_unique<ThreadPool>(1);
        ctx->own_stream = ctx->stream = cuda::create_stream(device_index);
        *out = ctx.release();
#else
        fail(CHELA_ERR_UNSUPPORTED, "CUDA backend not built into this libchela (device ",
             device_index, " requested); rebuild with nvcc and CUTLASS");
#endif
    });
}

chela_status chela_context_create_cpu(int32_t threads, chela_context** out) {
    return guard([&] {
        if (out == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "out: pointer is null");
        *out = nullptr;
        if (threads < 0 || threads > 4096)
            fail(CHELA_ERR_INVALID_ARGUMENT, "threads: ", threads, " is out of range 0..4096");
        if (threads == 0) threads = static_cast<int32_t>(std::max(1u, std::thread::hardware_concurrency()));
        auto ctx = std::make_unique<chela_context>();
        ctx->device = CHELA_DEVICE_CPU;
        ctx->pool = std::make_unique<ThreadPool>(threads);
        *out = ctx.release();
    });
}

chela_status chela_context_destroy(chela_context* ctx) {
    return guard([&] {
        if (ctx == nullptr) return;
        if (ctx->live_models.load() != 0)
            fail(CHELA_ERR_INVALID_ARGUMENT, "ctx: ", ctx->live_models.load(),
                 " model(s) loaded in this context are still alive; destroy them first");
#ifdef CHELA_WITH_CUDA
        if (ctx->own_stream) cuda::destroy_stream(ctx->device_index, ctx->own_stream);
#endif
        delete ctx;
    });
}

chela_status chela_context_device(const chela_context* ctx, int32_t* device) {
    return guard([&] {
        if (ctx == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "ctx: context is null");
        if (device == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "device: pointer is null");
        *device = ctx->device;
    });
}

chela_status chela_context_threads(const chela_context* ctx, int32_t* threads) {
    return guard([&] {
        if (ctx == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "ctx: context is null");
        if (threads == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "threads: pointer is null");
        *threads = ctx->pool ? ctx->pool->size() : 1;
    });
}

chela_status chela_context_synchronize(chela_context* ctx) {
    return guard([&] {
        chela_context& c = check_context(ctx);
#ifdef CHELA_WITH_CUDA
        if (c.device == CHELA_DEVICE_CUDA) cuda::synchronize(c.device_index, c.stream);
#else
        (void)c;
#endif
    });
}

chela_status chela_context_set_cuda_stream(chela_context* ctx, void* stream) {
    return guard([&] {
        chela_context& c = check_context(ctx);
        if (c.device != CHELA_DEVICE_CUDA)
            fail(CHELA_ERR_UNSUPPORTED, "ctx: set_cuda_stream needs a CUDA context");
        c.stream = stream ? stream : c.own_stream;
    });
}

chela_status chela_tensor_allocate(chela_context* ctx, int32_t dtype, int32_t rank,
                                   const int64_t* shape, chela_tensor* t) {
    return guard([&] {
        chela_context& c = check_context(ctx);
        if (t == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "t: tensor is null");
        std::memset(t, 0, sizeof *t);
        if (chela_dtype_size(dtype) == 0) fail(CHELA_ERR_DTYPE, "dtype: unknown dtype ", dtype);
        if (rank < 0 || rank > CHELA_MAX_RANK)
            fail(CHELA_ERR_SHAPE, "rank: ", rank, " is out of range 0..", CHELA_MAX_RANK);
        if (rank > 0 && shape == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "shape: pointer is null");
        int64_t n = 1;
        for (int i = 0; i < rank; ++i) {
            if (shape[i] < 0) fail(CHELA_ERR_SHAPE, "shape: negative extent in dimension ", i);
            if (shape[i] > 0 && n > (int64_t{1} << 40) / shape[i])
                fail(CHELA_ERR_SHAPE, "shape: too many elements");
            n *= shape[i];
        }
        const size_t bytes = static_cast<size_t>(n) * chela_dtype_size(dtype);
        void* p = nullptr;
#ifdef CHELA_WITH_CUDA
        if (c.device == CHELA_DEVICE_CUDA) p = cuda::malloc_device(c.device_index, bytes);
        else
#endif
            p = std::aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
        if (p == nullptr) fail(CHELA_ERR_OUT_OF_MEMORY, "tensor_allocate: ", bytes, " bytes");
        t->data = p;
        t->dtype = dtype;
        t->device = c.device;
        t->rank = rank;
        for (int i = 0; i < rank; ++i) t->shape[i] = shape[i];
    });
}

chela_status chela_tensor_release(chela_context* ctx, chela_tensor* t) {
    return guard([&] {
        chela_context& c = check_context(ctx);
        if (t == nullptr) return;
        if (t->device != c.device)
            fail(CHELA_ERR_INVALID_ARGUMENT, "t: tensor was not allocated by a context of this device");
#ifdef CHELA_WITH_CUDA
        if (t->device == CHELA_DEVICE_CUDA) cuda::free_device(c.device_index, t->data);
        else
#endif
            std::free(t->data);
        t->data = nullptr;
    });
}

chela_status chela_tensor_copy(chela_context* ctx, const chela_tensor* src, chela_tensor* dst) {
    return guard([&] {
        chela_context& c = check_context(ctx);
        if (src == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "src: tensor is null");
        if (dst == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "dst: tensor is null");
        const unsigned all = kFloats | kI32 | kI64;
        // Host<->device copies need a CUDA context; a CPU context copies host to host.
        auto placement = [&](const chela_tensor* t) {
            return c.device == CHELA_DEVICE_CUDA && t->device != CHELA_DEVICE_CPU ? CHELA_DEVICE_CUDA : CHELA_DEVICE_CPU;
        };
        const int32_t src_dev = placement(src), dst_dev = placement(dst);
        check_tensor_rank(src, "src", all, src->rank >= 0 && src->rank <= CHELA_MAX_RANK ? src->rank : -1, src_dev);
        check_tensor_rank(dst, "dst", 1u << src->dtype, src->rank, dst_dev);
        for (int i = 0; i < src->rank; ++i)
            check_extent(*dst, "dst", i, src->shape[i], "must match src");
        const size_t bytes = static_cast<size_t>(numel(*src)) * chela_dtype_size(src->dtype);
#ifdef CHELA_WITH_CUDA
        if (c.device == CHELA_DEVICE_CUDA) {
            cuda::copy(c.device_index, c.stream, dst->data, src->data, bytes);
            return;
        }
#endif
        std::memmove(dst->data, src->data, bytes);
    });
}

}  // extern "C"
