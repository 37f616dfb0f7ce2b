// pocketvec synth: writes the demo's synthetic vectors as a dataset directory (base.fvecs,
// query.fvecs, exact groundtruth_k100.ivecs, README.md), the format `eval`, `demo --data` and
// bench/compare read, so other engines can be measured on exactly the demo's data.
#include "cli.h"
#include "commands.h"
#include "oracle.h"
#include "synth.h"

#include <cstdio>
#include <filesystem>
#include <pocketvec/pocketvec.h>
#include <string>
#include <vector>

namespace pocketvec::tool {
namespace {

constexpr const char *kHelp =
    "usage: pocketvec synth --out DIR [--count N] [--dim D] [--queries Q] [--seed S]\n"
    "\n"
    "Writes the demo's synthetic embedding-like unit vectors (the generator of `pocketvec demo`,\n"
    "metric cosine) as a dataset directory: DIR/base.fvecs, DIR/query.fvecs, the exact top-100\n"
    "neighbours of every query in DIR/groundtruth_k100.ivecs (ties by the smaller row), and\n"
    "DIR/README.md naming the metric. DIR must not exist.\n"
    "\n"
    "  --out DIR     the directory to create\n"
    "  --count N     base vectors (default 100000)\n"
    "  --dim D       dimension (default 384)\n"
    "  --queries Q   query vectors (default 1000)\n"
    "  --seed S      generator seed (default 42, as the demo's)\n";

constexpr uint64_t kBaseStream = 0; // the demo's streams: the same seed gives the same vectors
constexpr uint64_t kQueryStream = 1;
constexpr size_t kTruthK = 100;

void write_all(std::FILE *f, const void *p, size_t bytes, const std::string &path) {
    if (bytes != 0 && std::fwrite(p, 1, bytes, f) != bytes) {
        throw ToolError("cannot write " + path);
    }
}

// Rows of `dim` values of T, each preceded by its int32 dimension (the fvecs / ivecs layout).
template <class T>
void write_vecs(const std::string &path, const T *data, size_t rows, size_t dim) {
    std::FILE *f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) {
        throw ToolError("cannot create " + path);
    }
    const int32_t d = static_cast<int32_t>(dim);
    for (size_t r = 0; r < rows; ++r) {
        write_all(f, &d, sizeof d, path);
        write_all(f, data + r * dim, dim * sizeof(T), path);
    }
    if (std::fclose(f) != 0) {
        throw ToolError("cannot write " + path);
    }
}

} // namespace

int run_synth(const CommandArgs &argv) {
    if (wants_help(argv)) {
        std::fputs(kHelp, stdout);
        return kExitOk;
    }
    const Args args(argv, {{"--out", true},
                           {"--count", true},
                           {"--dim", true},
                           {"--queries", true},
                           {"--seed", true}});
    args.expect_positionals(0, 0, "options only");
    const std::optional<std::string> out = args.value("--out");
    if (!out) {
        throw UsageError("--out is required");
    }
    const size_t count = args.unsigned_or("--count", 100000, 1, 100'000'000);
    const size_t dim = args.unsigned_or("--dim", 384, 1, PVEC_MAX_DIM);
    const size_t queries = args.unsigned_or("--queries", 1000, 1, 1'000'000);
    const uint64_t seed = args.unsigned_or("--seed", 42, 0, UINT64_MAX);
    if (count < kTruthK) {
        throw UsageError("--count must be at least 100 (the ground truth holds 100 neighbours)");
    }
    std::error_code ec;
    if (std::filesystem::exists(*out, ec)) {
        throw ToolError(*out + " already exists");
    }
    if (!std::filesystem::create_directories(*out, ec)) {
        throw ToolError("cannot create " + *out + ": " + ec.message());
    }
    const SyntheticSource source(dim, seed);
    const Matrix base = source.sample(count, kBaseStream, worker_threads());
    const Matrix query = source.sample(queries, kQueryStream, worker_threads());
    const std::vector<int64_t> truth =
        exact_top_k(base, query, PVEC_METRIC_COSINE, kTruthK, worker_threads());
    std::vector<int32_t> truth32(truth.begin(), truth.end());
    const std::string dir = *out + "/";
    write_vecs(dir + "base.fvecs", base.data.data(), base.rows, dim);
    write_vecs(dir + "query.fvecs", query.data.data(), query.rows, dim);
    write_vecs(dir + "groundtruth_k100.ivecs", truth32.data(), query.rows, kTruthK);
    std::FILE *readme = std::fopen((dir + "README.md").c_str(), "w");
    if (readme == nullptr) {
        throw ToolError("cannot create " + dir + "README.md");
    }
    std::fprintf(readme,
                 "# Synthetic embedding-like vectors (pocketvec synth)\n\n"
                 "* Source: `pocketvec synth --count %zu --dim %zu --queries %zu --seed %llu`, the "
                 "generator of `pocketvec demo` (%zu clusters, decaying spectrum, unit norm)\n"
                 "* Metric: **cosine**\n"
                 "* Ground truth: exact top-100 by brute force, ties by the smaller row\n",
                 count, dim, queries, static_cast<unsigned long long>(seed),
                 SyntheticSource::kClusters);
    if (std::fclose(readme) != 0) {
        throw ToolError("cannot write " + dir + "README.md");
    }
    std::printf("wrote %zu x %zu base vectors, %zu queries and their exact top-%zu to %s\n", count,
                dim, queries, kTruthK, out->c_str());
    return kExitOk;
}

} // namespace pocketvec::tool
