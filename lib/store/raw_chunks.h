// Raw vectors stored per chunk (collections flagged kFlagRawChunks: raw tiers PVEC_RAW_F32 and
// PVEC_RAW_F16 of collections created by format 4 code): one row of pvec_c<id>_rawchunks per
// chunk, holding `capacity` fixed-size slots in the chunk's slot order, written and read in place
// with incremental BLOB I/O (docs/format.md, "pvec_c<id>_rawchunks").
//
// Why: one row per vector packs 1-4 KiB rows into pages only partly, and a B-tree cell per vector
// costs its own header and pointer; a chunk's slots fill whole overflow pages but the last.
//
// Rows: a collection flagged kFlagRawParts (format 6) splits each chunk's slots into parts of
// part_slots() slots, one row per part (row id chunk * kRawRowsPerChunk + part; the last part
// holds what is left of the chunk's capacity); one created before keeps one row per chunk (row id
// = chunk, part_slots() = kChunkSlots). Why parts: SQLite reads offset x of a row by walking its
// overflow pages from the first to x (about 5 us per slot read at 384-d float32, a 96-page row);
// parts of at most kRawPartBytes keep that walk to a dozen pages.
//
// Invariants: the rows of chunk i exist exactly when chunk i does, one per part of capacity(i)
// slots, each of its part's size; slot s holds item ids[s]'s stored raw bytes followed by their
// u32 checksum (checksum::raw) when the slot is live, and zero bytes when it is free. Everything
// runs inside the caller's transaction.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/status.h"
#include "store/catalog.h"
#include "store/snapshot.h"
#include "store/sqlite_util.h"

namespace pocketvec::store {

// A part holds the most slots, a power of two from kMinRawPartSlots to kChunkSlots, whose bytes do
// not pass kRawPartBytes (16 pages of 4 KiB), or kMinRawPartSlots when even those pass it (slots
// over 4 KiB: vectors of more than 1,023 float32 dimensions). With 16 slots at least, a chunk has
// at most kRawRowsPerChunk parts.
constexpr std::size_t kRawPartBytes = 64 * 1024;
constexpr std::size_t kMinRawPartSlots = 16;
constexpr std::size_t kRawRowsPerChunk = kChunkSlots / kMinRawPartSlots;
std::size_t raw_part_slots(std::size_t slot_bytes);

class RawChunks {
public:
    RawChunks(sqlite3 *conn, const CollectionMeta &meta);
    RawChunks(const RawChunks &) = delete;
    RawChunks &operator=(const RawChunks &) = delete;

    // Bytes of one slot: the stored vector (4 or 2 bytes per dimension), then its 4-byte sum.
    std::size_t slot_bytes() const { return slot_bytes_; }

    // Slots per row; the row holding slot `slot` of chunk `chunk`; how many slots the row of part
    // `part` holds in a chunk of `capacity` slots (0: no such row).
    std::size_t part_slots() const { return part_slots_; }
    int64_t row_of(std::size_t chunk, std::size_t part) const {
        return static_cast<int64_t>(chunk * rows_per_chunk_ + part);
    }
    std::size_t rows_per_chunk() const { return rows_per_chunk_; }
    std::size_t slots_in_part(std::size_t capacity, std::size_t part) const {
        const std::size_t first = part * part_slots_;
        return capacity <= first ? 0 : std::min(part_slots_, capacity - first);
    }

    Status prepare();
    // A new chunk's row with its slots' bytes (a multiple of slot_bytes()).
    Status insert_filled(std::size_t chunk, const uint8_t *bytes, std::size_t n);
    // Chunk `chunk` grew to `capacity` slots: free slots appended.
    Status grow(std::size_t chunk, std::size_t old_capacity, std::size_t capacity);
    // One slot's stored bytes and sum (slot_bytes()), written in place.
    Status write(std::size_t chunk, std::size_t slot, const uint8_t *bytes);
    // The slot becomes free: zero bytes, so a deleted vector does not linger.
    Status clear(std::size_t chunk, std::size_t slot);
    // One slot's slot_bytes() into `out`. PVEC_CORRUPT when the row is missing or of the wrong size.
    Status read(std::size_t chunk, std::size_t slot, std::size_t capacity, uint8_t *out);
    // Must run before the transaction ends, and after a read pass (an open blob is a cursor).
    void close() {
        reader_.close();
        writer_.close();
    }

    const std::string &table() const { return table_; }

private:
    Status open_row(Blob &blob, std::size_t chunk, std::size_t part, bool write);

    sqlite3 *conn_;
    std::string table_, where_;
    std::size_t slot_bytes_;
    std::size_t part_slots_;      // kChunkSlots without kFlagRawParts
    std::size_t rows_per_chunk_;  // row ids per chunk: kRawRowsPerChunk, or 1 without parts
    Stmt insert_, insert_zeros_, grow_;
    Blob reader_, writer_;
};

}  // namespace pocketvec::store
