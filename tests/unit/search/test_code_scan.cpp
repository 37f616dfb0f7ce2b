// The code scan (scan_codes, scan_codes_batch) against a naive selection over dot_block's values:
// every codec and metric, free slots, exact ties at the k-th score, a zero query. The scan selects
// on the kernels' raw sums where the score is monotone in them (SumSelection in scan.cpp); these
// tests fail if that selection misses a slot the naive one keeps, or scores one differently.
#include <algorithm>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "codec/codec.h"
#include "kernels/block_layout.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "search/scan.h"

namespace pocketvec::search {
namespace {

using kernels::kBlockVectors;

constexpr codec::CodecId kCodecs[] = {
    codec::CodecId::f32,  codec::CodecId::f16,    codec::CodecId::bf16,
    codec::CodecId::e4m3, codec::CodecId::e5m2,   codec::CodecId::int8,
    codec::CodecId::int4, codec::CodecId::binary, codec::CodecId::rabitq};

struct Free {
    void operator()(uint8_t *p) const { std::free(p); }
};

// Blocks of codes of one model. Every fourth slot is free; one vector is repeated in every block
// (so several slots tie exactly), with ids falling from block to block, so a later block's copy
// must replace an earlier one's among the best: a selection that dropped slots scoring exactly
// the k-th would keep the wrong ids.
struct CodeBlocks {
    model::Model m;
    std::vector<std::unique_ptr<uint8_t, Free>> codes;
    std::vector<std::vector<int64_t>> ids;
    std::vector<std::vector<uint64_t>> live;
    std::vector<std::vector<float>> norm2;
    std::vector<std::vector<float>> errs;

    CodeBlocks(codec::CodecId id, Metric metric, std::size_t dim, std::size_t n_blocks,
               uint32_t seed) {
        std::mt19937 rng(seed);
        std::normal_distribution<float> g;
        std::vector<float> sample(2000 * dim);
        for (float &x : sample) {
            x = g(rng);
        }
        EXPECT_TRUE(model::fit(sample.data(), 2000, static_cast<uint32_t>(dim), metric, id, 0,
                               false, seed, &m)
                        .is_ok());
        const std::size_t cb = m.code_bytes();
        std::vector<float> repeated(dim);
        for (float &x : repeated) {
            x = g(rng);
        }
        std::vector<uint8_t> code(cb);
        std::vector<float> decoded(dim);
        for (std::size_t b = 0; b < n_blocks; ++b) {
            const std::size_t bytes = kernels::block_bytes(cb);
            codes.emplace_back(static_cast<uint8_t *>(std::aligned_alloc(64, bytes)));
            std::fill(codes.back().get(), codes.back().get() + bytes, uint8_t{0});
            ids.emplace_back(kBlockVectors, 0);
            live.emplace_back(kBlockVectors / 64, 0);
            norm2.emplace_back(kBlockVectors, 0.0f);
            errs.emplace_back(kBlockVectors, 0.0f);
            for (std::size_t s = 0; s < kBlockVectors; ++s) {
                if (s % 4 == 3) {
                    continue;
                }
                std::vector<float> v(dim);
                for (float &x : v) {
                    x = g(rng);
                }
                const bool copy = s % 32 == 0;
                model::encode(m, copy ? repeated.data() : v.data(), code.data());
                kernels::block_store(codes.back().get(), cb, s, code.data());
                model::reconstruct(m, code.data(), decoded.data());
                double n2 = 0;
                for (float x : decoded) {
                    n2 += static_cast<double>(x) * x;
                }
                norm2.back()[s] = static_cast<float>(n2);
                errs.back()[s] = static_cast<float>(s % 7) * 0.01f;
                // Later blocks get smaller ids.
                ids.back()[s] = static_cast<int64_t>((n_blocks - b) * 1000 + s);
                live.back()[s / 64] |= uint64_t{1} << (s % 64);
            }
        }
    }

    std::vector<CodeBlockView> views() const {
        std::vector<CodeBlockView> out;
        for (std::size_t b = 0; b < codes.size(); ++b) {
            out.push_back(CodeBlockView{codes[b].get(), m.code_bytes(), ids[b].data(),
                                        live[b].data(), norm2[b].data(), errs[b].data()});
        }
        return out;
    }

    // Every live slot scored with dot_block and model::score, the best `keep` by `better`.
    std::vector<Hit> naive(const model::Query &q, std::size_t keep) const {
        std::vector<Hit> all;
        alignas(64) float ip[kBlockVectors];
        for (std::size_t b = 0; b < codes.size(); ++b) {
            codec::dot_block(q.prepared, codes[b].get(), ip, kernels::active());
            for (std::size_t s = 0; s < kBlockVectors; ++s) {
                if ((live[b][s / 64] >> (s % 64) & 1) != 0) {
                    all.push_back(Hit{model::score(q, ip[s], norm2[b][s]), ids[b][s],
                                      b * kBlockVectors + s});
                }
            }
        }
        std::sort(all.begin(), all.end(), better);
        all.resize(std::min(keep, all.size()));
        return all;
    }
};

void expect_same(const std::vector<Hit> &got, const std::vector<Hit> &want, const char *what) {
    ASSERT_EQ(got.size(), want.size()) << what;
    for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].id, want[i].id) << what << ", rank " << i;
        EXPECT_EQ(got[i].score, want[i].score) << what << ", rank " << i;  // bit for bit
        EXPECT_EQ(got[i].pos, want[i].pos) << what << ", rank " << i;
    }
}

std::vector<float> random_query(std::size_t dim, std::mt19937 &rng) {
    std::normal_distribution<float> g;
    std::vector<float> q(dim);
    for (float &x : q) {
        x = g(rng);
    }
    return q;
}

TEST(CodeScan, EqualsTheNaiveSelectionForEveryCodecAndMetric) {
    std::mt19937 rng(91);
    for (codec::CodecId id : kCodecs) {
        for (Metric metric : {Metric::cosine, Metric::dot, Metric::l2}) {
            const CodeBlocks cb(id, metric, 45, 5, 17);
            const std::string what =
                std::string(codec::codec_name(id)) + " " + metric_name(metric);
            for (int round = 0; round < 4; ++round) {
                const std::vector<float> q = random_query(45, rng);
                const model::Query mq = model::prepare_query(cb.m, q.data());
                for (std::size_t keep : {std::size_t{1}, std::size_t{10}, std::size_t{37}}) {
                    expect_same(scan_codes(mq, cb.views(), keep, 1), cb.naive(mq, keep),
                                (what + " keep " + std::to_string(keep)).c_str());
                }
            }
        }
    }
}

TEST(CodeScan, TiesAtTheKthScoreKeepTheSmallestIds) {
    for (codec::CodecId id : {codec::CodecId::int8, codec::CodecId::int4, codec::CodecId::binary,
                              codec::CodecId::f16, codec::CodecId::e4m3}) {
        const CodeBlocks cb(id, Metric::cosine, 40, 6, 23);
        // A query equal to a stored copy's decoded vector: 8 copies per block score alike.
        std::vector<float> q(40);
        std::vector<uint8_t> code(cb.m.code_bytes());
        kernels::block_load(cb.codes[0].get(), cb.m.code_bytes(), 0, code.data());
        model::reconstruct(cb.m, code.data(), q.data());
        const model::Query mq = model::prepare_query(cb.m, q.data());
        for (std::size_t keep : {std::size_t{3}, std::size_t{8}, std::size_t{20}}) {
            const std::vector<Hit> want = cb.naive(mq, keep);
            expect_same(scan_codes(mq, cb.views(), keep, 1), want, codec::codec_name(id));
            // The ties are real: the best `keep` share one score (8 copies in each of 6 blocks).
            EXPECT_EQ(want.front().score, want.back().score) << codec::codec_name(id);
        }
    }
}

TEST(CodeScan, AZeroQueryTiesEverySlotAndKeepsTheSmallestIds) {
    for (codec::CodecId id : {codec::CodecId::int8, codec::CodecId::binary, codec::CodecId::f32}) {
        const CodeBlocks cb(id, Metric::dot, 33, 3, 29);
        const std::vector<float> q(33, 0.0f);
        const model::Query mq = model::prepare_query(cb.m, q.data());
        expect_same(scan_codes(mq, cb.views(), 15, 1), cb.naive(mq, 15), codec::codec_name(id));
    }
}

TEST(CodeScan, ABatchEqualsItsQueriesOneByOne) {
    std::mt19937 rng(5);
    for (codec::CodecId id : {codec::CodecId::int8, codec::CodecId::binary, codec::CodecId::bf16}) {
        const CodeBlocks cb(id, Metric::cosine, 64, 4, 31);
        std::vector<model::Query> qs;
        for (int i = 0; i < 5; ++i) {
            const std::vector<float> q = random_query(64, rng);
            qs.push_back(model::prepare_query(cb.m, q.data()));
        }
        const std::vector<std::vector<Hit>> batch = scan_codes_batch(qs, cb.views(), 12, 1);
        ASSERT_EQ(batch.size(), qs.size());
        for (std::size_t i = 0; i < qs.size(); ++i) {
            expect_same(batch[i], cb.naive(qs[i], 12), codec::codec_name(id));
        }
    }
}

// Exact mode ranks by bounds (scores minus weighted errors): it does not select on raw sums, and
// must still equal the naive ranking by the same keys.
TEST(CodeScan, RankingByBoundsEqualsTheNaiveRanking) {
    std::mt19937 rng(37);
    const CodeBlocks cb(codec::CodecId::int8, Metric::cosine, 50, 3, 41);
    const std::vector<float> q = random_query(50, rng);
    const model::Query mq = model::prepare_query(cb.m, q.data());
    const RankByBound rank{0.75f, 0.0f, false};
    const std::vector<Hit> got = scan_codes(mq, cb.views(), 9, 1, &rank);
    std::vector<Hit> all;
    alignas(64) float ip[kBlockVectors];
    for (std::size_t b = 0; b < cb.codes.size(); ++b) {
        codec::dot_block(mq.prepared, cb.codes[b].get(), ip, kernels::active());
        for (std::size_t s = 0; s < kBlockVectors; ++s) {
            if ((cb.live[b][s / 64] >> (s % 64) & 1) != 0) {
                const float key = model::score(mq, ip[s], cb.norm2[b][s]) - 0.75f * cb.errs[b][s];
                all.push_back(Hit{key, cb.ids[b][s], b * kBlockVectors + s});
            }
        }
    }
    std::sort(all.begin(), all.end(), better);
    all.resize(9);
    expect_same(got, all, "int8 bounds");
}

}  // namespace
}  // namespace pocketvec::search
