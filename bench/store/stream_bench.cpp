// Streaming mode's memory bound, measured (not a test): builds a collection in a child process,
// then in this fresh process searches it through a streaming handle (pvec_collection_open_v2 with
// --cap bytes) and reports the process's peak resident-set increase during those searches
// (VmHWM after, reset with /proc/self/clear_refs "5" before, minus VmRSS before), then the same
// queries through a resident handle, comparing ids and scores bit for bit.
// What the figure counts: everything the process adds while searching: heap (chunk windows, the
// blob SQLite reads, selections), SQLite's page cache, thread stacks the scan pool touches, and any
// file page mapped into the process (streaming turns SQLite's mmap off while it reads).
// Usage: pvec_stream_bench [--count N] [--dim D] [--codec int8|f32|...] [--cap BYTES]
//                          [--queries Q] [--k K] [--raw] [--path FILE] [--reuse]
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "pocketvec/pocketvec.h"

namespace {

using Clock = std::chrono::steady_clock;

void check(int rc, char *err, const char *what) {
    if (rc != PVEC_OK) {
        std::fprintf(stderr, "%s: %s: %s\n", what, pvec_errstr(rc), err ? err : "");
        std::exit(1);
    }
    pvec_free(err);
}
#define CHECK(call, what)                                                                          \
    do {                                                                                           \
        char *e_ = nullptr;                                                                        \
        int rc_ = (call);                                                                          \
        check(rc_, e_, what);                                                                      \
    } while (0)

// A field of /proc/self/status in KiB.
long status_kib(const char *field) {
    std::ifstream in("/proc/self/status");
    std::string line;
    const std::size_t n = std::strlen(field);
    while (std::getline(in, line)) {
        if (line.compare(0, n, field) == 0 && line.size() > n && line[n] == ':') {
            return std::atol(line.c_str() + n + 1);
        }
    }
    return -1;
}

bool reset_hwm() {
    std::ofstream out("/proc/self/clear_refs");
    out << "5";
    out.flush();
    return static_cast<bool>(out);
}

struct Args {
    std::size_t count = 400000, dim = 384, queries = 20, k = 10, threads = 0;
    std::string codec = "int8";
    uint64_t cap = 16ull << 20;
    bool raw = false, reuse = false;
    std::string path;
};

std::vector<float> gaussian(std::size_t n, std::size_t dim, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> v(n * dim);
    for (float &x : v) {
        x = d(rng);
    }
    return v;
}

void build(const Args &a) {
    pvec_db *db = nullptr;
    CHECK(pvec_db_open(a.path.c_str(), nullptr, &db, &e_), "open");
    pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
    o.dim = static_cast<uint32_t>(a.dim);
    o.codec = a.codec.c_str();
    o.raw_tier = a.raw ? PVEC_RAW_F32 : PVEC_RAW_NONE;
    o.train_threshold = PVEC_TRAIN_NEVER;
    pvec_collection *c = nullptr;
    CHECK(pvec_collection_create(db, "bench", &o, &c, &e_), "create");
    const std::size_t batch = 10000;
    std::vector<int64_t> ids(batch);
    for (std::size_t first = 0; first < a.count; first += batch) {
        const std::size_t n = std::min(batch, a.count - first);
        const std::vector<float> v = gaussian(n, a.dim, static_cast<uint32_t>(first + 1));
        for (std::size_t i = 0; i < n; ++i) {
            ids[i] = static_cast<int64_t>(first + i);
        }
        CHECK(pvec_add_batch(c, n, ids.data(), v.data(), a.dim, nullptr, &e_), "add");
    }
    if (a.codec != "f32") {
        CHECK(pvec_collection_train(c, nullptr, &e_), "train");
    }
    pvec_collection_close(c);
    CHECK(pvec_db_close(db), "close");
}

struct Run {
    std::vector<int64_t> ids;
    std::vector<float> scores;
    double ms = 0;
};

Run search(pvec_collection *c, const Args &a, const std::vector<float> &q, uint32_t oversample) {
    Run r;
    r.ids.assign(a.queries * a.k, -1);
    r.scores.assign(a.queries * a.k, 0);
    std::vector<size_t> found(a.queries);
    pvec_search_options o = PVEC_SEARCH_OPTIONS_INIT;
    o.oversample = oversample;
    o.threads = static_cast<uint32_t>(a.threads);
    const auto t = Clock::now();
    // One pvec_search per query (each reads the whole collection through the cap), then one
    // pvec_search_batch of all of them (one pass).
    for (std::size_t i = 0; i < a.queries; ++i) {
        CHECK(pvec_search(c, q.data() + i * a.dim, a.dim, a.k, &o, r.ids.data() + i * a.k,
                          r.scores.data() + i * a.k, &found[i], &e_),
              "search");
    }
    r.ms = std::chrono::duration<double, std::milli>(Clock::now() - t).count() / a.queries;
    Run b;
    b.ids.assign(a.queries * a.k, -1);
    b.scores.assign(a.queries * a.k, 0);
    CHECK(pvec_search_batch(c, q.data(), a.queries, a.dim, a.k, &o, b.ids.data(), b.scores.data(),
                            found.data(), &e_),
          "search_batch");
    if (b.ids != r.ids || std::memcmp(b.scores.data(), r.scores.data(), 4 * b.scores.size()) != 0) {
        std::fprintf(stderr, "pvec_search_batch differs from pvec_search\n");
        std::exit(1);
    }
    return r;
}

}  // namespace

int main(int argc, char **argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string s = argv[i];
        auto next = [&]() { return i + 1 < argc ? argv[++i] : ""; };
        if (s == "--count") {
            a.count = std::strtoull(next(), nullptr, 10);
        } else if (s == "--dim") {
            a.dim = std::strtoull(next(), nullptr, 10);
        } else if (s == "--codec") {
            a.codec = next();
        } else if (s == "--cap") {
            a.cap = std::strtoull(next(), nullptr, 10);
        } else if (s == "--queries") {
            a.queries = std::strtoull(next(), nullptr, 10);
        } else if (s == "--k") {
            a.k = std::strtoull(next(), nullptr, 10);
        } else if (s == "--threads") {
            a.threads = std::strtoull(next(), nullptr, 10);
        } else if (s == "--raw") {
            a.raw = true;
        } else if (s == "--path") {
            a.path = next();
        } else if (s == "--reuse") {
            a.reuse = true;
        } else {
            std::fprintf(stderr, "usage: %s [--count N] [--dim D] [--codec C] [--cap BYTES] "
                                 "[--queries Q] [--k K] [--threads T] [--raw] [--path FILE] [--reuse]\n", argv[0]);
            return 2;
        }
    }
    if (a.path.empty()) {
        a.path = "/tmp/pvec_stream_bench_" + a.codec + "_" + std::to_string(a.count) + "x" +
                 std::to_string(a.dim) + (a.raw ? "_raw" : "") + ".db";
    }
    if (!a.reuse || access(a.path.c_str(), F_OK) != 0) {
        std::remove(a.path.c_str());
        // Built in a child: its memory (a writer holds the collection resident) never reaches
        // this process's heap, so the figures below start from a fresh one.
        const auto t = Clock::now();
        const pid_t pid = fork();
        if (pid == 0) {
            build(a);
            _exit(0);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            std::fprintf(stderr, "building failed\n");
            return 1;
        }
        std::printf("built %zu x %zu %s%s in %.1f s: %s\n", a.count, a.dim, a.codec.c_str(),
                    a.raw ? " + raw f32" : "",
                    std::chrono::duration<double>(Clock::now() - t).count(), a.path.c_str());
    }
    const std::vector<float> queries = gaussian(a.queries, a.dim, 777);
    const uint32_t oversample = a.raw ? 4 : 0;

    pvec_db *db = nullptr;
    CHECK(pvec_db_open(a.path.c_str(), nullptr, &db, &e_), "open");
    pvec_collection_open_options so = PVEC_COLLECTION_OPEN_OPTIONS_INIT;
    so.memory_cap = a.cap;
    pvec_collection *st = nullptr;
    CHECK(pvec_collection_open_v2(db, "bench", &so, &st, &e_), "open streaming");
    const long rss_before = status_kib("VmRSS");
    const long anon_before = status_kib("RssAnon"), file_before = status_kib("RssFile");
    if (!reset_hwm()) {
        std::fprintf(stderr, "cannot reset VmHWM (/proc/self/clear_refs)\n");
        return 1;
    }
    const long hwm_reset = status_kib("VmHWM");
    const Run streamed = search(st, a, queries, oversample);
    const long hwm_stream = status_kib("VmHWM");
    const long rss_stream = status_kib("VmRSS");
    const long anon_after = status_kib("RssAnon"), file_after = status_kib("RssFile");
    // Again, once the process's one-time costs (library pages, the scan pool's threads) are paid.
    reset_hwm();
    const long rss_warm = status_kib("VmRSS");
    (void)search(st, a, queries, oversample);
    const long hwm_warm = status_kib("VmHWM");
    // After the measurement: info reads every page of the collection's tables (dbstat).
    pvec_collection_info info;
    info.struct_size = sizeof info;
    CHECK(pvec_collection_info_get(st, &info, &e_), "info");
    pvec_collection_close(st);

    const long rss_res0 = status_kib("VmRSS");
    pvec_collection *res = nullptr;
    const auto t_open = Clock::now();
    CHECK(pvec_collection_open(db, "bench", &res, &e_), "open resident");
    const double open_ms =
        std::chrono::duration<double, std::milli>(Clock::now() - t_open).count();
    const Run resident = search(res, a, queries, oversample);
    const long rss_res = status_kib("VmRSS");
    pvec_collection_close(res);
    CHECK(pvec_db_close(db), "close");

    std::size_t same_ids = 0;
    for (std::size_t i = 0; i < streamed.ids.size(); ++i) {
        same_ids += streamed.ids[i] == resident.ids[i];
    }
    const bool same_scores =
        std::memcmp(streamed.scores.data(), resident.scores.data(), 4 * streamed.scores.size()) == 0;
    const double cap_mib = double(a.cap) / (1 << 20);
    const double peak_mib = double(hwm_stream - rss_before) / 1024;
    std::printf("collection: %llu items x %u dims, codec %s, code %u bytes, %llu bytes in the file\n",
                (unsigned long long)info.count, info.dim, info.codec, info.code_bytes,
                (unsigned long long)info.bytes_used);
    std::printf("kernels: %s; queries: %zu, k = %zu, oversample %u\n", pvec_kernel_name(),
                a.queries, a.k, oversample);
    std::printf("streaming: cap %.2f MiB (min_memory_cap %.2f MiB); VmRSS before %ld KiB, VmHWM "
                "after reset %ld KiB, VmHWM after searching %ld KiB, VmRSS after %ld KiB\n",
                cap_mib, double(info.min_memory_cap) / (1 << 20), rss_before, hwm_reset,
                hwm_stream, rss_stream);
    std::printf("streaming: peak extra resident memory %.2f MiB = %.1f%% of the cap (bound: cap + "
                "10%% = %.2f MiB): %s\n",
                peak_mib, 100.0 * peak_mib / cap_mib, cap_mib * 1.1,
                peak_mib <= cap_mib * 1.1 ? "within" : "EXCEEDED");
    std::printf("streaming: after the searches, RssAnon %+ld KiB, RssFile %+ld KiB against before\n",
                anon_after - anon_before, file_after - file_before);
    std::printf("streaming, second round (warm process): peak extra %.2f MiB = %.1f%% of the cap\n",
                double(hwm_warm - rss_warm) / 1024, 100.0 * double(hwm_warm - rss_warm) / 1024 / cap_mib);
    std::printf("streaming: %.1f ms per pvec_search\n", streamed.ms);
    std::printf("resident: open %.0f ms, %.1f ms per pvec_search, VmRSS +%.1f MiB while open\n",
                open_ms, resident.ms, double(rss_res - rss_res0) / 1024);
    std::printf("same ids as resident: %zu / %zu; scores bit-identical: %s\n", same_ids,
                streamed.ids.size(), same_scores ? "yes" : "no");
    return same_ids == streamed.ids.size() && same_scores && peak_mib <= cap_mib * 1.1 ? 0 : 1;
}
