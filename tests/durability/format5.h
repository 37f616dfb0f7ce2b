// Turns a format 6 database into the format 5 file of pocketvec before 2026-12-03's raw parts:
// every collection flagged kFlagRawParts gets one raw row per chunk (row id = chunk, the parts'
// bytes in order) and loses the flag (its catalog row's sum written anew), so that tests can
// exercise the old layout and the upgrade. Returns the chunk rows written.
#pragma once

#include <sqlite3.h>

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "store/catalog.h"
#include "store/checksum.h"
#include "store/raw_chunks.h"

namespace pvtest {

inline int downgrade_to_format5(const std::string &path) {
    using namespace pocketvec::store;
    sqlite3 *conn = nullptr;
    EXPECT_EQ(sqlite3_open(path.c_str(), &conn), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(conn, "BEGIN", nullptr, nullptr, nullptr), SQLITE_OK);
    std::vector<std::string> damaged;
    std::vector<CollectionMeta> good;
    EXPECT_TRUE(Catalog(conn).find_damaged(&damaged, &good).is_ok());
    int written = 0;
    for (CollectionMeta m : good) {
        if ((m.flags & kFlagRawParts) == 0) {
            continue;
        }
        const std::string table = tables::raw_chunks(m.id);
        std::map<int64_t, std::vector<uint8_t>> chunks;  // rows in id order: parts in order
        sqlite3_stmt *s = nullptr;
        sqlite3_prepare_v2(conn, ("SELECT id, data FROM " + table + " ORDER BY id").c_str(), -1,
                           &s, nullptr);
        while (sqlite3_step(s) == SQLITE_ROW) {
            const auto *p = static_cast<const uint8_t *>(sqlite3_column_blob(s, 1));
            std::vector<uint8_t> &c = chunks[sqlite3_column_int64(s, 0) /
                                             static_cast<int64_t>(kRawRowsPerChunk)];
            c.insert(c.end(), p, p + sqlite3_column_bytes(s, 1));
        }
        sqlite3_finalize(s);
        EXPECT_EQ(sqlite3_exec(conn, ("DELETE FROM " + table).c_str(), nullptr, nullptr, nullptr),
                  SQLITE_OK);
        sqlite3_prepare_v2(conn, ("INSERT INTO " + table + "(id, data) VALUES(?1, ?2)").c_str(),
                           -1, &s, nullptr);
        for (const auto &[chunk, bytes] : chunks) {
            sqlite3_bind_int64(s, 1, chunk);
            sqlite3_bind_blob(s, 2, bytes.data(), static_cast<int>(bytes.size()), SQLITE_STATIC);
            EXPECT_EQ(sqlite3_step(s), SQLITE_DONE);
            sqlite3_reset(s);
            ++written;
        }
        sqlite3_finalize(s);
        m.flags &= ~kFlagRawParts;
        sqlite3_prepare_v2(conn, "UPDATE pvec_collections SET flags = ?2, sum = ?3 WHERE id = ?1",
                           -1, &s, nullptr);
        sqlite3_bind_int64(s, 1, m.id);
        sqlite3_bind_int64(s, 2, m.flags);
        sqlite3_bind_int64(s, 3, checksum::to_column(checksum::collection(m)));
        EXPECT_EQ(sqlite3_step(s), SQLITE_DONE);
        sqlite3_finalize(s);
    }
    char *err = nullptr;
    EXPECT_EQ(sqlite3_exec(conn,
                           "UPDATE pvec_meta SET value = 5 WHERE key = 'format_version'; COMMIT;",
                           nullptr, nullptr, &err),
              SQLITE_OK)
        << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(conn);
    return written;
}

}  // namespace pvtest
