// Bad input gets a defined status and message and changes nothing.
#include <fstream>
#include <limits>

#include <sqlite3.h>

#include "test_helpers.h"

using namespace pvtest;

namespace {

constexpr std::size_t kDim = 8;

class BadInput : public ::testing::Test {
protected:
    void SetUp() override {
        db_ = open_db(tmp_.path());
        c_ = create(db_, "c", kDim, PVEC_METRIC_COSINE);
        auto v = gaussian_vectors(50, kDim, 1);
        std::vector<int64_t> ids(50);
        for (int i = 0; i < 50; ++i) {
            ids[i] = i;
        }
        PV_OK(pvec_add_batch(c_, 50, ids.data(), v.data(), kDim, nullptr, nullptr));
        good_.assign(kDim, 0.5f);
        before_ = search_ids(c_, good_.data(), kDim, 50);
    }
    void TearDown() override {
        // Nothing changed: same count, same results, also after a reopen.
        EXPECT_EQ(count(c_), 50u);
        EXPECT_EQ(search_ids(c_, good_.data(), kDim, 50), before_);
        pvec_collection_close(c_);
        EXPECT_EQ(pvec_db_close(db_), PVEC_OK);
        pvec_db *db = open_db(tmp_.path());
        pvec_collection *c = open_coll(db, "c");
        EXPECT_EQ(count(c), 50u);
        EXPECT_EQ(search_ids(c, good_.data(), kDim, 50), before_);
        pvec_collection_close(c);
        pvec_db_close(db);
    }
    // Expects `rc` with a non-empty message, and frees the message.
    // `err` by reference: it must be read after the call that sets it.
    static void expect_rc(int rc, char *&err, int want) {
        EXPECT_EQ(rc, want) << pvec_errstr(rc) << ": " << (err ? err : "(no message)");
        if (want != PVEC_OK) {
            EXPECT_NE(err, nullptr);
            if (err) {
                EXPECT_GT(std::strlen(err), 0u);
            }
        }
        pvec_free(err);
        err = nullptr;
    }

    TempDb tmp_;
    pvec_db *db_ = nullptr;
    pvec_collection *c_ = nullptr;
    std::vector<float> good_;
    std::vector<int64_t> before_;
};

TEST_F(BadInput, NullHandlesAndPointers) {
    char *err = nullptr;
    int64_t ids[4];
    size_t n;
    expect_rc(pvec_add(nullptr, 1, good_.data(), kDim, nullptr, &err), err, PVEC_MISUSE);
    expect_rc(pvec_add(c_, 1000, nullptr, kDim, nullptr, &err), err, PVEC_MISUSE);
    expect_rc(pvec_add_batch(c_, 2, nullptr, good_.data(), kDim, nullptr, &err), err, PVEC_MISUSE);
    expect_rc(pvec_search(nullptr, good_.data(), kDim, 4, nullptr, ids, nullptr, &n, &err), err,
              PVEC_MISUSE);
    expect_rc(pvec_search(c_, nullptr, kDim, 4, nullptr, ids, nullptr, &n, &err), err, PVEC_MISUSE);
    expect_rc(pvec_search(c_, good_.data(), kDim, 4, nullptr, nullptr, nullptr, &n, &err), err,
              PVEC_MISUSE);
    expect_rc(pvec_search(c_, good_.data(), kDim, 4, nullptr, ids, nullptr, nullptr, &err), err,
              PVEC_MISUSE);
    expect_rc(pvec_collection_create(nullptr, "x", nullptr, nullptr, &err), err, PVEC_MISUSE);
    expect_rc(pvec_collection_create(db_, nullptr, nullptr, nullptr, &err), err, PVEC_MISUSE);
    expect_rc(pvec_collection_create(db_, "x", nullptr, nullptr, &err), err, PVEC_MISUSE);
    expect_rc(pvec_collection_open(db_, "c", nullptr, &err), err, PVEC_MISUSE);
    expect_rc(pvec_count(c_, nullptr, &err), err, PVEC_MISUSE);
    expect_rc(pvec_collection_info_get(c_, nullptr, &err), err, PVEC_MISUSE);
    expect_rc(pvec_db_begin(nullptr, &err), err, PVEC_MISUSE);
    expect_rc(pvec_db_open(nullptr, nullptr, nullptr, &err), err, PVEC_MISUSE);
    expect_rc(pvec_collection_list(db_, nullptr, nullptr, &err), err, PVEC_MISUSE);
    EXPECT_EQ(pvec_delete(nullptr, 1, nullptr), PVEC_MISUSE);  // errmsg is optional
    pvec_collection_close(nullptr);
    pvec_free(nullptr);
}

TEST_F(BadInput, WrongSizesAndStructSizes) {
    char *err = nullptr;
    std::vector<float> longer(kDim + 1, 1.0f);
    int64_t ids[4];
    size_t n;
    expect_rc(pvec_add(c_, 1000, longer.data(), kDim + 1, nullptr, &err), err, PVEC_DIM);
    expect_rc(pvec_upsert(c_, 1, longer.data(), kDim - 1, nullptr, &err), err, PVEC_DIM);
    expect_rc(pvec_search(c_, longer.data(), kDim + 1, 4, nullptr, ids, nullptr, &n, &err), err,
              PVEC_DIM);
    expect_rc(pvec_get(c_, 1, longer.data(), kDim + 1, nullptr, &err), err, PVEC_DIM);
    pvec_search_options so = PVEC_SEARCH_OPTIONS_INIT;
    so.struct_size = 3;
    expect_rc(pvec_search(c_, good_.data(), kDim, 4, &so, ids, nullptr, &n, &err), err, PVEC_MISUSE);
    // A larger struct_size with unknown non-zero fields: see test_abi_structs.cpp.
    pvec_collection_info info;
    info.struct_size = 4;
    expect_rc(pvec_collection_info_get(c_, &info, &err), err, PVEC_MISUSE);
}

TEST_F(BadInput, NanAndInfinity) {
    char *err = nullptr;
    int64_t ids[4];
    size_t n;
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                      -std::numeric_limits<float>::infinity()}) {
        std::vector<float> v = good_;
        v[kDim - 1] = bad;
        expect_rc(pvec_add(c_, 1000, v.data(), kDim, nullptr, &err), err, PVEC_INVALID);
        expect_rc(pvec_upsert(c_, 3, v.data(), kDim, nullptr, &err), err, PVEC_INVALID);
        expect_rc(pvec_search(c_, v.data(), kDim, 4, nullptr, ids, nullptr, &n, &err), err,
                  PVEC_INVALID);
        // One bad row spoils the whole batch: nothing of it is written.
        std::vector<float> batch(3 * kDim, 0.25f);
        batch[2 * kDim + 1] = bad;
        const int64_t bids[3] = {2000, 2001, 2002};
        expect_rc(pvec_add_batch(c_, 3, bids, batch.data(), kDim, nullptr, &err), err, PVEC_INVALID);
    }
}

TEST_F(BadInput, DuplicateIdsInsideABatchWriteNothing) {
    char *err = nullptr;
    std::vector<float> batch(3 * kDim, 0.25f);
    const int64_t bids[3] = {3000, 3001, 3000};
    expect_rc(pvec_add_batch(c_, 3, bids, batch.data(), kDim, nullptr, &err), err, PVEC_EXISTS);
    const int64_t existing[2] = {4000, 7};
    expect_rc(pvec_add_batch(c_, 2, existing, batch.data(), kDim, nullptr, &err), err, PVEC_EXISTS);
    expect_rc(pvec_get(c_, 3000, nullptr, 0, nullptr, &err), err, PVEC_NOTFOUND);
}

TEST_F(BadInput, InvalidMetadataJson) {
    char *err = nullptr;
    const char *bad[] = {"{", "{\"a\":}", "[1,2", "not json", "{\"a\":1}}", "\"unterminated"};
    for (const char *m : bad) {
        expect_rc(pvec_add(c_, 1000, good_.data(), kDim, m, &err), err, PVEC_INVALID);
        expect_rc(pvec_upsert(c_, 4, good_.data(), kDim, m, &err), err, PVEC_INVALID);
    }
    std::string huge = "\"" + std::string((1u << 20) + 10, 'x') + "\"";
    expect_rc(pvec_add(c_, 1000, good_.data(), kDim, huge.c_str(), &err), err, PVEC_RANGE);
    const char *metas[2] = {"{\"ok\":true}", "{oops"};
    std::vector<float> batch(2 * kDim, 0.1f);
    const int64_t bids[2] = {5000, 5001};
    expect_rc(pvec_add_batch(c_, 2, bids, batch.data(), kDim, metas, &err), err, PVEC_INVALID);
}

TEST_F(BadInput, CollectionNames) {
    char *err = nullptr;
    pvec_collection_options co = PVEC_COLLECTION_OPTIONS_INIT;
    co.dim = 4;
    pvec_collection *out = reinterpret_cast<pvec_collection *>(0x1);
    expect_rc(pvec_collection_create(db_, "c", &co, &out, &err), err, PVEC_EXISTS);
    EXPECT_EQ(out, nullptr);
    expect_rc(pvec_collection_create(db_, "", &co, nullptr, &err), err, PVEC_INVALID);
    std::string long_name(10 * 1024, 'n');
    expect_rc(pvec_collection_create(db_, long_name.c_str(), &co, nullptr, &err), err, PVEC_INVALID);
    expect_rc(pvec_collection_create(db_, "bad\xff\xfe", &co, nullptr, &err), err, PVEC_INVALID);
    expect_rc(pvec_collection_open(db_, "missing", &out, &err), err, PVEC_NOTFOUND);
    expect_rc(pvec_collection_open(db_, long_name.c_str(), &out, &err), err, PVEC_INVALID);
    expect_rc(pvec_collection_drop(db_, "missing", &err), err, PVEC_NOTFOUND);
    co.dim = 0;
    expect_rc(pvec_collection_create(db_, "x", &co, nullptr, &err), err, PVEC_RANGE);
    co.dim = PVEC_MAX_DIM + 1;
    expect_rc(pvec_collection_create(db_, "x", &co, nullptr, &err), err, PVEC_RANGE);
    co.dim = 4;
    co.metric = 9;
    expect_rc(pvec_collection_create(db_, "x", &co, nullptr, &err), err, PVEC_INVALID);
    co.metric = 0;
    co.codec = "zip";
    expect_rc(pvec_collection_create(db_, "x", &co, nullptr, &err), err, PVEC_INVALID);
    co.codec = "int8";
    co.pca_dim = 4;  // not smaller than the dimension
    expect_rc(pvec_collection_create(db_, "x", &co, nullptr, &err), err, PVEC_RANGE);
    co.pca_dim = 0;
    co.raw_tier = 7;
    expect_rc(pvec_collection_create(db_, "x", &co, nullptr, &err), err, PVEC_INVALID);
    co.raw_tier = 0;
    co.flags = 0x80;
    expect_rc(pvec_collection_create(db_, "x", &co, nullptr, &err), err, PVEC_INVALID);
    char **names;
    size_t n;
    PV_OK(pvec_collection_list(db_, &names, &n, nullptr));
    EXPECT_EQ(n, 1u);
    pvec_free(names);
}

TEST_F(BadInput, ZeroAndHugeK) {
    char *err = nullptr;
    int64_t ids[1];
    size_t n = 123;
    expect_rc(pvec_search(c_, good_.data(), kDim, 0, nullptr, ids, nullptr, &n, &err), err,
              PVEC_RANGE);
    EXPECT_EQ(n, 0u);
    // k larger than the collection: every item, best first (the buffers must hold k entries; the
    // library writes only n_found of them, so a huge k never allocates k of anything).
    std::vector<int64_t> all(64);
    PV_OK(pvec_search(c_, good_.data(), kDim, std::numeric_limits<size_t>::max(), nullptr,
                      all.data(), nullptr, &n, nullptr));
    EXPECT_EQ(n, 50u);
}

TEST_F(BadInput, ReadOnlyDatabaseRefusesWrites) {
    pvec_db *ro = open_db(tmp_.path(), PVEC_OPEN_READONLY);
    pvec_collection *c = open_coll(ro, "c");
    char *err = nullptr;
    expect_rc(pvec_add(c, 1000, good_.data(), kDim, nullptr, &err), err, PVEC_READONLY);
    expect_rc(pvec_delete(c, 1, &err), err, PVEC_READONLY);
    expect_rc(pvec_db_begin(ro, &err), err, PVEC_READONLY);
    expect_rc(pvec_collection_drop(ro, "c", &err), err, PVEC_READONLY);
    pvec_collection_options co = PVEC_COLLECTION_OPTIONS_INIT;
    co.dim = 4;
    expect_rc(pvec_collection_create(ro, "new", &co, nullptr, &err), err, PVEC_READONLY);
    EXPECT_EQ(search_ids(c, good_.data(), kDim, 50), before_);
    pvec_collection_close(c);
    PV_OK(pvec_db_close(ro));
}

TEST(BadFiles, NotADatabase) {
    TempDb tmp;
    {
        std::ofstream f(tmp.path(), std::ios::binary);
        for (int i = 0; i < 2000; ++i) {
            f << "this is not a database file ";
        }
    }
    pvec_db *db = reinterpret_cast<pvec_db *>(0x1);
    char *err = nullptr;
    int rc = pvec_db_open(tmp.c_str(), nullptr, &db, &err);
    EXPECT_EQ(rc, PVEC_CORRUPT) << (err ? err : "");
    EXPECT_EQ(db, nullptr);
    EXPECT_NE(err, nullptr);
    pvec_free(err);
}

TEST(BadFiles, MissingFileWithNoCreate) {
    TempDb tmp;
    pvec_open_options o = PVEC_OPEN_OPTIONS_INIT;
    o.flags = PVEC_OPEN_NOCREATE;
    pvec_db *db = nullptr;
    EXPECT_EQ(pvec_db_open(tmp.c_str(), &o, &db, nullptr), PVEC_IO);
    EXPECT_EQ(db, nullptr);
    EXPECT_EQ(pvec_db_open("/nonexistent-dir/x.db", nullptr, &db, nullptr), PVEC_IO);
}

// Edits pocketvec's tables behind its back with plain SQLite.
void tamper(const std::string &path, const char *sql) {
    sqlite3 *conn = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &conn), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(conn, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(conn);
    sqlite3_close(conn);
}

TEST(BadFiles, NewerFormatIsRefused) {
    TempDb tmp;
    PV_OK(pvec_db_close(open_db(tmp.path())));
    tamper(tmp.path(), "UPDATE pvec_meta SET value = 99 WHERE key = 'format_version'");
    pvec_db *db = nullptr;
    char *err = nullptr;
    EXPECT_EQ(pvec_db_open(tmp.c_str(), nullptr, &db, &err), PVEC_FORMAT);
    EXPECT_NE(err, nullptr);
    pvec_free(err);
}

TEST(BadFiles, DamagedChunksAreReported) {
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    pvec_collection *c = create(db, "c", 4, PVEC_METRIC_L2);
    const float v[4] = {1, 2, 3, 4};
    PV_OK(pvec_add(c, 1, v, 4, nullptr, nullptr));
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
    tamper(tmp.path(), "UPDATE pvec_c1_chunks SET data = x'0102'");
    db = open_db(tmp.path());
    char *err = nullptr;
    EXPECT_EQ(pvec_collection_open(db, "c", &c, &err), PVEC_CORRUPT);
    EXPECT_NE(err, nullptr);
    pvec_free(err);
    PV_OK(pvec_db_close(db));
    // Items and chunks that disagree are damage too.
    tamper(tmp.path(), "DELETE FROM pvec_c1_chunks");
    db = open_db(tmp.path());
    EXPECT_EQ(pvec_collection_open(db, "c", &c, nullptr), PVEC_CORRUPT);
    PV_OK(pvec_db_close(db));
    // So are tables of another shape.
    // (The column is renamed by rebuilding the table: ALTER TABLE ... RENAME COLUMN needs SQLite
    // 3.25, and the PVEC_SQLCIPHER build runs this suite on SQLCipher 3.4.1's SQLite 3.15.)
    tamper(tmp.path(),
           "CREATE TABLE t(id INTEGER PRIMARY KEY, chunk INTEGER NOT NULL, s INTEGER NOT NULL,"
           " meta TEXT, sum INTEGER NOT NULL);"
           "INSERT INTO t SELECT id, chunk, slot, meta, sum FROM pvec_c1_items;"
           "DROP TABLE pvec_c1_items; ALTER TABLE t RENAME TO pvec_c1_items");
    db = open_db(tmp.path());
    EXPECT_EQ(pvec_collection_open(db, "c", &c, nullptr), PVEC_CORRUPT);
    PV_OK(pvec_db_close(db));
}

}  // namespace

namespace {

// A model blob as docs/format.md describes it, with a valid checksum: PCA `in` -> `out` over an
// f32 codec.
std::vector<uint8_t> crafted_model(uint32_t in, uint32_t out, uint32_t metric) {
    std::vector<uint8_t> b;
    auto u32 = [&](std::vector<uint8_t> &v, uint32_t x) {
        for (int i = 0; i < 4; ++i) {
            v.push_back(static_cast<uint8_t>(x >> (8 * i)));
        }
    };
    auto f32 = [&](std::vector<uint8_t> &v, float f) {
        uint32_t x;
        std::memcpy(&x, &f, 4);
        u32(v, x);
    };
    std::vector<uint8_t> pca = {'P', 'V', 'P', 'C'};
    u32(pca, 1);
    u32(pca, in);
    u32(pca, out);
    u32(pca, 0);
    f32(pca, 1.0f);
    for (uint32_t i = 0; i < in; ++i) {
        f32(pca, 0.0f);
    }
    for (uint32_t r = 0; r < out; ++r) {
        for (uint32_t c = 0; c < in; ++c) {
            f32(pca, r == c ? 1.0f : 0.0f);
        }
    }
    std::vector<uint8_t> codec = {'P', 'V', 'C', 'D'};
    u32(codec, 1);
    u32(codec, 0);  // f32
    u32(codec, out);
    f32(codec, 1.0f);
    u32(codec, 0);
    u32(codec, 0);
    u32(codec, 0);
    b = {'P', 'V', 'M', 'D'};
    u32(b, 1);
    u32(b, in);
    u32(b, metric);
    u32(b, static_cast<uint32_t>(pca.size()));
    b.insert(b.end(), pca.begin(), pca.end());
    u32(b, static_cast<uint32_t>(codec.size()));
    b.insert(b.end(), codec.begin(), codec.end());
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint8_t x : b) {
        h = (h ^ x) * 0x100000001b3ull;
    }
    for (int i = 0; i < 8; ++i) {
        b.push_back(static_cast<uint8_t>(h >> (8 * i)));
    }
    return b;
}

}  // namespace

TEST_F(BadInput, ValuesThatWouldOverflowAndCraftedModelsAreRefused) {
    char *err = nullptr;
    std::vector<float> huge(kDim, std::numeric_limits<float>::max());
    expect_rc(pvec_add(c_, 5000, huge.data(), kDim, nullptr, &err), err, PVEC_INVALID);
    int64_t ids[4];
    size_t n;
    expect_rc(pvec_search(c_, huge.data(), kDim, 4, nullptr, ids, nullptr, &n, &err), err,
              PVEC_INVALID);
    // A checksum-valid model whose PCA keeps every dimension (8 -> 8) would make a collection
    // that no open accepts: refused at import, and the collection stays as it was.
    const auto bad = crafted_model(kDim, kDim, PVEC_METRIC_COSINE);
    expect_rc(pvec_model_import(c_, bad.data(), bad.size(), &err), err, PVEC_INVALID);
    // The same blob shape with 8 -> 4 is a fine model (the harness itself is right).
    pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
    o.dim = kDim;
    o.raw_tier = PVEC_RAW_ZSTD_F32;
    pvec_collection *other = nullptr;
    PV_OK(pvec_collection_create(db_, "other", &o, &other, nullptr));
    const auto good = crafted_model(kDim, 4, PVEC_METRIC_COSINE);
    PV_OK(pvec_model_import(other, good.data(), good.size(), nullptr));
    pvec_collection_close(other);
    PV_OK(pvec_collection_drop(db_, "other", nullptr));
}

TEST_F(BadInput, NamesMustBeRealUtf8) {
    char *err = nullptr;
    pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
    o.dim = 4;
    for (const char *name : {"a\xC0\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE0\x80\xAF", "\xFF"}) {
        pvec_collection *c = nullptr;
        expect_rc(pvec_collection_create(db_, name, &o, &c, &err), err, PVEC_INVALID);
        EXPECT_EQ(c, nullptr);
    }
    pvec_collection *ok = nullptr;
    PV_OK(pvec_collection_create(db_, "caf\xC3\xA9 \xF0\x9F\x93\x9D", &o, &ok, nullptr));
    pvec_collection_close(ok);
    PV_OK(pvec_collection_drop(db_, "caf\xC3\xA9 \xF0\x9F\x93\x9D", nullptr));
}

TEST(DamagedCatalog, AMissingCatalogTableOrAnOversizedDimIsCorrupt) {
    TempDb tmp;
    {
        pvec_db *db = open_db(tmp.path());
        pvec_collection *c = create(db, "c", 32, PVEC_METRIC_L2);
        pvec_collection_close(c);
        PV_OK(pvec_db_close(db));
    }
    sqlite3 *conn = nullptr;
    ASSERT_EQ(sqlite3_open(tmp.c_str(), &conn), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(conn, "UPDATE pvec_collections SET dim = 4294967328", nullptr, nullptr,
                           nullptr),
              SQLITE_OK);  // 2^32 + 32
    sqlite3_close(conn);
    {
        pvec_db *db = open_db(tmp.path());
        pvec_collection *c = nullptr;
        char *err = nullptr;
        EXPECT_EQ(pvec_collection_open(db, "c", &c, &err), PVEC_CORRUPT) << (err ? err : "");
        pvec_free(err);
        PV_OK(pvec_db_close(db));
    }
    ASSERT_EQ(sqlite3_open(tmp.c_str(), &conn), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(conn, "DROP TABLE pvec_collections", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(conn);
    pvec_db *db = nullptr;
    char *err = nullptr;
    EXPECT_EQ(pvec_db_open(tmp.c_str(), nullptr, &db, &err), PVEC_CORRUPT) << (err ? err : "");
    pvec_free(err);
    EXPECT_EQ(db, nullptr);
}
