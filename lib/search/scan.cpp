#include "search/scan.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <functional>
#include <thread>

#include "kernels/block_layout.h"
#include "kernels/kernels.h"

namespace pocketvec::search {
namespace {

using kernels::kBlockVectors;

constexpr std::size_t kRescoreMargin = 32;
// Below this many blocks per thread (64 x 256 vectors) starting a thread costs more than it saves.
constexpr std::size_t kBlocksPerThread = 64;
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

// Runs score_block(block_index, top) over all blocks, split into ranges over threads, and merges
// the selections. The merged set equals one thread's because every selection uses one total order.
template <class ScoreBlock>
std::vector<Hit> scan_parallel(std::size_t n_blocks, std::size_t keep, std::size_t threads,
                               const ScoreBlock &score_block) {
    auto scan_range = [&](std::size_t first, std::size_t last, TopK &top) {
        for (std::size_t bi = first; bi < last; ++bi) {
            score_block(bi, top);
        }
    };
    if (threads == 0) {
        threads = std::max(1u, std::thread::hardware_concurrency());
    }
    threads = std::min({threads, kMaxThreads, n_blocks / kBlocksPerThread});
    if (threads <= 1) {
        TopK top(keep);
        scan_range(0, n_blocks, top);
        return top.take_sorted();
    }
    std::vector<TopK> tops(threads, TopK(keep));
    std::vector<std::exception_ptr> errors(threads);
    std::vector<std::thread> workers;
    workers.reserve(threads);
    // Every started thread is joined on every path, also when this thread's range throws.
    struct Joiner {
        std::vector<std::thread> &workers;
        ~Joiner() {
            for (std::thread &w : workers) {
                if (w.joinable()) {
                    w.join();
                }
            }
        }
    } joiner{workers};
    const std::size_t per = (n_blocks + threads - 1) / threads;
    auto guarded_range = [&](std::size_t first, std::size_t last, std::size_t t) {
        try {
            scan_range(first, last, tops[t]);
        } catch (...) {
            errors[t] = std::current_exception();
        }
    };
    // A thread that cannot be started (no memory, a thread limit) leaves its range to this one:
    // fewer threads, the same results.
    std::size_t started = 1;
    for (std::size_t t = 1; t < threads; ++t, ++started) {
        try {
            workers.emplace_back(guarded_range, t * per, std::min(n_blocks, (t + 1) * per), t);
        } catch (const std::exception &) {
            break;
        }
    }
    scan_range(0, std::min(n_blocks, per), tops[0]);
    for (std::size_t t = started; t < threads; ++t) {
        scan_range(std::min(n_blocks, t * per), std::min(n_blocks, (t + 1) * per), tops[0]);
    }
    for (std::thread &w : workers) {
        w.join();
    }
    for (const std::exception_ptr &e : errors) {
        if (e) {
            std::rethrow_exception(e);
        }
    }
    TopK merged(keep);
    for (TopK &t : tops) {
        for (const Hit &h : t.take_sorted()) {
            merged.offer(h.score, h.id, h.pos);
        }
    }
    return merged.take_sorted();
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

// Offers every live slot of one block, scored by score(slot).
template <class Score>
void offer_live(const uint64_t *live, const int64_t *ids, std::size_t bi, TopK &top,
                const Score &score) {
    for_each_live(live, [&](std::size_t s) {
        const float v = score(s);
        if (v <= top.threshold()) {
            top.offer(v, ids[s], bi * kBlockVectors + s);
        }
    });
}

}  // namespace

namespace {

// The exact user-facing score of x for query q (|q|^2 = qn), in double.
double exact_score(Metric metric, const float *q, double qn, const float *x, std::size_t dim) {
    double dot = 0, l2 = 0, xn = 0;
    for (std::size_t g = 0; g < dim; ++g) {
        const double a = q[g], b = x[g];
        dot += a * b;
        l2 += (a - b) * (a - b);
        xn += b * b;
    }
    switch (metric) {
    case Metric::cosine: return qn > 0 && xn > 0 ? 1 - dot / std::sqrt(qn * xn) : 1.0;
    case Metric::dot: return -dot;
    default: return std::sqrt(l2);
    }
}

}  // namespace

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
    auto hits = scan_parallel(blocks.size(), keep, query.threads, [&](std::size_t bi, TopK &top) {
        const BlockView &b = blocks[bi];
        if (!any_live(b.live)) {
            return;
        }
        alignas(64) float raw[kBlockVectors];
        block_kernel(qv, b.codes, query.dim, raw);
        offer_live(b.live, b.ids, bi, top, [&](std::size_t s) { return float_score(b, raw, s); });
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
                block_kernel(qv, b.codes, query.dim, raw);
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
                            std::size_t keep, std::size_t threads) {
    if (keep == 0) {
        return {};
    }
    return scan_parallel(blocks.size(), keep, threads, [&](std::size_t bi, TopK &top) {
        const CodeBlockView &b = blocks[bi];
        if (!any_live(b.live)) {
            return;
        }
        alignas(64) float ip[kBlockVectors];
        codec::dot_block(query.prepared, b.codes, ip);
        offer_live(b.live, b.ids, bi, top,
                   [&](std::size_t s) { return model::score(query, ip[s], b.norm2[s]); });
    });
}

}  // namespace pocketvec::search
