// Developer switches of the CUDA backend, read from the environment on every call (A/B runs and the
// GPU tests force a kernel path through them).
#pragma once

#include "core/error.h"

#include <cstdlib>
#include <initializer_list>
#include <string>

namespace chela::cuda {

// "" when `name` is unset or empty, else its value, which must be one of `allowed`: any other value is
// INVALID_ARGUMENT with a message naming the variable and the allowed values.
inline std::string env_switch(const char* name, std::initializer_list<const char*> allowed) {
    const char* env = std::getenv(name);
    if (env == nullptr || *env == '\0') return {};
    const std::string value(env);
    std::string choices;
    for (const char* a : allowed) {
        if (value == a) return value;
        choices += (choices.empty() ? "'" : ", '") + std::string(a) + "'";
    }
    fail(CHELA_ERR_INVALID_ARGUMENT, name, ": '", value, "' is none of ", choices);
}

}  // namespace chela::cuda
