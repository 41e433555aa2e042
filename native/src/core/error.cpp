#include "core/error.h"

namespace chela {
namespace {
thread_local std::string last_error;
}

void set_last_error(const std::string& message) { last_error = message; }
void clear_last_error() { last_error.clear(); }

}  // namespace chela

extern "C" const char* chela_last_error(void) { return chela::last_error.c_str(); }

extern "C" const char* chela_status_name(int32_t status) {
    switch (status) {
        case CHELA_OK: return "CHELA_OK";
        case CHELA_ERR_INVALID_ARGUMENT: return "CHELA_ERR_INVALID_ARGUMENT";
        case CHELA_ERR_SHAPE: return "CHELA_ERR_SHAPE";
        case CHELA_ERR_DTYPE: return "CHELA_ERR_DTYPE";
        case CHELA_ERR_IO: return "CHELA_ERR_IO";
        case CHELA_ERR_FORMAT: return "CHELA_ERR_FORMAT";
        case CHELA_ERR_UNSUPPORTED: return "CHELA_ERR_UNSUPPORTED";
        case CHELA_ERR_OUT_OF_MEMORY: return "CHELA_ERR_OUT_OF_MEMORY";
        case CHELA_ERR_DEVICE: return "CHELA_ERR_DEVICE";
        case CHELA_ERR_INTERNAL: return "CHELA_ERR_INTERNAL";
        default: return "CHELA_ERR_UNKNOWN";
    }
}
