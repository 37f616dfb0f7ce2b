#include "measure.h"

#include "cli.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <random>

namespace pocketvec::tool {

std::string temporary_db_path(std::string_view prefix) {
    namespace fs = std::filesystem;
    std::random_device rd;
    std::mt19937_64 rng(
        (static_cast<uint64_t>(rd()) << 32) ^ rd() ^
        static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
    for (int attempt = 0; attempt < 100; ++attempt) {
        const fs::path p = fs::temp_directory_path() /
                           strprintf("%.*s-%016llx.db", static_cast<int>(prefix.size()),
                                     prefix.data(), static_cast<unsigned long long>(rng()));
        if (!fs::exists(p)) {
            return p.string();
        }
    }
    throw ToolError("cannot find a free temporary file name");
}

double percentile(std::vector<double> values, double p) {
    std::sort(values.begin(), values.end());
    const auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(values.size())));
    return values[std::clamp<size_t>(rank, 1, values.size()) - 1]; // nearest-rank
}

std::string Recall::text() const {
    const uint64_t milli = total == 0 ? 0 : hits * 1000 / total;
    return strprintf("%llu.%03llu", static_cast<unsigned long long>(milli / 1000),
                     static_cast<unsigned long long>(milli % 1000));
}

Recall recall_at_k(const std::vector<int64_t> &found, size_t nq, size_t k,
                   const std::function<int64_t(size_t, size_t)> &truth) {
    Recall r;
    std::vector<int64_t> want(k);
    for (size_t q = 0; q < nq; ++q) {
        for (size_t j = 0; j < k; ++j) {
            want[j] = truth(q, j);
        }
        std::sort(want.begin(), want.end());
        for (size_t j = 0; j < k; ++j) {
            const int64_t id = found[q * k + j];
            if (id >= 0 && std::binary_search(want.begin(), want.end(), id)) {
                ++r.hits;
            }
        }
        r.total += k;
    }
    return r;
}

std::string with_commas(uint64_t v) {
    std::string digits = std::to_string(v);
    for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) {
        digits.insert(static_cast<size_t>(i), ",");
    }
    return digits;
}

} // namespace pocketvec::tool
