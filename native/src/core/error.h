// Status + thread-local message: the only way errors leave libchela.
//
// Inside the library, code throws chela::Error (status + message); every C entry point runs its
// body through guard(), which converts Error, std::bad_alloc and anything else into a status and
// the thread-local message. No exception ever crosses the C boundary.
#pragma once

#include <chela/chela.h>

#include <new>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace chela {

class Error : public std::runtime_error {
public:
    Error(chela_status status, std::string message)
        : std::runtime_error(std::move(message)), status_(status) {}
    chela_status status() const { return status_; }

private:
    chela_status status_;
};

// Builds a message from pieces: fail(CHELA_ERR_SHAPE, "q: expected rank 3, got ", r).
template <typename... Parts>
[[noreturn]] void fail(chela_status status, const Parts&... parts) {
    std::ostringstream os;
    (os << ... << parts);
    throw Error(status, os.str());
}

void set_last_error(const std::string& message);
void clear_last_error();

// Runs `body` (returning void) and maps any exception to a status with a message.
template <typename Body>
chela_status guard(Body&& body) noexcept {
    try {
        body();
        return CHELA_OK;
    } catch (const Error& e) {
        set_last_error(e.what());
        return e.status();
    } catch (const std::bad_alloc&) {
        set_last_error("out of memory");
        return CHELA_ERR_OUT_OF_MEMORY;
    } catch (const std::exception& e) {
        set_last_error(std::string("internal error: ") + e.what());
        return CHELA_ERR_INTERNAL;
    } catch (...) {
        set_last_error("internal error: unknown exception");
        return CHELA_ERR_INTERNAL;
    }
}

}  // namespace chela
