// Turns a format 5 database into the format 2 file pocketvec 0.1 wrote (no sums: no sum columns,
// no sums section in chunk blobs, no trailer on raw vectors, FNV-1a 64 model row checksums), so
// that tests can exercise the upgrade on first read-write open. Returns the models re-sealed.
#pragma once

#include <sqlite3.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

// The downgrade drops columns (ALTER TABLE ... DROP COLUMN, SQLite 3.35+); on an older SQLite
// (PVEC_SQLCIPHER=ON with Debian's SQLCipher 3.4.1: SQLite 3.15) a test that needs it skips.
#define PVTEST_SKIP_WITHOUT_DROP_COLUMN()                                                          \
    do {                                                                                           \
        if (sqlite3_libversion_number() < 3035000) {                                               \
            GTEST_SKIP() << "making a format 2 file needs ALTER TABLE DROP COLUMN (SQLite 3.35), "  \
                         << "this is SQLite " << sqlite3_libversion();                             \
        }                                                                                          \
    } while (0)

namespace pvtest {

inline int downgrade_to_format2(const std::string &path) {
    sqlite3 *conn = nullptr;
    EXPECT_EQ(sqlite3_open(path.c_str(), &conn), SQLITE_OK);
    std::vector<std::string> ids;
    std::vector<bool> has_raw, has_errs;
    sqlite3_stmt *s = nullptr;
    sqlite3_prepare_v2(conn,
                       "SELECT id, EXISTS(SELECT 1 FROM sqlite_master WHERE name = "
                       "'pvec_c' || id || '_raw'), flags & 2, flags & 4 FROM pvec_collections",
                       -1, &s, nullptr);
    while (sqlite3_step(s) == SQLITE_ROW) {
        // Raw vectors per chunk (flag 4) came with format 4: format 2 cannot hold them.
        EXPECT_EQ(sqlite3_column_int(s, 3), 0) << "downgrade_to_format2: collection "
                                               << sqlite3_column_int64(s, 0)
                                               << " stores raw vectors per chunk";
        ids.emplace_back(std::to_string(sqlite3_column_int64(s, 0)));
        has_raw.push_back(sqlite3_column_int(s, 1) != 0);
        has_errs.push_back(sqlite3_column_int(s, 2) != 0);
    }
    sqlite3_finalize(s);
    // Format 2 had no code errors (flag 2, format 4): such collections become ones trained before.
    std::string sql = "BEGIN; ALTER TABLE pvec_collections DROP COLUMN sum;"
                      "UPDATE pvec_collections SET flags = flags & ~2;"
                      "UPDATE pvec_meta SET value = 2 WHERE key = 'format_version';";
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const std::string &n = ids[i];
        sql += "ALTER TABLE pvec_c" + n + "_items DROP COLUMN sum;";
        // Chunk blob: bitmap C/8, ids 8C, norms 4C, [sums 4C], [errs 2C], codes.
        sql += "UPDATE pvec_c" + n + "_chunks SET data = substr(data, 1, capacity / 8 + 12 * capacity)"
               " || substr(data, capacity / 8 + " + (has_errs[i] ? "18" : "16") +
               " * capacity + 1);";
        if (has_raw[i]) {
            sql += "UPDATE pvec_c" + n + "_raw SET vec = substr(vec, 1, length(vec) - 4);";
        }
    }
    sql += "COMMIT;";
    char *err = nullptr;
    EXPECT_EQ(sqlite3_exec(conn, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << (err ? err : "");
    sqlite3_free(err);
    // FNV-1a 64 of each model blob, the format 2 row checksum.
    sqlite3_stmt *u = nullptr;
    sqlite3_prepare_v2(conn, "SELECT id, blob FROM pvec_models", -1, &s, nullptr);
    sqlite3_prepare_v2(conn, "UPDATE pvec_models SET checksum = ?2 WHERE id = ?1", -1, &u, nullptr);
    int models = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const auto *b = static_cast<const uint8_t *>(sqlite3_column_blob(s, 1));
        uint64_t h = 0xcbf29ce484222325ull;
        for (int i = 0; i < sqlite3_column_bytes(s, 1); ++i) {
            h = (h ^ b[i]) * 0x100000001b3ull;
        }
        sqlite3_bind_int64(u, 1, sqlite3_column_int64(s, 0));
        sqlite3_bind_int64(u, 2, static_cast<int64_t>(h));
        EXPECT_EQ(sqlite3_step(u), SQLITE_DONE);
        sqlite3_reset(u);
        ++models;
    }
    sqlite3_finalize(s);
    sqlite3_finalize(u);
    sqlite3_close(conn);
    return models;
}

// The format number a database file records (0 when it cannot be read).
inline int format_version_of(const std::string &path) {
    sqlite3 *conn = nullptr;
    int v = 0;
    if (sqlite3_open_v2(path.c_str(), &conn, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
        sqlite3_stmt *s = nullptr;
        if (sqlite3_prepare_v2(conn, "SELECT value FROM pvec_meta WHERE key = 'format_version'",
                               -1, &s, nullptr) == SQLITE_OK &&
            sqlite3_step(s) == SQLITE_ROW) {
            v = sqlite3_column_int(s, 0);
        }
        sqlite3_finalize(s);
    }
    sqlite3_close(conn);
    return v;
}

}  // namespace pvtest
