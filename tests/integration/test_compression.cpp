// Compressed collections through the C API: training, codes, oversampling with raw rescoring,
// re-training without re-inserting, model export/import, persistence, rollback, damage.
#include <sys/stat.h>

#include <map>
#include <set>

#include <sqlite3.h>

#include "test_helpers.h"

using namespace pvtest;

namespace {

constexpr std::size_t kDim = 48;
constexpr std::size_t kCount = 3000;

// Embedding-like data: clusters with a decaying spectrum, so that codecs and PCA meet the kind of
// structure they are built for.
std::vector<float> clustered(std::size_t n, std::size_t dim, uint32_t seed, bool decay = true) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g;
    std::vector<float> centres(32 * dim);
    for (std::size_t i = 0; i < centres.size(); ++i) {
        centres[i] = g(rng) / (decay ? std::sqrt(1.0f + float(i % dim)) : 1.0f);
    }
    std::vector<float> v(n * dim);
    for (std::size_t r = 0; r < n; ++r) {
        const float *c = &centres[(rng() % 32) * dim];
        for (std::size_t i = 0; i < dim; ++i) {
            v[r * dim + i] = c[i] + 0.8f * g(rng) / (decay ? std::sqrt(1.0f + float(i)) : 1.0f);
        }
    }
    return v;
}

struct Store {
    pvec_db *db = nullptr;
    pvec_collection *c = nullptr;
    std::vector<Item> items;
    std::vector<float> queries;
    ~Store() {
        pvec_collection_close(c);
        pvec_db_close(db);
    }
};

pvec_collection *create_with(pvec_db *db, const char *name, const char *codec, uint32_t metric,
                             uint32_t raw, uint32_t pca_dim = 0, uint32_t threshold = PVEC_TRAIN_NEVER) {
    pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
    o.dim = kDim;
    o.metric = metric;
    o.codec = codec;
    o.raw_tier = raw;
    o.pca_dim = pca_dim;
    o.train_threshold = threshold;
    o.flags = pca_dim ? PVEC_COLLECTION_PCA_ROTATE : 0;
    pvec_collection *c = nullptr;
    char *err = nullptr;
    int rc = pvec_collection_create(db, name, &o, &c, &err);
    EXPECT_EQ(rc, PVEC_OK) << (err ? err : "");
    pvec_free(err);
    return c;
}

void fill(pvec_collection *c, Store &s, uint32_t seed, bool decay = true) {
    auto data = clustered(kCount, kDim, seed, decay);
    std::vector<int64_t> ids(kCount);
    for (std::size_t i = 0; i < kCount; ++i) {
        ids[i] = int64_t(i) * 3 + 1;
        s.items.push_back({ids[i], std::vector<float>(&data[i * kDim], &data[(i + 1) * kDim])});
    }
    char *err = nullptr;
    ASSERT_EQ(pvec_add_batch(c, kCount, ids.data(), data.data(), kDim, nullptr, &err), PVEC_OK)
        << (err ? err : "");
    s.queries = clustered(40, kDim, seed + 1000, decay);
}

std::vector<int64_t> search_with(pvec_collection *c, const float *q, std::size_t k, uint32_t r,
                                 std::vector<float> *scores = nullptr) {
    pvec_search_options o = PVEC_SEARCH_OPTIONS_INIT;
    o.oversample = r;
    std::vector<int64_t> ids(k);
    std::vector<float> sc(k);
    std::size_t n = 0;
    char *err = nullptr;
    EXPECT_EQ(pvec_search(c, q, kDim, k, &o, ids.data(), sc.data(), &n, &err), PVEC_OK)
        << (err ? err : "");
    pvec_free(err);
    ids.resize(n);
    sc.resize(n);
    if (scores) {
        *scores = sc;
    }
    return ids;
}

double recall(pvec_collection *c, const Store &s, uint32_t metric, uint32_t r) {
    std::size_t hit = 0, total = 0;
    for (std::size_t q = 0; q < s.queries.size() / kDim; ++q) {
        const float *qv = &s.queries[q * kDim];
        auto truth = oracle(s.items, qv, kDim, metric, 10);
        auto got = search_with(c, qv, 10, r);
        std::set<int64_t> t(truth.begin(), truth.end());
        for (int64_t id : got) {
            hit += t.count(id);
        }
        total += 10;
    }
    return double(hit) / double(total);
}

pvec_collection_info info_of(pvec_collection *c) {
    pvec_collection_info info = {};
    info.struct_size = sizeof(info);
    EXPECT_EQ(pvec_collection_info_get(c, &info, nullptr), PVEC_OK);
    return info;
}

struct CodecCase {
    const char *codec;
    uint32_t bits;
    double min_recall;     // code scores alone
    double min_recall_r;   // with r x oversampling and raw rescoring
    uint32_t r;
    // One bit per dimension weighs every dimension alike: binary is tested on a flat spectrum
    // (like real embeddings), not the steep one the other codecs meet.
    bool decay;
    uint32_t code_bytes = 0;  // 0: kDim * bits / 8
};

// Names the case in test output (instead of GoogleTest's byte dump).
void PrintTo(const CodecCase &c, std::ostream *os) { *os << c.codec; }

class Codecs : public ::testing::TestWithParam<CodecCase> {};

TEST_P(Codecs, TrainedCodesHaveTheirSizeAndRescoringRestoresRecall) {
    const CodecCase cc = GetParam();
    for (uint32_t metric : {PVEC_METRIC_COSINE, PVEC_METRIC_DOT, PVEC_METRIC_L2}) {
        TempDb tmp;
        Store s;
        s.db = open_db(tmp.path());
        s.c = create_with(s.db, "c", cc.codec, metric, PVEC_RAW_ZSTD_F32);
        fill(s.c, s, 7, cc.decay);
        if (std::string(cc.codec) == "f16" || std::string(cc.codec) == "bf16") {
            EXPECT_EQ(info_of(s.c).trained, 1u);  // nothing to fit: trained from the start
        } else {
            EXPECT_EQ(info_of(s.c).trained, 0u);
            EXPECT_EQ(recall(s.c, s, metric, 1), 1.0) << "untrained collections search exactly";
            PV_OK(pvec_collection_train(s.c, nullptr, nullptr));
        }
        const auto info = info_of(s.c);
        EXPECT_EQ(info.trained, 1u);
        EXPECT_EQ(info.code_bytes, cc.code_bytes ? cc.code_bytes : (kDim * cc.bits + 7) / 8);
        EXPECT_EQ(info.code_dim, kDim);
        EXPECT_STREQ(info.codec, cc.codec);
        EXPECT_EQ(info.count, kCount);
        const double r1 = recall(s.c, s, metric, 1), rr = recall(s.c, s, metric, cc.r);
        EXPECT_GE(r1, cc.min_recall) << cc.codec << " metric " << metric;
        EXPECT_GE(rr, cc.min_recall_r) << cc.codec << " metric " << metric;
        // The rescored scores are exact.
        std::vector<float> scores;
        const float *q = &s.queries[0];
        auto ids = search_with(s.c, q, 5, 4, &scores);
        auto exact = oracle_scores(s.items, q, kDim, metric);
        std::map<int64_t, double> score_of;
        for (const auto &e : exact) {
            score_of[e.second] = e.first;
        }
        for (std::size_t i = 0; i < ids.size(); ++i) {
            const double want = metric == PVEC_METRIC_L2 ? std::sqrt(score_of[ids[i]]) : score_of[ids[i]];
            EXPECT_NEAR(scores[i], want, 1e-5 * (1 + std::fabs(want)));
        }
    }
}

INSTANTIATE_TEST_SUITE_P(All, Codecs,
                         ::testing::Values(CodecCase{"f16", 16, 0.99, 1.0, 4, true},
                                           CodecCase{"bf16", 16, 0.95, 1.0, 4, true},
                                           CodecCase{"e4m3", 8, 0.85, 0.99, 4, true},
                                           CodecCase{"e5m2", 8, 0.65, 0.98, 4, true},
                                           CodecCase{"int8", 8, 0.95, 1.0, 4, true},
                                           CodecCase{"int4", 4, 0.60, 0.96, 4, true},
                                           // 48 bits are few for binary; chance is 0.003
                                           CodecCase{"binary", 1, 0.08, 0.35, 10, false},
                                           // bit planes in 4-byte groups + 4 bytes of factors
                                           // (measured 0.23-0.25 / 0.78-0.82 and 0.50-0.56 /
                                           // 0.90-0.92: above binary's 0.12-0.14 / 0.45-0.49)
                                           CodecCase{"rabitq", 1, 0.18, 0.70, 10, false, 12},
                                           CodecCase{"rabitq2", 2, 0.42, 0.82, 4, false, 20}),
                         [](const auto &info) { return std::string(info.param.codec); });

TEST(Compression, AutomaticTrainingAtTheThreshold) {
    TempDb tmp;
    Store s;
    s.db = open_db(tmp.path());
    s.c = create_with(s.db, "auto", "int8", PVEC_METRIC_COSINE, PVEC_RAW_NONE, 0, 2000);
    auto data = clustered(kCount, kDim, 3);
    std::vector<int64_t> ids(kCount);
    for (std::size_t i = 0; i < kCount; ++i) {
        ids[i] = int64_t(i);
    }
    PV_OK(pvec_add_batch(s.c, 1999, ids.data(), data.data(), kDim, nullptr, nullptr));
    EXPECT_EQ(info_of(s.c).trained, 0u);
    PV_OK(pvec_add(s.c, 1999, &data[1999 * kDim], kDim, nullptr, nullptr));
    EXPECT_EQ(info_of(s.c).trained, 1u);
    EXPECT_EQ(info_of(s.c).code_bytes, kDim);
    // Later items are encoded on arrival.
    PV_OK(pvec_add_batch(s.c, kCount - 2000, ids.data() + 2000, &data[2000 * kDim], kDim, nullptr,
                         nullptr));
    EXPECT_EQ(info_of(s.c).count, kCount);
}

TEST(Compression, RetrainingSwitchesCodecWithoutReinsertingAndNeedsTheRawTier) {
    TempDb tmp;
    Store s;
    s.db = open_db(tmp.path());
    s.c = create_with(s.db, "raw", "int8", PVEC_METRIC_L2, PVEC_RAW_ZSTD_F32);
    fill(s.c, s, 11);
    PV_OK(pvec_collection_train(s.c, nullptr, nullptr));
    const double int8_recall = recall(s.c, s, PVEC_METRIC_L2, 4);
    pvec_train_options t = PVEC_TRAIN_OPTIONS_INIT;
    for (const char *codec : {"int4", "binary", "e4m3", "f32"}) {
        t.codec = codec;
        PV_OK(pvec_collection_train(s.c, &t, nullptr));
        EXPECT_STREQ(info_of(s.c).codec, codec);
        EXPECT_EQ(info_of(s.c).count, kCount);
    }
    // Back to exact f32 from the raw tier: exact again.
    EXPECT_EQ(info_of(s.c).trained, 0u);
    EXPECT_EQ(recall(s.c, s, PVEC_METRIC_L2, 1), 1.0);
    t.codec = "int8";
    t.pca_dim = 24;
    PV_OK(pvec_collection_train(s.c, &t, nullptr));
    EXPECT_EQ(info_of(s.c).code_dim, 24u);
    EXPECT_EQ(info_of(s.c).code_bytes, 24u);
    EXPECT_GE(recall(s.c, s, PVEC_METRIC_L2, 8), 0.95);
    EXPECT_GE(int8_recall, 0.99);

    // Without a raw tier the lossy codes cannot be re-trained.
    pvec_collection *lossy = create_with(s.db, "lossy", "int8", PVEC_METRIC_L2, PVEC_RAW_NONE);
    Store other;
    fill(lossy, other, 12);
    PV_OK(pvec_collection_train(lossy, nullptr, nullptr));
    char *err = nullptr;
    EXPECT_EQ(pvec_collection_train(lossy, nullptr, &err), PVEC_UNSUPPORTED);
    EXPECT_NE(err, nullptr);
    pvec_free(err);
    pvec_search_options o = PVEC_SEARCH_OPTIONS_INIT;
    o.oversample = 4;
    o.rescore = PVEC_RESCORE_RAW;
    int64_t ids[10];
    std::size_t n;
    EXPECT_EQ(pvec_search(lossy, &other.queries[0], kDim, 10, &o, ids, nullptr, &n, nullptr),
              PVEC_UNSUPPORTED);
    pvec_collection_close(lossy);
}

TEST(Compression, ExportedModelGivesIdenticalResultsElsewhere) {
    TempDb a_path, b_path;
    Store a, b;
    a.db = open_db(a_path.path());
    a.c = create_with(a.db, "m", "int8", PVEC_METRIC_COSINE, PVEC_RAW_NONE, 24);
    fill(a.c, a, 21);
    PV_OK(pvec_collection_train(a.c, nullptr, nullptr));
    void *blob = nullptr;
    std::size_t size = 0;
    PV_OK(pvec_model_export(a.c, &blob, &size, nullptr));
    ASSERT_GT(size, 0u);

    b.db = open_db(b_path.path());
    b.c = create_with(b.db, "other name", "f32", PVEC_METRIC_COSINE, PVEC_RAW_NONE);
    fill(b.c, b, 21);  // the same vectors under the same ids
    PV_OK(pvec_model_import(b.c, blob, size, nullptr));
    EXPECT_STREQ(info_of(b.c).codec, "int8");
    EXPECT_EQ(info_of(b.c).code_dim, 24u);
    for (std::size_t q = 0; q < a.queries.size() / kDim; ++q) {
        std::vector<float> sa, sb;
        EXPECT_EQ(search_with(a.c, &a.queries[q * kDim], 10, 1, &sa),
                  search_with(b.c, &a.queries[q * kDim], 10, 1, &sb));
        EXPECT_EQ(sa, sb);
    }
    // Damaged, truncated or foreign blobs are refused and change nothing.
    std::vector<uint8_t> bad(static_cast<uint8_t *>(blob), static_cast<uint8_t *>(blob) + size);
    bad[size / 2] ^= 0x10;
    EXPECT_EQ(pvec_model_import(b.c, bad.data(), bad.size(), nullptr), PVEC_CORRUPT);
    EXPECT_EQ(pvec_model_import(b.c, blob, size - 9, nullptr), PVEC_CORRUPT);
    pvec_collection *wrong = create_with(b.db, "l2", "f32", PVEC_METRIC_L2, PVEC_RAW_NONE);
    EXPECT_EQ(pvec_model_import(wrong, blob, size, nullptr), PVEC_INVALID);
    pvec_collection_close(wrong);
    pvec_free(blob);
    pvec_collection *plain = create_with(b.db, "plain", "f32", PVEC_METRIC_L2, PVEC_RAW_NONE);
    EXPECT_EQ(pvec_model_export(plain, &blob, &size, nullptr), PVEC_NOTFOUND);
    pvec_collection_close(plain);
}

TEST(Compression, TrainedCollectionSurvivesReopenAndRollbackUndoesTraining) {
    TempDb tmp;
    std::vector<std::vector<int64_t>> before;
    Store s;
    {
        s.db = open_db(tmp.path());
        s.c = create_with(s.db, "p", "int4", PVEC_METRIC_DOT, PVEC_RAW_ZSTD_F32, 32);
        fill(s.c, s, 31);
        // A training rolled back leaves the collection untrained and exact.
        PV_OK(pvec_db_begin(s.db, nullptr));
        PV_OK(pvec_collection_train(s.c, nullptr, nullptr));
        EXPECT_EQ(info_of(s.c).trained, 1u);
        PV_OK(pvec_db_rollback(s.db, nullptr));
        EXPECT_EQ(info_of(s.c).trained, 0u);
        EXPECT_EQ(recall(s.c, s, PVEC_METRIC_DOT, 1), 1.0);

        PV_OK(pvec_collection_train(s.c, nullptr, nullptr));
        for (std::size_t q = 0; q < s.queries.size() / kDim; ++q) {
            before.push_back(search_with(s.c, &s.queries[q * kDim], 10, 1));
        }
        // Upserts and deletes after training use the model.
        PV_OK(pvec_delete(s.c, 1, nullptr));
        PV_OK(pvec_upsert(s.c, 4, &s.queries[0], kDim, nullptr, nullptr));
        PV_OK(pvec_upsert(s.c, 4, s.items[1].vec.data(), kDim, nullptr, nullptr));
        PV_OK(pvec_add(s.c, 1, s.items[0].vec.data(), kDim, nullptr, nullptr));
        pvec_collection_close(s.c);
        PV_OK(pvec_db_close(s.db));
    }
    s.db = open_db(tmp.path());
    s.c = open_coll(s.db, "p");
    const auto info = info_of(s.c);
    EXPECT_EQ(info.trained, 1u);
    EXPECT_EQ(info.code_bytes, 16u);
    EXPECT_EQ(info.model_version, 1u);  // the rolled-back training left no version behind
    for (std::size_t q = 0; q < s.queries.size() / kDim; ++q) {
        EXPECT_EQ(search_with(s.c, &s.queries[q * kDim], 10, 1), before[q]);
    }
    // With the raw tier, get returns the exact vector.
    std::vector<float> got(kDim);
    PV_OK(pvec_get(s.c, 7, got.data(), kDim, nullptr, nullptr));
    EXPECT_EQ(got, s.items[2].vec);
}

TEST(Compression, GetReconstructsFromCodesWithoutRawTier) {
    TempDb tmp;
    Store s;
    s.db = open_db(tmp.path());
    s.c = create_with(s.db, "g", "int8", PVEC_METRIC_COSINE, PVEC_RAW_NONE);
    fill(s.c, s, 41);
    PV_OK(pvec_collection_train(s.c, nullptr, nullptr));
    std::vector<float> got(kDim);
    PV_OK(pvec_get(s.c, s.items[5].id, got.data(), kDim, nullptr, nullptr));
    double dot = 0, gn = 0, xn = 0;
    for (std::size_t i = 0; i < kDim; ++i) {
        dot += double(got[i]) * s.items[5].vec[i];
        gn += double(got[i]) * got[i];
        xn += double(s.items[5].vec[i]) * s.items[5].vec[i];
    }
    EXPECT_GT(dot / std::sqrt(gn * xn), 0.999);
    EXPECT_NEAR(std::sqrt(gn), std::sqrt(xn), 1e-3 * std::sqrt(xn));  // the original norm
}

// rabitq without a raw tier: get reconstructs (cosine: with the original norm), the model moves
// to another file with identical results, and the codes survive a reopen.
TEST(Compression, RabitqReconstructsExportsAndReopens) {
    for (const char *codec : {"rabitq", "rabitq2"}) {
        SCOPED_TRACE(codec);
        TempDb a_path, b_path;
        std::vector<std::vector<int64_t>> before;
        {
            Store a, b;
            a.db = open_db(a_path.path());
            a.c = create_with(a.db, "q", codec, PVEC_METRIC_COSINE, PVEC_RAW_NONE);
            fill(a.c, a, 71, false);
            PV_OK(pvec_collection_train(a.c, nullptr, nullptr));
            EXPECT_EQ(info_of(a.c).code_dim, kDim);
            std::vector<float> got(kDim);
            for (std::size_t k : {0u, 5u, 17u}) {
                PV_OK(pvec_get(a.c, a.items[k].id, got.data(), kDim, nullptr, nullptr));
                double dot = 0, gn = 0, xn = 0;
                for (std::size_t i = 0; i < kDim; ++i) {
                    dot += double(got[i]) * a.items[k].vec[i];
                    gn += double(got[i]) * got[i];
                    xn += double(a.items[k].vec[i]) * a.items[k].vec[i];
                }
                EXPECT_GT(dot / std::sqrt(gn * xn), std::string(codec) == "rabitq" ? 0.7 : 0.85);
                EXPECT_NEAR(std::sqrt(gn), std::sqrt(xn), 1e-3 * std::sqrt(xn));
            }
            for (std::size_t q = 0; q < a.queries.size() / kDim; ++q) {
                before.push_back(search_with(a.c, &a.queries[q * kDim], 10, 1));
            }
            void *blob = nullptr;
            std::size_t size = 0;
            PV_OK(pvec_model_export(a.c, &blob, &size, nullptr));
            b.db = open_db(b_path.path());
            b.c = create_with(b.db, "other", "f32", PVEC_METRIC_COSINE, PVEC_RAW_NONE);
            fill(b.c, b, 71, false);
            PV_OK(pvec_model_import(b.c, blob, size, nullptr));
            pvec_free(blob);
            EXPECT_STREQ(info_of(b.c).codec, codec);
            EXPECT_EQ(info_of(b.c).code_dim, kDim);
            for (std::size_t q = 0; q < a.queries.size() / kDim; ++q) {
                std::vector<float> sa, sb;
                EXPECT_EQ(search_with(a.c, &a.queries[q * kDim], 10, 1, &sa),
                          search_with(b.c, &a.queries[q * kDim], 10, 1, &sb));
                EXPECT_EQ(sa, sb);
            }
        }
        Store s;
        s.db = open_db(a_path.path());
        s.c = open_coll(s.db, "q");
        s.queries = clustered(40, kDim, 71 + 1000, false);
        EXPECT_EQ(info_of(s.c).code_bytes, std::string(codec) == "rabitq" ? 12u : 20u);
        for (std::size_t q = 0; q < s.queries.size() / kDim; ++q) {
            EXPECT_EQ(search_with(s.c, &s.queries[q * kDim], 10, 1), before[q]);
        }
    }
}

// Training that rabitq cannot do is refused with PVEC_RANGE and changes nothing.
TEST(Compression, RabitqRefusesTooFewVectorsAndTinyDimensions) {
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    pvec_collection *one = create_with(db, "one", "rabitq", PVEC_METRIC_L2, PVEC_RAW_ZSTD_F32);
    const std::vector<float> v = clustered(1, kDim, 5);
    PV_OK(pvec_add(one, 1, v.data(), kDim, nullptr, nullptr));
    char *err = nullptr;
    EXPECT_EQ(pvec_collection_train(one, nullptr, &err), PVEC_RANGE);
    ASSERT_NE(err, nullptr);
    EXPECT_NE(std::string(err).find("two vectors"), std::string::npos) << err;
    pvec_free(err);
    err = nullptr;
    EXPECT_EQ(info_of(one).trained, 0u);
    EXPECT_EQ(info_of(one).count, 1u);
    pvec_collection_close(one);

    // At dimension 1 (rabitq) or 2 (rabitq2) a code would outweigh the float32 vector: such a
    // collection is refused at creation, and a switch to the codec at training.
    pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
    o.dim = 1;
    o.codec = "rabitq";
    o.train_threshold = PVEC_TRAIN_NEVER;
    pvec_collection *tiny = nullptr;
    EXPECT_EQ(pvec_collection_create(db, "tiny", &o, &tiny, &err), PVEC_RANGE);
    EXPECT_EQ(tiny, nullptr);
    ASSERT_NE(err, nullptr);
    pvec_free(err);
    err = nullptr;
    o.dim = 2;
    o.codec = "rabitq2";
    EXPECT_EQ(pvec_collection_create(db, "tiny", &o, &tiny, nullptr), PVEC_RANGE);
    o.codec = "rabitq";
    PV_OK(pvec_collection_create(db, "tiny", &o, &tiny, nullptr));  // 8 bytes: as float32
    pvec_collection_close(tiny);
    PV_OK(pvec_collection_drop(db, "tiny", nullptr));
    o.dim = 1;
    o.codec = "f32";
    o.raw_tier = PVEC_RAW_ZSTD_F32;
    PV_OK(pvec_collection_create(db, "tiny", &o, &tiny, nullptr));
    for (int64_t id = 0; id < 10; ++id) {
        const float x = 1.0f + float(id);
        PV_OK(pvec_add(tiny, id, &x, 1, nullptr, nullptr));
    }
    pvec_train_options t = PVEC_TRAIN_OPTIONS_INIT;
    t.codec = "rabitq";
    EXPECT_EQ(pvec_collection_train(tiny, &t, &err), PVEC_RANGE);
    ASSERT_NE(err, nullptr);
    EXPECT_NE(std::string(err).find("larger than the float32"), std::string::npos) << err;
    pvec_free(err);
    EXPECT_EQ(info_of(tiny).trained, 0u);
    EXPECT_STREQ(info_of(tiny).codec, "f32");
    EXPECT_EQ(info_of(tiny).code_bytes, 4u);
    EXPECT_EQ(info_of(tiny).count, 10u);
    pvec_collection_close(tiny);
    PV_OK(pvec_db_close(db));
}

TEST(Compression, FileHoldsLittleMoreThanTheCodes) {
    TempDb tmp;
    Store s;
    s.db = open_db(tmp.path());
    s.c = create_with(s.db, "size", "int8", PVEC_METRIC_L2, PVEC_RAW_NONE);
    fill(s.c, s, 51);
    auto file_bytes = [&] {
        struct stat st;
        EXPECT_EQ(stat(tmp.c_str(), &st), 0);
        return double(st.st_size);
    };
    const double before = file_bytes();
    PV_OK(pvec_collection_train(s.c, nullptr, nullptr));
    pvec_collection_close(s.c);
    s.c = nullptr;
    PV_OK(pvec_db_close(s.db));
    s.db = nullptr;
    const double after = file_bytes();
    // The f32 chunks freed by training went back to the file system (incremental auto-vacuum):
    // the file shrank by at least 80% of the code bytes training saved (4 dim - dim per vector;
    // whole 4 KiB pages),
    // and what is left is the codes with little more than their per-slot fields.
    EXPECT_GE(before - after, 0.8 * 3.0 * kDim * kCount) << before << " -> " << after << " bytes";
    EXPECT_LE(after / kCount, 1.25 * kDim + 48 + 16.0 * 4096.0 / kCount) << after << " bytes";
}

TEST(Compression, DamagedModelIsReported) {
    TempDb tmp;
    {
        Store s;
        s.db = open_db(tmp.path());
        s.c = create_with(s.db, "d", "int8", PVEC_METRIC_L2, PVEC_RAW_NONE);
        fill(s.c, s, 61);
        PV_OK(pvec_collection_train(s.c, nullptr, nullptr));
    }
    sqlite3 *conn = nullptr;
    ASSERT_EQ(sqlite3_open(tmp.c_str(), &conn), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(conn, "UPDATE pvec_models SET blob = CAST(substr(blob, 1, 40) || x'5A' || substr(blob, 42) AS BLOB)",
                           nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(conn);
    pvec_db *db = open_db(tmp.path());
    pvec_collection *c = nullptr;
    char *err = nullptr;
    EXPECT_EQ(pvec_collection_open(db, "d", &c, &err), PVEC_CORRUPT);
    EXPECT_NE(err, nullptr);
    pvec_free(err);
    PV_OK(pvec_db_close(db));
}

}  // namespace
