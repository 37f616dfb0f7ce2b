// One collection: its row in pvec_collections, its two tables, and its resident chunks.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/metric.h"
#include "common/status.h"
#include "search/topk.h"
#include "store/arena.h"
#include "store/chunk_format.h"
#include "store/sqlite_util.h"

namespace pocketvec::store {

class Database;

struct CollectionMeta {
    int64_t id = 0;
    std::string name;
    uint32_t dim = 0;
    Metric metric = Metric::cosine;
    std::string codec;
    uint32_t chunk_capacity = kChunkSlots;
    uint32_t code_bytes = 0;
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

class Collection {
public:
    Collection(Database &db, CollectionMeta meta);
    Collection(const Collection &) = delete;
    Collection &operator=(const Collection &) = delete;

    const CollectionMeta &meta() const { return meta_; }
    bool dropped() const { return dropped_; }
    void set_dropped(bool d) { dropped_ = d; }
    std::string items_table() const;
    std::string chunks_table() const;

    // Creates the tables of a new collection (inside the caller's write scope).
    Status create_tables();
    // (Re)reads every chunk into memory and checks it against the items table.
    Status load();

    // Validates everything first, then writes all items in one write scope.
    Status write(const ItemBatch &batch, bool upsert);
    Status remove(int64_t id);
    Status get(int64_t id, float *vec, std::string *meta, bool *has_meta);
    uint64_t count() const;
    Status stats(CollectionStats *out);
    Status search(const float *query, std::size_t k, std::size_t threads,
                  std::vector<search::Hit> *hits);

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
    Status write_slot(const Location &loc, int64_t id, const float *vec, bool set_live);
    Status write_one(int64_t id, const float *vec, const char *meta, bool upsert);
    ChunkLayout layout() const { return ChunkLayout{meta_.chunk_capacity, meta_.code_bytes}; }

    Database &db_;
    CollectionMeta meta_;
    bool dropped_ = false;
    std::vector<std::unique_ptr<ResidentChunk>> chunks_;
    std::set<uint64_t> free_slots_;  // chunk * capacity + slot, lowest reused first
    Blob blob_;
    Stmt find_stmt_, insert_stmt_, update_meta_stmt_, delete_stmt_, get_stmt_, new_chunk_stmt_,
        json_valid_stmt_;
};

}  // namespace pocketvec::store
