// What another connection's commit costs this one: only the chunks whose version moved are
// reloaded; the others are the very same resident chunks (shared by the old and new snapshot).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <random>

#include "store/collection.h"
#include "store/database.h"

namespace pocketvec::store {
namespace {

std::string temp_path() {
    return ::testing::TempDir() + "pvec_sync_" + std::to_string(getpid()) + ".db";
}

std::vector<float> vectors(std::size_t n, uint32_t dim, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d;
    std::vector<float> v(n * dim);
    for (float &x : v) {
        x = d(rng);
    }
    return v;
}

TEST(Sync, AForeignUpsertReloadsOnlyTheChunkItChanged) {
    const std::string path = temp_path();
    std::remove(path.c_str());
    std::unique_ptr<Database> a, b;
    ASSERT_TRUE(Database::open(path, OpenOptions{}, &a).is_ok());
    ASSERT_TRUE(Database::open(path, OpenOptions{}, &b).is_ok());
    CollectionSpec spec;
    spec.dim = 8;
    std::shared_ptr<Collection> ca, cb;
    ASSERT_TRUE(a->create_collection("c", spec, &ca).is_ok());
    const std::size_t n = 256 * 6;
    auto v = vectors(n, 8, 1);
    std::vector<int64_t> ids(n);
    for (std::size_t i = 0; i < n; ++i) {
        ids[i] = static_cast<int64_t>(i);
    }
    ASSERT_TRUE(ca->write(ItemBatch{n, ids.data(), v.data(), nullptr}, false).is_ok());
    ASSERT_TRUE(b->open_collection("c", &cb).is_ok());

    const SnapshotPtr before = ca->snapshot();
    ASSERT_EQ(before->chunks.size(), 6u);
    // B changes one item of chunk 3 (ids are placed in order).
    auto w = vectors(1, 8, 2);
    const int64_t id = 256 * 3 + 17;
    ASSERT_TRUE(cb->write(ItemBatch{1, &id, w.data(), nullptr}, true).is_ok());
    ASSERT_TRUE(a->sync().is_ok());
    const SnapshotPtr after = ca->snapshot();
    ASSERT_NE(after, before);
    ASSERT_EQ(after->chunks.size(), 6u);
    for (std::size_t i = 0; i < 6; ++i) {
        if (i == 3) {
            EXPECT_NE(after->chunks[i], before->chunks[i]) << "chunk 3 must be reloaded";
        } else {
            EXPECT_EQ(after->chunks[i], before->chunks[i]) << "chunk " << i << " was reloaded";
        }
    }
    EXPECT_EQ(after->count, n);
    EXPECT_EQ(after->meta.version, cb->snapshot()->meta.version);
    // A commit in another collection reloads nothing of this one.
    std::shared_ptr<Collection> other;
    ASSERT_TRUE(b->create_collection("other", spec, &other).is_ok());
    ASSERT_TRUE(other->write(ItemBatch{1, &id, w.data(), nullptr}, false).is_ok());
    ASSERT_TRUE(a->sync().is_ok());
    EXPECT_EQ(ca->snapshot(), after);
    // This connection's own write copies the one chunk it touches.
    const int64_t id2 = 5;
    ASSERT_TRUE(ca->write(ItemBatch{1, &id2, w.data(), nullptr}, true).is_ok());
    const SnapshotPtr own = ca->snapshot();
    for (std::size_t i = 0; i < 6; ++i) {
        EXPECT_EQ(own->chunks[i] == after->chunks[i], i != 0) << "chunk " << i;
    }
    // The old snapshot is untouched by the write: still the old vector in chunk 0.
    uint8_t old_code[32], new_code[32];
    after->chunks[0]->read_code(5, old_code);
    own->chunks[0]->read_code(5, new_code);
    EXPECT_EQ(std::memcmp(old_code, v.data() + 5 * 8, 32), 0);
    EXPECT_EQ(std::memcmp(new_code, w.data(), 32), 0);
    ca.reset();
    cb.reset();
    other.reset();
    a.reset();
    b.reset();
    std::remove(path.c_str());
}

}  // namespace
}  // namespace pocketvec::store
