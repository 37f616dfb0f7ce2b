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

namespace pocketvec::kernels {

constexpr std::size_t kBlockVectors = 256;
constexpr std::size_t kGroupBytes = 4;

enum class Level : int { scalar = 0, sse2 = 1, avx2 = 2, avx512 = 3, neon = 4 };

struct KernelTable {
    Level level;
    const char *name;  // "scalar", "sse2", "avx2", "avx512", "neon"

    // Row-major pair kernels over n floats; any n >= 0, no alignment required.
    float (*dot_f32)(const float *a, const float *b, std::size_t n);
    float (*l2sq_f32)(const float *a, const float *b, std::size_t n);

    // Block kernels: out[v] for every v < kBlockVectors, over `dim` groups of one f32 each.
    // `block` is 64-byte aligned; `out` holds kBlockVectors floats, 64-byte aligned.
    void (*dot_f32_block)(const float *q, const float *block, std::size_t dim, float *out);
    void (*l2sq_f32_block)(const float *q, const float *block, std::size_t dim, float *out);
};

// The table of the best level this CPU and OS support, chosen once (thread-safe). The environment
// variable PVEC_SIMD=scalar|sse2|avx2|avx512|neon forces a level; a level the CPU cannot run, or that
// was not compiled in, falls back to the best supported one.
const KernelTable &active();

// The table of one level, or nullptr when that level is not compiled in or this CPU cannot run it.
const KernelTable *table_for(Level level);

const char *level_name(Level level);

}  // namespace pocketvec::kernels
