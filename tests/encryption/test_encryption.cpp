// Encryption at rest (PVEC_SQLCIPHER=ON): a keyed file shows none of what it holds, reopens with
// its key to the same answers, and refuses to open without it (PVEC_CORRUPT), changing nothing.
// Every "nothing shows" assertion has a control: the same content written without a key, where
// the same search does find it (so the search itself is known to work).
#include <sys/stat.h>

#include <sqlite3.h>

#include <fstream>
#include <iterator>

#include "../integration/test_helpers.h"

using namespace pvtest;

namespace {

constexpr uint32_t kDim = 16;
constexpr int64_t kCount = 300;
const char kMarker[] = "PVEC-SECRET-MARKER-7f3a";
const char kCollection[] = "confidential_notes_c0ffee";
// Binary on purpose: a NUL and high bytes, given with its length.
const char kKey[] = "correct horse\0battery \xff staple";
constexpr uint32_t kKeyBytes = sizeof kKey - 1;

// TempDb (one path per test) with a tag, for tests that compare two files.
class TempPair {
public:
    TempDb enc;
    const std::string &plain_path() const { return plain_; }
    const char *plain_c_str() const { return plain_.c_str(); }
    TempPair() : plain_(enc.path() + ".plain.db") { remove(); }
    ~TempPair() { remove(); }

private:
    void remove() {
        for (const char *suffix : {"", "-journal", "-wal", "-shm"}) {
            std::remove((plain_ + suffix).c_str());
        }
    }
    std::string plain_;
};

std::string file_bytes(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool exists(const std::string &path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
}

bool contains(const std::string &hay, const void *needle, std::size_t n) {
    return hay.find(std::string(static_cast<const char *>(needle), n)) != std::string::npos;
}

// Recognisable and exact in float32: 777 + 1.5 id + i / 64.
std::vector<float> vector_of(int64_t id) {
    std::vector<float> v(kDim);
    for (uint32_t i = 0; i < kDim; ++i) {
        v[i] = 777.0f + 1.5f * static_cast<float>(id) + static_cast<float>(i) / 64.0f;
    }
    return v;
}

std::string meta_of(int64_t id) {
    return "{\"note\":\"" + std::string(kMarker) + "-" + std::to_string(id) + "\",\"id\":" +
           std::to_string(id) + "}";
}

pvec_open_options keyed(const void *key = kKey, uint32_t bytes = kKeyBytes, uint32_t flags = 0) {
    pvec_open_options o = PVEC_OPEN_OPTIONS_INIT;
    o.key = key;
    o.key_bytes = bytes;
    o.flags = flags;
    return o;
}

pvec_db *open_with(const std::string &path, const pvec_open_options &o) {
    pvec_db *db = nullptr;
    char *err = nullptr;
    EXPECT_EQ(pvec_db_open(path.c_str(), &o, &db, &err), PVEC_OK) << (err ? err : "");
    pvec_free(err);
    return db;
}

// A collection with f32 codes (the vectors' own bytes), an uncompressed float32 raw tier and
// metadata with the marker: in a plain file all three are readable bytes.
void fill(pvec_db *db) {
    pvec_collection_options co = PVEC_COLLECTION_OPTIONS_INIT;
    co.dim = kDim;
    co.metric = PVEC_METRIC_L2;
    co.codec = "f32";
    co.raw_tier = PVEC_RAW_F32;
    pvec_collection *c = nullptr;
    char *err = nullptr;
    ASSERT_EQ(pvec_collection_create(db, kCollection, &co, &c, &err), PVEC_OK) << (err ? err : "");
    PV_OK(pvec_db_begin(db, nullptr));
    for (int64_t id = 1; id <= kCount; ++id) {
        const auto v = vector_of(id);
        const std::string m = meta_of(id);
        PV_OK(pvec_add(c, id, v.data(), kDim, m.c_str(), nullptr));
    }
    PV_OK(pvec_db_commit(db, nullptr));
    pvec_collection_close(c);
}

struct Answers {
    std::vector<std::vector<int64_t>> ids;
    std::vector<std::vector<float>> scores;
    std::vector<std::string> metas;
    bool operator==(const Answers &o) const {
        return ids == o.ids && scores == o.scores && metas == o.metas;
    }
};

Answers answers(pvec_db *db) {
    Answers a;
    pvec_collection *c = open_coll(db, kCollection);
    if (c == nullptr) {
        return a;
    }
    pvec_search_options so = PVEC_SEARCH_OPTIONS_INIT;
    so.oversample = 4;
    so.rescore = PVEC_RESCORE_RAW;
    for (int64_t q : {1, 77, 150, 299}) {
        auto query = vector_of(q);
        query[3] += 0.2f;
        int64_t ids[10];
        float scores[10];
        std::size_t n = 0;
        EXPECT_EQ(pvec_search(c, query.data(), kDim, 10, &so, ids, scores, &n, nullptr), PVEC_OK);
        a.ids.emplace_back(ids, ids + n);
        a.scores.emplace_back(scores, scores + n);
        EXPECT_EQ(n, 10u);
        EXPECT_EQ(n > 0 ? ids[0] : -1, q);
    }
    for (int64_t id : {1, 2, 150, 300}) {
        std::vector<float> v(kDim);
        char *meta = nullptr;
        EXPECT_EQ(pvec_get(c, id, v.data(), kDim, &meta, nullptr), PVEC_OK);
        EXPECT_EQ(v, vector_of(id));
        a.metas.push_back(meta ? meta : "(none)");
        pvec_free(meta);
    }
    EXPECT_EQ(count(c), static_cast<uint64_t>(kCount));
    pvec_collection_close(c);
    return a;
}

// What must not show in an encrypted file (and does show in a plain one): the marker, the
// collection's name, pocketvec's table names, SQLite's header, and 8-byte windows (two floats)
// of several vectors.
struct Leaks {
    std::vector<std::string> found;
};

Leaks leaks(const std::string &bytes) {
    Leaks l;
    for (const char *s :
         {kMarker, kCollection, "pvec_meta", "pvec_collections", "SQLite format 3"}) {
        if (contains(bytes, s, std::strlen(s))) {
            l.found.push_back(s);
        }
    }
    for (int64_t id : {1, 42, 99, 150, 299}) {
        const auto v = vector_of(id);
        for (uint32_t i : {0u, 5u, 10u, 14u}) {
            if (contains(bytes, &v[i], 2 * sizeof(float))) {
                l.found.push_back("vector " + std::to_string(id) + " at component " +
                                  std::to_string(i));
            }
        }
    }
    return l;
}

std::string joined(const Leaks &l) {
    std::string s;
    for (const auto &f : l.found) {
        s += f + "; ";
    }
    return s;
}

}  // namespace

TEST(Encryption, KeyedFileShowsNothingItHolds) {
    TempPair files;
    const TempDb &enc = files.enc;
    pvec_db *db = open_with(enc.path(), keyed());
    ASSERT_NE(db, nullptr);
    fill(db);
    PV_OK(pvec_db_close(db));
    db = open_db(files.plain_path());
    fill(db);
    PV_OK(pvec_db_close(db));

    // The control: every pattern is found in the plain file.
    const std::string plain_bytes = file_bytes(files.plain_path());
    EXPECT_EQ(leaks(plain_bytes).found.size(), 5u + 5u * 4u) << joined(leaks(plain_bytes));

    const std::string bytes = file_bytes(enc.path());
    ASSERT_GT(bytes.size(), kCount * kDim * sizeof(float) * 2);  // codes and raw tier are there
    EXPECT_TRUE(leaks(bytes).found.empty()) << joined(leaks(bytes));
    EXPECT_FALSE(exists(enc.path() + "-journal"));
    EXPECT_FALSE(exists(enc.path() + "-wal"));
}

TEST(Encryption, ReopenedWithTheKeyAnswersAsBefore) {
    TempPair files;
    const TempDb &enc = files.enc;
    pvec_db *db = open_with(enc.path(), keyed());
    ASSERT_NE(db, nullptr);
    fill(db);
    const Answers before = answers(db);
    PV_OK(pvec_db_close(db));
    db = open_db(files.plain_path());
    fill(db);
    const Answers from_plain = answers(db);
    PV_OK(pvec_db_close(db));
    ASSERT_EQ(before.ids.size(), 4u);
    EXPECT_EQ(before.metas[2], meta_of(150));
    EXPECT_TRUE(before == from_plain);  // encryption changes no answer

    for (uint32_t flags : {0u, PVEC_OPEN_READONLY}) {
        SCOPED_TRACE(flags);
        db = open_with(enc.path(), keyed(kKey, kKeyBytes, flags));
        ASSERT_NE(db, nullptr);
        EXPECT_TRUE(answers(db) == before);
        char *report = nullptr;
        EXPECT_EQ(pvec_db_check(db, &report, nullptr), PVEC_OK) << (report ? report : "");
        pvec_free(report);
        PV_OK(pvec_db_close(db));
    }
    // A write after the reopen lands encrypted too, and reads back.
    db = open_with(enc.path(), keyed());
    pvec_collection *c = open_coll(db, kCollection);
    const auto v = vector_of(5000);
    const std::string m = "{\"late\":\"" + std::string(kMarker) + "-late\"}";
    PV_OK(pvec_add(c, 5000, v.data(), kDim, m.c_str(), nullptr));
    EXPECT_EQ(pvec_add(c, 5001, v.data(), kDim, "{not json", nullptr), PVEC_INVALID);
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
    EXPECT_FALSE(contains(file_bytes(enc.path()), kMarker, std::strlen(kMarker)));
    db = open_with(enc.path(), keyed());
    c = open_coll(db, kCollection);
    char *meta = nullptr;
    std::vector<float> got(kDim);
    PV_OK(pvec_get(c, 5000, got.data(), kDim, &meta, nullptr));
    EXPECT_EQ(got, v);
    EXPECT_EQ(std::string(meta ? meta : ""), m);
    pvec_free(meta);
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}

TEST(Encryption, WithoutTheKeyOrWithAWrongOneNothingOpensOrChanges) {
    TempDb enc;
    pvec_db *db = open_with(enc.path(), keyed());
    ASSERT_NE(db, nullptr);
    fill(db);
    PV_OK(pvec_db_close(db));
    const std::string before = file_bytes(enc.path());

    const char wrong[] = "correct horse\0battery \xff staplE";
    const char longer[] = "correct horse\0battery \xff staple!";
    struct Attempt {
        const char *what;
        pvec_open_options opts;
    };
    std::vector<Attempt> attempts;
    for (uint32_t flags : {0u, PVEC_OPEN_READONLY, PVEC_OPEN_WAL, PVEC_OPEN_NOCREATE}) {
        pvec_open_options none = PVEC_OPEN_OPTIONS_INIT;
        none.flags = flags;
        attempts.push_back({"no key", none});
        attempts.push_back({"wrong key", keyed(wrong, sizeof wrong - 1, flags)});
        attempts.push_back({"key one byte longer", keyed(longer, sizeof longer - 1, flags)});
        attempts.push_back({"key one byte shorter", keyed(kKey, kKeyBytes - 1, flags)});
    }
    for (const Attempt &a : attempts) {
        SCOPED_TRACE(std::string(a.what) + ", flags " + std::to_string(a.opts.flags));
        db = reinterpret_cast<pvec_db *>(&db);  // must be reset to NULL
        char *err = nullptr;
        EXPECT_EQ(pvec_db_open(enc.c_str(), &a.opts, &db, &err), PVEC_CORRUPT);
        EXPECT_EQ(db, nullptr);
        ASSERT_NE(err, nullptr);
        const std::string msg = err;
        pvec_free(err);
        if (a.opts.key != nullptr) {
            EXPECT_NE(msg.find("not one encrypted with this key"), std::string::npos) << msg;
        } else {
            EXPECT_NE(msg.find("pass its key in opts->key"), std::string::npos) << msg;
        }
        EXPECT_EQ(file_bytes(enc.path()), before);
        EXPECT_FALSE(exists(enc.path() + "-journal"));
        EXPECT_FALSE(exists(enc.path() + "-wal"));
        EXPECT_FALSE(exists(enc.path() + "-shm"));
    }
    // Still opens with the key, unchanged.
    db = open_with(enc.path(), keyed());
    ASSERT_NE(db, nullptr);
    pvec_collection *c = open_coll(db, kCollection);
    EXPECT_EQ(count(c), static_cast<uint64_t>(kCount));
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}

TEST(Encryption, APlainFileGivenAKeyIsRefusedAndKeptPlain) {
    TempDb plain;
    pvec_db *db = open_db(plain.path());
    fill(db);
    PV_OK(pvec_db_close(db));
    const std::string before = file_bytes(plain.path());
    const pvec_open_options o = keyed();
    char *err = nullptr;
    EXPECT_EQ(pvec_db_open(plain.c_str(), &o, &db, &err), PVEC_CORRUPT);
    EXPECT_EQ(db, nullptr);
    ASSERT_NE(err, nullptr);
    EXPECT_NE(std::string(err).find("key"), std::string::npos) << err;
    pvec_free(err);
    EXPECT_EQ(file_bytes(plain.path()), before);
    db = open_db(plain.path());
    EXPECT_EQ(answers(db).ids.size(), 4u);
    PV_OK(pvec_db_close(db));
}

// The rollback journal and the write-ahead log hold page images; SQLCipher encrypts them like
// the file. Read while a transaction is open (journal) or before the checkpoint (WAL).
TEST(Encryption, JournalAndWalAreEncryptedToo) {
    for (bool wal : {false, true}) {
        for (bool key : {false, true}) {  // key = false: the control, where the marker shows
            SCOPED_TRACE(std::string(wal ? "wal" : "rollback journal") +
                         (key ? ", keyed" : ", plain"));
            TempDb tmp;
            const uint32_t flags = wal ? PVEC_OPEN_WAL : 0u;
            pvec_open_options o = PVEC_OPEN_OPTIONS_INIT;
            o.flags = flags;
            if (key) {
                o = keyed(kKey, kKeyBytes, flags);
            }
            pvec_db *db = open_with(tmp.path(), o);
            ASSERT_NE(db, nullptr);
            fill(db);
            pvec_collection *c = open_coll(db, kCollection);
            // Rewrites pages that hold the markers: their old images go to the journal, or the
            // new ones to the log.
            PV_OK(pvec_db_begin(db, nullptr));
            for (int64_t id = 1; id <= kCount; id += 2) {
                const auto v = vector_of(id + 1000);
                const std::string m = meta_of(id + 1000);
                PV_OK(pvec_upsert(c, id, v.data(), kDim, m.c_str(), nullptr));
            }
            const std::string side = file_bytes(tmp.path() + (wal ? "-wal" : "-journal"));
            EXPECT_GT(side.size(), 4096u);
            EXPECT_EQ(contains(side, kMarker, std::strlen(kMarker)), !key);
            if (key) {
                EXPECT_TRUE(leaks(side).found.empty()) << joined(leaks(side));
            }
            PV_OK(pvec_db_commit(db, nullptr));
            if (wal) {
                const std::string log = file_bytes(tmp.path() + "-wal");
                EXPECT_EQ(contains(log, kMarker, std::strlen(kMarker)), !key);
            }
            pvec_collection_close(c);
            PV_OK(pvec_db_close(db));
        }
    }
}

// pvec_db_attach: the application keys its own connection; pocketvec then works on it as on any.
TEST(Encryption, AttachUsesTheApplicationsKeyedConnection) {
    TempDb enc;
    pvec_db *db = open_with(enc.path(), keyed());
    ASSERT_NE(db, nullptr);
    fill(db);
    const Answers before = answers(db);
    PV_OK(pvec_db_close(db));

    sqlite3 *conn = nullptr;
    ASSERT_EQ(sqlite3_open(enc.c_str(), &conn), SQLITE_OK);
    ASSERT_EQ(sqlite3_key_v2(conn, "main", kKey, static_cast<int>(kKeyBytes)), SQLITE_OK);
    PV_OK(pvec_db_attach(conn, nullptr, &db, nullptr));
    EXPECT_TRUE(answers(db) == before);
    PV_OK(pvec_db_close(db));
    sqlite3_close(conn);

    // Unkeyed, the application's connection cannot read it, and attach says so.
    ASSERT_EQ(sqlite3_open(enc.c_str(), &conn), SQLITE_OK);
    EXPECT_EQ(pvec_db_attach(conn, nullptr, &db, nullptr), PVEC_CORRUPT);
    EXPECT_EQ(db, nullptr);
    sqlite3_close(conn);
}

// A caller built against the 0.1.0 header (struct_size 12, no key fields) opens plain files on
// an SQLCipher build as before, and bytes past its struct are never read.
TEST(Encryption, OldCallersOpenPlainFiles) {
    TempDb plain;
    struct {
        pvec_open_options o;
        unsigned char junk[32];
    } old;
    std::memset(static_cast<void *>(&old), 0xA5, sizeof old);
    old.o.struct_size = 12;
    old.o.flags = 0;
    old.o.busy_timeout_ms = 0;
    pvec_db *db = nullptr;
    char *err = nullptr;
    ASSERT_EQ(pvec_db_open(plain.c_str(), &old.o, &db, &err), PVEC_OK) << (err ? err : "");
    fill(db);
    PV_OK(pvec_db_close(db));
    EXPECT_TRUE(contains(file_bytes(plain.path()), "SQLite format 3", 15));
}
