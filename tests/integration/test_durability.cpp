// A process killed between commits reopens with every committed item and nothing uncommitted.
#include <signal.h>
#include <sys/wait.h>

#include "test_helpers.h"

using namespace pvtest;

namespace {

constexpr std::size_t kDim = 16;

// In a child: adds batches of 100 items in autocommit mode, reporting each committed batch's
// count through `fd`, then opens a transaction with more writes and kills itself before commit.
[[noreturn]] void writer_child(const std::string &path, int fd, int batches) {
    pvec_db *db = nullptr;
    if (pvec_db_open(path.c_str(), nullptr, &db, nullptr) != PVEC_OK) {
        _exit(3);
    }
    pvec_collection *c = nullptr;
    if (pvec_collection_open(db, "k", &c, nullptr) != PVEC_OK) {
        _exit(4);
    }
    auto data = integer_vectors(100 * (batches + 1), kDim, 21);
    for (int b = 0; b <= batches; ++b) {
        std::vector<int64_t> ids(100);
        for (int i = 0; i < 100; ++i) {
            ids[i] = b * 100 + i;
        }
        if (b == batches) {
            // Uncommitted work: a transaction with adds and deletes, then death.
            if (pvec_db_begin(db, nullptr) != PVEC_OK) {
                _exit(5);
            }
            for (int64_t id = 0; id < 50; ++id) {
                pvec_delete(c, id, nullptr);
            }
        }
        if (pvec_add_batch(c, 100, ids.data(), &data[b * 100 * kDim], kDim, nullptr, nullptr) !=
            PVEC_OK) {
            _exit(6);
        }
        if (b < batches) {
            const int done = b + 1;
            if (write(fd, &done, sizeof done) != sizeof done) {
                _exit(7);
            }
        }
    }
    raise(SIGKILL);
    _exit(8);
}

TEST(Durability, KilledWriterKeepsExactlyTheCommittedItems) {
    TempDb tmp;
    {
        pvec_db *db = open_db(tmp.path());
        pvec_collection *c = create(db, "k", kDim, PVEC_METRIC_L2);
        pvec_collection_close(c);
        PV_OK(pvec_db_close(db));
    }
    const int batches = 7;
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        writer_child(tmp.path(), fds[1], batches);
    }
    close(fds[1]);
    int committed = 0, v;
    while (read(fds[0], &v, sizeof v) == sizeof v) {
        committed = v;
    }
    close(fds[0]);
    int wstatus = 0;
    ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL) << "child status " << wstatus;
    ASSERT_EQ(committed, batches);

    pvec_db *db = open_db(tmp.path());
    pvec_collection *c = open_coll(db, "k");
    EXPECT_EQ(count(c), uint64_t(committed) * 100);
    auto data = integer_vectors(100 * (batches + 1), kDim, 21);
    std::vector<Item> items;
    for (int i = 0; i < committed * 100; ++i) {
        items.push_back({i, std::vector<float>(&data[i * kDim], &data[(i + 1) * kDim])});
    }
    std::vector<float> got(kDim);
    PV_OK(pvec_get(c, 0, got.data(), kDim, nullptr, nullptr));  // the uncommitted delete is gone
    EXPECT_EQ(pvec_get(c, committed * 100, nullptr, 0, nullptr, nullptr), PVEC_NOTFOUND);
    for (int q = 0; q < 5; ++q) {
        const float *qv = &data[(committed * 100 + q) * kDim];
        EXPECT_EQ(search_ids(c, qv, kDim, 10), oracle(items, qv, kDim, PVEC_METRIC_L2, 10));
    }
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}

}  // namespace
