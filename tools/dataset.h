// Datasets in the layout of ../shared/data, shared by `demo` and `eval`: DIR/base.fvecs,
// query.fvecs, groundtruth_k100.ivecs, and README.md with a line such as '* Metric: **cosine**'.
#pragma once

#include "cli.h"
#include "readers.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace pocketvec::tool {

struct DatasetRequest {
    std::string dir;
    std::optional<uint32_t> metric;  // overrides the README's (the file's ground truth then no
                                     // longer applies)
    size_t max_queries = SIZE_MAX;   // read at most this many queries
    bool note_fewer_queries = false; // say so on stderr when the set has fewer than max_queries
    size_t k = 10;                   // checked against the base size and the ground-truth depth
    const char *k_option = "-k";     // how the command line spells k, for messages
    const char *command = "";        // the subcommand, for messages
};

struct Dataset {
    Matrix base;
    Matrix queries;
    uint32_t metric = PVEC_METRIC_COSINE;
    // The dataset's ground truth for the first queries.rows queries (row numbers of base, checked
    // to be in range); empty when the metric differs from the README's and the caller must
    // compute it (oracle.h).
    IntMatrix truth;
};

// The metric named on README.md's "Metric:" line, preferring its first **bold** words;
// nullopt when the file or the line is missing or names no metric.
std::optional<uint32_t> metric_from_readme(const std::string &path);

// Reads and checks a dataset. Missing files, empty or inconsistent data and an unknown metric are
// ToolErrors; a k larger than the base or the ground truth is a UsageError.
Dataset load_dataset(const DatasetRequest &request, Progress &progress);

} // namespace pocketvec::tool
