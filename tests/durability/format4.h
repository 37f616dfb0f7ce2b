// Turns a format 5 database into the format 4 file of pocketvec before 2026-12-04 (code errors as
// float32 in the chunk blobs, sum columns as unsigned integers), so that tests can exercise the
// upgrade on first read-write open. Returns the chunks rewritten.
#pragma once

#include <sqlite3.h>

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "store/checksum.h"
#include "store/chunk_format.h"

namespace pvtest {

inline int downgrade_to_format4(const std::string &path) {
    using namespace pocketvec::store;
    sqlite3 *conn = nullptr;
    EXPECT_EQ(sqlite3_open(path.c_str(), &conn), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(conn, "BEGIN", nullptr, nullptr, nullptr), SQLITE_OK);
    struct Coll {
        int64_t id, uid, code_bytes;
    };
    std::vector<Coll> with_errs;
    std::vector<int64_t> all;
    sqlite3_stmt *s = nullptr;
    sqlite3_prepare_v2(conn, "SELECT id, uid, code_bytes, flags & 2 FROM pvec_collections", -1, &s,
                       nullptr);
    while (sqlite3_step(s) == SQLITE_ROW) {
        all.push_back(sqlite3_column_int64(s, 0));
        if (sqlite3_column_int(s, 3) != 0) {
            with_errs.push_back(Coll{sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1),
                                     sqlite3_column_int64(s, 2)});
        }
    }
    sqlite3_finalize(s);
    int rewritten = 0;
    for (const Coll &c : with_errs) {
        const std::string table = "pvec_c" + std::to_string(c.id) + "_chunks";
        sqlite3_stmt *get = nullptr, *put = nullptr;
        sqlite3_prepare_v2(conn, ("SELECT id, capacity, data FROM " + table).c_str(), -1, &get, nullptr);
        sqlite3_prepare_v2(conn, ("UPDATE " + table + " SET data = ?2 WHERE id = ?1").c_str(), -1,
                           &put, nullptr);
        std::vector<std::pair<int64_t, std::vector<uint8_t>>> out;
        while (sqlite3_step(get) == SQLITE_ROW) {
            const int64_t index = sqlite3_column_int64(get, 0);
            const ChunkLayout lay{static_cast<std::size_t>(sqlite3_column_int64(get, 1)),
                                  static_cast<std::size_t>(c.code_bytes), true};
            const auto *in = static_cast<const uint8_t *>(sqlite3_column_blob(get, 2));
            EXPECT_EQ(static_cast<std::size_t>(sqlite3_column_bytes(get, 2)), lay.total_bytes());
            // Old layout: errs of 4 bytes per slot, codes after them.
            std::vector<uint8_t> old(lay.errs_offset() + lay.capacity * (4 + lay.code_bytes), 0);
            std::memcpy(old.data(), in, lay.errs_offset());
            std::memcpy(old.data() + lay.errs_offset() + lay.capacity * 4, in + lay.codes_offset(),
                        lay.capacity * lay.code_bytes);
            for (std::size_t slot = 0; slot < lay.capacity; ++slot) {
                uint16_t narrow;
                std::memcpy(&narrow, in + lay.err_offset(slot), 2);
                const float err = err_value(narrow);
                std::memcpy(old.data() + lay.errs_offset() + slot * 4, &err, 4);
                if (!((in[slot / 8] >> (slot % 8)) & 1u)) {
                    continue;
                }
                int64_t id;
                float norm;
                std::memcpy(&id, in + lay.id_offset(slot), 8);
                std::memcpy(&norm, in + lay.norm_offset(slot), 4);
                const uint32_t sum = checksum::slot_format4(
                    c.uid, static_cast<std::size_t>(index), slot, id, norm, &err,
                    in + lay.code_offset(slot), lay.code_bytes);
                std::memcpy(old.data() + lay.sum_offset(slot), &sum, 4);
            }
            out.emplace_back(index, std::move(old));
        }
        sqlite3_finalize(get);
        for (const auto &[index, blob] : out) {
            sqlite3_bind_int64(put, 1, index);
            sqlite3_bind_blob(put, 2, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
            EXPECT_EQ(sqlite3_step(put), SQLITE_DONE);
            sqlite3_reset(put);
            ++rewritten;
        }
        sqlite3_finalize(put);
    }
    // Format 4 wrote every sum column unsigned.
    std::string sql = "UPDATE pvec_collections SET sum = sum & 4294967295;"
                      "UPDATE pvec_models SET checksum = checksum & 4294967295;"
                      "UPDATE pvec_meta SET value = 4 WHERE key = 'format_version';";
    for (int64_t id : all) {
        sql += "UPDATE pvec_c" + std::to_string(id) + "_items SET sum = sum & 4294967295;";
    }
    sql += "COMMIT;";
    char *err = nullptr;
    EXPECT_EQ(sqlite3_exec(conn, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(conn);
    return rewritten;
}

}  // namespace pvtest
