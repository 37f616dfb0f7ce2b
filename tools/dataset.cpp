#include "dataset.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

namespace pocketvec::tool {
namespace {

std::string lowercase(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

// Maps README wording to a metric: "inner product" / "ip" / "dot" -> dot, "l2" / "euclidean"
// -> l2, "cosine" / "angular" -> cosine.
std::optional<uint32_t> metric_from_words(const std::string &text) {
    std::vector<std::string> words;
    std::string word;
    for (const char c : text + " ") {
        if (std::isalnum(static_cast<unsigned char>(c))) {
            word += c;
        } else if (!word.empty()) {
            words.push_back(word);
            word.clear();
        }
    }
    auto has = [&](const char *w) {
        return std::find(words.begin(), words.end(), w) != words.end();
    };
    if (text.find("inner product") != std::string::npos || has("ip") || has("dot")) {
        return PVEC_METRIC_DOT;
    }
    if (has("l2") || has("euclidean")) {
        return PVEC_METRIC_L2;
    }
    if (has("cosine") || has("angular")) {
        return PVEC_METRIC_COSINE;
    }
    return std::nullopt;
}

} // namespace

std::optional<uint32_t> metric_from_readme(const std::string &path) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        const std::string lower = lowercase(line);
        const size_t at = lower.find("metric:");
        if (at == std::string::npos) {
            continue;
        }
        const std::string rest = lower.substr(at + 7);
        const size_t open = rest.find("**");
        const size_t close = open == std::string::npos ? open : rest.find("**", open + 2);
        if (close != std::string::npos) {
            if (auto m = metric_from_words(rest.substr(open + 2, close - open - 2))) {
                return m;
            }
        }
        if (auto m = metric_from_words(rest)) {
            return m;
        }
    }
    return std::nullopt;
}

Dataset load_dataset(const DatasetRequest &request, Progress &progress) {
    namespace fs = std::filesystem;
    const fs::path dir(request.dir);
    for (const char *file : {"base.fvecs", "query.fvecs", "groundtruth_k100.ivecs"}) {
        if (!fs::exists(dir / file)) {
            throw ToolError("dataset '" + dir.string() + "' has no " + file);
        }
    }
    Dataset data;
    const std::optional<uint32_t> readme_metric = metric_from_readme((dir / "README.md").string());
    if (!readme_metric && !request.metric) {
        throw ToolError("'" + (dir / "README.md").string() +
                        "' names no metric ('* Metric: **cosine**'); give --metric");
    }
    data.metric = request.metric.value_or(readme_metric.value_or(PVEC_METRIC_COSINE));

    progress.note("reading " + dir.string());
    data.base = read_fvecs((dir / "base.fvecs").string());
    data.queries = read_fvecs((dir / "query.fvecs").string(), request.max_queries);
    if (data.base.rows == 0 || data.queries.rows == 0) {
        throw ToolError("dataset '" + dir.string() + "' has no base or no query vectors");
    }
    if (data.queries.dim != data.base.dim) {
        throw ToolError(strprintf("dataset queries have dimension %zu, base vectors %zu",
                                  data.queries.dim, data.base.dim));
    }
    if (request.note_fewer_queries && request.max_queries > data.queries.rows) {
        std::fprintf(stderr, "pocketvec %s: note: the dataset has only %zu queries\n",
                     request.command, data.queries.rows);
    }
    if (request.k > data.base.rows) {
        throw UsageError(
            strprintf("%s %zu exceeds the dataset's %zu vectors", request.k_option,
                      request.k, data.base.rows));
    }

    // The file's ground truth is for the README's metric; another metric needs the oracle.
    if (readme_metric && *readme_metric == data.metric) {
        data.truth = read_ivecs((dir / "groundtruth_k100.ivecs").string(), data.queries.rows);
        if (data.truth.rows < data.queries.rows) {
            throw ToolError(strprintf("groundtruth_k100.ivecs has %zu rows for %zu queries",
                                      data.truth.rows, data.queries.rows));
        }
        if (request.k > data.truth.dim) {
            throw UsageError(strprintf("%s %zu exceeds the ground truth depth %zu",
                                       request.k_option, request.k, data.truth.dim));
        }
        for (const int32_t row : data.truth.data) {
            if (row < 0 || static_cast<size_t>(row) >= data.base.rows) {
                throw ToolError(strprintf("groundtruth_k100.ivecs names row %d; the base has %zu",
                                          row, data.base.rows));
            }
        }
    }
    return data;
}

} // namespace pocketvec::tool
