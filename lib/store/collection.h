// One collection as this pvec_db holds it: its current snapshot (what searches read), the
// statements that write its tables, and the operations of the C API on it.
//
// Locking (what protects what):
//  - snapshot_mutex_ protects current_ and txn_base_ only, and is held just long enough to copy
//    or replace a pointer; it is the only lock a search holds while it pins its snapshot, and the
//    only one the commit/rollback hooks take.
//  - Everything else (statements, zstd contexts, bytes cache) belongs to the Database's mutex,
//    held by every call but a search's scan.
//  - current_ only moves forward by publish() of a committed (or, in this connection's open
//    transaction, completed) write, by refresh() from the file, or back to txn_base_ when the
//    transaction rolls back.
//  - A streaming Collection (memory_cap() > 0, pvec_collection_open_v2) is its handle's own object,
//    never in the Database's registry: sync() never refreshes it and it holds no chunks. Its
//    current_ is only the catalog row and model it last read (store/stream.cpp); every call
//    re-reads the row under the Database's mutex, in one read transaction of the connection, and
//    reads chunks from the file in that transaction.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/metric.h"
#include "common/status.h"
#include "model/model.h"
#include "search/exact.h"
#include "search/topk.h"
#include "store/catalog.h"
#include "store/chunk_file.h"
#include "store/database.h"
#include "store/raw_chunks.h"
#include "store/snapshot.h"
#include "store/sqlite_util.h"
#include "store/writer.h"

typedef struct ZSTD_CCtx_s ZSTD_CCtx;
typedef struct ZSTD_DCtx_s ZSTD_DCtx;

namespace pocketvec::store {


struct CollectionStats {
    uint64_t count = 0;
    uint64_t capacity = 0;
    uint64_t bytes_used = 0;
};

// A batch of items as the C API received it; vectors are row after row, metas optional.
struct ItemBatch {
    std::size_t n = 0;
    const int64_t *ids = nullptr;
    const float *vecs = nullptr;
    const char *const *metas = nullptr;
};

struct SearchSpec {
    std::size_t k = 10;
    std::size_t threads = 0;
    uint32_t oversample = 0;
    uint32_t rescore = 0;  // PVEC_RESCORE_*
    // Out, optional: raw vectors read for rescoring, summed over a batch's queries (on success).
    uint64_t *rescored = nullptr;
};

// What exact search (PVEC_RESCORE_EXACT) bounds a scanned slot by: its code error, the original
// vector's norm and the decoded code's squared norm (ResidentChunk's errs, norms, aux).
struct SlotBounds {
    float err = 0, norm = 0, aux = 0;
};

// What exact search reads besides raw vectors, resident (a snapshot's chunks) or streamed (what
// the windows held): the live count, the maxima over every live slot, and a scan of one query
// keeping `keep` candidates ranked by bound, each with its slot's bounds.
struct ExactScan {
    uint64_t count = 0;
    double err_max = 0, norm_max = 0, aux_max = 0;
    std::function<Status(std::size_t keep, std::vector<search::Hit> *found,
                         std::vector<SlotBounds> *bounds)>
        scan;
};

struct TrainSpec {
    std::optional<std::string> codec;  // empty = the collection's
    std::optional<uint32_t> pca_dim;   // empty = the collection's; 0 = none
    std::optional<uint32_t> flags;     // empty = the collection's
    uint32_t sample = 0;               // 0 = default
    uint64_t seed = 0;
};

// Where raw vectors are read from: the tier, and each chunk's slot count (a raw chunk row is sized
// by it), from a resident snapshot or, when streaming, from the chunks the scan read.
struct RawPlaces {
    uint32_t tier = 0;
    const Snapshot *snap = nullptr;
    const std::vector<std::size_t> *capacities = nullptr;
    std::size_t capacity(std::size_t chunk) const {
        return snap != nullptr ? snap->chunks[chunk]->capacity : (*capacities)[chunk];
    }
};

class Collection : public std::enable_shared_from_this<Collection> {
public:
    // memory_cap > 0: a streaming object for one handle (store/stream.cpp), not registered.
    Collection(Database &db, const CollectionMeta &meta, uint64_t memory_cap = 0);
    ~Collection();
    Collection(const Collection &) = delete;
    Collection &operator=(const Collection &) = delete;

    // Never change for the life of the object (they are part of the collection's identity).
    uint32_t dim() const { return dim_; }
    int64_t id() const { return id_; }
    int64_t uid() const { return uid_; }

    // The current state, pinned (any thread).
    SnapshotPtr snapshot() const;
    // Streaming mode: the cap on the bytes one search adds (0: resident).
    bool streaming() const { return memory_cap_ != 0; }
    uint64_t memory_cap() const { return memory_cap_; }
    // The smallest memory_cap a streaming search of a collection defined as `meta` accepts on
    // connection `conn`: its page cache's bound plus one resident chunk plus one chunk blob.
    static uint64_t min_memory_cap(sqlite3 *conn, const CollectionMeta &meta);
    // Streaming, the Database mutex held: the catalog row and model as of the caller's read
    // transaction (PVEC_NOTFOUND when dropped), and the cap checked against them. `committed`:
    // that transaction is a plain read one (no transaction was open before it), so what it reads
    // may be kept for later calls.
    Status stream_refresh(bool committed);
    // The live items: the snapshot's count, or when streaming the items table's (mutex held).
    Status count(uint64_t *out);
    bool dropped() const { return snapshot()->dropped; }

    // --- Called by Database, its mutex held, inside a transaction ---------------------------
    // Brings the snapshot up to the file: catalog row, model, chunks whose version moved. The
    // first call loads everything and cross-checks the items table. A failure leaves the
    // snapshot as it was and the collection marked stale (searches then wait for a reload).
    Status refresh();
    void mark_dropped();
    // The state a drop publishes, built before the drop commits (so that publishing cannot fail).
    SnapshotPtr dropped_state() const;
    // Publishes a state; inside a multi-call transaction the state before it is kept for a
    // rollback. Never fails.
    void publish(SnapshotPtr next) noexcept;
    // Creates the model of a codec with nothing to fit (f16, bf16 without PCA) in a new collection.
    Status init_untrained_model();
    // Transaction bookkeeping (commit / rollback hooks).
    void commit_txn() noexcept;
    void rollback_txn() noexcept;

    // --- The C API's operations (the Database mutex held by the caller, but for search) ------
    Status write(const ItemBatch &batch, bool upsert);
    Status remove(int64_t id);
    Status get(int64_t id, float *vec, std::string *meta, bool *has_meta);
    Status stats(CollectionStats *out);
    // Takes the Database mutex itself, only to bring the state up to date and to read raw
    // vectors; the scan runs on a pinned snapshot without it.
    Status search(const float *query, const SearchSpec &spec, std::vector<search::Hit> *hits);
    // n queries (n * dim floats) against one pinned snapshot; codes are scanned once for all.
    Status search_batch(const float *queries, std::size_t n, const SearchSpec &spec,
                        std::vector<std::vector<search::Hit>> *hits);
    Status train(const TrainSpec &spec);
    Status export_model(std::vector<uint8_t> *blob);
    Status import_model(const uint8_t *blob, std::size_t size);

    // pvec_db_check for this collection (catalog row `meta`), inside the caller's read transaction: the model, every
    // chunk, items row and raw vector against its checksum, and items against slots one to one.
    // Damage goes to *report; only a failure to read is returned.
    Status verify(const CollectionMeta &meta, DamageReport *report);

    // Checks a vector of dim() floats: all finite.
    Status check_vector(const float *v) const;

private:
    Status prepare();
    Status alive() const;
    // PVEC_RESCORE_EXACT of a trained collection: what it needs, checked against `snap`.
    static Status exact_supported(const Snapshot &snap, bool exact);
    // search_batch of a streaming handle (store/stream.cpp): chunks read through the cap.
    Status search_stream(const float *queries, std::size_t n, const SearchSpec &spec,
                         std::vector<std::vector<search::Hit>> *hits);
    Status stats_stream(CollectionStats *out);
    // get() of a streaming handle: the items row, and the one chunk holding the item.
    Status get_stream(int64_t id, float *vec, std::string *meta, bool *has_meta);
    // bytes_used of stats(): pages of this collection's tables (dbstat), else `chunk_bytes` plus
    // raw and metadata bytes.
    uint64_t measure_bytes(const CollectionMeta &meta, uint64_t chunk_bytes);
    Status check_meta_json(const char *json);
    // The slot of item `id` in a Snapshot or a Draft, checked against the items table.
    template <class View>
    Status find(const View &s, int64_t id, bool *found, SlotRef *loc);
    Status allocate_slot(Draft &d, SlotRef *loc);
    // The checksum of the items row of `id` at `loc` with metadata `meta` (null: none).
    uint32_t item_sum(int64_t id, const SlotRef &loc, const char *meta) const;
    uint32_t item_sum(int64_t id, const SlotRef &loc, std::string_view meta, bool has_meta) const;
    // The items row of `id` (columns chunk, slot, meta, sum of `row`) that points at `loc`:
    // PVEC_CORRUPT unless its sum matches; *has_meta, and *meta (may be null), from its meta.
    Status check_item_row(int64_t id, const SlotRef &loc, StmtUse &row, std::string *meta,
                          bool *has_meta) const;
    Status missing_item(const Snapshot &s, int64_t id) const;
    Status write_slot(Draft &d, const SlotRef &loc, int64_t id, const float *vec);
    Status write_one(Draft &d, int64_t id, const float *vec, const char *meta, bool upsert);
    // Sets the file versions of the draft's touched chunks (after bumping the collection's).
    Status finish(Draft &d);
    bool raw_per_chunk() const { return raw_per_chunk_; }
    // Stores item `id`'s raw vector, which lives at `loc` (in `fresh_raw`, the raw slots of the
    // draft's fresh chunk, when given).
    Status write_raw(const SlotRef &loc, int64_t id, const float *vec, uint8_t *fresh_raw);
    // Writes the draft's fresh chunk (writer.h) to the file in one INSERT of its rows.
    Status flush_fresh(Draft &d);
    // Item `id`'s raw vector (it lives at `loc` of snapshot `s`).
    Status read_raw(const RawPlaces &s, const SlotRef &loc, int64_t id, float *vec);
    static RawPlaces raw_places(const Snapshot &s) { return RawPlaces{s.meta.raw_tier, &s, nullptr}; }
    // One raw vector to read: the item, where it lives, where its dim floats go.
    struct RawWanted {
        int64_t id;
        SlotRef loc;
        float *out;
    };
    // Every wanted raw vector, read in storage order (item ids for one row per vector, chunk and
    // slot per chunk); leaves no blob handle open.
    Status read_raw_many(const RawPlaces &s, std::vector<RawWanted> wanted);
    Status decode_raw(uint32_t tier, int64_t id, const uint8_t *blob, std::size_t bytes,
                      float *vec);
    // The best available original vector of a live slot: raw tier, else exact codes.
    Status source_vector(const Snapshot &s, const SlotRef &loc, float *vec);
    bool needs_model(const CollectionMeta &m) const { return m.codec != "f32" || m.pca_dim > 0; }
    // Re-encodes every item under `model` (null = exact float32) into the draft.
    Status encode_all(const Snapshot &s, Draft &d, std::shared_ptr<const model::Model> model,
                      const std::string &codec, uint32_t pca_dim, uint32_t flags);
    // encode_all into a draft of `s`, then commits `scope` and publishes (training, import).
    Status reencode(Database::WriteScope &scope, const Snapshot &s,
                    std::shared_ptr<const model::Model> model, const std::string &codec,
                    uint32_t pca_dim, uint32_t flags);
    Status maybe_auto_train();
    // Rescoring: the exact best k of `candidates` from the raw tier, as of snapshot `s`.
    // PVEC_RESCORE_EXACT: the exact best k for one query (prepared as `mq`, bounded by `bounds`)
    // whose first scan kept `found` (best first, `keep` of them); widens the scan while an unkept
    // item could still beat the k-th.
    Status search_exact(const CollectionMeta &meta, const RawPlaces &places,
                        const ExactScan &source, const float *query,
                        const search::ScoreBounds &bounds, std::size_t k, std::size_t keep,
                        std::vector<search::Hit> found, std::vector<SlotBounds> found_bounds,
                        std::vector<search::Hit> *out, uint64_t *rescored);
    Status rescore_raw(Metric metric, const RawPlaces &s, const float *query, std::size_t k,
                       const std::vector<search::Hit> &candidates, std::vector<search::Hit> *out);

    Database &db_;
    const int64_t id_, uid_;
    const uint32_t dim_;
    const uint64_t memory_cap_;
    bool stream_committed_ = false;  // streaming: current_ was read outside any transaction

    mutable std::mutex snapshot_mutex_;
    SnapshotPtr current_;                        // guarded by snapshot_mutex_
    SnapshotPtr txn_base_;                       // guarded by snapshot_mutex_
    std::atomic<bool> stale_{true};              // the last refresh failed, or none ran yet
    bool loaded_ = false;

    ChunkFile chunk_file_;
    const bool raw_per_chunk_;  // kFlagRawChunks: raw vectors in raw_chunks_, else one row each
    RawChunks raw_chunks_;
    Stmt find_stmt_, insert_stmt_, update_meta_stmt_, delete_stmt_, get_stmt_, json_valid_stmt_, json_check_stmt_,
        raw_put_stmt_, raw_get_stmt_, raw_delete_stmt_;
    ZSTD_CCtx *zc_ = nullptr;
    ZSTD_DCtx *zd_ = nullptr;
    std::vector<uint8_t> raw_buf_;  // a raw vector as stored, reused
    std::vector<uint8_t> code_buf_;  // one slot's code, reused
    // The last flushed new chunk's buffers (Draft::FreshChunk), kept for the next one of the same
    // write call and freed at its end (finish).
    std::vector<uint8_t> spare_codes_, spare_raw_;
    int64_t bytes_version_ = -1;  // the collection version bytes_used_ was measured at
    uint64_t bytes_used_ = 0;
};

}  // namespace pocketvec::store
