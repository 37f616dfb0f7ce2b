// Durability under simulated power loss and I/O faults, through the crash VFS (crash_vfs.h).
// Oracle: the items after every acknowledged call. After a crash at the K-th write or sync the
// reopened file must hold exactly the state after the last acknowledged call, or the state after
// the in-flight call (its commit may have reached the disk before the error), nothing else.
#include <sqlite3.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <vector>

#include "../integration/test_helpers.h"
#include "crash_vfs.h"

namespace {

constexpr uint32_t kDim = 8;
const char *kColl = "c";
using Items = std::map<int64_t, std::vector<float>>;

std::vector<float> vec_for(int64_t id, int salt) {
    std::vector<float> v(kDim);
    std::mt19937 rng(static_cast<uint32_t>(id * 7919 + salt));
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    for (auto &x : v) {
        x = d(rng);
    }
    return v;
}

// One step of a run: a pocketvec call (or a whole explicit transaction) and its effect.
struct Step {
    const char *what;
    std::function<int(pvec_db *, pvec_collection *)> call;
    std::function<void(Items &)> effect;
};

int add_batch(pvec_collection *c, Items *effect_target, int64_t first, int n, int salt) {
    std::vector<int64_t> ids;
    std::vector<float> vecs;
    for (int64_t id = first; id < first + n; ++id) {
        ids.push_back(id);
        auto v = vec_for(id, salt);
        vecs.insert(vecs.end(), v.begin(), v.end());
    }
    (void)effect_target;
    return pvec_add_batch(c, ids.size(), ids.data(), vecs.data(), kDim, nullptr, nullptr);
}

void add_effect(Items &s, int64_t first, int n, int salt) {
    for (int64_t id = first; id < first + n; ++id) {
        s[id] = vec_for(id, salt);
    }
}

int upsert(pvec_collection *c, int64_t id, int salt) {
    auto v = vec_for(id, salt);
    return pvec_upsert(c, id, v.data(), kDim, nullptr, nullptr);
}

int train(pvec_collection *c) {
    pvec_train_options t = PVEC_TRAIN_OPTIONS_INIT;
    return pvec_collection_train(c, &t, nullptr);
}

std::vector<Step> steps() {
    std::vector<Step> s;
    s.push_back({"add_batch 0..39", [](pvec_db *, pvec_collection *c) { return add_batch(c, nullptr, 0, 40, 1); },
                 [](Items &it) { add_effect(it, 0, 40, 1); }});
    s.push_back({"upsert 5", [](pvec_db *, pvec_collection *c) { return upsert(c, 5, 2); },
                 [](Items &it) { it[5] = vec_for(5, 2); }});
    s.push_back({"delete 7", [](pvec_db *, pvec_collection *c) { return pvec_delete(c, 7, nullptr); },
                 [](Items &it) { it.erase(7); }});
    s.push_back({"train int8", [](pvec_db *, pvec_collection *c) { return train(c); },
                 [](Items &) {}});
    s.push_back({"begin; add_batch 100..119; upsert 3; delete 10; commit",
                 [](pvec_db *db, pvec_collection *c) {
                     int rc = pvec_db_begin(db, nullptr);
                     if (rc == PVEC_OK) rc = add_batch(c, nullptr, 100, 20, 3);
                     if (rc == PVEC_OK) rc = upsert(c, 3, 4);
                     if (rc == PVEC_OK) rc = pvec_delete(c, 10, nullptr);
                     if (rc != PVEC_OK) {
                         pvec_db_rollback(db, nullptr);
                         return rc;
                     }
                     return pvec_db_commit(db, nullptr);
                 },
                 [](Items &it) {
                     add_effect(it, 100, 20, 3);
                     it[3] = vec_for(3, 4);
                     it.erase(10);
                 }});
    s.push_back({"add_batch 200..209 (trained)",
                 [](pvec_db *, pvec_collection *c) { return add_batch(c, nullptr, 200, 10, 5); },
                 [](Items &it) { add_effect(it, 200, 10, 5); }});
    s.push_back({"upsert 20 (trained)", [](pvec_db *, pvec_collection *c) { return upsert(c, 20, 6); },
                 [](Items &it) { it[20] = vec_for(20, 6); }});
    s.push_back({"delete 200", [](pvec_db *, pvec_collection *c) { return pvec_delete(c, 200, nullptr); },
                 [](Items &it) { it.erase(200); }});
    return s;
}

// The items of the collection in the file at `path`, opened normally (fault injection off).
// Returns false (with a message) when it cannot be read.
bool read_items(const std::string &path, const Items &probe_a, const Items &probe_b, Items *out,
                std::string *why) {
    out->clear();
    pvec_db *db = nullptr;
    int rc = pvec_db_open(path.c_str(), nullptr, &db, nullptr);
    if (rc != PVEC_OK) {
        *why = std::string("open: ") + pvec_errstr(rc);
        return false;
    }
    pvec_collection *c = nullptr;
    rc = pvec_collection_open(db, kColl, &c, nullptr);
    if (rc != PVEC_OK) {
        *why = std::string("collection_open: ") + pvec_errstr(rc);
        pvec_db_close(db);
        return false;
    }
    uint64_t n = 0;
    rc = pvec_count(c, &n, nullptr);
    bool ok = rc == PVEC_OK;
    // Probe every id either oracle knows; a phantom id shows up as a count mismatch.
    std::vector<int64_t> ids;
    for (const auto &kv : probe_a) ids.push_back(kv.first);
    for (const auto &kv : probe_b) ids.push_back(kv.first);
    for (int64_t id : ids) {
        if (!ok || out->count(id) != 0) continue;
        std::vector<float> v(kDim);
        rc = pvec_get(c, id, v.data(), kDim, nullptr, nullptr);
        if (rc == PVEC_OK) {
            (*out)[id] = v;
        } else if (rc != PVEC_NOTFOUND) {
            ok = false;
        }
    }
    if (!ok) {
        *why = std::string("read: ") + pvec_errstr(rc);
    } else if (n != out->size()) {
        ok = false;
        *why = "count " + std::to_string(n) + " but " + std::to_string(out->size()) + " ids found";
    }
    pvec_collection_close(c);
    pvec_db_close(db);
    return ok;
}

// Creates the database with the int8 + raw tier collection, synced, through the VFS.
void create_base(const std::string &path) {
    pvec_db *db = pvtest::open_db(path);
    ASSERT_NE(db, nullptr);
    pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
    o.dim = kDim;
    o.metric = PVEC_METRIC_L2;
    o.codec = "int8";
    o.raw_tier = PVEC_RAW_ZSTD_F32;
    o.train_threshold = PVEC_TRAIN_NEVER;
    PV_OK(pvec_collection_create(db, kColl, &o, nullptr, nullptr));
    ASSERT_EQ(pvec_db_close(db), PVEC_OK);
}

struct RunResult {
    size_t acked = 0;       // steps acknowledged (returned PVEC_OK)
    bool crashed = false;   // the crash point was reached
};

// Opens `path` (through the VFS; with synchronous=OFF on an attached connection when
// `sync_off`), arms a crash at the crash_at-th write/sync (0 = never), runs the steps, closes.
RunResult run(const std::string &path, uint64_t crash_at, bool sync_off, uint64_t *ops_out) {
    RunResult r;
    crashvfs::disarm();
    sqlite3 *conn = nullptr;
    pvec_db *db = nullptr;
    if (sync_off) {
        if (sqlite3_open_v2(path.c_str(), &conn, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
            ADD_FAILURE() << "sqlite3_open_v2";
            return r;
        }
        sqlite3_exec(conn, "PRAGMA synchronous=OFF", nullptr, nullptr, nullptr);
        EXPECT_EQ(pvec_db_attach(conn, nullptr, &db, nullptr), PVEC_OK);
    } else {
        EXPECT_EQ(pvec_db_open(path.c_str(), nullptr, &db, nullptr), PVEC_OK);
    }
    pvec_collection *c = nullptr;
    EXPECT_EQ(pvec_collection_open(db, kColl, &c, nullptr), PVEC_OK);
    auto st = crashvfs::state();
    (void)st;
    crashvfs::state().crash_armed = true;
    crashvfs::state().crash_at = crash_at;
    for (const Step &s : steps()) {
        int rc = s.call(db, c);
        if (rc != PVEC_OK) {
            break;
        }
        ++r.acked;
        if (crashvfs::state().crashed) {
            break; // acknowledged after the crash point (its commit was durable before)
        }
    }
    r.crashed = crashvfs::state().crashed;
    if (ops_out != nullptr) *ops_out = crashvfs::state().ops;
    pvec_collection_close(c);
    pvec_db_close(db);
    if (conn != nullptr) sqlite3_close(conn);
    crashvfs::disarm();
    return r;
}

std::vector<Items> oracles() {
    std::vector<Items> o(1);
    for (const Step &s : steps()) {
        Items next = o.back();
        s.effect(next);
        o.push_back(next);
    }
    return o;
}

class CrashTest : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(crashvfs::install()); crashvfs::forget(); }
    void TearDown() override { crashvfs::disarm(); crashvfs::forget(); }
};

// Runs the crash loop; returns how many crash points lost an acknowledged call.
struct LoopFigures {
    uint64_t points = 0;
    uint64_t lost = 0;
    uint64_t other = 0; // states equal to neither allowed oracle, or unreadable
    std::string first_failure;
};

LoopFigures crash_loop(const std::string &path, bool sync_off, uint64_t stride) {
    LoopFigures f;
    const std::vector<Items> oracle = oracles();
    crashvfs::forget();
    create_base(path);
    std::string base;
    {
        std::ifstream in(path, std::ios::binary);
        base.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    auto reset = [&] {
        crashvfs::forget();
        std::remove((path + "-journal").c_str());
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(base.data(), static_cast<std::streamsize>(base.size()));
    };
    reset();
    uint64_t total = 0;
    RunResult clean = run(path, 0, sync_off, &total);
    EXPECT_EQ(clean.acked, steps().size());
    for (uint64_t k = 1; k <= total; k += stride) {
        reset();
        RunResult r = run(path, k, sync_off, nullptr);
        crashvfs::restore();
        ++f.points;
        const Items &acked = oracle[r.acked];
        const Items &next = oracle[std::min(r.acked + 1, oracle.size() - 1)];
        Items got;
        std::string why;
        bool readable = read_items(path, acked, next, &got, &why);
        crashvfs::forget();
        if (readable && (got == acked || got == next)) {
            continue;
        }
        // Lost: the state equals an earlier acknowledged one.
        bool earlier = false;
        for (size_t i = 0; i < r.acked && readable; ++i) {
            Items g2;
            std::string w2;
            earlier = earlier || (got.size() == oracle[i].size() &&
                                  read_items(path, oracle[i], oracle[i], &g2, &w2) && g2 == oracle[i]);
        }
        if (earlier) {
            ++f.lost;
        } else {
            ++f.other;
        }
        if (f.first_failure.empty()) {
            f.first_failure = "crash at op " + std::to_string(k) + " after " +
                              std::to_string(r.acked) + " acknowledged steps: " +
                              (readable ? "got " + std::to_string(got.size()) + " items, oracle " +
                                              std::to_string(acked.size())
                                        : why);
        }
    }
    return f;
}

TEST_F(CrashTest, EveryCrashPointLeavesTheLastAcknowledgedState) {
    pvtest::TempDb tmp;
    LoopFigures f = crash_loop(tmp.path(), false, 1);
    std::printf("crash points: %llu, lost acknowledged: %llu, other states: %llu\n",
                static_cast<unsigned long long>(f.points), static_cast<unsigned long long>(f.lost),
                static_cast<unsigned long long>(f.other));
    EXPECT_GT(f.points, 20u);
    EXPECT_EQ(f.lost, 0u) << f.first_failure;
    EXPECT_EQ(f.other, 0u) << f.first_failure;
}

TEST_F(CrashTest, SynchronousOffIsCaught) {
    pvtest::TempDb tmp;
    LoopFigures f = crash_loop(tmp.path(), true, 1);
    std::printf("synchronous=OFF: crash points: %llu, lost acknowledged: %llu, other: %llu\n",
                static_cast<unsigned long long>(f.points), static_cast<unsigned long long>(f.lost),
                static_cast<unsigned long long>(f.other));
    EXPECT_GT(f.lost + f.other, 0u) << "the crash VFS did not notice synchronous=OFF";
}

} // namespace
