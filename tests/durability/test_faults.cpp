// I/O fault loops, SQLite-style: every write path runs with its N-th read, write or sync failing
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

using namespace pvtest;

namespace {

constexpr uint32_t kDim = 96;
constexpr int64_t kItems = 800;
constexpr int64_t kMaxId = 1400;

struct State {
    bool present = false;  // the collection exists
    uint64_t count = 0;
    uint32_t model_version = 0;  // every training or import moves it
    std::map<int64_t, std::vector<float>> items;
    std::vector<int64_t> search;
    bool operator==(const State &o) const {
        return present == o.present && count == o.count && model_version == o.model_version &&
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

// The base: a trained int8 collection with a float32 raw tier holding kItems items.
void create_base(const std::string &path) {
    pvec_db *db = open_db(path);
    pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
    o.dim = kDim;
    o.metric = PVEC_METRIC_L2;
    o.codec = "int8";
    o.raw_tier = PVEC_RAW_F32;
    o.train_threshold = PVEC_TRAIN_NEVER;
    pvec_collection *c = nullptr;
    PV_OK(pvec_collection_create(db, "c", &o, &c, nullptr));
    std::vector<float> v;
    std::vector<int64_t> ids;
    for (int64_t id = 0; id < kItems; ++id) {
        const auto x = vec_for(id, 0);
        v.insert(v.end(), x.begin(), x.end());
        ids.push_back(id);
    }
    PV_OK(pvec_add_batch(c, ids.size(), ids.data(), v.data(), kDim, nullptr, nullptr));
    PV_OK(pvec_collection_train(c, nullptr, nullptr));
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}

using Path = std::function<int(pvec_db *, pvec_collection *)>;

int add_batch(pvec_collection *c, int64_t first, int64_t n, int salt, bool upsert) {
    std::vector<float> v;
    std::vector<int64_t> ids;
    for (int64_t id = first; id < first + n; ++id) {
        const auto x = vec_for(id, salt);
        v.insert(v.end(), x.begin(), x.end());
        ids.push_back(id);
    }
    return upsert ? pvec_upsert_batch(c, ids.size(), ids.data(), v.data(), kDim, nullptr, nullptr)
                  : pvec_add_batch(c, ids.size(), ids.data(), v.data(), kDim, nullptr, nullptr);
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

TEST_F(FaultLoop, EveryFailedReadWriteOrSyncLeavesTheStateBeforeOrAfterTheCall) {
    const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                      ("pvec_faults_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string base = (dir / "base.db").string();
    const std::string work = (dir / "work.db").string();
    create_base(base);
    auto reset = [&] {
        crashvfs::forget();
        std::filesystem::remove(work + "-journal");
        std::filesystem::copy_file(base, work, std::filesystem::copy_options::overwrite_existing);
    };
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
        // A failed write as an I/O error and as a full disk; failed reads and syncs as I/O errors.
        const std::pair<crashvfs::Op, int> kinds[] = {{crashvfs::Op::Write, SQLITE_IOERR},
                                                      {crashvfs::Op::Write, SQLITE_FULL},
                                                      {crashvfs::Op::Read, SQLITE_IOERR},
                                                      {crashvfs::Op::Sync, SQLITE_IOERR}};
        for (const auto &[op, fault_rc] : kinds) {
            for (uint64_t n = 1;; ++n) {
                reset();
                pvec_db *db = open_db(work);
                pvec_collection *c = open_coll(db, "c");
                crashvfs::State &st = crashvfs::state();
                st.fault_op = op;
                st.fault_rc = fault_rc;
                st.fault_at = n;
                st.fault_count = 0;
                st.fault_fired = false;
                st.fault_armed = true;
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
    EXPECT_GE(total, 2000u) << "too few faults to mean much";
    std::filesystem::remove_all(dir);
}

}  // namespace
