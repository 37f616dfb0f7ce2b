// Chunk rows of a database (pvec_c<id>_chunks), replaced by arbitrary bytes as a damaged or
// hostile file would hold them (the approach of sqlite-vec's shadow-table fuzzers): opening the
// collection, searching it and reading items back return OK or a defined error
// (PVEC_CORRUPT, and PVEC_NOTFOUND for get), never crash, hang or read out of bounds.
// Byte 0 picks the codec (f32, trained int8, trained binary, or trained int8 with a binary16 raw
// tier per chunk: its chunks carry code errors and it is also searched with PVEC_RESCORE_EXACT),
// byte 1 the capacity written beside the blob; the rest is the blob.
#include <pocketvec/pocketvec.h>
#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_check.h"

namespace {

constexpr uint32_t kDim = 8;
constexpr int kItems = 40;

std::string chunks_table(sqlite3 *conn) {
    sqlite3_stmt *s = nullptr;
    std::string name;
    sqlite3_prepare_v2(conn,
                       "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE "
                       "'pvec_c%_chunks'",
                       -1, &s, nullptr);
    if (sqlite3_step(s) == SQLITE_ROW) {
        name = reinterpret_cast<const char *>(sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    return name;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) {
        return 0;
    }
    static const char *const kCodecs[] = {"f32", "int8", "binary", "int8"};
    const int variant = data[0] % 4;
    const char *codec = kCodecs[variant];
    const int64_t capacities[] = {32, 64, 256, static_cast<int64_t>(data[1])};
    const int64_t capacity = capacities[(data[1] >> 6) & 3];

    sqlite3 *conn = nullptr;
    PVEC_FUZZ_CHECK(sqlite3_open(":memory:", &conn) == SQLITE_OK);
    pvec_db *db = nullptr;
    PVEC_FUZZ_CHECK(pvec_db_attach(conn, nullptr, &db, nullptr) == PVEC_OK);
    pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
    o.dim = kDim;
    o.metric = PVEC_METRIC_L2;
    o.codec = codec;
    o.train_threshold = PVEC_TRAIN_NEVER;
    o.raw_tier = variant == 3 ? PVEC_RAW_F16 : PVEC_RAW_NONE;
    pvec_collection *c = nullptr;
    PVEC_FUZZ_CHECK(pvec_collection_create(db, "c", &o, &c, nullptr) == PVEC_OK);
    std::vector<float> v(kItems * kDim);
    std::vector<int64_t> ids(kItems);
    for (int i = 0; i < kItems; ++i) {
        ids[i] = i;
        for (uint32_t d = 0; d < kDim; ++d) {
            v[i * kDim + d] = static_cast<float>((i * 7 + d * 3) % 11) - 5.0f;
        }
    }
    PVEC_FUZZ_CHECK(pvec_add_batch(c, kItems, ids.data(), v.data(), kDim, nullptr, nullptr) ==
                    PVEC_OK);
    if (std::string(codec) != "f32") {
        PVEC_FUZZ_CHECK(pvec_collection_train(c, nullptr, nullptr) == PVEC_OK);
    }
    pvec_collection_close(c);
    PVEC_FUZZ_CHECK(pvec_db_close(db) == PVEC_OK);

    const std::string table = chunks_table(conn);
    PVEC_FUZZ_CHECK(!table.empty());
    sqlite3_stmt *up = nullptr;
    PVEC_FUZZ_CHECK(sqlite3_prepare_v2(conn,
                                       ("UPDATE " + table + " SET capacity = ?1, data = ?2 WHERE id = 0").c_str(),
                                       -1, &up, nullptr) == SQLITE_OK);
    sqlite3_bind_int64(up, 1, capacity);
    sqlite3_bind_blob(up, 2, data + 2, static_cast<int>(size - 2), SQLITE_TRANSIENT);
    PVEC_FUZZ_CHECK(sqlite3_step(up) == SQLITE_DONE);
    sqlite3_finalize(up);

    PVEC_FUZZ_CHECK(pvec_db_attach(conn, nullptr, &db, nullptr) == PVEC_OK);
    const int rc = pvec_collection_open(db, "c", &c, nullptr);
    PVEC_FUZZ_CHECK(rc == PVEC_OK || rc == PVEC_CORRUPT);
    if (rc == PVEC_OK) {
        int64_t found_ids[5];
        float scores[5];
        size_t n = 0;
        const int src = pvec_search(c, v.data(), kDim, 5, nullptr, found_ids, scores, &n, nullptr);
        PVEC_FUZZ_CHECK(src == PVEC_OK || src == PVEC_CORRUPT);
        PVEC_FUZZ_CHECK(n <= 5);
        if (variant == 3) {
            pvec_search_options so = PVEC_SEARCH_OPTIONS_INIT;
            so.rescore = PVEC_RESCORE_EXACT;
            const int erc = pvec_search(c, v.data(), kDim, 5, &so, found_ids, scores, &n, nullptr);
            PVEC_FUZZ_CHECK(erc == PVEC_OK || erc == PVEC_CORRUPT);
            PVEC_FUZZ_CHECK(n <= 5);
        }
        std::vector<float> out(kDim);
        for (int i = 0; i < kItems; i += 7) {
            const int grc = pvec_get(c, i, out.data(), kDim, nullptr, nullptr);
            PVEC_FUZZ_CHECK(grc == PVEC_OK || grc == PVEC_NOTFOUND || grc == PVEC_CORRUPT);
        }
        uint64_t count = 0;
        PVEC_FUZZ_CHECK(pvec_count(c, &count, nullptr) == PVEC_OK);
        pvec_collection_close(c);
    }
    PVEC_FUZZ_CHECK(pvec_db_close(db) == PVEC_OK);
    sqlite3_close(conn);
    return 0;
}
