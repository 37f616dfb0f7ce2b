#include "search/scan.h"

#include <algorithm>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstring>
#include <exception>
#include <functional>

#include "kernels/block_layout.h"
#include "kernels/kernels.h"
#include "search/thread_pool.h"

namespace pocketvec::search {
namespace {

using kernels::kBlockVectors;

constexpr std::size_t kRescoreMargin = 32;
// Below this much work per range (bytes of codes, scan_parallel) a second thread saves less than
// handing it a range costs.
constexpr std::size_t kWorkPerThread = 2 * 1024 * 1024;
constexpr std::size_t kMaxThreads = 8;

// Cosine is scored as a dot with the unit query, scaled by the item's inverse norm, so the codes
// keep the vector exactly as given.
std::vector<float> unit_query(const Query &q) {
    double norm2 = 0;
    for (std::size_t i = 0; i < q.dim; ++i) {
        norm2 += static_cast<double>(q.vec[i]) * q.vec[i];
    }
    std::vector<float> out(q.vec, q.vec + q.dim);
    if (norm2 > 0) {
        const float inv = static_cast<float>(1.0 / std::sqrt(norm2));
        for (float &x : out) {
            x *= inv;
        }
    } else {
        std::fill(out.begin(), out.end(), 0.0f);  // a zero query: cosine 0 with everything
    }
    return out;
}

bool any_live(const uint64_t *live) {
    for (std::size_t w = 0; w < kBlockVectors / 64; ++w) {
        if (live[w] != 0) {
            return true;
        }
    }
    return false;
}

// How many ranges a scan of n_blocks blocks of `block_bytes` each is split into: at most
// `threads` (0 = the pool's), each with at least kWorkPerThread of work (codes plus the scoring
// pass over the slots).
std::size_t range_count(std::size_t n_blocks, std::size_t block_bytes, std::size_t threads) {
    const std::size_t work = n_blocks * (block_bytes + kBlockVectors * 16);
    const std::size_t cap = std::min(kMaxThreads, work / kWorkPerThread);
    if (cap <= 1 || threads == 1) {
        return 1;  // a small scan never starts the pool's threads
    }
    return std::min(cap, threads == 0 ? pool_threads() : threads);
}

// Runs score_block(block_index, top) over all blocks, split into ranges over the scan pool's
// threads, and merges the selections. The merged set equals one thread's because every selection
// uses one total order. A range is worth a thread only with enough work in it (range_count):
// waking a sleeping worker costs tens of microseconds on the virtual machines we measure on.
// The same for `n_tops` selections at once (one per query of a batch): score_block(bi, tops)
// offers block bi's slots to tops[0 .. n_tops). out[i] is selection i, merged over the ranges.
// Each range also gets its own `State` (default-constructed), passed to score_block with its
// selections: what a range caches about its own selections (SumSelection) stays its own.
template <class State = char, class ScoreBlock>
std::vector<std::vector<Hit>> scan_parallel_many(std::size_t n_blocks, std::size_t block_bytes,
                                                 std::size_t n_tops, std::size_t keep,
                                                 std::size_t threads,
                                                 const ScoreBlock &score_block) {
    const std::size_t ranges = range_count(n_blocks, block_bytes * n_tops, threads);
    std::vector<std::vector<TopK>> tops(ranges, std::vector<TopK>(n_tops, TopK(keep)));
    std::vector<State> states(ranges);
    const std::size_t per = (n_blocks + ranges - 1) / ranges;
    auto scan_range = [&](std::size_t r) {
        for (std::size_t bi = std::min(n_blocks, r * per); bi < std::min(n_blocks, (r + 1) * per);
             ++bi) {
            score_block(bi, tops[r], states[r]);
        }
    };
    std::vector<std::vector<Hit>> out(n_tops);
    if (ranges <= 1) {
        scan_range(0);
        for (std::size_t i = 0; i < n_tops; ++i) {
            out[i] = tops[0][i].take_sorted();
        }
        return out;
    }
    std::vector<std::exception_ptr> errors(ranges);
    pool_run(ranges, [&](std::size_t r) {
        try {
            scan_range(r);
        } catch (...) {
            errors[r] = std::current_exception();
        }
    });
    for (const std::exception_ptr &e : errors) {
        if (e) {
            std::rethrow_exception(e);
        }
    }
    for (std::size_t i = 0; i < n_tops; ++i) {
        TopK merged(keep);
        for (std::size_t r = 0; r < ranges; ++r) {
            for (const Hit &h : tops[r][i].take_sorted()) {
                merged.offer(h.score, h.id, h.pos);
            }
        }
        out[i] = merged.take_sorted();
    }
    return out;
}

template <class ScoreBlock>
std::vector<Hit> scan_parallel(std::size_t n_blocks, std::size_t block_bytes, std::size_t keep,
                               std::size_t threads, const ScoreBlock &score_block) {
    return std::move(scan_parallel_many(n_blocks, block_bytes, 1, keep, threads,
                                        [&](std::size_t bi, std::vector<TopK> &tops, char &) {
                                            score_block(bi, tops[0]);
                                        })[0]);
}

// Calls f(slot) for every live slot of one block, in slot order.
template <class F>
void for_each_live(const uint64_t *live, const F &f) {
    for (std::size_t w = 0; w < kBlockVectors / 64; ++w) {
        for (uint64_t bits = live[w]; bits != 0; bits &= bits - 1) {
            f(w * 64 + static_cast<std::size_t>(__builtin_ctzll(bits)));
        }
    }
}

// Offers the live slots of one block whose scores s[] reach the selection's threshold. The
// candidates are found with the kernels' vector compare against the threshold at the start of the
// block (a looser bound than the current one, so nothing is missed; each is checked again before
// it is offered), so a block none of whose slots beats the current k-th (most blocks, once the
// selection has filled) costs one pass over its 256 scores and no branch per slot.
void offer_scored(const kernels::KernelTable &kt, const float *s, const uint64_t *live,
                  const int64_t *ids, std::size_t bi, TopK &top) {
    uint64_t mask[kBlockVectors / 64];
    kt.mask_le(s, top.threshold(), mask);
    for (std::size_t w = 0; w < kBlockVectors / 64; ++w) {
        for (uint64_t m = mask[w] & live[w]; m != 0; m &= m - 1) {
            const std::size_t slot = w * 64 + static_cast<std::size_t>(__builtin_ctzll(m));
            if (s[slot] <= top.threshold()) {
                top.offer(s[slot], ids[slot], bi * kBlockVectors + slot);
            }
        }
    }
}

// s[v] = model::score(q, ip[v], norm2[v]) for every slot: the metric is chosen once per block so
// the loop is one vectorisable expression.
void code_scores(const model::Query &q, const float *ip, const float *norm2, float *s) {
    if (q.hamming) {
        for (std::size_t v = 0; v < kBlockVectors; ++v) {
            s[v] = -ip[v];
        }
        return;
    }
    const float c = q.constant;
    switch (q.metric) {
    case Metric::cosine:
        for (std::size_t v = 0; v < kBlockVectors; ++v) {
            s[v] = 1.0f - (ip[v] + c);
        }
        break;
    case Metric::dot:
        for (std::size_t v = 0; v < kBlockVectors; ++v) {
            s[v] = -(ip[v] + c);
        }
        break;
    default:
        for (std::size_t v = 0; v < kBlockVectors; ++v) {
            s[v] = c - 2.0f * ip[v] + norm2[v];
        }
        break;
    }
}

// RankByBound's key in place of the scores of one block.
void bound_keys(const RankByBound &r, const float *errs, float *s) {
    if (r.l2) {
        for (std::size_t v = 0; v < kBlockVectors; ++v) {
            s[v] = std::sqrt(std::max(0.0f, s[v] + r.qperp2)) - errs[v];
        }
        return;
    }
    for (std::size_t v = 0; v < kBlockVectors; ++v) {
        s[v] -= r.weight * errs[v];
    }
}

// Selection on a block's raw kernel sums (codec::block_sums) instead of its scores, for the
// queries whose score is one monotone function of the sum, the same for every slot: cosine, dot
// and Hamming over int8, int4, binary and the float codecs (not l2, whose score adds each slot's
// norm, nor rabitq, nor exact mode's bounds). score(sum) = model::score(q, codec's value of sum)
// falls as an int32 or float sum grows and rises with a Hamming distance, because every float
// operation in it is monotone (qscale, scale >= 0). So "score <= threshold" is "sum >= T" (a
// distance: "<= T") for one boundary T, found by bisection over the very expression the
// candidates are scored with whenever the threshold moves (rarely, once the selection is full).
// A block none of whose slots beats the k-th then costs the kernel and one integer or float
// compare pass; the slots the mask passes are scored one by one and offered exactly as
// offer_scored would offer them, so the selection is the same. The boundary and the candidates'
// scores come from the same inline functions (codec::int32_value and the others, model::score),
// so they round alike: this unit is built in ISO C++ mode, where GCC does not contract a * b + c
// into one FMA, and clang contracts within an expression, the same in every copy.
class SumSelection {
public:
    static bool applies(const model::Query &q) {
        const codec::PreparedQuery &pq = q.prepared;
        const codec::SumKind kind = codec::sum_kind(pq.id);
        if (kind == codec::SumKind::none || !(q.hamming || q.metric != Metric::l2)) {
            return false;
        }
        return pq.qscale >= 0 && std::isfinite(pq.qscale) && pq.scale >= 0 &&
               std::isfinite(pq.scale) && std::isfinite(pq.base) && std::isfinite(q.constant);
    }

    // Offers block bi's live slots whose score reaches top's threshold; `sums` its raw sums.
    void offer(const kernels::KernelTable &kt, const model::Query &q, const codec::BlockSums &sums,
               const uint64_t *live, const int64_t *ids, std::size_t bi, TopK &top) {
        const float threshold = top.threshold();
        if (!(seen_ == threshold)) {
            find_boundary(q, threshold);
            seen_ = threshold;
        }
        if (none_) {
            return;
        }
        uint64_t mask[kBlockVectors / 64];
        switch (mask_) {
        case Mask::all: std::copy(live, live + kBlockVectors / 64, mask); break;
        case Mask::le_i32: kt.mask_le_i32(sums.i, int_bound_, mask); break;
        case Mask::gt_i32:
            kt.mask_le_i32(sums.i, int_bound_, mask);
            invert(mask);
            break;
        case Mask::gt_f32:  // also passes NaN sums, whose scores fail the check below
            kt.mask_le(sums.f, float_bound_, mask);
            invert(mask);
            break;
        }
        const codec::PreparedQuery &pq = q.prepared;
        for (std::size_t w = 0; w < kBlockVectors / 64; ++w) {
            for (uint64_t m = mask[w] & live[w]; m != 0; m &= m - 1) {
                const std::size_t slot = w * 64 + static_cast<std::size_t>(__builtin_ctzll(m));
                const float s = model::score(q, codec::sum_value(pq, sums, slot), 0.0f);
                if (s <= top.threshold()) {
                    top.offer(s, ids[slot], bi * kBlockVectors + slot);
                }
            }
        }
    }

private:
    enum class Mask { all, le_i32, gt_i32, gt_f32 };

    static void invert(uint64_t *mask) {
        for (std::size_t w = 0; w < kBlockVectors / 64; ++w) {
            mask[w] = ~mask[w];
        }
    }

    // The smallest x in [lo, hi] with pass(x), for pass false then true as x grows; hi + 1 when
    // none passes.
    template <class Pass> static int64_t first_passing(int64_t lo, int64_t hi, const Pass &pass) {
        ++hi;
        while (lo < hi) {
            const int64_t mid = lo + (hi - lo) / 2;
            if (pass(mid)) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        return lo;
    }

    // A float's place in the order of floats (-inf < ... < -0 < +0 < ... < +inf), and back.
    static int64_t float_key(float x) {
        uint32_t u;
        std::memcpy(&u, &x, sizeof u);
        return (u & 0x80000000u) != 0 ? static_cast<int64_t>(~u) : int64_t{u} | 0x80000000;
    }
    static float key_float(int64_t key) {
        const auto k = static_cast<uint32_t>(key);
        const uint32_t u = (k & 0x80000000u) != 0 ? k & 0x7fffffffu : ~k;
        float x;
        std::memcpy(&x, &u, sizeof x);
        return x;
    }

    void find_boundary(const model::Query &q, float threshold) {
        const codec::PreparedQuery &pq = q.prepared;
        none_ = false;
        switch (codec::sum_kind(pq.id)) {
        case codec::SumKind::int32: {
            const int64_t t = first_passing(INT32_MIN, INT32_MAX, [&](int64_t x) {
                const float v = codec::int32_value(pq, static_cast<int32_t>(x));
                return model::score(q, v, 0.0f) <= threshold;
            });
            none_ = t > INT32_MAX;
            mask_ = t == INT32_MIN ? Mask::all : Mask::gt_i32;
            int_bound_ = static_cast<int32_t>(t - 1);  // sum > t - 1
            break;
        }
        case codec::SumKind::hamming: {
            // Distances are at most dim; the first failing one bounds the passing ones.
            const int64_t t = first_passing(0, INT32_MAX, [&](int64_t h) {
                const float v = codec::hamming_value(pq, static_cast<uint32_t>(h));
                return !(model::score(q, v, 0.0f) <= threshold);
            });
            none_ = t == 0;
            mask_ = t > INT32_MAX ? Mask::all : Mask::le_i32;
            int_bound_ = static_cast<int32_t>(t - 1);
            break;
        }
        case codec::SumKind::float32: {
            const int64_t lo = float_key(-__builtin_huge_valf());
            const int64_t hi = float_key(__builtin_huge_valf());
            const int64_t t = first_passing(lo, hi, [&](int64_t key) {
                const float v = codec::float32_value(pq, key_float(key));
                return model::score(q, v, 0.0f) <= threshold;
            });
            none_ = t > hi;
            // -0 and +0 score alike, so t is never +0's key and t - 1 a float below t's. A bound
            // below a normal float's magnitude is lowered to -FLT_MIN, which passes more slots,
            // so that a caller's denormals-are-zero mode cannot turn it into a tighter one.
            mask_ = t == lo ? Mask::all : Mask::gt_f32;
            float_bound_ = t == lo ? 0.0f : key_float(t - 1);
            if (std::fabs(float_bound_) < FLT_MIN) {
                float_bound_ = -FLT_MIN;
            }
            break;
        }
        case codec::SumKind::none: std::abort();  // applies() is false for these
        }
    }

    float seen_ = __builtin_nanf("");  // the threshold the boundary is for; NaN: none yet
    bool none_ = false;                // no sum reaches it
    Mask mask_ = Mask::all;
    int32_t int_bound_ = 0;
    float float_bound_ = 0;
};

// One SumSelection per query of a batch, for one range of blocks.
struct SumSelections {
    std::vector<SumSelection> of_query;
};

}  // namespace

namespace {

// sum_i f(q_i, x_i) in double over four interleaved partial sums (independent additions, so the
// loop is not one chain of dependent adds), added pairwise at the end.
template <class Term>
double sum4(const float *q, const float *x, std::size_t dim, const Term &term) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    std::size_t i = 0;
    for (; i + 4 <= dim; i += 4) {
        s0 += term(q[i], x[i]);
        s1 += term(q[i + 1], x[i + 1]);
        s2 += term(q[i + 2], x[i + 2]);
        s3 += term(q[i + 3], x[i + 3]);
    }
    for (; i < dim; ++i) {
        s0 += term(q[i], x[i]);
    }
    return (s0 + s1) + (s2 + s3);
}

// q.x and x.x in one pass over x, each over four partial sums added as sum4 adds them (the same
// bits as two sum4 calls, for half the loads).
void dot_and_norm(const float *q, const float *x, std::size_t dim, double *dot, double *xx) {
    double d[4] = {0, 0, 0, 0}, n[4] = {0, 0, 0, 0};
    std::size_t i = 0;
    for (; i + 4 <= dim; i += 4) {
        for (std::size_t j = 0; j < 4; ++j) {
            const double xv = x[i + j];
            d[j] += static_cast<double>(q[i + j]) * xv;
            n[j] += xv * xv;
        }
    }
    for (; i < dim; ++i) {
        const double xv = x[i];
        d[0] += static_cast<double>(q[i]) * xv;
        n[0] += xv * xv;
    }
    *dot = (d[0] + d[1]) + (d[2] + d[3]);
    *xx = (n[0] + n[1]) + (n[2] + n[3]);
}

}  // namespace

double squared_norm(const float *v, std::size_t dim) {
    return sum4(v, v, dim, [](double a, double b) { return a * b; });
}

// Only the sums the metric needs: rescoring scores every candidate this way.
double exact_score(Metric metric, const float *q, double qn, const float *x, std::size_t dim) {
    auto dot = [](double a, double b) { return a * b; };
    switch (metric) {
    case Metric::cosine: {
        double d, xn;
        dot_and_norm(q, x, dim, &d, &xn);
        return qn > 0 && xn > 0 ? 1 - d / std::sqrt(qn * xn) : 1.0;
    }
    case Metric::dot: return -sum4(q, x, dim, dot);
    default:
        return std::sqrt(sum4(q, x, dim, [](double a, double b) { return (a - b) * (a - b); }));
    }
}

Status rescore_exact(Metric metric, const float *q, std::size_t dim, std::size_t k,
                     const std::vector<Hit> &candidates,
                     const std::function<Status(const Hit &, float *)> &fetch,
                     std::vector<Hit> *out) {
    double qn = 0;
    for (std::size_t i = 0; i < dim; ++i) {
        qn += static_cast<double>(q[i]) * q[i];
    }
    std::vector<float> x(dim);
    std::vector<std::pair<double, Hit>> scored;
    scored.reserve(candidates.size());
    for (const Hit &h : candidates) {
        PVEC_FORWARD_IF_ERROR(fetch(h, x.data()));
        scored.emplace_back(exact_score(metric, q, qn, x.data(), dim), h);
    }
    std::sort(scored.begin(), scored.end(), [](const auto &a, const auto &b) {
        return a.first < b.first || (a.first == b.first && a.second.id < b.second.id);
    });
    out->clear();
    for (std::size_t i = 0; i < std::min(k, scored.size()); ++i) {
        Hit h = scored[i].second;
        h.score = static_cast<float>(scored[i].first);
        out->push_back(h);
    }
    return Status::ok();
}

std::vector<Hit> scan_exact(const Query &query, const std::vector<BlockView> &blocks) {
    if (query.k == 0) {
        return {};
    }
    const kernels::KernelTable &kt = kernels::active();
    std::vector<float> unit;
    const float *qv = query.vec;
    if (query.metric == Metric::cosine) {
        unit = unit_query(query);
        qv = unit.data();
    }
    auto block_kernel = query.metric == Metric::l2 ? kt.l2sq_f32_block : kt.dot_f32_block;
    const Metric metric = query.metric;

    // The float scan rounds each sum; items whose true scores are closer than that rounding may
    // come out in the wrong order. A first pass keeps a margin of extra candidates; if the last of
    // them is still within the rounding bound of the k-th, a second pass collects every item
    // within that bound (near-duplicates can be many), and the final ranking is done in double.
    const std::size_t keep = query.k + std::max<std::size_t>(query.k, kRescoreMargin);
    auto float_score = [&](const BlockView &b, const float *raw, std::size_t s) {
        switch (metric) {
        case Metric::cosine: return 1.0f - raw[s] * b.inv_norms[s];
        case Metric::dot: return -raw[s];
        default: return raw[s];
        }
    };
    // float_score for every slot, the metric chosen once per block.
    auto float_scores = [&](const BlockView &b, const float *raw, float *out) {
        switch (metric) {
        case Metric::cosine:
            for (std::size_t v = 0; v < kBlockVectors; ++v) {
                out[v] = 1.0f - raw[v] * b.inv_norms[v];
            }
            break;
        case Metric::dot:
            for (std::size_t v = 0; v < kBlockVectors; ++v) {
                out[v] = -raw[v];
            }
            break;
        default:
            std::copy(raw, raw + kBlockVectors, out);
            break;
        }
    };
    auto hits = scan_parallel(blocks.size(), query.dim * kBlockVectors * sizeof(float), keep,
                              query.threads, [&](std::size_t bi, TopK &top) {
        const BlockView &b = blocks[bi];
        if (!any_live(b.live)) {
            return;
        }
        alignas(64) float raw[kBlockVectors];
        block_kernel(qv, b.codes, query.dim, raw,
                     bi + 1 < blocks.size() ? blocks[bi + 1].codes : nullptr);
        alignas(64) float scores[kBlockVectors];
        float_scores(b, raw, scores);
        offer_scored(kt, scores, b.live, b.ids, bi, top);
    });
    if (hits.size() >= keep) {
        // |float sum - exact| <= (dim + a few) * 2^-24 * sum |q_i x_i| for the kernels' sums of
        // products (any summation order); doubled for the query's own rounding and slack.
        const double delta = (static_cast<double>(query.dim) + 8.0) * 0x1p-23;
        double bound = 0;  // absolute bound on a score's error (cosine, dot)
        if (metric == Metric::cosine) {
            bound = 2.0 * delta + 0x1p-22;  // |unit q| = 1, |x| / |x| = 1
        } else if (metric == Metric::dot) {
            double qn = 0, min_inv = 0;
            for (std::size_t i = 0; i < query.dim; ++i) {
                qn += static_cast<double>(query.vec[i]) * query.vec[i];
            }
            for (const BlockView &b : blocks) {
                for_each_live(b.live, [&](std::size_t v) {
                    if (b.inv_norms[v] > 0 && (min_inv == 0 || b.inv_norms[v] < min_inv)) {
                        min_inv = b.inv_norms[v];
                    }
                });
            }
            bound = min_inv > 0 ? 2.0 * delta * std::sqrt(qn) / min_inv : 0.0;
        }
        const double kth = hits[query.k - 1].score;
        // L2 scores are squared distances: a relative bound (differences and squares round too).
        const double limit = metric == Metric::l2
                                 ? kth * (1 + 2 * delta) / (1 - 2 * delta) + 1e-30
                                 : kth + 2 * bound;
        if (hits.back().score <= limit) {
            hits.clear();
            for (std::size_t bi = 0; bi < blocks.size(); ++bi) {
                const BlockView &b = blocks[bi];
                if (!any_live(b.live)) {
                    continue;
                }
                alignas(64) float raw[kBlockVectors];
                block_kernel(qv, b.codes, query.dim, raw,
                             bi + 1 < blocks.size() ? blocks[bi + 1].codes : nullptr);
                for_each_live(b.live, [&](std::size_t s) {
                    const float v = float_score(b, raw, s);
                    if (v <= limit) {
                        hits.push_back(Hit{v, b.ids[s], bi * kBlockVectors + s});
                    }
                });
            }
        }
    }
    // The candidates' exact vectors are the resident f32 codes themselves.
    std::vector<Hit> out;
    (void)rescore_exact(query.metric, query.vec, query.dim, query.k, hits,
                        [&](const Hit &h, float *x) {
                            const float *codes =
                                blocks[h.pos / kBlockVectors].codes + h.pos % kBlockVectors;
                            for (std::size_t g = 0; g < query.dim; ++g) {
                                x[g] = codes[g * kBlockVectors];
                            }
                            return Status::ok();
                        },
                        &out);
    return out;
}

std::vector<Hit> scan_codes(const model::Query &query, const std::vector<CodeBlockView> &blocks,
                            std::size_t keep, std::size_t threads, const RankByBound *bound) {
    if (bound != nullptr) {
        const std::vector<RankByBound> bounds{*bound};
        return std::move(scan_codes_batch({query}, blocks, keep, threads, &bounds)[0]);
    }
    return std::move(scan_codes_batch({query}, blocks, keep, threads)[0]);
}

std::vector<std::vector<Hit>> scan_codes_batch(const std::vector<model::Query> &queries,
                                               const std::vector<CodeBlockView> &blocks,
                                               std::size_t keep, std::size_t threads,
                                               const std::vector<RankByBound> *bounds) {
    const std::size_t nq = queries.size();
    if (keep == 0 || nq == 0) {
        return std::vector<std::vector<Hit>>(nq);
    }
    const kernels::KernelTable &kt = kernels::active();
    const std::size_t block_bytes = blocks.empty() ? 0 : kernels::block_bytes(blocks[0].stride);
    // Every query scores a block while it is in cache: the work grows with the queries, the
    // memory traffic does not.
    std::vector<bool> on_sums(nq);
    for (std::size_t qi = 0; qi < nq; ++qi) {
        on_sums[qi] = bounds == nullptr && SumSelection::applies(queries[qi]);
    }
    return scan_parallel_many<SumSelections>(
        blocks.size(), block_bytes, nq, keep, threads,
        [&](std::size_t bi, std::vector<TopK> &tops, SumSelections &sel) {
            const CodeBlockView &b = blocks[bi];
            if (!any_live(b.live)) {
                return;
            }
            sel.of_query.resize(nq);
            // The first query reads the block from memory: it reads the next one's first rows
            // ahead.
            const uint8_t *next = bi + 1 < blocks.size() ? blocks[bi + 1].codes : nullptr;
            for (std::size_t qi = 0; qi < nq; ++qi) {
                const model::Query &q = queries[qi];
                if (on_sums[qi]) {
                    codec::BlockSums sums;
                    codec::block_sums(q.prepared, b.codes, &sums, kt, qi == 0 ? next : nullptr);
                    sel.of_query[qi].offer(kt, q, sums, b.live, b.ids, bi, tops[qi]);
                    continue;
                }
                alignas(64) float ip[kBlockVectors];
                alignas(64) float scores[kBlockVectors];
                codec::dot_block(q.prepared, b.codes, ip, kt, qi == 0 ? next : nullptr);
                code_scores(q, ip, b.norm2, scores);
                if (bounds != nullptr) {
                    bound_keys((*bounds)[qi], b.errs, scores);
                }
                offer_scored(kt, scores, b.live, b.ids, bi, tops[qi]);
            }
        });
}

}  // namespace pocketvec::search
