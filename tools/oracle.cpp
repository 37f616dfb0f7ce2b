#include "oracle.h"

#include "cli.h"

#include <algorithm>
#include <cmath>
#include <pocketvec/pocketvec.h>

namespace pocketvec::tool {
namespace {

// Asks the compiler to vectorise a loop with independent lanes (CMake adds -fopenmp-simd, which
// enables the pragma only: no OpenMP runtime). GCC does not vectorise these loops by itself.
#if defined(PVEC_TOOL_OPENMP_SIMD)
#define PVEC_SIMD_LOOP _Pragma("omp simd")
#else
#define PVEC_SIMD_LOOP
#endif

// Rows scored together, stored dimension-major: one query component times 32 consecutive floats
// is a plain vectorisable loop with 32 independent sums, no horizontal reduction (the layout
// DESIGN.md describes for the library's chunks). Measured here at 2x the row-by-row loop.
constexpr size_t kGroup = 32;
// Products are summed in float over 16 dimensions, then moved into double accumulators: float
// speed, and the error of a 16-term float sum (~1e-7 relative) is all that remains.
constexpr size_t kFlush = 16;
// Base rows per block: a block (about 256 KiB) stays in the core's L2 cache while every query of
// the thread passes over it, so main memory streams the base once per thread, not once per query.
constexpr size_t kBlockBytes = 256 * 1024;

enum class Kernel { kDot, kL2 };

// out[r] = q . x_r (kDot) or |q - x_r|^2 (kL2, from differences: the norm identity would cancel
// catastrophically for near neighbours) for the kGroup rows of `cols` (cols[i * kGroup + r]).
template <Kernel kKernel>
void score_group(const float *q, const float *cols, size_t dim, double *out) {
    double sum[kGroup] = {};
    for (size_t i0 = 0; i0 < dim; i0 += kFlush) {
        const size_t i1 = std::min(dim, i0 + kFlush);
        float part[kGroup] = {};
        for (size_t i = i0; i < i1; ++i) {
            const float v = q[i];
            const float *col = cols + i * kGroup;
            PVEC_SIMD_LOOP
            for (size_t r = 0; r < kGroup; ++r) {
                if constexpr (kKernel == Kernel::kDot) {
                    part[r] += v * col[r];
                } else {
                    const float d = v - col[r];
                    part[r] += d * d;
                }
            }
        }
        for (size_t r = 0; r < kGroup; ++r) {
            sum[r] += static_cast<double>(part[r]);
        }
    }
    std::copy(sum, sum + kGroup, out);
}

// Rows [b0, b1) of `m`, dimension-major in groups of kGroup, zero-padded to whole groups.
void transpose_block(const Matrix &m, size_t b0, size_t b1, std::vector<float> &cols) {
    const size_t dim = m.dim;
    const size_t groups = (b1 - b0 + kGroup - 1) / kGroup;
    cols.assign(groups * kGroup * dim, 0.0f);
    for (size_t r = b0; r < b1; ++r) {
        const size_t g = (r - b0) / kGroup;
        const size_t lane = (r - b0) % kGroup;
        const float *src = m.row(r);
        float *dst = cols.data() + g * kGroup * dim + lane;
        for (size_t i = 0; i < dim; ++i) {
            dst[i * kGroup] = src[i];
        }
    }
}

struct Candidate {
    double score;
    int64_t row;
};

// The k best candidates of one query, kept sorted; rows arrive in increasing order, so a later
// row with an equal score never displaces an earlier one (ties go to the smaller row).
class TopK {
public:
    TopK(Candidate *slots, size_t k) : slots_(slots), k_(k) {}

    void offer(double score, int64_t row) {
        if (size_ == k_) {
            if (!(score < slots_[k_ - 1].score)) {
                return;
            }
            --size_;
        }
        size_t i = size_;
        while (i > 0 && score < slots_[i - 1].score) {
            slots_[i] = slots_[i - 1];
            --i;
        }
        slots_[i] = Candidate{score, row};
        ++size_;
    }

private:
    Candidate *slots_;
    size_t k_;
    size_t size_ = 0;
};

std::vector<double> inverse_norms(const Matrix &m) {
    std::vector<double> inv(m.rows);
    for (size_t r = 0; r < m.rows; ++r) {
        double n2 = 0.0;
        for (size_t i = 0; i < m.dim; ++i) {
            n2 += static_cast<double>(m.row(r)[i]) * m.row(r)[i];
        }
        inv[r] = n2 > 0.0 ? 1.0 / std::sqrt(n2) : 0.0; // zero vector: cosine 0 with anything
    }
    return inv;
}

} // namespace

std::vector<int64_t> exact_top_k(const Matrix &base, const Matrix &queries, uint32_t metric,
                                 size_t k, unsigned threads) {
    const size_t dim = base.dim;
    k = std::min(k, base.rows);
    std::vector<Candidate> slots(queries.rows * k);
    if (k == 0) {
        return {};
    }
    const std::vector<double> base_inv =
        metric == PVEC_METRIC_COSINE ? inverse_norms(base) : std::vector<double>();
    const std::vector<double> query_inv =
        metric == PVEC_METRIC_COSINE ? inverse_norms(queries) : std::vector<double>();
    const size_t block_rows =
        std::max<size_t>(1, kBlockBytes / (dim * sizeof(float)) / kGroup) * kGroup;

    // A query costs base.rows x dim multiply-adds: give a thread at least ~16 M of them.
    const size_t per_query = std::max<size_t>(1, base.rows * dim);
    run_parallel(threads, queries.rows, [&](size_t q_begin, size_t q_end) {
        std::vector<TopK> tops;
        tops.reserve(q_end - q_begin);
        for (size_t q = q_begin; q < q_end; ++q) {
            tops.emplace_back(slots.data() + q * k, k);
        }
        std::vector<float> cols;
        double raw[kGroup];
        for (size_t b0 = 0; b0 < base.rows; b0 += block_rows) {
            const size_t b1 = std::min(base.rows, b0 + block_rows);
            transpose_block(base, b0, b1, cols);
            for (size_t q = q_begin; q < q_end; ++q) {
                const float *qv = queries.row(q);
                TopK &top = tops[q - q_begin];
                for (size_t g0 = b0; g0 < b1; g0 += kGroup) {
                    const float *group = cols.data() + (g0 - b0) * dim;
                    if (metric == PVEC_METRIC_L2) {
                        score_group<Kernel::kL2>(qv, group, dim, raw);
                    } else {
                        score_group<Kernel::kDot>(qv, group, dim, raw);
                    }
                    const size_t g1 = std::min(b1, g0 + kGroup);
                    for (size_t r = g0; r < g1; ++r) {
                        const double v = raw[r - g0];
                        double score;
                        if (metric == PVEC_METRIC_L2) {
                            score = v; // squared distance: same order as the distance
                        } else if (metric == PVEC_METRIC_DOT) {
                            score = -v;
                        } else {
                            score = 1.0 - v * query_inv[q] * base_inv[r];
                        }
                        top.offer(score, static_cast<int64_t>(r));
                    }
                }
            }
        }
    }, std::max<size_t>(1, (size_t{1} << 24) / per_query));

    std::vector<int64_t> rows(queries.rows * k);
    for (size_t i = 0; i < rows.size(); ++i) {
        rows[i] = slots[i].row;
    }
    return rows;
}

} // namespace pocketvec::tool
