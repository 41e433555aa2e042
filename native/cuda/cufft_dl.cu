// Run-time loading of cuFFT (see cufft_dl.h for why).
#include "cufft_dl.h"

#include "core/error.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <string>

namespace chela::cuda::cufft {

namespace {

struct Loaded {
    Api api{};
    std::string error;  // empty when loaded
};

template <typename F>
bool bind(void* lib, const char* name, F& fn, std::string& error) {
    fn = reinterpret_cast<F>(dlsym(lib, name));
    if (fn == nullptr && error.empty()) error = std::string("symbol ") + name + " missing";
    return fn != nullptr;
}

Loaded load() {
    Loaded out;
    std::string tried;
    void* lib = nullptr;
    const char* env = std::getenv("CHELA_CUFFT_LIB");
    const char* names[] = {env, "libcufft.so.12", "libcufft.so.11", "libcufft.so"};
    for (const char* n : names) {
        if (n == nullptr || *n == '\0') continue;
        lib = dlopen(n, RTLD_NOW | RTLD_LOCAL);
        if (lib != nullptr) break;
        const char* why = dlerror();
        tried += std::string(tried.empty() ? "" : "; ") + (why ? why : n);
    }
    if (lib == nullptr) {
        out.error = "cuFFT could not be loaded (" + tried +
                    "): put libcufft.so.12 on LD_LIBRARY_PATH or name it in CHELA_CUFFT_LIB";
        return out;
    }
    // The library stays loaded for the life of the process (plans are cached process-wide).
    std::string err;
    Api& a = out.api;
    bind(lib, "cufftCreate", a.create, err);
    bind(lib, "cufftDestroy", a.destroy, err);
    bind(lib, "cufftSetAutoAllocation", a.set_auto_allocation, err);
    bind(lib, "cufftMakePlanMany64", a.make_plan_many64, err);
    bind(lib, "cufftSetWorkArea", a.set_work_area, err);
    bind(lib, "cufftSetStream", a.set_stream, err);
    bind(lib, "cufftExecR2C", a.exec_r2c, err);
    bind(lib, "cufftExecC2R", a.exec_c2r, err);
    bind(lib, "cufftGetVersion", a.get_version, err);
    if (!err.empty()) out.error = "cuFFT library found but unusable: " + err;
    return out;
}

}  // namespace

const Api& api() {
    static const Loaded loaded = load();  // thread-safe initialisation (C++11 statics)
    if (!loaded.error.empty()) fail(CHELA_ERR_UNSUPPORTED, "short_long_conv (CUDA): ", loaded.error);
    return loaded.api;
}

const char* result_name(Result r) {
    switch (r) {
        case 0x0: return "CUFFT_SUCCESS";
        case 0x1: return "CUFFT_INVALID_PLAN";
        case 0x2: return "CUFFT_ALLOC_FAILED";
        case 0x3: return "CUFFT_INVALID_TYPE";
        case 0x4: return "CUFFT_INVALID_VALUE";
        case 0x5: return "CUFFT_INTERNAL_ERROR";
        case 0x6: return "CUFFT_EXEC_FAILED";
        case 0x7: return "CUFFT_SETUP_FAILED";
        case 0x8: return "CUFFT_INVALID_SIZE";
        case 0x9: return "CUFFT_UNALIGNED_DATA";
        case 0xB: return "CUFFT_INVALID_DEVICE";
        case 0xD: return "CUFFT_NO_WORKSPACE";
        case 0xE: return "CUFFT_NOT_IMPLEMENTED";
        case 0x10: return "CUFFT_NOT_SUPPORTED";
        case 0x11: return "CUFFT_MISSING_DEPENDENCY";
        default: return "cufftResult (other)";
    }
}

}  // namespace chela::cuda::cufft
