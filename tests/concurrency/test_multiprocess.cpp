// The interleavings of test_multiconn.cpp with the second handle in another process: a child
// process runs pocketvec commands read from a pipe on its own pvec_db, and answers with status
// codes and search results. After every step the parent's handle and the child's both answer
// like the brute-force oracle over the committed items.
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <sstream>

#include "../integration/test_helpers.h"

using namespace pvtest;

namespace {

constexpr uint32_t kDim = 16;

std::vector<float> rows(std::size_t n, uint32_t seed) { return integer_vectors(n, kDim, seed); }

// The queries every check uses, and the exact top 10 of a handle for them (rescored from the raw
// tier with an oversampling as large as the collection when trained).
std::string exact_results(pvec_collection *c, uint32_t seed) {
    pvec_collection_info info = {};
    info.struct_size = sizeof info;
    if (pvec_collection_info_get(c, &info, nullptr) != PVEC_OK) {
        return "error";
    }
    pvec_search_options o = PVEC_SEARCH_OPTIONS_INIT;
    if (info.trained && info.raw_tier) {
        o.oversample = static_cast<uint32_t>(info.count + 1);
        o.rescore = PVEC_RESCORE_RAW;
    }
    const auto q = rows(6, seed);
    std::ostringstream out;
    out << info.count;
    for (int i = 0; i < 6; ++i) {
        int64_t ids[10];
        std::size_t n = 0;
        if (pvec_search(c, &q[i * kDim], kDim, 10, &o, ids, nullptr, &n, nullptr) != PVEC_OK) {
            return "error";
        }
        out << " |";
        for (std::size_t j = 0; j < n; ++j) {
            out << " " << ids[j];
        }
    }
    return out.str();
}

std::string oracle_results(const std::map<int64_t, std::vector<float>> &items, uint32_t seed) {
    std::vector<Item> list;
    for (const auto &[id, v] : items) {
        list.push_back(Item{id, v});
    }
    const auto q = rows(6, seed);
    std::ostringstream out;
    out << list.size();
    for (int i = 0; i < 6; ++i) {
        out << " |";
        for (int64_t id : oracle(list, &q[i * kDim], kDim, PVEC_METRIC_L2, 10)) {
            out << " " << id;
        }
    }
    return out.str();
}

pvec_collection *create_in(pvec_db *db, const std::string &codec) {
    pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
    o.dim = kDim;
    o.metric = PVEC_METRIC_L2;
    o.codec = codec.c_str();
    o.raw_tier = codec == "f32" ? 0 : PVEC_RAW_ZSTD_F32;
    o.train_threshold = PVEC_TRAIN_NEVER;
    pvec_collection *c = nullptr;
    return pvec_collection_create(db, "c", &o, &c, nullptr) == PVEC_OK ? c : nullptr;
}

int add_rows(pvec_collection *c, int64_t first, std::size_t n, uint32_t seed, bool upsert) {
    const auto v = rows(n, seed);
    std::vector<int64_t> ids(n);
    for (std::size_t i = 0; i < n; ++i) {
        ids[i] = first + static_cast<int64_t>(i);
    }
    return upsert ? pvec_upsert_batch(c, n, ids.data(), v.data(), kDim, nullptr, nullptr)
                  : pvec_add_batch(c, n, ids.data(), v.data(), kDim, nullptr, nullptr);
}

// One command per line: "open", "create CODEC", "add FIRST N SEED", "upsert FIRST N SEED",
// "delete ID", "train", "drop", "begin", "commit", "rollback", "results SEED", "quit".
// Answers one line: the status code, or the results.
[[noreturn]] void serve(const std::string &path, int in, int out) {
    FILE *rd = fdopen(in, "r");
    FILE *wr = fdopen(out, "w");
    pvec_db *db = nullptr;
    pvec_collection *c = nullptr;
    char line[256];
    while (std::fgets(line, sizeof line, rd)) {
        std::istringstream cmd(line);
        std::string op;
        cmd >> op;
        std::string answer;
        int rc = PVEC_OK;
        if (op == "open") {
            rc = pvec_db_open(path.c_str(), nullptr, &db, nullptr);
            if (rc == PVEC_OK) {
                rc = pvec_collection_open(db, "c", &c, nullptr);
            }
        } else if (op == "create") {
            std::string codec;
            cmd >> codec;
            pvec_collection_close(c);
            c = create_in(db, codec);
            rc = c ? PVEC_OK : PVEC_ERROR;
        } else if (op == "add" || op == "upsert") {
            int64_t first;
            std::size_t n;
            uint32_t seed;
            cmd >> first >> n >> seed;
            rc = add_rows(c, first, n, seed, op == "upsert");
        } else if (op == "delete") {
            int64_t id;
            cmd >> id;
            rc = pvec_delete(c, id, nullptr);
        } else if (op == "train") {
            rc = pvec_collection_train(c, nullptr, nullptr);
        } else if (op == "drop") {
            rc = pvec_collection_drop(db, "c", nullptr);
        } else if (op == "begin") {
            rc = pvec_db_begin(db, nullptr);
        } else if (op == "commit") {
            rc = pvec_db_commit(db, nullptr);
        } else if (op == "rollback") {
            rc = pvec_db_rollback(db, nullptr);
        } else if (op == "results") {
            uint32_t seed;
            cmd >> seed;
            answer = exact_results(c, seed);
        } else if (op == "quit") {
            break;
        }
        if (answer.empty()) {
            answer = std::to_string(rc);
        }
        std::fprintf(wr, "%s\n", answer.c_str());
        std::fflush(wr);
    }
    pvec_collection_close(c);
    pvec_db_close(db);
    _exit(0);
}

class Remote {
public:
    // Forked before the parent opens the file: a child must not inherit SQLite's per-process
    // lock bookkeeping of an open connection.
    explicit Remote(const std::string &path) {
        int to_child[2], from_child[2];
        EXPECT_EQ(pipe(to_child), 0);
        EXPECT_EQ(pipe(from_child), 0);
        std::fflush(nullptr);
        pid_ = fork();
        if (pid_ == 0) {
            close(to_child[1]);
            close(from_child[0]);
            serve(path, to_child[0], from_child[1]);
        }
        close(to_child[0]);
        close(from_child[1]);
        wr_ = fdopen(to_child[1], "w");
        rd_ = fdopen(from_child[0], "r");
    }
    ~Remote() {
        call("quit");
        int status = 0;
        waitpid(pid_, &status, 0);
        std::fclose(wr_);
        std::fclose(rd_);
    }
    std::string call(const std::string &command) {
        std::fprintf(wr_, "%s\n", command.c_str());
        std::fflush(wr_);
        char line[8192];
        if (!std::fgets(line, sizeof line, rd_)) {
            return "";
        }
        std::string s(line);
        if (!s.empty() && s.back() == '\n') {
            s.pop_back();
        }
        return s;
    }
    int rc(const std::string &command) { return std::atoi(call(command).c_str()); }

private:
    pid_t pid_;
    FILE *wr_ = nullptr;
    FILE *rd_ = nullptr;
};

using Items = std::map<int64_t, std::vector<float>>;

void remember(Items *m, int64_t first, std::size_t n, uint32_t seed) {
    const auto v = rows(n, seed);
    for (std::size_t i = 0; i < n; ++i) {
        (*m)[first + static_cast<int64_t>(i)] =
            std::vector<float>(v.begin() + i * kDim, v.begin() + (i + 1) * kDim);
    }
}

}  // namespace

class ProcessInterleavings : public ::testing::TestWithParam<const char *> {};

TEST_P(ProcessInterleavings, BothProcessesEqualTheOracleAfterEveryStep) {
    TempDb tmp;
    const std::string codec = GetParam();
    const bool trained = codec != "f32";
    Remote b(tmp.path());
    pvec_db *a = open_db(tmp.path());
    pvec_collection *ca = create_in(a, codec);
    ASSERT_NE(ca, nullptr);
    Items m;
    uint32_t seed = 100;
    auto check = [&](const Items &want, const char *step) {
        SCOPED_TRACE(step);
        ++seed;
        const std::string expected = oracle_results(want, seed);
        EXPECT_EQ(exact_results(ca, seed), expected) << "this process";
        EXPECT_EQ(b.call("results " + std::to_string(seed)), expected) << "the other process";
    };
    ASSERT_EQ(add_rows(ca, 0, 400, 1, false), PVEC_OK);
    remember(&m, 0, 400, 1);
    ASSERT_EQ(b.rc("open"), PVEC_OK);
    check(m, "A added");
    if (trained) {
        ASSERT_EQ(b.rc("train"), PVEC_OK);
        check(m, "B trained");
    }
    ASSERT_EQ(b.rc("add 1000 50 2"), PVEC_OK);
    remember(&m, 1000, 50, 2);
    check(m, "B added");
    for (int64_t id = 0; id < 400; id += 7) {
        ASSERT_EQ(pvec_delete(ca, id, nullptr), PVEC_OK);
        m.erase(id);
    }
    check(m, "A deleted");
    ASSERT_EQ(b.rc("upsert 0 3 3"), PVEC_OK);  // 0 was deleted, 1 and 2 exist
    remember(&m, 0, 3, 3);
    check(m, "B upserted into A's freed slots");
    // B's explicit transaction: A sees nothing of it until the commit.
    ASSERT_EQ(b.rc("begin"), PVEC_OK);
    ASSERT_EQ(b.rc("add 3000 30 4"), PVEC_OK);
    ASSERT_EQ(b.rc("delete 1"), PVEC_OK);
    {
        SCOPED_TRACE("B's transaction is open");
        ++seed;
        EXPECT_EQ(exact_results(ca, seed), oracle_results(m, seed));
        Items pending = m;
        remember(&pending, 3000, 30, 4);
        pending.erase(1);
        EXPECT_EQ(b.call("results " + std::to_string(seed)), oracle_results(pending, seed));
    }
    ASSERT_EQ(b.rc("rollback"), PVEC_OK);
    check(m, "B rolled back");
    ASSERT_EQ(b.rc("begin"), PVEC_OK);
    ASSERT_EQ(b.rc("add 4000 30 5"), PVEC_OK);
    remember(&m, 4000, 30, 5);
    if (trained) {
        ASSERT_EQ(b.rc("train"), PVEC_OK);
    }
    ASSERT_EQ(b.rc("commit"), PVEC_OK);
    check(m, "B committed");
    // A's transaction, then B drops and re-creates the collection.
    PV_OK(pvec_db_begin(a, nullptr));
    ASSERT_EQ(add_rows(ca, 5000, 20, 6, false), PVEC_OK);
    remember(&m, 5000, 20, 6);
    PV_OK(pvec_db_commit(a, nullptr));
    check(m, "A committed");
    ASSERT_EQ(b.rc("drop"), PVEC_OK);
    ASSERT_EQ(b.rc("create " + codec), PVEC_OK);
    ASSERT_EQ(b.rc("add 0 60 7"), PVEC_OK);
    uint64_t n = 0;
    EXPECT_EQ(pvec_count(ca, &n, nullptr), PVEC_NOTFOUND);
    int64_t ids[4];
    std::size_t found = 0;
    const auto q = rows(1, 8);
    EXPECT_EQ(pvec_search(ca, q.data(), kDim, 4, nullptr, ids, nullptr, &found, nullptr),
              PVEC_NOTFOUND);
    pvec_collection_close(ca);
    ca = open_coll(a, "c");
    Items fresh;
    remember(&fresh, 0, 60, 7);
    check(fresh, "re-created by B");
    pvec_collection_close(ca);
    PV_OK(pvec_db_close(a));
}

INSTANTIATE_TEST_SUITE_P(Codecs, ProcessInterleavings, ::testing::Values("f32", "int8"));
