// Distance kernels behind one table, one table per CPU level.
//
// Two code layouts are scored:
//  - row-major: one vector's components contiguous (rescoring, oracles, single pairs);
//  - block layout: the scan layout of the resident arena. A block holds kBlockVectors vectors; its
//    codes are split into groups of kGroupBytes bytes per vector, and group g of vector v sits at
//    byte offset (g * kBlockVectors + v) * kGroupBytes. For f32 one group is one component, so
//    element (g, v) is block[g * kBlockVectors + v]. One broadcast of the query's group then serves
//    a whole register of vectors and no horizontal sum is needed.
// Kernels know nothing of SQLite, collections or metrics beyond the arithmetic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pocketvec::kernels {

constexpr std::size_t kBlockVectors = 256;
constexpr std::size_t kGroupBytes = 4;

// The largest |weight| of an integer query (KernelTable::dot_u8_block): 63 * 64, so that a weight
// splits into two int8 halves (64 * hi + lo, |hi| <= 63, -32 <= lo < 32) for the int8 x int8 dot
// instructions. 12 bits: a coarser query measurably costs recall (int8: 0.90 against 0.93 with a
// float query on 100,000 x 384 synthetic vectors; 12 bits: 0.93).
constexpr int kMaxQueryWeight = 4032;
// The same for int4 queries (dot_u4_block): small enough that the AVX512-VNNI kernel's int8
// factors of the two nibble weights of a byte (kernels_avx512.cpp, dot_u4_block_vnni) stay within
// +-127, so that it keeps one sum per slot. The coarser weights cost no measured recall (int4 and
// int4+r4 recall@10 unchanged on glove, wordnet, sap, sift and cohere, 300 queries) and widen
// exact mode's bound: int4+exact read 70 / 72 / 52 / 187 / 88 raw vectors a query against
// 68 / 71 / 51 / 142 / 88 with kMaxQueryWeight.
constexpr int kMaxInt4QueryWeight = 1896;

enum class Level : int { scalar = 0, sse2 = 1, avx2 = 2, avx512 = 3, neon = 4 };

struct KernelTable {
    Level level;
    const char *name;  // the level, then its extensions: "avx512+vnni+vpopcntdq", "neon+dotprod"

    // Row-major pair kernels over n floats; any n >= 0, no alignment required.
    float (*dot_f32)(const float *a, const float *b, std::size_t n);
    float (*l2sq_f32)(const float *a, const float *b, std::size_t n);

    // Block kernels: out[v] for every v < kBlockVectors, over `dim` groups of one f32 each.
    // `block` is 64-byte aligned; `out` holds kBlockVectors floats, 64-byte aligned.
    void (*dot_f32_block)(const float *q, const float *block, std::size_t dim, float *out,
                          const float *next);
    void (*l2sq_f32_block)(const float *q, const float *block, std::size_t dim, float *out,
                           const float *next);

    // Code block kernels over `groups` 4-byte groups of every slot (block_layout.h); `block` and
    // `out` (kBlockVectors values) 64-byte aligned. Byte k of group g of slot v is c[g][k].
    //
    // Integer kernels are exact: every level returns the same integers. The query weights q are
    // int16 with |q| <= kMaxQueryWeight (int4: kMaxInt4QueryWeight), and the caller keeps every
    // sum in range:
    // 255 * sum |q| < 2^31 for int8 codes, 15 * sum |q| < 2^31 for int4 (prepare_query does).
    //   dot_u8:  out[v] = sum_g sum_k q[4g + k] * c[g][k]                   (int8 codes)
    //   dot_u4:  out[v] = sum_g sum_k q[8g + k] * (c[g][k] & 15)
    //                              + q[8g + 4 + k] * (c[g][k] >> 4)          (int4 codes)
    //   hamming: out[v] = sum_g popcount(q[g] ^ group g as a little-endian u32)   (binary)
    void (*dot_u8_block)(const int16_t *q, const uint8_t *block, std::size_t groups, int32_t *out,
                         const uint8_t *next);
    void (*dot_u4_block)(const int16_t *q, const uint8_t *block, std::size_t groups, int32_t *out,
                         const uint8_t *next);
    void (*hamming_block)(const uint32_t *q, const uint8_t *block, std::size_t groups,
                          uint32_t *out, const uint8_t *next);
    // Float kernels: equal across levels up to float rounding (summation order differs).
    //   dot_f16, dot_bf16: out[v] = sum_g w[2g] * h(lo half) + w[2g + 1] * h(hi half)
    //   dot_e4m3, dot_e5m2: out[v] = sum_g sum_k w[4g + k] * fp8(c[g][k])
    // FP8 NaN codes (which encode never writes) give unspecified finite or NaN scores.
    void (*dot_f16_block)(const float *w, const uint8_t *block, std::size_t groups, float *out,
                          const uint8_t *next);
    void (*dot_bf16_block)(const float *w, const uint8_t *block, std::size_t groups, float *out,
                           const uint8_t *next);
    void (*dot_e4m3_block)(const float *w, const uint8_t *block, std::size_t groups, float *out,
                           const uint8_t *next);
    void (*dot_e5m2_block)(const float *w, const uint8_t *block, std::size_t groups, float *out,
                           const uint8_t *next);

    // Selection: bit v % 64 of mask[v / 64] = (s[v] <= threshold), for the kBlockVectors scores
    // of one block (`s` 64-byte aligned; NaN scores never pass). Exact at every level.
    void (*mask_le)(const float *s, float threshold, uint64_t *mask);
    // The same over the integer sums of the integer kernels: s[v] <= threshold. Exact.
    void (*mask_le_i32)(const int32_t *s, int32_t threshold, uint64_t *mask);
};

// The table of the best level this CPU and OS support, chosen once (thread-safe). The environment
// variable PVEC_SIMD forces a level (scalar|sse2|avx2|avx512|neon: that level's best variant) or
// one variant by its full name; see forced_level_error() for a name that cannot be honoured.
const KernelTable &active();

// Empty when PVEC_SIMD is unset or names a table this CPU can run; otherwise why it cannot be
// honoured (unknown name, not compiled in, or an instruction set this CPU lacks). active() then
// returns the best table; pvec_db_open refuses to open with this message.
const std::string &forced_level_error();

// The best variant of one level, or nullptr when that level is not compiled in or this CPU cannot
// run it.
const KernelTable *table_for(Level level);

// Every table this CPU can run, every variant of every level (for tests and benchmarks), scalar
// first.
std::vector<const KernelTable *> runnable_tables();

const char *level_name(Level level);

}  // namespace pocketvec::kernels
