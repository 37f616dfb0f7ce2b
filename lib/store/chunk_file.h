// One collection's chunks in the file: the rows of pvec_c<id>_chunks (byte layout in
// store/chunk_format.h) and their versions in pvec_c<id>_versions, read into resident chunks and
// written slot by slot with incremental BLOB I/O. Everything runs inside the caller's
// transaction; nothing here is cached but prepared statements.
//
// Versions: every write call that changes a chunk sets the chunk's version to the collection's
// new version (catalog bump). A connection holding version v of a chunk therefore holds the file's
// content of that chunk exactly when the file's version is v, and reloads only chunks whose
// version moved.
#pragma once

#include <memory>
#include <vector>

#include "common/status.h"
#include "model/model.h"
#include "store/catalog.h"
#include "store/chunk_format.h"
#include "store/snapshot.h"
#include "store/sqlite_util.h"

namespace pocketvec::store {

// The layout of a chunk of `capacity` slots of collection `meta` (its code size and flags).
inline ChunkLayout chunk_layout(const CollectionMeta &meta, std::size_t capacity) {
    return ChunkLayout{capacity, meta.code_bytes, (meta.flags & kFlagSlotErrors) != 0};
}

class ChunkFile {
public:
    ChunkFile(sqlite3 *conn, const CollectionMeta &meta);
    ChunkFile(const ChunkFile &) = delete;
    ChunkFile &operator=(const ChunkFile &) = delete;

    // PVEC_CORRUPT when the tables are missing or of another shape.
    Status prepare();
    // The version of every chunk, in chunk order; chunk ids must be 0..n-1 and each must have a
    // version row.
    Status versions(std::vector<int64_t> *out);
    // Chunk `index` as a resident chunk in the layout of `meta` (its code size and flags), scan
    // corrections computed under `model` (null: exact float32). Every live slot's checksum and
    // every free slot's zero bytes are verified: damage is PVEC_CORRUPT naming the chunk and slot.
    Status load(std::size_t index, const CollectionMeta &meta, const model::Model *model,
                std::shared_ptr<ResidentChunk> *out);

    // Inserts chunk `index` (and its version row) with its content: `chunk`'s slots, codes taken
    // row-major from `row_codes` (chunk.capacity x code_bytes), in the layout of `meta`.
    Status insert_built(std::size_t index, const ResidentChunk &chunk, const uint8_t *row_codes,
                        const CollectionMeta &meta, int64_t version);
    // Replaces chunk `index` by `chunk` in the layout of `meta` (growth, re-encoding).
    Status rewrite(std::size_t index, const ResidentChunk &chunk, const CollectionMeta &meta);
    Status set_version(std::size_t index, int64_t version);
    // One slot's id, norm, err (when the layout has errs), code, checksum and the bitmap byte
    // holding it, written in place.
    Status write_slot(std::size_t index, const ChunkLayout &lay, std::size_t slot, int64_t id,
                      float norm, float err, const uint8_t *code, uint8_t live_byte);
    // Marks the slot free and zeroes its id, norm, err, checksum and code: a deleted vector does
    // not linger.
    Status clear_slot(std::size_t index, const ChunkLayout &lay, std::size_t slot, uint8_t live_byte);
    // Must run before the transaction commits or rolls back (an open blob is an active statement).
    void close_blob() { blob_.close(); }
    // Frees the buffer chunk rows are built in (kept from one chunk to the next of a write call).
    void release_buffer() { std::vector<uint8_t>().swap(blob_buf_); }

    // The file blob of chunk `index` of collection `uid` in `lay`, built from its resident copy
    // (its codes from `row_codes` when given: row-major, chunk.capacity of them).
    static void build_blob(const ResidentChunk &chunk, const ChunkLayout &lay, int64_t uid,
                           std::size_t index, std::vector<uint8_t> *out,
                           const uint8_t *row_codes = nullptr);
    // The damage in chunk blob `data` (chunk `index` of collection `uid`, in `lay`): a message
    // naming the first slot whose checksum fails or whose free bytes are not zero, or "".
    static std::string find_damage(const uint8_t *data, const ChunkLayout &lay, int64_t uid,
                                   std::size_t index);

private:
    sqlite3 *conn_;
    int64_t uid_;
    std::string chunks_, versions_, where_;
    Stmt list_, load_, insert_, insert_version_, rewrite_, set_version_;
    Blob blob_;
    // The chunk row being written: reused within a write call (no fresh pages for each chunk),
    // freed at its end (release_buffer).
    std::vector<uint8_t> blob_buf_;
};

// What the scan needs per slot under `model`: the decoded code's squared norm for compressed
// codes under L2 (0 under cosine and dot, whose code scores do not use it), 1 / norm for exact
// float32 ones.
float scan_aux(const model::Model *model, const uint8_t *code, float norm);

}  // namespace pocketvec::store
