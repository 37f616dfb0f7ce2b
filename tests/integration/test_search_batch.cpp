// pvec_search_batch: every query's results equal pvec_search's for the same query (ids, scores,
// counts), for exact, trained, rescored and binary collections; bad input changes nothing.
#include "test_helpers.h"

#include <cmath>
#include <cstdint>
#include <vector>

using namespace pvtest;

namespace {

constexpr uint32_t kDim = 24;
constexpr std::size_t kN = 3000;  // 12 blocks: several per range when the scan splits

pvec_collection *make(pvec_db *db, const char *name, const char *codec, uint32_t metric,
                      uint32_t raw_tier) {
    pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
    o.dim = kDim;
    o.metric = metric;
    o.codec = codec;
    o.raw_tier = raw_tier;
    o.train_threshold = PVEC_TRAIN_NEVER;  // trained once, below, after every add
    pvec_collection *c = nullptr;
    char *err = nullptr;
    EXPECT_EQ(pvec_collection_create(db, name, &o, &c, &err), PVEC_OK) << (err ? err : "");
    pvec_free(err);
    const auto v = gaussian_vectors(kN, kDim, 5);
    std::vector<int64_t> ids(kN);
    for (std::size_t i = 0; i < kN; ++i) {
        ids[i] = static_cast<int64_t>(i * 7 + 1);
    }
    EXPECT_EQ(pvec_add_batch(c, kN, ids.data(), v.data(), kDim, nullptr, nullptr), PVEC_OK);
    if (std::string(codec) != "f32") {
        EXPECT_EQ(pvec_collection_train(c, nullptr, nullptr), PVEC_OK);
    }
    return c;
}

void expect_batch_equals_single(pvec_collection *c, std::size_t k, const pvec_search_options *o) {
    const std::size_t nq = 9;
    const auto q = gaussian_vectors(nq, kDim, 77);
    std::vector<int64_t> ids(nq * k, -1);
    std::vector<float> scores(nq * k, NAN);
    std::vector<std::size_t> found(nq, 12345);
    ASSERT_EQ(pvec_search_batch(c, q.data(), nq, kDim, k, o, ids.data(), scores.data(),
                                found.data(), nullptr),
              PVEC_OK);
    for (std::size_t i = 0; i < nq; ++i) {
        std::vector<int64_t> one(k, -1);
        std::vector<float> one_scores(k);
        std::size_t n = 0;
        ASSERT_EQ(pvec_search(c, &q[i * kDim], kDim, k, o, one.data(), one_scores.data(), &n,
                              nullptr),
                  PVEC_OK);
        ASSERT_EQ(found[i], n) << "query " << i;
        for (std::size_t j = 0; j < n; ++j) {
            EXPECT_EQ(ids[i * k + j], one[j]) << "query " << i << " rank " << j;
            EXPECT_EQ(scores[i * k + j], one_scores[j]) << "query " << i << " rank " << j;
        }
    }
}

TEST(SearchBatch, EqualsOneSearchPerQueryForEveryKindOfCollection) {
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    struct Case {
        const char *name, *codec;
        uint32_t metric, raw;
        uint32_t oversample;
    } cases[] = {{"exact", "f32", PVEC_METRIC_COSINE, PVEC_RAW_NONE, 0},
                 {"exact_l2", "f32", PVEC_METRIC_L2, PVEC_RAW_NONE, 0},
                 {"int8", "int8", PVEC_METRIC_DOT, PVEC_RAW_NONE, 0},
                 {"int8_l2", "int8", PVEC_METRIC_L2, PVEC_RAW_NONE, 0},
                 {"int4_raw", "int4", PVEC_METRIC_COSINE, PVEC_RAW_F32, 4},
                 {"binary_raw", "binary", PVEC_METRIC_COSINE, PVEC_RAW_F16, 10},
                 {"e4m3", "e4m3", PVEC_METRIC_COSINE, PVEC_RAW_NONE, 0}};
    for (const Case &cs : cases) {
        SCOPED_TRACE(cs.name);
        pvec_collection *c = make(db, cs.name, cs.codec, cs.metric, cs.raw);
        pvec_search_options o = PVEC_SEARCH_OPTIONS_INIT;
        o.oversample = cs.oversample;
        for (uint32_t threads : {1u, 2u, 0u}) {
            o.threads = threads;
            expect_batch_equals_single(c, 10, &o);
        }
        expect_batch_equals_single(c, kN + 5, nullptr);  // k beyond the count
        pvec_collection_close(c);
    }
    PV_OK(pvec_db_close(db));
}

TEST(SearchBatch, BadInputReturnsAStatusAndWritesNoCounts) {
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    pvec_collection *c = make(db, "c", "int8", PVEC_METRIC_COSINE, PVEC_RAW_NONE);
    auto q = gaussian_vectors(3, kDim, 1);
    std::vector<int64_t> ids(30);
    std::vector<std::size_t> found(3, 99);
    // No queries: nothing to do, nothing written.
    EXPECT_EQ(pvec_search_batch(c, nullptr, 0, kDim, 10, nullptr, nullptr, nullptr, nullptr,
                                nullptr),
              PVEC_OK);
    EXPECT_EQ(pvec_search_batch(nullptr, q.data(), 3, kDim, 10, nullptr, ids.data(), nullptr,
                                found.data(), nullptr),
              PVEC_MISUSE);
    EXPECT_EQ(found[0], 0u);  // counts are zeroed on every path that can write them
    EXPECT_EQ(pvec_search_batch(c, nullptr, 3, kDim, 10, nullptr, ids.data(), nullptr,
                                found.data(), nullptr),
              PVEC_MISUSE);
    EXPECT_EQ(pvec_search_batch(c, q.data(), 3, kDim + 1, 10, nullptr, ids.data(), nullptr,
                                found.data(), nullptr),
              PVEC_DIM);
    EXPECT_EQ(pvec_search_batch(c, q.data(), 3, kDim, 0, nullptr, ids.data(), nullptr,
                                found.data(), nullptr),
              PVEC_RANGE);
    EXPECT_EQ(pvec_search_batch(c, q.data(), SIZE_MAX / 2, kDim, 10, nullptr, ids.data(), nullptr,
                                nullptr, nullptr),
              PVEC_MISUSE);  // n_found NULL
    q[2 * kDim + 3] = NAN;  // one bad query fails the batch, naming nothing written
    char *err = nullptr;
    found.assign(3, 99);
    EXPECT_EQ(pvec_search_batch(c, q.data(), 3, kDim, 10, nullptr, ids.data(), nullptr,
                                found.data(), &err),
              PVEC_INVALID);
    EXPECT_NE(err, nullptr);
    pvec_free(err);
    EXPECT_EQ(found[0] + found[1] + found[2], 0u);
    pvec_search_options o = PVEC_SEARCH_OPTIONS_INIT;
    o.rescore = PVEC_RESCORE_RAW;  // no raw tier
    q[2 * kDim + 3] = 0.5f;
    EXPECT_EQ(pvec_search_batch(c, q.data(), 3, kDim, 10, &o, ids.data(), nullptr, found.data(),
                                nullptr),
              PVEC_UNSUPPORTED);
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}

}  // namespace
