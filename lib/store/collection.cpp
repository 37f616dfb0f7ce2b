#include "store/collection.h"

#include <cmath>
#include <cstring>

#include "search/scan.h"
#include "store/database.h"

namespace pocketvec::store {
namespace {

constexpr std::size_t kMaxMetaBytes = 1u << 20;

// Norm in double so that cosine scores of long vectors keep float precision.
float l2_norm(const float *v, std::size_t n) {
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) {
        s += static_cast<double>(v[i]) * v[i];
    }
    return static_cast<float>(std::sqrt(s));
}

float inverse(float norm) { return norm > 0 ? 1.0f / norm : 0.0f; }

// Closes the chunk blob handle before the enclosing write scope commits or rolls back: an open
// blob counts as an active statement and would make COMMIT fail.
struct BlobCloser {
    Blob &blob;
    ~BlobCloser() { blob.close(); }
};

}  // namespace

Collection::Collection(Database &db, CollectionMeta meta) : db_(db), meta_(std::move(meta)) {}

std::string Collection::items_table() const {
    return "pvec_c" + std::to_string(meta_.id) + "_items";
}
std::string Collection::chunks_table() const {
    return "pvec_c" + std::to_string(meta_.id) + "_chunks";
}

Status Collection::create_tables() {
    const std::string sql =
        "CREATE TABLE " + items_table() +
        "(id INTEGER PRIMARY KEY, chunk INTEGER NOT NULL, slot INTEGER NOT NULL, meta TEXT);"
        "CREATE TABLE " + chunks_table() + "(id INTEGER PRIMARY KEY, data BLOB NOT NULL);";
    return exec(db_.conn(), sql.c_str());
}

Status Collection::prepare() {
    if (find_stmt_.prepared()) {
        return Status::ok();
    }
    sqlite3 *c = db_.conn();
    const std::string items = items_table();
    PVEC_FORWARD_IF_ERROR(find_stmt_.prepare(c, "SELECT chunk, slot FROM " + items + " WHERE id = ?1"));
    PVEC_FORWARD_IF_ERROR(insert_stmt_.prepare(
        c, "INSERT INTO " + items + "(id, chunk, slot, meta) VALUES(?1, ?2, ?3, ?4)"));
    PVEC_FORWARD_IF_ERROR(
        update_meta_stmt_.prepare(c, "UPDATE " + items + " SET meta = ?2 WHERE id = ?1"));
    PVEC_FORWARD_IF_ERROR(delete_stmt_.prepare(c, "DELETE FROM " + items + " WHERE id = ?1"));
    PVEC_FORWARD_IF_ERROR(
        get_stmt_.prepare(c, "SELECT chunk, slot, meta FROM " + items + " WHERE id = ?1"));
    PVEC_FORWARD_IF_ERROR(new_chunk_stmt_.prepare(
        c, "INSERT INTO " + chunks_table() + "(id, data) VALUES(?1, ?2)"));
    PVEC_FORWARD_IF_ERROR(json_valid_stmt_.prepare(c, "SELECT json_valid(?1)"));
    return Status::ok();
}

Status Collection::load() {
    PVEC_FORWARD_IF_ERROR(prepare());
    sqlite3 *c = db_.conn();
    const ChunkLayout lay = layout();
    const std::string where = "collection '" + meta_.name + "'";
    std::vector<std::unique_ptr<ResidentChunk>> chunks;
    std::set<uint64_t> free_slots;
    uint64_t live_total = 0;

    Stmt s;
    PVEC_FORWARD_IF_ERROR(s.prepare(c, "SELECT id, data FROM " + chunks_table() + " ORDER BY id"));
    {
        StmtUse use(s);
        int rc;
        std::vector<float> row(meta_.dim);
        while ((rc = use.step()) == SQLITE_ROW) {
            PVEC_RETURN_IF(use.int64(0) != static_cast<int64_t>(chunks.size()), PVEC_CORRUPT,
                           where + ": chunk ids are not contiguous");
            PVEC_RETURN_IF(use.bytes(1) != lay.total_bytes(), PVEC_CORRUPT,
                           where + ": chunk " + std::to_string(chunks.size()) + " has " +
                               std::to_string(use.bytes(1)) + " bytes, expected " +
                               std::to_string(lay.total_bytes()));
            const auto *data = static_cast<const uint8_t *>(use.blob(1));
            auto chunk = std::make_unique<ResidentChunk>(meta_.dim);
            for (std::size_t slot = 0; slot < kChunkSlots; ++slot) {
                const bool live = (data[lay.live_offset() + slot / 8] >> (slot % 8)) & 1u;
                if (!live) {
                    free_slots.insert(chunks.size() * kChunkSlots + slot);
                    continue;
                }
                chunk->set_live(slot, true);
                std::memcpy(&chunk->ids[slot], data + lay.id_offset(slot), 8);
                std::memcpy(&chunk->norms[slot], data + lay.norm_offset(slot), 4);
                chunk->inv_norms[slot] = inverse(chunk->norms[slot]);
                std::memcpy(row.data(), data + lay.code_offset(slot), lay.code_bytes);
                chunk->put_vector(slot, row.data());
            }
            live_total += chunk->live_count;
            chunks.push_back(std::move(chunk));
        }
        if (rc != SQLITE_DONE) {
            return sqlite_status(c, rc, "reading the chunks of " + where);
        }
    }
    Stmt n;
    PVEC_FORWARD_IF_ERROR(n.prepare(c, "SELECT count(*) FROM " + items_table()));
    {
        StmtUse use(n);
        int rc = use.step();
        if (rc != SQLITE_ROW) {
            return sqlite_status(c, rc, "counting the items of " + where);
        }
        PVEC_RETURN_IF(static_cast<uint64_t>(use.int64(0)) != live_total, PVEC_CORRUPT,
                       where + ": the items table and the chunks disagree on the item count");
    }
    chunks_ = std::move(chunks);
    free_slots_ = std::move(free_slots);
    return Status::ok();
}

Status Collection::refresh() {
    PVEC_RETURN_IF(dropped_, PVEC_NOTFOUND, "the collection was dropped");
    PVEC_FORWARD_IF_ERROR(db_.sync());
    PVEC_RETURN_IF(dropped_, PVEC_NOTFOUND, "the collection was dropped");
    return Status::ok();
}

Status Collection::check_vector(const float *v) const {
    for (std::size_t i = 0; i < meta_.dim; ++i) {
        PVEC_RETURN_IF(!std::isfinite(v[i]), PVEC_INVALID,
                       "component " + std::to_string(i) + " is NaN or infinite");
    }
    return Status::ok();
}

Status Collection::check_meta_json(const char *json) {
    if (json == nullptr) {
        return Status::ok();
    }
    const std::size_t len = strnlen(json, kMaxMetaBytes + 1);
    PVEC_RETURN_IF(len > kMaxMetaBytes, PVEC_RANGE, "metadata is larger than 1 MiB");
    StmtUse use(json_valid_stmt_);
    use.bind_static(1, std::string_view(json, len));
    int rc = use.step();
    if (rc != SQLITE_ROW) {
        return sqlite_status(db_.conn(), rc, "validating metadata");
    }
    PVEC_RETURN_IF(use.int64(0) != 1, PVEC_INVALID, "metadata is not valid JSON");
    return Status::ok();
}

Status Collection::find(int64_t id, bool *found, Location *loc) {
    StmtUse use(find_stmt_);
    use.bind(1, id);
    int rc = use.step();
    if (rc == SQLITE_DONE) {
        *found = false;
        return Status::ok();
    }
    if (rc != SQLITE_ROW) {
        return sqlite_status(db_.conn(), rc, "looking up an item");
    }
    const int64_t chunk = use.int64(0), slot = use.int64(1);
    PVEC_RETURN_IF(chunk < 0 || static_cast<std::size_t>(chunk) >= chunks_.size() || slot < 0 ||
                       slot >= static_cast<int64_t>(kChunkSlots) ||
                       !chunks_[chunk]->is_live(static_cast<std::size_t>(slot)) ||
                       chunks_[chunk]->ids[slot] != id,
                   PVEC_CORRUPT, "item " + std::to_string(id) + " points to an invalid slot");
    *found = true;
    *loc = Location{static_cast<std::size_t>(chunk), static_cast<std::size_t>(slot)};
    return Status::ok();
}

Status Collection::allocate_slot(Location *loc) {
    if (free_slots_.empty()) {
        const std::size_t index = chunks_.size();
        {
            StmtUse use(new_chunk_stmt_);
            use.bind(1, static_cast<int64_t>(index));
            use.bind_zeroblob(2, layout().total_bytes());
            int rc = use.step();
            if (rc != SQLITE_DONE) {
                return sqlite_status(db_.conn(), rc, "adding a chunk");
            }
        }
        chunks_.push_back(std::make_unique<ResidentChunk>(meta_.dim));
        for (std::size_t s = 0; s < kChunkSlots; ++s) {
            free_slots_.insert(index * kChunkSlots + s);
        }
        db_.push_undo([this, index] {
            chunks_.pop_back();
            free_slots_.erase(free_slots_.lower_bound(index * kChunkSlots), free_slots_.end());
        });
    }
    const uint64_t g = *free_slots_.begin();
    *loc = Location{static_cast<std::size_t>(g / kChunkSlots), static_cast<std::size_t>(g % kChunkSlots)};
    return Status::ok();
}

// Writes id, norm and code of one slot to the file (in place), then to the resident chunk with an
// undo entry. `set_live` marks a free slot as taken.
Status Collection::write_slot(const Location &loc, int64_t id, const float *vec, bool set_live) {
    const ChunkLayout lay = layout();
    ResidentChunk &chunk = *chunks_[loc.chunk];
    const float norm = l2_norm(vec, meta_.dim);

    PVEC_FORWARD_IF_ERROR(blob_.open(db_.conn(), chunks_table(), "data",
                                     static_cast<int64_t>(loc.chunk), true));
    PVEC_FORWARD_IF_ERROR(blob_.write(vec, lay.code_bytes, lay.code_offset(loc.slot)));
    PVEC_FORWARD_IF_ERROR(blob_.write(&norm, 4, lay.norm_offset(loc.slot)));
    PVEC_FORWARD_IF_ERROR(blob_.write(&id, 8, lay.id_offset(loc.slot)));
    if (set_live) {
        const uint8_t byte = chunk.live_byte(loc.slot) | uint8_t(1u << (loc.slot % 8));
        PVEC_FORWARD_IF_ERROR(blob_.write(&byte, 1, lay.live_offset() + loc.slot / 8));
    }

    // Resident copy, with the way back. A fresh slot's previous content is all zeros, so only an
    // overwrite (upsert) needs to keep the old code.
    std::vector<float> old;
    if (!set_live) {
        old.resize(meta_.dim);
        chunk.get_vector(loc.slot, old.data());
    }
    const float old_norm = chunk.norms[loc.slot];
    const std::size_t slot = loc.slot;
    const uint64_t global = loc.chunk * kChunkSlots + loc.slot;
    db_.push_undo([this, &chunk, slot, global, set_live, old = std::move(old), old_norm] {
        if (set_live) {
            std::vector<float> zeros(meta_.dim, 0.0f);
            chunk.put_vector(slot, zeros.data());
            chunk.set_live(slot, false);
            chunk.ids[slot] = 0;
            free_slots_.insert(global);
        } else {
            chunk.put_vector(slot, old.data());
        }
        chunk.norms[slot] = old_norm;
        chunk.inv_norms[slot] = inverse(old_norm);
    });
    chunk.put_vector(slot, vec);
    chunk.norms[slot] = norm;
    chunk.inv_norms[slot] = inverse(norm);
    chunk.ids[slot] = id;
    if (set_live) {
        chunk.set_live(slot, true);
        free_slots_.erase(global);
    }
    return Status::ok();
}

Status Collection::write_one(int64_t id, const float *vec, const char *meta, bool upsert) {
    bool found;
    Location loc;
    PVEC_FORWARD_IF_ERROR(find(id, &found, &loc));
    if (found) {
        PVEC_RETURN_IF(!upsert, PVEC_EXISTS, "item " + std::to_string(id) + " already exists");
        {
            StmtUse use(update_meta_stmt_);
            use.bind(1, id);
            meta ? use.bind_static(2, meta) : use.bind_null(2);
            int rc = use.step();
            if (rc != SQLITE_DONE) {
                return sqlite_status(db_.conn(), rc, "updating item " + std::to_string(id));
            }
        }
        return write_slot(loc, id, vec, false);
    }
    PVEC_FORWARD_IF_ERROR(allocate_slot(&loc));
    {
        StmtUse use(insert_stmt_);
        use.bind(1, id);
        use.bind(2, static_cast<int64_t>(loc.chunk));
        use.bind(3, static_cast<int64_t>(loc.slot));
        meta ? use.bind_static(4, meta) : use.bind_null(4);
        int rc = use.step();
        if (rc != SQLITE_DONE) {
            return sqlite_status(db_.conn(), rc, "inserting item " + std::to_string(id));
        }
    }
    return write_slot(loc, id, vec, true);
}

Status Collection::write(const ItemBatch &batch, bool upsert) {
    PVEC_FORWARD_IF_ERROR(refresh());
    PVEC_RETURN_IF(db_.readonly(), PVEC_READONLY, "the database is open read-only");
    // Everything is checked before the first write, so a bad item costs no rollback.
    for (std::size_t i = 0; i < batch.n; ++i) {
        Status st = check_vector(batch.vecs + i * meta_.dim);
        if (st.is_ok() && batch.metas) {
            st = check_meta_json(batch.metas[i]);
        }
        if (!st.is_ok()) {
            return batch.n == 1 ? st
                                : error(st.code(), "item " + std::to_string(i) + " (id " +
                                                       std::to_string(batch.ids[i]) + "): " +
                                                       st.message());
        }
    }
    Database::WriteScope scope(db_);
    PVEC_FORWARD_IF_ERROR(scope.begin());
    {
        BlobCloser closer{blob_};
        for (std::size_t i = 0; i < batch.n; ++i) {
            PVEC_FORWARD_IF_ERROR(write_one(batch.ids[i], batch.vecs + i * meta_.dim,
                                            batch.metas ? batch.metas[i] : nullptr, upsert));
        }
    }
    return scope.commit();
}

Status Collection::remove(int64_t id) {
    PVEC_FORWARD_IF_ERROR(refresh());
    PVEC_RETURN_IF(db_.readonly(), PVEC_READONLY, "the database is open read-only");
    Database::WriteScope scope(db_);
    PVEC_FORWARD_IF_ERROR(scope.begin());
    bool found;
    Location loc;
    PVEC_FORWARD_IF_ERROR(find(id, &found, &loc));
    PVEC_RETURN_IF(!found, PVEC_NOTFOUND, "no item with id " + std::to_string(id));
    {
        StmtUse use(delete_stmt_);
        use.bind(1, id);
        int rc = use.step();
        if (rc != SQLITE_DONE) {
            return sqlite_status(db_.conn(), rc, "deleting item " + std::to_string(id));
        }
    }
    ResidentChunk &chunk = *chunks_[loc.chunk];
    const ChunkLayout lay = layout();
    {
        // The code, id and norm are zeroed too: a deleted vector does not linger in the file.
        BlobCloser closer{blob_};
        PVEC_FORWARD_IF_ERROR(blob_.open(db_.conn(), chunks_table(), "data",
                                         static_cast<int64_t>(loc.chunk), true));
        const uint8_t byte = chunk.live_byte(loc.slot) & uint8_t(~(1u << (loc.slot % 8)));
        PVEC_FORWARD_IF_ERROR(blob_.write(&byte, 1, lay.live_offset() + loc.slot / 8));
        const std::vector<uint8_t> zeros(lay.code_bytes + 8, 0);
        PVEC_FORWARD_IF_ERROR(blob_.write(zeros.data(), 8, lay.id_offset(loc.slot)));
        PVEC_FORWARD_IF_ERROR(blob_.write(zeros.data(), 4, lay.norm_offset(loc.slot)));
        PVEC_FORWARD_IF_ERROR(blob_.write(zeros.data(), lay.code_bytes, lay.code_offset(loc.slot)));
    }
    std::vector<float> old(meta_.dim);
    chunk.get_vector(loc.slot, old.data());
    const float old_norm = chunk.norms[loc.slot];
    const std::size_t slot = loc.slot;
    const uint64_t global = loc.chunk * kChunkSlots + loc.slot;
    db_.push_undo([this, &chunk, slot, global, id, old = std::move(old), old_norm] {
        chunk.put_vector(slot, old.data());
        chunk.norms[slot] = old_norm;
        chunk.inv_norms[slot] = inverse(old_norm);
        chunk.ids[slot] = id;
        chunk.set_live(slot, true);
        free_slots_.erase(global);
    });
    const std::vector<float> zeros(meta_.dim, 0.0f);
    chunk.put_vector(slot, zeros.data());
    chunk.norms[slot] = 0;
    chunk.inv_norms[slot] = 0;
    chunk.ids[slot] = 0;
    chunk.set_live(slot, false);
    free_slots_.insert(global);
    return scope.commit();
}

Status Collection::get(int64_t id, float *vec, std::string *meta, bool *has_meta) {
    PVEC_FORWARD_IF_ERROR(refresh());
    StmtUse use(get_stmt_);
    use.bind(1, id);
    int rc = use.step();
    if (rc == SQLITE_DONE) {
        return error(PVEC_NOTFOUND, "no item with id " + std::to_string(id));
    }
    if (rc != SQLITE_ROW) {
        return sqlite_status(db_.conn(), rc, "reading item " + std::to_string(id));
    }
    const int64_t chunk = use.int64(0), slot = use.int64(1);
    PVEC_RETURN_IF(chunk < 0 || static_cast<std::size_t>(chunk) >= chunks_.size() || slot < 0 ||
                       slot >= static_cast<int64_t>(kChunkSlots) ||
                       !chunks_[chunk]->is_live(static_cast<std::size_t>(slot)),
                   PVEC_CORRUPT, "item " + std::to_string(id) + " points to an invalid slot");
    if (vec) {
        chunks_[chunk]->get_vector(static_cast<std::size_t>(slot), vec);
    }
    *has_meta = !use.is_null(2);
    if (meta && *has_meta) {
        *meta = std::string(use.text(2));
    }
    return Status::ok();
}

uint64_t Collection::count() const {
    uint64_t n = 0;
    for (const auto &c : chunks_) {
        n += c->live_count;
    }
    return n;
}

Status Collection::stats(CollectionStats *out) {
    PVEC_FORWARD_IF_ERROR(refresh());
    out->count = count();
    out->capacity = chunks_.size() * kChunkSlots;
    // Pages really used, when SQLite has the dbstat table; else the payload bytes.
    Stmt s;
    if (s.prepare(db_.conn(), "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN (?1, ?2)")
            .is_ok()) {
        StmtUse use(s);
        const std::string a = items_table(), b = chunks_table();
        use.bind(1, std::string_view(a));
        use.bind(2, std::string_view(b));
        if (use.step() == SQLITE_ROW) {
            out->bytes_used = static_cast<uint64_t>(use.int64(0));
            return Status::ok();
        }
    }
    Stmt t;
    PVEC_FORWARD_IF_ERROR(
        t.prepare(db_.conn(), "SELECT coalesce(sum(length(meta)), 0) + count(*) * 24 FROM " +
                                  items_table()));
    StmtUse use(t);
    int rc = use.step();
    if (rc != SQLITE_ROW) {
        return sqlite_status(db_.conn(), rc, "measuring collection '" + meta_.name + "'");
    }
    out->bytes_used = static_cast<uint64_t>(use.int64(0)) + chunks_.size() * layout().total_bytes();
    return Status::ok();
}

Status Collection::search(const float *query, std::size_t k, std::size_t threads,
                          std::vector<search::Hit> *hits) {
    PVEC_FORWARD_IF_ERROR(refresh());
    PVEC_FORWARD_IF_ERROR(check_vector(query));
    PVEC_RETURN_IF(k == 0, PVEC_RANGE, "k must be at least 1");
    std::vector<search::BlockView> blocks;
    blocks.reserve(chunks_.size());
    for (const auto &c : chunks_) {
        blocks.push_back(search::BlockView{c->codes(), c->ids, c->live, c->inv_norms});
    }
    const std::size_t limit = std::min<std::size_t>(k, count());
    *hits = search::scan_exact(search::Query{meta_.metric, query, meta_.dim, limit, threads}, blocks);
    return Status::ok();
}

}  // namespace pocketvec::store
