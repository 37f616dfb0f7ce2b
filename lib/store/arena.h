// The resident copy of a collection's chunks: what searches read. Kept in step with the file by
// the collection (applied on write, undone on rollback, reloaded when another connection commits).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

#include "kernels/kernels.h"

namespace pocketvec::store {

constexpr std::size_t kChunkSlots = kernels::kBlockVectors;

struct AlignedFree {
    void operator()(float *p) const { std::free(p); }
};

// One chunk: codes in the kernels' block layout (so a scan reads them in order), plus the slot
// columns. Codes of free slots are zero.
class ResidentChunk {
public:
    explicit ResidentChunk(std::size_t dim) : dim_(dim) {
        const std::size_t bytes = ((kChunkSlots * dim * sizeof(float)) + 63) / 64 * 64;
        codes_.reset(static_cast<float *>(std::aligned_alloc(64, bytes)));
        if (!codes_) {
            throw std::bad_alloc();
        }
        std::fill(codes_.get(), codes_.get() + kChunkSlots * dim, 0.0f);
    }

    const float *codes() const { return codes_.get(); }

    void put_vector(std::size_t slot, const float *v) {
        float *c = codes_.get();
        for (std::size_t g = 0; g < dim_; ++g) {
            c[g * kChunkSlots + slot] = v[g];
        }
    }
    void get_vector(std::size_t slot, float *v) const {
        const float *c = codes_.get();
        for (std::size_t g = 0; g < dim_; ++g) {
            v[g] = c[g * kChunkSlots + slot];
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
    float norms[kChunkSlots] = {};
    float inv_norms[kChunkSlots] = {};
    std::size_t live_count = 0;

private:
    std::size_t dim_;
    std::unique_ptr<float, AlignedFree> codes_;
};

}  // namespace pocketvec::store
