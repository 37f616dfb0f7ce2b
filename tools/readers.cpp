#include "readers.h"

#include "cli.h"
#include "json_parse.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <pocketvec/pocketvec.h>
#include <system_error>

namespace pocketvec::tool {

bool ImportBatch::has_meta() const {
    return std::any_of(metas.begin(), metas.end(), [](const auto &m) { return m.has_value(); });
}

void ImportBatch::clear() {
    ids.clear();
    vectors.clear();
    metas.clear();
}

std::optional<InputFormat> format_from_name(std::string_view name) {
    if (name == "fvecs") {
        return InputFormat::kFvecs;
    }
    if (name == "npy") {
        return InputFormat::kNpy;
    }
    if (name == "jsonl") {
        return InputFormat::kJsonl;
    }
    return std::nullopt;
}

std::optional<InputFormat> format_from_extension(const std::string &path) {
    std::string ext = std::filesystem::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (ext == ".fvecs") {
        return InputFormat::kFvecs;
    }
    if (ext == ".npy") {
        return InputFormat::kNpy;
    }
    if (ext == ".jsonl" || ext == ".ndjson") {
        return InputFormat::kJsonl;
    }
    return std::nullopt;
}

const char *format_name(InputFormat format) {
    switch (format) {
    case InputFormat::kFvecs:
        return "fvecs";
    case InputFormat::kNpy:
        return "npy";
    case InputFormat::kJsonl:
        return "jsonl";
    }
    return "?";
}

namespace {

// The files are little-endian whatever the host is; assembling bytes says so portably and
// compiles to a plain load on little-endian machines.
uint32_t load_le32(const unsigned char *p) {
    return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
           static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

uint64_t load_le64(const unsigned char *p) {
    return static_cast<uint64_t>(load_le32(p)) | static_cast<uint64_t>(load_le32(p + 4)) << 32;
}

float load_f32(const unsigned char *p) {
    const uint32_t bits = load_le32(p);
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

double load_f64(const unsigned char *p) {
    const uint64_t bits = load_le64(p);
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
}

std::ifstream open_binary(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw ToolError("cannot open '" + path + "': " + std::generic_category().message(errno));
    }
    return in;
}

// Where a row came from ("'file' row N"), formatted only when a message needs it: formatting it
// for every row cost about 6% of an import.
struct Place {
    const std::string &path;
    const char *unit;  // "row" or "line"
    size_t index;
    std::string str() const { return strprintf("'%s' %s %zu", path.c_str(), unit, index); }
};

std::string describe(const std::string &what) { return what; }
std::string describe(const Place &where) { return where.str(); }

// Reads exactly n bytes; false at a clean end of file before any byte; throws "<what> is
// truncated" on a partial read (`what`: a string, or a Place formatted only then).
template <class What>
bool read_exact(std::ifstream &in, void *dst, size_t n, const What &what) {
    in.read(static_cast<char *>(dst), static_cast<std::streamsize>(n));
    const auto got = static_cast<size_t>(in.gcount());
    if (got == n) {
        return true;
    }
    if (got == 0 && in.eof()) {
        return false;
    }
    throw ToolError(describe(what) + " is truncated");
}

void check_finite(const float *v, size_t dim, const Place &where) {
    for (size_t c = 0; c < dim; ++c) {
        if (!std::isfinite(v[c])) {
            throw ToolError(strprintf("%s, column %zu: %s is not allowed in a vector",
                                      where.str().c_str(), c, std::isnan(v[c]) ? "NaN" : "infinity"));
        }
    }
}

int64_t row_id(int64_t start_id, size_t row, const Place &where) {
    if (start_id > 0 &&
        row > static_cast<uint64_t>(std::numeric_limits<int64_t>::max() - start_id)) {
        throw ToolError(where.str() + ": id overflows int64 (lower --start-id)");
    }
    return start_id + static_cast<int64_t>(row);
}

// fvecs and ivecs: per row an int32 dimension, then that many 4-byte values. All rows of a file
// share the dimension of row 0.
class VecsFile {
public:
    explicit VecsFile(const std::string &path) : path_(path), in_(open_binary(path)) {
        unsigned char head[4];
        if (!read_exact(in_, head, sizeof head, "'" + path + "' row 0")) {
            return; // an empty file has no rows
        }
        const auto declared = static_cast<int32_t>(load_le32(head));
        if (declared <= 0 || static_cast<uint32_t>(declared) > PVEC_MAX_DIM) {
            throw ToolError(
                strprintf("'%s' is not an fvecs/ivecs file: row 0 declares dimension %d",
                          path.c_str(), declared));
        }
        dim_ = static_cast<size_t>(declared);
        header_read_ = true;
        bytes_.resize(dim_ * 4);
    }

    size_t dim() const { return dim_; }
    size_t rows_read() const { return row_; }
    const std::string &path() const { return path_; }
    std::string where() const { return strprintf("'%s' row %zu", path_.c_str(), row_); }

    // Positions the stream at the start of row `row` (fixed row size).
    void seek_row(size_t row) {
        const auto offset = static_cast<std::streamoff>(row * (4 + dim_ * 4));
        in_.clear();
        in_.seekg(offset);
        header_read_ = false;
        row_ = row;
    }

    // The next row's raw little-endian bytes, or nullptr at the end.
    const unsigned char *next() {
        if (dim_ == 0) {
            return nullptr;
        }
        if (!header_read_) {
            unsigned char head[4];
            if (!read_exact(in_, head, sizeof head, where())) {
                return nullptr;
            }
            const auto declared = static_cast<int32_t>(load_le32(head));
            if (declared != static_cast<int32_t>(dim_)) {
                throw ToolError(strprintf("%s declares dimension %d, but row 0 has %zu (all rows "
                                          "of a file must have one dimension)",
                                          where().c_str(), declared, dim_));
            }
        }
        header_read_ = false;
        if (!read_exact(in_, bytes_.data(), bytes_.size(), where())) {
            throw ToolError(where() + " is truncated");
        }
        ++row_;
        return bytes_.data();
    }

private:
    std::string path_;
    std::ifstream in_;
    size_t dim_ = 0;
    size_t row_ = 0;
    bool header_read_ = false; // row 0's dimension was consumed by the constructor
    std::vector<unsigned char> bytes_;
};

class FvecsReader final : public VectorReader {
public:
    FvecsReader(const std::string &path, int64_t start_id) : file_(path), start_id_(start_id) {}
    size_t dim() const override { return file_.dim(); }

    size_t read(size_t max_rows, ImportBatch &batch) override {
        size_t n = 0;
        const size_t dim = file_.dim();
        while (n < max_rows) {
            const size_t row = file_.rows_read();
            const unsigned char *bytes = file_.next();
            if (bytes == nullptr) {
                break;
            }
            const size_t base = batch.vectors.size();
            batch.vectors.resize(base + dim);
            for (size_t c = 0; c < dim; ++c) {
                batch.vectors[base + c] = load_f32(bytes + 4 * c);
            }
            const Place where{file_.path(), "row", row};
            check_finite(batch.vectors.data() + base, dim, where);
            batch.ids.push_back(row_id(start_id_, row, where));
            batch.metas.emplace_back();
            ++n;
        }
        return n;
    }

private:
    VecsFile file_;
    int64_t start_id_;
};

// ---- .npy -----------------------------------------------------------------------------------

// The header is a Python dict literal, e.g. {'descr': '<f4', 'fortran_order': False,
// 'shape': (1000, 128), }. This parses exactly the literals NumPy writes there.
class NpyHeaderParser {
public:
    struct Header {
        std::string descr;
        std::optional<bool> fortran_order;
        std::optional<std::vector<uint64_t>> shape;
    };

    explicit NpyHeaderParser(std::string_view text) : s_(text) {}

    Header parse() {
        Header h;
        expect('{');
        while (true) {
            skip_ws();
            if (consume('}')) {
                break;
            }
            const std::string key = quoted();
            expect(':');
            skip_ws();
            if (key == "descr") {
                if (peek() != '\'' && peek() != '"') {
                    fail("'descr' is not a simple dtype string (structured arrays are not "
                         "supported)");
                }
                h.descr = quoted();
            } else if (key == "fortran_order") {
                h.fortran_order = boolean();
            } else if (key == "shape") {
                h.shape = tuple();
            } else {
                fail("unknown key '" + key + "'");
            }
            skip_ws();
            if (consume(',')) {
                continue;
            }
            expect('}');
            break;
        }
        return h;
    }

private:
    [[noreturn]] void fail(const std::string &why) const {
        throw ToolError("unreadable .npy header (" + why + ")");
    }
    void skip_ws() {
        while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) {
            ++pos_;
        }
    }
    char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
    bool consume(char c) {
        if (peek() == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    void expect(char c) {
        skip_ws();
        if (!consume(c)) {
            fail(strprintf("expected '%c' at byte %zu", c, pos_));
        }
    }
    std::string quoted() {
        skip_ws();
        const char q = peek();
        if (q != '\'' && q != '"') {
            fail(strprintf("expected a string at byte %zu", pos_));
        }
        ++pos_;
        const size_t end = s_.find(q, pos_);
        if (end == std::string_view::npos) {
            fail("unterminated string");
        }
        std::string out(s_.substr(pos_, end - pos_));
        pos_ = end + 1;
        return out;
    }
    bool boolean() {
        if (s_.substr(pos_, 4) == "True") {
            pos_ += 4;
            return true;
        }
        if (s_.substr(pos_, 5) == "False") {
            pos_ += 5;
            return false;
        }
        fail("'fortran_order' is not True or False");
    }
    std::vector<uint64_t> tuple() {
        std::vector<uint64_t> out;
        expect('(');
        while (true) {
            skip_ws();
            if (consume(')')) {
                return out;
            }
            if (!std::isdigit(static_cast<unsigned char>(peek()))) {
                fail("'shape' is not a tuple of integers");
            }
            uint64_t v = 0;
            while (std::isdigit(static_cast<unsigned char>(peek()))) {
                const auto digit = static_cast<uint64_t>(s_[pos_++] - '0');
                if (v > (UINT64_MAX - digit) / 10) {
                    fail("'shape' value too large");
                }
                v = v * 10 + digit;
            }
            out.push_back(v);
            skip_ws();
            if (!consume(',')) {
                expect(')');
                return out;
            }
        }
    }

    std::string_view s_;
    size_t pos_ = 0;
};

class NpyReader final : public VectorReader {
public:
    NpyReader(const std::string &path, int64_t start_id)
        : path_(path), in_(open_binary(path)), start_id_(start_id) {
        unsigned char pre[10];
        if (!read_exact(in_, pre, sizeof pre, "'" + path + "' header") ||
            std::memcmp(pre, "\x93NUMPY", 6) != 0) {
            throw ToolError("'" + path + "' is not a .npy file (no \\x93NUMPY magic)");
        }
        const unsigned major = pre[6];
        size_t header_len = 0;
        size_t offset = 0;
        if (major == 1) {
            header_len = static_cast<size_t>(pre[8]) | static_cast<size_t>(pre[9]) << 8;
            offset = 10;
        } else if (major == 2 || major == 3) {
            unsigned char more[2];
            if (!read_exact(in_, more, sizeof more, "'" + path + "' header")) {
                throw ToolError("'" + path + "' header is truncated");
            }
            const unsigned char len[4] = {pre[8], pre[9], more[0], more[1]};
            header_len = load_le32(len);
            offset = 12;
        } else {
            throw ToolError(strprintf("'%s' has .npy format version %u.%u; versions 1 to 3 are "
                                      "supported",
                                      path.c_str(), major, static_cast<unsigned>(pre[7])));
        }
        if (header_len > (1u << 20)) {
            throw ToolError("'" + path + "' has an implausible .npy header length");
        }
        std::string text(header_len, '\0');
        if (!read_exact(in_, text.data(), header_len, "'" + path + "' header")) {
            throw ToolError("'" + path + "' header is truncated");
        }
        NpyHeaderParser::Header h;
        try {
            h = NpyHeaderParser(text).parse();
        } catch (const ToolError &e) {
            throw ToolError("'" + path + "': " + e.what());
        }

        if (h.descr == "<f4") {
            item_bytes_ = 4;
        } else if (h.descr == "<f8") {
            item_bytes_ = 8;
        } else {
            throw ToolError("'" + path + "' has dtype '" + h.descr +
                            "'; only little-endian float32 '<f4' and float64 '<f8' are supported");
        }
        if (!h.fortran_order.has_value() || !h.shape.has_value()) {
            throw ToolError("'" + path + "' header lacks 'fortran_order' or 'shape'");
        }
        if (*h.fortran_order) {
            throw ToolError("'" + path +
                            "' is in Fortran (column-major) order; save it with "
                            "numpy.ascontiguousarray first");
        }
        if (h.shape->size() != 2) {
            std::string dims;
            for (uint64_t d : *h.shape) {
                dims += (dims.empty() ? "" : ", ") + std::to_string(d);
            }
            throw ToolError("'" + path + "' has shape (" + dims +
                            "); a 2-D array (rows, dim) is required");
        }
        rows_ = (*h.shape)[0];
        dim_ = (*h.shape)[1];
        if (dim_ == 0 || dim_ > PVEC_MAX_DIM) {
            throw ToolError(strprintf("'%s' has dimension %zu; 1 to %u is supported", path.c_str(),
                                      dim_, PVEC_MAX_DIM));
        }
        const uint64_t data_bytes = static_cast<uint64_t>(rows_) * dim_ * item_bytes_;
        if (rows_ != 0 && data_bytes / rows_ / item_bytes_ != dim_) {
            throw ToolError("'" + path + "' shape is too large");
        }
        // Compared as data_bytes against the bytes after the header: offset + header_len +
        // data_bytes could wrap around for a shape near 2^64 bytes and pass.
        std::error_code ec;
        const uint64_t file_bytes = std::filesystem::file_size(path, ec);
        const uint64_t data_start = offset + header_len;
        const uint64_t held = !ec && file_bytes > data_start ? file_bytes - data_start : 0;
        if (!ec && held < data_bytes) {
            throw ToolError(
                strprintf("'%s' is truncated: its header declares %zu x %zu values "
                          "(%llu bytes), the file holds %llu bytes of data",
                          path.c_str(), rows_, dim_, static_cast<unsigned long long>(data_bytes),
                          static_cast<unsigned long long>(held)));
        }
        bytes_.resize(dim_ * item_bytes_);
    }

    size_t dim() const override { return rows_ == 0 ? 0 : dim_; }

    size_t read(size_t max_rows, ImportBatch &batch) override {
        size_t n = 0;
        while (n < max_rows && row_ < rows_) {
            const Place where{path_, "row", row_};
            if (!read_exact(in_, bytes_.data(), bytes_.size(), where)) {
                throw ToolError(where.str() + " is truncated");
            }
            const size_t base = batch.vectors.size();
            batch.vectors.resize(base + dim_);
            float *dst = batch.vectors.data() + base;
            for (size_t c = 0; c < dim_; ++c) {
                if (item_bytes_ == 4) {
                    dst[c] = load_f32(bytes_.data() + 4 * c);
                } else {
                    const double v = load_f64(bytes_.data() + 8 * c);
                    // A double beyond float range has no float value; say so instead of Inf.
                    if (std::isfinite(v) && std::fabs(v) > static_cast<double>(FLT_MAX)) {
                        throw ToolError(strprintf("%s, column %zu: %g is outside the float32 "
                                                  "range",
                                                  where.str().c_str(), c, v));
                    }
                    dst[c] = static_cast<float>(v);
                }
            }
            check_finite(dst, dim_, where);
            batch.ids.push_back(row_id(start_id_, row_, where));
            batch.metas.emplace_back();
            ++row_;
            ++n;
        }
        return n;
    }

private:
    std::string path_;
    std::ifstream in_;
    int64_t start_id_;
    size_t item_bytes_ = 4;
    size_t rows_ = 0;
    size_t dim_ = 0;
    size_t row_ = 0;
    std::vector<unsigned char> bytes_;
};

// ---- JSONL ----------------------------------------------------------------------------------

class JsonlReader final : public VectorReader {
public:
    JsonlReader(const std::string &path, int64_t start_id)
        : path_(path), in_(path, std::ios::binary), start_id_(start_id) {
        if (!in_) {
            throw ToolError("cannot open '" + path +
                            "': " + std::generic_category().message(errno));
        }
        // The dimension comes from the first record, so read it now and hand it out first.
        pending_ = next_record();
        if (pending_) {
            dim_ = pending_->embedding.size();
            dim_line_ = line_;
        }
    }

    size_t dim() const override { return dim_; }

    size_t read(size_t max_rows, ImportBatch &batch) override {
        size_t n = 0;
        while (n < max_rows) {
            std::optional<JsonRecord> rec = pending_ ? std::move(pending_) : next_record();
            pending_.reset();
            if (!rec) {
                break;
            }
            if (rec->embedding.size() != dim_) {
                throw ToolError(strprintf("'%s' line %zu: \"embedding\" has %zu numbers, but "
                                          "line %zu has %zu",
                                          path_.c_str(), line_of_record_, rec->embedding.size(),
                                          dim_line_, dim_));
            }
            const Place where{path_, "line", line_of_record_};
            batch.ids.push_back(rec->id ? *rec->id : row_id(start_id_, record_, where));
            batch.vectors.insert(batch.vectors.end(), rec->embedding.begin(), rec->embedding.end());
            batch.metas.push_back(std::move(rec->meta));
            ++record_;
            ++n;
        }
        return n;
    }

private:
    // The next non-blank line as a record, or nullopt at the end of the file.
    std::optional<JsonRecord> next_record() {
        std::string line;
        while (std::getline(in_, line)) {
            ++line_;
            if (!line.empty() && line.back() == '\r') {
                line.pop_back();
            }
            if (std::all_of(line.begin(), line.end(),
                            [](unsigned char c) { return std::isspace(c); })) {
                continue;
            }
            line_of_record_ = line_;
            try {
                return parser_.parse_record(line);
            } catch (const JsonInputError &e) {
                throw ToolError(strprintf("'%s' line %zu: %s", path_.c_str(), line_, e.what()));
            }
        }
        if (in_.bad()) {
            throw ToolError("error reading '" + path_ + "'");
        }
        return std::nullopt;
    }

    std::string path_;
    std::ifstream in_;
    int64_t start_id_;
    JsonParser parser_;
    std::optional<JsonRecord> pending_;
    size_t dim_ = 0;
    size_t dim_line_ = 0;
    size_t line_ = 0;           // physical lines read, 1-based
    size_t line_of_record_ = 0; // the line of the record being handed out
    size_t record_ = 0;         // records handed out: the default id offset
};

} // namespace

std::unique_ptr<VectorReader> open_reader(InputFormat format, const std::string &path,
                                          int64_t start_id) {
    switch (format) {
    case InputFormat::kFvecs:
        return std::make_unique<FvecsReader>(path, start_id);
    case InputFormat::kNpy:
        return std::make_unique<NpyReader>(path, start_id);
    case InputFormat::kJsonl:
        return std::make_unique<JsonlReader>(path, start_id);
    }
    throw ToolError("unknown input format");
}

Matrix read_fvecs(const std::string &path, size_t max_rows) {
    VecsFile file(path);
    Matrix m;
    m.dim = file.dim();
    std::error_code ec;
    const uint64_t bytes = std::filesystem::file_size(path, ec);
    if (!ec && m.dim != 0) {
        m.data.reserve(std::min<uint64_t>(max_rows, bytes / (4 + 4 * m.dim)) * m.dim);
    }
    while (m.rows < max_rows) {
        const unsigned char *bytes = file.next();
        if (bytes == nullptr) {
            break;
        }
        m.data.resize((m.rows + 1) * m.dim);
        float *dst = m.row(m.rows);
        for (size_t c = 0; c < m.dim; ++c) {
            dst[c] = load_f32(bytes + 4 * c);
        }
        check_finite(dst, m.dim, Place{path, "row", m.rows});
        ++m.rows;
    }
    return m;
}

IntMatrix read_ivecs(const std::string &path, size_t max_rows) {
    VecsFile file(path);
    IntMatrix m;
    m.dim = file.dim();
    while (m.rows < max_rows) {
        const unsigned char *bytes = file.next();
        if (bytes == nullptr) {
            break;
        }
        for (size_t c = 0; c < m.dim; ++c) {
            m.data.push_back(static_cast<int32_t>(load_le32(bytes + 4 * c)));
        }
        ++m.rows;
    }
    return m;
}

std::vector<float> read_fvecs_row(const std::string &path, size_t row) {
    VecsFile file(path);
    if (file.dim() == 0) {
        throw ToolError("'" + path + "' holds no rows");
    }
    std::error_code ec;
    const uint64_t bytes = std::filesystem::file_size(path, ec);
    const uint64_t row_bytes = 4 + 4 * static_cast<uint64_t>(file.dim());
    if (!ec && row >= bytes / row_bytes) {
        throw ToolError(strprintf("'%s' has %llu rows; row %zu does not exist", path.c_str(),
                                  static_cast<unsigned long long>(bytes / row_bytes), row));
    }
    file.seek_row(row);
    const unsigned char *data = file.next();
    if (data == nullptr) {
        throw ToolError(strprintf("'%s' has no row %zu", path.c_str(), row));
    }
    std::vector<float> v(file.dim());
    for (size_t c = 0; c < v.size(); ++c) {
        v[c] = load_f32(data + 4 * c);
    }
    check_finite(v.data(), v.size(), Place{path, "row", row});
    return v;
}

} // namespace pocketvec::tool
