// Many connections on one file: every handle's view equals the committed items, whoever wrote
// them. Each case of the store issue (foreign training, concurrent writers, drop and re-create,
// attached rollbacks, readers beside writer processes) is reproduced here through the C API.
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "../integration/test_helpers.h"

using namespace pvtest;

namespace {

constexpr uint32_t kDim = 16;

// The committed items of one collection, as the test believes them to be.
struct Model {
    std::map<int64_t, std::vector<float>> items;
    std::vector<Item> list() const {
        std::vector<Item> v;
        for (const auto &[id, vec] : items) {
            v.push_back(Item{id, vec});
        }
        return v;
    }
};

pvec_collection *create_opts(pvec_db *db, const char *name, const char *codec, uint32_t raw,
                             uint32_t metric = PVEC_METRIC_L2) {
    pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
    o.dim = kDim;
    o.metric = metric;
    o.codec = codec;
    o.raw_tier = raw;
    o.train_threshold = PVEC_TRAIN_NEVER;
    pvec_collection *c = nullptr;
    char *err = nullptr;
    int rc = pvec_collection_create(db, name, &o, &c, &err);
    EXPECT_EQ(rc, PVEC_OK) << (err ? err : "");
    pvec_free(err);
    return c;
}

void add(pvec_collection *c, Model *m, int64_t first, std::size_t n, uint32_t seed) {
    auto v = integer_vectors(n, kDim, seed);
    std::vector<int64_t> ids(n);
    for (std::size_t i = 0; i < n; ++i) {
        ids[i] = first + static_cast<int64_t>(i);
        m->items[ids[i]] = std::vector<float>(v.begin() + i * kDim, v.begin() + (i + 1) * kDim);
    }
    char *err = nullptr;
    int rc = pvec_add_batch(c, n, ids.data(), v.data(), kDim, nullptr, &err);
    ASSERT_EQ(rc, PVEC_OK) << (err ? err : "");
}

// Exact results whatever the codes: rescoring every item from the raw tier when trained.
std::vector<int64_t> exact_search(pvec_collection *c, const float *q, std::size_t k) {
    pvec_collection_info info = {};
    info.struct_size = sizeof info;
    EXPECT_EQ(pvec_collection_info_get(c, &info, nullptr), PVEC_OK);
    pvec_search_options o = PVEC_SEARCH_OPTIONS_INIT;
    if (info.trained && info.raw_tier) {
        o.oversample = static_cast<uint32_t>(info.count + 1);
        o.rescore = PVEC_RESCORE_RAW;
    }
    std::vector<int64_t> ids(k);
    std::size_t n = 0;
    char *err = nullptr;
    int rc = pvec_search(c, q, kDim, k, &o, ids.data(), nullptr, &n, &err);
    EXPECT_EQ(rc, PVEC_OK) << (err ? err : "");
    pvec_free(err);
    ids.resize(n);
    return ids;
}

// Every handle answers like the oracle over the committed items, and counts them right.
void expect_matches(const std::vector<pvec_collection *> &handles, const Model &m, uint32_t seed,
                    const char *step) {
    SCOPED_TRACE(step);
    const auto items = m.list();
    const auto queries = integer_vectors(6, kDim, seed);
    for (pvec_collection *c : handles) {
        EXPECT_EQ(count(c), items.size());
        for (int q = 0; q < 6; ++q) {
            const auto want = oracle(items, &queries[q * kDim], kDim, PVEC_METRIC_L2, 10);
            // Integer vectors tie often; compare the scores' multiset through the oracle's ids'
            // distances rather than exact id order when scores tie.
            const auto got = exact_search(c, &queries[q * kDim], 10);
            ASSERT_EQ(got.size(), want.size());
            auto dist = [&](int64_t id) {
                const auto &v = m.items.at(id);
                double s = 0;
                for (uint32_t i = 0; i < kDim; ++i) {
                    s += (double(queries[q * kDim + i]) - v[i]) * (double(queries[q * kDim + i]) - v[i]);
                }
                return s;
            };
            for (std::size_t i = 0; i < got.size(); ++i) {
                ASSERT_TRUE(m.items.count(got[i])) << "id " << got[i] << " is not committed";
                EXPECT_EQ(dist(got[i]), dist(want[i])) << "rank " << i;
            }
            EXPECT_EQ(got, want);  // ties break by the smaller id everywhere
        }
    }
}

int rc_of(int rc, char *err) {
    pvec_free(err);
    return rc;
}

}  // namespace

// Case 1: another connection's training must neither corrupt the file nor be missed.
TEST(MultiConnection, ForeignTrainingIsSeenAndNeverCorruptsTheFile) {
    TempDb tmp;
    pvec_db *a = open_db(tmp.path());
    pvec_collection *ca = create_opts(a, "c", "int8", PVEC_RAW_ZSTD_F32);
    Model m;
    add(ca, &m, 0, 300, 1);
    PV_OK(pvec_delete(ca, 3, nullptr));
    m.items.erase(3);
    pvec_db *b = open_db(tmp.path());
    pvec_collection *cb = open_coll(b, "c");
    PV_OK(pvec_collection_train(cb, nullptr, nullptr));
    expect_matches({ca, cb}, m, 7, "after B trained");
    // A writes after B's training: its codes must be int8 codes of B's model.
    add(ca, &m, 1000, 40, 2);
    expect_matches({ca, cb}, m, 8, "after A added");
    pvec_collection_close(ca);
    pvec_collection_close(cb);
    PV_OK(pvec_db_close(a));
    PV_OK(pvec_db_close(b));
    pvec_db *c = open_db(tmp.path());
    pvec_collection *cc = open_coll(c, "c");
    expect_matches({cc}, m, 9, "after reopen");
    for (int64_t id = 1004; id < 1008; ++id) {
        const auto &v = m.items.at(id);
        pvec_search_options o = PVEC_SEARCH_OPTIONS_INIT;
        o.oversample = 8;
        int64_t ids[1];
        std::size_t n = 0;
        PV_OK(pvec_search(cc, v.data(), kDim, 1, &o, ids, nullptr, &n, nullptr));
        ASSERT_EQ(n, 1u);
        std::vector<float> got(kDim);
        PV_OK(pvec_get(cc, ids[0], got.data(), kDim, nullptr, nullptr));
        EXPECT_EQ(got, v) << "item " << id << " is not its own nearest neighbour";
    }
    pvec_collection_close(cc);
    PV_OK(pvec_db_close(c));
}

// Case 2: two writers on two handles, one collection with free slots.
TEST(MultiConnection, TwoWriterThreadsOnTwoHandlesLoseNothing) {
    for (int run = 0; run < 6; ++run) {
        TempDb tmp;
        Model m;
        {
            pvec_db *db = open_db(tmp.path());
            pvec_collection *c = create_opts(db, "c", "f32", 0);
            add(c, &m, 0, 100, 3);
            for (int64_t id = 0; id < 100; id += 3) {
                PV_OK(pvec_delete(c, id, nullptr));
                m.items.erase(id);
            }
            pvec_collection_close(c);
            PV_OK(pvec_db_close(db));
        }
        Model parts[2];
        std::vector<std::thread> threads;
        std::atomic<int> failures{0};
        for (int t = 0; t < 2; ++t) {
            threads.emplace_back([&, t] {
                pvec_db *db = open_db(tmp.path());
                pvec_collection *c = open_coll(db, "c");
                for (int b = 0; b < 20; ++b) {
                    const int64_t first = 10000 * (t + 1) + b * 10;
                    auto v = integer_vectors(10, kDim, 100 * t + b);
                    std::vector<int64_t> ids(10);
                    for (int i = 0; i < 10; ++i) {
                        ids[i] = first + i;
                    }
                    int rc;
                    do {
                        rc = pvec_add_batch(c, 10, ids.data(), v.data(), kDim, nullptr, nullptr);
                    } while (rc == PVEC_BUSY);
                    if (rc != PVEC_OK) {
                        failures++;
                        continue;
                    }
                    for (int i = 0; i < 10; ++i) {
                        parts[t].items[ids[i]] =
                            std::vector<float>(v.begin() + i * kDim, v.begin() + (i + 1) * kDim);
                    }
                }
                pvec_collection_close(c);
                pvec_db_close(db);
            });
        }
        for (auto &th : threads) {
            th.join();
        }
        ASSERT_EQ(failures.load(), 0);
        for (auto &p : parts) {
            m.items.insert(p.items.begin(), p.items.end());
        }
        pvec_db *db = open_db(tmp.path());
        pvec_collection *c = open_coll(db, "c");
        ASSERT_NE(c, nullptr);
        expect_matches({c}, m, 10 + run, "after the writers");
        for (const auto &[id, vec] : m.items) {
            std::vector<float> got(kDim);
            ASSERT_EQ(pvec_get(c, id, got.data(), kDim, nullptr, nullptr), PVEC_OK);
            ASSERT_EQ(got, vec);
        }
        pvec_collection_close(c);
        PV_OK(pvec_db_close(db));
    }
}

// Case 3: a dropped collection's handle never serves its successor, which may get the same rowid.
TEST(MultiConnection, DroppedCollectionHandleReturnsNotFoundForever) {
    TempDb tmp;
    pvec_db *a = open_db(tmp.path());
    pvec_db *b = open_db(tmp.path());
    pvec_collection *notes = create_opts(a, "notes", "f32", 0);
    Model m;
    add(notes, &m, 1, 5, 4);
    PV_OK(pvec_collection_drop(b, "notes", nullptr));
    pvec_collection *pw = create_opts(b, "passwords", "f32", 0);
    const auto v = integer_vectors(1, kDim, 5);
    PV_OK(pvec_add(pw, 42, v.data(), kDim, "{\"secret\":1}", nullptr));
    pvec_collection_info ia = {}, ib = {};
    ia.struct_size = ib.struct_size = sizeof ia;
    PV_OK(pvec_collection_info_get(pw, &ib, nullptr));
    uint64_t n = 0;
    for (int round = 0; round < 2; ++round) {
        EXPECT_EQ(rc_of(pvec_count(notes, &n, nullptr), nullptr), PVEC_NOTFOUND);
        int64_t ids[4];
        std::size_t found = 0;
        EXPECT_EQ(pvec_search(notes, v.data(), kDim, 4, nullptr, ids, nullptr, &found, nullptr),
                  PVEC_NOTFOUND);
        EXPECT_EQ(found, 0u);
        char *meta = nullptr;
        EXPECT_EQ(pvec_get(notes, 42, nullptr, 0, &meta, nullptr), PVEC_NOTFOUND);
        EXPECT_EQ(meta, nullptr);
        EXPECT_EQ(pvec_add(notes, 7, v.data(), kDim, nullptr, nullptr), PVEC_NOTFOUND);
        EXPECT_EQ(pvec_delete(notes, 42, nullptr), PVEC_NOTFOUND);
        EXPECT_EQ(pvec_collection_info_get(notes, &ia, nullptr), PVEC_NOTFOUND);
        EXPECT_EQ(pvec_collection_train(notes, nullptr, nullptr), PVEC_NOTFOUND);
        // Re-create "notes" too: the old handle still sees nothing.
        if (round == 0) {
            pvec_collection *again = create_opts(b, "notes", "f32", 0);
            PV_OK(pvec_add(again, 1, v.data(), kDim, nullptr, nullptr));
            pvec_collection_close(again);
        }
    }
    // A handle opened now sees "passwords" only with its own data.
    pvec_collection *pa = open_coll(a, "passwords");
    EXPECT_EQ(count(pa), 1u);
    pvec_collection_close(pa);
    pvec_collection_close(notes);
    pvec_collection_close(pw);
    PV_OK(pvec_db_close(a));
    PV_OK(pvec_db_close(b));
}

// The same collection on two handles through every kind of change, f32 and trained int8 with raw
// vectors: after each step both handles answer like the oracle over the committed items.
class Interleavings : public ::testing::TestWithParam<const char *> {};

TEST_P(Interleavings, EveryHandleEqualsTheOracleAfterEveryStep) {
    TempDb tmp;
    const bool trained = std::string(GetParam()) != "f32";
    pvec_db *a = open_db(tmp.path());
    pvec_db *b = open_db(tmp.path());
    pvec_collection *ca = create_opts(a, "c", GetParam(), trained ? PVEC_RAW_ZSTD_F32 : 0);
    Model m;
    add(ca, &m, 0, 400, 11);
    pvec_collection *cb = open_coll(b, "c");
    expect_matches({ca, cb}, m, 1, "A added");
    if (trained) {
        PV_OK(pvec_collection_train(cb, nullptr, nullptr));
        expect_matches({ca, cb}, m, 2, "B trained");
    }
    add(cb, &m, 1000, 50, 12);
    expect_matches({ca, cb}, m, 3, "B added");
    for (int64_t id = 0; id < 400; id += 7) {
        PV_OK(pvec_delete(ca, id, nullptr));
        m.items.erase(id);
    }
    expect_matches({ca, cb}, m, 4, "A deleted");
    // Upserts by B reuse A's freed slots.
    {
        auto v = integer_vectors(3, kDim, 13);
        const int64_t ids[3] = {1, 2000, 2001};
        PV_OK(pvec_upsert_batch(cb, 3, ids, v.data(), kDim, nullptr, nullptr));
        for (int i = 0; i < 3; ++i) {
            m.items[ids[i]] = std::vector<float>(v.begin() + i * kDim, v.begin() + (i + 1) * kDim);
        }
    }
    expect_matches({ca, cb}, m, 5, "B upserted");
    // An explicit transaction in A: B sees nothing of it until the commit.
    PV_OK(pvec_db_begin(a, nullptr));
    Model pending = m;
    add(ca, &pending, 3000, 30, 14);
    PV_OK(pvec_delete(ca, 1, nullptr));
    pending.items.erase(1);
    expect_matches({ca}, pending, 6, "A inside its transaction sees its own writes");
    PV_OK(pvec_db_rollback(a, nullptr));
    expect_matches({ca, cb}, m, 7, "A rolled back");
    PV_OK(pvec_db_begin(a, nullptr));
    add(ca, &m, 4000, 30, 15);
    if (trained) {
        PV_OK(pvec_collection_train(ca, nullptr, nullptr));  // re-training from the raw tier
    }
    PV_OK(pvec_db_commit(a, nullptr));
    expect_matches({ca, cb}, m, 8, "A committed");
    // B drops and re-creates the collection; A's handle is gone for good, a new one sees the new.
    PV_OK(pvec_collection_drop(b, "c", nullptr));
    pvec_collection *cb2 = create_opts(b, "c", GetParam(), trained ? PVEC_RAW_ZSTD_F32 : 0);
    Model fresh;
    add(cb2, &fresh, 0, 60, 16);
    EXPECT_EQ(rc_of(pvec_count(ca, nullptr, nullptr), nullptr), PVEC_MISUSE);
    uint64_t n;
    EXPECT_EQ(pvec_count(ca, &n, nullptr), PVEC_NOTFOUND);
    EXPECT_EQ(pvec_count(cb, &n, nullptr), PVEC_NOTFOUND);
    pvec_collection *ca2 = open_coll(a, "c");
    expect_matches({ca2, cb2}, fresh, 9, "re-created");
    for (pvec_collection *c : {ca, cb, ca2, cb2}) {
        pvec_collection_close(c);
    }
    PV_OK(pvec_db_close(a));
    PV_OK(pvec_db_close(b));
}

INSTANTIATE_TEST_SUITE_P(Codecs, Interleavings, ::testing::Values("f32", "int8"));

// An application's own ROLLBACK around pocketvec writes on an attached connection.
TEST(MultiConnection, AttachedConnectionFollowsTheApplicationsCommitAndRollback) {
    TempDb tmp;
    sqlite3 *conn = nullptr;
    ASSERT_EQ(sqlite3_open(tmp.c_str(), &conn), SQLITE_OK);
    pvec_db *db = nullptr;
    PV_OK(pvec_db_attach(conn, nullptr, &db, nullptr));
    pvec_collection *c = create_opts(db, "c", "f32", 0);
    Model m;
    add(c, &m, 0, 50, 21);
    ASSERT_EQ(sqlite3_exec(conn, "BEGIN", nullptr, nullptr, nullptr), SQLITE_OK);
    Model pending = m;
    add(c, &pending, 100, 20, 22);
    PV_OK(pvec_delete(c, 0, nullptr));
    pending.items.erase(0);
    expect_matches({c}, pending, 1, "inside the application's transaction");
    ASSERT_EQ(sqlite3_exec(conn, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
    expect_matches({c}, m, 2, "after the application's ROLLBACK");
    ASSERT_EQ(sqlite3_exec(conn, "BEGIN", nullptr, nullptr, nullptr), SQLITE_OK);
    add(c, &m, 200, 20, 23);
    ASSERT_EQ(sqlite3_exec(conn, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
    expect_matches({c}, m, 3, "after the application's COMMIT");
    // A rollback of a later transaction that did not touch pocketvec changes nothing.
    ASSERT_EQ(sqlite3_exec(conn, "BEGIN; CREATE TABLE app(x); ROLLBACK", nullptr, nullptr, nullptr),
              SQLITE_OK);
    expect_matches({c}, m, 4, "after an unrelated ROLLBACK");
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
    // The file holds exactly the committed items.
    pvec_db *again = open_db(tmp.path());
    pvec_collection *c2 = open_coll(again, "c");
    expect_matches({c2}, m, 5, "reopened");
    pvec_collection_close(c2);
    PV_OK(pvec_db_close(again));
    sqlite3_close(conn);
}

// A failed write inside an explicit transaction undoes that call only, without per-write copies.
TEST(MultiConnection, FailedCallInsideATransactionUndoesOnlyItself) {
    TempDb tmp;
    pvec_db *a = open_db(tmp.path());
    pvec_collection *c = create_opts(a, "c", "f32", 0);
    Model m;
    add(c, &m, 0, 40, 31);
    PV_OK(pvec_db_begin(a, nullptr));
    add(c, &m, 100, 10, 32);
    // A batch whose last id already exists fails as a whole.
    auto v = integer_vectors(3, kDim, 33);
    const int64_t ids[3] = {500, 501, 100};
    EXPECT_EQ(pvec_add_batch(c, 3, ids, v.data(), kDim, nullptr, nullptr), PVEC_EXISTS);
    expect_matches({c}, m, 1, "after the failed call");
    PV_OK(pvec_db_commit(a, nullptr));
    pvec_db *b = open_db(tmp.path());
    pvec_collection *cb = open_coll(b, "c");
    expect_matches({c, cb}, m, 2, "committed");
    pvec_collection_close(c);
    pvec_collection_close(cb);
    PV_OK(pvec_db_close(a));
    PV_OK(pvec_db_close(b));
}

// Case 2b: a reader beside a writer process never reports damage and catches up with the file.
TEST(MultiProcess, ReaderBesideAWriterProcessSeesOnlyCommittedStates) {
    TempDb tmp;
    {
        pvec_db *db = open_db(tmp.path());
        pvec_collection *c = create_opts(db, "c", "int8", PVEC_RAW_ZSTD_F32);
        Model m;
        add(c, &m, 0, 200, 41);
        pvec_collection_close(c);
        PV_OK(pvec_db_close(db));
    }
    // The writer waits for one byte on `ready` until the reader has opened (after the fork: no
    // connection crosses it), so that they overlap however fast the writes are.
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    fflush(nullptr);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        // The writer: batches, a training in the middle, deletes.
        char go = 0;
        close(ready[1]);
        if (read(ready[0], &go, 1) != 1) {
            _exit(7);
        }
        pvec_db *db = nullptr;
        if (pvec_db_open(tmp.c_str(), nullptr, &db, nullptr) != PVEC_OK) {
            _exit(2);
        }
        pvec_collection *c = nullptr;
        if (pvec_collection_open(db, "c", &c, nullptr) != PVEC_OK) {
            _exit(3);
        }
        for (int b = 0; b < 60; ++b) {
            auto v = integer_vectors(20, kDim, 1000 + b);
            std::vector<int64_t> ids(20);
            for (int i = 0; i < 20; ++i) {
                ids[i] = 10000 + b * 20 + i;
            }
            int rc;
            while ((rc = pvec_add_batch(c, 20, ids.data(), v.data(), kDim, nullptr, nullptr)) ==
                   PVEC_BUSY) {
            }
            if (rc != PVEC_OK) {
                _exit(4);
            }
            if (b == 20 || b == 45) {
                while ((rc = pvec_collection_train(c, nullptr, nullptr)) == PVEC_BUSY) {
                }
                if (rc != PVEC_OK) {
                    _exit(5);
                }
            }
        }
        pvec_collection_close(c);
        _exit(pvec_db_close(db) == PVEC_OK ? 0 : 6);
    }
    close(ready[0]);
    // Closed on every way out, so a failed assertion below lets the writer end (its read returns
    // 0) instead of waiting forever.
    struct CloseOnExit {
        int fd;
        ~CloseOnExit() { close(fd); }
    } signal_writer{ready[1]};
    pvec_db *reader_db = open_db(tmp.path());
    pvec_collection *reader = open_coll(reader_db, "c");
    ASSERT_EQ(write(ready[1], "g", 1), 1);
    std::map<int, int> errors;
    int calls = 0, status = 0;
    const auto q = integer_vectors(1, kDim, 99);
    while (waitpid(child, &status, WNOHANG) == 0) {
        int64_t ids[10];
        std::size_t n = 0;
        char *err = nullptr;
        int rc = pvec_search(reader, q.data(), kDim, 10, nullptr, ids, nullptr, &n, &err);
        if (rc != PVEC_OK) {
            errors[rc]++;
            if (rc != PVEC_BUSY) {
                ADD_FAILURE() << pvec_errstr(rc) << ": " << (err ? err : "");
            }
        }
        pvec_free(err);
        uint64_t cnt = 0;
        rc = pvec_count(reader, &cnt, nullptr);
        if (rc != PVEC_OK && rc != PVEC_BUSY) {
            ADD_FAILURE() << "count: " << pvec_errstr(rc);
        }
        // Every committed state has 200 + 20 b items.
        EXPECT_EQ(rc != PVEC_OK || cnt % 20 == 0, true) << cnt;
        ++calls;
    }
    ASSERT_TRUE(WIFEXITED(status)) << status;
    ASSERT_EQ(WEXITSTATUS(status), 0);
    EXPECT_GT(calls, 0);
    // Caught up with everything the writer committed, trained state included.
    EXPECT_EQ(count(reader), 200u + 60u * 20u);
    pvec_collection_info info = {};
    info.struct_size = sizeof info;
    PV_OK(pvec_collection_info_get(reader, &info, nullptr));
    EXPECT_EQ(info.trained, 1u);
    EXPECT_EQ(info.model_version, 2u);
    pvec_collection_close(reader);
    PV_OK(pvec_db_close(reader_db));
}
