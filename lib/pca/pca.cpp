#include "pca/pca.h"

#include "common/le_bytes.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

namespace pocketvec::pca {

namespace {

constexpr uint8_t kMagic[4] = {'P', 'V', 'P', 'C'};
constexpr uint32_t kVersion = 2;
constexpr uint32_t kFlagRotated = 1;
constexpr uint32_t kFlagStructured = 2;
constexpr std::size_t kLanes = 8;
constexpr Eigen::Index kCovarianceBlock = 2048;

// A standard normal draw from 53-bit uniforms (Box-Muller). std::normal_distribution is not
// specified bit for bit, so it would make a seed mean different rotations on different platforms.
double gaussian(std::mt19937_64 &rng) {
    constexpr double kTwoPi = 6.283185307179586476925286766559;
    const double u1 = (static_cast<double>(rng() >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
    const double u2 = static_cast<double>(rng() >> 11) * 0x1.0p-53;          // [0, 1)
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2);
}

// A uniformly distributed random orthogonal k x k matrix: QR of a Gaussian matrix, with Q's
// columns multiplied by the signs of R's diagonal (without that, Q is not uniform).
Eigen::MatrixXd random_rotation_matrix(std::size_t k, uint64_t seed) {
    std::mt19937_64 rng(seed);
    Eigen::MatrixXd g(k, k);
    for (Eigen::Index c = 0; c < g.cols(); ++c) {
        for (Eigen::Index r = 0; r < g.rows(); ++r) {
            g(r, c) = gaussian(rng);
        }
    }
    Eigen::HouseholderQR<Eigen::MatrixXd> qr(g);
    Eigen::MatrixXd q = qr.householderQ() * Eigen::MatrixXd::Identity(g.rows(), g.cols());
    const Eigen::MatrixXd r = qr.matrixQR();
    for (Eigen::Index c = 0; c < q.cols(); ++c) {
        if (r(c, c) < 0) {
            q.col(c) = -q.col(c);
        }
    }
    return q;
}

// sum over i < n of a[i] * b[i], in kLanes independent lanes so the compiler can vectorise it.
template <class B>
inline float lane_dot(const float *a, std::size_t n, B b) {
    float acc[kLanes] = {};
    std::size_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        for (std::size_t k = 0; k < kLanes; ++k) {
            acc[k] += a[i + k] * b(i + k);
        }
    }
    float s = 0.0f;
    for (; i < n; ++i) {
        s += a[i] * b(i);
    }
    for (std::size_t k = 0; k < kLanes; ++k) {
        s += acc[k];
    }
    return s;
}

// --- structured rotation ----------------------------------------------------------------------

std::size_t window(std::size_t d) {
    std::size_t w = 1;
    while (2 * w <= d) {
        w *= 2;
    }
    return w;
}

// The sign draws of every round: bit i % 64 of word r * words + i / 64 set = coordinate i of
// round r is negated.
std::vector<uint64_t> sign_words(uint64_t seed, std::size_t d) {
    std::mt19937_64 rng(seed);
    std::vector<uint64_t> words(kStructuredRounds * ((d + 63) / 64));
    for (uint64_t &w : words) {
        w = rng();
    }
    return words;
}

// The orthonormal Walsh-Hadamard transform of x[0, w), in place, in double.
void hadamard(double *x, std::size_t w) {
    for (std::size_t h = 1; h < w; h *= 2) {
        for (std::size_t i = 0; i < w; i += 2 * h) {
            for (std::size_t j = i; j < i + h; ++j) {
                const double a = x[j], b = x[j + h];
                x[j] = a + b;
                x[j + h] = a - b;
            }
        }
    }
    const double s = 1.0 / std::sqrt(static_cast<double>(w));
    for (std::size_t i = 0; i < w; ++i) {
        x[i] *= s;
    }
}

// x <- C x (transpose: x <- C^T x) for the structured rotation of `p`.
void structured_apply(const Pca &p, double *x, bool transpose) {
    const std::size_t d = p.in_dim, w = window(d), words = (d + 63) / 64;
    const std::vector<uint64_t> signs = sign_words(p.seed, d);
    auto flip = [&](uint32_t r) {
        for (std::size_t i = 0; i < d; ++i) {
            if ((signs[r * words + i / 64] >> (i % 64)) & 1u) {
                x[i] = -x[i];
            }
        }
    };
    // The butterfly of coordinates i and i + d / 2 (Kac's walk step), when the window leaves
    // some out: symmetric and its own inverse, like the Hadamard transform.
    const std::size_t half = d / 2;
    auto kac = [&] {
        if (w == d) {
            return;
        }
        const double s = std::sqrt(0.5);
        for (std::size_t i = 0; i < half; ++i) {
            const double a = x[i], b = x[i + half];
            x[i] = (a + b) * s;
            x[i + half] = (a - b) * s;
        }
    };
    for (uint32_t k = 0; k < kStructuredRounds; ++k) {
        const uint32_t r = transpose ? kStructuredRounds - 1 - k : k;
        double *win = x + (r % 2 == 0 ? 0 : d - w);
        if (!transpose) {
            flip(r);
            hadamard(win, w);
            kac();
        } else {
            kac();
            hadamard(win, w);
            flip(r);
        }
    }
}

}  // namespace

std::vector<uint8_t> Pca::serialize() const {
    std::vector<uint8_t> out(kMagic, kMagic + 4);
    out.reserve(24 + 4 * (mean.size() + components.size()));
    // Version 1 for everything version 1 could say, so older libraries keep reading it.
    put_u32(&out, structured ? 2u : 1u);
    put_u32(&out, in_dim);
    put_u32(&out, out_dim);
    put_u32(&out, (rotated ? kFlagRotated : 0) | (structured ? kFlagStructured : 0));
    put_f32(&out, explained_variance);
    for (float f : mean) {
        put_f32(&out, f);
    }
    if (structured) {
        put_u32(&out, static_cast<uint32_t>(seed));
        put_u32(&out, static_cast<uint32_t>(seed >> 32));
        return out;
    }
    for (float f : components) {
        put_f32(&out, f);
    }
    return out;
}

Status Pca::deserialize(const uint8_t *data, std::size_t size, Pca *out) {
    PVEC_RETURN_IF(data == nullptr && size != 0, PVEC_MISUSE, "pca: NULL data");
    constexpr std::size_t kHeader = 24;
    PVEC_RETURN_IF(size < 8 || std::memcmp(data, kMagic, 4) != 0, PVEC_CORRUPT, "pca: bad magic");
    const uint32_t version = get_u32(data + 4);
    PVEC_RETURN_IF(version == 0, PVEC_CORRUPT, "pca: bad version");
    PVEC_RETURN_IF(version > kVersion, PVEC_FORMAT, "pca: written by a newer pocketvec");
    PVEC_RETURN_IF(size < kHeader, PVEC_CORRUPT, "pca: truncated");
    Pca p;
    p.in_dim = get_u32(data + 8);
    p.out_dim = get_u32(data + 12);
    const uint32_t flags = get_u32(data + 16);
    p.explained_variance = get_f32(data + 20);
    PVEC_RETURN_IF(p.in_dim == 0 || p.out_dim == 0 || p.out_dim > p.in_dim, PVEC_CORRUPT,
                   "pca: dimensions out of range");
    const uint32_t known = version >= 2 ? (kFlagRotated | kFlagStructured) : kFlagRotated;
    PVEC_RETURN_IF((flags & ~known) != 0, PVEC_CORRUPT, "pca: unknown flags");
    PVEC_RETURN_IF(!(p.explained_variance >= 0.0f && p.explained_variance <= 1.0f), PVEC_CORRUPT,
                   "pca: explained variance out of range");
    p.rotated = (flags & kFlagRotated) != 0;
    p.structured = (flags & kFlagStructured) != 0;
    PVEC_RETURN_IF(p.structured && (p.out_dim != p.in_dim || !p.rotated), PVEC_CORRUPT,
                   "pca: a structured rotation keeps every dimension and is rotated");
    // Version 2 exactly for structured rotations (serialize writes 1 otherwise), so a blob that
    // reads reads back byte for byte.
    PVEC_RETURN_IF(version == 2 && !p.structured, PVEC_CORRUPT,
                   "pca: a version 2 blob without a structured rotation");
    // 64-bit arithmetic: in_dim * (out_dim + 1) * 4 cannot overflow it for u32 dims.
    const uint64_t body = p.structured
                              ? static_cast<uint64_t>(p.in_dim) * 4 + 8
                              : static_cast<uint64_t>(p.in_dim) *
                                    (static_cast<uint64_t>(p.out_dim) + 1) * 4;
    PVEC_RETURN_IF(static_cast<uint64_t>(size - kHeader) != body, PVEC_CORRUPT,
                   "pca: size does not match the dimensions");
    p.mean.resize(p.in_dim);
    const uint8_t *cur = data + kHeader;
    for (float &f : p.mean) {
        f = get_f32(cur);
        cur += 4;
    }
    if (p.structured) {
        p.seed = uint64_t{get_u32(cur)} | uint64_t{get_u32(cur + 4)} << 32;
    } else {
        p.components.resize(static_cast<std::size_t>(p.in_dim) * p.out_dim);
        for (float &f : p.components) {
            f = get_f32(cur);
            cur += 4;
        }
    }
    for (const auto *v : {&p.mean, &p.components}) {
        for (float f : *v) {
            PVEC_RETURN_IF(!std::isfinite(f), PVEC_CORRUPT, "pca: non-finite value");
        }
    }
    *out = std::move(p);
    return Status::ok();
}

Status fit(const float *sample, std::size_t n, std::size_t in_dim, std::size_t out_dim,
           double variance_target, bool random_rotation, uint64_t seed, Pca *out) {
    PVEC_RETURN_IF(out == nullptr || (sample == nullptr && n != 0), PVEC_MISUSE, "pca: NULL argument");
    PVEC_RETURN_IF(n < 2, PVEC_RANGE, "pca: need at least 2 sample vectors");
    PVEC_RETURN_IF(in_dim == 0 || in_dim > 0xffffffffu || out_dim > in_dim, PVEC_RANGE,
                   "pca: dimensions out of range");
    PVEC_RETURN_IF(out_dim == 0 && !(variance_target > 0.0 && variance_target <= 1.0), PVEC_RANGE,
                   "pca: variance target must be in (0, 1]");
    for (std::size_t k = 0; k < n * in_dim; ++k) {
        PVEC_RETURN_IF(!std::isfinite(sample[k]), PVEC_INVALID, "pca: non-finite sample value");
    }
    const auto d = static_cast<Eigen::Index>(in_dim);
    using RowMajorF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const Eigen::Map<const RowMajorF> x(sample, static_cast<Eigen::Index>(n), d);
    const Eigen::RowVectorXd mean = x.cast<double>().colwise().mean();
    // The covariance is accumulated over blocks of rows so that the double copy of the sample
    // stays small (a whole 50,000 x 1,024 sample would take 400 MB as doubles).
    Eigen::MatrixXd cov = Eigen::MatrixXd::Zero(d, d);
    const auto rows = static_cast<Eigen::Index>(n);
    for (Eigen::Index start = 0; start < rows; start += kCovarianceBlock) {
        const Eigen::Index len = std::min(kCovarianceBlock, rows - start);
        const Eigen::MatrixXd centred = x.middleRows(start, len).cast<double>().rowwise() - mean;
        cov.selfadjointView<Eigen::Lower>().rankUpdate(centred.transpose(),
                                                       1.0 / static_cast<double>(n - 1));
    }
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov, Eigen::ComputeEigenvectors);
    PVEC_RETURN_IF(eig.info() != Eigen::Success, PVEC_ERROR, "pca: eigen decomposition failed");

    // Eigen returns ascending eigenvalues; rank them descending. Round-off can make the smallest
    // slightly negative; they count as zero variance.
    const Eigen::VectorXd values = eig.eigenvalues().reverse().cwiseMax(0.0);
    const double total = values.sum();
    std::size_t k = out_dim;
    if (k == 0) {
        k = in_dim;
        double acc = 0.0;
        for (std::size_t i = 0; i < in_dim; ++i) {
            acc += values(static_cast<Eigen::Index>(i));
            if (total <= 0.0 || acc >= variance_target * total * (1.0 - 1e-12)) {
                k = i + 1;
                break;
            }
        }
    }
    const auto kk = static_cast<Eigen::Index>(k);
    // Rows are components: the last k eigenvectors, largest eigenvalue first.
    Eigen::MatrixXd comps = eig.eigenvectors().rightCols(kk).rowwise().reverse().transpose();
    for (Eigen::Index r = 0; r < kk; ++r) {
        Eigen::Index at;
        comps.row(r).cwiseAbs().maxCoeff(&at);
        if (comps(r, at) < 0) {
            comps.row(r) = -comps.row(r);
        }
    }
    if (random_rotation) {
        comps = random_rotation_matrix(k, seed) * comps;
    }

    Pca p;
    p.in_dim = static_cast<uint32_t>(in_dim);
    p.out_dim = static_cast<uint32_t>(k);
    p.rotated = random_rotation;
    p.explained_variance =
        total > 0.0 ? static_cast<float>(std::min(1.0, values.head(kk).sum() / total)) : 1.0f;
    p.mean.resize(in_dim);
    for (std::size_t i = 0; i < in_dim; ++i) {
        p.mean[i] = static_cast<float>(mean(static_cast<Eigen::Index>(i)));
    }
    p.components.resize(k * in_dim);
    for (std::size_t r = 0; r < k; ++r) {
        for (std::size_t c = 0; c < in_dim; ++c) {
            p.components[r * in_dim + c] =
                static_cast<float>(comps(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)));
        }
    }
    *out = std::move(p);
    return Status::ok();
}

Status fit_rotation(const float *sample, std::size_t n, std::size_t in_dim, uint64_t seed,
                    Pca *out) {
    PVEC_RETURN_IF(out == nullptr || (sample == nullptr && n != 0), PVEC_MISUSE,
                   "rotation: NULL argument");
    PVEC_RETURN_IF(n < 1, PVEC_RANGE, "rotation: need at least 1 sample vector");
    PVEC_RETURN_IF(in_dim == 0 || in_dim > 0xffffffffu, PVEC_RANGE,
                   "rotation: dimension out of range");
    std::vector<double> mean(in_dim, 0.0);
    for (std::size_t j = 0; j < n; ++j) {
        for (std::size_t i = 0; i < in_dim; ++i) {
            const float v = sample[j * in_dim + i];
            PVEC_RETURN_IF(!std::isfinite(v), PVEC_INVALID, "rotation: non-finite sample value");
            mean[i] += v;
        }
    }
    Pca p;
    p.in_dim = static_cast<uint32_t>(in_dim);
    p.out_dim = static_cast<uint32_t>(in_dim);
    p.rotated = true;
    p.structured = true;
    p.seed = seed;
    p.explained_variance = 1.0f;
    p.mean.resize(in_dim);
    for (std::size_t i = 0; i < in_dim; ++i) {
        p.mean[i] = static_cast<float>(mean[i] / static_cast<double>(n));
    }
    *out = std::move(p);
    return Status::ok();
}

void project(const Pca &pca, const float *x, float *y) {
    if (pca.structured) {
        std::vector<double> t(pca.in_dim);
        for (std::size_t i = 0; i < pca.in_dim; ++i) {
            t[i] = static_cast<double>(x[i]) - pca.mean[i];
        }
        structured_apply(pca, t.data(), false);
        for (std::size_t i = 0; i < pca.in_dim; ++i) {
            y[i] = static_cast<float>(t[i]);
        }
        return;
    }
    // The centring is recomputed per row rather than held in a scratch buffer: no allocation per
    // call, and centring before multiplying keeps the precision that C x - C mean would lose.
    const float *m = pca.mean.data();
    for (std::size_t r = 0; r < pca.out_dim; ++r) {
        y[r] = lane_dot(pca.components.data() + r * pca.in_dim, pca.in_dim,
                        [&](std::size_t i) { return x[i] - m[i]; });
    }
}

void project_direction(const Pca &pca, const float *q, float *y) {
    if (pca.structured) {
        std::vector<double> t(q, q + pca.in_dim);
        structured_apply(pca, t.data(), false);
        for (std::size_t i = 0; i < pca.in_dim; ++i) {
            y[i] = static_cast<float>(t[i]);
        }
        return;
    }
    for (std::size_t r = 0; r < pca.out_dim; ++r) {
        y[r] = lane_dot(pca.components.data() + r * pca.in_dim, pca.in_dim,
                        [&](std::size_t i) { return q[i]; });
    }
}

float mean_dot(const Pca &pca, const float *q) {
    double s = 0.0;
    for (std::size_t i = 0; i < pca.in_dim; ++i) {
        s += static_cast<double>(q[i]) * pca.mean[i];
    }
    return static_cast<float>(s);
}

void back_project(const Pca &pca, const float *y, float *x) {
    if (pca.structured) {
        std::vector<double> t(y, y + pca.out_dim);
        structured_apply(pca, t.data(), true);
        for (std::size_t i = 0; i < pca.in_dim; ++i) {
            x[i] = static_cast<float>(pca.mean[i] + t[i]);
        }
        return;
    }
    for (std::size_t i = 0; i < pca.in_dim; ++i) {
        x[i] = pca.mean[i];
    }
    for (std::size_t r = 0; r < pca.out_dim; ++r) {
        const float *row = &pca.components[r * pca.in_dim];
        for (std::size_t i = 0; i < pca.in_dim; ++i) {
            x[i] += row[i] * y[r];
        }
    }
}

}  // namespace pocketvec::pca
