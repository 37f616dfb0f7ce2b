// is_valid_json, the metadata check used where SQLite has no JSON1 (SQLCipher 3.4.1): fixed
// cases, and, where the linked SQLite has a strict json_valid() (JSON1 before JSON5, 3.38-3.41),
// agreement with it on every case and on 20,000 random token strings.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <random>
#include <string>
#include <vector>

#include "store/json_check.h"

namespace pocketvec::store {
namespace {

const std::vector<std::pair<std::string, bool>> &cases() {
    static const std::vector<std::pair<std::string, bool>> c = {
        {"{}", true}, {"[]", true}, {"0", true}, {"-0", true}, {"-0.0e-0", true}, {"0E5", true},
        {"1.5e+10", true}, {"true", true}, {"false", true}, {"null", true}, {"\"\"", true},
        {" [1 , 2 ] ", true}, {"\t\r\n{\"a\":{\"b\":[{}, [], \"x\"]}}\n", true},
        {"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\"", true}, {"\"\x7f\xc3\xa9\xff\"", true},
        {"{\"a\":1,\"a\":2}", true},
        {"", false}, {"  ", false}, {"01", false}, {"1.", false}, {".5", false}, {"1e", false},
        {"1e+", false}, {"-", false}, {"+1", false}, {"0x10", false}, {"NaN", false},
        {"Infinity", false}, {"\"\\x\"", false}, {"\"\\u12g4\"", false}, {"\"a\tb\"", false},
        {"\"abc", false}, {"\"\\", false}, {"{\"a\":1,}", false}, {"[1,]", false}, {"{a:1}", false},
        {"{'a':1}", false}, {"nul", false}, {"truex", false}, {"[true false]", false},
        {"{\"a\" 1}", false}, {"{\"a\":}", false}, {"{1:2}", false}, {"1 2", false}, {"[", false},
        {"]", false}, {"{", false}, {"[}", false}, {"{]", false}, {"[1]]", false},
        {"/* c */ 1", false}, {"\v1", false}, {"\f1", false},
    };
    return c;
}

std::string nested(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(JsonCheck, FixedCases) {
    for (const auto &[text, valid] : cases()) {
        EXPECT_EQ(is_valid_json(text), valid) << "'" << text << "'";
    }
    EXPECT_TRUE(is_valid_json(nested(kMaxJsonDepth)));
    EXPECT_FALSE(is_valid_json(nested(kMaxJsonDepth + 1)));
    EXPECT_FALSE(is_valid_json(std::string(1000000, '[')));  // no recursion, no allocation
}

// SQLite's json_valid(), or -1 when this SQLite has none or accepts JSON5 (then it is no oracle).
class SqliteJson {
public:
    SqliteJson() {
        sqlite3_open(":memory:", &db_);
        if (sqlite3_prepare_v2(db_, "SELECT json_valid(?1)", -1, &st_, nullptr) != SQLITE_OK) {
            st_ = nullptr;
        } else if (valid("{a:1}") != 0) {
            sqlite3_finalize(st_);
            st_ = nullptr;
        }
    }
    ~SqliteJson() {
        sqlite3_finalize(st_);
        sqlite3_close(db_);
    }
    bool usable() const { return st_ != nullptr; }
    int valid(const std::string &s) {
        sqlite3_bind_text(st_, 1, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
        int r = sqlite3_step(st_) == SQLITE_ROW ? sqlite3_column_int(st_, 0) : -1;
        sqlite3_reset(st_);
        return r;
    }

private:
    sqlite3 *db_ = nullptr;
    sqlite3_stmt *st_ = nullptr;
};

TEST(JsonCheck, AgreesWithSqliteJsonValid) {
    SqliteJson sq;
    if (!sq.usable()) {
        GTEST_SKIP() << "SQLite " << sqlite3_libversion() << " has no strict json_valid()";
    }
    for (const auto &[text, valid] : cases()) {
        EXPECT_EQ(sq.valid(text), valid ? 1 : 0) << "'" << text << "' (the fixed case is wrong)";
    }
    if (sqlite3_libversion_number() < 3045000) {  // 3.45 lowered JSON_MAX_DEPTH to 1000
        EXPECT_EQ(sq.valid(nested(kMaxJsonDepth)), 1);
        EXPECT_EQ(sq.valid(nested(kMaxJsonDepth + 1)), 0);
    }
    const std::vector<std::string> tokens = {
        "{", "}", "[", "]", ",", ":", " ", "\n", "\"a\"", "\"", "\\", "\\u00", "0", "1", "-", ".",
        "e", "E", "+", "12", "true", "false", "null", "tru", "\t", "\x01", "\xc3\xa9", "x"};
    std::mt19937 rng(15);
    int valid_seen = 0;
    for (int i = 0; i < 20000; ++i) {
        std::string s;
        const int n = 1 + static_cast<int>(rng() % 12);
        for (int j = 0; j < n; ++j) {
            s += tokens[rng() % tokens.size()];
        }
        const bool ours = is_valid_json(s);
        valid_seen += ours;
        ASSERT_EQ(ours ? 1 : 0, sq.valid(s)) << "'" << s << "'";
    }
    EXPECT_GT(valid_seen, 100);  // the corpus reaches the accepting paths too
}

}  // namespace
}  // namespace pocketvec::store
