// How the block kernels walk a block's groups: chunk by chunk (kChunkGroups), every tile of a
// chunk before the next chunk, with the next chunk prefetched (prefetch_groups). For the level
// units only (the anonymous namespace keeps every copy internal to a unit compiled with its own
// flags). Chunking does not change any sum: a slot still adds its groups in order.
//
// Why: a tile of slots reads a fraction of each 1 KB group row, so tiles running down a whole
// block one after another read memory in strided pieces; a chunk of 16 rows (16 KB) stays in L1
// while its tiles pass over it, and the prefetch overlaps the next chunk's fetch with this one's
// work. Measured from memory on one AVX-512 core the gain was within this VM's noise (f16 17-19
// GB/s, e4m3 8-10 GB/s, against 30 GB/s for kernels whose one tile spans whole rows): those
// kernels are bound by their conversions, not by this walk (bench/RESULTS.md).
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

} // namespace
} // namespace pocketvec::kernels
