// Exact search from codes (PVEC_RESCORE_EXACT): a code scan's score turned into an interval that
// holds the exact score, and rescoring in order of the intervals' lower ends until no candidate
// left can beat the k-th exact score. The result is the exact top k by the scores the raw tier
// gives, with no oversampling factor to guess.
//
// Why the interval holds (docs/search.md, "Exact search from codes"): a slot's code stands for a
// vector a (model::reconstruct in exact arithmetic), and its err is at least |x_u - a| (x_u the raw
// vector, unit length under cosine; model::code_error). For any query q, |q.x_u - q.a| <= |q| err.
// The scan computes q'.a only up to the rounding of the int8-quantized query of int8 / int4 codes
// (at most `delta` for any code: c_max * sum_j |w_j - qscale * qint_j|) and float rounding (at most
// `gamma` times the magnitudes involved). L2 adds the triangle inequality: | |q - x| - |q - a| | <=
// err, and with PCA the part of q - mean outside the kept subspace, which the scan does not see.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <unordered_map>
#include <vector>

#include "common/metric.h"
#include "common/status.h"
#include "model/model.h"
#include "search/scan.h"
#include "search/topk.h"

namespace pocketvec::search {

// Per query: everything the intervals need that does not depend on the slot.
struct ScoreBounds {
    Metric metric = Metric::cosine;
    double qnorm = 0;       // |q|: 1 under cosine (the unit query)
    double qcode = 0;       // |q'|, the query in code space
    double delta = 0;       // integer-query rounding, for any code (0 for float codecs)
    double gamma = 0;       // relative float error of one scan score
    double magnitude = 0;   // slot-independent magnitudes of one scan score: |base|, |q.mean|, ...
    double mean_norm = 0;   // |PCA mean| (0 without PCA)
    double pca_factor = 1;  // 1 + sqrt(code_dim) with PCA: the rounding of C q
    double qperp2 = 0;      // l2 with PCA: |q - mean|^2 - |C (q - mean)|^2
};

// False when the codec's scan scores are no estimate of an inner product (binary: a Hamming rank).
bool codes_bound_scores(const model::Model &m);

ScoreBounds score_bounds(const model::Model &m, const model::Query &mq, const float *q);

// The scan key of exact mode (RankByBound, search/scan.h) for these bounds.
RankByBound rank_by_bound(const ScoreBounds &b);

// The lower end of the interval of a slot whose RankByBound key is `key` (as the scan computed it
// in float), with code error `err`, raw-vector norm at most `xnorm` and decoded squared norm
// `norm2`. Never larger for a larger err, xnorm or norm2, so the largest of a collection give a
// lower bound for every slot whose key is at least `key`.
double lower_from_key(const ScoreBounds &b, double key, double err, double xnorm, double norm2);

// One candidate of the scan with the lower end of its interval.
struct Bounded {
    Hit hit;
    double lo;
};

// Exact scores already computed in one search (id -> score), so a widened scan never reads a raw
// vector twice.
using ExactScores = std::unordered_map<int64_t, double>;

// Rescoring until exact: `cands` are taken in order of `lo`; while fewer than k are scored, or the
// next lo is at most the k-th exact score so far (ties may go to a smaller id), the next batch is
// fetched (fetch(hits, x): the raw vectors of `hits`, dim floats each, into x) and scored in
// double. `done` keeps the scores of earlier rounds. out: the best k of everything scored, ties by
// the smaller id, with exact scores; *kth: the k-th exact score (+inf when fewer than k).
Status rescore_until_exact(Metric metric, const float *q, std::size_t dim, std::size_t k,
                           std::vector<Bounded> cands,
                           const std::function<Status(const std::vector<Hit> &, float *)> &fetch,
                           ExactScores *done, std::vector<Hit> *out, double *kth);

}  // namespace pocketvec::search
