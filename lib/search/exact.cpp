#include "search/exact.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "search/scan.h"

namespace pocketvec::search {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// Raw vectors fetched per round after the first k: small, because every round may lower the k-th
// exact score and so end the search sooner; large enough that one round's fixed cost (a B-tree
// descent per vector either way) is not paid per vector.
constexpr std::size_t kRoundVectors = 16;

bool by_score_then_id(const std::pair<double, int64_t> &a, const std::pair<double, int64_t> &b) {
    return a.first < b.first || (a.first == b.first && a.second < b.second);
}

// The k-th best of `pool` (+inf when it holds fewer than k).
double kth_of(std::vector<std::pair<double, int64_t>> pool, std::size_t k) {
    if (k == 0 || pool.size() < k) {
        return kInf;
    }
    std::nth_element(pool.begin(), pool.begin() + static_cast<std::ptrdiff_t>(k - 1), pool.end(),
                     by_score_then_id);
    return pool[k - 1].first;
}

}  // namespace

bool codes_bound_scores(const model::Model &m) {
    switch (m.codec.id) {
    case codec::CodecId::f32:
    case codec::CodecId::f16:
    case codec::CodecId::bf16:
    case codec::CodecId::e4m3:
    case codec::CodecId::e5m2:
    case codec::CodecId::int8:
    case codec::CodecId::int4: return true;
    default: return false;  // binary: a Hamming rank, no estimate of an inner product
    }
}

ScoreBounds score_bounds(const model::Model &m, const model::Query &mq, const float *q) {
    ScoreBounds b;
    b.metric = m.metric;
    const codec::PreparedQuery &pq = mq.prepared;
    double q2 = 0;
    for (uint32_t i = 0; i < m.dim; ++i) {
        q2 += double(q[i]) * q[i];
    }
    b.qnorm = m.metric == Metric::cosine ? 1.0 : std::sqrt(q2);
    // |q'| <= |q| for cosine and dot (C has orthonormal rows); l2 scores |q'|^2 as the constant.
    b.qcode = m.metric == Metric::l2 ? std::sqrt(std::max(0.0, double(mq.constant))) : b.qnorm;
    const codec::QueryRounding qr = codec::query_rounding(pq);
    b.delta = qr.rounding;
    const double int_magnitude = qr.magnitude;
    b.magnitude = 1.0 + std::fabs(double(pq.base)) + std::fabs(double(mq.constant)) + int_magnitude;
    b.gamma = (double(m.dim) + double(m.code_dim()) + 64.0) * 0x1p-23;
    if (m.pca) {
        double mean2 = 0, qm2 = 0;
        for (uint32_t i = 0; i < m.dim; ++i) {
            mean2 += double(m.pca->mean[i]) * m.pca->mean[i];
        }
        b.mean_norm = std::sqrt(mean2);
        b.pca_factor = 1.0 + std::sqrt(double(m.code_dim()));
        if (m.metric == Metric::l2) {
            for (uint32_t i = 0; i < m.dim; ++i) {
                const double d = double(q[i]) - m.pca->mean[i];
                qm2 += d * d;
            }
            b.qperp2 = std::max(0.0, qm2 - double(mq.constant));
            // The projection's own rounding moves |q'|^2, and so qperp2, by this much at most.
            b.magnitude += b.pca_factor * qm2;
        }
    }
    return b;
}

RankByBound rank_by_bound(const ScoreBounds &b) {
    RankByBound r;
    r.l2 = b.metric == Metric::l2;
    r.weight = static_cast<float>(b.qnorm);
    r.qperp2 = static_cast<float>(b.qperp2);
    return r;
}

double lower_from_key(const ScoreBounds &b, double key, double err, double xnorm, double norm2) {
    const double x = xnorm + b.mean_norm + err;
    const double phi = b.gamma * (b.magnitude + b.qcode * b.pca_factor * x);
    // The key's own float rounding: a few ulps of its terms, within gamma of them.
    const double key_rounding = b.gamma * (std::fabs(key) + 2.0 * b.qnorm * err + 1.0);
    if (b.metric != Metric::l2) {
        return key - b.delta - phi - key_rounding;  // key = s - |q| err
    }
    // key = sqrt(s + qperp2) - err, and sqrt(a) - sqrt(a - eps) <= sqrt(eps).
    const double eps = 2.0 * (b.delta + phi) + b.gamma * (b.qcode * b.qcode + norm2);
    return key - std::sqrt(eps) - key_rounding;
}

Status rescore_until_exact(Metric metric, const float *q, std::size_t dim, std::size_t k,
                           std::vector<Bounded> cands,
                           const std::function<Status(const std::vector<Hit> &, float *)> &fetch,
                           ExactScores *done, std::vector<Hit> *out, double *kth) {
    std::sort(cands.begin(), cands.end(), [](const Bounded &a, const Bounded &b) {
        return a.lo < b.lo || (a.lo == b.lo && a.hit.id < b.hit.id);
    });
    double qn = 0;
    for (std::size_t i = 0; i < dim; ++i) {
        qn += double(q[i]) * q[i];
    }
    std::vector<std::pair<double, int64_t>> pool;  // (exact score, id) of everything scored
    pool.reserve(done->size() + k);
    for (const auto &[id, score] : *done) {
        pool.emplace_back(score, id);
    }
    double t = kth_of(pool, k);
    std::vector<Hit> batch;
    std::vector<float> x;
    std::size_t i = 0;
    while (i < cands.size()) {
        // Candidates with lo == t may tie the k-th with a smaller id: only lo > t ends the search.
        if (pool.size() >= k && cands[i].lo > t) {
            break;
        }
        batch.clear();
        const std::size_t want = pool.size() < k ? k - pool.size() : kRoundVectors;
        for (; i < cands.size() && batch.size() < want; ++i) {
            if (pool.size() + batch.size() >= k && cands[i].lo > t) {
                break;
            }
            if (done->count(cands[i].hit.id) == 0) {
                batch.push_back(cands[i].hit);
            }
        }
        if (batch.empty()) {
            continue;
        }
        x.resize(batch.size() * dim);
        PVEC_FORWARD_IF_ERROR(fetch(batch, x.data()));
        for (std::size_t j = 0; j < batch.size(); ++j) {
            const double s = exact_score(metric, q, qn, x.data() + j * dim, dim);
            done->emplace(batch[j].id, s);
            pool.emplace_back(s, batch[j].id);
        }
        t = kth_of(pool, k);
    }
    std::sort(pool.begin(), pool.end(), by_score_then_id);
    out->clear();
    for (std::size_t j = 0; j < std::min(k, pool.size()); ++j) {
        out->push_back(Hit{static_cast<float>(pool[j].first), pool[j].second, 0});
    }
    *kth = kth_of(pool, k);
    return Status::ok();
}

}  // namespace pocketvec::search
