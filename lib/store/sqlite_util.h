// RAII over SQLite handles and the mapping of SQLite result codes to pocketvec's.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace pocketvec::store {

// The pocketvec status for a SQLite result code, with `what` and SQLite's message.
Status sqlite_status(sqlite3 *conn, int rc, std::string_view what);

class Stmt;

// Prepares `sql` on the tables pocketvec keeps for `owner` ("collection 'name'"): they exist and
// have the shape pocketvec gave them, so a statement that does not prepare means damage, reported
// as PVEC_CORRUPT naming the owner, not a bug.
Status prepare_on_own_tables(Stmt &stmt, sqlite3 *conn, const std::string &sql,
                             const std::string &owner);

// A prepared statement, prepared once and reused; reset after every use by StmtUse.
class Stmt {
public:
    Stmt() = default;
    ~Stmt() { sqlite3_finalize(stmt_); }
    Stmt(const Stmt &) = delete;
    Stmt &operator=(const Stmt &) = delete;
    Stmt(Stmt &&other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
    Stmt &operator=(Stmt &&other) noexcept {
        std::swap(stmt_, other.stmt_);
        return *this;
    }

    Status prepare(sqlite3 *conn, const std::string &sql);
    bool prepared() const { return stmt_ != nullptr; }
    void finalize() {
        sqlite3_finalize(stmt_);
        stmt_ = nullptr;
    }
    sqlite3_stmt *get() const { return stmt_; }

private:
    sqlite3_stmt *stmt_ = nullptr;
};

// Binds and steps one use of a prepared statement; resets it and clears bindings on scope exit so
// that no statement stays active (an active statement would block COMMIT and DROP TABLE).
class StmtUse {
public:
    explicit StmtUse(Stmt &stmt) : s_(stmt.get()) {}
    ~StmtUse() {
        sqlite3_reset(s_);
        sqlite3_clear_bindings(s_);
    }
    StmtUse(const StmtUse &) = delete;
    StmtUse &operator=(const StmtUse &) = delete;

    // A bind that fails (a text copy without memory) is remembered and returned by step():
    // stepping with that parameter left NULL would answer the wrong question.
    void bind(int i, int64_t v) { note(sqlite3_bind_int64(s_, i, v)); }
    void bind(int i, std::string_view text) {
        note(sqlite3_bind_text64(s_, i, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
    }
    void bind_static(int i, std::string_view text) {
        note(sqlite3_bind_text64(s_, i, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8));
    }
    void bind_blob(int i, const void *data, std::size_t n) {
        note(sqlite3_bind_blob64(s_, i, data, n, SQLITE_STATIC));
    }
    void bind_zeroblob(int i, std::size_t n) { note(sqlite3_bind_zeroblob64(s_, i, n)); }
    void bind_null(int i) { note(sqlite3_bind_null(s_, i)); }

    // SQLITE_ROW, SQLITE_DONE or an error code (the first failed bind's, without stepping).
    int step() { return bind_rc_ != SQLITE_OK ? bind_rc_ : sqlite3_step(s_); }
    int64_t int64(int col) const { return sqlite3_column_int64(s_, col); }
    bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
    std::string_view text(int col) const {
        auto p = reinterpret_cast<const char *>(sqlite3_column_text(s_, col));
        return p ? std::string_view(p, sqlite3_column_bytes(s_, col)) : std::string_view();
    }
    const void *blob(int col) const { return sqlite3_column_blob(s_, col); }
    std::size_t bytes(int col) const { return sqlite3_column_bytes(s_, col); }

private:
    void note(int rc) {
        if (bind_rc_ == SQLITE_OK) {
            bind_rc_ = rc;
        }
    }
    sqlite3_stmt *s_;
    int bind_rc_ = SQLITE_OK;
};

// Runs constant SQL text without results.
Status exec(sqlite3 *conn, const char *sql);

// Incremental BLOB I/O on one column, moved between rows with sqlite3_blob_reopen and left on its
// row when open() names the row it is on, so that SQLite keeps its cache of the row's overflow
// pages (each access of a freshly positioned handle walks the chain from the first page).
class Blob {
public:
    Blob() = default;
    ~Blob() { close(); }
    Blob(const Blob &) = delete;
    Blob &operator=(const Blob &) = delete;

    Status open(sqlite3 *conn, const std::string &table, const char *column, int64_t row,
                bool write);
    Status read(void *dst, std::size_t n, std::size_t offset);
    Status write(const void *src, std::size_t n, std::size_t offset);
    // The row's bytes when the handle was positioned on it (an expired handle reports 0 itself).
    std::size_t size() const { return blob_ ? bytes_ : 0; }
    void close() {
        if (blob_) {
            sqlite3_blob_close(blob_);
            blob_ = nullptr;
        }
    }

private:
    Status refresh_expired(int rc, const char *what);

    sqlite3 *conn_ = nullptr;
    sqlite3_blob *blob_ = nullptr;
    std::string table_;
    const char *column_ = nullptr;
    int64_t row_ = 0;
    std::size_t bytes_ = 0;
    bool write_ = false;
};

}  // namespace pocketvec::store
