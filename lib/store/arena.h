// The resident copy of a collection's chunks: what searches read. Kept in step with the file by
// the collection (applied on write, undone on rollback, reloaded when another connection commits).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "kernels/block_layout.h"
#include "kernels/kernels.h"

namespace pocketvec::store {

constexpr std::size_t kChunkSlots = kernels::kBlockVectors;
// A new chunk starts with this many slots and grows by as many, so that a small collection does
// not pay for a whole block of empty slots (at most kChunkGrowth - 1 free slots at the end).
constexpr std::size_t kChunkGrowth = 32;

struct AlignedFree {
    void operator()(uint8_t *p) const { std::free(p); }
};

// One chunk's codes plus its slot columns. Codes of every codec are held in the kernels' block
// scan layout (kernels/block_layout.h), so a scan reads a block strictly in order. Codes of free
// slots are zero.
class ResidentChunk {
public:
    // `stride` is the code size in bytes.
    explicit ResidentChunk(std::size_t stride) : stride_(stride) {
        const std::size_t bytes = std::max<std::size_t>(64, kernels::block_bytes(stride));
        codes_.reset(static_cast<uint8_t *>(std::aligned_alloc(64, bytes)));
        if (!codes_) {
            throw std::bad_alloc();
        }
        std::memset(codes_.get(), 0, bytes);
    }

    std::size_t stride() const { return stride_; }
    const uint8_t *block() const { return codes_.get(); }
    const float *f32_block() const { return reinterpret_cast<const float *>(codes_.get()); }

    // The slot's code as stored in the file (row-major bytes), whatever the resident layout.
    void write_code(std::size_t slot, const uint8_t *code) {
        kernels::block_store(codes_.get(), stride_, slot, code);
    }
    void read_code(std::size_t slot, uint8_t *code) const {
        kernels::block_load(codes_.get(), stride_, slot, code);
    }

    bool is_live(std::size_t slot) const { return (live[slot / 64] >> (slot % 64)) & 1u; }
    void set_live(std::size_t slot, bool on) {
        const uint64_t bit = uint64_t{1} << (slot % 64);
        if (on != is_live(slot)) {
            live_count += on ? 1 : -1;
        }
        live[slot / 64] = on ? (live[slot / 64] | bit) : (live[slot / 64] & ~bit);
    }
    // The byte of the on-disk bitmap that holds `slot`.
    uint8_t live_byte(std::size_t slot) const {
        return static_cast<uint8_t>(live[slot / 64] >> ((slot % 64) / 8 * 8));
    }

    int64_t ids[kChunkSlots] = {};
    uint64_t live[kChunkSlots / 64] = {};
    float norms[kChunkSlots] = {};  // the original vector's L2 norm, as in the file
    // What the scan needs per slot: 1 / norm for exact f32 codes (cosine), the decoded code's
    // squared norm for compressed codes (l2).
    float aux[kChunkSlots] = {};
    std::size_t live_count = 0;
    // Slots this chunk has in the file (a multiple of kChunkGrowth up to kChunkSlots); the resident
    // block always has kChunkSlots, the ones past capacity stay free and zero.
    std::size_t capacity = kChunkSlots;

private:
    std::size_t stride_;
    std::unique_ptr<uint8_t, AlignedFree> codes_;
};

}  // namespace pocketvec::store
