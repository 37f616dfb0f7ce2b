// How the block kernels walk a block's groups: chunk by chunk (kChunkGroups), every tile of a
// chunk before the next chunk, the partial sums passing through the output between chunks. For
// the level units only (the anonymous namespace keeps every copy internal to a unit compiled with
// its own flags). Chunking does not change any sum: a slot still adds its groups in order.
//
// Why: a tile of slots reads a fraction of each 1 KB group row, so tiles running down a whole
// block one after another read memory in strided pieces; a chunk of 16 rows (16 KB) stays in L1
// while its tiles pass over it.
//
// Prefetch: as a tile reads its lines of row g it asks for the same lines kPrefetchRows rows
// ahead (prefetch_ahead; past the block's end, in the next block), one request per line
// consumed, so requests stay spread over the work.
// Asking for a whole chunk at once at its start (prefetch_groups, still used by the NEON unit) was
// measured slower on an AVX-512 Xeon, even for blocks already in L2 (f16: 50 against 67 GB/s in
// L2, 16-18 against 22-25 GB/s for 64 MiB of codes): the burst of 256 requests fills the load
// queue and stalls the loads the tiles need now.
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

constexpr std::size_t kPrefetchRows = kChunkGroups;

// Asks for `bytes` (a multiple of 64) at `row` + kPrefetchRows rows, one request per line the
// caller consumes. Near the end of the block (and throughout a block of fewer rows than that) the
// row ahead lies in `next`, the block scanned after this one (null: none), at the same place of
// the tile: so the first rows of the next block arrive while this one is finished, which matters
// most for small blocks (int4, binary: 48 and 12 KB at 384 dimensions), whose first rows are
// otherwise read cold. The first kPrefetchRows rows of a block are nobody's "ahead" when it has
// no predecessor, so while the first tile (`first_tile`) reads them it also asks for the rest of
// each of those rows, the lines the other tiles will read.
inline void prefetch_ahead(const void *block, const void *next, const uint8_t *row, std::size_t g,
                           std::size_t groups, std::size_t bytes, bool first_tile) {
    const std::size_t ahead = groups < kPrefetchRows ? groups : kPrefetchRows;
    const uint8_t *p = nullptr;
    if (g + ahead < groups) {
        p = row + ahead * kRowBytes;
    } else if (next != nullptr) {
        // Row g + ahead - groups of `next`, at the tile's offset within its row.
        const auto offset = static_cast<std::size_t>(row - static_cast<const uint8_t *>(block));
        p = static_cast<const uint8_t *>(next) + offset - (groups - ahead) * kRowBytes;
    }
    if (p != nullptr) {
        for (std::size_t b = 0; b < bytes; b += 64) {
            __builtin_prefetch(p + b, 0, 3);
        }
    }
    if (first_tile && g < kPrefetchRows) {
        for (std::size_t b = bytes; b < kRowBytes; b += 64) {
            __builtin_prefetch(row + b, 0, 3);
        }
    }
}

} // namespace
} // namespace pocketvec::kernels
