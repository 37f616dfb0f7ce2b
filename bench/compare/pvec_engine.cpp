// The pocketvec side of bench/compare, through the public C API only: builds a database in one
// process and queries it in a fresh one (single thread unless asked), printing one JSON line with
// the same fields as the peers (peers.mjs, faiss_peer.py). Also measures the bandwidth floor.
//
//   pvec_compare_engine build CONFIG DATA_DIR FILE
//   pvec_compare_engine query CONFIG DATA_DIR FILE QUERIES K [THREADS]
//   pvec_compare_engine batch CONFIG DATA_DIR FILE BATCH K       (one query alone vs BATCH in a
//   row) pvec_compare_engine membw BYTES                              (one core's read GB/s)
//
// CONFIG is CODEC[+rN|+exact] (f32 f16 bf16 e4m3 e5m2 int8 int4 binary; rN: keep the raw vectors
// as float32 and rescore k x N candidates from them; exact: the same raw vectors, searched with
// PVEC_RESCORE_EXACT).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <numeric>
#include <pocketvec/pocketvec.h>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

struct Vecs {
    std::size_t rows = 0, dim = 0;
    std::vector<float> f;
    std::vector<int32_t> i;
};

Vecs read_vecs(const std::string &path, bool ints) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("cannot read " + path);
    }
    std::vector<char> buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Vecs v;
    int32_t d = 0;
    std::memcpy(&d, buf.data(), 4);
    v.dim = static_cast<std::size_t>(d);
    const std::size_t row = 4 + 4 * v.dim;
    v.rows = buf.size() / row;
    (ints ? static_cast<void>(v.i.resize(v.rows * v.dim)) : v.f.resize(v.rows * v.dim));
    for (std::size_t r = 0; r < v.rows; ++r) {
        void *dst =
            ints ? static_cast<void *>(&v.i[r * v.dim]) : static_cast<void *>(&v.f[r * v.dim]);
        std::memcpy(dst, buf.data() + r * row + 4, 4 * v.dim);
    }
    return v;
}

uint32_t metric_of(const std::string &dir) {
    std::ifstream in(dir + "/README.md");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::size_t at = text.find("Metric: **");
    const std::string m = at == std::string::npos ? "" : text.substr(at + 10, 12);
    if (m.rfind("cosine", 0) == 0 || m.rfind("angular", 0) == 0) {
        return PVEC_METRIC_COSINE;
    }
    if (m.rfind("inner", 0) == 0) {
        return PVEC_METRIC_DOT;
    }
    if (m.rfind("L2", 0) == 0) {
        return PVEC_METRIC_L2;
    }
    throw std::runtime_error(dir + "/README.md names no metric");
}

struct Config {
    std::string codec;
    uint32_t oversample = 0;
    bool exact = false;
    bool raw() const { return oversample > 1 || exact; }
};

Config parse_config(const std::string &s) {
    Config c;
    const std::size_t plus = s.find('+');
    c.codec = s.substr(0, plus);
    if (plus != std::string::npos && s.substr(plus + 1) == "exact") {
        c.exact = true;
    } else if (plus != std::string::npos) {
        if (s[plus + 1] != 'r') {
            throw std::runtime_error("bad config " + s);
        }
        c.oversample = static_cast<uint32_t>(std::stoul(s.substr(plus + 2)));
    }
    return c;
}

void check(int rc, char *err, const char *what) {
    if (rc != PVEC_OK) {
        std::string msg =
            std::string(what) + ": " + pvec_errstr(rc) + (err ? std::string(": ") + err : "");
        pvec_free(err);
        throw std::runtime_error(msg);
    }
}

long rss_bytes() {
    std::ifstream in("/proc/self/statm");
    long pages = 0, resident = 0;
    in >> pages >> resident;
    return resident * 4096;
}

std::string set_name(const std::string &dir) {
    std::string d = dir;
    while (!d.empty() && d.back() == '/') {
        d.pop_back();
    }
    return d.substr(d.find_last_of('/') + 1);
}

int build(const std::string &cfg_text, const std::string &dir, const std::string &file) {
    const Config cfg = parse_config(cfg_text);
    const Vecs base = read_vecs(dir + "/base.fvecs", false);
    std::remove(file.c_str());
    pvec_db *db = nullptr;
    char *err = nullptr;
    check(pvec_db_open(file.c_str(), nullptr, &db, &err), err, "open");
    pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
    o.dim = static_cast<uint32_t>(base.dim);
    o.metric = metric_of(dir);
    o.codec = cfg.codec.c_str();
    o.raw_tier = cfg.raw() ? PVEC_RAW_F32 : PVEC_RAW_NONE;
    pvec_collection *c = nullptr;
    check(pvec_collection_create(db, "v", &o, &c, &err), err, "create");
    // Insert in batches of 10,000, one transaction each; a trained codec trains itself when the
    // collection reaches its threshold, inside the timed build.
    std::vector<int64_t> ids(base.rows);
    std::iota(ids.begin(), ids.end(), 0);
    // Timed: the insert calls and their commits (training included, when a batch triggers it),
    // not the probes of whether the collection is trained yet.
    double build_ms = 0, insert_trained_ms = 0;
    std::size_t inserted_trained = 0;
    for (std::size_t b = 0; b < base.rows; b += 10000) {
        const std::size_t n = std::min<std::size_t>(10000, base.rows - b);
        pvec_collection_info info{};
        info.struct_size = sizeof info;
        check(pvec_collection_info_get(c, &info, &err), err, "info");
        const auto tb = Clock::now();
        check(pvec_db_begin(db, &err), err, "begin");
        check(pvec_add_batch(c, n, &ids[b], &base.f[b * base.dim], base.dim, nullptr, &err), err,
              "add");
        check(pvec_db_commit(db, &err), err, "commit");
        const double batch_ms = ms_since(tb);
        build_ms += batch_ms;
        if (info.trained || cfg.codec == "f32") {
            insert_trained_ms += batch_ms;
            inserted_trained += n;
        }
    }
    pvec_collection_info info{};
    info.struct_size = sizeof info;
    check(pvec_collection_info_get(c, &info, &err), err, "info");
    pvec_collection_close(c);
    check(pvec_db_close(db), nullptr, "close");
    std::ifstream f(file, std::ios::binary | std::ios::ate);
    const double file_bytes = static_cast<double>(f.tellg());
    std::printf("{\"engine\": \"pocketvec-%s\", \"set\": \"%s\", \"n\": %zu, \"dim\": %zu, "
                "\"kernel\": \"%s\", \"build_s\": %.4f, \"insert_per_s\": %.0f, "
                "\"insert_trained_per_s\": %.0f, \"code_bytes\": %u, "
                "\"file_bytes_per_vector\": %.1f}\n",
                cfg_text.c_str(), set_name(dir).c_str(), base.rows, base.dim, pvec_kernel_name(),
                build_ms / 1000, base.rows / (build_ms / 1000),
                inserted_trained ? inserted_trained / (insert_trained_ms / 1000) : 0.0,
                info.code_bytes, file_bytes / base.rows);
    return 0;
}

struct Opened {
    pvec_db *db = nullptr;
    pvec_collection *c = nullptr;
};

Opened open_file(const std::string &file) {
    Opened o;
    char *err = nullptr;
    pvec_open_options oo = PVEC_OPEN_OPTIONS_INIT;
    oo.flags = PVEC_OPEN_READONLY | PVEC_OPEN_NOCREATE;
    check(pvec_db_open(file.c_str(), &oo, &o.db, &err), err, "open");
    check(pvec_collection_open(o.db, "v", &o.c, &err), err, "open collection");
    return o;
}

pvec_search_options search_options(const Config &cfg, uint32_t threads) {
    pvec_search_options so = PVEC_SEARCH_OPTIONS_INIT;
    so.threads = threads;
    so.oversample = cfg.oversample;
    so.rescore = cfg.exact              ? PVEC_RESCORE_EXACT
                 : cfg.oversample > 1 ? PVEC_RESCORE_RAW
                                      : PVEC_RESCORE_NONE;
    return so;
}

// Milliseconds to read `path` once from start to end.
double read_file_ms(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    std::vector<char> buf(1 << 20);
    const auto t0 = Clock::now();
    while (f.read(buf.data(), static_cast<std::streamsize>(buf.size())) || f.gcount() > 0) {
    }
    return ms_since(t0);
}

int query(const std::string &cfg_text, const std::string &dir, const std::string &file,
          std::size_t nq, std::size_t k, uint32_t threads) {
    const Config cfg = parse_config(cfg_text);
    const Vecs q = read_vecs(dir + "/query.fvecs", false);
    const Vecs truth = read_vecs(dir + "/groundtruth_k100.ivecs", true);
    nq = std::min(nq, q.rows);
    // What opening is measured against (issue 14, item 8): reading the whole file once, in 1 MiB
    // reads, as warm in the page cache as the open that follows.
    const double file_read_ms = read_file_ms(file);
    const long rss0 = rss_bytes();
    const auto t0 = Clock::now();
    Opened o = open_file(file);
    std::vector<int64_t> ids(k);
    std::size_t found = 0;
    char *err = nullptr;
    const pvec_search_options so = search_options(cfg, threads);
    check(pvec_search(o.c, &q.f[0], q.dim, k, &so, ids.data(), nullptr, &found, &err), err,
          "search");
    const double open_ms = ms_since(t0);
    std::vector<double> times;
    std::size_t hits = 0;
    for (std::size_t r = 0; r < nq; ++r) {
        const auto s = Clock::now();
        check(pvec_search(o.c, &q.f[r * q.dim], q.dim, k, &so, ids.data(), nullptr, &found, &err),
              err, "search");
        times.push_back(ms_since(s));
        const std::set<int64_t> want(&truth.i[r * truth.dim], &truth.i[r * truth.dim] + k);
        for (std::size_t j = 0; j < found; ++j) {
            hits += want.count(ids[j]);
        }
    }
    const long rss1 = rss_bytes();
    std::sort(times.begin(), times.end());
    pvec_collection_info info{};
    info.struct_size = sizeof info;
    check(pvec_collection_info_get(o.c, &info, &err), err, "info");
    pvec_collection_close(o.c);
    pvec_db_close(o.db);
    std::printf("{\"engine\": \"pocketvec-%s\", \"set\": \"%s\", \"n\": %llu, \"kernel\": \"%s\", "
                "\"threads\": %u, \"open_ms\": %.3f, \"file_read_ms\": %.3f, "
                "\"queries\": %zu, \"k\": %zu, "
                "\"p50_ms\": %.4f, \"p95_ms\": %.4f, \"recall\": %.4f, \"code_bytes\": %u, "
                "\"resident_bytes_per_vector\": %.1f}\n",
                cfg_text.c_str(), set_name(dir).c_str(),
                static_cast<unsigned long long>(info.count), pvec_kernel_name(), threads, open_ms,
                file_read_ms, nq, k, times[times.size() / 2],
                times[std::min(times.size() - 1, times.size() * 95 / 100)],
                static_cast<double>(hits) / static_cast<double>(nq * k), info.code_bytes,
                static_cast<double>(std::max(0L, rss1 - rss0)) / static_cast<double>(info.count));
    return 0;
}

// One query's latency (pvec_search) vs one pvec_search_batch of `batch` different queries, which
// scans the codes once for all of them; also the same queries as separate calls.
int batch(const std::string &cfg_text, const std::string &dir, const std::string &file,
          std::size_t batch, std::size_t k) {
    const Config cfg = parse_config(cfg_text);
    const Vecs q = read_vecs(dir + "/query.fvecs", false);
    Opened o = open_file(file);
    std::vector<int64_t> ids(k);
    std::size_t found = 0;
    char *err = nullptr;
    const pvec_search_options so = search_options(cfg, 1);
    std::vector<float> qs(batch * q.dim);
    for (std::size_t b = 0; b < batch; ++b) {
        std::memcpy(&qs[b * q.dim], &q.f[(b % q.rows) * q.dim], q.dim * sizeof(float));
    }
    std::vector<int64_t> batch_ids(batch * k);
    std::vector<std::size_t> batch_found(batch);
    std::vector<double> one, together, separate;
    for (int rep = 0; rep < 20; ++rep) {
        auto s = Clock::now();
        check(pvec_search(o.c, &q.f[0], q.dim, k, &so, ids.data(), nullptr, &found, &err), err,
              "search");
        one.push_back(ms_since(s));
        s = Clock::now();
        check(pvec_search_batch(o.c, qs.data(), batch, q.dim, k, &so, batch_ids.data(), nullptr,
                                batch_found.data(), &err),
              err, "search_batch");
        together.push_back(ms_since(s));
        s = Clock::now();
        for (std::size_t b = 0; b < batch; ++b) {
            check(pvec_search(o.c, &qs[b * q.dim], q.dim, k, &so, ids.data(), nullptr, &found,
                              &err),
                  err, "search");
        }
        separate.push_back(ms_since(s));
    }
    auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    std::printf("{\"engine\": \"pocketvec-%s\", \"set\": \"%s\", \"batch\": %zu, \"one_ms\": %.4f, "
                "\"batch_ms\": %.4f, \"separate_ms\": %.4f, \"ratio\": %.2f}\n",
                cfg_text.c_str(), set_name(dir).c_str(), batch, median(one), median(together),
                median(separate), median(together) / median(one));
    pvec_collection_close(o.c);
    pvec_db_close(o.db);
    return 0;
}

// Best of 15 passes summing a buffer of `bytes` (64-bit words, 4 independent sums): one core's
// read bandwidth for a buffer that size, hot in cache where it fits, as a scan sees it. Compiled
// for the widest vectors the CPU has (target_clones), so the floor is not understated.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
double
sum_pass_ms(const uint64_t *buf, std::size_t words, uint64_t *sink) {
    const auto s = Clock::now();
    uint64_t a = 0, b = 0, c = 0, d = 0;
    for (std::size_t i = 0; i + 4 <= words; i += 4) {
        a += buf[i];
        b += buf[i + 1];
        c += buf[i + 2];
        d += buf[i + 3];
    }
    *sink += a + b + c + d;
    return ms_since(s);
}

int membw(std::size_t bytes) {
    const std::size_t words = std::max<std::size_t>(8, bytes / 8);
    std::vector<uint64_t> buf(words);
    for (std::size_t i = 0; i < words; ++i) {
        buf[i] = i * 0x9E3779B97F4A7C15ull;
    }
    double best = 1e30;
    uint64_t sink = 0;
    for (int rep = 0; rep < 15; ++rep) {
        best = std::min(best, sum_pass_ms(buf.data(), words, &sink));
    }
    std::printf("{\"membw_bytes\": %zu, \"gb_per_s\": %.2f, \"sink\": %llu}\n", words * 8,
                static_cast<double>(words * 8) / (best / 1000) / 1e9,
                static_cast<unsigned long long>(sink % 7));
    return 0;
}

} // namespace

int main(int argc, char **argv) {
    try {
        const std::vector<std::string> a(argv + 1, argv + argc);
        if (a.size() == 4 && a[0] == "build") {
            return build(a[1], a[2], a[3]);
        }
        if ((a.size() == 6 || a.size() == 7) && a[0] == "query") {
            return query(a[1], a[2], a[3], std::stoul(a[4]), std::stoul(a[5]),
                         a.size() == 7 ? static_cast<uint32_t>(std::stoul(a[6])) : 1u);
        }
        if (a.size() == 6 && a[0] == "batch") {
            return batch(a[1], a[2], a[3], std::stoul(a[4]), std::stoul(a[5]));
        }
        if (a.size() == 2 && a[0] == "membw") {
            return membw(std::stoull(a[1]));
        }
        std::fprintf(stderr,
                     "usage: see the comment at the top of bench/compare/pvec_engine.cpp\n");
        return 2;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "pvec_compare_engine: %s\n", e.what());
        return 1;
    }
}
