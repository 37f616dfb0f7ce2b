// Damaged files: single-byte flips and randomised 4 KiB pages over a database holding an exact
// f32, an int8 (zstd raw tier, rescored) and a binary collection. After each damage, opening,
// every pvec_get, searches and pvec_db_check must either answer exactly as before or report
// PVEC_CORRUPT (PVEC_FORMAT when the format number itself was hit): never a different answer.
// Also plain-SQL edits of pocketvec's rows (a slot's id, an items row's slot, metadata, a raw
// vector, the catalog) and the format 2 -> 3 upgrade.
#include <sqlite3.h>

#include <fstream>
#include <iterator>
#include <map>
#include <random>

#include "../integration/test_helpers.h"
#include "format2.h"

namespace {

using pvtest::TempDb;

constexpr std::size_t kItems = 300;
constexpr std::size_t kQueries = 4;
constexpr std::size_t kK = 10;

struct CollSpec {
    const char *name;
    uint32_t dim;
    uint32_t metric;
    const char *codec;
    uint32_t raw_tier;
    uint32_t oversample;
};
const CollSpec kColls[] = {
    {"exact f32", 16, PVEC_METRIC_COSINE, "f32", PVEC_RAW_NONE, 0},
    {"int8+raw", 16, PVEC_METRIC_L2, "int8", PVEC_RAW_ZSTD_F32, 4},
    {"binary", 64, PVEC_METRIC_DOT, "binary", PVEC_RAW_NONE, 0},
};

std::vector<uint8_t> read_file(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}
void write_file(const std::string &path, const std::vector<uint8_t> &bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char *>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// Everything a reader can observe of one collection.
struct Answers {
    std::map<int64_t, std::pair<std::vector<float>, std::string>> items;
    std::vector<std::vector<int64_t>> ids;
    std::vector<std::vector<float>> scores;
};

std::vector<float> queries_for(const CollSpec &c) {
    return pvtest::gaussian_vectors(kQueries, c.dim, 99 + c.dim);
}

void build(const std::string &path) {
    pvec_db *db = pvtest::open_db(path);
    ASSERT_NE(db, nullptr);
    for (const CollSpec &c : kColls) {
        pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
        o.dim = c.dim;
        o.metric = c.metric;
        o.codec = c.codec;
        o.raw_tier = c.raw_tier;
        o.train_threshold = PVEC_TRAIN_NEVER;
        pvec_collection *coll = nullptr;
        PV_OK(pvec_collection_create(db, c.name, &o, &coll, nullptr));
        const std::vector<float> v = pvtest::gaussian_vectors(kItems, c.dim, c.dim);
        std::vector<int64_t> ids(kItems);
        std::vector<std::string> meta(kItems);
        std::vector<const char *> metas(kItems);
        for (std::size_t i = 0; i < kItems; ++i) {
            ids[i] = static_cast<int64_t>(i * 7 + 1);
            meta[i] = "{\"n\":" + std::to_string(i) + "}";
            metas[i] = i % 3 == 0 ? nullptr : meta[i].c_str();
        }
        PV_OK(pvec_add_batch(coll, kItems, ids.data(), v.data(), c.dim, metas.data(), nullptr));
        if (std::string(c.codec) != "f32") {
            PV_OK(pvec_collection_train(coll, nullptr, nullptr));
        }
        for (int64_t id : {int64_t{8}, int64_t{99}, int64_t{2003}}) {
            PV_OK(pvec_delete(coll, id, nullptr));  // free slots in the middle of a chunk
        }
        pvec_collection_close(coll);
    }
    ASSERT_EQ(pvec_db_close(db), PVEC_OK);
}

// What happened when a damaged file was read.
struct Outcome {
    bool corrupt = false;     // some call said PVEC_CORRUPT (or PVEC_FORMAT at open)
    std::string wrong;        // the first answer that differed without an error, if any
};

Outcome observe(const std::string &path, const std::vector<Answers> *oracle,
                std::vector<Answers> *record) {
    Outcome out;
    auto failed = [&](int rc, const std::string &what) {
        if (rc == PVEC_CORRUPT) {
            out.corrupt = true;
        } else if (out.wrong.empty()) {
            out.wrong = what + " returned " + pvec_errstr(rc);
        }
    };
    pvec_open_options o = PVEC_OPEN_OPTIONS_INIT;
    o.flags = PVEC_OPEN_READONLY | PVEC_OPEN_NOCREATE;
    pvec_db *db = nullptr;
    int rc = pvec_db_open(path.c_str(), &o, &db, nullptr);
    if (rc != PVEC_OK) {
        // The format number itself damaged is a refusal, not an answer.
        rc == PVEC_FORMAT ? (void)(out.corrupt = true) : failed(rc, "open");
        return out;
    }
    for (std::size_t ci = 0; ci < std::size(kColls); ++ci) {
        const CollSpec &c = kColls[ci];
        Answers got;
        pvec_collection *coll = nullptr;
        rc = pvec_collection_open(db, c.name, &coll, nullptr);
        if (rc != PVEC_OK) {
            failed(rc, std::string("opening ") + c.name);
            continue;
        }
        const std::vector<int64_t> ids = [] {
            std::vector<int64_t> v;
            for (std::size_t i = 0; i < kItems; ++i) {
                v.push_back(static_cast<int64_t>(i * 7 + 1));
            }
            return v;
        }();
        for (int64_t id : ids) {
            std::vector<float> vec(c.dim);
            char *meta = nullptr;
            rc = pvec_get(coll, id, vec.data(), c.dim, &meta, nullptr);
            if (rc == PVEC_OK || rc == PVEC_NOTFOUND) {
                got.items[id] = {rc == PVEC_OK ? vec : std::vector<float>(),
                                 meta ? meta : (rc == PVEC_OK ? "<none>" : "<absent>")};
            } else {
                failed(rc, "get " + std::to_string(id));
            }
            pvec_free(meta);
        }
        const std::vector<float> q = queries_for(c);
        pvec_search_options so = PVEC_SEARCH_OPTIONS_INIT;
        so.threads = 1;
        so.oversample = c.oversample;
        for (std::size_t i = 0; i < kQueries; ++i) {
            std::vector<int64_t> hit(kK);
            std::vector<float> score(kK);
            size_t n = 0;
            rc = pvec_search(coll, q.data() + i * c.dim, c.dim, kK, &so, hit.data(), score.data(),
                             &n, nullptr);
            if (rc != PVEC_OK) {
                failed(rc, "search");
                hit.clear();
                score.clear();
            } else {
                hit.resize(n);
                score.resize(n);
            }
            got.ids.push_back(hit);
            got.scores.push_back(score);
        }
        pvec_collection_close(coll);
        if (oracle) {
            const Answers &want = (*oracle)[ci];
            for (const auto &[id, value] : got.items) {
                if (value != want.items.at(id) && out.wrong.empty()) {
                    out.wrong = std::string(c.name) + ": get " + std::to_string(id) + " differs";
                }
            }
            for (std::size_t i = 0; i < kQueries; ++i) {
                if (!got.ids[i].empty() &&
                    (got.ids[i] != want.ids[i] || got.scores[i] != want.scores[i]) &&
                    out.wrong.empty()) {
                    out.wrong = std::string(c.name) + ": search " + std::to_string(i) + " differs";
                }
            }
        }
        if (record) {
            record->push_back(std::move(got));
        }
    }
    char *report = nullptr;
    rc = pvec_db_check(db, &report, nullptr);
    pvec_free(report);
    if (rc != PVEC_OK) {
        failed(rc, "pvec_db_check");
    }
    EXPECT_EQ(pvec_db_close(db), PVEC_OK);
    return out;
}

class Damage : public ::testing::Test {
protected:
    void SetUp() override {
        build(pristine_.path());
        Outcome clean = observe(pristine_.path(), nullptr, &oracle_);
        ASSERT_FALSE(clean.corrupt) << "the undamaged file reports damage";
        ASSERT_TRUE(clean.wrong.empty()) << clean.wrong;
        ASSERT_EQ(oracle_.size(), std::size(kColls));
        bytes_ = read_file(pristine_.path());
        ASSERT_GT(bytes_.size(), 64u * 1024);
    }
    // Runs one damaged copy; counts detections; fails on a silently different answer.
    void trial(const std::vector<uint8_t> &damaged, const std::string &what) {
        write_file(copy_.path(), damaged);
        const Outcome o = observe(copy_.path(), &oracle_, nullptr);
        EXPECT_TRUE(o.wrong.empty()) << what << ": " << o.wrong;
        (o.corrupt ? detected_ : unchanged_) += 1;
    }
    TempDb pristine_, copy_;
    std::vector<Answers> oracle_;
    std::vector<uint8_t> bytes_;
    int detected_ = 0, unchanged_ = 0;
};

TEST_F(Damage, FiveHundredSingleByteFlipsNeverGiveAWrongAnswer) {
    std::mt19937_64 rng(20261202);
    for (int t = 0; t < 500; ++t) {
        std::vector<uint8_t> d = bytes_;
        const std::size_t at = rng() % d.size();
        d[at] ^= static_cast<uint8_t>(1 + rng() % 255);
        trial(d, "flip at byte " + std::to_string(at));
    }
    std::printf("500 byte flips over %zu bytes: %d reported PVEC_CORRUPT, %d changed no answer\n",
                bytes_.size(), detected_, unchanged_);
    EXPECT_GT(detected_, 100);
}

TEST_F(Damage, TwoHundredRandomPagesNeverGiveAWrongAnswer) {
    std::mt19937_64 rng(4096);
    const std::size_t pages = bytes_.size() / 4096;
    for (int t = 0; t < 200; ++t) {
        std::vector<uint8_t> d = bytes_;
        const std::size_t page = rng() % pages;
        for (std::size_t i = 0; i < 4096; ++i) {
            d[page * 4096 + i] = static_cast<uint8_t>(rng());
        }
        trial(d, "random page " + std::to_string(page));
    }
    std::printf("200 random pages of %zu: %d reported PVEC_CORRUPT, %d changed no answer\n",
                pages, detected_, unchanged_);
    EXPECT_GT(detected_, 100);
}

// Edits a closed file with plain SQL.
void tamper(const std::string &path, const std::string &sql) {
    sqlite3 *conn = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &conn), SQLITE_OK);
    char *err = nullptr;
    EXPECT_EQ(sqlite3_exec(conn, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << (err ? err : "") << " in " << sql;
    sqlite3_free(err);
    sqlite3_close(conn);
}

int check_rc(const std::string &path, std::string *report_out = nullptr) {
    pvec_db *db = pvtest::open_db(path, PVEC_OPEN_READONLY);
    char *report = nullptr;
    const int rc = pvec_db_check(db, &report, nullptr);
    if (report_out) {
        *report_out = report ? report : "";
    }
    pvec_free(report);
    pvec_db_close(db);
    return rc;
}

int get_rc(const std::string &path, const char *name, int64_t id) {
    pvec_db *db = pvtest::open_db(path, PVEC_OPEN_READONLY);
    pvec_collection *c = nullptr;
    int rc = pvec_collection_open(db, name, &c, nullptr);
    if (rc == PVEC_OK) {
        uint32_t dim = 0;
        for (const CollSpec &spec : kColls) {
            dim = std::string(spec.name) == name ? spec.dim : dim;
        }
        std::vector<float> v(dim);
        char *meta = nullptr;
        rc = pvec_get(c, id, v.data(), v.size(), &meta, nullptr);
        pvec_free(meta);
        pvec_collection_close(c);
    }
    pvec_db_close(db);
    return rc;
}

// Rows edited as a careless tool would: each read that meets the edit says PVEC_CORRUPT, and the
// check names it; the untouched file checks clean.
TEST(DamageBySql, EditedRowsAreReportedNotServed) {
    TempDb tmp;
    build(tmp.path());
    std::string report;
    ASSERT_EQ(check_rc(tmp.path(), &report), PVEC_OK) << report;
    EXPECT_EQ(report, "");
    const std::vector<uint8_t> pristine = read_file(tmp.path());
    struct Edit {
        std::string sql;
        const char *coll;
        int64_t id;         // an item whose get meets the edit, or 0: the open does
        std::string named;  // what the check's report must mention
    };
    const Edit edits[] = {
        // An items row pointing at another item's slot (item 15 is at chunk 0, slot 2).
        {"UPDATE pvec_c1_items SET slot = 3 WHERE id = 15", "exact f32", 15, "item 15"},
        {"UPDATE pvec_c1_items SET meta = '{\"n\":6}' WHERE id = 15", "exact f32", 15, "item 15"},
        {"UPDATE pvec_c2_raw SET vec = (SELECT vec FROM pvec_c2_raw WHERE id = 1) WHERE id = 22",
         "int8+raw", 22, "raw vector 22"},
        {"DELETE FROM pvec_c3_items WHERE id = 22", "binary", 22, "item 22"},
        {"UPDATE pvec_collections SET metric = 3 WHERE id = 1", "exact f32", 0, "collection id 1"},
        {"UPDATE pvec_collections SET name = 'other' WHERE id = 3", "binary", 0, "collection id 3"},
        // A slot's id set to its neighbour's: the slot's checksum no longer matches.
        {"UPDATE pvec_c1_chunks SET data = substr(data, 1, 32 + 8) || "
         "substr(data, 32 + 16 + 1, 8) || substr(data, 32 + 16 + 1) WHERE id = 0",
         "exact f32", 0, "chunk 0 slot 1"},
        {"UPDATE pvec_models SET version = version + 1", "int8+raw", 0, "model"},
    };
    for (const Edit &e : edits) {
        write_file(tmp.path(), pristine);
        tamper(tmp.path(), e.sql);
        EXPECT_EQ(get_rc(tmp.path(), e.coll, e.id == 0 ? 1 : e.id), PVEC_CORRUPT) << e.sql;
        EXPECT_EQ(check_rc(tmp.path(), &report), PVEC_CORRUPT) << e.sql;
        EXPECT_NE(report.find(e.named), std::string::npos) << e.sql << "\nreport: " << report;
    }
}

// A format 2 file (as pocketvec 0.1 wrote it: no sums) is refused read-only and upgraded by a
// read-write open, after which it answers as before and checks clean.
TEST(Upgrade, Format2FileIsUpgradedInOneTransaction) {
    PVTEST_SKIP_WITHOUT_DROP_COLUMN();
    TempDb tmp;
    build(tmp.path());
    std::vector<Answers> before;
    ASSERT_TRUE(observe(tmp.path(), nullptr, &before).wrong.empty());
    EXPECT_EQ(pvtest::downgrade_to_format2(tmp.path()), 2);
    EXPECT_EQ(pvtest::format_version_of(tmp.path()), 2);
    pvec_open_options o = PVEC_OPEN_OPTIONS_INIT;
    o.flags = PVEC_OPEN_READONLY;
    pvec_db *db = nullptr;
    char *err = nullptr;
    EXPECT_EQ(pvec_db_open(tmp.c_str(), &o, &db, &err), PVEC_FORMAT);
    EXPECT_NE(std::string(err ? err : "").find("format 2"), std::string::npos);
    pvec_free(err);
    db = pvtest::open_db(tmp.path());  // read-write: upgrades
    ASSERT_NE(db, nullptr);
    pvec_db_close(db);
    std::vector<Answers> after;
    const Outcome o2 = observe(tmp.path(), &before, &after);
    EXPECT_FALSE(o2.corrupt);
    EXPECT_TRUE(o2.wrong.empty()) << o2.wrong;
    EXPECT_EQ(check_rc(tmp.path()), PVEC_OK);
}

}  // namespace
