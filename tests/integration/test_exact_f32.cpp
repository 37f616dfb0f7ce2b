// Exact means exact: f32 search equals a float64 brute-force oracle even when float scores tie
// in bulk. 1,000 near-duplicates of 1,024 dimensions (all ones, component i % 1024 raised by
// i * 2^-20), dot metric, query all ones: the exact dots differ by 2^-20 but their float sums
// (about 1024, spacing 2^-13) collapse to a few values. Run at every kernel level by ctest
// (PVEC_SIMD=scalar|sse2|avx2|avx512 in the environment).
#include "test_helpers.h"
#include <cstdlib>
#include <string>

using namespace pvtest;

namespace {

void check(uint32_t metric, const std::vector<float> &q) {
    constexpr uint32_t kDim = 1024;
    constexpr int kN = 1000;
    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    pvec_collection *c = create(db, "c", kDim, metric);
    std::vector<float> v(std::size_t{kN} * kDim, 1.0f);
    std::vector<Item> items;
    std::vector<int64_t> ids(kN);
    for (int i = 0; i < kN; ++i) {
        v[static_cast<std::size_t>(i) * kDim + i % kDim] += static_cast<float>(i) * 0x1p-20f;
        ids[i] = i;
        items.push_back(Item{i, std::vector<float>(v.begin() + static_cast<std::size_t>(i) * kDim,
                                                   v.begin() + static_cast<std::size_t>(i + 1) * kDim)});
    }
    PV_OK(pvec_add_batch(c, kN, ids.data(), v.data(), kDim, nullptr, nullptr));
    for (std::size_t k : {1u, 10u, 50u}) {
        EXPECT_EQ(search_ids(c, q.data(), kDim, k), oracle(items, q.data(), kDim, metric, k))
            << "metric " << metric << " k " << k << " kernel " << pvec_kernel_name();
    }
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}

}  // namespace

TEST(ExactF32, NearDuplicatesMatchAFloat64OracleForEveryMetric) {
    {
        // Run by ctest once per PVEC_SIMD level: one this CPU cannot run refuses every open.
        TempDb probe;
        pvec_db *db = nullptr;
        char *err = nullptr;
        const int rc = pvec_db_open(probe.path().c_str(), nullptr, &db, &err);
        const std::string msg = err ? err : "";
        pvec_free(err);
        pvec_db_close(db);
        if (rc == PVEC_UNSUPPORTED) {
            GTEST_SKIP() << msg;
        }
        ASSERT_EQ(rc, PVEC_OK) << msg;
    }
    const std::vector<float> ones(1024, 1.0f);
    check(PVEC_METRIC_DOT, ones);
    check(PVEC_METRIC_COSINE, ones);
    std::vector<float> near(1024, 1.0f);
    near[999] += 2000 * 0x1p-20f;  // nearest to the last items under L2
    check(PVEC_METRIC_L2, near);
}

// ctest runs this with PVEC_SIMD=no-such-level (tests/integration/CMakeLists.txt): every open and
// attach refuses with PVEC_UNSUPPORTED and says why, instead of running another level.
TEST(KernelLevel, AForcedLevelThatCannotRunRefusesOpen) {
    const char *forced = std::getenv("PVEC_SIMD");
    if (forced == nullptr || std::string(forced) != "no-such-level") {
        GTEST_SKIP() << "runs under PVEC_SIMD=no-such-level only";
    }
    TempDb tmp;
    pvec_db *db = nullptr;
    char *err = nullptr;
    EXPECT_EQ(pvec_db_open(tmp.path().c_str(), nullptr, &db, &err), PVEC_UNSUPPORTED);
    EXPECT_EQ(db, nullptr);
    ASSERT_NE(err, nullptr);
    EXPECT_NE(std::string(err).find("PVEC_SIMD=no-such-level"), std::string::npos) << err;
    EXPECT_NE(std::string(err).find("scalar"), std::string::npos) << err;  // what can run
    pvec_free(err);
    EXPECT_STRNE(pvec_kernel_name(), "");
}
