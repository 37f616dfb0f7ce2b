// Micro benchmarks of the scan kernels (bytes of codes per second), one block of 256 vectors at
// a time over a resident set of `count` vectors: the f32 block kernel of the active level and
// codec::dot_block for every codec. Run: pvec_kernels_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "codec/codec.h"
#include "kernels/block_layout.h"
#include "kernels/kernels.h"

namespace {

using namespace pocketvec;

constexpr std::size_t kDim = 384;
constexpr std::size_t kBlocks = 64;  // 16,384 vectors

std::vector<float> sample(std::size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d;
    std::vector<float> v(n * kDim);
    for (float &x : v) {
        x = d(rng);
    }
    return v;
}

void BM_F32Block(benchmark::State &state) {
    const kernels::KernelTable &kt = kernels::active();
    const auto x = sample(kBlocks * kernels::kBlockVectors, 1);
    std::vector<uint8_t> blocks(kBlocks * kernels::block_bytes(kDim * 4));
    for (std::size_t b = 0; b < kBlocks; ++b) {
        for (std::size_t v = 0; v < kernels::kBlockVectors; ++v) {
            kernels::block_store(blocks.data() + b * kernels::block_bytes(kDim * 4), kDim * 4, v,
                                 reinterpret_cast<const uint8_t *>(&x[(b * 256 + v) * kDim]));
        }
    }
    const auto q = sample(1, 2);
    alignas(64) float out[kernels::kBlockVectors];
    for (auto _ : state) {
        for (std::size_t b = 0; b < kBlocks; ++b) {
            kt.dot_f32_block(q.data(),
                             reinterpret_cast<const float *>(blocks.data() +
                                                             b * kernels::block_bytes(kDim * 4)),
                             kDim, out);
            benchmark::DoNotOptimize(out);
        }
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * blocks.size());
    state.SetLabel(kt.name);
}
BENCHMARK(BM_F32Block);

void BM_CodecBlock(benchmark::State &state) {
    const auto id = static_cast<codec::CodecId>(state.range(0));
    const std::size_t n = kBlocks * kernels::kBlockVectors;
    const auto x = sample(n, 3);
    codec::CodecParams p;
    if (!codec::train(id, x.data(), n, kDim, &p).is_ok()) {
        state.SkipWithError("training failed");
        return;
    }
    const std::size_t bytes = codec::code_bytes(id, kDim), bb = kernels::block_bytes(bytes);
    std::vector<uint8_t> blocks(kBlocks * bb), code(bytes);
    for (std::size_t i = 0; i < n; ++i) {
        codec::encode(p, &x[i * kDim], code.data());
        kernels::block_store(blocks.data() + (i / 256) * bb, bytes, i % 256, code.data());
    }
    const auto q = sample(1, 4);
    const codec::PreparedQuery pq = codec::prepare_query(p, q.data());
    alignas(64) float out[kernels::kBlockVectors];
    for (auto _ : state) {
        for (std::size_t b = 0; b < kBlocks; ++b) {
            codec::dot_block(pq, blocks.data() + b * bb, out);
            benchmark::DoNotOptimize(out);
        }
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * blocks.size());
    state.SetLabel(codec::codec_name(id));
}
BENCHMARK(BM_CodecBlock)->DenseRange(1, 7);  // f16 .. binary

}  // namespace

BENCHMARK_MAIN();
