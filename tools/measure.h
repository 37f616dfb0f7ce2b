// Measurement helpers shared by `demo` and `eval`: temporary database files, nearest-rank
// percentiles, recall@k counted in integers, and number formatting.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace pocketvec::tool {

// A path in the system's temporary directory, "<prefix>-<random hex>.db", that does not exist yet.
std::string temporary_db_path(std::string_view prefix);

// The nearest-rank p-th percentile (p in [0, 1]) of a non-empty sample.
double percentile(std::vector<double> values, double p);

// Recall is counted in integers and printed truncated to 3 decimals, so "1.000" means that not
// one true neighbour was missed.
struct Recall {
    uint64_t hits = 0;
    uint64_t total = 0;
    std::string text() const;
};

// found: nq x k ids (-1 where fewer were returned); truth(q, j): the j-th true neighbour of q.
Recall recall_at_k(const std::vector<int64_t> &found, size_t nq, size_t k,
                   const std::function<int64_t(size_t, size_t)> &truth);

// 1234567 -> "1,234,567".
std::string with_commas(uint64_t v);

} // namespace pocketvec::tool
