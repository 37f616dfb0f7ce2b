// Streaming mode (pvec_collection_open_v2 with a memory cap): the same ids and scores as a resident
// handle on the same state, for every codec and metric, at caps from one chunk up; the same
// visibility rules; damage reported; bad options refused without changing anything.
#include <sqlite3.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "test_helpers.h"

namespace {

using namespace pvtest;

constexpr uint32_t kDim = 24;

int open_stream(pvec_db *db, const char *name, uint64_t cap, pvec_collection **out,
                std::string *msg = nullptr) {
    pvec_collection_open_options o = PVEC_COLLECTION_OPEN_OPTIONS_INIT;
    o.memory_cap = cap;
    char *err = nullptr;
    const int rc = pvec_collection_open_v2(db, name, &o, out, &err);
    if (msg) {
        *msg = err ? err : "";
    }
    pvec_free(err);
    return rc;
}

uint64_t min_cap(pvec_collection *c) {
    pvec_collection_info info;
    info.struct_size = sizeof info;
    EXPECT_EQ(pvec_collection_info_get(c, &info, nullptr), PVEC_OK);
    return info.min_memory_cap;
}

struct Result {
    int rc = PVEC_OK;
    std::vector<int64_t> ids;
    std::vector<float> scores;
    uint64_t rescored = 0;
};

Result run(pvec_collection *c, const std::vector<float> &queries, std::size_t nq, std::size_t k,
           uint32_t oversample, uint32_t rescore) {
    pvec_search_options o = PVEC_SEARCH_OPTIONS_INIT;
    o.oversample = oversample;
    o.rescore = rescore;
    Result r;
    o.rescored = &r.rescored;
    std::vector<int64_t> ids(nq * k, -1);
    std::vector<float> scores(nq * k, -1);
    std::vector<size_t> found(nq, 0);
    r.rc = pvec_search_batch(c, queries.data(), nq, kDim, k, &o, ids.data(), scores.data(),
                             found.data(), nullptr);
    for (std::size_t q = 0; q < nq; ++q) {
        for (std::size_t i = 0; i < found[q]; ++i) {
            r.ids.push_back(ids[q * k + i]);
            r.scores.push_back(scores[q * k + i]);
        }
        r.ids.push_back(-1);  // separates queries
    }
    return r;
}

Result run_one(pvec_collection *c, const float *q, std::size_t k) {
    Result r;
    std::vector<int64_t> ids(k);
    std::vector<float> scores(k);
    size_t n = 0;
    r.rc = pvec_search(c, q, kDim, k, nullptr, ids.data(), scores.data(), &n, nullptr);
    r.ids.assign(ids.begin(), ids.begin() + n);
    r.scores.assign(scores.begin(), scores.begin() + n);
    return r;
}

void expect_same(const Result &a, const Result &b, const std::string &what) {
    ASSERT_EQ(a.rc, PVEC_OK) << what;
    ASSERT_EQ(b.rc, PVEC_OK) << what;
    EXPECT_EQ(a.ids, b.ids) << what;
    ASSERT_EQ(a.scores.size(), b.scores.size()) << what;
    for (std::size_t i = 0; i < a.scores.size(); ++i) {
        // Bit for bit: the same kernels over the same codes, merged under the same order.
        EXPECT_EQ(std::memcmp(&a.scores[i], &b.scores[i], sizeof(float)), 0)
            << what << " score " << i << ": " << a.scores[i] << " vs " << b.scores[i];
    }
    EXPECT_EQ(a.rescored, b.rescored) << what;
}

// 2000 items over 8 chunks added in batches, every 7th deleted (free slots inside chunks).
void fill(pvec_collection *c, uint32_t seed, int64_t first_id = 0) {
    const std::size_t n = 2000;
    const std::vector<float> v = gaussian_vectors(n, kDim, seed);
    std::vector<int64_t> ids(n);
    for (std::size_t i = 0; i < n; ++i) {
        ids[i] = first_id + static_cast<int64_t>(i);
    }
    for (std::size_t b = 0; b < n; b += 500) {
        PV_OK(pvec_add_batch(c, 500, ids.data() + b, v.data() + b * kDim, kDim, nullptr, nullptr));
    }
    for (std::size_t i = 3; i < n; i += 7) {
        PV_OK(pvec_delete(c, ids[i], nullptr));
    }
}

pvec_collection *make(pvec_db *db, const char *name, const char *codec, uint32_t metric,
                      uint32_t raw_tier) {
    pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
    o.dim = kDim;
    o.metric = metric;
    o.codec = codec;
    o.raw_tier = raw_tier;
    o.train_threshold = PVEC_TRAIN_NEVER;
    pvec_collection *c = nullptr;
    EXPECT_EQ(pvec_collection_create(db, name, &o, &c, nullptr), PVEC_OK);
    return c;
}

struct Case {
    const char *codec;
    uint32_t metric;
};

class StreamingSame : public ::testing::TestWithParam<Case> {};

TEST_P(StreamingSame, IdsAndScoresAsResident) {
    const Case p = GetParam();
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    pvec_collection *res = make(db, "c", p.codec, p.metric, PVEC_RAW_F32);
    ASSERT_NE(res, nullptr);
    fill(res, 11);
    const bool trained = std::strcmp(p.codec, "f32") != 0;  // f16 has its model from the start
    if (trained) {
        PV_OK(pvec_collection_train(res, nullptr, nullptr));
    }
    const std::size_t nq = 5, k = 10;
    const std::vector<float> queries = gaussian_vectors(nq, kDim, 99);
    pvec_collection *probe = nullptr;
    ASSERT_EQ(open_stream(db, "c", 1ull << 30, &probe), PVEC_OK);
    const uint64_t least = min_cap(probe);
    pvec_collection_close(probe);
    ASSERT_GT(least, 0u);
    pvec_collection_info info;
    info.struct_size = sizeof info;
    PV_OK(pvec_collection_info_get(res, &info, nullptr));
    const uint64_t chunk = 6 * 1024 + 256ull * info.code_bytes;  // about one resident chunk
    // One chunk per window, a few, and everything in one window.
    for (uint64_t cap : {least, least + 3 * chunk, uint64_t{1} << 30}) {
        pvec_collection *st = nullptr;
        std::string msg;
        ASSERT_EQ(open_stream(db, "c", cap, &st, &msg), PVEC_OK) << msg;
        const std::string what = std::string(p.codec) + " metric " + std::to_string(p.metric) +
                                 " cap " + std::to_string(cap);
        expect_same(run(st, queries, nq, k, 0, PVEC_RESCORE_AUTO),
                    run(res, queries, nq, k, 0, PVEC_RESCORE_AUTO), what + " auto");
        expect_same(run(st, queries, nq, k, 4, PVEC_RESCORE_RAW),
                    run(res, queries, nq, k, 4, PVEC_RESCORE_RAW), what + " raw r4");
        expect_same(run(st, queries, nq, k, 3, PVEC_RESCORE_AUTO),
                    run(res, queries, nq, k, 3, PVEC_RESCORE_AUTO), what + " auto r3");
        expect_same(run(st, queries, nq, k, 4, PVEC_RESCORE_NONE),
                    run(res, queries, nq, k, 4, PVEC_RESCORE_NONE), what + " none");
        // k past the item count, and single searches.
        expect_same(run(st, queries, 1, 5000, 2, PVEC_RESCORE_AUTO),
                    run(res, queries, 1, 5000, 2, PVEC_RESCORE_AUTO), what + " k > count");
        expect_same(run_one(st, queries.data() + kDim, 7), run_one(res, queries.data() + kDim, 7),
                    what + " pvec_search");
        // Exact mode: the same candidates, rescored in the same order (`rescored` equal too),
        // widening scans included; binary codes carry no bound and are refused by both.
        const Result exact = run(st, queries, nq, k, 0, PVEC_RESCORE_EXACT);
        const Result resident_exact = run(res, queries, nq, k, 0, PVEC_RESCORE_EXACT);
        if (std::strcmp(p.codec, "binary") == 0) {
            EXPECT_EQ(exact.rc, PVEC_UNSUPPORTED) << what;
            EXPECT_EQ(resident_exact.rc, PVEC_UNSUPPORTED) << what;
        } else {
            expect_same(exact, resident_exact, what + " exact");
            expect_same(run(st, queries, 1, 3000, 0, PVEC_RESCORE_EXACT),
                        run(res, queries, 1, 3000, 0, PVEC_RESCORE_EXACT), what + " exact k > count");
            if (trained) {
                EXPECT_GT(exact.rescored, 0u) << what;
            }
        }
        uint64_t a = 0, b = 0;
        PV_OK(pvec_count(st, &a, nullptr));
        PV_OK(pvec_count(res, &b, nullptr));
        EXPECT_EQ(a, b);
        pvec_collection_info si;
        si.struct_size = sizeof si;
        PV_OK(pvec_collection_info_get(st, &si, nullptr));
        EXPECT_EQ(si.count, info.count);
        EXPECT_EQ(si.capacity, info.capacity);
        EXPECT_EQ(si.code_bytes, info.code_bytes);
        EXPECT_EQ(si.memory_cap, cap);
        EXPECT_EQ(info.memory_cap, 0u);
        pvec_collection_close(st);
    }
    pvec_collection_close(res);
    EXPECT_EQ(pvec_db_close(db), PVEC_OK);
}

INSTANTIATE_TEST_SUITE_P(
    Codecs, StreamingSame,
    ::testing::Values(Case{"f32", PVEC_METRIC_COSINE}, Case{"f32", PVEC_METRIC_DOT},
                      Case{"f32", PVEC_METRIC_L2}, Case{"int8", PVEC_METRIC_COSINE},
                      Case{"int8", PVEC_METRIC_DOT}, Case{"int8", PVEC_METRIC_L2},
                      Case{"int4", PVEC_METRIC_COSINE}, Case{"int4", PVEC_METRIC_L2},
                      Case{"binary", PVEC_METRIC_COSINE}, Case{"binary", PVEC_METRIC_L2},
                      Case{"f16", PVEC_METRIC_COSINE}, Case{"f16", PVEC_METRIC_DOT},
                      Case{"f16", PVEC_METRIC_L2}),
    [](const ::testing::TestParamInfo<Case> &i) {
        return std::string(i.param.codec) + "_" + std::to_string(i.param.metric);
    });

// The cap: below one chunk's need is PVEC_RANGE at open; exactly that is a one-chunk window.
TEST(Streaming, CapBelowOneChunkIsRange) {
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    pvec_collection *res = make(db, "c", "int8", PVEC_METRIC_COSINE, PVEC_RAW_NONE);
    fill(res, 5);
    pvec_collection *st = nullptr;
    ASSERT_EQ(open_stream(db, "c", 1ull << 30, &st), PVEC_OK);
    const uint64_t least_f32 = min_cap(st);
    pvec_collection_close(st);
    std::string msg;
    st = reinterpret_cast<pvec_collection *>(&msg);  // must come back NULL
    EXPECT_EQ(open_stream(db, "c", 1, &st, &msg), PVEC_RANGE);
    EXPECT_EQ(st, nullptr);
    EXPECT_NE(msg.find("memory_cap"), std::string::npos) << msg;
    EXPECT_EQ(open_stream(db, "c", least_f32 - 1, &st), PVEC_RANGE);
    ASSERT_EQ(open_stream(db, "c", least_f32, &st), PVEC_OK);
    // Training shrinks the codes (f32 -> int8): the need falls; the open handle keeps working.
    PV_OK(pvec_collection_train(res, nullptr, nullptr));
    EXPECT_LT(min_cap(st), least_f32);
    const std::vector<float> q = gaussian_vectors(1, kDim, 3);
    expect_same(run_one(st, q.data(), 10), run_one(res, q.data(), 10), "after training");
    pvec_collection_close(st);
    pvec_collection_close(res);
    EXPECT_EQ(pvec_db_close(db), PVEC_OK);
}

TEST(Streaming, BadOptionsAreMisuseAndChangeNothing) {
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    pvec_collection *res = make(db, "c", "f32", PVEC_METRIC_L2, PVEC_RAW_NONE);
    fill(res, 6);
    const uint64_t n = count(res);
    auto still_fine = [&]() {
        EXPECT_EQ(count(res), n);
        pvec_collection *st = nullptr;
        ASSERT_EQ(open_stream(db, "c", 1ull << 30, &st), PVEC_OK);
        EXPECT_EQ(count(st), n);
        pvec_collection_close(st);
    };
    pvec_collection_open_options o = PVEC_COLLECTION_OPEN_OPTIONS_INIT;
    o.memory_cap = 1ull << 30;
    pvec_collection *out = nullptr;
    EXPECT_EQ(pvec_collection_open_v2(nullptr, "c", &o, &out, nullptr), PVEC_MISUSE);
    EXPECT_EQ(out, nullptr);
    EXPECT_EQ(pvec_collection_open_v2(db, nullptr, &o, &out, nullptr), PVEC_MISUSE);
    EXPECT_EQ(pvec_collection_open_v2(db, "c", &o, nullptr, nullptr), PVEC_MISUSE);
    still_fine();
    for (uint32_t size : {0u, 4u, 8u, 15u}) {
        pvec_collection_open_options bad = o;
        bad.struct_size = size;
        char *err = nullptr;
        EXPECT_EQ(pvec_collection_open_v2(db, "c", &bad, &out, &err), PVEC_MISUSE) << size;
        EXPECT_NE(err, nullptr);
        pvec_free(err);
        EXPECT_EQ(out, nullptr);
    }
    still_fine();
    pvec_collection_open_options flags = o;
    flags.flags = 1;
    EXPECT_EQ(pvec_collection_open_v2(db, "c", &flags, &out, nullptr), PVEC_MISUSE);
    // A newer caller's larger struct: fine when its unknown fields are zero, refused otherwise.
    struct {
        pvec_collection_open_options base;
        uint64_t more;
    } newer{};
    newer.base = o;
    newer.base.struct_size = sizeof newer;
    ASSERT_EQ(pvec_collection_open_v2(db, "c", &newer.base, &out, nullptr), PVEC_OK);
    pvec_collection_close(out);
    newer.more = 7;
    EXPECT_EQ(pvec_collection_open_v2(db, "c", &newer.base, &out, nullptr), PVEC_MISUSE);
    EXPECT_EQ(out, nullptr);
    // NULL options and a zero cap: resident, the one shared copy.
    ASSERT_EQ(pvec_collection_open_v2(db, "c", nullptr, &out, nullptr), PVEC_OK);
    pvec_collection_info info;
    info.struct_size = sizeof info;
    PV_OK(pvec_collection_info_get(out, &info, nullptr));
    EXPECT_EQ(info.memory_cap, 0u);
    pvec_collection_close(out);
    EXPECT_EQ(open_stream(db, "missing", 1ull << 30, &out), PVEC_NOTFOUND);
    EXPECT_EQ(open_stream(db, "", 1ull << 30, &out), PVEC_INVALID);
    still_fine();
    pvec_collection_open_options_init(nullptr);  // a no-op
    pvec_collection_open_options init;
    std::memset(&init, 0xEE, sizeof init);
    pvec_collection_open_options_init(&init);
    EXPECT_EQ(init.struct_size, sizeof init);
    EXPECT_EQ(init.flags, 0u);
    EXPECT_EQ(init.memory_cap, 0u);
    pvec_collection_close(res);
    EXPECT_EQ(pvec_db_close(db), PVEC_OK);
}

// Streaming handles refuse writes (documented), and nothing changes.
TEST(Streaming, WritesAreUnsupported) {
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    pvec_collection *res = make(db, "c", "int8", PVEC_METRIC_DOT, PVEC_RAW_F32);
    fill(res, 8);
    PV_OK(pvec_collection_train(res, nullptr, nullptr));
    const uint64_t n = count(res);
    pvec_collection *st = nullptr;
    ASSERT_EQ(open_stream(db, "c", 1ull << 30, &st), PVEC_OK);
    const std::vector<float> v = gaussian_vectors(1, kDim, 1);
    const int64_t id = 100000;
    char *err = nullptr;
    EXPECT_EQ(pvec_add(st, id, v.data(), kDim, nullptr, &err), PVEC_UNSUPPORTED);
    ASSERT_NE(err, nullptr);
    EXPECT_NE(std::string(err).find("streaming"), std::string::npos) << err;
    pvec_free(err);
    EXPECT_EQ(pvec_upsert(st, 0, v.data(), kDim, nullptr, nullptr), PVEC_UNSUPPORTED);
    EXPECT_EQ(pvec_add_batch(st, 1, &id, v.data(), kDim, nullptr, nullptr), PVEC_UNSUPPORTED);
    EXPECT_EQ(pvec_delete(st, 0, nullptr), PVEC_UNSUPPORTED);
    EXPECT_EQ(pvec_collection_train(st, nullptr, nullptr), PVEC_UNSUPPORTED);
    void *blob = nullptr;
    size_t size = 0;
    ASSERT_EQ(pvec_model_export(st, &blob, &size, nullptr), PVEC_OK);  // reading works
    EXPECT_EQ(pvec_model_import(st, blob, size, nullptr), PVEC_UNSUPPORTED);
    pvec_free(blob);
    EXPECT_EQ(count(res), n);
    EXPECT_EQ(count(st), n);
    pvec_collection_close(st);
    pvec_collection_close(res);
    EXPECT_EQ(pvec_db_close(db), PVEC_OK);
}

// Another connection's commits are visible at the next streaming search; its own connection's
// uncommitted writes are visible inside the transaction, and gone after its rollback.
TEST(Streaming, SeesCommitsAndOwnTransaction) {
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    pvec_collection *res = make(db, "c", "int8", PVEC_METRIC_L2, PVEC_RAW_F32);
    fill(res, 9);
    PV_OK(pvec_collection_train(res, nullptr, nullptr));
    pvec_collection *st = nullptr;
    ASSERT_EQ(open_stream(db, "c", min_cap(res) + 64 * 1024, &st), PVEC_OK);
    const std::vector<float> q = gaussian_vectors(1, kDim, 4);
    const Result before = run_one(st, q.data(), 10);
    ASSERT_EQ(before.rc, PVEC_OK);

    // Another connection adds the query itself (nearest at distance ~0) and deletes the best.
    pvec_db *other = open_db(tmp.path());
    pvec_collection *oc = open_coll(other, "c");
    PV_OK(pvec_add(oc, 50000, q.data(), kDim, nullptr, nullptr));
    PV_OK(pvec_delete(oc, before.ids[0], nullptr));
    const Result after = run_one(st, q.data(), 10);
    ASSERT_EQ(after.rc, PVEC_OK);
    EXPECT_EQ(after.ids[0], 50000);
    EXPECT_EQ(std::count(after.ids.begin(), after.ids.end(), before.ids[0]), 0);
    expect_same(after, run_one(res, q.data(), 10), "after the other connection's commit");
    EXPECT_EQ(count(st), count(res));
    // The other connection retrains: new model, new codes; the streaming handle follows.
    PV_OK(pvec_collection_train(oc, nullptr, nullptr));
    expect_same(run_one(st, q.data(), 10), run_one(res, q.data(), 10), "after a retrain");

    // Own transaction: uncommitted writes through the resident handle show in streaming search.
    PV_OK(pvec_db_begin(db, nullptr));
    std::vector<float> q2(q);
    q2[0] += 0.001f;
    PV_OK(pvec_add(res, 60000, q2.data(), kDim, nullptr, nullptr));
    PV_OK(pvec_delete(res, 50000, nullptr));
    const Result inside = run_one(st, q.data(), 10);
    ASSERT_EQ(inside.rc, PVEC_OK);
    EXPECT_EQ(inside.ids[0], 60000);
    expect_same(inside, run_one(res, q.data(), 10), "inside the transaction");
    // Training inside the transaction, then rolled back: the streaming handle must not keep
    // the rolled-back model.
    PV_OK(pvec_collection_train(res, nullptr, nullptr));
    expect_same(run_one(st, q.data(), 10), run_one(res, q.data(), 10), "trained inside");
    PV_OK(pvec_db_rollback(db, nullptr));
    const Result rolled = run_one(st, q.data(), 10);
    expect_same(rolled, run_one(res, q.data(), 10), "after the rollback");
    EXPECT_EQ(rolled.ids[0], 50000);
    // The other connection cannot see what was rolled back either.
    expect_same(run_one(oc, q.data(), 10), rolled, "other connection");

    pvec_collection_close(oc);
    EXPECT_EQ(pvec_db_close(other), PVEC_OK);
    pvec_collection_close(st);
    pvec_collection_close(res);
    EXPECT_EQ(pvec_db_close(db), PVEC_OK);
}

// pvec_get through a streaming handle reads the item's one chunk: the same vector and metadata as
// a resident get, for exact codes, a raw tier, and reconstructed codes.
TEST(Streaming, GetAsResident) {
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    struct Kind {
        const char *name, *codec;
        uint32_t metric, raw;
    };
    for (const Kind &kind : {Kind{"f32", "f32", PVEC_METRIC_L2, PVEC_RAW_NONE},
                             Kind{"int8raw", "int8", PVEC_METRIC_DOT, PVEC_RAW_F16},
                             Kind{"int8", "int8", PVEC_METRIC_COSINE, PVEC_RAW_NONE}}) {
        pvec_collection *res = make(db, kind.name, kind.codec, kind.metric, kind.raw);
        fill(res, 21);
        const std::vector<float> v = gaussian_vectors(1, kDim, 5);
        PV_OK(pvec_upsert(res, 7, v.data(), kDim, "{\"k\": [1, 2]}", nullptr));
        if (std::strcmp(kind.codec, "f32") != 0) {
            PV_OK(pvec_collection_train(res, nullptr, nullptr));
        }
        pvec_collection *st = nullptr;
        ASSERT_EQ(open_stream(db, kind.name, min_cap(res), &st), PVEC_OK);
        for (int64_t id : {int64_t{0}, int64_t{7}, int64_t{1999}}) {
            std::vector<float> a(kDim), b(kDim);
            char *ma = nullptr, *mb = nullptr;
            PV_OK(pvec_get(st, id, a.data(), kDim, &ma, nullptr));
            PV_OK(pvec_get(res, id, b.data(), kDim, &mb, nullptr));
            EXPECT_EQ(std::memcmp(a.data(), b.data(), 4 * kDim), 0) << kind.name << " " << id;
            EXPECT_EQ(std::string(ma ? ma : "-"), std::string(mb ? mb : "-"));
            pvec_free(ma);
            pvec_free(mb);
        }
        std::vector<float> x(kDim);
        EXPECT_EQ(pvec_get(st, 3, x.data(), kDim, nullptr, nullptr), PVEC_NOTFOUND);  // deleted
        EXPECT_EQ(pvec_get(st, 7, x.data(), kDim - 1, nullptr, nullptr), PVEC_DIM);
        pvec_collection_close(st);
        pvec_collection_close(res);
    }
    EXPECT_EQ(pvec_db_close(db), PVEC_OK);
}

// A streaming handle opened first never loads the resident copy; a drop makes it NOTFOUND.
TEST(Streaming, CoexistsWithResidentAndSeesDrop) {
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    pvec_collection *res = make(db, "c", "f16", PVEC_METRIC_COSINE, PVEC_RAW_NONE);
    fill(res, 10);
    pvec_collection_close(res);
    EXPECT_EQ(pvec_db_close(db), PVEC_OK);
    db = open_db(tmp.path());
    pvec_collection *st = nullptr;
    ASSERT_EQ(open_stream(db, "c", 4ull << 20, &st), PVEC_OK);
    const std::vector<float> q = gaussian_vectors(1, kDim, 12);
    const Result first = run_one(st, q.data(), 10);
    ASSERT_EQ(first.rc, PVEC_OK);
    res = open_coll(db, "c");
    expect_same(first, run_one(res, q.data(), 10), "resident opened after");
    pvec_collection_close(res);
    PV_OK(pvec_collection_drop(db, "c", nullptr));
    EXPECT_EQ(run_one(st, q.data(), 10).rc, PVEC_NOTFOUND);
    uint64_t n = 0;
    EXPECT_EQ(pvec_count(st, &n, nullptr), PVEC_NOTFOUND);
    // A new collection of the same name is not the handle's.
    pvec_collection *again = make(db, "c", "f16", PVEC_METRIC_COSINE, PVEC_RAW_NONE);
    fill(again, 3);
    EXPECT_EQ(run_one(st, q.data(), 10).rc, PVEC_NOTFOUND);
    pvec_collection_close(again);
    pvec_collection_close(st);
    EXPECT_EQ(pvec_db_close(db), PVEC_OK);
}

// A damaged chunk: the streaming search fails with PVEC_CORRUPT naming it, never answers.
TEST(Streaming, DamagedChunkIsCorrupt) {
    TempDb tmp;
    int64_t cid = 0;
    {
        pvec_db *db = open_db(tmp.path());
        pvec_collection *res = make(db, "c", "int8", PVEC_METRIC_COSINE, PVEC_RAW_NONE);
        fill(res, 13);
        PV_OK(pvec_collection_train(res, nullptr, nullptr));
        pvec_collection_info info;
        info.struct_size = sizeof info;
        PV_OK(pvec_collection_info_get(res, &info, nullptr));
        cid = info.collection_id;
        pvec_collection_close(res);
        EXPECT_EQ(pvec_db_close(db), PVEC_OK);
    }
    {
        // Flip the last byte of chunk 5's blob (a code byte: its slot's checksum, or a free
        // slot's zero bytes, no longer hold).
        sqlite3 *conn = nullptr;
        ASSERT_EQ(sqlite3_open(tmp.c_str(), &conn), SQLITE_OK);
        sqlite3_blob *blob = nullptr;
        const std::string table = "pvec_c" + std::to_string(cid) + "_chunks";
        ASSERT_EQ(sqlite3_blob_open(conn, "main", table.c_str(), "data", 5, 1, &blob), SQLITE_OK);
        const int bytes = sqlite3_blob_bytes(blob);
        unsigned char b = 0;
        ASSERT_EQ(sqlite3_blob_read(blob, &b, 1, bytes - 1), SQLITE_OK);
        b ^= 0x5A;
        ASSERT_EQ(sqlite3_blob_write(blob, &b, 1, bytes - 1), SQLITE_OK);
        sqlite3_blob_close(blob);
        sqlite3_close(conn);
    }
    pvec_db *db = open_db(tmp.path());
    pvec_collection *st = nullptr;
    ASSERT_EQ(open_stream(db, "c", 4ull << 20, &st), PVEC_OK);  // opening reads no chunk
    const std::vector<float> q = gaussian_vectors(3, kDim, 2);
    std::vector<int64_t> ids(30);
    std::vector<size_t> found(3, 9);
    char *err = nullptr;
    EXPECT_EQ(pvec_search_batch(st, q.data(), 3, kDim, 10, nullptr, ids.data(), nullptr,
                                found.data(), &err),
              PVEC_CORRUPT);
    ASSERT_NE(err, nullptr);
    EXPECT_NE(std::string(err).find("chunk 5"), std::string::npos) << err;
    pvec_free(err);
    EXPECT_EQ(found, std::vector<size_t>(3, 0));
    // The resident open finds the same damage.
    pvec_collection *res = nullptr;
    EXPECT_EQ(pvec_collection_open(db, "c", &res, nullptr), PVEC_CORRUPT);
    pvec_collection_close(st);
    EXPECT_EQ(pvec_db_close(db), PVEC_OK);
}

// On the application's connection (pvec_db_attach) a streaming search turns the memory map off
// while it reads and restores the application's setting after.
TEST(Streaming, AttachedConnectionKeepsItsMmapSetting) {
    TempDb tmp;
    sqlite3 *conn = nullptr;
    ASSERT_EQ(sqlite3_open(tmp.c_str(), &conn), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(conn, "PRAGMA mmap_size = 1048576", nullptr, nullptr, nullptr), SQLITE_OK);
    auto mmap_size = [&]() {
        sqlite3_stmt *st = nullptr;
        EXPECT_EQ(sqlite3_prepare_v2(conn, "PRAGMA mmap_size", -1, &st, nullptr), SQLITE_OK);
        EXPECT_EQ(sqlite3_step(st), SQLITE_ROW);
        const int64_t v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return v;
    };
    const int64_t before = mmap_size();
    pvec_db *db = nullptr;
    ASSERT_EQ(pvec_db_attach(conn, nullptr, &db, nullptr), PVEC_OK);
    pvec_collection *res = make(db, "c", "int8", PVEC_METRIC_L2, PVEC_RAW_F32);
    fill(res, 31);
    PV_OK(pvec_collection_train(res, nullptr, nullptr));
    pvec_collection *st = nullptr;
    ASSERT_EQ(open_stream(db, "c", 8ull << 20, &st), PVEC_OK);
    const std::vector<float> q = gaussian_vectors(4, kDim, 6);
    expect_same(run(st, q, 4, 10, 4, PVEC_RESCORE_AUTO), run(res, q, 4, 10, 4, PVEC_RESCORE_AUTO),
                "attached");
    EXPECT_EQ(mmap_size(), before);
    // Inside the application's own transaction: its uncommitted write is seen, then undone.
    ASSERT_EQ(sqlite3_exec(conn, "BEGIN", nullptr, nullptr, nullptr), SQLITE_OK);
    PV_OK(pvec_add(res, 90000, q.data(), kDim, nullptr, nullptr));
    EXPECT_EQ(run_one(st, q.data(), 1).ids, std::vector<int64_t>{90000});
    ASSERT_EQ(sqlite3_exec(conn, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
    expect_same(run_one(st, q.data(), 10), run_one(res, q.data(), 10), "after the app's rollback");
    EXPECT_EQ(mmap_size(), before);
    pvec_collection_close(st);
    pvec_collection_close(res);
    EXPECT_EQ(pvec_db_close(db), PVEC_OK);
    sqlite3_close(conn);
}

// Streaming searches from several threads on one handle, beside writes through a resident handle
// of the same pvec_db: serialised by the pvec_db's mutex, every call succeeds (no torn state).
TEST(Streaming, ThreadsAndAWriter) {
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    pvec_collection *res = make(db, "c", "int8", PVEC_METRIC_COSINE, PVEC_RAW_F32);
    fill(res, 41);
    PV_OK(pvec_collection_train(res, nullptr, nullptr));
    pvec_collection *st = nullptr;
    ASSERT_EQ(open_stream(db, "c", min_cap(res), &st), PVEC_OK);
    const std::vector<float> q = gaussian_vectors(8, kDim, 7);
    std::vector<int> rcs(3, PVEC_OK);
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&, t]() {
            for (int i = 0; i < 10 && rcs[t] == PVEC_OK; ++i) {
                rcs[t] = run(st, q, 8, 5, 2, PVEC_RESCORE_AUTO).rc;
            }
        });
    }
    threads.emplace_back([&]() {
        const std::vector<float> v = gaussian_vectors(20, kDim, 8);
        for (int i = 0; i < 20 && rcs[2] == PVEC_OK; ++i) {
            rcs[2] = pvec_add(res, 70000 + i, v.data() + i * kDim, kDim, nullptr, nullptr);
        }
    });
    for (std::thread &t : threads) {
        t.join();
    }
    EXPECT_EQ(rcs, std::vector<int>(3, PVEC_OK));
    expect_same(run(st, q, 8, 5, 2, PVEC_RESCORE_AUTO), run(res, q, 8, 5, 2, PVEC_RESCORE_AUTO),
                "after the threads");
    pvec_collection_close(st);
    pvec_collection_close(res);
    EXPECT_EQ(pvec_db_close(db), PVEC_OK);
}

}  // namespace
