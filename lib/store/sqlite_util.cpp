#include "store/sqlite_util.h"

namespace pocketvec::store {

Status sqlite_status(sqlite3 *conn, int rc, std::string_view what) {
    int code = PVEC_ERROR;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: code = PVEC_BUSY; break;
    case SQLITE_READONLY: code = PVEC_READONLY; break;
    case SQLITE_NOMEM: code = PVEC_NOMEM; break;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM: code = PVEC_IO; break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: code = PVEC_CORRUPT; break;
    default: break;
    }
    std::string msg(what);
    msg += ": ";
    // The connection's message belongs to the last call only when it reported this code.
    if (conn && sqlite3_extended_errcode(conn) == rc) {
        msg += sqlite3_errmsg(conn);
    } else {
        msg += sqlite3_errstr(rc);
    }
    return error(code, msg);
}

Status prepare_on_own_tables(Stmt &stmt, sqlite3 *conn, const std::string &sql,
                             const std::string &owner) {
    Status st = stmt.prepare(conn, sql);
    PVEC_RETURN_IF(st.code() == PVEC_ERROR, PVEC_CORRUPT,
                   owner + " has damaged tables: " + st.message());
    return st;
}

Status Stmt::prepare(sqlite3 *conn, const std::string &sql) {
    finalize();
#if SQLITE_VERSION_NUMBER >= 3020000
    int rc = sqlite3_prepare_v3(conn, sql.c_str(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
#else
    // SQLite before 3.20 (SQLCipher 3.4.1 is 3.15.2) has no prepare_v3; PERSISTENT is only a hint
    // about where the statement's memory comes from, so prepare_v2 behaves the same.
    int rc = sqlite3_prepare_v2(conn, sql.c_str(), static_cast<int>(sql.size()), &stmt_, nullptr);
#endif
    if (rc != SQLITE_OK) {
        stmt_ = nullptr;
        return sqlite_status(conn, rc, "preparing SQL");
    }
    return Status::ok();
}

Status exec(sqlite3 *conn, const char *sql) {
    int rc = sqlite3_exec(conn, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
        return sqlite_status(conn, rc, std::string("executing ") + sql);
    }
    return Status::ok();
}

Status Blob::open(sqlite3 *conn, const std::string &table, const char *column, int64_t row,
                  bool write) {
    const bool same_target = blob_ && conn == conn_ && table == table_ && column == column_ &&
                             write == write_;
    if (same_target && row == row_) {
        // Still on the row: keep SQLite's cache of the row's overflow pages, which a reopen
        // drops (reading or writing at offset x of a fresh handle walks the page chain to x).
        return Status::ok();
    }
    if (same_target) {
        int rc = sqlite3_blob_reopen(blob_, row);
        if (rc == SQLITE_OK) {
            row_ = row;
            bytes_ = static_cast<std::size_t>(sqlite3_blob_bytes(blob_));
            return Status::ok();
        }
        close();  // a failed reopen leaves the handle unusable
        if ((rc & 0xff) != SQLITE_ABORT && (rc & 0xff) != SQLITE_ERROR) {
            return sqlite_status(conn, rc, "reopening chunk blob");
        }
    }
    close();
    int rc = sqlite3_blob_open(conn, "main", table.c_str(), column, row, write ? 1 : 0, &blob_);
    if (rc != SQLITE_OK) {
        blob_ = nullptr;
        return sqlite_status(conn, rc, "opening chunk blob");
    }
    conn_ = conn;
    table_ = table;
    column_ = column;
    write_ = write;
    row_ = row;
    bytes_ = static_cast<std::size_t>(sqlite3_blob_bytes(blob_));
    return Status::ok();
}

// A handle kept on its row expires when another statement changes the row (SQLITE_ABORT): then
// it is opened afresh once, and used only if the row kept its size (the caller checked offsets
// against that size).
Status Blob::refresh_expired(int rc, const char *what) {
    if ((rc & 0xff) != SQLITE_ABORT) {
        return sqlite_status(conn_, rc, what);
    }
    const std::size_t bytes = size();
    sqlite3 *conn = conn_;
    const std::string table = table_;
    const char *column = column_;
    const int64_t row = row_;
    const bool write = write_;
    close();
    PVEC_FORWARD_IF_ERROR(open(conn, table, column, row, write));
    PVEC_RETURN_IF(size() != bytes, PVEC_ERROR, "a chunk blob changed size while in use");
    return Status::ok();
}

Status Blob::read(void *dst, std::size_t n, std::size_t offset) {
    int rc = sqlite3_blob_read(blob_, dst, static_cast<int>(n), static_cast<int>(offset));
    if (rc != SQLITE_OK) {
        PVEC_FORWARD_IF_ERROR(refresh_expired(rc, "reading chunk blob"));
        rc = sqlite3_blob_read(blob_, dst, static_cast<int>(n), static_cast<int>(offset));
    }
    return rc == SQLITE_OK ? Status::ok() : sqlite_status(conn_, rc, "reading chunk blob");
}

Status Blob::write(const void *src, std::size_t n, std::size_t offset) {
    int rc = sqlite3_blob_write(blob_, src, static_cast<int>(n), static_cast<int>(offset));
    if (rc != SQLITE_OK) {
        PVEC_FORWARD_IF_ERROR(refresh_expired(rc, "writing chunk blob"));
        rc = sqlite3_blob_write(blob_, src, static_cast<int>(n), static_cast<int>(offset));
    }
    return rc == SQLITE_OK ? Status::ok() : sqlite_status(conn_, rc, "writing chunk blob");
}

}  // namespace pocketvec::store
