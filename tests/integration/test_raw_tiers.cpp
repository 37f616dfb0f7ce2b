// Every raw tier keeps what it promises: exact rescoring and pvec_get from float32 (zstd or
// plain) or from binary16, across a reopen, at the file size each tier should cost.
#include <cmath>

#include "../../lib/codec/minifloat.h"
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
