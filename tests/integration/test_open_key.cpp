// pvec_open_options.key in every build: the checks that do not need SQLCipher, and, in a build
// without it (PVEC_TEST_SQLCIPHER=0), the promised PVEC_UNSUPPORTED with nothing created.
// The encrypted files themselves are tested in tests/encryption (PVEC_SQLCIPHER=ON only).
#include <sys/stat.h>

#include <sqlite3.h>

#include "test_helpers.h"

using namespace pvtest;

namespace {

bool exists(const std::string &path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
}

const char kKey[] = "open sesame";

}  // namespace

TEST(OpenKey, KeyAndLengthGoTogether) {
    TempDb tmp;
    pvec_open_options o = PVEC_OPEN_OPTIONS_INIT;
    EXPECT_EQ(o.key, nullptr);
    EXPECT_EQ(o.key_bytes, 0u);
    pvec_db *db = nullptr;
    char *err = nullptr;
    o.key = kKey;  // no length: refused, not opened as an unencrypted file
    EXPECT_EQ(pvec_db_open(tmp.c_str(), &o, &db, &err), PVEC_MISUSE);
    ASSERT_NE(err, nullptr);
    EXPECT_NE(std::string(err).find("key_bytes"), std::string::npos) << err;
    pvec_free(err);
    EXPECT_EQ(db, nullptr);
    o.key = nullptr;
    o.key_bytes = 4;
    EXPECT_EQ(pvec_db_open(tmp.c_str(), &o, &db, nullptr), PVEC_MISUSE);
    EXPECT_EQ(db, nullptr);
    EXPECT_FALSE(exists(tmp.path()));
}

TEST(OpenKey, AttachRefusesAKey) {
    TempDb tmp;
    sqlite3 *conn = nullptr;
    ASSERT_EQ(sqlite3_open(tmp.c_str(), &conn), SQLITE_OK);
    pvec_open_options o = PVEC_OPEN_OPTIONS_INIT;
    o.key = kKey;
    o.key_bytes = sizeof kKey - 1;
    pvec_db *db = nullptr;
    char *err = nullptr;
    EXPECT_EQ(pvec_db_attach(conn, &o, &db, &err), PVEC_MISUSE);
    ASSERT_NE(err, nullptr);
    EXPECT_NE(std::string(err).find("key the application's connection"), std::string::npos) << err;
    pvec_free(err);
    EXPECT_EQ(db, nullptr);
    // Nothing was written through the application's connection.
    sqlite3_stmt *st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(conn, "SELECT count(*) FROM sqlite_master", -1, &st, nullptr),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(st, 0), 0);
    sqlite3_finalize(st);
    sqlite3_close(conn);
}

TEST(OpenKey, WithoutSqlcipherAKeyIsUnsupportedAndCreatesNothing) {
#if PVEC_TEST_SQLCIPHER
    GTEST_SKIP() << "this build links SQLCipher (tests/encryption covers keys)";
#else
    TempDb tmp;
    pvec_open_options o = PVEC_OPEN_OPTIONS_INIT;
    o.key = kKey;
    o.key_bytes = sizeof kKey - 1;
    pvec_db *db = nullptr;
    char *err = nullptr;
    EXPECT_EQ(pvec_db_open(tmp.c_str(), &o, &db, &err), PVEC_UNSUPPORTED);
    ASSERT_NE(err, nullptr);
    EXPECT_NE(std::string(err).find("PVEC_SQLCIPHER"), std::string::npos) << err;
    pvec_free(err);
    EXPECT_EQ(db, nullptr);
    EXPECT_FALSE(exists(tmp.path()));
    // An existing file is left as it was, and still opens without the key.
    pvec_db *plain = open_db(tmp.path());
    pvec_collection *c = create(plain, "c", 4, PVEC_METRIC_L2);
    const float v[4] = {1, 2, 3, 4};
    PV_OK(pvec_add(c, 1, v, 4, "{\"a\":1}", nullptr));
    pvec_collection_close(c);
    PV_OK(pvec_db_close(plain));
    EXPECT_EQ(pvec_db_open(tmp.c_str(), &o, &db, nullptr), PVEC_UNSUPPORTED);
    EXPECT_EQ(db, nullptr);
    o.flags = PVEC_OPEN_READONLY;
    EXPECT_EQ(pvec_db_open(tmp.c_str(), &o, &db, nullptr), PVEC_UNSUPPORTED);
    plain = open_db(tmp.path());
    c = open_coll(plain, "c");
    EXPECT_EQ(count(c), 1u);
    pvec_collection_close(c);
    PV_OK(pvec_db_close(plain));
#endif
}
