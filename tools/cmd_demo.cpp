// pocketvec demo: builds a store from synthetic or dataset vectors, reopens it, and measures what
// a user cares about: file size, build rate, recall against exact ground truth, latency.
#include "cli.h"
#include "commands.h"
#include "dataset.h"
#include "json_writer.h"
#include "measure.h"
#include "oracle.h"
#include "readers.h"
#include "synth.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <numeric>

namespace pocketvec::tool {
namespace {

constexpr const char *kHelp =
    "usage: pocketvec demo [--count N] [--dim D] [--queries Q] [-k K] [--data DIR] [--metric M]\n"
    "                      [--db PATH] [--keep] [--json] [--seed S]\n"
    "\n"
    "Builds a pocketvec store, closes and reopens it, runs the queries one at a time and reports\n"
    "file size, build rate, recall@K against exact ground truth, latency and throughput.\n"
    "\n"
    "Without --data the vectors are synthetic: a deterministic generator of embedding-like unit\n"
    "vectors (256 clusters, per-dimension spread decaying like 1/sqrt(1+i)), metric cosine, and\n"
    "the ground truth comes from an exact brute-force computation independent of the library.\n"
    "Recall is truncated to 3 decimals, not rounded: 1.000 means no true neighbour was missed.\n"
    "The --json key is recall_at_K (recall_at_10 by default).\n"
    "\n"
    "  --count N     synthetic vectors to store (default 100000)\n"
    "  --dim D       synthetic dimension (default 384)\n"
    "  --queries Q   queries to run (default 1000; with --data: all of the dataset's)\n"
    "  -k K          neighbours per query and the K of recall@K (default 10)\n"
    "  --data DIR    use a dataset instead: DIR/base.fvecs, query.fvecs, groundtruth_k100.ivecs\n"
    "                and README.md with a line '* Metric: **cosine**' (or inner product, L2);\n"
    "                ids are base row numbers, recall uses the dataset's ground truth\n"
    "  --metric M    cosine, dot or l2 (overrides the dataset's; then ground truth is computed)\n"
    "  --db PATH     build the store in PATH (must not exist) and keep it\n"
    "  --keep        keep the temporary database and print its path\n"
    "  --json        print one JSON object on stdout (progress goes to stderr, if a terminal)\n"
    "  --seed S      seed of the synthetic generator (default 42)\n";

constexpr size_t kInsertBatch = 10000;
constexpr const char *kCollection = "demo";
constexpr uint64_t kDefaultCount = 100000;
constexpr uint64_t kDefaultDim = 384;
constexpr uint64_t kDefaultQueries = 1000;
constexpr uint64_t kDefaultK = 10;
constexpr uint64_t kDefaultSeed = 42;
// Streams of the generator: base vectors and queries are drawn from the same centres.
constexpr uint64_t kBaseStream = 0;
constexpr uint64_t kQueryStream = 1;

struct DemoConfig {
    size_t count = kDefaultCount;
    size_t dim = kDefaultDim;
    std::optional<size_t> queries;
    size_t k = kDefaultK;
    std::optional<std::string> data_dir;
    std::optional<uint32_t> metric;
    std::optional<std::string> db_path;
    bool keep = false;
    bool json = false;
    uint64_t seed = kDefaultSeed;
};

struct DemoData {
    Matrix base;
    Matrix queries;
    uint32_t metric = PVEC_METRIC_COSINE;
    bool synthetic = true;
    std::string source; // one line saying where the vectors come from
    IntMatrix truth;    // the dataset's ground truth; empty when the oracle must compute it
};

DemoConfig parse_config(const CommandArgs &argv) {
    const Args args(argv, {{"--count", true},
                           {"--dim", true},
                           {"--queries", true},
                           {"-k", true},
                           {"--data", true},
                           {"--metric", true},
                           {"--db", true},
                           {"--keep", false},
                           {"--json", false},
                           {"--seed", true}});
    args.expect_positionals(0, 0, "options only");
    DemoConfig cfg;
    cfg.data_dir = args.value("--data");
    if (cfg.data_dir) {
        for (const char *opt : {"--count", "--dim", "--seed"}) {
            if (args.has(opt)) {
                throw UsageError(std::string(opt) +
                                 " describes synthetic data and cannot be used with --data");
            }
        }
    }
    cfg.count = args.unsigned_or("--count", kDefaultCount, 1, 100'000'000);
    cfg.dim = args.unsigned_or("--dim", kDefaultDim, 1, PVEC_MAX_DIM);
    if (args.has("--queries")) {
        cfg.queries = args.unsigned_or("--queries", 0, 1, 10'000'000);
    }
    cfg.k = args.unsigned_or("-k", kDefaultK, 1, 10'000);
    if (const std::optional<std::string> m = args.value("--metric")) {
        cfg.metric = parse_metric(*m);
    }
    cfg.db_path = args.value("--db");
    cfg.keep = args.has("--keep");
    cfg.json = args.has("--json");
    cfg.seed = args.unsigned_or("--seed", kDefaultSeed, 0, UINT64_MAX);
    if (!cfg.data_dir && cfg.k > cfg.count) {
        throw UsageError(strprintf("-k %zu exceeds --count %zu", cfg.k, cfg.count));
    }
    return cfg;
}

// ---- datasets -------------------------------------------------------------------------------

DemoData load_demo_dataset(const DemoConfig &cfg, Progress &progress) {
    DatasetRequest request;
    request.dir = *cfg.data_dir;
    request.metric = cfg.metric;
    request.max_queries = cfg.queries.value_or(SIZE_MAX);
    request.note_fewer_queries = cfg.queries.has_value();
    request.k = cfg.k;
    request.command = "demo";
    Dataset dataset = load_dataset(request, progress);
    DemoData data;
    data.synthetic = false;
    data.base = std::move(dataset.base);
    data.queries = std::move(dataset.queries);
    data.metric = dataset.metric;
    data.truth = std::move(dataset.truth);
    data.source = "dataset " + std::filesystem::path(*cfg.data_dir).string();
    return data;
}

DemoData make_synthetic(const DemoConfig &cfg, Progress &progress) {
    DemoData data;
    data.synthetic = true;
    data.metric = cfg.metric.value_or(PVEC_METRIC_COSINE);
    progress.note(
        strprintf("generating %zu synthetic vectors of dimension %zu", cfg.count, cfg.dim));
    const SyntheticSource source(cfg.dim, cfg.seed);
    data.base = source.sample(cfg.count, kBaseStream, worker_threads());
    data.queries =
        source.sample(cfg.queries.value_or(kDefaultQueries), kQueryStream, worker_threads());
    data.source = strprintf("synthetic embedding-like vectors (seed %llu: %zu clusters, "
                            "decaying spectrum, unit norm)",
                            static_cast<unsigned long long>(cfg.seed), SyntheticSource::kClusters);
    return data;
}

// ---- measurements ---------------------------------------------------------------------------

// Inserts every base vector in batches, one explicit transaction per batch; returns seconds.
double build_store(const std::string &path, const DemoData &data, Progress &progress) {
    DbHandle db = open_db(path, 0);
    pvec_collection_options opts = PVEC_COLLECTION_OPTIONS_INIT;
    opts.dim = static_cast<uint32_t>(data.base.dim);
    opts.metric = data.metric;
    opts.codec = "f32";
    pvec_collection *raw = nullptr;
    pvec_check("cannot create the demo collection", [&](char **err) {
        return pvec_collection_create(db.get(), kCollection, &opts, &raw, err);
    });
    CollectionHandle coll(raw);

    const size_t n = data.base.rows;
    std::vector<int64_t> ids;
    const auto start = std::chrono::steady_clock::now();
    for (size_t b = 0; b < n; b += kInsertBatch) {
        const size_t count = std::min(kInsertBatch, n - b);
        ids.resize(count);
        std::iota(ids.begin(), ids.end(), static_cast<int64_t>(b));
        Transaction tx(db.get());
        pvec_check(strprintf("cannot add vectors %zu to %zu", b, b + count - 1), [&](char **err) {
            return pvec_add_batch(coll.get(), count, ids.data(), data.base.row(b), data.base.dim,
                                  nullptr, err);
        });
        tx.commit();
        progress.update("inserting", b + count, n);
    }
    const double seconds = seconds_since(start);
    progress.finish();
    coll.reset();
    close_db(db);
    return seconds;
}

struct SearchRun {
    double reopen_s = 0;
    std::vector<double> latency_ms; // per query
    std::vector<int64_t> found;     // queries x k ids, -1 where fewer were returned
};

// Reopens the file read-only, so the search runs on the store as loaded from disk.
SearchRun run_queries(const std::string &path, const DemoData &data, size_t k, Progress &progress) {
    SearchRun run;
    const auto open_start = std::chrono::steady_clock::now();
    DbHandle db = open_db(path, PVEC_OPEN_READONLY | PVEC_OPEN_NOCREATE);
    CollectionHandle coll = open_collection(db.get(), kCollection);
    run.reopen_s = seconds_since(open_start);

    uint64_t count = 0;
    pvec_check("cannot count the items",
               [&](char **err) { return pvec_count(coll.get(), &count, err); });
    if (count != data.base.rows) {
        throw ToolError(strprintf("the reopened store holds %llu items, %zu were committed",
                                  static_cast<unsigned long long>(count), data.base.rows));
    }

    const size_t nq = data.queries.rows;
    run.latency_ms.resize(nq);
    run.found.assign(nq * k, -1);
    std::vector<float> scores(k);
    const size_t expected = std::min<size_t>(k, data.base.rows);
    for (size_t q = 0; q < nq; ++q) {
        size_t n_found = 0;
        std::chrono::steady_clock::duration elapsed{};
        const PvecStatus status = pvec_try([&](char **err) {
            const auto t0 = std::chrono::steady_clock::now();
            const int rc =
                pvec_search(coll.get(), data.queries.row(q), data.queries.dim, k, nullptr,
                            run.found.data() + q * k, scores.data(), &n_found, err);
            elapsed = std::chrono::steady_clock::now() - t0;
            return rc;
        });
        if (!status.ok()) {
            throw_status(strprintf("query %zu failed", q), status);
        }
        if (n_found != expected) {
            throw ToolError(
                strprintf("query %zu returned %zu results, expected %zu", q, n_found, expected));
        }
        run.latency_ms[q] = std::chrono::duration<double, std::milli>(elapsed).count();
        progress.update("searching", q + 1, nq);
    }
    progress.finish();
    coll.reset();
    close_db(db);
    return run;
}

} // namespace

int run_demo(const CommandArgs &argv) {
    if (wants_help(argv)) {
        std::fputs(kHelp, stdout);
        return kExitOk;
    }
    const DemoConfig cfg = parse_config(argv);
    Progress progress(stderr_is_terminal());

    const DemoData data =
        cfg.data_dir ? load_demo_dataset(cfg, progress) : make_synthetic(cfg, progress);
    const size_t n = data.base.rows;
    const size_t dim = data.base.dim;
    const size_t nq = data.queries.rows;
    const size_t k = cfg.k;

    std::string db_path;
    bool remove_db = false;
    if (cfg.db_path) {
        if (std::filesystem::exists(*cfg.db_path)) {
            throw ToolError("'" + *cfg.db_path + "' already exists; the demo builds a new file");
        }
        db_path = *cfg.db_path;
    } else {
        db_path = temporary_db_path("pocketvec-demo");
        remove_db = !cfg.keep;
    }
    const ScopedDatabaseFile db_file(db_path, remove_db);

    progress.note(strprintf("building the store in %s", db_path.c_str()));
    const double build_s = build_store(db_path, data, progress);
    const uint64_t file_bytes = database_bytes(db_path);

    progress.note(strprintf("reopening and running %zu queries", nq));
    const SearchRun run = run_queries(db_path, data, k, progress);

    double oracle_s = 0;
    Recall recall;
    const bool truth_from_file = data.truth.rows != 0;
    if (truth_from_file) {
        recall =
            recall_at_k(run.found, nq, k, [&](size_t q, size_t j) { return data.truth.row(q)[j]; });
    } else {
        progress.note(strprintf("computing exact ground truth on %u threads", worker_threads()));
        const auto start = std::chrono::steady_clock::now();
        const std::vector<int64_t> truth =
            exact_top_k(data.base, data.queries, data.metric, k, worker_threads());
        oracle_s = seconds_since(start);
        recall =
            recall_at_k(run.found, nq, k, [&](size_t q, size_t j) { return truth[q * k + j]; });
    }

    const double total_search_s =
        std::accumulate(run.latency_ms.begin(), run.latency_ms.end(), 0.0) / 1000.0;
    const double qps = total_search_s > 0 ? static_cast<double>(nq) / total_search_s : 0.0;
    const double p50 = percentile(run.latency_ms, 0.50);
    const double p95 = percentile(run.latency_ms, 0.95);
    const double insert_per_s = build_s > 0 ? static_cast<double>(n) / build_s : 0.0;
    const double bytes_per_vector = static_cast<double>(file_bytes) / static_cast<double>(n);
    const bool kept = !remove_db;
    const std::string recall_key = strprintf("recall_at_%zu", k);

    if (cfg.json) {
        JsonWriter json;
        json.begin_object();
        json.key("synthetic").boolean(data.synthetic);
        json.key("dataset");
        if (cfg.data_dir) {
            json.string(*cfg.data_dir);
        } else {
            json.null();
        }
        json.key("seed");
        if (data.synthetic) {
            json.uinteger(cfg.seed);
        } else {
            json.null();
        }
        json.key("count").uinteger(n);
        json.key("dim").uinteger(dim);
        json.key("metric").string(metric_name(data.metric));
        json.key("codec").string("f32");
        json.key("kernel").string(pvec_kernel_name());
        json.key("version").string(pvec_version_string());
        json.key("queries").uinteger(nq);
        json.key("k").uinteger(k);
        json.key("file_bytes").uinteger(file_bytes);
        json.key("bytes_per_vector").fixed(bytes_per_vector, 1);
        json.key("build_s").fixed(build_s, 3);
        json.key("insert_per_s").fixed(insert_per_s, 0);
        json.key("reopen_s").fixed(run.reopen_s, 3);
        json.key(recall_key).raw(recall.text());
        json.key("ground_truth").string(truth_from_file ? "file" : "oracle");
        json.key("oracle_s");
        if (truth_from_file) {
            json.null();
        } else {
            json.fixed(oracle_s, 3);
        }
        json.key("p50_ms").fixed(p50, 3);
        json.key("p95_ms").fixed(p95, 3);
        json.key("qps").fixed(qps, 1);
        json.key("db");
        if (kept) {
            json.string(db_path);
        } else {
            json.null();
        }
        json.end_object();
        std::printf("%s\n", json.str().c_str());
        return kExitOk;
    }

    std::printf("pocketvec demo: %s\n", data.source.c_str());
    std::printf("  vectors      %s x %zu, metric %s, codec f32\n", with_commas(n).c_str(), dim,
                metric_name(data.metric));
    std::printf("  queries      %zu, k = %zu, one pvec_search call at a time\n", nq, k);
    std::printf("  library      pocketvec %s, kernel %s\n", pvec_version_string(),
                pvec_kernel_name());
    std::printf("  file         %s bytes, %.1f bytes per vector (raw float32: %zu)\n",
                with_commas(file_bytes).c_str(), bytes_per_vector, dim * sizeof(float));
    std::printf("  build        %.2f s, %s vectors/s (batches of %zu, one transaction each)\n",
                build_s, with_commas(static_cast<uint64_t>(insert_per_s)).c_str(), kInsertBatch);
    std::printf("  reopen       %.3f s (open the file and load the collection)\n", run.reopen_s);
    if (truth_from_file) {
        std::printf("  recall@%-5zu %s (against the dataset's groundtruth_k100.ivecs)\n", k,
                    recall.text().c_str());
    } else {
        std::printf("  recall@%-5zu %s (against an exact brute-force oracle: %.2f s on %u "
                    "threads)\n",
                    k, recall.text().c_str(), oracle_s, worker_threads());
    }
    std::printf("  latency      p50 %.3f ms, p95 %.3f ms\n", p50, p95);
    std::printf("  throughput   %.1f queries/s\n", qps);
    if (kept) {
        std::printf("  database     %s (kept)\n", db_path.c_str());
    }
    return kExitOk;
}

} // namespace pocketvec::tool
