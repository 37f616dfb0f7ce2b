// Exact scan of resident f32 blocks into a top-k selection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/metric.h"
#include "search/topk.h"

namespace pocketvec::search {

// One resident block of kernels::kBlockVectors slots, as the store keeps it.
struct BlockView {
    const float *codes;       // block layout (kernels.h), 64-byte aligned
    const int64_t *ids;       // slot -> item id
    const uint64_t *live;     // bitmap, bit s of word s / 64 = slot s holds an item
    const float *inv_norms;   // slot -> 1 / |x| (0 for a zero vector); used by cosine
};

struct Query {
    Metric metric;
    const float *vec;  // dim floats, finite
    std::size_t dim;
    std::size_t k;     // >= 1
    std::size_t threads = 0;  // 0 = one per hardware thread (large collections only)
};

// Scores every live slot of `blocks` and returns the best min(k, live) hits, best first, with the
// user-facing scores (cosine: 1 - cos, dot: -dot, l2: Euclidean distance). The scan runs in float;
// the final ranking and scores are computed in double, so the ids are those of an exact oracle.
std::vector<Hit> scan_exact(const Query &query, const std::vector<BlockView> &blocks);

}  // namespace pocketvec::search
