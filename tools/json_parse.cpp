#include "json_parse.h"

#include "cli.h"

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <sqlite3.h>

namespace pocketvec::tool {
namespace {

struct SqliteCloser {
    void operator()(sqlite3 *db) const noexcept { sqlite3_close(db); }
};
struct StmtFinalizer {
    void operator()(sqlite3_stmt *stmt) const noexcept { sqlite3_finalize(stmt); }
};
using SqliteDb = std::unique_ptr<sqlite3, SqliteCloser>;
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// Binds `text` as ?1 without copying and resets the statement on scope exit, so the statement
// never outlives the caller's buffer with a dangling binding.
class Run {
public:
    Run(sqlite3_stmt *stmt, std::string_view text) : stmt_(stmt) {
        // JSON text longer than an int can hold is rejected before binding.
        if (text.size() > static_cast<size_t>(INT32_MAX)) {
            throw JsonInputError("JSON text too long");
        }
        sqlite3_bind_text(stmt_, 1, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
    }
    ~Run() {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }
    Run(const Run &) = delete;
    Run &operator=(const Run &) = delete;

    // True for a row, false when done; an SQLite error becomes a JsonInputError.
    bool step() {
        const int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW) {
            return true;
        }
        if (rc == SQLITE_DONE) {
            return false;
        }
        throw JsonInputError(sqlite3_errmsg(sqlite3_db_handle(stmt_)));
    }

private:
    sqlite3_stmt *stmt_;
};

std::string column_text(sqlite3_stmt *stmt, int col) {
    const unsigned char *text = sqlite3_column_text(stmt, col);
    if (text == nullptr) {
        return {};
    }
    return std::string(reinterpret_cast<const char *>(text),
                       static_cast<size_t>(sqlite3_column_bytes(stmt, col)));
}

// json_type() names as words for messages: "an array", "a string", "null".
std::string json_type_phrase(const std::string &type) {
    if (type == "array" || type == "object" || type == "integer") {
        return "an " + type;
    }
    if (type == "text") {
        return "a string";
    }
    if (type == "real") {
        return "a real number";
    }
    return type; // null, true, false
}

// Reads the (value, key, type) rows of a json_each query over an array into floats. json_each
// walks an array in index order; the key check makes that an enforced fact rather than an
// assumption, without the cost of an ORDER BY sort per line.
std::vector<float> read_numbers(sqlite3_stmt *stmt, std::string_view text, const char *what) {
    std::vector<float> out;
    Run run(stmt, text);
    while (run.step()) {
        // json_each gives true/false as integer values, so the type name decides: "integer" or
        // "real" (compared by first letter: no other type name starts with 'i' or 'r').
        const unsigned char *type_name = sqlite3_column_text(stmt, 2);
        if (type_name == nullptr || (type_name[0] != 'i' && type_name[0] != 'r')) {
            throw JsonInputError(strprintf("%s element %zu is %s, not a number", what, out.size(),
                                           json_type_phrase(column_text(stmt, 2)).c_str()));
        }
        if (sqlite3_column_int64(stmt, 1) != static_cast<sqlite3_int64>(out.size())) {
            throw JsonInputError(std::string(what) + " elements arrived out of order");
        }
        const double v = sqlite3_column_double(stmt, 0);
        // Converting a double beyond FLT_MAX to float is undefined; reject it first.
        if (!std::isfinite(v) || std::fabs(v) > static_cast<double>(FLT_MAX)) {
            throw JsonInputError(
                strprintf("%s element %zu (%g) is not a finite float32", what, out.size(), v));
        }
        out.push_back(static_cast<float>(v));
    }
    if (out.empty()) {
        throw JsonInputError(std::string(what) + " is empty");
    }
    return out;
}

} // namespace

struct JsonParser::Impl {
    SqliteDb db; // declared first: destroyed after the statements
    Stmt kind;
    Stmt record;
    Stmt embedding;
    Stmt array;

    Stmt prepare(const char *sql) {
        sqlite3_stmt *stmt = nullptr;
        if (sqlite3_prepare_v2(db.get(), sql, -1, &stmt, nullptr) != SQLITE_OK) {
            throw ToolError(std::string("SQLite cannot prepare a JSON query: ") +
                            sqlite3_errmsg(db.get()));
        }
        return Stmt(stmt);
    }
};

JsonParser::JsonParser() : impl_(std::make_unique<Impl>()) {
    sqlite3 *db = nullptr;
    const int rc =
        sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY, nullptr);
    impl_->db.reset(db);
    if (rc != SQLITE_OK) {
        throw ToolError(std::string("SQLite cannot open an in-memory database: ") +
                        sqlite3_errstr(rc));
    }
    // CASE is lazy: json_type() would raise an error on invalid text.
    impl_->kind = impl_->prepare("SELECT CASE WHEN json_valid(?1) THEN json_type(?1) END");
    impl_->record =
        impl_->prepare("SELECT json_type(?1, '$.embedding'), json_type(?1, '$.id'), "
                       "json_extract(?1, '$.id'), json_remove(?1, '$.embedding', '$.id')");
    impl_->embedding = impl_->prepare("SELECT value, key, type FROM json_each(?1, '$.embedding')");
    impl_->array = impl_->prepare("SELECT value, key, type FROM json_each(?1)");
}

JsonParser::~JsonParser() = default;

namespace {

std::string json_kind(sqlite3_stmt *kind, std::string_view text) {
    Run run(kind, text);
    if (!run.step() || sqlite3_column_type(kind, 0) == SQLITE_NULL) {
        return {};
    }
    return column_text(kind, 0);
}

} // namespace

JsonRecord JsonParser::parse_record(std::string_view line) {
    const std::string kind = json_kind(impl_->kind.get(), line);
    if (kind.empty()) {
        throw JsonInputError("not valid JSON");
    }
    if (kind != "object") {
        throw JsonInputError("expected a JSON object, found " + json_type_phrase(kind));
    }

    JsonRecord rec;
    sqlite3_stmt *stmt = impl_->record.get();
    {
        Run run(stmt, line);
        if (!run.step()) {
            throw JsonInputError("cannot read the object");
        }
        const std::string embedding_type = column_text(stmt, 0);
        if (embedding_type.empty()) {
            throw JsonInputError("no \"embedding\" key");
        }
        if (embedding_type != "array") {
            throw JsonInputError("\"embedding\" is " + json_type_phrase(embedding_type) +
                                 ", not an array");
        }
        const std::string id_type = column_text(stmt, 1);
        if (!id_type.empty() && id_type != "null") { // "id": null means no id, like a missing key
            if (id_type != "integer") {
                throw JsonInputError("\"id\" must be a 64-bit integer, not " +
                                     json_type_phrase(id_type));
            }
            if (sqlite3_column_type(stmt, 2) != SQLITE_INTEGER) { // SQLite made it a real
                throw JsonInputError("\"id\" is outside the 64-bit integer range");
            }
            rec.id = sqlite3_column_int64(stmt, 2);
        }
        std::string meta = column_text(stmt, 3);
        if (meta != "{}") { // json_remove() writes minified JSON: "{}" means no other keys
            rec.meta = std::move(meta);
        }
    }
    rec.embedding = read_numbers(impl_->embedding.get(), line, "\"embedding\"");
    return rec;
}

std::vector<float> JsonParser::parse_vector(std::string_view json_array) {
    const std::string kind = json_kind(impl_->kind.get(), json_array);
    if (kind.empty()) {
        throw JsonInputError("not valid JSON");
    }
    if (kind != "array") {
        throw JsonInputError("expected a JSON array of numbers, found " + json_type_phrase(kind));
    }
    return read_numbers(impl_->array.get(), json_array, "vector");
}

} // namespace pocketvec::tool
