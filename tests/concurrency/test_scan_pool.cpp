// The scan pool (lib/search/thread_pool): every task of a job runs once and run() waits for all;
// concurrent callers each complete their own tasks; a forked child gets its own pool; and parallel
// searches from several threads on one handle equal single-threaded ones. Label `concurrency`:
// ThreadSanitizer runs these.
#include "search/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "../integration/test_helpers.h"

namespace pocketvec::search {
namespace {

TEST(ScanPool, RunsEveryTaskExactlyOnceAndWaitsForAll) {
    ASSERT_GE(pool_threads(), 1u);
    for (std::size_t n : {0u, 1u, 2u, 3u, 17u, 64u}) {
        std::vector<std::atomic<int>> runs(n);
        for (auto &r : runs) {
            r = 0;
        }
        pool_run(n, [&](std::size_t i) {
            std::this_thread::sleep_for(std::chrono::microseconds(50 * (i % 3)));
            runs[i].fetch_add(1);
        });
        for (std::size_t i = 0; i < n; ++i) {
            EXPECT_EQ(runs[i].load(), 1) << "task " << i << " of " << n;
        }
    }
}

// Searches from several threads at once: a run that finds the pool busy runs on its caller, and
// every run still completes all of its own tasks.
TEST(ScanPool, ConcurrentCallersEachCompleteTheirTasks) {
    std::vector<std::thread> callers;
    std::atomic<int> wrong{0};
    for (int c = 0; c < 4; ++c) {
        callers.emplace_back([&, c] {
            for (int round = 0; round < 50; ++round) {
                std::vector<int> hits(8, 0);  // each task writes only its own element
                pool_run(hits.size(), [&](std::size_t i) { hits[i] += c + 1; });
                for (int h : hits) {
                    wrong += h != c + 1;
                }
            }
        });
    }
    for (auto &t : callers) {
        t.join();
    }
    EXPECT_EQ(wrong.load(), 0);
}

// A forked child has none of the parent's pool threads: its first run starts its own.
#if defined(__SANITIZE_THREAD__)
#define PVEC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PVEC_TSAN 1
#endif
#endif

TEST(ScanPool, WorksInAForkedChild) {
#if defined(PVEC_TSAN)
    GTEST_SKIP() << "ThreadSanitizer cannot start threads after a multi-threaded fork; the "
                    "release and AddressSanitizer runs test this";
#endif
    pool_run(4, [](std::size_t) {});  // the parent's pool exists
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        std::atomic<int> done{0};
        pool_run(16, [&](std::size_t) { done.fetch_add(1); });
        _exit(done.load() == 16 ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

// Enough f32 vectors (12,000 x 128: 6 MB of codes) that a search splits into ranges on the pool;
// three threads search one handle at once with threads = 2 and must get the single-thread answer.
TEST(ScanPool, ParallelSearchesFromSeveralThreadsEqualOneThread) {
    using namespace pvtest;
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    constexpr std::size_t kN = 12000, kDim = 128;
    pvec_collection *c = create(db, "c", kDim, PVEC_METRIC_DOT);
    const auto v = gaussian_vectors(kN, kDim, 9);
    std::vector<int64_t> ids(kN);
    for (std::size_t i = 0; i < kN; ++i) {
        ids[i] = static_cast<int64_t>(i);
    }
    PV_OK(pvec_add_batch(c, kN, ids.data(), v.data(), kDim, nullptr, nullptr));
    const auto q = gaussian_vectors(6, kDim, 10);
    pvec_search_options one = PVEC_SEARCH_OPTIONS_INIT, two = PVEC_SEARCH_OPTIONS_INIT;
    one.threads = 1;
    two.threads = 2;
    std::vector<std::vector<int64_t>> want(6, std::vector<int64_t>(10));
    for (std::size_t i = 0; i < 6; ++i) {
        std::size_t n = 0;
        PV_OK(pvec_search(c, &q[i * kDim], kDim, 10, &one, want[i].data(), nullptr, &n, nullptr));
    }
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
        threads.emplace_back([&] {
            for (int round = 0; round < 10; ++round) {
                for (std::size_t i = 0; i < 6; ++i) {
                    std::vector<int64_t> got(10);
                    std::size_t n = 0;
                    if (pvec_search(c, &q[i * kDim], kDim, 10, &two, got.data(), nullptr, &n,
                                    nullptr) != PVEC_OK ||
                        got != want[i]) {
                        ++wrong;
                    }
                }
            }
        });
    }
    for (auto &t : threads) {
        t.join();
    }
    EXPECT_EQ(wrong.load(), 0);
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}

}  // namespace
}  // namespace pocketvec::search
