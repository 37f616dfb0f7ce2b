// Top-k selection and the exact block scan against a naive reference.
#include <algorithm>
#include <array>
#include <cstdlib>
#include <memory>
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/kernels.h"
#include "search/scan.h"
#include "search/topk.h"


namespace pocketvec::search {
namespace {

TEST(TopK, KeepsTheBestBreakingTiesBySmallerId) {
    TopK top(3);
    const Hit in[] = {{2.0f, 9}, {1.0f, 5}, {1.0f, 4}, {3.0f, 1}, {1.0f, 7}, {0.5f, 100}};
    for (const Hit &h : in) {
        if (h.score <= top.threshold()) {
            top.offer(h.score, h.id);
        }
    }
    auto out = top.take_sorted();
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0].id, 100);
    EXPECT_EQ(out[1].id, 4);
    EXPECT_EQ(out[2].id, 5);
}

TEST(TopK, FewerCandidatesThanK) {
    TopK top(10);
    top.offer(1.0f, 2);
    top.offer(0.0f, 3);
    auto out = top.take_sorted();
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].id, 3);
    EXPECT_EQ(top.threshold(), __builtin_huge_valf());
}

// Many offers with repeated scores, every k from 0 to past the count: the kept hits are the
// sorted reference's first k, and the threshold never falls below the k-th best offered so far
// (a caller drops what fails it) and is finite once 2k + 16 hits were offered.
TEST(TopK, EqualsASortedReferenceForEveryK) {
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> score(0, 40);  // few distinct scores: many ties
    std::vector<Hit> all;
    for (int64_t id = 0; id < 300; ++id) {
        all.push_back({static_cast<float>(score(rng)) / 4, (id * 7919) % 1000});
    }
    std::vector<Hit> sorted = all;
    std::sort(sorted.begin(), sorted.end(), better);
    for (std::size_t k : {0u, 1u, 2u, 3u, 10u, 64u, 100u, 299u, 300u, 301u}) {
        TopK top(k);
        for (std::size_t i = 0; i < all.size(); ++i) {
            top.offer(all[i].score, all[i].id, i);
            if (k > 0 && k <= i + 1) {
                std::vector<Hit> seen(all.begin(), all.begin() + static_cast<long>(i) + 1);
                std::nth_element(seen.begin(), seen.begin() + static_cast<long>(k) - 1,
                                 seen.end(), better);
                ASSERT_GE(top.threshold(), seen[k - 1].score) << "k = " << k << ", i = " << i;
            }
            if (k > 0 && i + 1 >= 2 * k + 16) {
                ASSERT_LT(top.threshold(), __builtin_huge_valf()) << "k = " << k;
            }
        }
        const std::vector<Hit> out = top.take_sorted();
        ASSERT_EQ(out.size(), std::min(k, all.size())) << "k = " << k;
        for (std::size_t i = 0; i < out.size(); ++i) {
            EXPECT_EQ(out[i].id, sorted[i].id) << "k = " << k << ", rank " << i;
            EXPECT_EQ(out[i].score, sorted[i].score);
            EXPECT_EQ(all[out[i].pos].id, out[i].id);  // the position travels with its hit
        }
    }
}

// Blocks in the kernels' layout built from row-major vectors, with some slots free.
struct Fixture {
    std::size_t dim;
    struct Free {
        void operator()(float *p) const { std::free(p); }
    };
    std::vector<std::unique_ptr<float, Free>> codes;  // per block, kBlockVectors * dim, aligned
    std::vector<std::array<int64_t, kernels::kBlockVectors>> ids;
    std::vector<std::array<uint64_t, kernels::kBlockVectors / 64>> live;
    std::vector<std::array<float, kernels::kBlockVectors>> inv;
    std::vector<std::pair<int64_t, std::vector<float>>> items;

    Fixture(std::size_t d, std::size_t blocks, uint32_t seed) : dim(d) {
        std::mt19937 rng(seed);
        std::normal_distribution<float> g;
        for (std::size_t b = 0; b < blocks; ++b) {
            const std::size_t n = kernels::kBlockVectors * d;
            codes.emplace_back(static_cast<float *>(std::aligned_alloc(64, (n * 4 + 63) / 64 * 64)));
            std::fill(codes.back().get(), codes.back().get() + n, 0.0f);
            ids.emplace_back();
            live.emplace_back();
            inv.emplace_back();
            live.back().fill(0);
            for (std::size_t s = 0; s < kernels::kBlockVectors; ++s) {
                if (rng() % 5 == 0) {
                    continue;  // a free slot
                }
                std::vector<float> v(d);
                double n2 = 0;
                for (std::size_t i = 0; i < d; ++i) {
                    v[i] = g(rng);
                    codes.back().get()[i * kernels::kBlockVectors + s] = v[i];
                    n2 += double(v[i]) * v[i];
                }
                const int64_t id = int64_t(b * 1000 + s);
                ids.back()[s] = id;
                live.back()[s / 64] |= uint64_t{1} << (s % 64);
                inv.back()[s] = float(1 / std::sqrt(n2));
                items.emplace_back(id, v);
            }
        }
    }
    std::vector<BlockView> views() const {
        std::vector<BlockView> v;
        for (std::size_t b = 0; b < codes.size(); ++b) {
            v.push_back({codes[b].get(), ids[b].data(), live[b].data(), inv[b].data()});
        }
        return v;
    }
};

TEST(Scan, MatchesNaiveScoresForEveryMetric) {
    Fixture f(37, 3, 7);
    std::mt19937 rng(8);
    std::normal_distribution<float> g;
    std::vector<float> q(f.dim);
    for (float &x : q) {
        x = g(rng);
    }
    for (Metric m : {Metric::cosine, Metric::dot, Metric::l2}) {
        auto hits = scan_exact(Query{m, q.data(), f.dim, 25}, f.views());
        ASSERT_EQ(hits.size(), 25u);
        std::vector<std::pair<double, int64_t>> ref;
        double qn = 0;
        for (float x : q) {
            qn += double(x) * x;
        }
        for (const auto &it : f.items) {
            double dot = 0, l2 = 0, xn = 0;
            for (std::size_t i = 0; i < f.dim; ++i) {
                dot += double(q[i]) * it.second[i];
                l2 += (double(q[i]) - it.second[i]) * (double(q[i]) - it.second[i]);
                xn += double(it.second[i]) * it.second[i];
            }
            ref.emplace_back(m == Metric::cosine ? 1 - dot / std::sqrt(qn * xn)
                             : m == Metric::dot  ? -dot
                                                 : std::sqrt(l2),
                             it.first);
        }
        std::sort(ref.begin(), ref.end());
        for (std::size_t i = 0; i < hits.size(); ++i) {
            EXPECT_EQ(hits[i].id, ref[i].second) << metric_name(m) << " rank " << i;
            EXPECT_NEAR(hits[i].score, ref[i].first, 1e-4 * (1 + std::fabs(ref[i].first)));
        }
    }
}

TEST(Scan, ThreadsGiveTheSameResultsAsOneThread) {
    Fixture f(6, 200, 11);  // 200 blocks: enough for three threads of 64 blocks
    std::mt19937 rng(12);
    std::normal_distribution<float> g;
    for (int rep = 0; rep < 5; ++rep) {
        std::vector<float> q(f.dim);
        for (float &x : q) {
            x = g(rng);
        }
        for (Metric m : {Metric::cosine, Metric::dot, Metric::l2}) {
            auto one = scan_exact(Query{m, q.data(), f.dim, 50, 1}, f.views());
            for (std::size_t t : {2, 3, 8}) {
                auto many = scan_exact(Query{m, q.data(), f.dim, 50, t}, f.views());
                ASSERT_EQ(many.size(), one.size());
                for (std::size_t i = 0; i < one.size(); ++i) {
                    EXPECT_EQ(many[i].id, one[i].id);
                    EXPECT_EQ(many[i].score, one[i].score);
                }
            }
        }
    }
}

TEST(Scan, ZeroQueryUnderCosineScoresOneEverywhere) {
    Fixture f(5, 1, 9);
    std::vector<float> q(f.dim, 0.0f);
    auto hits = scan_exact(Query{Metric::cosine, q.data(), f.dim, 4}, f.views());
    ASSERT_EQ(hits.size(), 4u);
    for (const Hit &h : hits) {
        EXPECT_EQ(h.score, 1.0f);
    }
    // All tied: the smallest ids come first.
    EXPECT_LT(hits[0].id, hits[1].id);
    EXPECT_LT(hits[2].id, hits[3].id);
}

}  // namespace
}  // namespace pocketvec::search

