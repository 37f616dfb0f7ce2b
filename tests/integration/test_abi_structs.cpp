// The option-struct promise of pocketvec.h: any struct_size from a struct's first version up to
// this library's is accepted, a newer caller's larger struct too when its unknown tail is zero,
// and output structs are written up to the caller's struct_size and no further.
#include <cstddef>
#include <cstring>

#include "test_helpers.h"

using namespace pvtest;

namespace {

// A caller compiled against a newer header: the struct has grown by `Extra` bytes.
template <class T, std::size_t Extra = 16>
struct Newer {
    T base;
    unsigned char tail[Extra];
    Newer() {
        std::memset(this, 0, sizeof *this);
        base.struct_size = static_cast<uint32_t>(sizeof *this);
    }
};

}  // namespace

TEST(AbiStructs, NewerOptionStructsWithAZeroTailAreAccepted) {
    TempDb tmp;
    Newer<pvec_open_options> open;
    pvec_db *db = nullptr;
    PV_OK(pvec_db_open(tmp.c_str(), &open.base, &db, nullptr));
    Newer<pvec_collection_options> co;
    co.base.dim = 4;
    co.base.metric = PVEC_METRIC_L2;
    pvec_collection *c = nullptr;
    PV_OK(pvec_collection_create(db, "c", &co.base, &c, nullptr));
    const float v[4] = {1, 2, 3, 4};
    PV_OK(pvec_add(c, 1, v, 4, nullptr, nullptr));
    Newer<pvec_search_options> so;
    int64_t ids[1];
    std::size_t n = 0;
    PV_OK(pvec_search(c, v, 4, 1, &so.base, ids, nullptr, &n, nullptr));
    EXPECT_EQ(n, 1u);
    Newer<pvec_train_options> to;
    PV_OK(pvec_collection_train(c, &to.base, nullptr));  // f32: nothing to fit, still accepted
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}

TEST(AbiStructs, UnknownNonZeroFieldsAndTooSmallStructsAreMisuse) {
    TempDb tmp;
    Newer<pvec_open_options> open;
    open.tail[5] = 1;  // a field this library does not know, set by the caller
    pvec_db *db = nullptr;
    char *err = nullptr;
    EXPECT_EQ(pvec_db_open(tmp.c_str(), &open.base, &db, &err), PVEC_MISUSE);
    ASSERT_NE(err, nullptr);
    EXPECT_NE(std::string(err).find("does not know"), std::string::npos) << err;
    pvec_free(err);
    EXPECT_EQ(db, nullptr);
    pvec_open_options unknown = PVEC_OPEN_OPTIONS_INIT;
    unknown.flags = 0x100;
    EXPECT_EQ(pvec_db_open(tmp.c_str(), &unknown, &db, nullptr), PVEC_MISUSE);
    pvec_open_options small = PVEC_OPEN_OPTIONS_INIT;
    small.struct_size = 4;
    EXPECT_EQ(pvec_db_open(tmp.c_str(), &small, &db, nullptr), PVEC_MISUSE);

    db = open_db(tmp.path());
    pvec_collection *c = create(db, "c", 4, PVEC_METRIC_L2);
    const float v[4] = {1, 2, 3, 4};
    PV_OK(pvec_add(c, 1, v, 4, nullptr, nullptr));
    Newer<pvec_search_options> so;
    so.tail[0] = 7;
    int64_t ids[1];
    std::size_t n = 0;
    EXPECT_EQ(pvec_search(c, v, 4, 1, &so.base, ids, nullptr, &n, nullptr), PVEC_MISUSE);
    pvec_search_options tiny = PVEC_SEARCH_OPTIONS_INIT;
    tiny.struct_size = sizeof(uint32_t);
    EXPECT_EQ(pvec_search(c, v, 4, 1, &tiny, ids, nullptr, &n, nullptr), PVEC_MISUSE);
    Newer<pvec_collection_options> co;
    co.base.dim = 4;
    co.tail[15] = 1;
    pvec_collection *other = nullptr;
    EXPECT_EQ(pvec_collection_create(db, "other", &co.base, &other, nullptr), PVEC_MISUSE);
    EXPECT_EQ(other, nullptr);
    Newer<pvec_train_options> to;
    to.tail[3] = 9;
    EXPECT_EQ(pvec_collection_train(c, &to.base, nullptr), PVEC_MISUSE);
    // Nothing changed.
    char **names = nullptr;
    std::size_t count_names = 0;
    PV_OK(pvec_collection_list(db, &names, &count_names, nullptr));
    EXPECT_EQ(count_names, 1u);
    pvec_free(names);
    EXPECT_EQ(count(c), 1u);
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}

TEST(AbiStructs, InfoIsWrittenUpToTheCallersStructSizeOnly) {
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    pvec_collection *c = create(db, "notes", 4, PVEC_METRIC_L2);
    const float v[4] = {1, 2, 3, 4};
    PV_OK(pvec_add(c, 1, v, 4, nullptr, nullptr));

    // A newer caller: the fields this library does not know read as zero ("not reported"), and
    // nothing past its struct_size is touched.
    struct Big {
        Newer<pvec_collection_info, 24> info;
        unsigned char guard[32];
    } big;
    std::memset(static_cast<void *>(&big), 0xAB, sizeof big);
    big.info.base.struct_size = sizeof big.info;
    PV_OK(pvec_collection_info_get(c, &big.info.base, nullptr));
    EXPECT_EQ(big.info.base.count, 1u);
    EXPECT_EQ(big.info.base.dim, 4u);
    EXPECT_STREQ(big.info.base.name, "notes");
    for (unsigned char b : big.info.tail) {
        EXPECT_EQ(b, 0);
    }
    for (unsigned char b : big.guard) {
        EXPECT_EQ(b, 0xAB);
    }
    // This version's struct exactly.
    pvec_collection_info exact;
    std::memset(&exact, 0xCD, sizeof exact);
    exact.struct_size = sizeof exact;
    PV_OK(pvec_collection_info_get(c, &exact, nullptr));
    EXPECT_EQ(exact.count, 1u);
    // Smaller than the first version: refused, nothing written.
    pvec_collection_info small;
    std::memset(&small, 0xEE, sizeof small);
    small.struct_size = 8;
    EXPECT_EQ(pvec_collection_info_get(c, &small, nullptr), PVEC_MISUSE);
    const auto *bytes = reinterpret_cast<const unsigned char *>(&small);
    for (std::size_t i = sizeof(uint32_t); i < sizeof small; ++i) {
        EXPECT_EQ(bytes[i], 0xEE);
    }
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}

// pvec_open_options grew after 0.1.0 (key_bytes, key): a caller of the first version passes
// struct_size 12, and whatever lies past those 12 bytes in its memory is never read.
TEST(AbiStructs, OpenOptionsOfTheFirstVersionStillOpen) {
    EXPECT_EQ(offsetof(pvec_open_options, key_bytes), 12u);
    EXPECT_EQ(offsetof(pvec_open_options, key), 16u);
    EXPECT_EQ(sizeof(pvec_open_options), 16u + sizeof(void *));  // no padding on 32 or 64 bits
    pvec_open_options init;
    std::memset(&init, 0xEE, sizeof init);
    pvec_open_options_init(&init);
    const pvec_open_options macro = PVEC_OPEN_OPTIONS_INIT;
    const pvec_open_options *both[] = {&init, &macro};
    for (const pvec_open_options *o : both) {
        EXPECT_EQ(o->struct_size, sizeof(pvec_open_options));
        EXPECT_EQ(o->flags, 0u);
        EXPECT_EQ(o->busy_timeout_ms, 0);
        EXPECT_EQ(o->key_bytes, 0u);
        EXPECT_EQ(o->key, nullptr);
    }

    TempDb tmp;
    struct {
        pvec_open_options o;
        unsigned char after[16];
    } old;
    std::memset(static_cast<void *>(&old), 0xA5, sizeof old);  // key_bytes and key: garbage
    old.o.struct_size = 12;
    old.o.flags = 0;
    old.o.busy_timeout_ms = 0;
    pvec_db *db = nullptr;
    char *err = nullptr;
    ASSERT_EQ(pvec_db_open(tmp.c_str(), &old.o, &db, &err), PVEC_OK) << (err ? err : "");
    pvec_collection *c = create(db, "c", 4, PVEC_METRIC_L2);
    const float v[4] = {1, 2, 3, 4};
    PV_OK(pvec_add(c, 1, v, 4, nullptr, nullptr));
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
    old.o.flags = PVEC_OPEN_READONLY;
    PV_OK(pvec_db_open(tmp.c_str(), &old.o, &db, nullptr));
    c = open_coll(db, "c");
    EXPECT_EQ(count(c), 1u);
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
    // Below the first version: refused.
    old.o.struct_size = 8;
    EXPECT_EQ(pvec_db_open(tmp.c_str(), &old.o, &db, nullptr), PVEC_MISUSE);
    EXPECT_EQ(db, nullptr);
}
