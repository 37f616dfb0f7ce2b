// The scan layout of one block of codes, for every codec: the only thing the store knows of how
// the kernels want codes arranged in memory. The store writes and reads a vector's code through
// these functions and sizes its buffers with block_bytes(); kernels read whole blocks.
//
// Layout (docs/format.md, "Resident scan layout"): a vector's code of `code_bytes` bytes is split
// into groups of kGroupBytes bytes (the last group zero-padded); group g of vector v sits at byte
// offset (g * kBlockVectors + v) * kGroupBytes. One 64-byte load then holds the same group of 16
// consecutive vectors, so one broadcast of the query's group serves a whole register of vectors.
// For f32 one group is one component. Padding bytes and the codes of free slots are zero, so a
// kernel may score every slot of a block without reading uninitialised memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/kernels.h"

namespace pocketvec::kernels {

constexpr std::size_t block_groups(std::size_t code_bytes) {
    return (code_bytes + kGroupBytes - 1) / kGroupBytes;
}

// Bytes of one block of codes: a multiple of 64 (so blocks can sit back to back, 64-byte aligned).
constexpr std::size_t block_bytes(std::size_t code_bytes) {
    return block_groups(code_bytes) * kGroupBytes * kBlockVectors;
}

// Writes one vector's row-major code into slot `slot` of `block` (padding bytes set to zero).
inline void block_store(uint8_t *block, std::size_t code_bytes, std::size_t slot,
                        const uint8_t *code) {
    const std::size_t groups = block_groups(code_bytes);
    const std::size_t whole = code_bytes / kGroupBytes;  // the groups with no padding
    for (std::size_t g = 0; g < whole; ++g) {  // copies of a constant size: plain moves
        std::memcpy(block + (g * kBlockVectors + slot) * kGroupBytes, code + g * kGroupBytes,
                    kGroupBytes);
    }
    if (whole < groups) {
        uint8_t group[kGroupBytes] = {};
        std::memcpy(group, code + whole * kGroupBytes, code_bytes - whole * kGroupBytes);
        std::memcpy(block + (whole * kBlockVectors + slot) * kGroupBytes, group, kGroupBytes);
    }
}

// Writes the row-major codes of slots 0 .. count-1 (`rows`, count x code_bytes bytes) into
// `block`, as block_store would one by one, but 16 slots x 16 groups at a time: each 64-byte line
// of the block is written whole once, where slot-by-slot stores touch every line of the block's
// groups per slot (a stride of kBlockVectors x kGroupBytes bytes, which also maps them all to a
// few cache sets).
inline void block_store_rows(uint8_t *block, std::size_t code_bytes, const uint8_t *rows,
                             std::size_t count) {
    constexpr std::size_t kTile = 64 / kGroupBytes;
    const std::size_t groups = block_groups(code_bytes);
    const std::size_t whole = code_bytes / kGroupBytes;  // the groups with no padding
    for (std::size_t v0 = 0; v0 < count; v0 += kTile) {
        const std::size_t vn = count - v0 < kTile ? count - v0 : kTile;
        for (std::size_t g0 = 0; g0 < groups; g0 += kTile) {
            const std::size_t gn = groups - g0 < kTile ? groups - g0 : kTile;
            for (std::size_t g = g0; g < g0 + gn; ++g) {
                uint8_t *line = block + (g * kBlockVectors + v0) * kGroupBytes;
                const uint8_t *src = rows + v0 * code_bytes + g * kGroupBytes;
                if (g < whole) {  // copies of a constant size: plain moves, no memcpy call
                    for (std::size_t v = 0; v < vn; ++v) {
                        std::memcpy(line + v * kGroupBytes, src + v * code_bytes, kGroupBytes);
                    }
                    continue;
                }
                for (std::size_t v = 0; v < vn; ++v) {
                    uint8_t group[kGroupBytes] = {};
                    std::memcpy(group, src + v * code_bytes, code_bytes - g * kGroupBytes);
                    std::memcpy(line + v * kGroupBytes, group, kGroupBytes);
                }
            }
        }
    }
}

// Reads slot `slot`'s code back as row-major bytes.
inline void block_load(const uint8_t *block, std::size_t code_bytes, std::size_t slot,
                       uint8_t *code) {
    const std::size_t groups = block_groups(code_bytes);
    for (std::size_t g = 0; g < groups; ++g) {
        const std::size_t n = g + 1 < groups ? kGroupBytes : code_bytes - g * kGroupBytes;
        std::memcpy(code + g * kGroupBytes, block + (g * kBlockVectors + slot) * kGroupBytes, n);
    }
}

}  // namespace pocketvec::kernels
