// Exact brute-force ground truth for the demo, written independently of the library (plain loops,
// products summed in float over 16 dimensions, then in double) so that the recall it reports
// checks the library rather than itself.
#pragma once

#include "readers.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pocketvec::tool {

// The k nearest base rows of each query under `metric` (PVEC_METRIC_*), nearest first, ties
// broken by the smaller row: queries.rows x k row numbers, row-major. Requires k <= base.rows.
// Cosine treats a zero vector as having cosine 0 with anything, as the library documents.
std::vector<int64_t> exact_top_k(const Matrix &base, const Matrix &queries, uint32_t metric,
                                 size_t k, unsigned threads);

} // namespace pocketvec::tool
