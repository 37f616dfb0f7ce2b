// How the block kernels walk a block's groups: chunk by chunk, every tile of a chunk before the
// next chunk, with the next chunk prefetched. For the level units only (the anonymous namespace
// keeps every copy internal to a unit compiled with its own flags).
//
// Why: a tile of slots reads a fraction of each 1 KB group row; tiles running down a whole block
// one after another read memory in strided pieces that hardware prefetchers follow poorly
// (measured from memory on one AVX-512 core: f16 17 GB/s and e4m3 8 GB/s against 30 GB/s for
// kernels whose one tile spans whole rows). A chunk of 16 rows (16 KB) stays in L1 while its
// tiles pass over it, and prefetching the next chunk overlaps its fetch with this chunk's work.
#pragma once

#include "kernels/kernels.h"

#include <cstddef>
#include <cstdint>

namespace pocketvec::kernels {
namespace {

constexpr std::size_t kChunkGroups = 16;
constexpr std::size_t kRowBytes = kBlockVectors * kGroupBytes;

// Asks for groups [g_begin, g_end) of `block` (one 64-byte line per instruction).
inline void prefetch_groups(const uint8_t *block, std::size_t g_begin, std::size_t g_end) {
    const uint8_t *p = block + g_begin * kRowBytes;
    const uint8_t *end = block + g_end * kRowBytes;
    for (; p < end; p += 64) {
        __builtin_prefetch(p, 0, 3);
    }
}

// Calls chunk(g0, g1) for each chunk of the block's groups, in order, after prefetching the next.
// At least one call, also for groups == 0 (kernels then store their zero sums).
template <class Chunk>
inline void for_each_chunk(const uint8_t *block, std::size_t groups, const Chunk &chunk) {
    std::size_t g0 = 0;
    do {
        const std::size_t g1 = g0 + kChunkGroups < groups ? g0 + kChunkGroups : groups;
        const std::size_t g2 = g1 + kChunkGroups < groups ? g1 + kChunkGroups : groups;
        prefetch_groups(block, g1, g2);
        chunk(g0, g1);
        g0 = g1;
    } while (g0 < groups);
}

} // namespace
} // namespace pocketvec::kernels
