// One collection: its row in pvec_collections, its tables, its model and its resident chunks.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/metric.h"
#include "common/status.h"
#include "model/model.h"
#include "search/topk.h"
#include "store/arena.h"
#include "store/chunk_format.h"
#include "store/sqlite_util.h"

namespace pocketvec::store {

class Database;

constexpr uint32_t kRawNone = 0;
constexpr uint32_t kRawZstdF32 = 1;
constexpr uint32_t kTrainNever = 0xFFFFFFFFu;
constexpr uint32_t kFlagPcaRotate = 0x1u;

struct CollectionMeta {
    int64_t id = 0;
    std::string name;
    uint32_t dim = 0;
    Metric metric = Metric::cosine;
    std::string codec = "f32";  // the codec codes use once trained
    uint32_t pca_dim = 0;       // 0 = none
    uint32_t raw_tier = kRawNone;
    uint32_t train_threshold = 0;  // 0 = max(1024, 2 * dim)
    uint32_t flags = 0;
    uint32_t chunk_capacity = kChunkSlots;  // the most slots a chunk grows to
    uint32_t code_bytes = 0;       // of the codes now in the chunks
    uint32_t model_version = 0;    // 0 = no model: codes are exact float32
};

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
};

struct TrainSpec {
    std::optional<std::string> codec;  // empty = the collection's
    std::optional<uint32_t> pca_dim;   // empty = the collection's; 0 = none
    std::optional<uint32_t> flags;     // empty = the collection's
    uint32_t sample = 0;               // 0 = default
    uint64_t seed = 0;
};

class Collection {
public:
    Collection(Database &db, CollectionMeta meta);
    Collection(const Collection &) = delete;
    Collection &operator=(const Collection &) = delete;

    const CollectionMeta &meta() const { return meta_; }
    bool dropped() const { return dropped_; }
    void set_dropped(bool d) { dropped_ = d; }
    bool trained() const { return model_.has_value(); }
    std::string items_table() const;
    std::string chunks_table() const;
    std::string raw_table() const;

    // Creates the tables of a new collection (inside the caller's write scope), and its model
    // right away when the codec needs no fitting (f16, bf16 without PCA).
    Status create_tables();
    // (Re)reads the model and every chunk into memory and checks them against the items table.
    Status load();

    // Validates everything first, then writes all items in one write scope.
    Status write(const ItemBatch &batch, bool upsert);
    Status remove(int64_t id);
    Status get(int64_t id, float *vec, std::string *meta, bool *has_meta);
    uint64_t count() const;
    Status stats(CollectionStats *out);
    Status search(const float *query, const SearchSpec &spec, std::vector<search::Hit> *hits);

    Status train(const TrainSpec &spec);
    Status export_model(std::vector<uint8_t> *blob);
    Status import_model(const uint8_t *blob, std::size_t size);

    // Checks a vector of meta_.dim floats: all finite.
    Status check_vector(const float *v) const;

private:
    struct Location {
        std::size_t chunk;
        std::size_t slot;
    };
    Status prepare();
    // NOTFOUND once dropped (here or by another connection), after catching up with the file.
    Status refresh();
    Status check_meta_json(const char *json);
    Status find(int64_t id, bool *found, Location *loc);
    Status allocate_slot(Location *loc);
    std::unique_ptr<ResidentChunk> new_chunk() const;
    // The code of `vec` under the current model (exact float32 bytes without one).
    void encode(const float *vec, uint8_t *code) const;
    Status write_slot(const Location &loc, int64_t id, const float *vec, bool set_live);
    Status write_one(int64_t id, const float *vec, const char *meta, bool upsert);
    Status write_raw(int64_t id, const float *vec);
    Status read_raw(int64_t id, float *vec);
    // The best available original vector of a live slot: raw tier, else exact codes.
    Status source_vector(const Location &loc, float *vec);
    bool needs_model() const { return meta_.codec != "f32" || meta_.pca_dim > 0; }
    // Re-encodes every item under `model` (none = exact float32) in one write scope.
    Status apply_model(std::optional<model::Model> model, const std::string &codec,
                       uint32_t pca_dim, uint32_t flags);
    Status maybe_auto_train();
    ChunkLayout layout_of(std::size_t chunk) const {
        return ChunkLayout{chunks_[chunk]->capacity, meta_.code_bytes};
    }
    // Rewrites the last chunk with kChunkGrowth more slots.
    Status grow_last_chunk();
    // The chunk's blob in `lay` built from its resident copy (whose codes are already encoded).
    void chunk_blob(const ResidentChunk &chunk, const ChunkLayout &lay, std::vector<uint8_t> *out) const;

    Database &db_;
    CollectionMeta meta_;
    bool dropped_ = false;
    std::optional<model::Model> model_;
    std::vector<std::unique_ptr<ResidentChunk>> chunks_;
    std::set<uint64_t> free_slots_;  // chunk * capacity + slot, lowest reused first
    Blob blob_;
    Stmt find_stmt_, insert_stmt_, update_meta_stmt_, delete_stmt_, get_stmt_, new_chunk_stmt_,
        json_valid_stmt_, raw_put_stmt_, raw_get_stmt_, raw_delete_stmt_, grow_stmt_;
};

}  // namespace pocketvec::store
