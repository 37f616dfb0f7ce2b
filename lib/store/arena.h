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

#include "kernels/kernels.h"

namespace pocketvec::store {

constexpr std::size_t kChunkSlots = kernels::kBlockVectors;
// A new chunk starts with this many slots and grows by as many, so that a small collection does
// not pay for a whole block of empty slots (at most kChunkGrowth - 1 free slots at the end).
constexpr std::size_t kChunkGrowth = 32;

struct AlignedFree {
    void operator()(uint8_t *p) const { std::free(p); }
};

// One chunk's codes plus its slot columns. Exact float32 codes are held in the kernels' block
// layout (so the exact scan reads them in order); compressed codes row-major, `stride` bytes per
// slot, as the codecs' row kernels read them. Codes of free slots are zero.
class ResidentChunk {
public:
    // `stride` is the code size in bytes; block_f32 means the codes are float32 (stride / 4 dims).
    ResidentChunk(std::size_t stride, bool block_f32) : stride_(stride), block_f32_(block_f32) {
        const std::size_t bytes = (kChunkSlots * stride + 63) / 64 * 64;
        codes_.reset(static_cast<uint8_t *>(std::aligned_alloc(64, bytes)));
        if (!codes_) {
            throw std::bad_alloc();
        }
        std::memset(codes_.get(), 0, bytes);
    }

    bool block_f32() const { return block_f32_; }
    std::size_t stride() const { return stride_; }
    const float *f32_block() const { return reinterpret_cast<const float *>(codes_.get()); }
    const uint8_t *rows() const { return codes_.get(); }

    // The slot's code as stored in the file (row-major bytes), whatever the resident layout.
    void write_code(std::size_t slot, const uint8_t *code) {
        if (!block_f32_) {
            std::memcpy(codes_.get() + slot * stride_, code, stride_);
            return;
        }
        float *c = reinterpret_cast<float *>(codes_.get());
        for (std::size_t g = 0; g < stride_ / 4; ++g) {
            std::memcpy(&c[g * kChunkSlots + slot], code + g * 4, 4);
        }
    }
    void read_code(std::size_t slot, uint8_t *code) const {
        if (!block_f32_) {
            std::memcpy(code, codes_.get() + slot * stride_, stride_);
            return;
        }
        const float *c = reinterpret_cast<const float *>(codes_.get());
        for (std::size_t g = 0; g < stride_ / 4; ++g) {
            std::memcpy(code + g * 4, &c[g * kChunkSlots + slot], 4);
        }
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
    bool block_f32_;
    std::unique_ptr<uint8_t, AlignedFree> codes_;
};

}  // namespace pocketvec::store
