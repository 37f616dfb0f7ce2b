// pocketvec eval: the storage / quality trade-off of compression configurations on one dataset.
// Each configuration is built in its own temporary database from the dataset's base vectors,
// trained, closed, measured on disk, reopened and queried; one row (or JSON line) per
// configuration says what it costs in bytes and what it keeps in recall and latency.
#include "cli.h"
#include "commands.h"
#include "dataset.h"
#include "json_writer.h"
#include "measure.h"
#include "oracle.h"
#include "readers.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>
#include <numeric>
#include <optional>
#include <system_error>

namespace pocketvec::tool {
namespace {

constexpr const char *kHelp =
    "usage: pocketvec eval --data DIR [--configs LIST] [--k K] [--queries N] [--metric M]\n"
    "                      [--train-sample N] [--threads N] [--json]\n"
    "\n"
    "Measures compression configurations on a dataset: for each one, builds a fresh temporary\n"
    "database from DIR/base.fvecs, trains it, closes it and measures the file, reopens it and\n"
    "runs the queries one at a time, then prints one row per configuration:\n"
    "  code B      bytes of one stored code (pvec_collection_info code_bytes)\n"
    "  compress    float32 bytes (dim x 4) / code bytes\n"
    "  file B/vec  database file size / vectors (the raw tier is on only for +rN configs)\n"
    "  recall@K    |found top-K and true top-K| / K averaged over the queries, truncated to 3\n"
    "              decimals (1.000 means no true neighbour was missed)\n"
    "  p50/p95 ms  latency of one pvec_search call\n"
    "  rescored    raw vectors read for rescoring per query: median / maximum (pvec_search's\n"
    "              rescored count; 0 without rescoring)\n"
    "  train s     pvec_collection_train (0 for f32, which is exact and not trained)\n"
    "  insert/s    vectors added per second (batches of 10,000, one transaction each)\n"
    "A configuration that fails prints an error row; the others still run, and the exit code is\n"
    "then 1.\n"
    "\n"
    "Configurations are parts joined by '+':\n"
    "  CODEC       exactly one of f32 f16 bf16 e4m3 e5m2 int8 int4 binary rabitq rabitq2\n"
    "  pcaNN       PCA keeping NN% of the dimensions (round(dim x NN / 100), 1 <= NN <= 99),\n"
    "              followed by a random orthogonal rotation\n"
    "  rN          keep the raw vectors (zstd float32), scan K x N candidates by code and rescore\n"
    "              them exactly from the raw vectors\n"
    "  rNf32, rNf16  the same with the raw vectors kept as plain float32 or as binary16 (half\n"
    "              the bytes; rescored scores then carry binary16's rounding)\n"
    "  exact       keep the raw vectors (zstd float32) and search exactly from the codes\n"
    "              (PVEC_RESCORE_EXACT): the exact top K, rescoring only the candidates whose\n"
    "              bound reaches the K-th exact score; exactf32 / exactf16 choose the raw tier\n"
    "              as rN does (with f16 the answer is exact over the binary16-rounded vectors)\n"
    "e.g. int8, pca50+int8+r4, int8+r4f16, binary+r10, rabitq+r10, rabitq2+r4, int8+exact.\n"
    "\n"
    "  --data DIR          DIR/base.fvecs, query.fvecs, groundtruth_k100.ivecs and README.md with\n"
    "                      a line '* Metric: **cosine**' (or inner product, L2); ids are base rows\n"
    "  --configs LIST      comma-separated configurations (default:\n"
    "                      f32,f16,bf16,e4m3,e5m2,int8,int4,binary,pca50+int8,pca50+e4m3,\n"
    "                      int8+r4,int4+r4,pca50+int8+r4,binary+r10,rabitq+r10,rabitq2+r4)\n"
    "  --k K, -k K         neighbours per query and the K of recall@K (default 10)\n"
    "  --queries N         run the first N queries (default 300; all of them where fewer)\n"
    "  --metric M          cosine, dot or l2 (overrides the README's; ground truth is then\n"
    "                      computed exactly by the tool)\n"
    "  --train-sample N    vectors to train on (default: the library's, up to 16384)\n"
    "  --threads N         threads one search may use (pvec_search_options.threads; default 0,\n"
    "                      one per hardware thread; 1 = single-threaded latency)\n"
    "  --json              JSON lines on stdout, one object per configuration, with config,\n"
    "                      code_bytes, compression, file_bytes_per_vector, recall_at_K, p50_ms,\n"
    "                      p95_ms, train_s, insert_per_s, ... or error\n";

constexpr const char *kDefaultConfigs =
    "f32,f16,bf16,e4m3,e5m2,int8,int4,binary,pca50+int8,pca50+e4m3,int8+r4,int4+r4,"
    "pca50+int8+r4,binary+r10,rabitq+r10,rabitq2+r4";
constexpr const char *kCodecs[] = {"f32",  "f16",  "bf16",   "e4m3",   "e5m2",
                                   "int8", "int4", "binary", "rabitq", "rabitq2"};
constexpr const char *kCollection = "eval";
constexpr size_t kInsertBatch = 10000;
constexpr uint64_t kDefaultQueries = 300;
constexpr uint64_t kDefaultK = 10;
constexpr uint64_t kMaxOversample = 1000;

// One configuration, as parsed from the command line.
struct EvalSpec {
    std::string name;         // as given, e.g. "pca50+int8+r4"
    std::string codec;        // one of kCodecs
    uint32_t pca_percent = 0; // 0 = no PCA
    uint32_t oversample = 0;  // 0 = no raw tier and no rescoring
    uint32_t raw_tier = PVEC_RAW_NONE;  // with rN: PVEC_RAW_ZSTD_F32, or as its suffix says
    bool exact = false;       // PVEC_RESCORE_EXACT (with a raw tier, as for rN)
};

// The raw tier an rN part names by its suffix: none (zstd float32), "f32" or "f16".
bool raw_tier_of_suffix(std::string_view suffix, uint32_t *tier) {
    if (suffix.empty()) {
        *tier = PVEC_RAW_ZSTD_F32;
    } else if (suffix == "f32") {
        *tier = PVEC_RAW_F32;
    } else if (suffix == "f16") {
        *tier = PVEC_RAW_F16;
    } else {
        return false;
    }
    return true;
}

const char *raw_tier_name(uint32_t tier) {
    switch (tier) {
    case PVEC_RAW_ZSTD_F32: return "zstd_f32";
    case PVEC_RAW_F32: return "f32";
    case PVEC_RAW_F16: return "f16";
    default: return "none";
    }
}

struct EvalConfig {
    std::string data_dir;
    std::vector<EvalSpec> specs;
    size_t k = kDefaultK;
    const char *k_option = "--k"; // as given, for messages
    std::optional<size_t> queries;
    std::optional<uint32_t> metric;
    uint32_t train_sample = 0; // 0 = the library's default
    uint32_t threads = 0;      // pvec_search_options.threads
    bool json = false;
};

bool all_digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

EvalSpec parse_spec(const std::string &text) {
    EvalSpec spec;
    spec.name = text;
    const std::string where = "config '" + text + "'";
    if (text.empty()) {
        throw UsageError("--configs: empty configuration");
    }
    bool has_pca = false;
    size_t start = 0;
    while (start <= text.size()) {
        const size_t plus = std::min(text.find('+', start), text.size());
        const std::string part = text.substr(start, plus - start);
        start = plus + 1;
        if (part.empty()) {
            throw UsageError(where + ": empty part");
        }
        const bool is_codec = std::find_if(std::begin(kCodecs), std::end(kCodecs),
                                           [&](const char *c) { return part == c; }) !=
                              std::end(kCodecs);
        if (is_codec) {
            if (!spec.codec.empty()) {
                throw UsageError(where + ": two codecs ('" + spec.codec + "' and '" + part + "')");
            }
            spec.codec = part;
        } else if (part.rfind("pca", 0) == 0 && all_digits(part.substr(3))) {
            if (has_pca) {
                throw UsageError(where + ": pcaNN given twice");
            }
            has_pca = true;
            spec.pca_percent =
                static_cast<uint32_t>(parse_unsigned(part.substr(3), where + ": pcaNN", 1, 99));
        } else if (const size_t digits_end = std::min(part.find_first_not_of("0123456789", 1),
                                                      part.size());
                   part[0] == 'r' && digits_end > 1 &&
                   raw_tier_of_suffix(std::string_view(part).substr(digits_end), &spec.raw_tier)) {
            if (spec.oversample != 0) {
                throw UsageError(where + ": rN given twice");
            }
            spec.oversample = static_cast<uint32_t>(
                parse_unsigned(part.substr(1, digits_end - 1), where + ": rN", 1, kMaxOversample));
        } else if (part.rfind("exact", 0) == 0 &&
                   raw_tier_of_suffix(std::string_view(part).substr(5), &spec.raw_tier)) {
            if (spec.exact) {
                throw UsageError(where + ": exact given twice");
            }
            spec.exact = true;
        } else {
            throw UsageError(where + ": unknown part '" + part +
                             "' (expected one codec of f32 f16 bf16 e4m3 e5m2 int8 int4 binary "
                             "rabitq rabitq2, optionally with pcaNN and rN, rNf32 or rNf16, or "
                             "exact)");
        }
    }
    if (spec.exact && spec.oversample != 0) {
        throw UsageError(where + ": exact and rN exclude each other (exact needs no oversampling)");
    }
    if (spec.codec.empty()) {
        throw UsageError(where +
                         ": no codec (f32 f16 bf16 e4m3 e5m2 int8 int4 binary rabitq rabitq2)");
    }
    return spec;
}

std::vector<EvalSpec> parse_specs(const std::string &list) {
    std::vector<EvalSpec> specs;
    size_t start = 0;
    while (start <= list.size()) {
        const size_t comma = std::min(list.find(',', start), list.size());
        specs.push_back(parse_spec(list.substr(start, comma - start)));
        start = comma + 1;
    }
    return specs;
}

EvalConfig parse_config(const CommandArgs &argv) {
    const Args args(argv, {{"--data", true},
                           {"--configs", true},
                           {"--k", true},
                           {"-k", true},
                           {"--queries", true},
                           {"--metric", true},
                           {"--train-sample", true},
                           {"--threads", true},
                           {"--json", false}});
    args.expect_positionals(0, 0, "options only");
    EvalConfig cfg;
    const std::optional<std::string> data = args.value("--data");
    if (!data) {
        throw UsageError("--data is required");
    }
    cfg.data_dir = *data;
    cfg.specs = parse_specs(args.value_or("--configs", kDefaultConfigs));
    if (args.has("--k") && args.has("-k")) {
        throw UsageError("give k once (--k or -k)");
    }
    cfg.k_option = args.has("-k") ? "-k" : "--k";
    cfg.k = args.unsigned_or(cfg.k_option, kDefaultK, 1, 10'000);
    if (args.has("--queries")) {
        cfg.queries = args.unsigned_or("--queries", 0, 1, 10'000'000);
    }
    if (const std::optional<std::string> m = args.value("--metric")) {
        cfg.metric = parse_metric(*m);
    }
    cfg.train_sample =
        static_cast<uint32_t>(args.unsigned_or("--train-sample", 0, 0, UINT32_MAX));
    cfg.threads = static_cast<uint32_t>(args.unsigned_or("--threads", 0, 0, 64));
    cfg.json = args.has("--json");
    return cfg;
}

// ---- one configuration ----------------------------------------------------------------------

// What the run of one configuration measured.
struct EvalResult {
    uint32_t pca_dim = 0;
    pvec_collection_info info{};
    uint64_t file_bytes = 0;
    double file_bytes_per_vector = 0;
    double insert_per_s = 0;
    double train_s = 0;
    Recall recall;
    double p50_ms = 0;
    double p95_ms = 0;
    double rescored_median = 0;  // raw vectors read per query for rescoring
    uint64_t rescored_max = 0;
};

// The data every configuration runs on.
struct EvalData {
    const EvalConfig &cfg;
    const Matrix &base;
    const Matrix &queries;
    uint32_t metric;
    // truth(q, j): the j-th true neighbour (base row) of query q.
    std::function<int64_t(size_t, size_t)> truth;
};

uint32_t pca_dim_for(const EvalSpec &spec, size_t dim) {
    if (spec.pca_percent == 0) {
        return 0;
    }
    const auto kept = static_cast<uint64_t>(
        std::llround(static_cast<double>(dim) * spec.pca_percent / 100.0));
    if (kept < 1 || kept >= dim) {
        throw ToolError(strprintf("pca%u keeps %llu of %zu dimensions; PCA must keep fewer "
                                  "than all and at least one",
                                  spec.pca_percent, static_cast<unsigned long long>(kept), dim));
    }
    return static_cast<uint32_t>(kept);
}

// Codecs other than f32 (and any PCA) only take effect once the collection is trained.
bool needs_training(const EvalSpec &spec) {
    return spec.codec != "f32" || spec.pca_percent != 0;
}

// Creates the collection, adds every base vector, trains, and closes the file.
void build(const std::string &path, const EvalSpec &spec, const EvalData &data,
           EvalResult &result, Progress &progress) {
    DbHandle db = open_db(path, 0);
    pvec_collection_options opts = PVEC_COLLECTION_OPTIONS_INIT;
    opts.dim = static_cast<uint32_t>(data.base.dim);
    opts.metric = data.metric;
    opts.codec = spec.codec.c_str();
    opts.pca_dim = result.pca_dim;
    opts.raw_tier = spec.oversample != 0 || spec.exact ? spec.raw_tier : PVEC_RAW_NONE;
    // Training is timed on its own, so it must not happen inside an add.
    opts.train_threshold = PVEC_TRAIN_NEVER;
    opts.flags = spec.pca_percent != 0 ? PVEC_COLLECTION_PCA_ROTATE : 0u;
    pvec_collection *raw = nullptr;
    const PvecStatus created = pvec_try([&](char **err) {
        return pvec_collection_create(db.get(), kCollection, &opts, &raw, err);
    });
    CollectionHandle coll(raw);
    if (!created.ok()) {
        throw_status("cannot create the collection", created);
    }

    const size_t n = data.base.rows;
    const std::string label = spec.name + ": inserting";
    std::vector<int64_t> ids;
    const auto insert_start = std::chrono::steady_clock::now();
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
        progress.update(label, b + count, n);
    }
    const double insert_s = seconds_since(insert_start);
    result.insert_per_s = insert_s > 0 ? static_cast<double>(n) / insert_s : 0.0;

    if (needs_training(spec)) {
        progress.status(spec.name + ": training");
        pvec_train_options topts = PVEC_TRAIN_OPTIONS_INIT;
        topts.sample = data.cfg.train_sample;
        const auto train_start = std::chrono::steady_clock::now();
        pvec_check("cannot train the collection", [&](char **err) {
            return pvec_collection_train(coll.get(), &topts, err);
        });
        result.train_s = seconds_since(train_start);
    }
    result.info = collection_info(coll.get());
    if (result.info.count != n) {
        throw ToolError(strprintf("the collection holds %llu items after adding %zu",
                                  static_cast<unsigned long long>(result.info.count), n));
    }
    if (result.info.code_bytes == 0) {
        throw ToolError("the collection reports 0 code bytes per vector");
    }
    coll.reset();
    close_db(db);
}

// Reopens the file read-only, so the search runs on the store as loaded from disk.
void search_all(const std::string &path, const EvalSpec &spec, const EvalData &data,
                EvalResult &result, Progress &progress) {
    DbHandle db = open_db(path, PVEC_OPEN_READONLY | PVEC_OPEN_NOCREATE);
    CollectionHandle coll = open_collection(db.get(), kCollection);

    pvec_search_options opts = PVEC_SEARCH_OPTIONS_INIT;
    opts.threads = data.cfg.threads;
    uint64_t rescored = 0;
    opts.rescored = &rescored;
    if (spec.exact) {
        opts.rescore = PVEC_RESCORE_EXACT;
    } else if (spec.oversample != 0) {
        opts.oversample = spec.oversample;
        opts.rescore = PVEC_RESCORE_RAW;
    } else {
        opts.rescore = PVEC_RESCORE_NONE; // the code scores, as stored
    }

    const size_t k = data.cfg.k;
    const size_t nq = data.queries.rows;
    const size_t expected = std::min(k, data.base.rows);
    const std::string label = spec.name + ": searching";
    std::vector<double> latency_ms(nq), rescored_per_query(nq);
    std::vector<int64_t> found(nq * k, -1);
    std::vector<float> scores(k);
    for (size_t q = 0; q < nq; ++q) {
        size_t n_found = 0;
        std::chrono::steady_clock::duration elapsed{};
        const PvecStatus status = pvec_try([&](char **err) {
            const auto t0 = std::chrono::steady_clock::now();
            const int rc = pvec_search(coll.get(), data.queries.row(q), data.queries.dim, k, &opts,
                                       found.data() + q * k, scores.data(), &n_found, err);
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
        latency_ms[q] = std::chrono::duration<double, std::milli>(elapsed).count();
        rescored_per_query[q] = static_cast<double>(rescored);
        result.rescored_max = std::max(result.rescored_max, rescored);
        progress.update(label, q + 1, nq);
    }
    coll.reset();
    close_db(db);

    result.recall = recall_at_k(found, nq, k, data.truth);
    result.p50_ms = percentile(latency_ms, 0.50);
    result.p95_ms = percentile(latency_ms, 0.95);
    result.rescored_median = percentile(rescored_per_query, 0.50);
}

EvalResult run_spec(const EvalSpec &spec, const EvalData &data, Progress &progress) {
    EvalResult result;
    result.pca_dim = pca_dim_for(spec, data.base.dim);
    const std::string path = temporary_db_path("pocketvec-eval");
    const ScopedDatabaseFile file(path, true); // removed on every path, after the handles close

    build(path, spec, data, result, progress);
    // A journal left behind would mean the close did not finish a transaction, and the size
    // measured would not be the committed file's.
    std::error_code ec;
    if (std::filesystem::exists(path + "-journal", ec)) {
        throw ToolError("a rollback journal was left beside the database after closing it");
    }
    result.file_bytes = database_bytes(path);
    result.file_bytes_per_vector =
        static_cast<double>(result.file_bytes) / static_cast<double>(data.base.rows);

    search_all(path, spec, data, result, progress);
    progress.finish();
    return result;
}

// ---- output ---------------------------------------------------------------------------------

double compression_of(const EvalResult &r) {
    return static_cast<double>(r.info.dim) * sizeof(float) / static_cast<double>(r.info.code_bytes);
}

std::string dataset_name(const std::string &dir) {
    std::filesystem::path p = std::filesystem::path(dir).lexically_normal();
    if (p.filename().empty()) { // "dir/" normalises to "dir/" with an empty filename
        p = p.parent_path();
    }
    const std::string name = p.filename().string();
    return name.empty() ? dir : name;
}

void json_common(JsonWriter &json, const EvalSpec &spec, const EvalData &data) {
    json.key("config").string(spec.name);
    json.key("dataset").string(dataset_name(data.cfg.data_dir));
    json.key("count").uinteger(data.base.rows);
    json.key("dim").uinteger(data.base.dim);
    json.key("metric").string(metric_name(data.metric));
    json.key("queries").uinteger(data.queries.rows);
    json.key("k").uinteger(data.cfg.k);
    json.key("kernel").string(pvec_kernel_name());
}

void print_json(const EvalSpec &spec, const EvalData &data, const EvalResult &r,
                const std::string &ground_truth) {
    JsonWriter json;
    json.begin_object();
    json_common(json, spec, data);
    json.key("codec").string(spec.codec);
    json.key("pca_dim").uinteger(r.pca_dim);
    json.key("code_dim").uinteger(r.info.code_dim);
    json.key("oversample").uinteger(spec.oversample);
    json.key("exact").boolean(spec.exact);
    json.key("raw_tier").string(raw_tier_name(r.info.raw_tier));
    json.key("trained").boolean(r.info.trained != 0);
    json.key("code_bytes").uinteger(r.info.code_bytes);
    json.key("compression").fixed(compression_of(r), 2);
    json.key("file_bytes").uinteger(r.file_bytes);
    json.key("file_bytes_per_vector").fixed(r.file_bytes_per_vector, 1);
    json.key(strprintf("recall_at_%zu", data.cfg.k)).raw(r.recall.text());
    json.key("ground_truth").string(ground_truth);
    json.key("p50_ms").fixed(r.p50_ms, 3);
    json.key("p95_ms").fixed(r.p95_ms, 3);
    json.key("rescored_median").fixed(r.rescored_median, 1);
    json.key("rescored_max").uinteger(r.rescored_max);
    json.key("train_s").fixed(r.train_s, 3);
    json.key("insert_per_s").fixed(r.insert_per_s, 0);
    json.end_object();
    std::printf("%s\n", json.str().c_str());
}

void print_json_error(const EvalSpec &spec, const EvalData &data, const std::string &message) {
    JsonWriter json;
    json.begin_object();
    json_common(json, spec, data);
    json.key("error").string(message);
    json.end_object();
    std::printf("%s\n", json.str().c_str());
}

// Fixed columns, so that rows can be printed as each configuration finishes.
class Table {
public:
    Table(const std::vector<EvalSpec> &specs, size_t k) : k_(k) {
        for (const EvalSpec &s : specs) {
            config_width_ = std::max(config_width_, static_cast<int>(s.name.size()));
        }
    }

    void header() const {
        const std::string recall = strprintf("recall@%zu", k_);
        std::printf("%-*s  %7s  %8s  %10s  %9s  %8s  %8s  %11s  %8s  %10s\n", config_width_,
                    "config", "code B", "compress", "file B/vec", recall.c_str(), "p50 ms",
                    "p95 ms", "rescored", "train s", "insert/s");
    }

    void row(const EvalSpec &spec, const EvalResult &r) const {
        const std::string compression = strprintf("%.1fx", compression_of(r));
        const std::string rescored = strprintf("%.0f / %llu", r.rescored_median,
                                               static_cast<unsigned long long>(r.rescored_max));
        std::printf("%-*s  %7u  %8s  %10.1f  %9s  %8.3f  %8.3f  %11s  %8.2f  %10s\n",
                    config_width_, spec.name.c_str(), r.info.code_bytes, compression.c_str(),
                    r.file_bytes_per_vector, r.recall.text().c_str(), r.p50_ms, r.p95_ms,
                    rescored.c_str(), r.train_s,
                    with_commas(static_cast<uint64_t>(r.insert_per_s)).c_str());
    }

    void error_row(const EvalSpec &spec, const std::string &message) const {
        std::printf("%-*s  error: %s\n", config_width_, spec.name.c_str(), message.c_str());
    }

private:
    size_t k_;
    int config_width_ = 6; // "config"
};

} // namespace

int run_eval(const CommandArgs &argv) {
    if (wants_help(argv)) {
        std::fputs(kHelp, stdout);
        return kExitOk;
    }
    const EvalConfig cfg = parse_config(argv);
    Progress progress(stderr_is_terminal());

    DatasetRequest request;
    request.dir = cfg.data_dir;
    request.metric = cfg.metric;
    request.max_queries = cfg.queries.value_or(kDefaultQueries);
    request.note_fewer_queries = cfg.queries.has_value();
    request.k = cfg.k;
    request.k_option = cfg.k_option;
    request.command = "eval";
    const Dataset dataset = load_dataset(request, progress);
    const size_t k = cfg.k;
    const size_t nq = dataset.queries.rows;

    // Without usable ground truth in the file (another metric), compute it exactly once.
    std::vector<int64_t> oracle;
    const bool truth_from_file = dataset.truth.rows != 0;
    if (!truth_from_file) {
        progress.note(strprintf("computing exact ground truth on %u threads", worker_threads()));
        oracle = exact_top_k(dataset.base, dataset.queries, dataset.metric, k, worker_threads());
    }
    const EvalData data{cfg, dataset.base, dataset.queries, dataset.metric,
                        [&](size_t q, size_t j) -> int64_t {
                            return truth_from_file ? dataset.truth.row(q)[j] : oracle[q * k + j];
                        }};
    const std::string ground_truth = truth_from_file ? "file" : "oracle";

    const Table table(cfg.specs, k);
    if (!cfg.json) {
        std::printf("pocketvec eval: dataset %s, %s x %zu, metric %s, %zu queries, k = %zu, "
                    "kernel %s, ground truth from %s\n\n",
                    cfg.data_dir.c_str(), with_commas(dataset.base.rows).c_str(),
                    dataset.base.dim, metric_name(dataset.metric), nq, k, pvec_kernel_name(),
                    truth_from_file ? "groundtruth_k100.ivecs" : "an exact brute-force oracle");
        table.header();
        std::fflush(stdout);
    }

    int exit_code = kExitOk;
    for (const EvalSpec &spec : cfg.specs) {
        std::optional<EvalResult> result;
        std::string error;
        // One configuration's failure (an unsupported codec, a failed call) is its own row;
        // the remaining configurations still run.
        try {
            result = run_spec(spec, data, progress);
        } catch (const std::exception &e) {
            error = e.what();
        }
        progress.finish();
        if (!result) {
            exit_code = kExitRuntime;
            if (cfg.json) {
                print_json_error(spec, data, error);
            } else {
                table.error_row(spec, error);
            }
        } else if (cfg.json) {
            print_json(spec, data, *result, ground_truth);
        } else {
            table.row(spec, *result);
        }
        std::fflush(stdout);
    }
    return exit_code;
}

} // namespace pocketvec::tool
