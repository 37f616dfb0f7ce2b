// Raw vectors stored per chunk (collections flagged kFlagRawChunks: raw tiers PVEC_RAW_F32 and
// PVEC_RAW_F16 of collections created by format 4 code): one row of pvec_c<id>_rawchunks per
// chunk, holding `capacity` fixed-size slots in the chunk's slot order, written and read in place
// with incremental BLOB I/O (docs/format.md, "pvec_c<id>_rawchunks").
//
// Why: one row per vector packs 1-4 KiB rows into pages only partly, and a B-tree cell per vector
// costs its own header and pointer; a chunk's slots fill whole overflow pages but the last.
//
// Invariants: the row of chunk i exists exactly when chunk i does and has capacity(i) slots; slot s
// holds item ids[s]'s stored raw bytes followed by their u32 checksum (checksum::raw) when the
// slot is live, and zero bytes when it is free. Everything runs inside the caller's transaction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/status.h"
#include "store/catalog.h"
#include "store/sqlite_util.h"

namespace pocketvec::store {

class RawChunks {
public:
    RawChunks(sqlite3 *conn, const CollectionMeta &meta);
    RawChunks(const RawChunks &) = delete;
    RawChunks &operator=(const RawChunks &) = delete;

    // Bytes of one slot: the stored vector (4 or 2 bytes per dimension), then its 4-byte sum.
    std::size_t slot_bytes() const { return slot_bytes_; }

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
    Status open_row(Blob &blob, std::size_t chunk, bool write);

    sqlite3 *conn_;
    std::string table_, where_;
    std::size_t slot_bytes_;
    Stmt insert_, grow_;
    Blob reader_, writer_;
};

}  // namespace pocketvec::store
