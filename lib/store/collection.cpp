#include "store/collection.h"

#include <zstd.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "codec/codec.h"
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

// What the scan needs per slot under `model`: the decoded code's squared norm (l2) for compressed
// codes, 1 / norm (cosine) for exact float32 ones.
float scan_aux(const std::optional<model::Model> &model, const uint8_t *code, float norm) {
    return model ? codec::decoded_norm2(model->codec, code) : inverse(norm);
}

}  // namespace

Collection::Collection(Database &db, CollectionMeta meta) : db_(db), meta_(std::move(meta)) {}

std::string Collection::items_table() const {
    return "pvec_c" + std::to_string(meta_.id) + "_items";
}
std::string Collection::chunks_table() const {
    return "pvec_c" + std::to_string(meta_.id) + "_chunks";
}
std::string Collection::raw_table() const {
    return "pvec_c" + std::to_string(meta_.id) + "_raw";
}

Status Collection::create_tables() {
    std::string sql =
        "CREATE TABLE " + items_table() +
        "(id INTEGER PRIMARY KEY, chunk INTEGER NOT NULL, slot INTEGER NOT NULL, meta TEXT);"
        "CREATE TABLE " + chunks_table() +
        "(id INTEGER PRIMARY KEY, capacity INTEGER NOT NULL, data BLOB NOT NULL);";
    if (meta_.raw_tier != kRawNone) {
        sql += "CREATE TABLE " + raw_table() + "(id INTEGER PRIMARY KEY, vec BLOB NOT NULL);";
    }
    PVEC_FORWARD_IF_ERROR(exec(db_.conn(), sql.c_str()));
    codec::CodecId id;
    if (meta_.pca_dim == 0 && meta_.codec != "f32" && codec::codec_from_name(meta_.codec, &id) &&
        !codec::codec_needs_training(id)) {
        // f16 / bf16 have nothing to fit: their model exists from the start.
        model::Model m;
        PVEC_FORWARD_IF_ERROR(model::fit(nullptr, 0, meta_.dim, meta_.metric, id, 0, false, 0, &m));
        PVEC_FORWARD_IF_ERROR(prepare());
        return apply_model(std::move(m), meta_.codec, 0, meta_.flags);
    }
    return Status::ok();
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
        c, "INSERT INTO " + chunks_table() + "(id, capacity, data) VALUES(?1, ?2, ?3)"));
    PVEC_FORWARD_IF_ERROR(grow_stmt_.prepare(
        c, "UPDATE " + chunks_table() + " SET capacity = ?2, data = ?3 WHERE id = ?1"));
    PVEC_FORWARD_IF_ERROR(json_valid_stmt_.prepare(c, "SELECT json_valid(?1)"));
    if (meta_.raw_tier != kRawNone) {
        const std::string raw = raw_table();
        PVEC_FORWARD_IF_ERROR(raw_put_stmt_.prepare(
            c, "INSERT OR REPLACE INTO " + raw + "(id, vec) VALUES(?1, ?2)"));
        PVEC_FORWARD_IF_ERROR(raw_get_stmt_.prepare(c, "SELECT vec FROM " + raw + " WHERE id = ?1"));
        PVEC_FORWARD_IF_ERROR(raw_delete_stmt_.prepare(c, "DELETE FROM " + raw + " WHERE id = ?1"));
    }
    return Status::ok();
}

std::unique_ptr<ResidentChunk> Collection::new_chunk() const {
    return std::make_unique<ResidentChunk>(meta_.code_bytes);
}

void Collection::encode(const float *vec, uint8_t *code) const {
    if (model_) {
        model::encode(*model_, vec, code);
    } else {
        std::memcpy(code, vec, meta_.dim * sizeof(float));
    }
}



Status Collection::load() {
    {
        // A statement that does not prepare means tables of another shape: damage, not a bug.
        Status st = prepare();
        PVEC_RETURN_IF(st.code() == PVEC_ERROR, PVEC_CORRUPT,
                       "collection '" + meta_.name + "' has damaged tables: " + st.message());
        PVEC_FORWARD_IF_ERROR(st);
    }
    sqlite3 *c = db_.conn();
    const std::string where = "collection '" + meta_.name + "'";

    // The model first: it decides the code size and the resident layout.
    std::optional<model::Model> model;
    {
        Stmt s;
        PVEC_FORWARD_IF_ERROR(s.prepare(c,
            "SELECT m.version, m.blob, m.checksum FROM pvec_collections c"
            " JOIN pvec_models m ON m.id = c.model_id WHERE c.id = ?1"));
        StmtUse use(s);
        use.bind(1, meta_.id);
        int rc = use.step();
        if (rc == SQLITE_ROW) {
            const auto *blob = static_cast<const uint8_t *>(use.blob(1));
            PVEC_RETURN_IF(static_cast<uint64_t>(use.int64(2)) != model::checksum(blob, use.bytes(1)),
                           PVEC_CORRUPT, where + ": the model's checksum does not match");
            model::Model m;
            Status st = model::Model::deserialize(blob, use.bytes(1), &m);
            PVEC_RETURN_IF(!st.is_ok(), st.code(), where + ": " + st.message());
            PVEC_RETURN_IF(m.dim != meta_.dim || m.metric != meta_.metric ||
                               m.code_bytes() != meta_.code_bytes,
                           PVEC_CORRUPT, where + ": the model does not match the collection");
            meta_.model_version = static_cast<uint32_t>(use.int64(0));
            model = std::move(m);
        } else if (rc == SQLITE_DONE) {
            PVEC_RETURN_IF(meta_.code_bytes != meta_.dim * 4, PVEC_CORRUPT,
                           where + ": codes are compressed but the model is missing");
            meta_.model_version = 0;
        } else {
            return sqlite_status(c, rc, "reading the model of " + where);
        }
    }
    model_ = std::move(model);

    std::vector<std::unique_ptr<ResidentChunk>> chunks;
    std::set<uint64_t> free_slots;
    uint64_t live_total = 0;
    Stmt s;
    PVEC_FORWARD_IF_ERROR(
        s.prepare(c, "SELECT id, capacity, data FROM " + chunks_table() + " ORDER BY id"));
    {
        StmtUse use(s);
        int rc;
        while ((rc = use.step()) == SQLITE_ROW) {
            const std::string which = where + ": chunk " + std::to_string(chunks.size());
            PVEC_RETURN_IF(use.int64(0) != static_cast<int64_t>(chunks.size()), PVEC_CORRUPT,
                           where + ": chunk ids are not contiguous");
            const int64_t capacity = use.int64(1);
            PVEC_RETURN_IF(capacity < int64_t(kChunkGrowth) || capacity > int64_t(kChunkSlots) ||
                               capacity % kChunkGrowth != 0,
                           PVEC_CORRUPT, which + " has an invalid capacity");
            const ChunkLayout lay{static_cast<std::size_t>(capacity), meta_.code_bytes};
            PVEC_RETURN_IF(use.bytes(2) != lay.total_bytes(), PVEC_CORRUPT,
                           which + " has " + std::to_string(use.bytes(2)) + " bytes, expected " +
                               std::to_string(lay.total_bytes()));
            const auto *data = static_cast<const uint8_t *>(use.blob(2));
            auto chunk = new_chunk();
            chunk->capacity = lay.capacity;
            for (std::size_t slot = 0; slot < lay.capacity; ++slot) {
                const bool live = (data[lay.live_offset() + slot / 8] >> (slot % 8)) & 1u;
                if (!live) {
                    free_slots.insert(chunks.size() * kChunkSlots + slot);
                    continue;
                }
                chunk->set_live(slot, true);
                std::memcpy(&chunk->ids[slot], data + lay.id_offset(slot), 8);
                std::memcpy(&chunk->norms[slot], data + lay.norm_offset(slot), 4);
                const uint8_t *code = data + lay.code_offset(slot);
                chunk->write_code(slot, code);
                chunk->aux[slot] = scan_aux(model_, code, chunk->norms[slot]);
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
                       slot >= static_cast<int64_t>(chunks_[chunk]->capacity) ||
                       !chunks_[chunk]->is_live(static_cast<std::size_t>(slot)) ||
                       chunks_[chunk]->ids[slot] != id,
                   PVEC_CORRUPT, "item " + std::to_string(id) + " points to an invalid slot");
    *found = true;
    *loc = Location{static_cast<std::size_t>(chunk), static_cast<std::size_t>(slot)};
    return Status::ok();
}

Status Collection::allocate_slot(Location *loc) {
    if (free_slots_.empty() && !chunks_.empty() && chunks_.back()->capacity < kChunkSlots) {
        PVEC_FORWARD_IF_ERROR(grow_last_chunk());
    }
    if (free_slots_.empty()) {
        const std::size_t index = chunks_.size();
        {
            StmtUse use(new_chunk_stmt_);
            use.bind(1, static_cast<int64_t>(index));
            use.bind(2, static_cast<int64_t>(kChunkGrowth));
            use.bind_zeroblob(3, ChunkLayout{kChunkGrowth, meta_.code_bytes}.total_bytes());
            int rc = use.step();
            if (rc != SQLITE_DONE) {
                return sqlite_status(db_.conn(), rc, "adding a chunk");
            }
        }
        chunks_.push_back(new_chunk());
        chunks_.back()->capacity = kChunkGrowth;
        for (std::size_t s = 0; s < kChunkGrowth; ++s) {
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

void Collection::chunk_blob(const ResidentChunk &chunk, const ChunkLayout &lay,
                            std::vector<uint8_t> *out) const {
    out->assign(lay.total_bytes(), 0);
    uint8_t *data = out->data();
    for (std::size_t s = 0; s < std::min(lay.capacity, chunk.capacity); ++s) {
        if (!chunk.is_live(s)) {
            continue;
        }
        data[lay.live_offset() + s / 8] |= uint8_t(1u << (s % 8));
        std::memcpy(data + lay.id_offset(s), &chunk.ids[s], 8);
        std::memcpy(data + lay.norm_offset(s), &chunk.norms[s], 4);
        chunk.read_code(s, data + lay.code_offset(s));
    }
}

Status Collection::grow_last_chunk() {
    const std::size_t index = chunks_.size() - 1;
    ResidentChunk &chunk = *chunks_[index];
    const std::size_t old_cap = chunk.capacity, new_cap = old_cap + kChunkGrowth;
    std::vector<uint8_t> data;
    chunk_blob(chunk, ChunkLayout{new_cap, meta_.code_bytes}, &data);
    blob_.close();  // the UPDATE expires any blob handle on this row
    {
        StmtUse use(grow_stmt_);
        use.bind(1, static_cast<int64_t>(index));
        use.bind(2, static_cast<int64_t>(new_cap));
        use.bind_blob(3, data.data(), data.size());
        int rc = use.step();
        if (rc != SQLITE_DONE) {
            return sqlite_status(db_.conn(), rc, "growing a chunk");
        }
    }
    chunk.capacity = new_cap;
    for (std::size_t s = old_cap; s < new_cap; ++s) {
        free_slots_.insert(index * kChunkSlots + s);
    }
    db_.push_undo([this, index, old_cap, new_cap] {
        chunks_[index]->capacity = old_cap;
        for (std::size_t s = old_cap; s < new_cap; ++s) {
            free_slots_.erase(index * kChunkSlots + s);
        }
    });
    return Status::ok();
}

// Writes id, norm and code of one slot to the file (in place), then to the resident chunk with an
// undo entry. `set_live` marks a free slot as taken.
Status Collection::write_slot(const Location &loc, int64_t id, const float *vec, bool set_live) {
    const ChunkLayout lay = layout_of(loc.chunk);
    ResidentChunk &chunk = *chunks_[loc.chunk];
    const float norm = l2_norm(vec, meta_.dim);
    std::vector<uint8_t> code(lay.code_bytes);
    encode(vec, code.data());

    PVEC_FORWARD_IF_ERROR(blob_.open(db_.conn(), chunks_table(), "data",
                                     static_cast<int64_t>(loc.chunk), true));
    PVEC_FORWARD_IF_ERROR(blob_.write(code.data(), lay.code_bytes, lay.code_offset(loc.slot)));
    PVEC_FORWARD_IF_ERROR(blob_.write(&norm, 4, lay.norm_offset(loc.slot)));
    PVEC_FORWARD_IF_ERROR(blob_.write(&id, 8, lay.id_offset(loc.slot)));
    if (set_live) {
        const uint8_t byte = chunk.live_byte(loc.slot) | uint8_t(1u << (loc.slot % 8));
        PVEC_FORWARD_IF_ERROR(blob_.write(&byte, 1, lay.live_offset() + loc.slot / 8));
    }
    PVEC_FORWARD_IF_ERROR(write_raw(id, vec));

    // Resident copy, with the way back. A fresh slot's previous content is all zeros, so only an
    // overwrite (upsert) needs to keep the old code.
    std::vector<uint8_t> old(lay.code_bytes, 0);
    if (!set_live) {
        chunk.read_code(loc.slot, old.data());
    }
    const float old_norm = chunk.norms[loc.slot], old_aux = chunk.aux[loc.slot];
    const std::size_t slot = loc.slot;
    const uint64_t global = loc.chunk * kChunkSlots + loc.slot;
    db_.push_undo([this, &chunk, slot, global, set_live, old = std::move(old), old_norm, old_aux] {
        chunk.write_code(slot, old.data());
        chunk.norms[slot] = old_norm;
        chunk.aux[slot] = old_aux;
        if (set_live) {
            chunk.set_live(slot, false);
            chunk.ids[slot] = 0;
            free_slots_.insert(global);
        }
    });
    chunk.write_code(slot, code.data());
    chunk.norms[slot] = norm;
    chunk.aux[slot] = scan_aux(model_, code.data(), norm);
    chunk.ids[slot] = id;
    if (set_live) {
        chunk.set_live(slot, true);
        free_slots_.erase(global);
    }
    return Status::ok();
}

Status Collection::write_raw(int64_t id, const float *vec) {
    if (meta_.raw_tier == kRawNone) {
        return Status::ok();
    }
    const std::size_t n = meta_.dim * sizeof(float);
    std::vector<uint8_t> packed(ZSTD_compressBound(n));
    const std::size_t size = ZSTD_compress(packed.data(), packed.size(), vec, n, 3);
    PVEC_RETURN_IF(ZSTD_isError(size), PVEC_ERROR,
                   std::string("compressing a raw vector: ") + ZSTD_getErrorName(size));
    StmtUse use(raw_put_stmt_);
    use.bind(1, id);
    use.bind_blob(2, packed.data(), size);
    int rc = use.step();
    return rc == SQLITE_DONE ? Status::ok()
                             : sqlite_status(db_.conn(), rc, "writing raw vector " + std::to_string(id));
}

Status Collection::read_raw(int64_t id, float *vec) {
    StmtUse use(raw_get_stmt_);
    use.bind(1, id);
    int rc = use.step();
    if (rc == SQLITE_DONE) {
        return error(PVEC_CORRUPT, "raw vector " + std::to_string(id) + " is missing");
    }
    if (rc != SQLITE_ROW) {
        return sqlite_status(db_.conn(), rc, "reading raw vector " + std::to_string(id));
    }
    const std::size_t n = meta_.dim * sizeof(float);
    const std::size_t got = ZSTD_decompress(vec, n, use.blob(0), use.bytes(0));
    PVEC_RETURN_IF(ZSTD_isError(got) || got != n, PVEC_CORRUPT,
                   "raw vector " + std::to_string(id) + " is damaged");
    return Status::ok();
}

Status Collection::source_vector(const Location &loc, float *vec) {
    const ResidentChunk &chunk = *chunks_[loc.chunk];
    if (meta_.raw_tier != kRawNone) {
        return read_raw(chunk.ids[loc.slot], vec);
    }
    PVEC_RETURN_IF(model_.has_value(), PVEC_UNSUPPORTED,
                   "the original vectors are gone (compressed codes and no raw tier)");
    chunk.read_code(loc.slot, reinterpret_cast<uint8_t *>(vec));
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
    PVEC_FORWARD_IF_ERROR(scope.commit());
    // Growing a chunk rewrites it; the pages of its old copy go back to the file system.
    db_.release_free_pages();
    return maybe_auto_train();
}

// The documented rule: a collection that needs a model trains at the end of the write call that
// brings its count to the threshold. The write itself is committed either way; a failed automatic
// training leaves the collection untrained (still exact) and is retried by the next write.
Status Collection::maybe_auto_train() {
    if (model_ || !needs_model() || meta_.train_threshold == kTrainNever) {
        return Status::ok();
    }
    const uint64_t threshold = meta_.train_threshold != 0
                                   ? meta_.train_threshold
                                   : std::max<uint64_t>(1024, 2ull * meta_.dim);
    if (count() >= threshold) {
        (void)train(TrainSpec{});
    }
    return Status::ok();
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
    const ChunkLayout lay = layout_of(loc.chunk);
    {
        // The code, id and norm are zeroed too: a deleted vector does not linger in the file.
        BlobCloser closer{blob_};
        PVEC_FORWARD_IF_ERROR(blob_.open(db_.conn(), chunks_table(), "data",
                                         static_cast<int64_t>(loc.chunk), true));
        const uint8_t byte = chunk.live_byte(loc.slot) & uint8_t(~(1u << (loc.slot % 8)));
        PVEC_FORWARD_IF_ERROR(blob_.write(&byte, 1, lay.live_offset() + loc.slot / 8));
        const std::vector<uint8_t> zeros(std::max<std::size_t>(lay.code_bytes, 8), 0);
        PVEC_FORWARD_IF_ERROR(blob_.write(zeros.data(), 8, lay.id_offset(loc.slot)));
        PVEC_FORWARD_IF_ERROR(blob_.write(zeros.data(), 4, lay.norm_offset(loc.slot)));
        PVEC_FORWARD_IF_ERROR(blob_.write(zeros.data(), lay.code_bytes, lay.code_offset(loc.slot)));
    }
    if (meta_.raw_tier != kRawNone) {
        StmtUse use(raw_delete_stmt_);
        use.bind(1, id);
        int rc = use.step();
        if (rc != SQLITE_DONE) {
            return sqlite_status(db_.conn(), rc, "deleting raw vector " + std::to_string(id));
        }
    }
    std::vector<uint8_t> old(lay.code_bytes);
    chunk.read_code(loc.slot, old.data());
    const float old_norm = chunk.norms[loc.slot], old_aux = chunk.aux[loc.slot];
    const std::size_t slot = loc.slot;
    const uint64_t global = loc.chunk * kChunkSlots + loc.slot;
    db_.push_undo([this, &chunk, slot, global, id, old = std::move(old), old_norm, old_aux] {
        chunk.write_code(slot, old.data());
        chunk.norms[slot] = old_norm;
        chunk.aux[slot] = old_aux;
        chunk.ids[slot] = id;
        chunk.set_live(slot, true);
        free_slots_.erase(global);
    });
    const std::vector<uint8_t> zeros(lay.code_bytes, 0);
    chunk.write_code(slot, zeros.data());
    chunk.norms[slot] = 0;
    chunk.aux[slot] = 0;
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
                       slot >= static_cast<int64_t>(chunks_[chunk]->capacity) ||
                       !chunks_[chunk]->is_live(static_cast<std::size_t>(slot)),
                   PVEC_CORRUPT, "item " + std::to_string(id) + " points to an invalid slot");
    *has_meta = !use.is_null(2);
    if (meta && *has_meta) {
        *meta = std::string(use.text(2));
    }
    if (vec) {
        const ResidentChunk &c = *chunks_[chunk];
        const Location loc{static_cast<std::size_t>(chunk), static_cast<std::size_t>(slot)};
        if (meta_.raw_tier != kRawNone || !model_) {
            return source_vector(loc, vec);
        }
        std::vector<uint8_t> code(meta_.code_bytes);
        c.read_code(loc.slot, code.data());
        model::reconstruct(*model_, code.data(), vec);
        if (meta_.metric == Metric::cosine) {
            const float n = l2_norm(vec, meta_.dim);
            const float scale = n > 0 ? c.norms[loc.slot] / n : 0.0f;
            for (uint32_t i = 0; i < meta_.dim; ++i) {
                vec[i] *= scale;
            }
        }
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
    out->capacity = 0;
    for (const auto &chunk : chunks_) {
        out->capacity += chunk->capacity;
    }
    // Pages really used, when SQLite has the dbstat table; else the payload bytes.
    Stmt s;
    if (s.prepare(db_.conn(),
                  "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN (?1, ?2, ?3)")
            .is_ok()) {
        StmtUse use(s);
        const std::string a = items_table(), b = chunks_table(), r = raw_table();
        use.bind(1, std::string_view(a));
        use.bind(2, std::string_view(b));
        use.bind(3, std::string_view(r));
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
    out->bytes_used = static_cast<uint64_t>(use.int64(0));
    for (std::size_t ci = 0; ci < chunks_.size(); ++ci) {
        out->bytes_used += layout_of(ci).total_bytes();
    }
    return Status::ok();
}

Status Collection::search(const float *query, const SearchSpec &spec,
                          std::vector<search::Hit> *hits) {
    PVEC_FORWARD_IF_ERROR(refresh());
    PVEC_FORWARD_IF_ERROR(check_vector(query));
    PVEC_RETURN_IF(spec.k == 0, PVEC_RANGE, "k must be at least 1");
    PVEC_RETURN_IF(spec.rescore > PVEC_RESCORE_RAW, PVEC_INVALID, "unknown rescore source");
    PVEC_RETURN_IF(spec.rescore == PVEC_RESCORE_RAW && meta_.raw_tier == kRawNone, PVEC_UNSUPPORTED,
                   "rescoring from raw vectors needs a collection created with a raw tier");
    const std::size_t n = count();
    const std::size_t k = std::min<std::size_t>(spec.k, n);
    if (!model_) {
        std::vector<search::BlockView> blocks;
        blocks.reserve(chunks_.size());
        for (const auto &c : chunks_) {
            blocks.push_back(search::BlockView{c->f32_block(), c->ids, c->live, c->aux});
        }
        *hits = search::scan_exact(search::Query{meta_.metric, query, meta_.dim, k, spec.threads},
                                   blocks);
        return Status::ok();
    }
    std::vector<search::CodeBlockView> blocks;
    blocks.reserve(chunks_.size());
    for (const auto &c : chunks_) {
        blocks.push_back(search::CodeBlockView{c->block(), c->stride(), c->ids, c->live, c->aux});
    }
    const uint32_t r = std::max<uint32_t>(1, spec.oversample);
    const bool rescore = spec.rescore == PVEC_RESCORE_RAW ||
                         (spec.rescore == PVEC_RESCORE_AUTO && r > 1 && meta_.raw_tier != kRawNone);
    const std::size_t keep = rescore ? std::min<std::size_t>(n, k * std::size_t(r)) : k;
    const model::Query mq = model::prepare_query(*model_, query);
    std::vector<search::Hit> found = search::scan_codes(mq, blocks, keep, spec.threads);
    if (!rescore) {
        if (meta_.metric == Metric::l2 && !mq.hamming) {
            for (search::Hit &h : found) {
                h.score = std::sqrt(std::max(0.0f, h.score));
            }
            std::sort(found.begin(), found.end(), search::better);
        }
        *hits = std::move(found);
        return Status::ok();
    }
    // Exact scores from the raw tier for the k x r candidates.
    return search::rescore_exact(
        meta_.metric, query, meta_.dim, k, found,
        [this](const search::Hit &h, float *x) { return read_raw(h.id, x); }, hits);
}

Status Collection::train(const TrainSpec &spec) {
    PVEC_FORWARD_IF_ERROR(refresh());
    PVEC_RETURN_IF(db_.readonly(), PVEC_READONLY, "the database is open read-only");
    const std::string codec_name = spec.codec.value_or(meta_.codec);
    codec::CodecId id;
    PVEC_RETURN_IF(!codec::codec_from_name(codec_name, &id), PVEC_INVALID,
                   "unknown codec '" + codec_name + "'");
    const uint32_t pca_dim = spec.pca_dim.value_or(meta_.pca_dim);
    PVEC_RETURN_IF(pca_dim >= meta_.dim, PVEC_RANGE,
                   "pca_dim must be smaller than the dimension " + std::to_string(meta_.dim));
    const uint32_t flags = spec.flags.value_or(meta_.flags);
    if (model_ && model_->codec.id == id && !codec::codec_needs_training(id) && pca_dim == 0 &&
        !model_->pca) {
        return Status::ok();  // f16 / bf16 without PCA: there is nothing to fit, the codes stand
    }
    const uint64_t n = count();
    PVEC_RETURN_IF(n == 0, PVEC_RANGE, "the collection has no items to train on");
    PVEC_RETURN_IF(model_ && meta_.raw_tier == kRawNone, PVEC_UNSUPPORTED,
                   "re-training a trained collection needs its raw tier (the codes are lossy)");

    std::optional<model::Model> m;
    if (codec_name != "f32" || pca_dim > 0) {
        // An even spread over the live items, so that old and new items are both represented.
        const uint64_t want = std::min<uint64_t>(n, spec.sample ? spec.sample : 16384);
        std::vector<float> sample;
        sample.reserve(want * meta_.dim);
        std::vector<float> v(meta_.dim);
        uint64_t seen = 0, taken = 0;
        for (std::size_t ci = 0; ci < chunks_.size() && taken < want; ++ci) {
            for (std::size_t s = 0; s < kChunkSlots && taken < want; ++s) {
                if (!chunks_[ci]->is_live(s)) {
                    continue;
                }
                if (seen++ * want / n == taken) {
                    PVEC_FORWARD_IF_ERROR(source_vector(Location{ci, s}, v.data()));
                    sample.insert(sample.end(), v.begin(), v.end());
                    ++taken;
                }
            }
        }
        model::Model fitted;
        PVEC_FORWARD_IF_ERROR(model::fit(sample.data(), taken, meta_.dim, meta_.metric, id, pca_dim,
                                         (flags & kFlagPcaRotate) != 0,
                                         spec.seed ? spec.seed : 0x5eed, &fitted));
        m = std::move(fitted);
    }
    return apply_model(std::move(m), codec_name, pca_dim, flags);
}

Status Collection::export_model(std::vector<uint8_t> *blob) {
    PVEC_FORWARD_IF_ERROR(refresh());
    PVEC_RETURN_IF(!model_, PVEC_NOTFOUND, "the collection is not trained: it has no model");
    *blob = model_->serialize();
    return Status::ok();
}

Status Collection::import_model(const uint8_t *blob, std::size_t size) {
    PVEC_FORWARD_IF_ERROR(refresh());
    PVEC_RETURN_IF(db_.readonly(), PVEC_READONLY, "the database is open read-only");
    model::Model m;
    PVEC_FORWARD_IF_ERROR(model::Model::deserialize(blob, size, &m));
    PVEC_RETURN_IF(m.dim != meta_.dim, PVEC_DIM,
                   "the model is for dimension " + std::to_string(m.dim) + ", the collection has " +
                       std::to_string(meta_.dim));
    PVEC_RETURN_IF(m.metric != meta_.metric, PVEC_INVALID,
                   std::string("the model is for metric ") + metric_name(m.metric));
    PVEC_RETURN_IF(model_ && meta_.raw_tier == kRawNone && count() > 0, PVEC_UNSUPPORTED,
                   "re-encoding a trained collection needs its raw tier (the codes are lossy)");
    const std::string codec_name = codec::codec_name(m.codec.id);
    const uint32_t pca_dim = m.pca ? m.pca->out_dim : 0;
    const uint32_t flags = m.pca && m.pca->rotated ? (meta_.flags | kFlagPcaRotate) : meta_.flags;
    return apply_model(std::move(m), codec_name, pca_dim, flags);
}

Status Collection::apply_model(std::optional<model::Model> model, const std::string &codec_name,
                               uint32_t pca_dim, uint32_t flags) {
    sqlite3 *c = db_.conn();
    Database::WriteScope scope(db_);
    PVEC_FORWARD_IF_ERROR(scope.begin());

    // New chunks under the new model, built from the best source of each original vector.
    CollectionMeta next = meta_;
    next.codec = codec_name;
    next.pca_dim = pca_dim;
    next.flags = flags;
    next.code_bytes = static_cast<uint32_t>(model ? model->code_bytes() : meta_.dim * 4);
    next.model_version = model ? meta_.model_version + 1 : 0;
    std::vector<std::unique_ptr<ResidentChunk>> chunks;
    std::vector<float> v(meta_.dim);
    std::vector<uint8_t> data;
    Stmt update;
    PVEC_FORWARD_IF_ERROR(
        update.prepare(c, "UPDATE " + chunks_table() + " SET data = ?2 WHERE id = ?1"));
    for (std::size_t ci = 0; ci < chunks_.size(); ++ci) {
        const ResidentChunk &old = *chunks_[ci];
        const ChunkLayout lay{old.capacity, next.code_bytes};
        auto chunk = std::make_unique<ResidentChunk>(next.code_bytes);
        chunk->capacity = old.capacity;
        std::vector<uint8_t> code(next.code_bytes);
        for (std::size_t s = 0; s < old.capacity; ++s) {
            if (!old.is_live(s)) {
                continue;
            }
            PVEC_FORWARD_IF_ERROR(source_vector(Location{ci, s}, v.data()));
            if (model) {
                model::encode(*model, v.data(), code.data());
            } else {
                std::memcpy(code.data(), v.data(), next.code_bytes);
            }
            chunk->set_live(s, true);
            chunk->ids[s] = old.ids[s];
            chunk->norms[s] = old.norms[s];
            chunk->write_code(s, code.data());
            chunk->aux[s] = scan_aux(model, code.data(), old.norms[s]);
        }
        chunk_blob(*chunk, lay, &data);
        StmtUse use(update);
        use.bind(1, static_cast<int64_t>(ci));
        use.bind_blob(2, data.data(), data.size());
        int rc = use.step();
        if (rc != SQLITE_DONE) {
            return sqlite_status(c, rc, "re-encoding the chunks");
        }
        chunks.push_back(std::move(chunk));
    }

    Stmt del, ins, upd;
    PVEC_FORWARD_IF_ERROR(del.prepare(c, "DELETE FROM pvec_models WHERE collection_id = ?1"));
    {
        StmtUse use(del);
        use.bind(1, meta_.id);
        int rc = use.step();
        if (rc != SQLITE_DONE) {
            return sqlite_status(c, rc, "replacing the model");
        }
    }
    std::optional<int64_t> model_id;
    if (model) {
        const std::vector<uint8_t> blob = model->serialize();
        PVEC_FORWARD_IF_ERROR(ins.prepare(c,
            "INSERT INTO pvec_models(collection_id, version, blob, checksum) VALUES(?1, ?2, ?3, ?4)"));
        StmtUse use(ins);
        use.bind(1, meta_.id);
        use.bind(2, int64_t{next.model_version});
        use.bind_blob(3, blob.data(), blob.size());
        use.bind(4, static_cast<int64_t>(model::checksum(blob.data(), blob.size())));
        int rc = use.step();
        if (rc != SQLITE_DONE) {
            return sqlite_status(c, rc, "storing the model");
        }
        model_id = sqlite3_last_insert_rowid(c);
    }
    PVEC_FORWARD_IF_ERROR(upd.prepare(c,
        "UPDATE pvec_collections SET codec = ?2, pca_dim = ?3, flags = ?4, code_bytes = ?5,"
        " model_id = ?6 WHERE id = ?1"));
    {
        StmtUse use(upd);
        use.bind(1, meta_.id);
        use.bind(2, std::string_view(next.codec));
        use.bind(3, int64_t{next.pca_dim});
        use.bind(4, int64_t{next.flags});
        use.bind(5, int64_t{next.code_bytes});
        model_id ? use.bind(6, *model_id) : use.bind_null(6);
        int rc = use.step();
        if (rc != SQLITE_DONE) {
            return sqlite_status(c, rc, "updating the collection");
        }
    }

    // Swap the resident state; the undo entry swaps it back if the transaction rolls back.
    auto old_state = std::make_shared<std::tuple<CollectionMeta, std::optional<model::Model>,
                                                 std::vector<std::unique_ptr<ResidentChunk>>>>(
        meta_, std::move(model_), std::move(chunks_));
    db_.push_undo([this, old_state] {
        meta_ = std::get<0>(*old_state);
        model_ = std::move(std::get<1>(*old_state));
        chunks_ = std::move(std::get<2>(*old_state));
    });
    meta_ = next;
    model_ = std::move(model);
    chunks_ = std::move(chunks);
    PVEC_FORWARD_IF_ERROR(scope.commit());
    db_.release_free_pages();
    return Status::ok();
}

}  // namespace pocketvec::store
