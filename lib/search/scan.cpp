#include "search/scan.h"

#include <algorithm>
#include <cmath>

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

    alignas(64) float raw[kBlockVectors];
    TopK top(query.k);
    for (const BlockView &b : blocks) {
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
                    top.offer(score, b.ids[s]);
                }
            }
        }
    }
    std::vector<Hit> hits = top.take_sorted();
    if (query.metric == Metric::l2) {
        for (Hit &h : hits) {
            h.score = std::sqrt(h.score);
        }
        // sqrt can merge two close scores into one float: restore "equal scores by smaller id".
        std::sort(hits.begin(), hits.end(), better);
    }
    return hits;
}

}  // namespace pocketvec::search
