// PCA: recovers a known principal subspace, chooses the size by explained variance, keeps L2
// distances when nothing is dropped, the rotation is orthogonal and seeded, and the blob round-trips.
#include "pca/pca.h"

#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace pocketvec::pca {
namespace {

// Data x = mean + U diag(sigma) z, with U a fixed random orthogonal basis: the covariance is
// U diag(sigma^2) U^T, so its top-k eigenvectors are the first k columns of U.
struct Synthetic {
    Eigen::MatrixXd basis;  // in_dim x in_dim, orthonormal columns
    std::vector<float> x;   // n x in_dim
};

Synthetic make_data(std::size_t n, std::size_t d, const std::vector<double> &sigma, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> g(0.0, 1.0);
    Eigen::MatrixXd a(d, d);
    for (Eigen::Index i = 0; i < a.size(); ++i) {
        a(i) = g(rng);
    }
    Synthetic s;
    s.basis = Eigen::HouseholderQR<Eigen::MatrixXd>(a).householderQ();
    s.x.resize(n * d);
    Eigen::VectorXd z(d);
    for (std::size_t j = 0; j < n; ++j) {
        for (std::size_t i = 0; i < d; ++i) {
            z(static_cast<Eigen::Index>(i)) = sigma[i] * g(rng);
        }
        const Eigen::VectorXd v = s.basis * z;
        for (std::size_t i = 0; i < d; ++i) {
            s.x[j * d + i] = static_cast<float>(v(static_cast<Eigen::Index>(i)) + 3.0 + 0.5 * i);
        }
    }
    return s;
}

Eigen::MatrixXd components_of(const Pca &p) {
    Eigen::MatrixXd c(p.out_dim, p.in_dim);
    for (uint32_t r = 0; r < p.out_dim; ++r) {
        for (uint32_t i = 0; i < p.in_dim; ++i) {
            c(r, i) = p.components[r * p.in_dim + i];
        }
    }
    return c;
}

const std::vector<double> kSigma = {10, 8, 6, 5, 0.5, 0.4, 0.3, 0.3, 0.2, 0.2, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05};

TEST(Pca, RecoversPrincipalSubspace) {
    const std::size_t n = 5000, d = kSigma.size();
    const Synthetic s = make_data(n, d, kSigma, 1);
    for (bool rotate : {false, true}) {
        Pca p;
        ASSERT_TRUE(fit(s.x.data(), n, d, 4, 0.0, rotate, 9, &p).is_ok());
        ASSERT_EQ(p.in_dim, d);
        ASSERT_EQ(p.out_dim, 4u);
        EXPECT_EQ(p.rotated, rotate);
        const Eigen::MatrixXd c = components_of(p);
        // Orthonormal rows.
        EXPECT_LT((c * c.transpose() - Eigen::MatrixXd::Identity(4, 4)).norm(), 1e-5);
        // The rows span the top-4 true directions: their projection onto that span keeps all of
        // their length (sum of squared cosines of the principal angles = 4).
        const Eigen::MatrixXd overlap = c * s.basis.leftCols(4);
        EXPECT_NEAR(overlap.squaredNorm(), 4.0, 0.02);
        // Explained variance: (100+64+36+25) / total.
        double total = 0;
        for (double v : kSigma) {
            total += v * v;
        }
        EXPECT_NEAR(p.explained_variance, 225.0 / total, 0.01);
        // Mean is the sample mean (the data are offset by 3 + 0.5 i).
        for (std::size_t i = 0; i < d; ++i) {
            EXPECT_NEAR(p.mean[i], 3.0 + 0.5 * i, 0.4);
        }
        if (!rotate) {
            // Without rotation each component is one true direction, largest first.
            for (int r = 0; r < 4; ++r) {
                EXPECT_NEAR(std::fabs(overlap(r, r)), 1.0, 0.02) << r;
            }
        }
    }
}

TEST(Pca, ChoosesSizeByExplainedVariance) {
    const std::size_t n = 5000, d = kSigma.size();
    const Synthetic s = make_data(n, d, kSigma, 2);
    Pca p;
    // The top four directions hold ~99.7% of the variance, the top three ~88.6%.
    ASSERT_TRUE(fit(s.x.data(), n, d, 0, 0.95, false, 0, &p).is_ok());
    EXPECT_EQ(p.out_dim, 4u);
    EXPECT_GE(p.explained_variance, 0.95f);
    ASSERT_TRUE(fit(s.x.data(), n, d, 0, 0.80, false, 0, &p).is_ok());
    EXPECT_EQ(p.out_dim, 3u);
    ASSERT_TRUE(fit(s.x.data(), n, d, 0, 1.0, false, 0, &p).is_ok());
    EXPECT_EQ(p.out_dim, d);
}

TEST(Pca, FullProjectionPreservesDistancesAndDot) {
    const std::size_t n = 800, d = kSigma.size();
    const Synthetic s = make_data(n, d, kSigma, 3);
    for (bool rotate : {false, true}) {
        Pca p;
        ASSERT_TRUE(fit(s.x.data(), n, d, d, 0.0, rotate, 5, &p).is_ok());
        const Eigen::MatrixXd c = components_of(p);
        EXPECT_LT((c * c.transpose() - Eigen::MatrixXd::Identity(d, d)).norm(), 1e-5);
        std::vector<float> ya(d), yb(d), qa(d);
        for (std::size_t j = 0; j + 1 < 100; ++j) {
            const float *a = &s.x[j * d];
            const float *b = &s.x[(j + 1) * d];
            project(p, a, ya.data());
            project(p, b, yb.data());
            double orig = 0, proj = 0, dot = 0, pdot = 0;
            for (std::size_t i = 0; i < d; ++i) {
                orig += (a[i] - b[i]) * static_cast<double>(a[i] - b[i]);
                proj += (ya[i] - yb[i]) * static_cast<double>(ya[i] - yb[i]);
                dot += static_cast<double>(a[i]) * b[i];
            }
            EXPECT_NEAR(std::sqrt(proj), std::sqrt(orig), 1e-4 * std::sqrt(orig) + 1e-4);
            // q.x = q.mean + (C q).(C (x - mean)) when C is complete.
            project_direction(p, a, qa.data());
            for (std::size_t i = 0; i < d; ++i) {
                pdot += static_cast<double>(qa[i]) * yb[i];
            }
            EXPECT_NEAR(mean_dot(p, a) + pdot, dot, 1e-4 * std::fabs(dot));
        }
    }
}

TEST(Pca, TruncatedProjectionIsTheDistanceWithinTheSubspace) {
    const std::size_t n = 2000, d = kSigma.size();
    const Synthetic s = make_data(n, d, kSigma, 4);
    Pca p;
    ASSERT_TRUE(fit(s.x.data(), n, d, 4, 0.0, true, 5, &p).is_ok());
    const Eigen::MatrixXd c = components_of(p);
    std::vector<float> ya(4), yb(4);
    for (std::size_t j = 0; j + 1 < 50; ++j) {
        const float *a = &s.x[j * d];
        const float *b = &s.x[(j + 1) * d];
        project(p, a, ya.data());
        project(p, b, yb.data());
        Eigen::VectorXd diff(d);
        for (std::size_t i = 0; i < d; ++i) {
            diff(static_cast<Eigen::Index>(i)) = static_cast<double>(a[i]) - b[i];
        }
        double proj = 0;
        for (int i = 0; i < 4; ++i) {
            proj += (ya[i] - yb[i]) * static_cast<double>(ya[i] - yb[i]);
        }
        EXPECT_NEAR(proj, (c * diff).squaredNorm(), 1e-4 * proj + 1e-6);
        EXPECT_LE(proj, diff.squaredNorm() * (1 + 1e-6));
    }
}

TEST(Pca, RotationIsSeededAndDeterministic) {
    const std::size_t n = 1000, d = kSigma.size();
    const Synthetic s = make_data(n, d, kSigma, 5);
    Pca a, b, c, plain;
    ASSERT_TRUE(fit(s.x.data(), n, d, 8, 0.0, true, 42, &a).is_ok());
    ASSERT_TRUE(fit(s.x.data(), n, d, 8, 0.0, true, 42, &b).is_ok());
    ASSERT_TRUE(fit(s.x.data(), n, d, 8, 0.0, true, 43, &c).is_ok());
    ASSERT_TRUE(fit(s.x.data(), n, d, 8, 0.0, false, 42, &plain).is_ok());
    EXPECT_EQ(a.components, b.components);
    EXPECT_EQ(a.mean, b.mean);
    EXPECT_NE(a.components, c.components);
    // The rotation R = C_rot P^T is orthogonal and maps the plain components onto the rotated ones.
    const Eigen::MatrixXd r = components_of(a) * components_of(plain).transpose();
    EXPECT_LT((r * r.transpose() - Eigen::MatrixXd::Identity(8, 8)).norm(), 1e-5);
    EXPECT_LT((r * components_of(plain) - components_of(a)).norm(), 1e-5);
    // It spreads the variance: no output dimension keeps the first component's 100 alone.
    std::vector<double> var(8, 0.0);
    std::vector<float> y(8);
    for (std::size_t j = 0; j < n; ++j) {
        project(a, &s.x[j * d], y.data());
        for (int i = 0; i < 8; ++i) {
            var[i] += static_cast<double>(y[i]) * y[i] / n;
        }
    }
    EXPECT_LT(*std::max_element(var.begin(), var.end()), 90.0);
}

TEST(Pca, RejectsBadInput) {
    const float x[6] = {1, 2, 3, 4, 5, 6};
    Pca p;
    EXPECT_EQ(fit(x, 1, 3, 2, 0.0, false, 0, &p).code(), PVEC_RANGE);
    EXPECT_EQ(fit(x, 2, 0, 0, 0.9, false, 0, &p).code(), PVEC_RANGE);
    EXPECT_EQ(fit(x, 2, 3, 4, 0.0, false, 0, &p).code(), PVEC_RANGE);
    EXPECT_EQ(fit(x, 2, 3, 0, 1.5, false, 0, &p).code(), PVEC_RANGE);
    EXPECT_EQ(fit(x, 2, 3, 0, 0.0, false, 0, &p).code(), PVEC_RANGE);
    const float bad[6] = {1, 2, 3, 4, std::numeric_limits<float>::infinity(), 6};
    EXPECT_EQ(fit(bad, 2, 3, 2, 0.0, false, 0, &p).code(), PVEC_INVALID);
    // Degenerate but valid: identical vectors have no variance.
    const float same[6] = {1, 2, 3, 1, 2, 3};
    ASSERT_TRUE(fit(same, 2, 3, 0, 0.9, false, 0, &p).is_ok());
    EXPECT_EQ(p.out_dim, 1u);
}

TEST(Pca, BlobRoundTripAndDamage) {
    const std::size_t n = 300, d = 7;
    const Synthetic s = make_data(n, d, {5, 4, 3, 2, 1, 0.5, 0.1}, 6);
    Pca p;
    ASSERT_TRUE(fit(s.x.data(), n, d, 3, 0.0, true, 1, &p).is_ok());
    const std::vector<uint8_t> blob = p.serialize();
    EXPECT_EQ(blob.size(), 24u + 4u * d * 4u);
    Pca back;
    ASSERT_TRUE(Pca::deserialize(blob.data(), blob.size(), &back).is_ok());
    EXPECT_EQ(back.in_dim, p.in_dim);
    EXPECT_EQ(back.out_dim, p.out_dim);
    EXPECT_EQ(back.rotated, p.rotated);
    EXPECT_EQ(back.explained_variance, p.explained_variance);
    EXPECT_EQ(back.mean, p.mean);
    EXPECT_EQ(back.components, p.components);
    for (std::size_t len = 0; len < blob.size(); ++len) {
        EXPECT_EQ(Pca::deserialize(blob.data(), len, &back).code(), PVEC_CORRUPT) << len;
    }
    std::vector<uint8_t> longer = blob;
    longer.push_back(0);
    EXPECT_EQ(Pca::deserialize(longer.data(), longer.size(), &back).code(), PVEC_CORRUPT);
    // Any flipped header bit but the rotated flag is refused (values' bits are the model
    // checksum's job).
    for (std::size_t byte = 0; byte < 20; ++byte) {
        for (int bit = 0; bit < 8; ++bit) {
            if (byte == 16 && bit == 0) {
                continue;
            }
            std::vector<uint8_t> bad = blob;
            bad[byte] = static_cast<uint8_t>(bad[byte] ^ (1u << bit));
            const Status st = Pca::deserialize(bad.data(), bad.size(), &back);
            EXPECT_TRUE(st.code() == PVEC_CORRUPT || st.code() == PVEC_FORMAT) << byte << ":" << bit;
        }
    }
    EXPECT_EQ(blob[4], 1u);  // version 1 while nothing needs version 2
    std::vector<uint8_t> as_v2 = blob;
    as_v2[4] = 2;  // ... and a version 2 blob must hold what needs it (a structured rotation)
    EXPECT_EQ(Pca::deserialize(as_v2.data(), as_v2.size(), &back).code(), PVEC_CORRUPT);
    std::vector<uint8_t> newer = blob;
    newer[4] = 3;
    EXPECT_EQ(Pca::deserialize(newer.data(), newer.size(), &back).code(), PVEC_FORMAT);
    std::vector<uint8_t> nan = blob;
    const float q = std::numeric_limits<float>::quiet_NaN();
    std::memcpy(&nan[24], &q, 4);
    EXPECT_EQ(Pca::deserialize(nan.data(), nan.size(), &back).code(), PVEC_CORRUPT);
}

// fit_rotation: the structured rotation is orthogonal (C C^T = I, back_project inverts project,
// inner products of centred vectors are kept), seeded, spreads every coordinate over all outputs,
// and costs 8 bytes in the blob.
TEST(Pca, StructuredRotationIsOrthogonalSeededAndSpreads) {
    for (std::size_t d : {1u, 3u, 7u, 64u, 100u, 129u, 384u, 512u}) {
        SCOPED_TRACE("d " + std::to_string(d));
        const std::size_t n = 50;
        std::mt19937_64 rng(d);
        std::normal_distribution<float> g(0.0f, 1.0f);
        std::vector<float> x(n * d);
        for (float &v : x) {
            v = 3.0f + g(rng);
        }
        Pca p;
        ASSERT_TRUE(fit_rotation(x.data(), n, d, 11, &p).is_ok());
        EXPECT_TRUE(p.structured && p.rotated);
        EXPECT_EQ(p.out_dim, d);
        EXPECT_TRUE(p.components.empty());
        for (std::size_t i = 0; i < d; ++i) {
            double m = 0;
            for (std::size_t j = 0; j < n; ++j) {
                m += x[j * d + i];
            }
            EXPECT_NEAR(p.mean[i], m / n, 1e-5);
        }
        // Column i of C is project_direction(e_i).
        Eigen::MatrixXd c(d, d);
        std::vector<float> e(d, 0.0f), y(d);
        double max_entry = 0;
        std::size_t zeros = 0;
        for (std::size_t i = 0; i < d; ++i) {
            e[i] = 1.0f;
            project_direction(p, e.data(), y.data());
            e[i] = 0.0f;
            for (std::size_t r = 0; r < d; ++r) {
                c(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(i)) = y[r];
                max_entry = std::max(max_entry, std::fabs(double(y[r])));
                zeros += std::fabs(y[r]) < 1e-9f;
            }
        }
        EXPECT_LT((c * c.transpose() - Eigen::MatrixXd::Identity(d, d)).norm(), 1e-5 * d);
        if (d >= 64) {
            // Spread: a coordinate reaches nearly every output (sums of +-1 / w can cancel
            // exactly: measured at most 1.1% zero entries, at d = 64), and none keeps a quarter of its
            // energy in one (measured: at most 0.47; a dense Haar rotation's largest of d^2
            // entries is about sqrt(4 ln d / d)).
            EXPECT_LT(zeros, d * d / 50);
            EXPECT_LT(max_entry, 0.5);
        }
        // project centres then rotates; back_project undoes it.
        std::vector<float> back(d);
        project(p, &x[0], y.data());
        for (std::size_t r = 0; r < d; ++r) {
            double want = 0;
            for (std::size_t i = 0; i < d; ++i) {
                want += c(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(i)) *
                        (double(x[i]) - p.mean[i]);
            }
            EXPECT_NEAR(y[r], want, 1e-4);
        }
        back_project(p, y.data(), back.data());
        for (std::size_t i = 0; i < d; ++i) {
            EXPECT_NEAR(back[i], x[i], 1e-4);
        }
        // Seeded.
        Pca same, other;
        ASSERT_TRUE(fit_rotation(x.data(), n, d, 11, &same).is_ok());
        ASSERT_TRUE(fit_rotation(x.data(), n, d, 12, &other).is_ok());
        std::vector<float> ys(d), yo(d);
        project(same, &x[d], ys.data());
        project(other, &x[d], yo.data());
        project(p, &x[d], y.data());
        EXPECT_EQ(ys, y);
        if (d > 1) {
            EXPECT_NE(yo, y);
        }
        // The blob: version 2, the mean and the seed.
        const std::vector<uint8_t> blob = p.serialize();
        EXPECT_EQ(blob.size(), 24u + 4u * d + 8u);
        EXPECT_EQ(blob[4], 2u);
        Pca rt;
        ASSERT_TRUE(Pca::deserialize(blob.data(), blob.size(), &rt).is_ok());
        EXPECT_EQ(rt.serialize(), blob);
        EXPECT_TRUE(rt.structured);
        EXPECT_EQ(rt.seed, 11u);
        for (std::size_t len = 0; len < blob.size(); ++len) {
            EXPECT_EQ(Pca::deserialize(blob.data(), len, &rt).code(), PVEC_CORRUPT) << len;
        }
        std::vector<uint8_t> v1 = blob;
        v1[4] = 1;  // version 1 has no structured flag
        EXPECT_EQ(Pca::deserialize(v1.data(), v1.size(), &rt).code(), PVEC_CORRUPT);
        std::vector<uint8_t> unrotated = blob;
        unrotated[16] &= 0xfe;  // structured but not rotated
        EXPECT_EQ(Pca::deserialize(unrotated.data(), unrotated.size(), &rt).code(), PVEC_CORRUPT);
    }
    // A structured rotation must keep every dimension.
    Pca p;
    std::vector<float> x(2 * 8, 1.0f);
    ASSERT_TRUE(fit_rotation(x.data(), 2, 8, 1, &p).is_ok());
    std::vector<uint8_t> blob = p.serialize();
    blob[12] = 7;  // out_dim 7 of 8
    EXPECT_EQ(Pca::deserialize(blob.data(), blob.size(), &p).code(), PVEC_CORRUPT);
    EXPECT_EQ(fit_rotation(x.data(), 0, 8, 1, &p).code(), PVEC_RANGE);
    EXPECT_EQ(fit_rotation(x.data(), 2, 0, 1, &p).code(), PVEC_RANGE);
    x[3] = NAN;
    EXPECT_EQ(fit_rotation(x.data(), 2, 8, 1, &p).code(), PVEC_INVALID);
}

}  // namespace
}  // namespace pocketvec::pca
