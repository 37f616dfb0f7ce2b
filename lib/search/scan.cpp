#include "search/scan.h"

#include <algorithm>
#include <cmath>
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
template <class ScoreBlock>
std::vector<std::vector<Hit>> scan_parallel_many(std::size_t n_blocks, std::size_t block_bytes,
                                                 std::size_t n_tops, std::size_t keep,
                                                 std::size_t threads,
                                                 const ScoreBlock &score_block) {
    const std::size_t ranges = range_count(n_blocks, block_bytes * n_tops, threads);
    std::vector<std::vector<TopK>> tops(ranges, std::vector<TopK>(n_tops, TopK(keep)));
    const std::size_t per = (n_blocks + ranges - 1) / ranges;
    auto scan_range = [&](std::size_t r) {
        for (std::size_t bi = std::min(n_blocks, r * per); bi < std::min(n_blocks, (r + 1) * per);
             ++bi) {
            score_block(bi, tops[r]);
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
                                        [&](std::size_t bi, std::vector<TopK> &tops) {
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

}  // namespace

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
    return scan_parallel_many(blocks.size(), block_bytes, nq, keep, threads,
                              [&](std::size_t bi, std::vector<TopK> &tops) {
                                  const CodeBlockView &b = blocks[bi];
                                  if (!any_live(b.live)) {
                                      return;
                                  }
                                  alignas(64) float ip[kBlockVectors];
                                  alignas(64) float scores[kBlockVectors];
                                  // The first query reads the block from memory: it reads the
                                  // next one's first rows ahead.
                                  const uint8_t *next =
                                      bi + 1 < blocks.size() ? blocks[bi + 1].codes : nullptr;
                                  for (std::size_t qi = 0; qi < nq; ++qi) {
                                      codec::dot_block(queries[qi].prepared, b.codes, ip, kt,
                                                       qi == 0 ? next : nullptr);
                                      code_scores(queries[qi], ip, b.norm2, scores);
                                      if (bounds != nullptr) {
                                          bound_keys((*bounds)[qi], b.errs, scores);
                                      }
                                      offer_scored(kt, scores, b.live, b.ids, bi, tops[qi]);
                                  }
                              });
}

}  // namespace pocketvec::search
