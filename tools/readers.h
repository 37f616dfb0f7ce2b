// Readers for vector files: fvecs / ivecs (the ANN-benchmark formats), NumPy .npy, and JSONL with
// an "embedding" array per line. Every error names the file and the row or line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pocketvec::tool {

// Row-major rows x dim floats.
struct Matrix {
    size_t rows = 0;
    size_t dim = 0;
    std::vector<float> data;
    const float *row(size_t i) const { return data.data() + i * dim; }
    float *row(size_t i) { return data.data() + i * dim; }
};

// Row-major rows x dim int32 (ivecs ground truth).
struct IntMatrix {
    size_t rows = 0;
    size_t dim = 0;
    std::vector<int32_t> data;
    const int32_t *row(size_t i) const { return data.data() + i * dim; }
};

// Rows read for one pvec_add_batch call.
struct ImportBatch {
    std::vector<int64_t> ids;
    std::vector<float> vectors;                    // ids.size() * dim
    std::vector<std::optional<std::string>> metas; // one per id
    size_t size() const { return ids.size(); }
    bool has_meta() const;
    void clear();
};

enum class InputFormat { kFvecs, kNpy, kJsonl };

std::optional<InputFormat> format_from_name(std::string_view name);
std::optional<InputFormat> format_from_extension(const std::string &path);
const char *format_name(InputFormat format);

class VectorReader {
public:
    virtual ~VectorReader() = default;
    // Known once the reader is open: from the header, or from the first row or record
    // (0 for a file without rows).
    virtual size_t dim() const = 0;
    // Appends up to max_rows rows to `batch` and returns how many; 0 at the end of the file.
    // Throws ToolError with the file and row/line of the problem.
    virtual size_t read(size_t max_rows, ImportBatch &batch) = 0;
};

// Ids are start_id + the 0-based row (or record) number unless a JSONL record has its own "id".
std::unique_ptr<VectorReader> open_reader(InputFormat format, const std::string &path,
                                          int64_t start_id);

// Whole-file helpers for the demo and search; at most max_rows rows.
Matrix read_fvecs(const std::string &path, size_t max_rows = SIZE_MAX);
IntMatrix read_ivecs(const std::string &path, size_t max_rows = SIZE_MAX);
// Row `row` of an fvecs file, found by seeking (all rows of an fvecs file have one dimension).
std::vector<float> read_fvecs_row(const std::string &path, size_t row);

} // namespace pocketvec::tool
