// Every raw tier keeps what it promises: exact rescoring and pvec_get from float32 (zstd or
// plain) or from binary16, across a reopen, at the file size each tier should cost.
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "../../lib/codec/minifloat.h"
#include "../durability/format2.h"
#include "../durability/format5.h"
#include "test_helpers.h"

using namespace pvtest;

namespace {

constexpr uint32_t kDim = 24;
constexpr std::size_t kCount = 600;

struct TierCase {
    uint32_t tier;
    const char *name;
};

class RawTiers : public ::testing::TestWithParam<TierCase> {};

uint64_t bytes_used(pvec_collection *c) {
    pvec_collection_info info = {};
    info.struct_size = sizeof info;
    EXPECT_EQ(pvec_collection_info_get(c, &info, nullptr), PVEC_OK);
    return info.bytes_used;
}

}  // namespace

TEST_P(RawTiers, RescoringAndGetUseTheKeptVectors) {
    const uint32_t tier = GetParam().tier;
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
    o.dim = kDim;
    o.metric = PVEC_METRIC_L2;
    o.codec = "int4";
    o.raw_tier = tier;
    o.train_threshold = PVEC_TRAIN_NEVER;
    pvec_collection *c = nullptr;
    PV_OK(pvec_collection_create(db, "c", &o, &c, nullptr));
    const auto v = gaussian_vectors(kCount, kDim, 3);
    std::vector<int64_t> ids(kCount);
    std::vector<Item> kept;
    for (std::size_t i = 0; i < kCount; ++i) {
        ids[i] = static_cast<int64_t>(i) * 3;
        std::vector<float> x(v.begin() + i * kDim, v.begin() + (i + 1) * kDim);
        if (tier == PVEC_RAW_F16) {
            for (float &f : x) {
                f = pocketvec::codec::f16_to_f32(pocketvec::codec::f32_to_f16(f));
            }
        }
        kept.push_back(Item{ids[i], x});
    }
    PV_OK(pvec_add_batch(c, kCount, ids.data(), v.data(), kDim, nullptr, nullptr));
    // Untrained, the codes are the exact float32 vectors whatever the tier.
    std::vector<float> got(kDim);
    PV_OK(pvec_get(c, 3, got.data(), kDim, nullptr, nullptr));
    EXPECT_TRUE(std::equal(got.begin(), got.end(), v.begin() + kDim));
    PV_OK(pvec_collection_train(c, nullptr, nullptr));
    for (int round = 0; round < 2; ++round) {
        SCOPED_TRACE(round == 0 ? "open" : "reopened");
        const auto queries = gaussian_vectors(5, kDim, 9);
        pvec_search_options so = PVEC_SEARCH_OPTIONS_INIT;
        so.oversample = kCount;
        so.rescore = PVEC_RESCORE_RAW;
        for (int q = 0; q < 5; ++q) {
            int64_t found[10];
            std::size_t n = 0;
            PV_OK(pvec_search(c, &queries[q * kDim], kDim, 10, &so, found, nullptr, &n, nullptr));
            EXPECT_EQ(std::vector<int64_t>(found, found + n),
                      oracle(kept, &queries[q * kDim], kDim, PVEC_METRIC_L2, 10));
        }
        PV_OK(pvec_get(c, ids[7], got.data(), kDim, nullptr, nullptr));
        EXPECT_EQ(got, kept[7].vec);
        pvec_collection_close(c);
        PV_OK(pvec_db_close(db));
        db = open_db(tmp.path());
        c = open_coll(db, "c");
    }
    std::printf("%s: %.1f bytes per vector in the file (int4 codes: %u)\n", GetParam().name,
                double(bytes_used(c)) / kCount, kDim / 2);
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}

INSTANTIATE_TEST_SUITE_P(Tiers, RawTiers,
                         ::testing::Values(TierCase{PVEC_RAW_ZSTD_F32, "zstd_f32"},
                                           TierCase{PVEC_RAW_F32, "f32"},
                                           TierCase{PVEC_RAW_F16, "f16"}),
                         [](const ::testing::TestParamInfo<TierCase> &i) {
                             return std::string(i.param.name);
                         });

// Per-item raw rows pack into SQLite pages by their size (three rows of 1 KiB fill a 4 KiB page
// only to 75%), so file bytes follow the packing more than the vector bytes: printed, and only
// the f16 tier's saving asserted.
TEST(RawTiersSize, F16KeepsFewerBytesThanF32) {
    uint64_t bytes[4] = {};
    for (uint32_t tier : {PVEC_RAW_ZSTD_F32, PVEC_RAW_F32, PVEC_RAW_F16}) {
        TempDb tmp;
        pvec_db *db = open_db(tmp.path());
        pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
        o.dim = 256;
        o.codec = "int8";
        o.raw_tier = tier;
        o.train_threshold = PVEC_TRAIN_NEVER;
        pvec_collection *c = nullptr;
        PV_OK(pvec_collection_create(db, "c", &o, &c, nullptr));
        const auto v = gaussian_vectors(1000, 256, 5);
        std::vector<int64_t> ids(1000);
        for (int i = 0; i < 1000; ++i) {
            ids[i] = i;
        }
        PV_OK(pvec_add_batch(c, 1000, ids.data(), v.data(), 256, nullptr, nullptr));
        PV_OK(pvec_collection_train(c, nullptr, nullptr));
        bytes[tier] = bytes_used(c);
        pvec_collection_close(c);
        PV_OK(pvec_db_close(db));
    }
    std::printf("1000 x 256 int8 + raw tier, file bytes per vector: zstd_f32 %.0f, f32 %.0f, "
                "f16 %.0f\n",
                bytes[PVEC_RAW_ZSTD_F32] / 1000.0, bytes[PVEC_RAW_F32] / 1000.0,
                bytes[PVEC_RAW_F16] / 1000.0);
    EXPECT_LT(bytes[PVEC_RAW_F16], bytes[PVEC_RAW_F32] * 0.7);
}

namespace {

// Raw sums and sizes, read with plain SQL as any program could.
struct RawChunkRows {
    std::vector<std::vector<uint8_t>> data;  // by chunk
    bool has_row_table = false;
    int not_blobs = 0;  // rows whose data is not of type BLOB
};

RawChunkRows read_raw_chunks(const std::string &path) {
    RawChunkRows out;
    sqlite3 *conn = nullptr;
    EXPECT_EQ(sqlite3_open(path.c_str(), &conn), SQLITE_OK);
    sqlite3_stmt *s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(conn, "SELECT data FROM pvec_c1_rawchunks ORDER BY id", -1, &s,
                                 nullptr),
              SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW) {
        const auto *p = static_cast<const uint8_t *>(sqlite3_column_blob(s, 0));
        out.data.emplace_back(p, p + sqlite3_column_bytes(s, 0));
    }
    sqlite3_finalize(s);
    sqlite3_prepare_v2(conn, "SELECT count(*) FROM sqlite_master WHERE name = 'pvec_c1_raw'", -1,
                       &s, nullptr);
    out.has_row_table = sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) != 0;
    sqlite3_finalize(s);
    sqlite3_prepare_v2(conn, "SELECT count(*) FROM pvec_c1_rawchunks WHERE typeof(data) != 'blob'",
                       -1, &s, nullptr);
    out.not_blobs = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
    sqlite3_finalize(s);
    sqlite3_close(conn);
    return out;
}

// Collection "c" of `dim`-d vectors with int8 codes (trained only when asked) and raw tier `tier`.
pvec_collection *int8_with_raw(pvec_db *db, uint32_t dim, uint32_t tier) {
    pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
    o.dim = dim;
    o.codec = "int8";
    o.raw_tier = tier;
    o.train_threshold = PVEC_TRAIN_NEVER;
    pvec_collection *c = nullptr;
    EXPECT_EQ(pvec_collection_create(db, "c", &o, &c, nullptr), PVEC_OK);
    return c;
}

// Items first_id + i for the first n vectors of v, one pvec_add each in one transaction: the last
// chunk grows kChunkGrowth slots at a time.
void add_one_at_a_time(pvec_db *db, pvec_collection *c, const std::vector<float> &v, uint32_t dim,
                       int64_t n, int64_t first_id) {
    PV_OK(pvec_db_begin(db, nullptr));
    for (int64_t i = 0; i < n; ++i) {
        PV_OK(pvec_add(c, first_id + i, &v[i * dim], dim, nullptr, nullptr));
    }
    PV_OK(pvec_db_commit(db, nullptr));
}

void exec_sql(const std::string &path, const std::string &sql, const std::vector<uint8_t> &blob) {
    sqlite3 *conn = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &conn), SQLITE_OK);
    sqlite3_stmt *s = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(conn, sql.c_str(), -1, &s, nullptr), SQLITE_OK);
    sqlite3_bind_blob(s, 1, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
    sqlite3_close(conn);
}


// The raw rows of collection 1 by row id, read with plain SQL.
std::map<int64_t, std::vector<uint8_t>> raw_rows(const std::string &path) {
    std::map<int64_t, std::vector<uint8_t>> out;
    sqlite3 *conn = nullptr;
    EXPECT_EQ(sqlite3_open(path.c_str(), &conn), SQLITE_OK);
    sqlite3_stmt *s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(conn, "SELECT id, data FROM pvec_c1_rawchunks", -1, &s, nullptr),
              SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW) {
        const auto *p = static_cast<const uint8_t *>(sqlite3_column_blob(s, 1));
        out[sqlite3_column_int64(s, 0)].assign(p, p + sqlite3_column_bytes(s, 1));
    }
    sqlite3_finalize(s);
    sqlite3_close(conn);
    return out;
}

std::vector<int64_t> exact_ids(pvec_collection *c, const float *q, uint32_t dim,
                               std::vector<float> *scores = nullptr) {
    pvec_search_options so = PVEC_SEARCH_OPTIONS_INIT;
    so.rescore = PVEC_RESCORE_EXACT;
    std::vector<int64_t> out(10);
    std::vector<float> sc(10);
    std::size_t n = 0;
    EXPECT_EQ(pvec_search(c, q, dim, 10, &so, out.data(), sc.data(), &n, nullptr), PVEC_OK);
    out.resize(n);
    sc.resize(n);
    if (scores != nullptr) {
        *scores = sc;
    }
    return out;
}

std::string check_report(pvec_db *db, int want) {
    char *report = nullptr;
    EXPECT_EQ(pvec_db_check(db, &report, nullptr), want) << (report ? report : "");
    std::string r = report ? report : "";
    pvec_free(report);
    return r;
}


// Every item of `items` reads back exactly, and exact search for queries q_0 .. q_{n-1}
// (`queries`, dim floats each) returns the oracle's 10 best ids under `metric`.
void expect_exact_answers(pvec_collection *c, const std::vector<Item> &items,
                          const float *queries, std::size_t n, uint32_t dim, uint32_t metric) {
    std::vector<float> got(dim);
    for (const Item &it : items) {
        PV_OK(pvec_get(c, it.id, got.data(), dim, nullptr, nullptr));
        ASSERT_EQ(got, it.vec) << "item " << it.id;
    }
    for (std::size_t qi = 0; qi < n; ++qi) {
        const float *q = queries + qi * dim;
        EXPECT_EQ(exact_ids(c, q, dim), oracle(items, q, dim, metric, 10)) << "query " << qi;
    }
}

}  // namespace

// Fixed-size raw tiers keep their vectors per chunk: one row per chunk, slots in the chunk's
// order, growing with it, zeroed on delete; damage in it is reported, never answered from.
TEST(RawChunksStore, SlotsFollowTheChunksAndDamageIsReported) {
    TempDb tmp;
    constexpr uint32_t kD = 8;
    const std::size_t stride = 2 * kD + 4;  // binary16 values, then the sum
    pvec_db *db = open_db(tmp.path());
    pvec_collection *c = int8_with_raw(db, kD, PVEC_RAW_F16);
    // One at a time: the chunk grows 32 slots at a time, then a second chunk starts.
    const auto v = gaussian_vectors(300, kD, 17);
    add_one_at_a_time(db, c, v, kD, 300, 100);
    PV_OK(pvec_collection_train(c, nullptr, nullptr));
    PV_OK(pvec_delete(c, 105, nullptr));
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
    RawChunkRows rows = read_raw_chunks(tmp.path());
    EXPECT_FALSE(rows.has_row_table);
    EXPECT_EQ(rows.not_blobs, 0) << "a grown row must stay a BLOB";
    ASSERT_EQ(rows.data.size(), 2u);
    EXPECT_EQ(rows.data[0].size(), 256 * stride);
    EXPECT_EQ(rows.data[1].size() % (32 * stride), 0u);
    EXPECT_GE(rows.data[1].size(), 44 * stride);
    // Slot 5 held item 105: deleted, all zero; slot 6 holds item 106's binary16 values.
    EXPECT_TRUE(std::all_of(rows.data[0].begin() + 5 * stride, rows.data[0].begin() + 6 * stride,
                            [](uint8_t b) { return b == 0; }));
    for (uint32_t d = 0; d < kD; ++d) {
        uint16_t h;
        std::memcpy(&h, &rows.data[0][6 * stride + 2 * d], 2);
        EXPECT_EQ(h, pocketvec::codec::f32_to_f16(v[6 * kD + d]));
    }
    // The answers before any damage.
    db = open_db(tmp.path());
    c = open_coll(db, "c");
    std::vector<float> got(kD);
    PV_OK(pvec_get(c, 106, got.data(), kD, nullptr, nullptr));
    char *report = nullptr;
    PV_OK(pvec_db_check(db, &report, nullptr));
    pvec_free(report);
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));

    // One flipped bit in item 106's raw vector: pvec_get and exact search refuse, the check
    // names it.
    std::vector<uint8_t> damaged = rows.data[0];
    damaged[6 * stride + 3] ^= 0x04;
    exec_sql(tmp.path(), "UPDATE pvec_c1_rawchunks SET data = ?1 WHERE id = 0", damaged);
    db = open_db(tmp.path());
    c = open_coll(db, "c");
    char *err = nullptr;
    EXPECT_EQ(pvec_get(c, 106, got.data(), kD, nullptr, &err), PVEC_CORRUPT);
    EXPECT_NE(std::string(err).find("raw vector 106"), std::string::npos) << err;
    pvec_free(err);
    pvec_search_options so = PVEC_SEARCH_OPTIONS_INIT;
    so.rescore = PVEC_RESCORE_EXACT;
    int64_t ids[300];
    std::size_t n = 0;
    EXPECT_EQ(pvec_search(c, &v[6 * kD], kD, 300, &so, ids, nullptr, &n, nullptr), PVEC_CORRUPT);
    report = nullptr;
    EXPECT_EQ(pvec_db_check(db, &report, nullptr), PVEC_CORRUPT);
    ASSERT_NE(report, nullptr);
    EXPECT_NE(std::string(report).find("raw vector 106"), std::string::npos) << report;
    pvec_free(report);
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));

    // A free slot that is not zero, and a row of the wrong size, are damage too.
    damaged = rows.data[0];
    damaged[5 * stride] = 1;
    exec_sql(tmp.path(), "UPDATE pvec_c1_rawchunks SET data = ?1 WHERE id = 0", damaged);
    std::vector<uint8_t> short_row(rows.data[1].begin(), rows.data[1].end() - stride);
    // Chunk 1's row: its slots fit one part, row id 1 * kRawRowsPerChunk (raw_chunks.h).
    exec_sql(tmp.path(), "UPDATE pvec_c1_rawchunks SET data = ?1 WHERE id = 16", short_row);
    db = open_db(tmp.path());
    report = nullptr;
    EXPECT_EQ(pvec_db_check(db, &report, nullptr), PVEC_CORRUPT);
    ASSERT_NE(report, nullptr);
    EXPECT_NE(std::string(report).find("free slot 5 is not zero"), std::string::npos) << report;
    EXPECT_NE(std::string(report).find("chunk 1 have the wrong size"), std::string::npos) << report;
    pvec_free(report);
    c = open_coll(db, "c");
    EXPECT_EQ(pvec_get(c, 100 + 260, got.data(), kD, nullptr, nullptr), PVEC_CORRUPT);
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}

// A write call that creates chunks writes each new chunk's rows whole once it is done with it
// (store/writer.h, "fresh"): the same file as slot-by-slot writes would leave, read back exactly,
// including items written twice in one batch, and nothing of a call that failed after flushing.
TEST(RawChunksStore, BatchesWriteNewChunksWhole) {
    TempDb tmp;
    constexpr uint32_t kD = 20;
    pvec_db *db = open_db(tmp.path());
    pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
    o.dim = kD;
    o.metric = PVEC_METRIC_DOT;
    o.codec = "int8";
    o.raw_tier = PVEC_RAW_F32;
    o.train_threshold = PVEC_TRAIN_NEVER;
    pvec_collection *c = nullptr;
    PV_OK(pvec_collection_create(db, "c", &o, &c, nullptr));
    const auto v = gaussian_vectors(1400, kD, 23);
    std::vector<int64_t> ids(1400);
    for (std::size_t i = 0; i < ids.size(); ++i) {
        ids[i] = int64_t(5000 + i);
    }
    // 300 items, trained (code errors on), then batches past the last chunk.
    PV_OK(pvec_add_batch(c, 300, ids.data(), v.data(), kD, nullptr, nullptr));
    PV_OK(pvec_collection_train(c, nullptr, nullptr));
    // A batch that fails after its first new chunk was flushed (item 600 exists) leaves nothing.
    std::vector<int64_t> bad(ids.begin() + 300, ids.begin() + 900);
    bad[550] = ids[10];
    char *err = nullptr;
    EXPECT_EQ(pvec_add_batch(c, bad.size(), bad.data(), v.data() + 300 * kD, kD, nullptr, &err),
              PVEC_EXISTS);
    pvec_free(err);
    EXPECT_EQ(count(c), 300u);
    // An upsert batch: 700 new items, 20 old ones replaced, and 10 new ones given twice (the
    // second vector wins).
    std::vector<int64_t> up(ids.begin() + 300, ids.begin() + 1000);
    std::vector<float> upv(v.begin() + 300 * kD, v.begin() + 1000 * kD);
    for (std::size_t i = 0; i < 20; ++i) {
        up.push_back(ids[i * 7]);
        upv.insert(upv.end(), v.begin() + (1000 + i) * kD, v.begin() + (1001 + i) * kD);
    }
    for (std::size_t i = 0; i < 10; ++i) {
        up.push_back(ids[300 + i * 31]);
        upv.insert(upv.end(), v.begin() + (1100 + i) * kD, v.begin() + (1101 + i) * kD);
    }
    PV_OK(pvec_upsert_batch(c, up.size(), up.data(), upv.data(), kD, nullptr, nullptr));
    std::map<int64_t, std::vector<float>> want;
    for (std::size_t i = 0; i < up.size(); ++i) {
        want[up[i]].assign(upv.begin() + i * kD, upv.begin() + (i + 1) * kD);
    }
    for (std::size_t i = 0; i < 300; ++i) {
        want.emplace(ids[i], std::vector<float>(v.begin() + i * kD, v.begin() + (i + 1) * kD));
    }
    std::vector<Item> items;
    for (const auto &[id, x] : want) {
        items.push_back(Item{id, x});
    }
    for (int reopen = 0; reopen < 2; ++reopen) {
        EXPECT_EQ(count(c), want.size());
        char *report = nullptr;
        EXPECT_EQ(pvec_db_check(db, &report, nullptr), PVEC_OK) << report;
        pvec_free(report);
        // Exact search reads codes, code errors and raw vectors of every chunk.
        expect_exact_answers(c, items, v.data() + 1200 * kD, 5, kD, PVEC_METRIC_DOT);
        pvec_collection_close(c);
        PV_OK(pvec_db_close(db));
        db = open_db(tmp.path());
        c = open_coll(db, "c");
    }
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}

// 100 float32 dimensions make a 404-byte slot: parts of 128 slots (raw_part_slots), so a chunk
// has two raw rows, ids chunk * 16 + part. One add at a time grows a chunk 32 slots at a time:
// inside a part (the row grows) and across parts (a new row). Every read, delete and check goes
// to the right part, and damage in any part is reported.
TEST(RawChunksStore, LargeVectorsSplitEachChunkIntoParts) {
    TempDb tmp;
    constexpr uint32_t kD = 100;
    const std::size_t stride = 4 * kD + 4;
    pvec_db *db = open_db(tmp.path());
    pvec_collection *c = int8_with_raw(db, kD, PVEC_RAW_F32);
    const auto v = gaussian_vectors(310, kD, 29);
    add_one_at_a_time(db, c, v, kD, 300, 100);
    PV_OK(pvec_collection_train(c, nullptr, nullptr));
    PV_OK(pvec_delete(c, 100 + 200, nullptr));  // chunk 0, part 1, slot 72 of the part
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));

    std::map<int64_t, std::vector<uint8_t>> rows = raw_rows(tmp.path());
    ASSERT_EQ(rows.size(), 3u);
    ASSERT_TRUE(rows.count(0) && rows.count(1) && rows.count(16));
    EXPECT_EQ(rows[0].size(), 128 * stride);
    EXPECT_EQ(rows[1].size(), 128 * stride);
    EXPECT_EQ(rows[16].size(), 64 * stride);  // 44 items in chunk 1: two growths of 32
    EXPECT_TRUE(std::all_of(rows[1].begin() + 72 * stride, rows[1].begin() + 73 * stride,
                            [](uint8_t b) { return b == 0; }));
    float x;
    std::memcpy(&x, &rows[1][73 * stride], 4);  // slot 201 of chunk 0 holds item 301
    EXPECT_EQ(x, v[201 * kD]);
    std::memcpy(&x, &rows[16][40 * stride + 4 * 7], 4);  // slot 40 of chunk 1: item 396, dim 7
    EXPECT_EQ(x, v[296 * kD + 7]);

    std::vector<Item> items;
    for (int64_t i = 0; i < 300; ++i) {
        if (i != 200) {
            items.push_back(Item{100 + i, std::vector<float>(&v[i * kD], &v[(i + 1) * kD])});
        }
    }
    db = open_db(tmp.path());
    c = open_coll(db, "c");
    check_report(db, PVEC_OK);
    expect_exact_answers(c, items, &v[300 * kD], 5, kD, PVEC_METRIC_COSINE);
    std::vector<float> got(kD);
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));

    // A flipped bit in part 1: the item it belongs to is refused, the check names it.
    std::vector<uint8_t> damaged = rows[1];
    damaged[10 * stride + 5] ^= 0x10;  // slot 138: item 238
    exec_sql(tmp.path(), "UPDATE pvec_c1_rawchunks SET data = ?1 WHERE id = 1", damaged);
    db = open_db(tmp.path());
    c = open_coll(db, "c");
    EXPECT_EQ(pvec_get(c, 238, got.data(), kD, nullptr, nullptr), PVEC_CORRUPT);
    PV_OK(pvec_get(c, 237, got.data(), kD, nullptr, nullptr));
    EXPECT_NE(check_report(db, PVEC_CORRUPT).find("raw vector 238"), std::string::npos);
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));

    // A missing part and a row of no part are damage too.
    exec_sql(tmp.path(), "UPDATE pvec_c1_rawchunks SET data = ?1 WHERE id = 1", rows[1]);
    // (exec_sql binds one blob; this statement has no use for it)
    exec_sql(tmp.path(), "DELETE FROM pvec_c1_rawchunks WHERE id = 16 AND ?1 IS NOT NULL", {1});
    exec_sql(tmp.path(), "INSERT INTO pvec_c1_rawchunks(id, data) VALUES(5, ?1)", rows[0]);
    db = open_db(tmp.path());
    const std::string report = check_report(db, PVEC_CORRUPT);
    EXPECT_NE(report.find("the raw vectors of chunk 1 are missing"), std::string::npos) << report;
    EXPECT_NE(report.find("belongs to no part"), std::string::npos) << report;
    c = open_coll(db, "c");
    EXPECT_EQ(pvec_get(c, 100 + 260, got.data(), kD, nullptr, nullptr), PVEC_CORRUPT);
    PV_OK(pvec_get(c, 100 + 250, got.data(), kD, nullptr, nullptr));
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}

// A collection created before format 6 keeps one raw row per chunk: the upgrade leaves its rows
// as they are, it answers as before, and its chunks keep growing in that layout.
TEST(RawChunksStore, AFormat5CollectionKeepsOneRowPerChunk) {
    TempDb tmp;
    constexpr uint32_t kD = 100;
    const std::size_t stride = 4 * kD + 4;
    const auto v = gaussian_vectors(900, kD, 31);
    std::vector<int64_t> ids(900);
    std::vector<Item> items;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        ids[i] = int64_t(7000 + i);
        items.push_back(Item{ids[i], std::vector<float>(&v[i * kD], &v[(i + 1) * kD])});
    }
    std::vector<std::vector<int64_t>> want_ids;
    std::vector<std::vector<float>> want_scores;
    {
        pvec_db *db = open_db(tmp.path());
        pvec_collection *c = int8_with_raw(db, kD, PVEC_RAW_F32);
        PV_OK(pvec_add_batch(c, 600, ids.data(), v.data(), kD, nullptr, nullptr));
        PV_OK(pvec_collection_train(c, nullptr, nullptr));
        for (std::size_t qi = 0; qi < 5; ++qi) {
            std::vector<float> scores;
            want_ids.push_back(exact_ids(c, &v[(850 + qi) * kD], kD, &scores));
            want_scores.push_back(scores);
        }
        pvec_collection_close(c);
        PV_OK(pvec_db_close(db));
    }
    EXPECT_EQ(raw_rows(tmp.path()).size(), 5u);  // 2 chunks of 2 parts, 88 slots in 1 part
    ASSERT_EQ(pvtest::downgrade_to_format5(tmp.path()), 3);
    EXPECT_EQ(format_version_of(tmp.path()), 5);
    {
        pvec_open_options o = PVEC_OPEN_OPTIONS_INIT;
        o.flags = PVEC_OPEN_READONLY;
        pvec_db *db = nullptr;
        char *err = nullptr;
        EXPECT_EQ(pvec_db_open(tmp.c_str(), &o, &db, &err), PVEC_FORMAT);
        EXPECT_NE(std::string(err ? err : "").find("upgrade it to format 6"), std::string::npos)
            << err;
        pvec_free(err);
        // The status's own text covers this case too, not only a newer file.
        EXPECT_NE(std::string(pvec_errstr(PVEC_FORMAT)).find("read-only"), std::string::npos);
    }
    pvec_db *db = open_db(tmp.path());  // read-write: upgrades
    EXPECT_EQ(format_version_of(tmp.path()), 6);
    check_report(db, PVEC_OK);
    pvec_collection *c = open_coll(db, "c");
    for (std::size_t qi = 0; qi < 5; ++qi) {
        std::vector<float> scores;
        EXPECT_EQ(exact_ids(c, &v[(850 + qi) * kD], kD, &scores), want_ids[qi]) << qi;
        EXPECT_EQ(scores, want_scores[qi]) << qi;
    }
    // The last chunk grows (88 of 256 slots used) and a fourth one starts, one row each.
    PV_OK(pvec_add_batch(c, 250, ids.data() + 600, v.data() + 600 * kD, kD, nullptr, nullptr));
    PV_OK(pvec_delete(c, ids[10], nullptr));
    items.erase(items.begin() + 10);
    items.resize(849);
    for (int reopen = 0; reopen < 2; ++reopen) {
        check_report(db, PVEC_OK);
        expect_exact_answers(c, items, &v[850 * kD], 5, kD, PVEC_METRIC_COSINE);
        pvec_collection_close(c);
        PV_OK(pvec_db_close(db));
        db = open_db(tmp.path());
        c = open_coll(db, "c");
    }
    std::map<int64_t, std::vector<uint8_t>> rows = raw_rows(tmp.path());
    ASSERT_EQ(rows.size(), 4u);
    for (int64_t chunk = 0; chunk < 4; ++chunk) {
        ASSERT_TRUE(rows.count(chunk)) << chunk;
        EXPECT_EQ(rows[chunk].size() % stride, 0u);
    }
    EXPECT_EQ(rows[2].size(), 256 * stride);
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}
