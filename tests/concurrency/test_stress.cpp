// Stress: 2 processes, each with 2 writer threads and 2 searcher threads on one file, for
// PVEC_STRESS_SECONDS (10 by default; 60 with -DPVEC_STRESS_SECONDS=60 or the environment).
// Checked: no error but PVEC_BUSY; no search result shows part of a committed batch (every batch
// of 4 identical vectors is committed atomically) or anything rolled back; after the run every
// acknowledged commit is present and every acknowledged delete gone.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "../integration/test_helpers.h"

#ifndef PVEC_STRESS_SECONDS
#define PVEC_STRESS_SECONDS 10
#endif

using namespace pvtest;

namespace {

constexpr uint32_t kDim = 16;
constexpr int kGroup = 4;  // items per batch, identical vectors

int64_t batch_of(int writer, int64_t j) { return int64_t{writer} * 1000000 + j; }
int64_t item_id(int64_t batch, int i) { return batch * 8 + i; }
// Rolled-back batches use negative ids: any of them in a result is an uncommitted item.
int64_t rolled_back_id(int64_t batch, int i) { return -item_id(batch, i) - 1; }

std::vector<float> batch_vector(int64_t batch) {
    std::mt19937 rng(static_cast<uint32_t>(batch * 2654435761u));
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> v(kDim);
    for (float &x : v) {
        x = d(rng);
    }
    return v;
}

// Shared between the processes (mmap before fork): each writer's next batch number.
struct Shared {
    std::atomic<int64_t> next[4];
};

struct Counters {
    std::atomic<long> commits{0}, rollbacks{0}, deletes{0}, searches{0}, busy{0}, errors{0},
        torn{0}, uncommitted{0};
};

int seconds() {
    const char *env = std::getenv("PVEC_STRESS_SECONDS");
    return env ? std::max(1, std::atoi(env)) : PVEC_STRESS_SECONDS;
}

void report_error(Counters &c, int rc, char *err, const char *what) {
    if (rc == PVEC_BUSY) {
        c.busy++;
    } else {
        c.errors++;
        std::fprintf(stderr, "%s: %s: %s\n", what, pvec_errstr(rc), err ? err : "");
    }
    pvec_free(err);
}

// One process: writer 0 autocommits batches on the handle its searchers share; writer 1 runs
// explicit transactions on its own handle (adds, deletes of its older batches, rollbacks).
pvec_open_options open_options(bool wal) {
    pvec_open_options o = PVEC_OPEN_OPTIONS_INIT;
    o.flags = wal ? PVEC_OPEN_WAL : 0;
    return o;
}

// Opens the database and the collection; PVEC_BUSY (the file lock held by the other process's
// writers past the busy timeout) is the one error allowed, counted and retried.
int open_retrying(const std::string &path, const pvec_open_options &opts, Counters &c,
                  pvec_db **db, pvec_collection **coll, char **err) {
    for (;;) {
        pvec_free(*err);
        *err = nullptr;
        int rc = pvec_db_open(path.c_str(), &opts, db, err);
        if (rc == PVEC_OK) {
            rc = pvec_collection_open(*db, "s", coll, err);
            if (rc != PVEC_OK) {
                pvec_db_close(*db);
                *db = nullptr;
            }
        }
        if (rc != PVEC_BUSY) {
            return rc;
        }
        c.busy++;
    }
}

int run_process(const std::string &path, int proc, Shared *shared, const std::string &log,
                bool wal) {
    const pvec_open_options opts = open_options(wal);
    Counters c;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds());
    std::mutex log_mutex;
    std::set<int64_t> acked, deleted;
    pvec_db *shared_db = nullptr;
    char *err = nullptr;
    pvec_collection *shared_coll = nullptr;
    int rc = open_retrying(path, opts, c, &shared_db, &shared_coll, &err);
    if (rc != PVEC_OK) {
        std::fprintf(stderr, "open: %s: %s\n", pvec_errstr(rc), err ? err : "");
        return 10;
    }
    auto writer = [&](int w) {
        const int writer_id = proc * 2 + w;
        pvec_db *db = shared_db;
        pvec_collection *coll = shared_coll;
        if (w == 1) {
            char *err = nullptr;
            int rc = open_retrying(path, opts, c, &db, &coll, &err);
            if (rc != PVEC_OK) {
                c.errors++;
                std::fprintf(stderr, "open: %s: %s\n", pvec_errstr(rc), err ? err : "");
                pvec_free(err);
                return;
            }
        }
        std::mt19937 rng(writer_id);
        std::vector<int64_t> mine;
        while (std::chrono::steady_clock::now() < deadline) {
            const int64_t j = shared->next[writer_id].fetch_add(1);
            const int64_t batch = batch_of(writer_id, j);
            const auto v = batch_vector(batch);
            std::vector<float> vecs;
            for (int i = 0; i < kGroup; ++i) {
                vecs.insert(vecs.end(), v.begin(), v.end());
            }
            int64_t ids[kGroup];
            char *err = nullptr;
            if (w == 0) {
                for (int i = 0; i < kGroup; ++i) {
                    ids[i] = item_id(batch, i);
                }
                int rc = pvec_add_batch(coll, kGroup, ids, vecs.data(), kDim, nullptr, &err);
                if (rc == PVEC_OK) {
                    c.commits++;
                    std::lock_guard<std::mutex> lock(log_mutex);
                    acked.insert(batch);
                } else {
                    report_error(c, rc, err, "add");
                }
                continue;
            }
            const bool roll_back = rng() % 4 == 0;
            int rc = pvec_db_begin(db, &err);
            if (rc != PVEC_OK) {
                report_error(c, rc, err, "begin");
                continue;
            }
            for (int i = 0; i < kGroup; ++i) {
                ids[i] = roll_back ? rolled_back_id(batch, i) : item_id(batch, i);
            }
            rc = pvec_add_batch(coll, kGroup, ids, vecs.data(), kDim, nullptr, &err);
            int64_t victim = -1;
            if (rc == PVEC_OK && !roll_back && mine.size() > 4 && rng() % 3 == 0) {
                victim = mine[rng() % mine.size()];
                for (int i = 0; i < kGroup && rc == PVEC_OK; ++i) {
                    rc = pvec_delete(coll, item_id(victim, i), &err);
                }
            }
            if (rc != PVEC_OK) {
                report_error(c, rc, err, "write in transaction");
                pvec_db_rollback(db, nullptr);
                continue;
            }
            if (roll_back) {
                rc = pvec_db_rollback(db, &err);
                rc == PVEC_OK ? (void)c.rollbacks++ : report_error(c, rc, err, "rollback");
                continue;
            }
            rc = pvec_db_commit(db, &err);
            if (rc != PVEC_OK) {
                report_error(c, rc, err, "commit");
                pvec_db_rollback(db, nullptr);
                continue;
            }
            c.commits++;
            std::lock_guard<std::mutex> lock(log_mutex);
            acked.insert(batch);
            mine.push_back(batch);
            if (victim >= 0) {
                c.deletes++;
                deleted.insert(victim);
                mine.erase(std::find(mine.begin(), mine.end(), victim));
            }
        }
        if (w == 1) {
            pvec_collection_close(coll);
            pvec_db_close(db);
        }
    };
    auto searcher = [&](int s) {
        std::mt19937 rng(proc * 100 + s);
        while (std::chrono::steady_clock::now() < deadline) {
            const int writer_id = static_cast<int>(rng() % 4);
            const int64_t upto = shared->next[writer_id].load() + 1;
            const int64_t batch = batch_of(writer_id, static_cast<int64_t>(rng() % (upto + 1)));
            const auto q = batch_vector(batch);
            int64_t ids[8];
            std::size_t n = 0;
            char *err = nullptr;
            int rc = pvec_search(shared_coll, q.data(), kDim, 8, nullptr, ids, nullptr, &n, &err);
            if (rc != PVEC_OK) {
                report_error(c, rc, err, "search");
                continue;
            }
            c.searches++;
            int of_batch = 0;
            for (std::size_t i = 0; i < n; ++i) {
                if (ids[i] < 0) {
                    c.uncommitted++;  // a rolled-back batch, or another handle's open transaction
                }
                if (ids[i] >= 0 && ids[i] / 8 == batch) {
                    of_batch++;
                }
            }
            if (of_batch != 0 && of_batch != kGroup) {
                c.torn++;
                std::fprintf(stderr, "search saw %d of the %d items of batch %lld\n", of_batch,
                             kGroup, static_cast<long long>(batch));
            }
        }
    };
    std::vector<std::thread> threads;
    threads.emplace_back(writer, 0);
    threads.emplace_back(writer, 1);
    threads.emplace_back(searcher, 0);
    threads.emplace_back(searcher, 1);
    for (auto &t : threads) {
        t.join();
    }
    pvec_collection_close(shared_coll);
    pvec_db_close(shared_db);
    std::ofstream out(log);
    for (int64_t b : acked) {
        out << "A " << b << "\n";
    }
    for (int64_t b : deleted) {
        out << "D " << b << "\n";
    }
    std::printf("%s process %d: commits %ld (deletes %ld) rollbacks %ld searches %ld busy %ld "
                "errors %ld torn %ld uncommitted %ld\n",
                wal ? "wal" : "journal", proc, c.commits.load(), c.deletes.load(), c.rollbacks.load(), c.searches.load(),
                c.busy.load(), c.errors.load(), c.torn.load(), c.uncommitted.load());
    std::fflush(stdout);
    return c.errors == 0 && c.torn == 0 && c.uncommitted == 0 ? 0 : 1;
}

}  // namespace

// Both journal modes: the rollback journal (the default) and the write-ahead log (PVEC_OPEN_WAL).
class Stress : public ::testing::TestWithParam<bool> {};

TEST_P(Stress, TwoProcessesWithWritersAndSearchers) {
    TempDb tmp;
    const bool wal = GetParam();
    {
        pvec_db *db = open_db(tmp.path(), wal ? PVEC_OPEN_WAL : 0);
        pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
        o.dim = kDim;
        o.metric = PVEC_METRIC_L2;
        pvec_collection *c = nullptr;
        PV_OK(pvec_collection_create(db, "s", &o, &c, nullptr));
        pvec_collection_close(c);
        PV_OK(pvec_db_close(db));
    }
    auto *shared = static_cast<Shared *>(
        mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(shared, MAP_FAILED);
    new (shared) Shared{};
    fflush(nullptr);
    pid_t kids[2];
    for (int p = 0; p < 2; ++p) {
        kids[p] = fork();
        ASSERT_GE(kids[p], 0);
        if (kids[p] == 0) {
            _exit(run_process(tmp.path(), p, shared, tmp.path() + ".log" + std::to_string(p), wal));
        }
    }
    for (int p = 0; p < 2; ++p) {
        int status = 0;
        ASSERT_EQ(waitpid(kids[p], &status, 0), kids[p]);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
            << "process " << p << " status " << status;
    }
    std::set<int64_t> acked, deleted;
    for (int p = 0; p < 2; ++p) {
        const std::string log = tmp.path() + ".log" + std::to_string(p);
        std::ifstream in(log);
        char kind;
        long long b;
        while (in >> kind >> b) {
            (kind == 'A' ? acked : deleted).insert(b);
        }
        std::remove(log.c_str());
    }
    munmap(shared, sizeof(Shared));
    ASSERT_GT(acked.size(), 0u);
    pvec_db *db = open_db(tmp.path());
    pvec_collection *c = open_coll(db, "s");
    std::size_t present = 0;
    for (int64_t b : acked) {
        const bool gone = deleted.count(b) > 0;
        for (int i = 0; i < kGroup; ++i) {
            int rc = pvec_get(c, item_id(b, i), nullptr, 0, nullptr, nullptr);
            EXPECT_EQ(rc, gone ? PVEC_NOTFOUND : PVEC_OK) << "batch " << b << " item " << i;
            present += rc == PVEC_OK;
        }
    }
    EXPECT_EQ(count(c), present);
    std::printf("after the run: %zu batches acknowledged, %zu deleted, %zu items present\n",
                acked.size(), deleted.size(), present);
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}

INSTANTIATE_TEST_SUITE_P(JournalModes, Stress, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool> &i) {
                             return std::string(i.param ? "Wal" : "RollbackJournal");
                         });
