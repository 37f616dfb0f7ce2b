// Out of memory at every allocation of a call: fail the N-th allocation (C++ operator new in the
// library, and SQLite's own allocator) for N = 0, 1, 2, ... until the call succeeds. Every failed
// call must return PVEC_NOMEM (or an I/O-class error SQLite reports for it) and change nothing:
// the same count and search results on this handle and on a fresh one.
#include <sqlite3.h>

#include <atomic>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <new>

#include "../durability/format2.h"
#include "../integration/test_helpers.h"

using namespace pvtest;

namespace {

std::atomic<long> g_countdown{-1};  // < 0: no failure; else fail when it reaches 0
std::atomic<long> g_failures{0};
long g_failed_calls = 0;  // calls that failed because of an injected allocation failure, in all

bool fail_now() {
    if (g_countdown.load(std::memory_order_relaxed) < 0) {
        return false;
    }
    if (g_countdown.fetch_sub(1) == 0) {
        g_failures++;
        return true;
    }
    return false;
}

// SQLite's allocator, wrapped so that it fails with the same countdown.
sqlite3_mem_methods g_sqlite_mem;
void *sq_malloc(int n) { return fail_now() ? nullptr : g_sqlite_mem.xMalloc(n); }
void *sq_realloc(void *p, int n) { return fail_now() ? nullptr : g_sqlite_mem.xRealloc(p, n); }

struct InstallSqliteHooks {
    InstallSqliteHooks() {
        sqlite3_config(SQLITE_CONFIG_GETMALLOC, &g_sqlite_mem);
        sqlite3_mem_methods m = g_sqlite_mem;
        m.xMalloc = sq_malloc;
        m.xRealloc = sq_realloc;
        sqlite3_config(SQLITE_CONFIG_MALLOC, &m);
    }
} g_install;

}  // namespace

void *operator new(std::size_t n) {
    if (fail_now()) {
        throw std::bad_alloc();
    }
    if (void *p = std::malloc(n ? n : 1)) {
        return p;
    }
    throw std::bad_alloc();
}
void *operator new[](std::size_t n) { return operator new(n); }
// The replaced operator new allocates with malloc, so free is its matching release.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void *p) noexcept { std::free(p); }
void operator delete[](void *p) noexcept { std::free(p); }
void operator delete(void *p, std::size_t) noexcept { std::free(p); }
void operator delete[](void *p, std::size_t) noexcept { std::free(p); }

namespace {

constexpr uint32_t kDim = 12;

struct State {
    uint64_t count;
    std::vector<std::vector<int64_t>> results;
    std::vector<std::string> collections;
};

std::vector<std::string> names_of(pvec_db *db) {
    char **names = nullptr;
    size_t n = 0;
    EXPECT_EQ(pvec_collection_list(db, &names, &n, nullptr), PVEC_OK);
    std::vector<std::string> out(names, names + n);
    pvec_free(names);
    return out;
}

State state_of(pvec_db *db, pvec_collection *c, const std::vector<float> &queries) {
    State s{count(c), {}, names_of(db)};
    pvec_search_options o = PVEC_SEARCH_OPTIONS_INIT;
    o.oversample = 1000;  // exact whatever the codes (rescored from the raw tier when trained)
    o.rescore = PVEC_RESCORE_AUTO;
    for (std::size_t q = 0; q < queries.size() / kDim; ++q) {
        std::vector<int64_t> ids(8);
        std::size_t n = 0;
        EXPECT_EQ(pvec_search(c, &queries[q * kDim], kDim, 8, &o, ids.data(), nullptr, &n, nullptr),
                  PVEC_OK);
        ids.resize(n);
        s.results.push_back(ids);
    }
    return s;
}

// Runs `op` with the N-th allocation failing, for N = 0, 1, ..., until it succeeds; after every
// failure the collection must be exactly as before, here and through a fresh handle.
template <class Op>
void fail_each_allocation(const std::string &path, pvec_db *db, pvec_collection *c, Op op,
                          const char *what) {
    SCOPED_TRACE(what);
    const auto queries = integer_vectors(4, kDim, 77);
    const State before = state_of(db, c, queries);
    long failures_seen = 0;
    for (long n = 0; n < 100000; ++n) {
        g_countdown = n;
        const int rc = op();
        g_countdown = -1;
        if (rc == PVEC_OK) {
            break;
        }
        ++failures_seen;
        ++g_failed_calls;
        ASSERT_TRUE(rc == PVEC_NOMEM || rc == PVEC_IO || rc == PVEC_ERROR)
            << "allocation " << n << ": " << pvec_errstr(rc);
        const State after = state_of(db, c, queries);
        ASSERT_EQ(after.count, before.count) << "allocation " << n;
        ASSERT_EQ(after.results, before.results) << "allocation " << n;
        ASSERT_EQ(after.collections, before.collections) << "allocation " << n;
        {  // and through a fresh handle: the file holds the committed state
            pvec_db *fresh = open_db(path);
            pvec_collection *fc = open_coll(fresh, "c");
            const State f = state_of(fresh, fc, queries);
            EXPECT_EQ(f.count, before.count) << "allocation " << n;
            EXPECT_EQ(f.results, before.results) << "allocation " << n;
            EXPECT_EQ(f.collections, before.collections) << "allocation " << n;
            pvec_collection_close(fc);
            pvec_db_close(fresh);
        }
    }
    EXPECT_GT(failures_seen, 0);
    std::printf("%s: %ld failing allocation points, each left the collection unchanged\n", what,
                failures_seen);
}

}  // namespace

TEST(OutOfMemory, WritesAndTrainingChangeNothingWhenAnAllocationFails) {
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
    o.dim = kDim;
    o.metric = PVEC_METRIC_L2;
    o.codec = "int8";
    o.raw_tier = PVEC_RAW_ZSTD_F32;
    o.train_threshold = PVEC_TRAIN_NEVER;
    pvec_collection *c = nullptr;
    PV_OK(pvec_collection_create(db, "c", &o, &c, nullptr));
    auto v = integer_vectors(300, kDim, 1);
    std::vector<int64_t> ids(300);
    for (int i = 0; i < 300; ++i) {
        ids[i] = i;
    }
    PV_OK(pvec_add_batch(c, 300, ids.data(), v.data(), kDim, nullptr, nullptr));

    auto more = integer_vectors(40, kDim, 2);
    std::vector<int64_t> more_ids(40);
    for (int i = 0; i < 40; ++i) {
        more_ids[i] = 1000 + i;
    }
    fail_each_allocation(tmp.path(), db, c, [&] {
        return pvec_add_batch(c, 40, more_ids.data(), more.data(), kDim, nullptr, nullptr);
    }, "add_batch");
    fail_each_allocation(tmp.path(), db, c, [&] {
        return pvec_add(c, 1100, &more[2 * kDim], kDim, "{\"title\": \"a note\", \"tags\": [1, 2]}",
                        nullptr);
    }, "add with metadata");
    fail_each_allocation(tmp.path(), db, c, [&] { return pvec_delete(c, 5, nullptr); }, "delete");
    fail_each_allocation(tmp.path(), db, c, [&] {
        pvec_collection_options co = PVEC_COLLECTION_OPTIONS_INIT;
        co.dim = 40;
        co.codec = "binary";
        co.raw_tier = PVEC_RAW_F16;  // raw vectors per chunk: their writes fail in turn below
        pvec_collection *d = nullptr;
        const int rc = pvec_collection_create(db, "d", &co, &d, nullptr);
        pvec_collection_close(d);
        return rc;
    }, "create");
    fail_each_allocation(tmp.path(), db, c, [&] {
        pvec_collection *d = nullptr;
        int rc = pvec_collection_open(db, "d", &d, nullptr);
        if (rc == PVEC_OK) {
            auto dv = integer_vectors(64, 40, 9);
            std::vector<int64_t> did(64);
            for (int i = 0; i < 64; ++i) {
                did[i] = i;
            }
            rc = pvec_add_batch(d, 64, did.data(), dv.data(), 40, nullptr, nullptr);
        }
        pvec_collection_close(d);
        return rc;
    }, "open and add_batch into a second collection");
    fail_each_allocation(tmp.path(), db, c, [&] { return pvec_collection_drop(db, "d", nullptr); },
                         "drop");
    fail_each_allocation(tmp.path(), db, c, [&] { return pvec_collection_train(c, nullptr, nullptr); },
                         "train");
    fail_each_allocation(tmp.path(), db, c, [&] {
        return pvec_upsert(c, 7, &more[0], kDim, nullptr, nullptr);
    }, "upsert into a trained collection");
    fail_each_allocation(tmp.path(), db, c, [&] { return reimport_own_model(c); },
                         "model export and import");
    // Inside an explicit transaction a failed call undoes only itself; when SQLite ends the
    // whole transaction on SQLITE_NOMEM instead, the call says so, later writes are refused
    // until pvec_db_rollback, and the state is the committed one (here the same as before).
    PV_OK(pvec_db_begin(db, nullptr));
    long aborted = 0;
    fail_each_allocation(tmp.path(), db, c, [&] {
        char *err = nullptr;
        const int rc = pvec_upsert(c, 2000, &more[kDim], kDim, nullptr, &err);
        if (rc != PVEC_OK && err && std::strstr(err, "rolled back the whole transaction")) {
            ++aborted;
            EXPECT_EQ(pvec_upsert(c, 2001, &more[kDim], kDim, nullptr, nullptr), PVEC_MISUSE);
            EXPECT_EQ(pvec_db_rollback(db, nullptr), PVEC_OK);
            // SQLite may report the out-of-memory once more on the next BEGIN: a failed begin
            // leaves no transaction, and the application tries again.
            int brc = PVEC_NOMEM;
            for (int attempt = 0; attempt < 3 && brc == PVEC_NOMEM; ++attempt) {
                brc = pvec_db_begin(db, nullptr);
            }
            EXPECT_EQ(brc, PVEC_OK);
        }
        pvec_free(err);
        return rc;
    }, "upsert inside a transaction");
    std::printf("  of which %ld ended the transaction (reported, then restarted)\n", aborted);
    PV_OK(pvec_db_commit(db, nullptr));
    EXPECT_EQ(count(c), 300u + 40u + 1u - 1u + 1u);
    std::printf("allocation failures injected across the write paths: %ld\n", g_failed_calls);
    EXPECT_GE(g_failed_calls, 2000) << "too few allocation failures to mean much";
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}

// Opening a format 2 file read-write upgrades it in one transaction; with any allocation of that
// open failing, the open fails with PVEC_NOMEM (or the I/O-class code SQLite gives) and the file
// is either still format 2 or fully upgraded, answering as before either way.
TEST(OutOfMemory, AFailedUpgradeLeavesAUsableFile) {
    PVTEST_SKIP_WITHOUT_DROP_COLUMN();
    TempDb base, work("_work");
    {
        pvec_db *db = open_db(base.path());
        pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
        o.dim = kDim;
        o.codec = "int8";
        o.raw_tier = PVEC_RAW_ZSTD_F32;
        pvec_collection *c = nullptr;
        PV_OK(pvec_collection_create(db, "c", &o, &c, nullptr));
        auto v = integer_vectors(120, kDim, 3);
        std::vector<int64_t> ids(120);
        for (int i = 0; i < 120; ++i) {
            ids[i] = i;
        }
        PV_OK(pvec_add_batch(c, 120, ids.data(), v.data(), kDim, nullptr, nullptr));
        PV_OK(pvec_collection_train(c, nullptr, nullptr));
        pvec_collection_close(c);
        PV_OK(pvec_db_close(db));
    }
    const auto queries = integer_vectors(4, kDim, 77);
    State want;
    {
        pvec_db *db = open_db(base.path());
        pvec_collection *c = open_coll(db, "c");
        want = state_of(db, c, queries);
        pvec_collection_close(c);
        PV_OK(pvec_db_close(db));
    }
    ASSERT_EQ(downgrade_to_format2(base.path()), 1);
    long failures_seen = 0;
    for (long n = 0; n < 100000; ++n) {
        std::filesystem::copy_file(base.path(), work.path(),
                                   std::filesystem::copy_options::overwrite_existing);
        pvec_db *db = nullptr;
        g_countdown = n;
        const int rc = pvec_db_open(work.c_str(), nullptr, &db, nullptr);
        g_countdown = -1;
        pvec_db_close(db);
        if (rc == PVEC_OK) {
            break;
        }
        ++failures_seen;
        ++g_failed_calls;
        ASSERT_TRUE(rc == PVEC_NOMEM || rc == PVEC_IO || rc == PVEC_ERROR)
            << "allocation " << n << ": " << pvec_errstr(rc);
        const int version = format_version_of(work.path());
        ASSERT_TRUE(version == 2 || version == 4) << "allocation " << n;
        {  // usable, and answering as before
            db = open_db(work.path());
            pvec_collection *c = open_coll(db, "c");
            const State got = state_of(db, c, queries);
            EXPECT_EQ(got.count, want.count) << "allocation " << n;
            EXPECT_EQ(got.results, want.results) << "allocation " << n;
            pvec_collection_close(c);
            pvec_db_close(db);
        }
    }
    EXPECT_GT(failures_seen, 0);
    std::printf("open+upgrade: %ld failing allocation points, each left a usable file\n",
                failures_seen);
}

// A parallel scan (on the scan pool's threads) whose allocations fail reports PVEC_NOMEM or
// answers with the same results; it never crashes, hangs or answers wrongly.
TEST(OutOfMemory, ParallelScanFallsBackToFewerThreads) {
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    pvec_collection *c = create(db, "c", 8, PVEC_METRIC_L2);
    const std::size_t n = 256 * 160;  // enough blocks for two scan threads
    auto v = integer_vectors(n, 8, 4);
    std::vector<int64_t> ids(n);
    for (std::size_t i = 0; i < n; ++i) {
        ids[i] = static_cast<int64_t>(i);
    }
    PV_OK(pvec_add_batch(c, n, ids.data(), v.data(), 8, nullptr, nullptr));
    const auto q = integer_vectors(1, 8, 5);
    pvec_search_options o = PVEC_SEARCH_OPTIONS_INIT;
    o.threads = 2;
    int64_t want[10], got[10];
    std::size_t nw = 0, ng = 0;
    PV_OK(pvec_search(c, q.data(), 8, 10, &o, want, nullptr, &nw, nullptr));
    long ok_with_failure = 0, nomem = 0;
    for (long k = 0; k < 200; ++k) {
        const long before = g_failures.load();
        g_countdown = k;
        const int rc = pvec_search(c, q.data(), 8, 10, &o, got, nullptr, &ng, nullptr);
        g_countdown = -1;
        const bool injected = g_failures.load() > before;
        if (rc == PVEC_OK) {
            ASSERT_EQ(ng, nw);
            EXPECT_TRUE(std::equal(got, got + ng, want)) << "allocation " << k;
            ok_with_failure += injected;
            if (!injected) {
                break;  // past the last allocation of a search
            }
        } else {
            ASSERT_EQ(rc, PVEC_NOMEM) << "allocation " << k;
            ++nomem;
        }
    }
    std::printf("parallel scan: %ld failed allocations reported, %ld absorbed with the same "
                "results\n", nomem, ok_with_failure);
    EXPECT_GT(nomem, 0) << "no allocation of a parallel search was failed";
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}
