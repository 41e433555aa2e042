// Developer switches of the CUDA backend, read from the environment on every call (A/B runs and the
// GPU tests force a kernel path through them).
#pragma once

#include "core/error.h"

#include <cerrno>
#include <cstdint>
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

// The non-negative integer in `name`, or `fallback` when it is unset or empty; anything else is
// INVALID_ARGUMENT naming the variable.
inline int64_t env_count(const char* name, int64_t fallback) {
    const char* env = std::getenv(name);
    if (env == nullptr || *env == '\0') return fallback;
    char* end = nullptr;
    errno = 0;
    const long long parsed = std::strtoll(env, &end, 10);
    if (errno != 0 || end == env || *end != '\0' || parsed < 0)
        fail(CHELA_ERR_INVALID_ARGUMENT, name, ": '", env, "' is not a non-negative integer");
    return parsed;
}

}  // namespace chela::cuda
