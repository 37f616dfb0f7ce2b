#include "search/scan.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <thread>

#include "kernels/kernels.h"

namespace pocketvec::search {
namespace {

using kernels::kBlockVectors;

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

constexpr std::size_t kRescoreMargin = 32;
// Below this many blocks per thread (64 x 256 vectors) starting a thread costs more than it saves.
constexpr std::size_t kBlocksPerThread = 64;
constexpr std::size_t kMaxThreads = 8;

// Scores candidates in double from the resident codes and keeps the best query.k, ties by id.
std::vector<Hit> rescore_exact(const Query &query, const std::vector<BlockView> &blocks,
                               std::vector<Hit> candidates) {
    double qn = 0;
    for (std::size_t i = 0; i < query.dim; ++i) {
        qn += static_cast<double>(query.vec[i]) * query.vec[i];
    }
    std::vector<std::pair<double, Hit>> scored;
    scored.reserve(candidates.size());
    for (const Hit &h : candidates) {
        const float *codes = blocks[h.pos / kBlockVectors].codes + h.pos % kBlockVectors;
        double dot = 0, l2 = 0, xn = 0;
        for (std::size_t g = 0; g < query.dim; ++g) {
            const double x = codes[g * kBlockVectors], q = query.vec[g];
            dot += q * x;
            l2 += (q - x) * (q - x);
            xn += x * x;
        }
        double score;
        switch (query.metric) {
        case Metric::cosine: score = qn > 0 && xn > 0 ? 1 - dot / std::sqrt(qn * xn) : 1.0; break;
        case Metric::dot: score = -dot; break;
        default: score = std::sqrt(l2); break;
        }
        scored.emplace_back(score, h);
    }
    std::sort(scored.begin(), scored.end(), [](const auto &a, const auto &b) {
        return a.first < b.first || (a.first == b.first && a.second.id < b.second.id);
    });
    std::vector<Hit> out;
    for (std::size_t i = 0; i < std::min(query.k, scored.size()); ++i) {
        Hit h = scored[i].second;
        h.score = static_cast<float>(scored[i].first);
        out.push_back(h);
    }
    return out;
}

}  // namespace

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

    // The float scan rounds each sum (about 1e-7 relative); neighbours closer than that may swap.
    // So it keeps a margin of extra candidates, and the final ranking is recomputed in double.
    const std::size_t keep = query.k + std::max<std::size_t>(query.k, kRescoreMargin);
    auto scan_range = [&](std::size_t first, std::size_t last, TopK &top) {
        alignas(64) float raw[kBlockVectors];
        for (std::size_t bi = first; bi < last; ++bi) {
            const BlockView &b = blocks[bi];
            bool any = false;
            for (std::size_t w = 0; w < kBlockVectors / 64; ++w) {
                any |= b.live[w] != 0;
            }
            if (!any) {
                continue;
            }
            block_kernel(qv, b.codes, query.dim, raw);
            for (std::size_t w = 0; w < kBlockVectors / 64; ++w) {
                for (uint64_t bits = b.live[w]; bits != 0; bits &= bits - 1) {
                    const std::size_t s = w * 64 + static_cast<std::size_t>(__builtin_ctzll(bits));
                    float score;
                    switch (query.metric) {
                    case Metric::cosine: score = 1.0f - raw[s] * b.inv_norms[s]; break;
                    case Metric::dot: score = -raw[s]; break;
                    default: score = raw[s]; break;
                    }
                    if (score <= top.threshold()) {
                        top.offer(score, b.ids[s], bi * kBlockVectors + s);
                    }
                }
            }
        }
    };

    // Threads split the blocks into ranges and their selections are merged; the merged set is the
    // same as one thread's because every selection uses the same total order.
    std::size_t threads = query.threads != 0 ? query.threads
                                             : std::max(1u, std::thread::hardware_concurrency());
    threads = std::min({threads, kMaxThreads, blocks.size() / kBlocksPerThread});
    if (threads <= 1) {
        TopK top(keep);
        scan_range(0, blocks.size(), top);
        return rescore_exact(query, blocks, top.take_sorted());
    }
    std::vector<TopK> tops(threads, TopK(keep));
    std::vector<std::thread> workers;
    const std::size_t per = (blocks.size() + threads - 1) / threads;
    for (std::size_t t = 1; t < threads; ++t) {
        workers.emplace_back(scan_range, t * per, std::min(blocks.size(), (t + 1) * per),
                             std::ref(tops[t]));
    }
    scan_range(0, std::min(blocks.size(), per), tops[0]);
    for (std::thread &w : workers) {
        w.join();
    }
    TopK merged(keep);
    for (TopK &t : tops) {
        for (const Hit &h : t.take_sorted()) {
            merged.offer(h.score, h.id, h.pos);
        }
    }
    return rescore_exact(query, blocks, merged.take_sorted());
}

}  // namespace pocketvec::search
