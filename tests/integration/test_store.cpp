// End to end through the C API: persistence, oracle equality, upsert, delete, rollback, explicit
// transactions, a second connection.
#include <map>

#include "test_helpers.h"

using namespace pvtest;

namespace {

constexpr std::size_t kDim = 33;  // odd: exercises every kernel tail

std::vector<Item> to_items(const std::vector<float> &v, std::size_t dim, int64_t first_id) {
    std::vector<Item> items;
    for (std::size_t i = 0; i < v.size() / dim; ++i) {
        items.push_back({first_id + int64_t(i), std::vector<float>(&v[i * dim], &v[i * dim] + dim)});
    }
    return items;
}

void add_all(pvec_collection *c, const std::vector<Item> &items, std::size_t dim) {
    std::vector<int64_t> ids;
    std::vector<float> vecs;
    for (const Item &it : items) {
        ids.push_back(it.id);
        vecs.insert(vecs.end(), it.vec.begin(), it.vec.end());
    }
    char *err = nullptr;
    ASSERT_EQ(pvec_add_batch(c, ids.size(), ids.data(), vecs.data(), dim, nullptr, &err), PVEC_OK)
        << (err ? err : "");
}

void expect_oracle(pvec_collection *c, const std::vector<Item> &items, uint32_t metric,
                   const std::vector<float> &queries, std::size_t k) {
    for (std::size_t q = 0; q < queries.size() / kDim; ++q) {
        const float *qv = &queries[q * kDim];
        const auto got = search_ids(c, qv, kDim, k);
        if (metric != PVEC_METRIC_COSINE) {
            EXPECT_EQ(got, oracle(items, qv, kDim, metric, k)) << "query " << q;
            continue;
        }
        // Cosine normalises in float: two items may swap only where their exact scores differ by
        // less than float rounding. So rank by rank, the exact score of what came back must equal
        // the oracle's, and the ids must be the oracle's wherever its scores are not that close.
        const auto exact = oracle_scores(items, qv, kDim, metric);
        std::map<int64_t, double> score_of;
        for (const auto &e : exact) {
            score_of[e.second] = e.first;
        }
        ASSERT_EQ(got.size(), k);
        for (std::size_t i = 0; i < k; ++i) {
            EXPECT_NEAR(score_of[got[i]], exact[i].first, 1e-6) << "query " << q << " rank " << i;
            const bool near_tie = (i > 0 && exact[i].first - exact[i - 1].first < 1e-6) ||
                                  (i + 1 < exact.size() && exact[i + 1].first - exact[i].first < 1e-6);
            if (!near_tie) {
                EXPECT_EQ(got[i], exact[i].second) << "query " << q << " rank " << i;
            }
        }
    }
}

class OracleTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(OracleTest, TenThousandItemsSurviveReopenAndMatchTheOracle) {
    TempDb tmp;
    const uint32_t metric = GetParam();
    // Integer data (exact sums, many real ties) for dot and l2; Gaussian data for cosine, whose
    // normalisation is not exact in any arithmetic.
    auto data = metric == PVEC_METRIC_COSINE ? gaussian_vectors(10000, kDim, 1)
                                             : integer_vectors(10000, kDim, 1);
    // Duplicated vectors under other ids: ties must come out by the smaller id.
    std::copy(data.begin(), data.begin() + 50 * kDim, data.begin() + 5000 * kDim);
    auto items = to_items(data, kDim, 1000);
    auto queries = metric == PVEC_METRIC_COSINE ? gaussian_vectors(40, kDim, 2)
                                                : integer_vectors(40, kDim, 2);
    std::copy(data.begin(), data.begin() + kDim, queries.begin());  // a query equal to an item
    {
        pvec_db *db = open_db(tmp.path());
        pvec_collection *c = create(db, "docs", kDim, metric);
        add_all(c, items, kDim);
        expect_oracle(c, items, metric, queries, 10);
        pvec_collection_close(c);
        PV_OK(pvec_db_close(db));
    }
    pvec_db *db = open_db(tmp.path());
    pvec_collection *c = open_coll(db, "docs");
    EXPECT_EQ(count(c), 10000u);
    expect_oracle(c, items, metric, queries, 10);
    expect_oracle(c, items, metric, queries, 100);
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}

INSTANTIATE_TEST_SUITE_P(Metrics, OracleTest,
                         ::testing::Values(PVEC_METRIC_COSINE, PVEC_METRIC_DOT, PVEC_METRIC_L2));

TEST(Store, ScoresFollowTheDocumentedDefinitions) {
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    const float a[2] = {3, 4}, q[2] = {1, 0};
    for (uint32_t metric : {PVEC_METRIC_COSINE, PVEC_METRIC_DOT, PVEC_METRIC_L2}) {
        const std::string name = "m" + std::to_string(metric);
        pvec_collection *c = create(db, name.c_str(), 2, metric);
        PV_OK(pvec_add(c, 7, a, 2, nullptr, nullptr));
        std::vector<float> scores;
        EXPECT_EQ(search_ids(c, q, 2, 1, &scores), std::vector<int64_t>{7});
        const float expected = metric == PVEC_METRIC_COSINE ? 1 - 0.6f
                               : metric == PVEC_METRIC_DOT  ? -3.0f
                                                            : std::sqrt(4.0f + 16.0f);
        EXPECT_NEAR(scores[0], expected, 1e-6) << name;
        pvec_collection_close(c);
    }
    PV_OK(pvec_db_close(db));
}

TEST(Store, UpsertReplacesVectorAndMetadata) {
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    pvec_collection *c = create(db, "u", kDim, PVEC_METRIC_L2);
    auto data = integer_vectors(300, kDim, 3);
    auto items = to_items(data, kDim, 0);
    add_all(c, items, kDim);
    auto fresh = integer_vectors(1, kDim, 4);
    PV_OK(pvec_upsert(c, 17, fresh.data(), kDim, "{\"v\":2}", nullptr));
    PV_OK(pvec_upsert(c, 5000, fresh.data(), kDim, nullptr, nullptr));  // a new id: an insert
    EXPECT_EQ(count(c), 301u);
    items[17].vec = fresh;
    items.push_back({5000, fresh});

    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
    db = open_db(tmp.path());
    c = open_coll(db, "u");
    EXPECT_EQ(count(c), 301u);
    std::vector<float> got(kDim);
    char *meta = nullptr;
    PV_OK(pvec_get(c, 17, got.data(), kDim, &meta, nullptr));
    EXPECT_EQ(got, fresh);
    ASSERT_NE(meta, nullptr);
    EXPECT_STREQ(meta, "{\"v\":2}");
    pvec_free(meta);
    // The old vector is gone: searching for it exactly must not find id 17 at distance 0.
    const float *old = &data[17 * kDim];
    EXPECT_EQ(search_ids(c, old, kDim, 10), oracle(items, old, kDim, PVEC_METRIC_L2, 10));
    // Upsert with NULL metadata clears it.
    PV_OK(pvec_upsert(c, 17, fresh.data(), kDim, nullptr, nullptr));
    PV_OK(pvec_get(c, 17, nullptr, 0, &meta, nullptr));
    EXPECT_EQ(meta, nullptr);
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}

TEST(Store, DeleteFreesSlotsForReuse) {
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    pvec_collection *c = create(db, "d", kDim, PVEC_METRIC_DOT);
    auto items = to_items(integer_vectors(600, kDim, 5), kDim, 0);
    add_all(c, items, kDim);
    pvec_collection_info info = {};
    info.struct_size = sizeof(info);
    PV_OK(pvec_collection_info_get(c, &info, nullptr));
    const uint64_t capacity = info.capacity;
    EXPECT_EQ(capacity, 608u);  // 256 + 256 + 96: the last chunk grows 32 slots at a time

    std::vector<Item> kept;
    for (const Item &it : items) {
        if (it.id % 3 == 0) {
            PV_OK(pvec_delete(c, it.id, nullptr));
        } else {
            kept.push_back(it);
        }
    }
    EXPECT_EQ(pvec_delete(c, 0, nullptr), PVEC_NOTFOUND);
    EXPECT_EQ(pvec_get(c, 3, nullptr, 0, nullptr, nullptr), PVEC_NOTFOUND);
    EXPECT_EQ(count(c), kept.size());
    auto q = integer_vectors(5, kDim, 6);
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(search_ids(c, &q[i * kDim], kDim, 20),
                  oracle(kept, &q[i * kDim], kDim, PVEC_METRIC_DOT, 20));
    }
    // As many new items as were deleted fit in the freed slots: no new chunk.
    auto more = to_items(integer_vectors(200, kDim, 7), kDim, 10000);
    add_all(c, more, kDim);
    kept.insert(kept.end(), more.begin(), more.end());
    PV_OK(pvec_collection_info_get(c, &info, nullptr));
    EXPECT_EQ(info.capacity, capacity);
    EXPECT_EQ(info.count, kept.size());

    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
    db = open_db(tmp.path());
    c = open_coll(db, "d");
    EXPECT_EQ(count(c), kept.size());
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(search_ids(c, &q[i * kDim], kDim, 20),
                  oracle(kept, &q[i * kDim], kDim, PVEC_METRIC_DOT, 20));
    }
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}

TEST(Store, RollbackLeavesNoTrace) {
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    pvec_collection *c = create(db, "r", kDim, PVEC_METRIC_L2);
    auto items = to_items(integer_vectors(500, kDim, 8), kDim, 0);
    add_all(c, items, kDim);
    auto q = integer_vectors(8, kDim, 9);
    std::vector<std::vector<int64_t>> before;
    for (int i = 0; i < 8; ++i) {
        before.push_back(search_ids(c, &q[i * kDim], kDim, 15));
    }

    pvec_collection_info info = {};
    info.struct_size = sizeof(info);
    PV_OK(pvec_collection_info_get(c, &info, nullptr));
    const uint64_t capacity = info.capacity;
    EXPECT_EQ(capacity, 512u);  // 500 items: 256 + 256 (the second chunk grew in steps of 32)

    PV_OK(pvec_db_begin(db, nullptr));
    // New items (some of them right on the queries), deletes, upserts, a new collection.
    auto extra = to_items(integer_vectors(700, kDim, 10), kDim, 100000);
    add_all(c, extra, kDim);
    PV_OK(pvec_add(c, 999999, &q[0], kDim, nullptr, nullptr));
    for (int64_t id = 0; id < 100; ++id) {
        PV_OK(pvec_delete(c, id, nullptr));
    }
    PV_OK(pvec_upsert(c, 200, &q[kDim], kDim, "{}", nullptr));
    pvec_collection *other = create(db, "other", 4, PVEC_METRIC_COSINE);
    pvec_collection_close(other);
    // The handle sees its own uncommitted writes.
    EXPECT_EQ(search_ids(c, &q[0], kDim, 1), std::vector<int64_t>{999999});
    PV_OK(pvec_db_rollback(db, nullptr));

    EXPECT_EQ(count(c), 500u);
    PV_OK(pvec_collection_info_get(c, &info, nullptr));
    EXPECT_EQ(info.capacity, capacity);
    for (int i = 0; i < 8; ++i) {
        EXPECT_EQ(search_ids(c, &q[i * kDim], kDim, 15), before[i]);
    }
    EXPECT_EQ(pvec_collection_open(db, "other", &other, nullptr), PVEC_NOTFOUND);
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));

    db = open_db(tmp.path());
    c = open_coll(db, "r");
    EXPECT_EQ(count(c), 500u);
    for (int i = 0; i < 8; ++i) {
        EXPECT_EQ(search_ids(c, &q[i * kDim], kDim, 15), before[i]);
    }
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}

TEST(Store, ChunkGrowthIsUndoneByRollbackAndSurvivesReopen) {
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    pvec_collection *c = create(db, "g", kDim, PVEC_METRIC_L2);
    auto items = to_items(integer_vectors(40, kDim, 31), kDim, 0);
    add_all(c, items, kDim);
    pvec_collection_info info = {};
    info.struct_size = sizeof(info);
    PV_OK(pvec_collection_info_get(c, &info, nullptr));
    EXPECT_EQ(info.capacity, 64u);
    PV_OK(pvec_db_begin(db, nullptr));
    add_all(c, to_items(integer_vectors(60, kDim, 32), kDim, 1000), kDim);  // grows to 128
    PV_OK(pvec_db_rollback(db, nullptr));
    PV_OK(pvec_collection_info_get(c, &info, nullptr));
    EXPECT_EQ(info.capacity, 64u);
    auto more = to_items(integer_vectors(30, kDim, 33), kDim, 2000);
    add_all(c, more, kDim);  // grows to 96 for real
    items.insert(items.end(), more.begin(), more.end());
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));

    db = open_db(tmp.path());
    c = open_coll(db, "g");
    PV_OK(pvec_collection_info_get(c, &info, nullptr));
    EXPECT_EQ(info.capacity, 96u);
    EXPECT_EQ(info.count, 70u);
    auto q = integer_vectors(4, kDim, 34);
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(search_ids(c, &q[i * kDim], kDim, 10),
                  oracle(items, &q[i * kDim], kDim, PVEC_METRIC_L2, 10));
    }
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}

TEST(Store, ExplicitTransactionCommitsAllAndSurvivesAFailedCall) {
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    pvec_collection *c = create(db, "t", kDim, PVEC_METRIC_L2);
    auto items = to_items(integer_vectors(1000, kDim, 11), kDim, 0);
    PV_OK(pvec_db_begin(db, nullptr));
    EXPECT_EQ(pvec_db_begin(db, nullptr), PVEC_MISUSE);
    for (const Item &it : items) {
        PV_OK(pvec_add(c, it.id, it.vec.data(), kDim, nullptr, nullptr));
    }
    // A failing call inside the transaction is undone alone; the transaction stays usable.
    std::vector<float> bad(kDim, 1.0f);
    bad[3] = NAN;
    EXPECT_EQ(pvec_add(c, 5000, bad.data(), kDim, nullptr, nullptr), PVEC_INVALID);
    EXPECT_EQ(pvec_add(c, 5, items[0].vec.data(), kDim, nullptr, nullptr), PVEC_EXISTS);
    PV_OK(pvec_db_commit(db, nullptr));
    EXPECT_EQ(pvec_db_commit(db, nullptr), PVEC_MISUSE);
    EXPECT_EQ(pvec_db_rollback(db, nullptr), PVEC_MISUSE);
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));

    db = open_db(tmp.path());
    c = open_coll(db, "t");
    EXPECT_EQ(count(c), 1000u);
    auto q = integer_vectors(5, kDim, 12);
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(search_ids(c, &q[i * kDim], kDim, 10),
                  oracle(items, &q[i * kDim], kDim, PVEC_METRIC_L2, 10));
    }
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}

TEST(Store, ASecondConnectionSeesCommittedWrites) {
    TempDb tmp;
    pvec_db *a = open_db(tmp.path());
    pvec_collection *ca = create(a, "shared", kDim, PVEC_METRIC_L2);
    auto items = to_items(integer_vectors(300, kDim, 13), kDim, 0);
    add_all(ca, items, kDim);

    pvec_db *b = open_db(tmp.path());
    pvec_collection *cb = open_coll(b, "shared");
    EXPECT_EQ(count(cb), 300u);
    auto more = to_items(integer_vectors(300, kDim, 14), kDim, 1000);
    add_all(ca, more, kDim);
    PV_OK(pvec_delete(ca, 0, nullptr));
    items.erase(items.begin());
    items.insert(items.end(), more.begin(), more.end());
    EXPECT_EQ(count(cb), 599u);
    auto q = integer_vectors(3, kDim, 15);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(search_ids(cb, &q[i * kDim], kDim, 10),
                  oracle(items, &q[i * kDim], kDim, PVEC_METRIC_L2, 10));
    }
    // A drop by the other connection shows as NOTFOUND.
    pvec_collection_close(ca);
    PV_OK(pvec_collection_drop(a, "shared", nullptr));
    uint64_t n;
    EXPECT_EQ(pvec_count(cb, &n, nullptr), PVEC_NOTFOUND);
    pvec_collection_close(cb);
    PV_OK(pvec_db_close(b));
    PV_OK(pvec_db_close(a));
}

TEST(Store, CollectionsListDropAndHostileNames) {
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    const char *names[] = {"plain", "x'); DROP TABLE pvec_collections; --", "semi;colon",
                           "quote\"d", "spaces and ünïcödé"};
    for (const char *n : names) {
        pvec_collection *c = create(db, n, 3, PVEC_METRIC_COSINE);
        const float v[3] = {1, 2, 3};
        PV_OK(pvec_add(c, 1, v, 3, nullptr, nullptr));
        pvec_collection_close(c);
    }
    char **list = nullptr;
    size_t n = 0;
    PV_OK(pvec_collection_list(db, &list, &n, nullptr));
    ASSERT_EQ(n, 5u);
    std::vector<std::string> got(list, list + n), want(std::begin(names), std::end(names));
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want);
    pvec_free(list);

    pvec_collection *c = open_coll(db, names[1]);
    PV_OK(pvec_collection_drop(db, names[1], nullptr));
    uint64_t cnt;
    EXPECT_EQ(pvec_count(c, &cnt, nullptr), PVEC_NOTFOUND);
    pvec_collection_close(c);
    EXPECT_EQ(pvec_collection_drop(db, names[1], nullptr), PVEC_NOTFOUND);
    PV_OK(pvec_collection_list(db, &list, &n, nullptr));
    EXPECT_EQ(n, 4u);
    pvec_free(list);
    PV_OK(pvec_db_close(db));
}

TEST(Store, CloseRefusesWhileHandlesAreOpen) {
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    pvec_collection *c = create(db, "h", 2, PVEC_METRIC_L2);
    EXPECT_EQ(pvec_db_close(db), PVEC_BUSY);
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
    EXPECT_EQ(pvec_db_close(nullptr), PVEC_OK);
}

}  // namespace

// pvec_db_check's contract on sound files: PVEC_OK with an empty report (report optional), on a
// read-write and a read-only handle, inside an explicit transaction (seeing its writes), and
// without changing anything; PVEC_MISUSE without a db. (Damaged files: tests/durability.)
TEST(DbCheck, ASoundFileChecksCleanEverywhere) {
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    char *report = reinterpret_cast<char *>(1);
    char *err = nullptr;
    EXPECT_EQ(pvec_db_check(nullptr, &report, &err), PVEC_MISUSE);
    EXPECT_EQ(report, nullptr);
    EXPECT_NE(err, nullptr);
    pvec_free(err);
    EXPECT_EQ(pvec_db_check(db, nullptr, nullptr), PVEC_OK);  // an empty file, no report wanted

    pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
    o.dim = 12;
    o.codec = "int8";
    o.raw_tier = PVEC_RAW_F16;
    o.train_threshold = PVEC_TRAIN_NEVER;
    pvec_collection *c = nullptr;
    PV_OK(pvec_collection_create(db, "notes", &o, &c, nullptr));
    const auto v = gaussian_vectors(300, 12, 5);
    std::vector<int64_t> ids(300);
    for (int i = 0; i < 300; ++i) {
        ids[i] = i * 7;
    }
    PV_OK(pvec_add_batch(c, 300, ids.data(), v.data(), 12, nullptr, nullptr));
    PV_OK(pvec_add(c, 5000, v.data(), 12, "{\"title\": \"n\\u00e9\"}", nullptr));
    PV_OK(pvec_collection_train(c, nullptr, nullptr));
    PV_OK(pvec_delete(c, 14, nullptr));
    pvec_collection *f = create(db, "exact", 5, PVEC_METRIC_L2);
    const auto w = integer_vectors(40, 5, 6);
    std::vector<int64_t> wid(40);
    for (int i = 0; i < 40; ++i) {
        wid[i] = 100 + i;
    }
    PV_OK(pvec_add_batch(f, 40, wid.data(), w.data(), 5, nullptr, nullptr));

    EXPECT_EQ(pvec_db_check(db, &report, nullptr), PVEC_OK);
    ASSERT_NE(report, nullptr);
    EXPECT_STREQ(report, "");
    pvec_free(report);

    // Inside a transaction: the check sees (and accepts) its uncommitted writes.
    PV_OK(pvec_db_begin(db, nullptr));
    PV_OK(pvec_delete(c, 0, nullptr));
    PV_OK(pvec_upsert(f, 100, &w[5], 5, "{\"k\": [1]}", nullptr));
    EXPECT_EQ(pvec_db_check(db, nullptr, nullptr), PVEC_OK);
    PV_OK(pvec_db_rollback(db, nullptr));
    EXPECT_EQ(count(c), 300u);  // 300 + 1 - 1: the rollback undid the delete, the check nothing

    pvec_collection_close(c);
    pvec_collection_close(f);
    PV_OK(pvec_db_close(db));
    pvec_db *ro = open_db(tmp.path(), PVEC_OPEN_READONLY);
    EXPECT_EQ(pvec_db_check(ro, &report, nullptr), PVEC_OK);
    EXPECT_STREQ(report, "");
    pvec_free(report);
    PV_OK(pvec_db_close(ro));
}
