// A status code plus message, the currency of every internal call; lib/capi/ turns it into the
// public int code and optional errmsg.
#pragma once

#include <string>
#include <utility>

#include "pocketvec/pocketvec.h"

namespace pocketvec {

class [[nodiscard]] Status {
public:
    Status() = default;
    Status(int code, std::string message) : code_(code), message_(std::move(message)) {}

    static Status ok() { return Status(); }

    bool is_ok() const { return code_ == PVEC_OK; }
    int code() const { return code_; }
    const std::string &message() const { return message_; }

private:
    int code_ = PVEC_OK;
    std::string message_;
};

inline Status error(int code, std::string message) { return Status(code, std::move(message)); }

}  // namespace pocketvec

// Returns the status of `expr` from the enclosing function when it is not OK.
#define PVEC_FORWARD_IF_ERROR(expr)                                                                \
    do {                                                                                           \
        ::pocketvec::Status pvec_status_ = (expr);                                                 \
        if (!pvec_status_.is_ok()) {                                                               \
            return pvec_status_;                                                                   \
        }                                                                                          \
    } while (0)

// Returns error(code, message) from the enclosing function when `cond` holds.
#define PVEC_RETURN_IF(cond, code, message)                                                        \
    do {                                                                                           \
        if (cond) {                                                                                \
            return ::pocketvec::error((code), (message));                                          \
        }                                                                                          \
    } while (0)
