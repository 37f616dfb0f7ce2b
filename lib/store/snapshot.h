// The resident state of one collection, as searches read it.
//
// Invariants (what a snapshot guarantees):
//  - A Snapshot and every ResidentChunk it points to are immutable once published: nobody writes
//    to them again, so a search may scan a pinned snapshot without any lock.
//  - A published snapshot is one state of the collection that this pvec_db has seen in the file:
//    a committed state, or, inside a transaction of this connection, the state after one of its
//    own completed write calls (a handle sees its own uncommitted writes, like SQLite).
//  - Chunks no write touched are shared between successive snapshots (reference-counted); a write
//    copies a chunk before its first change in that call (store/writer.h), never in place.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "common/prefault.h"
#include "kernels/block_layout.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "store/catalog.h"

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
        codes_.reset(allocate(stride));
        std::memset(codes_.get(), 0, bytes());
    }
    // A copy for a write to change (copy-on-write); throws std::bad_alloc.
    ResidentChunk(const ResidentChunk &o)
        : ids(o.ids), live(o.live), norms(o.norms), aux(o.aux), errs(o.errs),
          norm_max(o.norm_max), aux_max(o.aux_max), err_max(o.err_max), live_count(o.live_count),
          capacity(o.capacity), stride_(o.stride_) {
        codes_.reset(allocate(stride_));
        std::memcpy(codes_.get(), o.codes_.get(), bytes());
    }
    ResidentChunk &operator=(const ResidentChunk &) = delete;

    std::size_t stride() const { return stride_; }
    const uint8_t *block() const { return codes_.get(); }
    const float *f32_block() const { return reinterpret_cast<const float *>(codes_.get()); }
    std::size_t bytes() const { return std::max<std::size_t>(64, kernels::block_bytes(stride_)); }

    // The slot's code as stored in the file (row-major bytes), whatever the resident layout.
    void write_code(std::size_t slot, const uint8_t *code) {
        kernels::block_store(codes_.get(), stride_, slot, code);
    }
    // Slots 0 .. count-1 from row-major codes at once (a new chunk filled by one write call).
    void write_codes(const uint8_t *rows, std::size_t count) {
        kernels::block_store_rows(codes_.get(), stride_, rows, count);
    }
    void read_code(std::size_t slot, uint8_t *code) const {
        kernels::block_load(codes_.get(), stride_, slot, code);
    }
    void clear_code(std::size_t slot) {
        std::vector<uint8_t> zeros(stride_, 0);
        write_code(slot, zeros.data());
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

    template <class T>
    using Column = std::array<T, kChunkSlots>;
    Column<int64_t> ids{};
    std::array<uint64_t, kChunkSlots / 64> live{};
    Column<float> norms{};  // the original vector's L2 norm, as in the file
    // What the scan needs per slot: 1 / norm for exact f32 codes (cosine), the decoded code's
    // squared norm for compressed codes under l2 (0 under cosine and dot).
    Column<float> aux{};
    // Collections flagged kFlagSlotErrors: the slot's code error (store/chunk_format.h), else 0.
    Column<float> errs{};
    // At least every live slot's norm, aux and err (a removed slot may leave them larger): what
    // exact search bounds the slots a scan did not keep with.
    float norm_max = 0, aux_max = 0, err_max = 0;
    // A live slot's norm, aux and err, keeping the maxima.
    void set_fields(std::size_t slot, float norm, float aux_value, float err) {
        norms[slot] = norm;
        aux[slot] = aux_value;
        errs[slot] = err;
        norm_max = std::max(norm_max, norm);
        aux_max = std::max(aux_max, aux_value);
        err_max = std::max(err_max, err);
    }
    std::size_t live_count = 0;
    // Slots this chunk has in the file (a multiple of kChunkGrowth up to kChunkSlots); the resident
    // block always has kChunkSlots, the ones past capacity stay free and zero.
    std::size_t capacity = kChunkSlots;

private:
    static uint8_t *allocate(std::size_t stride) {
        const std::size_t n = std::max<std::size_t>(64, kernels::block_bytes(stride));
        auto *p = static_cast<uint8_t *>(std::aligned_alloc(64, n));
        if (p == nullptr) {
            throw std::bad_alloc();
        }
        // Both constructors fill the block whole next: its pages in one call, not a fault each
        // (opening 100k x 384 int8 with its raw tier: 52-54 -> 47 ms on a 2-core VM).
        prefault_for_write(p, n);
        return p;
    }

    std::size_t stride_;
    std::unique_ptr<uint8_t, AlignedFree> codes_;
};

// One immutable state of a collection.
struct Snapshot {
    CollectionMeta meta;                         // the catalog row this state belongs to
    std::shared_ptr<const model::Model> model;   // null: codes are exact float32
    std::vector<std::shared_ptr<const ResidentChunk>> chunks;
    std::vector<int64_t> chunk_versions;         // the file's version of each chunk, as held
    uint64_t count = 0;                          // live items over all chunks
    bool dropped = false;                        // the collection no longer exists

    std::size_t chunk_count() const { return chunks.size(); }
    const ResidentChunk &chunk(std::size_t i) const { return *chunks[i]; }
    uint64_t capacity() const {
        uint64_t n = 0;
        for (const auto &c : chunks) {
            n += c->capacity;
        }
        return n;
    }
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

}  // namespace pocketvec::store
