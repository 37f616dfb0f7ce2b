// The store under many connections, measured (not a test): concurrent searches on one pvec_db,
// the cost of the first search after another connection's upsert, pvec_count, and the peak memory
// of one explicit transaction against autocommit batches. Every figure is a ratio against a bound
// measured in the same run. Usage: pvec_store_bench [--count N] [--dim D] [--queries Q]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "pocketvec/pocketvec.h"

namespace {

using Clock = std::chrono::steady_clock;

void check(int rc, char *err, const char *what) {
    if (rc != PVEC_OK) {
        std::fprintf(stderr, "%s: %s: %s\n", what, pvec_errstr(rc), err ? err : "");
        std::exit(1);
    }
}
#define CHECK(call, what)                                                                          \
    do {                                                                                           \
        char *e_ = nullptr;                                                                        \
        int rc_ = (call);                                                                          \
        check(rc_, e_, what);                                                                      \
    } while (0)

std::vector<float> unit_vectors(std::size_t n, std::size_t dim, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> v(n * dim);
    for (std::size_t i = 0; i < n; ++i) {
        double s = 0;
        for (std::size_t j = 0; j < dim; ++j) {
            v[i * dim + j] = d(rng);
            s += double(v[i * dim + j]) * v[i * dim + j];
        }
        for (std::size_t j = 0; j < dim; ++j) {
            v[i * dim + j] = static_cast<float>(v[i * dim + j] / std::sqrt(s));
        }
    }
    return v;
}

double ms_since(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

pvec_search_options one_thread() {
    pvec_search_options o = PVEC_SEARCH_OPTIONS_INIT;
    o.threads = 1;
    return o;
}

double search_ms(pvec_collection *c, const float *q, std::size_t dim) {
    pvec_search_options o = one_thread();
    int64_t ids[10];
    std::size_t n = 0;
    const auto t = Clock::now();
    CHECK(pvec_search(c, q, dim, 10, &o, ids, nullptr, &n, &e_), "search");
    return ms_since(t);
}

void fill(pvec_collection *c, std::size_t count, std::size_t dim, bool one_txn, pvec_db *db) {
    const std::size_t batch = 1000;
    if (one_txn) {
        CHECK(pvec_db_begin(db, &e_), "begin");
    }
    for (std::size_t first = 0; first < count; first += batch) {
        const std::size_t n = std::min(batch, count - first);
        auto v = unit_vectors(n, dim, static_cast<uint32_t>(first + 1));
        std::vector<int64_t> ids(n);
        for (std::size_t i = 0; i < n; ++i) {
            ids[i] = static_cast<int64_t>(first + i);
        }
        CHECK(pvec_add_batch(c, n, ids.data(), v.data(), dim, nullptr, &e_), "add");
    }
    if (one_txn) {
        CHECK(pvec_db_commit(db, &e_), "commit");
    }
}

// Peak resident memory (KiB) of a child process that fills a new collection.
long peak_kib_of_fill(const std::string &path, std::size_t count, std::size_t dim, bool one_txn) {
    std::remove(path.c_str());
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
        pvec_db *db = nullptr;
        CHECK(pvec_db_open(path.c_str(), nullptr, &db, &e_), "open");
        pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
        o.dim = static_cast<uint32_t>(dim);
        pvec_collection *c = nullptr;
        CHECK(pvec_collection_create(db, "m", &o, &c, &e_), "create");
        fill(c, count, dim, one_txn, db);
        pvec_collection_close(c);
        pvec_db_close(db);
        _exit(0);
    }
    int status = 0;
    struct rusage ru;
    wait4(pid, &status, 0, &ru);
    std::remove(path.c_str());
    return ru.ru_maxrss;
}

}  // namespace

int main(int argc, char **argv) {
    std::size_t count = 100000, dim = 384, queries = 200;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        const std::size_t v = std::strtoull(argv[i + 1], nullptr, 10);
        if (a == "--count") {
            count = v;
        } else if (a == "--dim") {
            dim = v;
        } else if (a == "--queries") {
            queries = v;
        }
    }
    const std::string path = "/tmp/pvec_store_bench_" + std::to_string(getpid()) + ".db";
    std::remove(path.c_str());
    std::printf("pocketvec store benchmark: %zu x %zu f32 (synthetic unit vectors), kernel %s, "
                "%u hardware threads\n",
                count, dim, pvec_kernel_name(), std::thread::hardware_concurrency());

    // Measured first, in child processes, while this process holds almost nothing (a child
    // inherits its parent's resident pages).
    // 1. Peak memory of one explicit transaction against autocommit batches of 1,000.
    const long auto_kib = peak_kib_of_fill(path, count, dim, false);
    const long txn_kib = peak_kib_of_fill(path, count, dim, true);
    std::printf("peak memory adding %zu x %zu: autocommit batches %.1f MB, one explicit "
                "transaction %.1f MB: %.2fx (target <= 1.25x; the codes alone are %.1f MB)\n",
                count, dim, auto_kib / 1024.0, txn_kib / 1024.0, double(txn_kib) / auto_kib,
                count * dim * 4 / 1048576.0);
    pvec_db *db = nullptr;
    CHECK(pvec_db_open(path.c_str(), nullptr, &db, &e_), "open");
    pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
    o.dim = static_cast<uint32_t>(dim);
    pvec_collection *c = nullptr;
    CHECK(pvec_collection_create(db, "b", &o, &c, &e_), "create");
    fill(c, count, dim, false, nullptr);
    const auto q = unit_vectors(queries, dim, 777);

    // 2. Throughput: one thread, then two threads on the same pvec_db (each search single-threaded).
    auto run_threads = [&](int threads) {
        std::atomic<std::size_t> next{0};
        const auto t = Clock::now();
        std::vector<std::thread> ts;
        for (int i = 0; i < threads; ++i) {
            ts.emplace_back([&] {
                for (std::size_t k; (k = next.fetch_add(1)) < queries;) {
                    search_ms(c, &q[k * dim], dim);
                }
            });
        }
        for (auto &th : ts) {
            th.join();
        }
        return queries / (ms_since(t) / 1000.0);
    };
    run_threads(1);  // warm
    std::vector<double> qps1, qps2;
    for (int r = 0; r < 3; ++r) {
        qps1.push_back(run_threads(1));
        qps2.push_back(run_threads(2));
    }
    const double q1 = median(qps1), q2 = median(qps2);
    std::printf("concurrent searches on one pvec_db: 1 thread %.1f q/s, 2 threads %.1f q/s: %.2fx "
                "(target >= 1.7x)\n",
                q1, q2, q2 / q1);

    // 3. The first search after one upsert by another connection, against a normal search.
    pvec_db *other = nullptr;
    CHECK(pvec_db_open(path.c_str(), nullptr, &other, &e_), "open other");
    pvec_collection *oc = nullptr;
    CHECK(pvec_collection_open(other, "b", &oc, &e_), "open other collection");
    std::vector<double> normal, after;
    for (int r = 0; r < 15; ++r) {
        normal.push_back(search_ms(c, &q[(r % queries) * dim], dim));
        auto v = unit_vectors(1, dim, 5000 + r);
        CHECK(pvec_upsert(oc, static_cast<int64_t>(r * 997 % count), v.data(), dim, nullptr, &e_),
              "upsert");
        after.push_back(search_ms(c, &q[(r % queries) * dim], dim));
    }
    const double n_ms = median(normal), a_ms = median(after);
    std::printf("first search after another connection's upsert: %.2f ms against %.2f ms: %.2fx "
                "(target <= 2x)\n",
                a_ms, n_ms, a_ms / n_ms);

    // 4. pvec_count against a search.
    std::vector<double> counts;
    for (int r = 0; r < 50; ++r) {
        uint64_t n = 0;
        const auto t = Clock::now();
        CHECK(pvec_count(c, &n, &e_), "count");
        counts.push_back(ms_since(t));
    }
    std::printf("pvec_count: %.4f ms (%.5fx a search)\n", median(counts), median(counts) / n_ms);
    pvec_collection_close(oc);
    pvec_db_close(other);
    pvec_collection_close(c);
    pvec_db_close(db);
    std::remove(path.c_str());

    return 0;
}
