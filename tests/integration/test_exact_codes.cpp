// PVEC_RESCORE_EXACT: a search of a trained collection returns exactly the ids (and scores) of a
// brute-force search in double over the raw tier's vectors, ties by the smaller id, for every codec
// whose scan scores bound the exact ones, every metric, with and without PCA, every raw tier; and
// it says how many raw vectors it read. Where it cannot promise that, it refuses.
#include <cmath>
#include <numeric>

#include "../../lib/codec/minifloat.h"
#include "../durability/format2.h"
#include "../durability/format4.h"
#include "test_helpers.h"

using namespace pvtest;

namespace {

constexpr uint32_t kDim = 40;
constexpr std::size_t kCount = 2500;
constexpr std::size_t kQueries = 25;
constexpr std::size_t kK = 10;

// Clustered, embedding-like vectors (so neighbours are close and bounds overlap), with every 97th
// vector repeated under another id: real ties, which must go to the smaller id.
std::vector<float> clustered(std::size_t n, uint32_t seed) {
    const auto centres = gaussian_vectors(20, kDim, seed);
    const auto noise = gaussian_vectors(n, kDim, seed + 1);
    std::vector<float> v(n * kDim);
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t src = i % 97 == 96 ? i - 50 : i;
        for (std::size_t d = 0; d < kDim; ++d) {
            v[i * kDim + d] = centres[(src % 20) * kDim + d] + 0.35f * noise[src * kDim + d];
        }
    }
    return v;
}

struct ExactCase {
    const char *codec;
    uint32_t metric;
    uint32_t pca_dim;
    uint32_t raw_tier;
};

std::string case_name(const ::testing::TestParamInfo<ExactCase> &info) {
    const ExactCase &c = info.param;
    const char *metric = c.metric == PVEC_METRIC_L2 ? "l2" : c.metric == PVEC_METRIC_DOT ? "dot" : "cos";
    const char *tier = c.raw_tier == PVEC_RAW_F16 ? "rawf16" : c.raw_tier == PVEC_RAW_F32 ? "rawf32" : "zstd";
    return std::string(c.codec) + "_" + metric + (c.pca_dim ? "_pca" : "") + "_" + tier;
}

class ExactCodes : public ::testing::TestWithParam<ExactCase> {};

pvec_collection *trained(pvec_db *db, const ExactCase &p, const std::vector<float> &v) {
    pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
    o.dim = kDim;
    o.metric = p.metric;
    o.codec = p.codec;
    o.pca_dim = p.pca_dim;
    o.raw_tier = p.raw_tier;
    o.train_threshold = PVEC_TRAIN_NEVER;
    pvec_collection *c = nullptr;
    EXPECT_EQ(pvec_collection_create(db, "c", &o, &c, nullptr), PVEC_OK);
    std::vector<int64_t> ids(v.size() / kDim);
    std::iota(ids.begin(), ids.end(), int64_t{1000});
    EXPECT_EQ(pvec_add_batch(c, ids.size(), ids.data(), v.data(), kDim, nullptr, nullptr), PVEC_OK);
    EXPECT_EQ(pvec_collection_train(c, nullptr, nullptr), PVEC_OK);
    return c;
}

int exact_search(pvec_collection *c, const float *q, std::size_t k, std::vector<int64_t> *ids,
                 std::vector<float> *scores, uint64_t *rescored) {
    pvec_search_options so = PVEC_SEARCH_OPTIONS_INIT;
    so.rescore = PVEC_RESCORE_EXACT;
    so.rescored = rescored;
    ids->assign(k, -1);
    scores->assign(k, 0.0f);
    std::size_t n = 0;
    char *err = nullptr;
    const int rc = pvec_search(c, q, kDim, k, &so, ids->data(), scores->data(), &n, &err);
    EXPECT_TRUE(rc == PVEC_OK || err != nullptr);
    if (rc != PVEC_OK) {
        ADD_FAILURE() << "pvec_search: " << err;
    }
    pvec_free(err);
    ids->resize(n);
    scores->resize(n);
    return rc;
}

}  // namespace

TEST_P(ExactCodes, ReturnsTheBruteForceAnswerAndReadsFewRawVectors) {
    const ExactCase p = GetParam();
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    const auto v = clustered(kCount, 11);
    pvec_collection *c = trained(db, p, v);
    ASSERT_NE(c, nullptr);
    // The oracle sees what rescoring sees: the raw tier's copy of each vector.
    std::vector<Item> items;
    for (std::size_t i = 0; i < kCount; ++i) {
        std::vector<float> x(v.begin() + i * kDim, v.begin() + (i + 1) * kDim);
        if (p.raw_tier == PVEC_RAW_F16) {
            for (float &f : x) {
                f = pocketvec::codec::f16_to_f32(pocketvec::codec::f32_to_f16(f));
            }
        }
        items.push_back(Item{static_cast<int64_t>(1000 + i), x});
    }
    // Queries near the data (some exactly on a duplicated vector: ties at the top).
    const auto jitter = gaussian_vectors(kQueries, kDim, 99);
    uint64_t total = 0;
    for (int reopen = 0; reopen < 2; ++reopen) {
        for (std::size_t qi = 0; qi < kQueries; ++qi) {
            std::vector<float> q(v.begin() + (qi * 97 + 46) * kDim, v.begin() + (qi * 97 + 47) * kDim);
            if (qi % 3 != 0) {
                for (std::size_t d = 0; d < kDim; ++d) {
                    q[d] += 0.2f * jitter[qi * kDim + d];
                }
            }
            std::vector<int64_t> ids;
            std::vector<float> scores;
            uint64_t rescored = 12345;
            ASSERT_EQ(exact_search(c, q.data(), kK, &ids, &scores, &rescored), PVEC_OK);
            const auto want = oracle_scores(items, q.data(), kDim, p.metric);
            ASSERT_EQ(ids.size(), kK);
            for (std::size_t j = 0; j < kK; ++j) {
                ASSERT_EQ(ids[j], want[j].second) << "query " << qi << " rank " << j;
                const double exact = p.metric == PVEC_METRIC_L2 ? std::sqrt(want[j].first) : want[j].first;
                EXPECT_NEAR(scores[j], exact, 1e-5 * (1 + std::fabs(exact)));
            }
            EXPECT_GE(rescored, kK);
            EXPECT_LE(rescored, kCount);
            total += rescored;
        }
        pvec_collection_close(c);
        PV_OK(pvec_db_close(db));
        db = open_db(tmp.path());
        c = open_coll(db, "c");
        ASSERT_NE(c, nullptr);
    }
    // The point of the bounds: far fewer raw reads than the collection (f16, bf16 and int8 read a
    // few times k; the looser int4 and fp8 bounds more).
    EXPECT_LT(total, 2 * kQueries * kCount / 2) << "exact search read half the raw tier per query";
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}

INSTANTIATE_TEST_SUITE_P(
    Codecs, ExactCodes,
    ::testing::Values(
        ExactCase{"int8", PVEC_METRIC_COSINE, 0, PVEC_RAW_ZSTD_F32},
        ExactCase{"int8", PVEC_METRIC_DOT, 0, PVEC_RAW_ZSTD_F32},
        ExactCase{"int8", PVEC_METRIC_L2, 0, PVEC_RAW_ZSTD_F32},
        ExactCase{"int8", PVEC_METRIC_COSINE, 20, PVEC_RAW_F32},
        ExactCase{"int8", PVEC_METRIC_DOT, 20, PVEC_RAW_F32},
        ExactCase{"int8", PVEC_METRIC_L2, 20, PVEC_RAW_F32},
        ExactCase{"int8", PVEC_METRIC_COSINE, 0, PVEC_RAW_F16},
        ExactCase{"int8", PVEC_METRIC_DOT, 0, PVEC_RAW_F16},
        ExactCase{"int8", PVEC_METRIC_L2, 0, PVEC_RAW_F16},
        ExactCase{"int4", PVEC_METRIC_COSINE, 0, PVEC_RAW_F32},
        ExactCase{"int4", PVEC_METRIC_DOT, 0, PVEC_RAW_F32},
        ExactCase{"int4", PVEC_METRIC_L2, 20, PVEC_RAW_F32},
        ExactCase{"f16", PVEC_METRIC_COSINE, 0, PVEC_RAW_F32},
        ExactCase{"f16", PVEC_METRIC_DOT, 20, PVEC_RAW_F32},
        ExactCase{"f16", PVEC_METRIC_L2, 0, PVEC_RAW_F16},
        ExactCase{"bf16", PVEC_METRIC_COSINE, 0, PVEC_RAW_ZSTD_F32},
        ExactCase{"bf16", PVEC_METRIC_L2, 0, PVEC_RAW_F32},
        ExactCase{"e4m3", PVEC_METRIC_COSINE, 0, PVEC_RAW_F32},
        ExactCase{"e4m3", PVEC_METRIC_DOT, 0, PVEC_RAW_F32},
        ExactCase{"e5m2", PVEC_METRIC_L2, 0, PVEC_RAW_F32},
        ExactCase{"e5m2", PVEC_METRIC_COSINE, 20, PVEC_RAW_F32}),
    case_name);

TEST(ExactCodesApi, BatchEqualsSingleQueriesAndCountsEveryRead) {
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    const auto v = clustered(kCount, 5);
    pvec_collection *c = trained(db, ExactCase{"int8", PVEC_METRIC_COSINE, 0, PVEC_RAW_F32}, v);
    const std::size_t nq = 6;
    std::vector<float> qs(v.begin(), v.begin() + nq * kDim);
    pvec_search_options so = PVEC_SEARCH_OPTIONS_INIT;
    so.rescore = PVEC_RESCORE_EXACT;
    uint64_t batch_reads = 0;
    so.rescored = &batch_reads;
    std::vector<int64_t> ids(nq * kK);
    std::vector<float> scores(nq * kK);
    std::vector<std::size_t> found(nq);
    PV_OK(pvec_search_batch(c, qs.data(), nq, kDim, kK, &so, ids.data(), scores.data(),
                            found.data(), nullptr));
    uint64_t single_reads = 0;
    for (std::size_t q = 0; q < nq; ++q) {
        std::vector<int64_t> one;
        std::vector<float> one_scores;
        uint64_t reads = 0;
        ASSERT_EQ(exact_search(c, qs.data() + q * kDim, kK, &one, &one_scores, &reads), PVEC_OK);
        single_reads += reads;
        ASSERT_EQ(found[q], kK);
        EXPECT_TRUE(std::equal(one.begin(), one.end(), ids.begin() + q * kK));
        EXPECT_TRUE(std::equal(one_scores.begin(), one_scores.end(), scores.begin() + q * kK));
    }
    EXPECT_EQ(batch_reads, single_reads);
    // k above the count: every item, exactly ranked.
    std::vector<int64_t> all;
    std::vector<float> all_scores;
    uint64_t reads = 0;
    ASSERT_EQ(exact_search(c, qs.data(), kCount + 5, &all, &all_scores, &reads), PVEC_OK);
    EXPECT_EQ(all.size(), kCount);
    EXPECT_EQ(reads, kCount);
    // The other modes report their reads too: r x k candidates with PVEC_RESCORE_RAW, none
    // without rescoring.
    so.rescore = PVEC_RESCORE_RAW;
    so.oversample = 4;
    PV_OK(pvec_search(c, qs.data(), kDim, kK, &so, ids.data(), scores.data(), found.data(), nullptr));
    EXPECT_EQ(batch_reads, 4 * kK);
    so.rescore = PVEC_RESCORE_NONE;
    PV_OK(pvec_search(c, qs.data(), kDim, kK, &so, ids.data(), scores.data(), found.data(), nullptr));
    EXPECT_EQ(batch_reads, 0u);
    // A 0.1 caller's struct (no reserved, no rescored) still asks for exact results.
    pvec_search_options old = PVEC_SEARCH_OPTIONS_INIT;
    old.rescore = PVEC_RESCORE_EXACT;
    old.struct_size = 20;
    old.rescored = &batch_reads;  // past the caller's struct: never read, never written
    batch_reads = 777;
    PV_OK(pvec_search(c, qs.data(), kDim, kK, &old, ids.data(), scores.data(), found.data(), nullptr));
    EXPECT_EQ(batch_reads, 777u);
    std::vector<int64_t> first;
    std::vector<float> first_scores;
    ASSERT_EQ(exact_search(c, qs.data(), kK, &first, &first_scores, &reads), PVEC_OK);
    EXPECT_TRUE(std::equal(first.begin(), first.end(), ids.begin()));
    // reserved must be 0.
    so.reserved = 1;
    EXPECT_EQ(pvec_search(c, qs.data(), kDim, kK, &so, ids.data(), scores.data(), found.data(),
                          nullptr),
              PVEC_MISUSE);
    // Every item deleted: a trained collection with nothing to find.
    PV_OK(pvec_db_begin(db, nullptr));
    for (std::size_t i = 0; i < kCount; ++i) {
        PV_OK(pvec_delete(c, int64_t(1000 + i), nullptr));
    }
    PV_OK(pvec_db_commit(db, nullptr));
    ASSERT_EQ(exact_search(c, qs.data(), kK, &all, &all_scores, &reads), PVEC_OK);
    EXPECT_TRUE(all.empty());
    EXPECT_EQ(reads, 0u);
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}

TEST(ExactCodesApi, RefusesWhereItCannotPromiseExactResults) {
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    const auto v = clustered(600, 3);
    const float *q = v.data();
    std::vector<int64_t> ids;
    std::vector<float> scores;
    uint64_t reads = 99;
    pvec_search_options so = PVEC_SEARCH_OPTIONS_INIT;
    so.rescore = PVEC_RESCORE_EXACT;
    so.rescored = &reads;
    std::vector<int64_t> out(kK);
    std::size_t n = 0;
    char *err = nullptr;
    // No raw tier: nothing to rescore from.
    {
        pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
        o.dim = kDim;
        o.codec = "int8";
        pvec_collection *c = nullptr;
        PV_OK(pvec_collection_create(db, "noraw", &o, &c, nullptr));
        std::vector<int64_t> id(600);
        std::iota(id.begin(), id.end(), int64_t{0});
        PV_OK(pvec_add_batch(c, 600, id.data(), v.data(), kDim, nullptr, nullptr));
        PV_OK(pvec_collection_train(c, nullptr, nullptr));
        EXPECT_EQ(pvec_search(c, q, kDim, kK, &so, out.data(), nullptr, &n, &err), PVEC_UNSUPPORTED);
        EXPECT_NE(std::string(err).find("raw tier"), std::string::npos) << err;
        pvec_free(err);
        err = nullptr;
        EXPECT_EQ(n, 0u);
        EXPECT_EQ(reads, 99u);
        pvec_collection_close(c);
    }
    // Binary codes: a Hamming rank bounds nothing.
    {
        pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
        o.dim = kDim;
        o.codec = "binary";
        o.raw_tier = PVEC_RAW_F32;
        pvec_collection *c = nullptr;
        PV_OK(pvec_collection_create(db, "bin", &o, &c, nullptr));
        std::vector<int64_t> id(600);
        std::iota(id.begin(), id.end(), int64_t{0});
        PV_OK(pvec_add_batch(c, 600, id.data(), v.data(), kDim, nullptr, nullptr));
        PV_OK(pvec_collection_train(c, nullptr, nullptr));
        EXPECT_EQ(pvec_search(c, q, kDim, kK, &so, out.data(), nullptr, &n, &err), PVEC_UNSUPPORTED);
        EXPECT_NE(std::string(err).find("binary"), std::string::npos) << err;
        pvec_free(err);
        err = nullptr;
        pvec_collection_close(c);
    }
    // Untrained: the search is exact anyway, and reads no raw vector.
    {
        pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
        o.dim = kDim;
        o.codec = "int8";
        o.train_threshold = PVEC_TRAIN_NEVER;
        pvec_collection *c = nullptr;
        PV_OK(pvec_collection_create(db, "plain", &o, &c, nullptr));
        std::vector<int64_t> id(600);
        std::iota(id.begin(), id.end(), int64_t{0});
        PV_OK(pvec_add_batch(c, 600, id.data(), v.data(), kDim, nullptr, nullptr));
        reads = 5;
        ASSERT_EQ(exact_search(c, q, kK, &ids, &scores, &reads), PVEC_OK);
        EXPECT_EQ(reads, 0u);
        std::vector<Item> items;
        for (std::size_t i = 0; i < 600; ++i) {
            items.push_back(Item{int64_t(i), std::vector<float>(v.begin() + i * kDim, v.begin() + (i + 1) * kDim)});
        }
        EXPECT_EQ(ids, oracle(items, q, kDim, PVEC_METRIC_COSINE, kK));
        pvec_collection_close(c);
    }
    // An unknown rescore value.
    so.rescore = PVEC_RESCORE_EXACT + 1;
    pvec_collection *c = open_coll(db, "plain");
    EXPECT_EQ(pvec_search(c, q, kDim, kK, &so, out.data(), nullptr, &n, nullptr), PVEC_INVALID);
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}

TEST(ExactCodesApi, ACollectionTrainedBeforeFormat4NeedsTrainingAgain) {
    PVTEST_SKIP_WITHOUT_DROP_COLUMN();
    TempDb tmp;
    const auto v = clustered(800, 8);
    {
        pvec_db *db = open_db(tmp.path());
        pvec_collection *c = trained(db, ExactCase{"int8", PVEC_METRIC_COSINE, 0, PVEC_RAW_ZSTD_F32}, v);
        pvec_collection_close(c);
        PV_OK(pvec_db_close(db));
    }
    // A format 2 file has no code errors; upgraded (2 -> 3 -> 4 -> 5), its collection keeps none.
    ASSERT_EQ(downgrade_to_format2(tmp.path()), 1);
    pvec_db *db = open_db(tmp.path());
    EXPECT_EQ(format_version_of(tmp.path()), 6);
    pvec_collection *c = open_coll(db, "c");
    std::vector<int64_t> ids;
    std::vector<float> scores;
    pvec_search_options so = PVEC_SEARCH_OPTIONS_INIT;
    so.rescore = PVEC_RESCORE_EXACT;
    std::vector<int64_t> out(kK);
    std::size_t n = 0;
    char *err = nullptr;
    EXPECT_EQ(pvec_search(c, v.data(), kDim, kK, &so, out.data(), nullptr, &n, &err), PVEC_UNSUPPORTED);
    EXPECT_NE(std::string(err).find("train it again"), std::string::npos) << err;
    pvec_free(err);
    // The other modes work as before; training again stores the errors.
    EXPECT_EQ(search_ids(c, v.data(), kDim, kK).size(), kK);
    PV_OK(pvec_collection_train(c, nullptr, nullptr));
    uint64_t reads = 0;
    ASSERT_EQ(exact_search(c, v.data(), kK, &ids, &scores, &reads), PVEC_OK);
    std::vector<Item> items;
    for (std::size_t i = 0; i < 800; ++i) {
        items.push_back(Item{int64_t(1000 + i), std::vector<float>(v.begin() + i * kDim, v.begin() + (i + 1) * kDim)});
    }
    EXPECT_EQ(ids, oracle(items, v.data(), kDim, PVEC_METRIC_COSINE, kK));
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}

// The sum columns of pocketvec's rows in `path` that lie outside the signed 32-bit range (format 4
// wrote them unsigned, format 5 signed) and those that are negative.
std::pair<int64_t, int64_t> sum_columns(const std::string &path) {
    sqlite3 *conn = nullptr;
    EXPECT_EQ(sqlite3_open(path.c_str(), &conn), SQLITE_OK);
    sqlite3_stmt *s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(conn,
                                 "SELECT sum(sum > 2147483647 OR sum < -2147483648), sum(sum < 0) "
                                 "FROM pvec_c1_items", -1, &s, nullptr),
              SQLITE_OK);
    EXPECT_EQ(sqlite3_step(s), SQLITE_ROW);
    const std::pair<int64_t, int64_t> r{sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1)};
    sqlite3_finalize(s);
    sqlite3_close(conn);
    return r;
}

TEST(ExactCodesApi, AFormat4FileIsUpgradedAndAnswersExactlyAsBefore) {
    TempDb tmp;
    const auto v = clustered(1200, 31);
    std::vector<std::vector<int64_t>> want_ids;
    std::vector<std::vector<float>> want_scores;
    {
        pvec_db *db = open_db(tmp.path());
        pvec_collection *c = trained(db, ExactCase{"int8", PVEC_METRIC_DOT, 0, PVEC_RAW_F32}, v);
        for (std::size_t qi = 0; qi < 8; ++qi) {
            std::vector<int64_t> ids;
            std::vector<float> scores;
            ASSERT_EQ(exact_search(c, v.data() + qi * 131 * kDim, kK, &ids, &scores, nullptr), PVEC_OK);
            want_ids.push_back(ids);
            want_scores.push_back(scores);
        }
        pvec_collection_close(c);
        PV_OK(pvec_db_close(db));
    }
    // Format 5 writes sums as signed 32-bit values (about half of them negative).
    EXPECT_EQ(sum_columns(tmp.path()).first, 0);
    EXPECT_GT(sum_columns(tmp.path()).second, 300);
    ASSERT_EQ(downgrade_to_format4(tmp.path()), 5);
    EXPECT_EQ(format_version_of(tmp.path()), 4);
    EXPECT_GT(sum_columns(tmp.path()).first, 300);
    {
        pvec_open_options o = PVEC_OPEN_OPTIONS_INIT;
        o.flags = PVEC_OPEN_READONLY;
        pvec_db *db = nullptr;
        char *err = nullptr;
        EXPECT_EQ(pvec_db_open(tmp.c_str(), &o, &db, &err), PVEC_FORMAT);
        EXPECT_NE(std::string(err ? err : "").find("upgrade it to format 6"), std::string::npos) << err;
        pvec_free(err);
    }
    pvec_db *db = open_db(tmp.path());  // read-write: upgrades
    ASSERT_NE(db, nullptr);
    EXPECT_EQ(format_version_of(tmp.path()), 6);
    char *report = nullptr;
    EXPECT_EQ(pvec_db_check(db, &report, nullptr), PVEC_OK) << report;
    pvec_free(report);
    pvec_collection *c = open_coll(db, "c");
    for (std::size_t qi = 0; qi < 8; ++qi) {
        std::vector<int64_t> ids;
        std::vector<float> scores;
        ASSERT_EQ(exact_search(c, v.data() + qi * 131 * kDim, kK, &ids, &scores, nullptr), PVEC_OK);
        EXPECT_EQ(ids, want_ids[qi]) << "query " << qi;
        EXPECT_EQ(scores, want_scores[qi]) << "query " << qi;
    }
    // Rows written before the upgrade keep their unsigned sums and still verify.
    std::vector<float> back(kDim);
    PV_OK(pvec_get(c, 1000 + 77, back.data(), kDim, nullptr, nullptr));
    EXPECT_EQ(back, std::vector<float>(v.begin() + 77 * kDim, v.begin() + 78 * kDim));
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}

TEST(ExactCodesApi, TheFormat4UpgradeKeepsADamagedSlotDamaged) {
    TempDb tmp;
    const auto v = clustered(600, 41);
    {
        pvec_db *db = open_db(tmp.path());
        pvec_collection_close(trained(db, ExactCase{"int4", PVEC_METRIC_COSINE, 0, PVEC_RAW_F16}, v));
        PV_OK(pvec_db_close(db));
    }
    ASSERT_EQ(downgrade_to_format4(tmp.path()), 3);
    // One byte of slot 5's format 4 err in chunk 1 (float32 errs start after the sums).
    sqlite3 *conn = nullptr;
    ASSERT_EQ(sqlite3_open(tmp.c_str(), &conn), SQLITE_OK);
    const char *flip =
        "UPDATE pvec_c1_chunks SET data = substr(data, 1, 32 + 16 * 256 + 5 * 4 + 1) || "
        "x'7f' || substr(data, 32 + 16 * 256 + 5 * 4 + 3) WHERE id = 1";
    ASSERT_EQ(sqlite3_exec(conn, flip, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(conn);
    pvec_db *db = open_db(tmp.path());
    ASSERT_NE(db, nullptr);
    EXPECT_EQ(format_version_of(tmp.path()), 6);
    char *report = nullptr;
    EXPECT_EQ(pvec_db_check(db, &report, nullptr), PVEC_CORRUPT);
    EXPECT_NE(std::string(report ? report : "").find("chunk 1 slot 5"), std::string::npos) << report;
    pvec_free(report);
    pvec_collection *c = nullptr;
    char *err = nullptr;
    EXPECT_EQ(pvec_collection_open(db, "c", &c, &err), PVEC_CORRUPT);
    EXPECT_NE(std::string(err ? err : "").find("chunk 1 slot 5"), std::string::npos) << err;
    pvec_free(err);
    PV_OK(pvec_db_close(db));
}

TEST(ExactCodesApi, WritesAfterTrainingKeepTheAnswerExact) {
    // Items added, replaced and removed after training carry their own code errors.
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    const auto v = clustered(1600, 21);
    std::vector<float> first(v.begin(), v.begin() + 800 * kDim);
    pvec_collection *c = trained(db, ExactCase{"int4", PVEC_METRIC_L2, 0, PVEC_RAW_ZSTD_F32}, first);
    std::vector<int64_t> more(800);
    std::iota(more.begin(), more.end(), int64_t{1800});
    PV_OK(pvec_add_batch(c, 800, more.data(), v.data() + 800 * kDim, kDim, nullptr, nullptr));
    // Replace 100 old items with far-away vectors and remove 100 others.
    std::vector<Item> items;
    for (std::size_t i = 0; i < 1600; ++i) {
        const int64_t id = i < 800 ? int64_t(1000 + i) : int64_t(1800 + (i - 800));
        items.push_back(Item{id, std::vector<float>(v.begin() + i * kDim, v.begin() + (i + 1) * kDim)});
    }
    PV_OK(pvec_db_begin(db, nullptr));
    for (std::size_t i = 0; i < 100; ++i) {
        for (float &x : items[i].vec) {
            x = -3.0f * x;
        }
        PV_OK(pvec_upsert(c, items[i].id, items[i].vec.data(), kDim, nullptr, nullptr));
        PV_OK(pvec_delete(c, items[100 + i].id, nullptr));
    }
    PV_OK(pvec_db_commit(db, nullptr));
    items.erase(items.begin() + 100, items.begin() + 200);
    for (std::size_t qi = 0; qi < 10; ++qi) {
        const float *q = items[qi * 50].vec.data();
        std::vector<int64_t> ids;
        std::vector<float> scores;
        uint64_t reads = 0;
        ASSERT_EQ(exact_search(c, q, kK, &ids, &scores, &reads), PVEC_OK);
        EXPECT_EQ(ids, oracle(items, q, kDim, PVEC_METRIC_L2, kK)) << "query " << qi;
    }
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}
