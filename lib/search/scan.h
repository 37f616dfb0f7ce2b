// Scans of resident blocks into a top-k selection: exact over f32 blocks, approximate over codes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "common/metric.h"
#include "common/status.h"
#include "model/model.h"
#include "search/topk.h"

namespace pocketvec::search {

// One resident f32 block of kernels::kBlockVectors slots, as the store keeps it.
struct BlockView {
    const float *codes;       // block layout (kernels.h), 64-byte aligned
    const int64_t *ids;       // slot -> item id
    const uint64_t *live;     // bitmap, bit s of word s / 64 = slot s holds an item
    const float *inv_norms;   // slot -> 1 / |x| (0 for a zero vector); used by cosine
};

// One resident block of codes in the block scan layout (kernels/block_layout.h), 64-byte aligned.
struct CodeBlockView {
    const uint8_t *codes;
    std::size_t stride;  // bytes of one vector's code
    const int64_t *ids;
    const uint64_t *live;
    const float *norm2;  // slot -> squared norm of the decoded code (l2 scores)
    const float *errs = nullptr;  // slot -> code error (exact mode, RankByBound), else unused
};

// Exact mode (search/exact.h) ranks slots by a lower bound of their exact score instead of the
// estimate: cosine and dot by s - weight * err (weight = |q|), l2 by sqrt(s + qperp2) - err (a
// distance). The errors' other terms are the same for every slot, up to a bounded float slack.
struct RankByBound {
    float weight = 0;
    float qperp2 = 0;
    bool l2 = false;
};

struct Query {
    Metric metric;
    const float *vec;  // dim floats, finite
    std::size_t dim;
    std::size_t k;     // >= 1
    std::size_t threads = 0;  // ranges at most (0 = the scan pool's threads); see scan_parallel
};

// Scores every live slot of `blocks` and returns the best min(k, live) hits, best first, with the
// user-facing scores (cosine: 1 - cos, dot: -dot, l2: Euclidean distance). The scan runs in float;
// the final ranking and scores are computed in double, so the ids are those of an exact oracle.
std::vector<Hit> scan_exact(const Query &query, const std::vector<BlockView> &blocks);

// Approximate scan of codes: the best `keep` hits by model::score, best first, each with its
// position (block * kBlockVectors + slot). L2 scores are returned squared.
// With `bound`, the hits are ranked and scored by RankByBound's key instead (blocks need errs).
std::vector<Hit> scan_codes(const model::Query &query, const std::vector<CodeBlockView> &blocks,
                            std::size_t keep, std::size_t threads,
                            const RankByBound *bound = nullptr);

// The same for several queries in one pass over the blocks: each block is scored for every query
// while it is in cache. out[i] equals scan_codes(queries[i], blocks, keep, threads).
std::vector<std::vector<Hit>> scan_codes_batch(const std::vector<model::Query> &queries,
                                               const std::vector<CodeBlockView> &blocks,
                                               std::size_t keep, std::size_t threads,
                                               const std::vector<RankByBound> *bounds = nullptr);

// |v|^2 in double, over four partial sums added pairwise (the sums exact_score adds).
double squared_norm(const float *v, std::size_t dim);

// The exact user-facing score of x (dim floats) for query q, |q|^2 = qn, in double: cosine
// 1 - cos (1 when either vector is zero), dot -q.x, l2 the Euclidean distance.
double exact_score(Metric metric, const float *q, double qn, const float *x, std::size_t dim);

// Exact rescoring: fetch(hit, x) writes each candidate's original vector (dim floats) into x;
// every candidate is scored in double and the best k are returned, ties by the smaller id, with
// their exact user-facing scores. A failed fetch stops and returns its status.
Status rescore_exact(Metric metric, const float *q, std::size_t dim, std::size_t k,
                     const std::vector<Hit> &candidates,
                     const std::function<Status(const Hit &, float *)> &fetch,
                     std::vector<Hit> *out);

}  // namespace pocketvec::search
