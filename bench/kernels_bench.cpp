// Micro benchmarks of the scan kernels (bytes of codes per second): codec::dot_block for every
// codec at every kernel table this CPU runs (each level and its variants), one block of 256
// vectors at a time over a resident set of 64 blocks ("cache": 16,384 vectors of 384 dimensions,
// in cache for the compact codes on most CPUs), of 1 MiB of codes ("L2": inside a core's L2 cache
// on every CPU with AVX-512, so the kernels' compute rates) and of 64 MiB of codes ("64MiB": what
// one core reads from memory, or from a last-level cache larger than that).
// Run: pvec_kernels_bench [--benchmark_filter=int8]
#include "codec/codec.h"
#include "kernels/block_layout.h"
#include "kernels/kernels.h"

#include <benchmark/benchmark.h>
#include <algorithm>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace pocketvec;

constexpr std::size_t kDim = 384;
constexpr std::size_t kBlocks = 64;

std::vector<float> sample(std::size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d;
    std::vector<float> v(n * kDim);
    for (float &x : v) {
        x = d(rng);
    }
    return v;
}

struct Free {
    void operator()(uint8_t *p) const { std::free(p); }
};

enum class Size { l2, cache, memory };

// Enough blocks of 256 vectors for 1 MiB of codes (at least one), kBlocks blocks, or enough for
// 64 MiB of codes.
void codec_block(benchmark::State &state, codec::CodecId id, const kernels::KernelTable *kt,
                 Size size) {
    const std::size_t bytes = codec::code_bytes(id, kDim), bb = kernels::block_bytes(bytes);
    const std::size_t n_blocks = size == Size::memory ? (64u << 20) / bb
                                 : size == Size::l2   ? std::max<std::size_t>(1, (1u << 20) / bb)
                                                      : kBlocks;
    // 16,384 distinct vectors, trained on and encoded once; a larger set repeats their codes.
    const std::size_t distinct = kBlocks * kernels::kBlockVectors;
    const auto x = sample(distinct, 3);
    codec::CodecParams p;
    if (!codec::train(id, x.data(), distinct, kDim, &p).is_ok()) {
        state.SkipWithError("training failed");
        return;
    }
    // The kernels need 64-byte aligned blocks, as the store's arena keeps them.
    std::unique_ptr<uint8_t, Free> blocks(
        static_cast<uint8_t *>(std::aligned_alloc(64, n_blocks * bb)));
    std::vector<uint8_t> codes(distinct * bytes);
    for (std::size_t i = 0; i < distinct; ++i) {
        codec::encode(p, &x[i * kDim], &codes[i * bytes]);
    }
    for (std::size_t i = 0; i < n_blocks * kernels::kBlockVectors; ++i) {
        kernels::block_store(blocks.get() + (i / 256) * bb, bytes, i % 256,
                             &codes[(i % distinct) * bytes]);
    }
    const auto q = sample(1, 4);
    const codec::PreparedQuery pq = codec::prepare_query(p, q.data());
    alignas(64) float out[kernels::kBlockVectors];
    for (auto _ : state) {
        for (std::size_t b = 0; b < n_blocks; ++b) {
            // As the store's scan does: each block's kernel reads the next one's first rows ahead.
            const uint8_t *next = b + 1 < n_blocks ? blocks.get() + (b + 1) * bb : nullptr;
            codec::dot_block(pq, blocks.get() + b * bb, out, *kt, next);
            benchmark::DoNotOptimize(out);
        }
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(n_blocks * bb));
}

const int registered = [] {
    for (const kernels::KernelTable *kt : kernels::runnable_tables()) {
        for (uint32_t c = 0; c < codec::kCodecCount; ++c) {
            const auto id = static_cast<codec::CodecId>(c);
            for (Size size : {Size::l2, Size::cache, Size::memory}) {
                const char *suffix = size == Size::l2      ? "/L2"
                                     : size == Size::cache ? "/cache"
                                                           : "/64MiB";
                const std::string name =
                    std::string(codec::codec_name(id)) + "/" + kt->name + suffix;
                benchmark::RegisterBenchmark(name.c_str(), codec_block, id, kt, size);
            }
        }
    }
    return 0;
}();

} // namespace

BENCHMARK_MAIN();
