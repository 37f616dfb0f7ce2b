// Metrics and the conversion between internal scan scores and the scores users see.
#pragma once

#include <cstdint>

namespace pocketvec {

// Values equal the public PVEC_METRIC_* codes and are stored in the file.
enum class Metric : uint32_t { cosine = 1, dot = 2, l2 = 3 };

inline bool metric_from_code(uint32_t code, Metric *out) {
    if (code < 1 || code > 3) {
        return false;
    }
    *out = static_cast<Metric>(code);
    return true;
}

inline const char *metric_name(Metric m) {
    switch (m) {
    case Metric::cosine: return "cosine";
    case Metric::dot: return "dot";
    case Metric::l2: return "l2";
    }
    return "?";
}

}  // namespace pocketvec
