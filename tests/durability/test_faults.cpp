// I/O fault loops, SQLite-style: every write path runs with its N-th read, write, sync, truncate
// or lock failing
// (the crash VFS's fault mode, SQLITE_IOERR_*), for N = 1, 2, ... until the call no longer reaches
// an N-th such operation. After each failure the database is closed and reopened without faults,
// and its whole state (every item's vector, the count, two searches) must equal either the state
// before the call (the call failed) or the state after a fault-free run (the call succeeded,
// SQLite having absorbed the fault). Nothing half-done, nothing lost. Prints the faults per path.
#include "crash_vfs.h"

#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>

#include "../integration/test_helpers.h"
#include "format2.h"

using namespace pvtest;

namespace {

constexpr uint32_t kDim = 96;

// Under the sanitizers (10x slower) the main loop fails every kStride-th operation, so that
// every kind of fault still reaches every path, with leaks checked; the release build fails
// every one.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr uint64_t kStride = 7;
#else
constexpr uint64_t kStride = 1;
#endif
constexpr int64_t kItems = 800;
constexpr int64_t kMaxId = 1400;

struct State {
    std::vector<std::string> collections;  // every collection's name, as listed
    bool present = false;  // the collection exists
    uint64_t count = 0;
    uint32_t model_version = 0;  // every training or import moves it
    std::map<int64_t, std::vector<float>> items;
    std::vector<int64_t> search;
    bool operator==(const State &o) const {
        return collections == o.collections && present == o.present && count == o.count && model_version == o.model_version &&
               items == o.items && search == o.search;
    }
};

std::vector<float> vec_for(int64_t id, int salt) {
    std::vector<float> v(kDim);
    for (uint32_t d = 0; d < kDim; ++d) {
        v[d] = static_cast<float>((id * 13 + d * 7 + salt * 5) % 17) - 8.0f;
    }
    return v;
}

State capture(const std::string &path) {
    State s;
    pvec_db *db = nullptr;
    if (pvec_db_open(path.c_str(), nullptr, &db, nullptr) != PVEC_OK) {
        ADD_FAILURE() << "the database does not reopen after a fault";
        return s;
    }
    char **names = nullptr;
    size_t n_names = 0;
    if (pvec_collection_list(db, &names, &n_names, nullptr) == PVEC_OK) {
        for (size_t i = 0; i < n_names; ++i) {
            s.collections.emplace_back(names[i]);
        }
        pvec_free(names);
    } else {
        ADD_FAILURE() << "the collections cannot be listed after a fault";
    }
    pvec_collection *c = nullptr;
    if (pvec_collection_open(db, "c", &c, nullptr) == PVEC_OK) {
        s.present = true;
        pvec_count(c, &s.count, nullptr);
        pvec_collection_info info{};
        info.struct_size = sizeof info;
        if (pvec_collection_info_get(c, &info, nullptr) == PVEC_OK) {
            s.model_version = info.model_version;
        }
        std::vector<float> v(kDim);
        for (int64_t id = 0; id < kMaxId; ++id) {
            if (pvec_get(c, id, v.data(), kDim, nullptr, nullptr) == PVEC_OK) {
                s.items[id] = v;
            }
        }
        for (int q = 0; q < 2; ++q) {
            const auto qv = vec_for(1000 + q, 3);
            int64_t ids[10];
            size_t n = 0;
            pvec_search_options o = PVEC_SEARCH_OPTIONS_INIT;
            o.oversample = 4;
            if (pvec_search(c, qv.data(), kDim, 10, &o, ids, nullptr, &n, nullptr) == PVEC_OK) {
                s.search.insert(s.search.end(), ids, ids + n);
            }
        }
        pvec_collection_close(c);
    }
    pvec_db_close(db);
    return s;
}

// The base: a trained int8 collection with a float32 raw tier holding `items` items, in a file
// of the application's: it made the file with 4 KiB pages and a table of its own before
// pocketvec added its tables (which keeps the page size; pocketvec's own new files get 4 KiB too).
// The raw tier is plain float32 (stored per chunk) unless a test needs what format 2 could hold.
void create_base(const std::string &path, int64_t items = kItems,
                 uint32_t raw_tier = PVEC_RAW_F32) {
    {
        sqlite3 *conn = nullptr;
        ASSERT_EQ(sqlite3_open(path.c_str(), &conn), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(conn,
                               "PRAGMA page_size = 4096; CREATE TABLE app_notes(id INTEGER PRIMARY "
                               "KEY, body TEXT); INSERT INTO app_notes(body) VALUES('a note');",
                               nullptr, nullptr, nullptr),
                  SQLITE_OK);
        sqlite3_close(conn);
    }
    pvec_db *db = open_db(path);
    pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
    o.dim = kDim;
    o.metric = PVEC_METRIC_L2;
    o.codec = "int8";
    o.raw_tier = raw_tier;
    o.train_threshold = PVEC_TRAIN_NEVER;
    pvec_collection *c = nullptr;
    PV_OK(pvec_collection_create(db, "c", &o, &c, nullptr));
    std::vector<float> v;
    std::vector<int64_t> ids;
    for (int64_t id = 0; id < items; ++id) {
        const auto x = vec_for(id, 0);
        v.insert(v.end(), x.begin(), x.end());
        ids.push_back(id);
    }
    PV_OK(pvec_add_batch(c, ids.size(), ids.data(), v.data(), kDim, nullptr, nullptr));
    PV_OK(pvec_collection_train(c, nullptr, nullptr));
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}

// Puts a fresh copy of `base` at `work` (no journal), and makes the VFS forget the old images.
void copy_base(const std::string &base, const std::string &work) {
    crashvfs::forget();
    std::filesystem::remove(work + "-journal");
    std::filesystem::copy_file(base, work, std::filesystem::copy_options::overwrite_existing);
}

using Path = std::function<int(pvec_db *, pvec_collection *)>;

int add_batch(pvec_collection *c, int64_t first, int64_t n, int salt, bool upsert,
              char **err = nullptr) {
    std::vector<float> v;
    std::vector<int64_t> ids;
    for (int64_t id = first; id < first + n; ++id) {
        const auto x = vec_for(id, salt);
        v.insert(v.end(), x.begin(), x.end());
        ids.push_back(id);
    }
    return upsert ? pvec_upsert_batch(c, ids.size(), ids.data(), v.data(), kDim, nullptr, err)
                  : pvec_add_batch(c, ids.size(), ids.data(), v.data(), kDim, nullptr, err);
}

const std::vector<std::pair<std::string, Path>> &paths() {
    static const std::vector<std::pair<std::string, Path>> p = {
        {"add_batch", [](pvec_db *, pvec_collection *c) { return add_batch(c, kItems, 400, 1, false); }},
        {"upsert_batch",
         [](pvec_db *, pvec_collection *c) { return add_batch(c, 100, 300, 2, true); }},
        // One call per path: a path of several autocommitted calls may rightly stop halfway.
        {"delete", [](pvec_db *, pvec_collection *c) { return pvec_delete(c, 17, nullptr); }},
        {"upsert_one",
         [](pvec_db *, pvec_collection *c) {
             const auto v = vec_for(33, 9);
             return pvec_upsert(c, 33, v.data(), kDim, "{\"k\": 1}", nullptr);
         }},
        {"train", [](pvec_db *, pvec_collection *c) { return pvec_collection_train(c, nullptr, nullptr); }},
        {"transaction",
         [](pvec_db *db, pvec_collection *c) {
             if (int rc = pvec_db_begin(db, nullptr); rc != PVEC_OK) {
                 return rc;
             }
             int rc = add_batch(c, kItems + 450, 100, 4, false);
             if (rc == PVEC_OK) {
                 rc = pvec_delete(c, 5, nullptr);
             }
             if (rc == PVEC_OK) {
                 return pvec_db_commit(db, nullptr);
             }
             pvec_db_rollback(db, nullptr);
             return rc;
         }},
        {"drop", [](pvec_db *db, pvec_collection *) { return pvec_collection_drop(db, "c", nullptr); }},
        {"create",
         [](pvec_db *db, pvec_collection *) {
             pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
             o.dim = 8;
             o.codec = "int4";
             o.raw_tier = PVEC_RAW_ZSTD_F32;
             pvec_collection *d = nullptr;
             const int rc = pvec_collection_create(db, "d", &o, &d, nullptr);
             pvec_collection_close(d);
             return rc;
         }},
        // Export (reads) then import of the same model: every item re-encoded, the version moved.
        {"model_import", [](pvec_db *, pvec_collection *c) { return reimport_own_model(c); }},
    };
    return p;
}

class FaultLoop : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_TRUE(crashvfs::install());
        crashvfs::disarm();
        crashvfs::forget();
    }
    void TearDown() override {
        crashvfs::disarm();
        crashvfs::forget();
    }
};

TEST_F(FaultLoop, EveryFailedFileOperationLeavesTheStateBeforeOrAfterTheCall) {
    const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                      ("pvec_faults_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string base = (dir / "base.db").string();
    const std::string work = (dir / "work.db").string();
    create_base(base);
    auto reset = [&] { copy_base(base, work); };
    reset();
    const State before = capture(work);
    ASSERT_TRUE(before.present);
    ASSERT_EQ(before.count, static_cast<uint64_t>(kItems));
    uint64_t total = 0;
    for (const auto &[name, path] : paths()) {
        // The state a fault-free run leaves.
        reset();
        State after;
        {
            pvec_db *db = open_db(work);
            pvec_collection *c = open_coll(db, "c");
            ASSERT_EQ(path(db, c), PVEC_OK) << name;
            pvec_collection_close(c);
            PV_OK(pvec_db_close(db));
            after = capture(work);
        }
        ASSERT_FALSE(after == before) << name << " changed nothing";
        uint64_t faults = 0, failed_calls = 0;
        // A failed write as an I/O error and as a full disk; failed reads, syncs and truncations
        // as I/O errors; a failed lock as an I/O error and as another process holding it.
        const std::pair<crashvfs::Op, int> kinds[] = {
            {crashvfs::Op::Write, SQLITE_IOERR}, {crashvfs::Op::Write, SQLITE_FULL},
            {crashvfs::Op::Read, SQLITE_IOERR},  {crashvfs::Op::Sync, SQLITE_IOERR},
            {crashvfs::Op::Truncate, SQLITE_IOERR}, {crashvfs::Op::Lock, SQLITE_IOERR},
            {crashvfs::Op::Lock, SQLITE_BUSY}};
        for (const auto &[op, fault_rc] : kinds) {
            for (uint64_t n = 1;; n += kStride) {
                reset();
                pvec_db *db = open_db(work);
                pvec_collection *c = open_coll(db, "c");
                crashvfs::arm_fault(op, fault_rc, n);
                const int rc = path(db, c);
                const bool fired = crashvfs::state().fault_fired;
                crashvfs::disarm();
                pvec_collection_close(c);
                pvec_db_close(db);  // rolls back a transaction the failure left open
                if (!fired) {
                    EXPECT_EQ(rc, PVEC_OK) << name << ": no fault, yet the call failed";
                    break;
                }
                ++faults;
                failed_calls += rc != PVEC_OK;
                const State got = capture(work);
                if (rc == PVEC_OK) {
                    EXPECT_TRUE(got == after) << name << ": fault " << n << " absorbed, yet the "
                                              << "state is not the call's";
                } else {
                    EXPECT_TRUE(got == before) << name << ": fault " << n << " (op "
                                               << static_cast<int>(op) << ", rc " << rc
                                               << ") left a partial state";
                }
                if (::testing::Test::HasFailure()) {
                    break;
                }
            }
        }
        std::printf("fault loop %-13s %4llu faults injected, %4llu calls failed, rest absorbed\n",
                    name.c_str(), static_cast<unsigned long long>(faults),
                    static_cast<unsigned long long>(failed_calls));
        total += faults;
    }
    std::printf("fault loops: %llu I/O faults in all\n", static_cast<unsigned long long>(total));
    EXPECT_GE(total, 2000u / kStride) << "too few faults to mean much";
    std::filesystem::remove_all(dir);
}


// Opening a format 2 file read-write upgrades it in one transaction: with any read, write, sync,
// truncate or lock of that open failing, the file is still the format 2 file it was (and upgrades
// to the same state later) or it is the upgraded one; never half of each.
TEST_F(FaultLoop, AFailedUpgradeLeavesTheFormat2File) {
    PVTEST_SKIP_WITHOUT_DROP_COLUMN();
    const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                      ("pvec_faults_up_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string base = (dir / "base.db").string();
    const std::string work = (dir / "work.db").string();
    // The upgrade rewrites every row: a small file keeps the loop short. Format 2 kept raw
    // vectors only as zstd rows.
    create_base(base, 200, PVEC_RAW_ZSTD_F32);
    const State want = capture(base);
    ASSERT_EQ(pvtest::downgrade_to_format2(base), 1);
    auto reset = [&] { copy_base(base, work); };
    uint64_t faults = 0, failed = 0, upgraded_then_failed = 0;
    const std::pair<crashvfs::Op, int> kinds[] = {
        {crashvfs::Op::Write, SQLITE_IOERR}, {crashvfs::Op::Write, SQLITE_FULL},
        {crashvfs::Op::Read, SQLITE_IOERR},  {crashvfs::Op::Sync, SQLITE_IOERR},
        {crashvfs::Op::Truncate, SQLITE_IOERR}, {crashvfs::Op::Lock, SQLITE_IOERR}};
    for (const auto &[op, fault_rc] : kinds) {
        for (uint64_t n = 1;; ++n) {
            reset();
            crashvfs::arm_fault(op, fault_rc, n);
            pvec_db *db = nullptr;
            const int rc = pvec_db_open(work.c_str(), nullptr, &db, nullptr);
            const bool fired = crashvfs::state().fault_fired;
            crashvfs::disarm();
            pvec_db_close(db);
            if (!fired) {
                EXPECT_EQ(rc, PVEC_OK) << "no fault, yet the open failed";
                EXPECT_EQ(pvtest::format_version_of(work), 6);
                break;
            }
            ++faults;
            failed += rc != PVEC_OK;
            // A failed open may have committed the upgrade before its failing step (loading).
            const int version = pvtest::format_version_of(work);
            EXPECT_TRUE(version == 6 || (version == 2 && rc != PVEC_OK))
                << "fault " << n << " of op " << static_cast<int>(op) << ": open returned " << rc
                << ", the file is format " << version;
            upgraded_then_failed += version == 6 && rc != PVEC_OK;
            EXPECT_TRUE(capture(work) == want) << "fault " << n << " of op " << static_cast<int>(op);
            if (::testing::Test::HasFailure()) {
                break;
            }
        }
    }
    std::printf("fault loop open+upgrade %4llu faults injected, %4llu opens failed (%llu after the "
                "upgrade committed), rest absorbed\n",
                static_cast<unsigned long long>(faults), static_cast<unsigned long long>(failed),
                static_cast<unsigned long long>(upgraded_then_failed));
    EXPECT_GT(faults, 20u);
    std::filesystem::remove_all(dir);
}

// A full disk inside an explicit transaction of many batches (the N-th write fails with
// SQLITE_FULL, for every N the transaction reaches). Either SQLite undid the failing statement
// alone, and the transaction goes on and commits every other batch, or SQLite rolled back the
// whole transaction, and then the failing call says so, every later write is refused with
// PVEC_MISUSE, commit returns PVEC_ERROR, and a reopen holds exactly the last commit.
TEST_F(FaultLoop, ADiskFullInsideATransactionIsReportedAndCommitsNothingAfterIt) {
    const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                      ("pvec_faults_full_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string base = (dir / "base.db").string();
    const std::string work = (dir / "work.db").string();
    create_base(base);
    const State before = capture(base);
    auto reset = [&] { copy_base(base, work); };
    constexpr int kBatches = 10, kPerBatch = 50, kSalt = 6;
    uint64_t points = 0, whole = 0, one_call = 0, at_commit = 0;
    for (uint64_t n = 1;; ++n) {
        reset();
        pvec_db *db = open_db(work);
        pvec_collection *c = open_coll(db, "c");
        crashvfs::arm_fault(crashvfs::Op::Write, SQLITE_FULL, n);
        PV_OK(pvec_db_begin(db, nullptr));
        std::vector<bool> kept(kBatches, false);
        bool aborted = false;
        for (int b = 0; b < kBatches; ++b) {
            char *err = nullptr;
            const int rc = add_batch(c, kItems + b * kPerBatch, kPerBatch, kSalt, false, &err);
            const std::string msg = err ? err : "";
            pvec_free(err);
            if (aborted) {
                EXPECT_EQ(rc, PVEC_MISUSE) << "a write after SQLite ended the transaction";
                continue;
            }
            if (rc == PVEC_OK) {
                kept[b] = true;
                continue;
            }
            EXPECT_EQ(rc, PVEC_IO) << "batch " << b << ": " << rc << " " << msg;
            if (msg.find("rolled back the whole transaction") != std::string::npos) {
                aborted = true;
                std::fill(kept.begin(), kept.end(), false);
            }
        }
        int crc = pvec_db_commit(db, nullptr);
        const bool fired = crashvfs::state().fault_fired;
        crashvfs::disarm();
        if (aborted) {
            EXPECT_EQ(crc, PVEC_ERROR) << "commit of a transaction SQLite rolled back";
            ++whole;
        } else if (crc != PVEC_OK) {
            ++at_commit;  // the commit itself hit the full disk: nothing of it is kept
            pvec_db_rollback(db, nullptr);  // ends it if the failed commit left it open
            std::fill(kept.begin(), kept.end(), false);
        } else if (fired) {
            ++one_call;
        }
        pvec_collection_close(c);
        pvec_db_close(db);
        if (!fired) {
            EXPECT_EQ(crc, PVEC_OK);
            break;
        }
        ++points;
        // The oracle: the base plus exactly the batches the committed transaction kept.
        State want = before;
        for (int b = 0; b < kBatches; ++b) {
            if (!kept[b]) {
                continue;
            }
            for (int64_t id = kItems + b * kPerBatch; id < kItems + (b + 1) * kPerBatch; ++id) {
                want.items[id] = vec_for(id, kSalt);
                ++want.count;
            }
        }
        State got = capture(work);
        got.search.clear();  // searches depend on which batches landed; the items say it all
        want.search.clear();
        EXPECT_TRUE(got == want) << "write " << n << ": count " << got.count << ", want "
                                 << want.count;
        if (::testing::Test::HasFailure()) {
            break;
        }
    }
    std::printf("disk full in a transaction: %llu failing writes; %llu rolled back the whole "
                "transaction (reported), %llu undid one call, %llu failed the commit\n",
                static_cast<unsigned long long>(points), static_cast<unsigned long long>(whole),
                static_cast<unsigned long long>(one_call), static_cast<unsigned long long>(at_commit));
    EXPECT_GT(points, 0u);
    EXPECT_GT(whole, 0u) << "no full disk made SQLite roll back the whole transaction";
    std::filesystem::remove_all(dir);
}

}  // namespace
