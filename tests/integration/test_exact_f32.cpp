// Exact means exact: f32 search equals a float64 brute-force oracle even when float scores tie
// in bulk. 1,000 near-duplicates of 1,024 dimensions (all ones, component i % 1024 raised by
// i * 2^-20), dot metric, query all ones: the exact dots differ by 2^-20 but their float sums
// (about 1024, spacing 2^-13) collapse to a few values. Run at every kernel level by ctest
// (PVEC_SIMD=scalar|sse2|avx2|avx512 in the environment).
#include "test_helpers.h"

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
        v[std::size_t{i} * kDim + i % kDim] += static_cast<float>(i) * 0x1p-20f;
        ids[i] = i;
        items.push_back(Item{i, std::vector<float>(v.begin() + std::size_t{i} * kDim,
                                                   v.begin() + std::size_t{i + 1} * kDim)});
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
    const std::vector<float> ones(1024, 1.0f);
    check(PVEC_METRIC_DOT, ones);
    check(PVEC_METRIC_COSINE, ones);
    std::vector<float> near(1024, 1.0f);
    near[999] += 2000 * 0x1p-20f;  // nearest to the last items under L2
    check(PVEC_METRIC_L2, near);
}
