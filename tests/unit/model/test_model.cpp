// Models with the rabitq codecs: the full-dimension centring and rotation model::fit adds, the
// rotation forced under PCA, refusals, the estimator's quality per metric (and what centring the
// query buys under cosine), reconstruction, and the blob.
#include "model/model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace pocketvec::model {
namespace {

using codec::CodecId;

// Vectors around a common offset much larger than their spread (as embeddings are), so that
// centring matters: x = offset + noise with a decaying spectrum.
std::vector<float> offset_sample(std::size_t n, std::size_t dim, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::vector<float> offset(dim);
    for (float &o : offset) {
        o = 1.0f + 0.5f * g(rng);
    }
    std::vector<float> x(n * dim);
    for (std::size_t j = 0; j < n; ++j) {
        for (std::size_t i = 0; i < dim; ++i) {
            x[j * dim + i] = offset[i] + 0.4f * g(rng) / std::sqrt(1.0f + 0.05f * i);
        }
    }
    return x;
}

double exact_score(Metric metric, const float *q, const float *x, std::size_t dim) {
    double dot = 0, qq = 0, xx = 0, l2 = 0;
    for (std::size_t i = 0; i < dim; ++i) {
        dot += double(q[i]) * x[i];
        qq += double(q[i]) * q[i];
        xx += double(x[i]) * x[i];
        l2 += (double(q[i]) - x[i]) * (double(q[i]) - x[i]);
    }
    switch (metric) {
    case Metric::cosine: return 1 - dot / std::sqrt(qq * xx);
    case Metric::dot: return -dot;
    default: return l2;  // model::score gives L2 squared
    }
}

// model::score of x's code for q, through the row-major scorer.
double code_score(const Model &m, const Query &q, const float *x) {
    std::vector<uint8_t> code(m.code_bytes());
    encode(m, x, code.data());
    float ip = 0;
    codec::dot_rows(q.prepared, code.data(), 1, &ip);
    return score(q, ip, codec::decoded_norm2(m.codec, code.data()));
}

struct Fit {
    double rms = 0;     // RMS of code score - exact score
    double bias = 0;    // mean of code score - exact score
    double spread = 0;  // standard deviation of the exact scores
    double corr = 0;    // correlation of code and exact scores
};

// Compares code scores with exact ones over queries x items; `uncentred` replaces the cosine
// query by the plain inner-product form (C q, q . mean, nothing from |y|^2), to measure what
// centring the query buys.
Fit compare(const Model &m, const std::vector<float> &items, std::size_t n,
            const std::vector<float> &queries, std::size_t nq, bool uncentred = false) {
    const std::size_t dim = m.dim;
    std::vector<double> a, e;
    for (std::size_t k = 0; k < nq; ++k) {
        const float *q = &queries[k * dim];
        Query pq = prepare_query(m, q);
        if (uncentred) {
            std::vector<float> unit(q, q + dim), y(m.code_dim());
            double n2 = 0;
            for (float v : unit) {
                n2 += double(v) * v;
            }
            for (float &v : unit) {
                v = static_cast<float>(v / std::sqrt(n2));
            }
            pca::project_direction(*m.pca, unit.data(), y.data());
            pq.prepared = codec::prepare_query(m.codec, y.data());
            pq.constant = pca::mean_dot(*m.pca, unit.data());
        }
        for (std::size_t j = 0; j < n; ++j) {
            a.push_back(code_score(m, pq, &items[j * dim]));
            e.push_back(exact_score(m.metric, q, &items[j * dim], dim));
        }
    }
    Fit f;
    double ma = 0, me = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        f.bias += a[i] - e[i];
        f.rms += (a[i] - e[i]) * (a[i] - e[i]);
        ma += a[i];
        me += e[i];
    }
    const double cnt = double(a.size());
    f.bias /= cnt;
    f.rms = std::sqrt(f.rms / cnt);
    ma /= cnt;
    me /= cnt;
    double saa = 0, see = 0, sae = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        saa += (a[i] - ma) * (a[i] - ma);
        see += (e[i] - me) * (e[i] - me);
        sae += (a[i] - ma) * (e[i] - me);
    }
    f.spread = std::sqrt(see / cnt);
    f.corr = sae / std::sqrt(saa * see);
    return f;
}

TEST(Model, RabitqWithoutPcaGetsAFullCentredRotation) {
    const std::size_t n = 400, dim = 40;
    const std::vector<float> x = offset_sample(n, dim, 1);
    for (CodecId id : {CodecId::rabitq, CodecId::rabitq2}) {
        Model m;
        ASSERT_TRUE(fit(x.data(), n, dim, Metric::l2, id, 0, false, 9, &m).is_ok());
        ASSERT_TRUE(m.pca.has_value());
        EXPECT_EQ(m.pca->out_dim, dim);
        EXPECT_TRUE(m.pca->rotated);
        EXPECT_EQ(m.pca_dim(), 0u);  // not a PCA the collection asked for
        EXPECT_EQ(m.code_dim(), dim);
        EXPECT_EQ(m.code_bytes(), id == CodecId::rabitq ? 12u : 20u);
        // The mean is the sample's; the rotation is the structured one (pca tests check it),
        // so the model blob holds no d x d matrix.
        EXPECT_TRUE(m.pca->structured);
        EXPECT_LT(m.serialize().size(), 24u + 8u * dim + 200u);
        for (std::size_t i = 0; i < dim; ++i) {
            double s = 0;
            for (std::size_t j = 0; j < n; ++j) {
                s += x[j * dim + i];
            }
            EXPECT_NEAR(m.pca->mean[i], s / n, 1e-5);
        }
        // Distances survive the rotation exactly (nothing dropped).
        std::vector<float> a(dim), b(dim);
        to_code_space(m, &x[0], a.data());
        to_code_space(m, &x[dim], b.data());
        double got = 0, want = 0;
        for (std::size_t i = 0; i < dim; ++i) {
            got += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
            want += (double(x[i]) - x[dim + i]) * (double(x[i]) - x[dim + i]);
        }
        EXPECT_NEAR(got, want, 1e-4 * want);
        // Seeded: the same seed gives the same model, another seed another rotation.
        Model same, other;
        ASSERT_TRUE(fit(x.data(), n, dim, Metric::l2, id, 0, false, 9, &same).is_ok());
        ASSERT_TRUE(fit(x.data(), n, dim, Metric::l2, id, 0, false, 10, &other).is_ok());
        EXPECT_EQ(same.serialize(), m.serialize());
        EXPECT_NE(other.serialize(), m.serialize());
        // Other codecs without PCA get no rotation.
        Model plain;
        ASSERT_TRUE(fit(x.data(), n, dim, Metric::l2, CodecId::int8, 0, false, 9, &plain).is_ok());
        EXPECT_FALSE(plain.pca.has_value());
    }
}

TEST(Model, RabitqAlwaysRotatesItsPca) {
    const std::size_t n = 400, dim = 40;
    const std::vector<float> x = offset_sample(n, dim, 2);
    Model m;
    ASSERT_TRUE(fit(x.data(), n, dim, Metric::cosine, CodecId::rabitq, 16, false, 9, &m).is_ok());
    ASSERT_TRUE(m.pca.has_value());
    EXPECT_TRUE(m.pca->rotated);
    EXPECT_EQ(m.pca_dim(), 16u);
    EXPECT_EQ(m.code_bytes(), 8u);
    Model i8;
    ASSERT_TRUE(fit(x.data(), n, dim, Metric::cosine, CodecId::int8, 16, false, 9, &i8).is_ok());
    EXPECT_FALSE(i8.pca->rotated);
}

TEST(Model, RabitqRefusesWhatItCannotTrain) {
    const std::vector<float> x = offset_sample(4, 8, 3);
    Model m;
    Status st = fit(x.data(), 1, 8, Metric::l2, CodecId::rabitq, 0, false, 1, &m);
    EXPECT_EQ(st.code(), PVEC_RANGE);
    EXPECT_NE(st.message().find("two vectors"), std::string::npos) << st.message();
    EXPECT_EQ(fit(x.data(), 0, 8, Metric::l2, CodecId::rabitq2, 0, false, 1, &m).code(), PVEC_RANGE);
    // Codes larger than the float32 vectors (8 bytes for one dimension) are refused.
    st = fit(x.data(), 4, 1, Metric::l2, CodecId::rabitq, 0, false, 1, &m);
    EXPECT_EQ(st.code(), PVEC_RANGE);
    EXPECT_NE(st.message().find("larger than the float32"), std::string::npos) << st.message();
    EXPECT_EQ(fit(x.data(), 4, 2, Metric::l2, CodecId::rabitq2, 0, false, 1, &m).code(), PVEC_RANGE);
    EXPECT_TRUE(fit(x.data(), 4, 2, Metric::l2, CodecId::rabitq, 0, false, 1, &m).is_ok());
    const std::vector<float> bad(16, NAN);
    EXPECT_EQ(fit(bad.data(), 2, 8, Metric::l2, CodecId::rabitq, 0, false, 1, &m).code(),
              PVEC_INVALID);
}

// The estimate tracks the exact score under every metric, without bias, rabitq2 closer than
// rabitq; under cosine the centred query is what keeps the error small on offset data.
TEST(Model, RabitqScoresTrackExactScores) {
    const std::size_t n = 1500, dim = 128, items = 300, nq = 20;
    const std::vector<float> x = offset_sample(n + nq, dim, 4);
    const std::vector<float> queries(x.begin() + n * dim, x.end());
    for (Metric metric : {Metric::cosine, Metric::dot, Metric::l2}) {
        double rms1 = 0;
        for (CodecId id : {CodecId::rabitq, CodecId::rabitq2}) {
            SCOPED_TRACE(std::string(metric_name(metric)) + " " + codec::codec_name(id));
            Model m;
            ASSERT_TRUE(fit(x.data(), n, dim, metric, id, 0, false, 5, &m).is_ok());
            const Fit f = compare(m, x, items, queries, nq);
            // Measured at this seed: corr 0.88-0.90 (rabitq), 0.97 (rabitq2); |bias| under
            // 0.09 rms (the estimator is unbiased over rotations; one rotation leaves a little).
            EXPECT_GT(f.corr, id == CodecId::rabitq ? 0.85 : 0.95);
            EXPECT_LT(std::fabs(f.bias), 0.2 * f.rms + 1e-6);
            if (id == CodecId::rabitq) {
                rms1 = f.rms;
            } else {
                EXPECT_LT(f.rms, 0.6 * rms1);
            }
            if (metric == Metric::cosine) {
                // Measured: 5x smaller.
                const Fit u = compare(m, x, items, queries, nq, true);
                EXPECT_LT(f.rms, 0.5 * u.rms);
            }
        }
    }
}

TEST(Model, RabitqReconstructsNearTheVector) {
    const std::size_t n = 600, dim = 96;
    const std::vector<float> x = offset_sample(n, dim, 6);
    for (CodecId id : {CodecId::rabitq, CodecId::rabitq2}) {
        Model m;
        ASSERT_TRUE(fit(x.data(), n, dim, Metric::l2, id, 0, false, 5, &m).is_ok());
        std::vector<uint8_t> code(m.code_bytes());
        std::vector<float> back(dim);
        double cos_sum = 0;
        for (std::size_t j = 0; j < 100; ++j) {
            const float *v = &x[j * dim];
            encode(m, v, code.data());
            reconstruct(m, code.data(), back.data());
            // Around the mean: the centred vectors point the same way.
            double d = 0, a = 0, b = 0;
            for (std::size_t i = 0; i < dim; ++i) {
                const double u = v[i] - m.pca->mean[i], w = back[i] - m.pca->mean[i];
                d += u * w;
                a += u * u;
                b += w * w;
            }
            cos_sum += d / std::sqrt(a * b);
        }
        // E cos(xb, x) is about 0.80 for 1 bit and 0.94 for 2 bits.
        EXPECT_GT(cos_sum / 100, id == CodecId::rabitq ? 0.75 : 0.90) << codec::codec_name(id);
    }
}

TEST(Model, RabitqBlobRoundTripsAndDamageIsRefused) {
    const std::size_t n = 300, dim = 24;
    const std::vector<float> x = offset_sample(n, dim, 7);
    for (CodecId id : {CodecId::rabitq, CodecId::rabitq2}) {
        Model m;
        ASSERT_TRUE(fit(x.data(), n, dim, Metric::dot, id, 0, false, 5, &m).is_ok());
        const std::vector<uint8_t> blob = m.serialize();
        Model back;
        ASSERT_TRUE(Model::deserialize(blob.data(), blob.size(), &back).is_ok());
        EXPECT_EQ(back.serialize(), blob);
        EXPECT_EQ(back.codec.id, id);
        EXPECT_EQ(back.codec.scale, m.codec.scale);
        EXPECT_EQ(back.pca_dim(), 0u);
        std::vector<uint8_t> bad = blob;
        bad[bad.size() / 2] ^= 0x04;
        EXPECT_EQ(Model::deserialize(bad.data(), bad.size(), &back).code(), PVEC_CORRUPT);
    }
}

}  // namespace
}  // namespace pocketvec::model
