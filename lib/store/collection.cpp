#include "store/collection.h"

#include "search/exact.h"

#include <zstd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "codec/codec.h"
#include "codec/minifloat.h"
#include "pocketvec/pocketvec.h"
#include "search/exact.h"
#include "search/scan.h"
#include "store/checksum.h"
#include "store/database.h"
#include "store/json_check.h"
#include "store/meta_json.h"

namespace pocketvec::store {
namespace {

// Norm in double so that cosine scores of long vectors keep float precision.
float l2_norm(const float *v, std::size_t n) {
    return static_cast<float>(std::sqrt(search::squared_norm(v, n)));
}

// All exponent bits set is NaN or infinity: one branch-free pass over the bits (vectorised).
bool all_finite(const float *v, std::size_t n) {
    uint32_t non_finite = 0;
    for (std::size_t i = 0; i < n; ++i) {
        uint32_t b;
        std::memcpy(&b, v + i, 4);
        non_finite |= static_cast<uint32_t>((b & 0x7f800000u) == 0x7f800000u);
    }
    return non_finite == 0;
}

// Closes the chunk blob handle before the enclosing write scope commits or rolls back: an open
// blob counts as an active statement and would make COMMIT fail.
struct BlobCloser {
    ChunkFile &file;
    RawChunks &raw;
    ~BlobCloser() {
        file.close_blob();
        raw.close();
    }
};

// The errs entry of `vec` coded as `code` under `m` (kFlagSlotErrors): measured against the
// vector rescoring reads back from the raw tier (rounded to binary16 for PVEC_RAW_F16), so an
// exact search returns exactly the best items by the scores the raw tier gives; rounded up to
// what the chunk stores (bfloat16), so the resident value is the file's.
float slot_error(uint32_t raw_tier, const model::Model &m, const float *vec, const uint8_t *code) {
    if (raw_tier != kRawF16) {
        return err_value(err_stored(model::code_error(m, vec, code)));
    }
    std::vector<float> seen(m.dim);
    for (uint32_t i = 0; i < m.dim; ++i) {
        seen[i] = codec::f16_to_f32(codec::f32_to_f16(vec[i]));
    }
    return err_value(err_stored(model::code_error(m, seen.data(), code)));
}

// The code scan's view of every chunk of `s`.
std::vector<search::CodeBlockView> code_blocks(const Snapshot &s) {
    std::vector<search::CodeBlockView> blocks;
    blocks.reserve(s.chunks.size());
    for (const auto &c : s.chunks) {
        blocks.push_back(search::CodeBlockView{c->block(), c->stride(), c->ids.data(),
                                               c->live.data(), c->aux.data(), c->errs.data()});
    }
    return blocks;
}

std::shared_ptr<const Snapshot> empty_snapshot(const CollectionMeta &meta) {
    auto s = std::make_shared<Snapshot>();
    s->meta = meta;
    s->meta.version = -1;  // matches no file version: the first refresh loads everything
    s->meta.model_id = -1;
    return s;
}

}  // namespace

Collection::Collection(Database &db, const CollectionMeta &meta, uint64_t memory_cap)
    : db_(db), id_(meta.id), uid_(meta.uid), dim_(meta.dim), memory_cap_(memory_cap),
      current_(empty_snapshot(meta)),
      chunk_file_(db.conn(), meta), raw_per_chunk_((meta.flags & kFlagRawChunks) != 0),
      raw_chunks_(db.conn(), meta) {}

Collection::~Collection() {
    ZSTD_freeCCtx(zc_);
    ZSTD_freeDCtx(zd_);
}

SnapshotPtr Collection::snapshot() const {
    std::lock_guard<std::mutex> lock(snapshot_mutex_);
    return current_;
}

Status Collection::alive() const {
    PVEC_RETURN_IF(dropped(), PVEC_NOTFOUND, "the collection was dropped");
    return Status::ok();
}

void Collection::publish(SnapshotPtr next) noexcept {
    const bool in_txn = !sqlite3_get_autocommit(db_.conn());
    if (in_txn) {
        // Registered before the state changes, so that the rollback hook can restore it. If
        // even that fails for want of memory, the next call compares every version with the file.
        try {
            db_.note_txn_write(shared_from_this());
        } catch (...) {
            db_.request_full_sync();
        }
    }
    {
        std::lock_guard<std::mutex> lock(snapshot_mutex_);
        if (in_txn && !txn_base_) {
            txn_base_ = current_;
        }
        current_ = std::move(next);
    }
}

void Collection::commit_txn() noexcept {
    std::lock_guard<std::mutex> lock(snapshot_mutex_);
    txn_base_.reset();
}

void Collection::rollback_txn() noexcept {
    std::lock_guard<std::mutex> lock(snapshot_mutex_);
    if (txn_base_) {
        current_ = std::move(txn_base_);
        txn_base_.reset();
    }
}

SnapshotPtr Collection::dropped_state() const {
    auto s = std::make_shared<Snapshot>();
    s->meta = snapshot()->meta;
    s->dropped = true;
    return s;
}

void Collection::mark_dropped() { publish(dropped_state()); }

Status Collection::prepare() {
    if (find_stmt_.prepared()) {
        return Status::ok();
    }
    sqlite3 *c = db_.conn();
    const std::string items = tables::items(id_);
    const std::string owner = "collection '" + snapshot()->meta.name + "'";
    auto prep = [&](Stmt &s, const std::string &sql) {
        return prepare_on_own_tables(s, c, sql, owner);
    };
    PVEC_FORWARD_IF_ERROR(prep(find_stmt_, "SELECT chunk, slot FROM " + items + " WHERE id = ?1"));
    PVEC_FORWARD_IF_ERROR(prep(insert_stmt_, "INSERT INTO " + items +
                                                 "(id, chunk, slot, meta, sum)"
                                                 " VALUES(?1, ?2, ?3, ?4, ?5)"));
    PVEC_FORWARD_IF_ERROR(
        prep(update_meta_stmt_, "UPDATE " + items + " SET meta = ?2, sum = ?3 WHERE id = ?1"));
    PVEC_FORWARD_IF_ERROR(prep(delete_stmt_, "DELETE FROM " + items + " WHERE id = ?1"));
    PVEC_FORWARD_IF_ERROR(
        prep(get_stmt_, "SELECT chunk, slot, meta, sum FROM " + items + " WHERE id = ?1"));
    if (db_.has_json1()) {
        PVEC_FORWARD_IF_ERROR(prep(json_valid_stmt_, "SELECT json_valid(?1)"));
    }
    if (raw_per_chunk_) {
        PVEC_FORWARD_IF_ERROR(raw_chunks_.prepare());
    } else if (snapshot()->meta.raw_tier != kRawNone) {
        const std::string raw = tables::raw(id_);
        PVEC_FORWARD_IF_ERROR(
            prep(raw_put_stmt_, "INSERT OR REPLACE INTO " + raw + "(id, vec) VALUES(?1, ?2)"));
        PVEC_FORWARD_IF_ERROR(prep(raw_get_stmt_, "SELECT vec FROM " + raw + " WHERE id = ?1"));
        PVEC_FORWARD_IF_ERROR(prep(raw_delete_stmt_, "DELETE FROM " + raw + " WHERE id = ?1"));
    }
    return chunk_file_.prepare();
}

Status Collection::refresh() {
    SnapshotPtr cur = snapshot();
    if (cur->dropped) {
        return Status::ok();
    }
    stale_ = true;
    CollectionMeta row;
    bool found;
    PVEC_FORWARD_IF_ERROR(db_.catalog().read_by_id(id_, &row, &found));
    if (!found || row.uid != uid_) {
        mark_dropped();
        stale_ = false;
        return Status::ok();
    }
    if (row.version == cur->meta.version) {
        stale_ = false;
        return Status::ok();
    }
    PVEC_RETURN_IF(row.dim != dim_ || row.raw_tier != cur->meta.raw_tier ||
                       row.metric != cur->meta.metric,
                   PVEC_CORRUPT, "collection '" + row.name + "' changed its definition");
    PVEC_FORWARD_IF_ERROR(prepare());
    // The model and the codes are read in the caller's one transaction, and the model is checked
    // against the row read in it, never against an older one.
    std::shared_ptr<const model::Model> model = cur->model;
    const bool model_changed = row.model_id != cur->meta.model_id;
    if (model_changed) {
        PVEC_FORWARD_IF_ERROR(db_.catalog().read_model(&row, &model));
    } else {
        row.model_version = cur->meta.model_version;
    }
    std::vector<int64_t> versions;
    PVEC_FORWARD_IF_ERROR(chunk_file_.versions(&versions));
    auto next = std::make_shared<Snapshot>();
    next->meta = row;
    next->model = model;
    next->chunk_versions = versions;
    next->chunks.reserve(versions.size());
    for (std::size_t i = 0; i < versions.size(); ++i) {
        if (!model_changed && i < cur->chunks.size() && cur->chunk_versions[i] == versions[i]) {
            next->chunks.push_back(cur->chunks[i]);
        } else {
            std::shared_ptr<ResidentChunk> c;
            PVEC_FORWARD_IF_ERROR(chunk_file_.load(i, row, model.get(), &c));
            next->chunks.push_back(std::move(c));
        }
        next->count += next->chunks.back()->live_count;
    }
    if (!loaded_) {
        // The first load cross-checks the items table against the chunks.
        Stmt n;
        PVEC_FORWARD_IF_ERROR(n.prepare(db_.conn(), "SELECT count(*) FROM " + tables::items(id_)));
        StmtUse use(n);
        int rc = use.step();
        if (rc != SQLITE_ROW) {
            return sqlite_status(db_.conn(), rc, "counting the items of '" + row.name + "'");
        }
        PVEC_RETURN_IF(static_cast<uint64_t>(use.int64(0)) != next->count, PVEC_CORRUPT,
                       "collection '" + row.name +
                           "': the items table and the chunks disagree on the item count");
    }
    {
        std::lock_guard<std::mutex> lock(snapshot_mutex_);
        current_ = std::move(next);
    }
    loaded_ = true;
    stale_ = false;
    return Status::ok();
}

Status Collection::init_untrained_model() {
    const SnapshotPtr s = snapshot();
    codec::CodecId id;
    if (s->meta.pca_dim != 0 || s->meta.codec == "f32" ||
        !codec::codec_from_name(s->meta.codec, &id) || codec::codec_needs_training(id)) {
        return Status::ok();
    }
    // f16 / bf16 have nothing to fit: their model exists from the start.
    auto m = std::make_shared<model::Model>();
    PVEC_FORWARD_IF_ERROR(
        model::fit(nullptr, 0, s->meta.dim, s->meta.metric, id, 0, false, 0, m.get()));
    PVEC_FORWARD_IF_ERROR(prepare());
    Draft d(*s);
    PVEC_FORWARD_IF_ERROR(encode_all(*s, d, std::move(m), s->meta.codec, 0, s->meta.flags));
    publish(d.publish());
    return Status::ok();
}

Status Collection::check_vector(const float *v) const {
    // The offending component is looked for only when there is one.
    if (!all_finite(v, dim_)) {
        for (std::size_t c = 0; c < dim_; ++c) {
            PVEC_RETURN_IF(!std::isfinite(v[c]), PVEC_INVALID,
                           "component " + std::to_string(c) + " is NaN or infinite");
        }
    }
    const double norm2 = search::squared_norm(v, dim_);
    // Past 2^62 a norm's square, and so a dot or squared distance with another such vector,
    // no longer fits a float: scores would be infinite and the item unreachable.
    PVEC_RETURN_IF(norm2 > 0x1p124, PVEC_INVALID,
                   "the vector's L2 norm exceeds 2^62: its scores would overflow float");
    return Status::ok();
}

Status Collection::check_meta_json(const char *json) {
    if (json != nullptr && !db_.has_json1()) {
        // An SQLite without JSON1 (SQLCipher 3.4.1's): the built-in check of standard JSON.
        const std::size_t len = strnlen(json, kMaxMetaBytes + 1);
        PVEC_RETURN_IF(len > kMaxMetaBytes, PVEC_RANGE, "metadata is larger than 1 MiB");
        PVEC_RETURN_IF(!is_valid_json(std::string_view(json, len)), PVEC_INVALID,
                       "metadata is not valid JSON");
        return Status::ok();
    }
    return store::check_meta_json(db_.conn(), json_valid_stmt_, json_check_stmt_, json);
}

// The slot of item `id` in `s`, checked: an items row must point to a live slot holding that id.
template <class View>
Status Collection::find(const View &s, int64_t id, bool *found, SlotRef *loc) {
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
    PVEC_RETURN_IF(chunk < 0 || static_cast<std::size_t>(chunk) >= s.chunk_count() || slot < 0 ||
                       slot >= static_cast<int64_t>(s.chunk(chunk).capacity) ||
                       !s.chunk(chunk).is_live(static_cast<std::size_t>(slot)) ||
                       s.chunk(chunk).ids[slot] != id,
                   PVEC_CORRUPT, "item " + std::to_string(id) + " points to an invalid slot");
    *found = true;
    *loc = SlotRef{static_cast<std::size_t>(chunk), static_cast<std::size_t>(slot)};
    return Status::ok();
}

Status Collection::check_item_row(int64_t id, const SlotRef &loc, StmtUse &row,
                                  std::string *meta, bool *has_meta) const {
    *has_meta = !row.is_null(2);
    const std::string_view text = *has_meta ? row.text(2) : std::string_view();
    PVEC_RETURN_IF(!checksum::column_matches(row.int64(3), item_sum(id, loc, text, *has_meta)),
                   PVEC_CORRUPT, "the items row of item " + std::to_string(id) +
                                     " is damaged (checksum mismatch)");
    if (meta && *has_meta) {
        *meta = std::string(text);
    }
    return Status::ok();
}

uint32_t Collection::item_sum(int64_t id, const SlotRef &loc, const char *meta) const {
    return item_sum(id, loc, meta ? std::string_view(meta) : std::string_view(), meta != nullptr);
}

uint32_t Collection::item_sum(int64_t id, const SlotRef &loc, std::string_view meta,
                              bool has_meta) const {
    return checksum::item(uid_, id, static_cast<int64_t>(loc.chunk),
                          static_cast<int64_t>(loc.slot), has_meta, meta);
}

// No items row for `id`: PVEC_NOTFOUND, unless a (checksum-verified) chunk slot holds the id, in
// which case its items row was lost to damage.
Status Collection::missing_item(const Snapshot &s, int64_t id) const {
    for (std::size_t c = 0; c < s.chunks.size(); ++c) {
        const ResidentChunk &chunk = *s.chunks[c];
        for (std::size_t slot = 0; slot < chunk.capacity; ++slot) {
            PVEC_RETURN_IF(chunk.ids[slot] == id && chunk.is_live(slot), PVEC_CORRUPT,
                           "item " + std::to_string(id) + " is in chunk " + std::to_string(c) +
                               " slot " + std::to_string(slot) + " but its items row is missing");
        }
    }
    return error(PVEC_NOTFOUND, "no item with id " + std::to_string(id));
}

Status Collection::allocate_slot(Draft &d, SlotRef *loc) {
    if (d.lowest_free(loc)) {
        return Status::ok();
    }
    const std::size_t n = d.chunk_count();
    // Room for the items still to come in this call, in whole kChunkGrowth steps.
    const std::size_t want =
        std::min(kChunkSlots, std::max<std::size_t>(1, d.pending_items) + kChunkGrowth - 1) /
        kChunkGrowth * kChunkGrowth;
    if (n > 0 && d.chunk(n - 1).capacity < kChunkSlots) {
        // Grow the last chunk: a rewrite of its row, unless this call created it.
        ResidentChunk &c = d.edit(n - 1);
        const std::size_t old_capacity = c.capacity;
        c.capacity = std::min(kChunkSlots, c.capacity + want);
        if (d.fresh && d.fresh->index == n - 1) {
            d.fresh->codes.resize(c.capacity * d.meta.code_bytes, 0);
            d.fresh->raw.resize(raw_per_chunk_ ? c.capacity * raw_chunks_.slot_bytes() : 0, 0);
        } else {
            PVEC_FORWARD_IF_ERROR(chunk_file_.rewrite(n - 1, c, d.meta));
            if (raw_per_chunk_) {
                PVEC_FORWARD_IF_ERROR(raw_chunks_.grow(n - 1, old_capacity, c.capacity));
            }
        }
        d.update_free(n - 1);
    } else {
        // A new chunk goes to the file whole, once this call is done with it (writer.h).
        PVEC_FORWARD_IF_ERROR(flush_fresh(d));
        d.append(want);
        const std::size_t raw_bytes = raw_per_chunk_ ? want * raw_chunks_.slot_bytes() : 0;
        // The buffers of the chunk flushed last, zeroed (free slots' codes are zero): memory
        // already mapped, where new buffers of this size are fresh pages that fault one by one.
        d.fresh = Draft::FreshChunk{n, std::move(spare_codes_), std::move(spare_raw_)};
        d.fresh->codes.assign(want * d.meta.code_bytes, 0);
        d.fresh->raw.assign(raw_bytes, 0);
    }
    PVEC_RETURN_IF(!d.lowest_free(loc), PVEC_ERROR, "no free slot after growing");
    return Status::ok();
}

// Writes id, norm and code of one slot to the file (in place) and to the draft. A slot of the
// chunk this call creates is encoded straight into its row-major buffer.
Status Collection::write_slot(Draft &d, const SlotRef &loc, int64_t id, const float *vec) {
    ResidentChunk &chunk = d.edit(loc.chunk);
    const ChunkLayout lay = chunk_layout(d.meta, chunk.capacity);
    const float norm = l2_norm(vec, dim_);
    const bool fresh = d.fresh && d.fresh->index == loc.chunk;
    uint8_t *code = nullptr;
    if (fresh) {
        code = d.fresh->codes.data() + loc.slot * lay.code_bytes;
    } else {
        code_buf_.assign(lay.code_bytes, 0);  // as a fresh chunk's: bytes no codec writes are zero
        code = code_buf_.data();
    }
    if (d.model) {
        model::encode(*d.model, vec, code);
    } else {
        std::memcpy(code, vec, dim_ * sizeof(float));
    }
    const float err = lay.with_err ? slot_error(d.meta.raw_tier, *d.model, vec, code) : 0.0f;
    const bool was_live = chunk.is_live(loc.slot);
    chunk.set_live(loc.slot, true);
    if (fresh) {
        PVEC_FORWARD_IF_ERROR(write_raw(loc, id, vec, d.fresh->raw.data()));
    } else {
        PVEC_FORWARD_IF_ERROR(chunk_file_.write_slot(loc.chunk, lay, loc.slot, id, norm, err,
                                                     code, chunk.live_byte(loc.slot)));
        PVEC_FORWARD_IF_ERROR(write_raw(loc, id, vec, nullptr));
        chunk.write_code(loc.slot, code);
    }
    chunk.set_fields(loc.slot, norm, scan_aux(d.model.get(), code, norm), err);
    chunk.ids[loc.slot] = id;
    if (!was_live) {
        d.count += 1;
        d.update_free(loc.chunk);
    }
    return Status::ok();
}

Status Collection::flush_fresh(Draft &d) {
    if (!d.fresh) {
        return Status::ok();
    }
    const Draft::FreshChunk &f = *d.fresh;
    ResidentChunk &c = d.edit(f.index);
    c.write_codes(f.codes.data(), c.capacity);
    PVEC_FORWARD_IF_ERROR(
        chunk_file_.insert_built(f.index, c, f.codes.data(), d.meta, d.meta.version));
    if (raw_per_chunk_) {
        PVEC_FORWARD_IF_ERROR(raw_chunks_.insert_filled(f.index, f.raw.data(), f.raw.size()));
    }
    spare_codes_ = std::move(d.fresh->codes);
    spare_raw_ = std::move(d.fresh->raw);
    d.fresh.reset();
    return Status::ok();
}

Status Collection::write_raw(const SlotRef &loc, int64_t id, const float *vec,
                             uint8_t *fresh_raw) {
    const uint32_t tier = snapshot()->meta.raw_tier;
    if (tier == kRawNone) {
        return Status::ok();
    }
    const std::size_t n = dim_ * sizeof(float);
    const void *data = vec;
    std::size_t size = n;
    if (tier == kRawZstdF32) {
        // One compression context for the collection: building a fresh one per vector costs
        // more than the compression itself (cpuid on every setup).
        if (zc_ == nullptr) {
            zc_ = ZSTD_createCCtx();
            PVEC_RETURN_IF(zc_ == nullptr, PVEC_NOMEM, "out of memory");
        }
        raw_buf_.resize(ZSTD_compressBound(n));
        size = ZSTD_compressCCtx(zc_, raw_buf_.data(), raw_buf_.size(), vec, n, 3);
        PVEC_RETURN_IF(ZSTD_isError(size), PVEC_ERROR,
                       std::string("compressing a raw vector: ") + ZSTD_getErrorName(size));
        data = raw_buf_.data();
    } else if (tier == kRawF16) {
        raw_buf_.resize(dim_ * 2);
        for (uint32_t i = 0; i < dim_; ++i) {
            const uint16_t h = codec::f32_to_f16(vec[i]);
            std::memcpy(raw_buf_.data() + 2 * i, &h, 2);
        }
        data = raw_buf_.data();
        size = raw_buf_.size();
    }
    // The stored bytes, then their checksum (4 bytes, store/checksum.h): straight into a new
    // chunk's buffer, else into raw_buf_ for the write below.
    const bool to_fresh = raw_per_chunk_ && fresh_raw != nullptr;
    uint8_t *out = nullptr;
    if (to_fresh) {
        out = fresh_raw + loc.slot * raw_chunks_.slot_bytes();
        std::memcpy(out, data, size);
    } else {
        if (data != raw_buf_.data()) {
            raw_buf_.assign(static_cast<const uint8_t *>(data),
                            static_cast<const uint8_t *>(data) + size);
        }
        raw_buf_.resize(size + 4);
        out = raw_buf_.data();
    }
    const uint32_t sum = checksum::raw(uid_, id, out, size);
    std::memcpy(out + size, &sum, 4);
    if (to_fresh) {
        return Status::ok();
    }
    if (raw_per_chunk_) {
        return raw_chunks_.write(loc.chunk, loc.slot, raw_buf_.data());
    }
    StmtUse use(raw_put_stmt_);
    use.bind(1, id);
    use.bind_blob(2, raw_buf_.data(), size + 4);
    int rc = use.step();
    return rc == SQLITE_DONE ? Status::ok()
                             : sqlite_status(db_.conn(), rc, "writing raw vector " + std::to_string(id));
}

Status Collection::read_raw(const RawPlaces &s, const SlotRef &loc, int64_t id, float *vec) {
    if (raw_per_chunk_) {
        raw_buf_.resize(raw_chunks_.slot_bytes());
        Status st = raw_chunks_.read(loc.chunk, loc.slot, s.capacity(loc.chunk),
                                     raw_buf_.data());
        raw_chunks_.close();
        PVEC_FORWARD_IF_ERROR(st);
        return decode_raw(s.tier, id, raw_buf_.data(), raw_buf_.size(), vec);
    }
    StmtUse use(raw_get_stmt_);
    use.bind(1, id);
    int rc = use.step();
    if (rc == SQLITE_DONE) {
        return error(PVEC_CORRUPT, "raw vector " + std::to_string(id) + " is missing");
    }
    if (rc != SQLITE_ROW) {
        return sqlite_status(db_.conn(), rc, "reading raw vector " + std::to_string(id));
    }
    return decode_raw(s.tier, id, static_cast<const uint8_t *>(use.blob(0)),
                      use.bytes(0), vec);
}

Status Collection::decode_raw(uint32_t tier, int64_t id, const uint8_t *blob, std::size_t bytes,
                              float *vec) {
    // Rescoring decodes every candidate: the message is built only for a damaged vector.
    const auto damaged = [id](const char *why) {
        return error(PVEC_CORRUPT, "raw vector " + std::to_string(id) + " is damaged" + why);
    };
    const std::size_t n = dim_ * sizeof(float);
    uint32_t sum = 0;
    if (bytes >= 4) {
        std::memcpy(&sum, blob + bytes - 4, 4);
    }
    if (bytes < 4 || sum != checksum::raw(uid_, id, blob, bytes - 4)) {
        return damaged(" (checksum mismatch)");
    }
    bytes -= 4;
    if (tier == kRawZstdF32) {
        if (zd_ == nullptr) {
            zd_ = ZSTD_createDCtx();
            PVEC_RETURN_IF(zd_ == nullptr, PVEC_NOMEM, "out of memory");
        }
        const std::size_t got = ZSTD_decompressDCtx(zd_, vec, n, blob, bytes);
        if (ZSTD_isError(got) || got != n) {
            return damaged("");
        }
    } else if (tier == kRawF32) {
        if (bytes != n) {
            return damaged("");
        }
        std::memcpy(vec, blob, n);
    } else {
        if (bytes != dim_ * 2u) {
            return damaged("");
        }
        for (uint32_t i = 0; i < dim_; ++i) {
            uint16_t h;
            std::memcpy(&h, blob + 2 * i, 2);
            vec[i] = codec::f16_to_f32(h);
        }
    }
    return all_finite(vec, dim_) ? Status::ok() : damaged("");
}

Status Collection::read_raw_many(const RawPlaces &s, std::vector<RawWanted> wanted) {
    // One incremental-BLOB handle moved from row to row (sqlite3_blob_reopen seeks the B-tree
    // without running a statement): about half the cost per vector of the prepared lookup. The
    // handle is closed before returning, so no read cursor outlives the call.
    if (wanted.empty()) {
        return Status::ok();
    }
    const uint32_t tier = s.tier;
    if (raw_per_chunk_) {
        // In chunk and slot order: one handle per chunk row, moved along its slots.
        std::sort(wanted.begin(), wanted.end(), [](const RawWanted &a, const RawWanted &b) {
            return a.loc.chunk < b.loc.chunk ||
                   (a.loc.chunk == b.loc.chunk && a.loc.slot < b.loc.slot);
        });
        raw_buf_.resize(raw_chunks_.slot_bytes());
        Status st;
        for (const RawWanted &w : wanted) {
            st = raw_chunks_.read(w.loc.chunk, w.loc.slot, s.capacity(w.loc.chunk),
                                  raw_buf_.data());
            if (st.is_ok()) {
                st = decode_raw(tier, w.id, raw_buf_.data(), raw_buf_.size(), w.out);
            }
            if (!st.is_ok()) {
                break;
            }
        }
        raw_chunks_.close();
        return st;
    }
    std::sort(wanted.begin(), wanted.end(),
              [](const RawWanted &a, const RawWanted &b) { return a.id < b.id; });
    const std::string table = tables::raw(id_);
    sqlite3_blob *blob = nullptr;
    struct Closer {
        sqlite3_blob *&b;
        ~Closer() {
            if (b != nullptr) {
                sqlite3_blob_close(b);
            }
        }
    } closer{blob};
    for (const RawWanted &w : wanted) {
        const int64_t id = w.id;
        float *out = w.out;
        const int rc = blob == nullptr
                           ? sqlite3_blob_open(db_.conn(), "main", table.c_str(), "vec", id, 0,
                                               &blob)
                           : sqlite3_blob_reopen(blob, id);
        if (rc != SQLITE_OK) {
            if (rc == SQLITE_NOMEM) {
                return error(PVEC_NOMEM, "out of memory");
            }
            // A missing row and an I/O error look alike here; the statement path tells them
            // apart (and names the damage). Should it read the row after all, the rest follow.
            if (blob != nullptr) {
                sqlite3_blob_close(blob);
                blob = nullptr;
            }
            PVEC_FORWARD_IF_ERROR(read_raw(s, w.loc, id, out));
            continue;
        }
        const int bytes = sqlite3_blob_bytes(blob);
        raw_buf_.resize(static_cast<std::size_t>(bytes));
        const int rrc = sqlite3_blob_read(blob, raw_buf_.data(), bytes, 0);
        if (rrc != SQLITE_OK) {
            return sqlite_status(db_.conn(), rrc, "reading raw vector " + std::to_string(id));
        }
        PVEC_FORWARD_IF_ERROR(decode_raw(tier, id, raw_buf_.data(), raw_buf_.size(), out));
    }
    return Status::ok();
}

Status Collection::source_vector(const Snapshot &s, const SlotRef &loc, float *vec) {
    const ResidentChunk &chunk = *s.chunks[loc.chunk];
    if (!s.model) {
        chunk.read_code(loc.slot, reinterpret_cast<uint8_t *>(vec));  // exact float32 codes
        return Status::ok();
    }
    PVEC_RETURN_IF(s.meta.raw_tier == kRawNone, PVEC_UNSUPPORTED,
                   "the original vectors are gone (compressed codes and no raw tier)");
    return read_raw(raw_places(s), loc, chunk.ids[loc.slot], vec);
}

Status Collection::write_one(Draft &d, int64_t id, const float *vec, const char *meta,
                             bool upsert) {
    bool found;
    SlotRef loc;
    // The draft holds this call's own earlier items, as the items table does.
    PVEC_FORWARD_IF_ERROR(find(d, id, &found, &loc));
    if (found) {
        PVEC_RETURN_IF(!upsert, PVEC_EXISTS, "item " + std::to_string(id) + " already exists");
        StmtUse use(update_meta_stmt_);
        use.bind(1, id);
        meta ? use.bind_static(2, meta) : use.bind_null(2);
        use.bind(3, checksum::to_column(item_sum(id, loc, meta)));
        int rc = use.step();
        if (rc != SQLITE_DONE) {
            return sqlite_status(db_.conn(), rc, "updating item " + std::to_string(id));
        }
        return write_slot(d, loc, id, vec);
    }
    PVEC_FORWARD_IF_ERROR(allocate_slot(d, &loc));
    {
        StmtUse use(insert_stmt_);
        use.bind(1, id);
        use.bind(2, static_cast<int64_t>(loc.chunk));
        use.bind(3, static_cast<int64_t>(loc.slot));
        meta ? use.bind_static(4, meta) : use.bind_null(4);
        use.bind(5, checksum::to_column(item_sum(id, loc, meta)));
        int rc = use.step();
        if (rc != SQLITE_DONE) {
            return sqlite_status(db_.conn(), rc, "inserting item " + std::to_string(id));
        }
    }
    return write_slot(d, loc, id, vec);
}

Status Collection::finish(Draft &d) {
    PVEC_FORWARD_IF_ERROR(flush_fresh(d));
    chunk_file_.close_blob();
    raw_chunks_.close();
    // The buffers new chunks were built in serve the chunks of one call, not the memory between.
    std::vector<uint8_t>().swap(spare_codes_);
    std::vector<uint8_t>().swap(spare_raw_);
    chunk_file_.release_buffer();
    PVEC_FORWARD_IF_ERROR(db_.catalog().bump_version(&d.meta));
    for (std::size_t i : d.touched()) {
        PVEC_FORWARD_IF_ERROR(chunk_file_.set_version(i, d.meta.version));
    }
    return Status::ok();
}

Status Collection::write(const ItemBatch &batch, bool upsert) {
    PVEC_FORWARD_IF_ERROR(alive());
    PVEC_RETURN_IF(db_.readonly(), PVEC_READONLY, "the database is open read-only");
    PVEC_FORWARD_IF_ERROR(prepare());
    // Everything is checked before the first write, so a bad item costs no rollback.
    for (std::size_t i = 0; i < batch.n; ++i) {
        Status st = check_vector(batch.vecs + i * dim_);
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
    // Lock, then refresh, then write: the scope holds SQLite's write lock and has brought every
    // resident collection up to the file before the draft is taken.
    Database::WriteScope scope(db_);
    PVEC_FORWARD_IF_ERROR(scope.begin());
    PVEC_FORWARD_IF_ERROR(alive());
    const SnapshotPtr base = snapshot();
    Draft d(*base);
    {
        BlobCloser closer{chunk_file_, raw_chunks_};
        for (std::size_t i = 0; i < batch.n; ++i) {
            d.pending_items = batch.n - i;
            PVEC_FORWARD_IF_ERROR(write_one(d, batch.ids[i], batch.vecs + i * dim_,
                                            batch.metas ? batch.metas[i] : nullptr, upsert));
        }
        PVEC_FORWARD_IF_ERROR(finish(d));
    }
    // Everything that allocates happens before the commit: after it, publishing cannot fail.
    SnapshotPtr next = d.publish();
    PVEC_FORWARD_IF_ERROR(scope.commit());
    publish(std::move(next));
    // Growing a chunk rewrites it; the pages of its old copy go back to the file system.
    db_.release_free_pages();
    return maybe_auto_train();
}

// The documented rule: a collection that needs a model trains at the end of the write call that
// brings its count to the threshold. The write itself is committed either way; a failed automatic
// training leaves the collection untrained (still exact) and is retried by the next write.
Status Collection::maybe_auto_train() {
    const SnapshotPtr s = snapshot();
    if (s->model || !needs_model(s->meta) || s->meta.train_threshold == kTrainNever) {
        return Status::ok();
    }
    const uint64_t threshold = s->meta.train_threshold != 0
                                   ? s->meta.train_threshold
                                   : std::max<uint64_t>(1024, 2ull * dim_);
    if (s->count >= threshold) {
        (void)train(TrainSpec{});
    }
    return Status::ok();
}

Status Collection::remove(int64_t id) {
    PVEC_FORWARD_IF_ERROR(alive());
    PVEC_RETURN_IF(db_.readonly(), PVEC_READONLY, "the database is open read-only");
    PVEC_FORWARD_IF_ERROR(prepare());
    Database::WriteScope scope(db_);
    PVEC_FORWARD_IF_ERROR(scope.begin());
    PVEC_FORWARD_IF_ERROR(alive());
    const SnapshotPtr base = snapshot();
    bool found;
    SlotRef loc;
    PVEC_FORWARD_IF_ERROR(find(*base, id, &found, &loc));
    if (!found) {
        return missing_item(*base, id);
    }
    {
        StmtUse use(delete_stmt_);
        use.bind(1, id);
        int rc = use.step();
        if (rc != SQLITE_DONE) {
            return sqlite_status(db_.conn(), rc, "deleting item " + std::to_string(id));
        }
    }
    if (base->meta.raw_tier != kRawNone && !raw_per_chunk_) {
        StmtUse use(raw_delete_stmt_);
        use.bind(1, id);
        int rc = use.step();
        if (rc != SQLITE_DONE) {
            return sqlite_status(db_.conn(), rc, "deleting raw vector " + std::to_string(id));
        }
    }
    Draft d(*base);
    {
        BlobCloser closer{chunk_file_, raw_chunks_};
        ResidentChunk &chunk = d.edit(loc.chunk);
        const ChunkLayout lay = chunk_layout(d.meta, chunk.capacity);
        chunk.set_live(loc.slot, false);
        chunk.clear_code(loc.slot);
        chunk.norms[loc.slot] = 0;
        chunk.aux[loc.slot] = 0;
        chunk.errs[loc.slot] = 0;  // the maxima stay: still bounds over the live slots
        chunk.ids[loc.slot] = 0;
        d.count -= 1;
        d.update_free(loc.chunk);
        PVEC_FORWARD_IF_ERROR(
            chunk_file_.clear_slot(loc.chunk, lay, loc.slot, chunk.live_byte(loc.slot)));
        if (raw_per_chunk_) {
            PVEC_FORWARD_IF_ERROR(raw_chunks_.clear(loc.chunk, loc.slot));
        }
        PVEC_FORWARD_IF_ERROR(finish(d));
    }
    // Everything that allocates happens before the commit: after it, publishing cannot fail.
    SnapshotPtr next = d.publish();
    PVEC_FORWARD_IF_ERROR(scope.commit());
    publish(std::move(next));
    return Status::ok();
}

Status Collection::get(int64_t id, float *vec, std::string *meta, bool *has_meta) {
    if (streaming()) {
        return get_stream(id, vec, meta, has_meta);
    }
    PVEC_FORWARD_IF_ERROR(alive());
    PVEC_FORWARD_IF_ERROR(prepare());
    // The items row and the raw vector are read in one transaction that matches the snapshot.
    Database::ReadScope read(db_);
    PVEC_FORWARD_IF_ERROR(read.begin());
    PVEC_FORWARD_IF_ERROR(alive());
    const SnapshotPtr s = snapshot();
    StmtUse use(get_stmt_);
    use.bind(1, id);
    int rc = use.step();
    if (rc == SQLITE_DONE) {
        return missing_item(*s, id);
    }
    if (rc != SQLITE_ROW) {
        return sqlite_status(db_.conn(), rc, "reading item " + std::to_string(id));
    }
    const int64_t chunk = use.int64(0), slot = use.int64(1);
    PVEC_RETURN_IF(chunk < 0 || static_cast<std::size_t>(chunk) >= s->chunks.size() || slot < 0 ||
                       slot >= static_cast<int64_t>(s->chunks[chunk]->capacity) ||
                       !s->chunks[chunk]->is_live(static_cast<std::size_t>(slot)) ||
                       s->chunks[chunk]->ids[slot] != id,
                   PVEC_CORRUPT, "item " + std::to_string(id) + " points to an invalid slot");
    const SlotRef loc{static_cast<std::size_t>(chunk), static_cast<std::size_t>(slot)};
    PVEC_FORWARD_IF_ERROR(check_item_row(id, loc, use, meta, has_meta));
    if (vec) {
        const ResidentChunk &c = *s->chunks[chunk];
        if (s->meta.raw_tier != kRawNone || !s->model) {
            PVEC_FORWARD_IF_ERROR(source_vector(*s, loc, vec));
        } else {
            std::vector<uint8_t> code(s->meta.code_bytes);
            c.read_code(loc.slot, code.data());
            model::reconstruct(*s->model, code.data(), vec);
            if (s->meta.metric == Metric::cosine) {
                const float n = l2_norm(vec, dim_);
                const float scale = n > 0 ? c.norms[loc.slot] / n : 0.0f;
                for (uint32_t i = 0; i < dim_; ++i) {
                    vec[i] *= scale;
                }
            }
        }
    }
    return read.end();
}

Status Collection::stats(CollectionStats *out) {
    if (streaming()) {
        return stats_stream(out);
    }
    PVEC_FORWARD_IF_ERROR(alive());
    const SnapshotPtr s = snapshot();
    out->count = s->count;
    out->capacity = s->capacity();
    if (bytes_version_ != s->meta.version) {
        // Pages really used, measured once per collection version (dbstat reads every page).
        uint64_t bytes = 0;
        for (const auto &c : s->chunks) {
            bytes += chunk_layout(s->meta, c->capacity).total_bytes();
        }
        bytes_used_ = measure_bytes(s->meta, bytes);
        bytes_version_ = s->meta.version;
    }
    out->bytes_used = bytes_used_;
    return Status::ok();
}

uint64_t Collection::measure_bytes(const CollectionMeta &meta, uint64_t chunk_bytes) {
    uint64_t bytes = chunk_bytes;
    Stmt st;
    if (st.prepare(db_.conn(),
                   "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN (?1, ?2, ?3, ?4)")
            .is_ok()) {
        StmtUse use(st);
        const std::string a = tables::items(id_), b = tables::chunks(id_),
                          r = raw_per_chunk_ ? tables::raw_chunks(id_) : tables::raw(id_),
                          v = tables::versions(id_);
        use.bind(1, std::string_view(a));
        use.bind(2, std::string_view(b));
        use.bind(3, std::string_view(r));
        use.bind(4, std::string_view(v));
        if (use.step() == SQLITE_ROW) {
            bytes = static_cast<uint64_t>(use.int64(0));
        }
    } else {
        // No dbstat (an optional module: SQLCipher 3.4.1 has none): the chunk bytes above
        // plus what the raw tier and the metadata hold, without the B-trees' own overhead.
        std::string sql = "SELECT (SELECT coalesce(sum(length(meta)), 0) FROM " +
                          tables::items(id_) + ")";
        if (raw_per_chunk_) {
            sql += " + (SELECT coalesce(sum(length(data)), 0) FROM " + tables::raw_chunks(id_) + ")";
        } else if (meta.raw_tier != kRawNone) {
            sql += " + (SELECT coalesce(sum(length(vec)), 0) FROM " + tables::raw(id_) + ")";
        }
        if (st.prepare(db_.conn(), sql).is_ok()) {
            StmtUse use(st);
            if (use.step() == SQLITE_ROW) {
                bytes += static_cast<uint64_t>(use.int64(0));
            }
        }
    }
    return bytes;
}

Status Collection::rescore_raw(Metric metric, const RawPlaces &s, const float *query, std::size_t k,
                               const std::vector<search::Hit> &candidates,
                               std::vector<search::Hit> *out) {
    // Fetched in storage order (read_raw_many) straight into raw[i] of candidate i, scored in the
    // candidates' order.
    // Not zeroed first: read_raw_many writes every row or fails.
    const std::unique_ptr<float[]> raw(new float[candidates.size() * std::size_t{dim_}]);
    std::vector<RawWanted> wanted(candidates.size());
    for (std::size_t i = 0; i < candidates.size(); ++i) {
        const search::Hit &h = candidates[i];
        wanted[i] = {h.id, SlotRef{h.pos / kChunkSlots, h.pos % kChunkSlots}, raw.get() + i * dim_};
    }
    PVEC_FORWARD_IF_ERROR(read_raw_many(s, std::move(wanted)));
    std::size_t next = 0;
    return search::rescore_exact(
        metric, query, dim_, k, candidates,
        [&](const search::Hit &, float *x) {
            std::memcpy(x, raw.get() + (next++) * dim_, dim_ * sizeof(float));
            return Status::ok();
        },
        out);
}

// Exact search of a trained collection needs raw vectors, scan scores that estimate an inner
// product, and the code errors that bound them.
Status Collection::exact_supported(const Snapshot &snap, bool exact) {
    if (!exact || !snap.model) {
        return Status::ok();
    }
    PVEC_RETURN_IF(snap.meta.raw_tier == kRawNone, PVEC_UNSUPPORTED,
                   "exact search needs a collection created with a raw tier");
    PVEC_RETURN_IF(!search::codes_bound_scores(*snap.model), PVEC_UNSUPPORTED,
                   std::string("exact search is not available for ") +
                       codec::codec_name(snap.model->codec.id) +
                       " codes (their scan scores carry no error bound); use "
                       "PVEC_RESCORE_RAW with an oversampling factor");
    PVEC_RETURN_IF((snap.meta.flags & kFlagSlotErrors) == 0, PVEC_UNSUPPORTED,
                   "exact search needs the per-vector code errors that training stores since "
                   "format 4; this collection was trained before: train it again");
    return Status::ok();
}

Status Collection::search(const float *query, const SearchSpec &spec,
                          std::vector<search::Hit> *hits) {
    std::vector<std::vector<search::Hit>> all;
    PVEC_FORWARD_IF_ERROR(search_batch(query, 1, spec, &all));
    *hits = std::move(all[0]);
    return Status::ok();
}

Status Collection::search_batch(const float *queries, std::size_t n, const SearchSpec &spec,
                                std::vector<std::vector<search::Hit>> *hits) {
    for (std::size_t q = 0; q < n; ++q) {
        PVEC_FORWARD_IF_ERROR(check_vector(queries + q * dim_));
    }
    PVEC_RETURN_IF(spec.k == 0, PVEC_RANGE, "k must be at least 1");
    PVEC_RETURN_IF(spec.rescore > PVEC_RESCORE_EXACT, PVEC_INVALID, "unknown rescore source");
    hits->assign(n, {});
    if (streaming()) {
        return search_stream(queries, n, spec, hits);
    }
    uint64_t rescored = 0;
    auto report = [&]() {
        if (spec.rescored != nullptr) {
            *spec.rescored = rescored;
        }
        return Status::ok();
    };
    SnapshotPtr s;
    {
        // Bring the state up to the file unless another call of this pvec_db is running (a
        // write): then the snapshot it last published is a consistent state to answer from.
        std::unique_lock<std::mutex> lock(db_.mutex(), std::try_to_lock);
        if (!lock.owns_lock() && stale_) {
            lock.lock();
        }
        if (lock.owns_lock()) {
            PVEC_FORWARD_IF_ERROR(db_.sync());
        }
        s = snapshot();
    }
    PVEC_RETURN_IF(s->dropped, PVEC_NOTFOUND, "the collection was dropped");
    PVEC_RETURN_IF(spec.rescore == PVEC_RESCORE_RAW && s->meta.raw_tier == kRawNone,
                   PVEC_UNSUPPORTED,
                   "rescoring from raw vectors needs a collection created with a raw tier");
    const bool exact = spec.rescore == PVEC_RESCORE_EXACT;
    PVEC_FORWARD_IF_ERROR(exact_supported(*s, exact));
    // Every query of a batch answers from the one pinned snapshot.
    auto exact_scan = [&](const Snapshot &snap) {
        std::vector<search::BlockView> blocks;
        blocks.reserve(snap.chunks.size());
        for (const auto &c : snap.chunks) {
            blocks.push_back(search::BlockView{c->f32_block(), c->ids.data(), c->live.data(),
                                               c->aux.data()});
        }
        const std::size_t k = std::min<std::size_t>(spec.k, snap.count);
        for (std::size_t q = 0; q < n; ++q) {
            (*hits)[q] = search::scan_exact(
                search::Query{snap.meta.metric, queries + q * dim_, dim_, k, spec.threads}, blocks);
        }
    };
    if (!s->model) {
        exact_scan(*s);
        return report();
    }
    const uint32_t r = std::max<uint32_t>(1, spec.oversample);
    const bool rescore =
        exact || spec.rescore == PVEC_RESCORE_RAW ||
        (spec.rescore == PVEC_RESCORE_AUTO && r > 1 && s->meta.raw_tier != kRawNone);
    // Exact mode's first scan: enough candidates that the k-th exact score is usually settled by
    // them (a wider scan costs no raw reads: only candidates whose bound reaches it are read).
    auto exact_keep = [&](const Snapshot &snap) {
        const std::size_t kk = std::min<std::size_t>(spec.k, snap.count);
        return std::min<std::size_t>(snap.count, std::max<std::size_t>(64, 8 * kk));
    };
    // The prepared queries and, in exact mode, their score bounds, as of the last scan.
    std::vector<model::Query> mq;
    std::vector<search::ScoreBounds> bounds;
    auto scan = [&](const Snapshot &snap, std::vector<std::vector<search::Hit>> *found) {
        const std::size_t kk = std::min<std::size_t>(spec.k, snap.count);
        const std::size_t keep =
            exact ? exact_keep(snap)
                  : rescore ? std::min<std::size_t>(snap.count, kk * std::size_t(r)) : kk;
        mq.clear();
        bounds.clear();
        std::vector<search::RankByBound> ranks;
        for (std::size_t q = 0; q < n; ++q) {
            mq.push_back(model::prepare_query(*snap.model, queries + q * dim_));
            if (exact) {
                bounds.push_back(search::score_bounds(*snap.model, mq.back(), queries + q * dim_));
                ranks.push_back(search::rank_by_bound(bounds.back()));
            }
        }
        *found = search::scan_codes_batch(mq, code_blocks(snap), keep, spec.threads,
                                          exact ? &ranks : nullptr);
        return !mq.empty() && mq[0].hamming;
    };
    std::vector<std::vector<search::Hit>> found;
    const bool hamming = scan(*s, &found);
    if (!rescore) {
        for (std::size_t q = 0; q < n; ++q) {
            if (s->meta.metric == Metric::l2 && !hamming) {
                for (search::Hit &h : found[q]) {
                    h.score = std::sqrt(std::max(0.0f, h.score));
                }
                std::sort(found[q].begin(), found[q].end(), search::better);
            }
            (*hits)[q] = std::move(found[q]);
        }
        return report();
    }
    // Exact scores from the raw tier, read in one transaction that holds the state the scan saw:
    // if the state moved on meanwhile, the scan is repeated on the new one under the lock.
    std::lock_guard<std::mutex> lock(db_.mutex());
    Database::ReadScope read(db_);
    PVEC_FORWARD_IF_ERROR(read.begin());
    SnapshotPtr now = snapshot();
    if (now != s) {
        PVEC_RETURN_IF(now->dropped, PVEC_NOTFOUND, "the collection was dropped");
        s = now;
        if (!s->model) {
            exact_scan(*s);  // the collection lost its model meanwhile
            PVEC_FORWARD_IF_ERROR(read.end());
            return report();
        }
        PVEC_FORWARD_IF_ERROR(exact_supported(*s, exact));
        scan(*s, &found);
    }
    PVEC_FORWARD_IF_ERROR(prepare());
    for (std::size_t q = 0; q < n; ++q) {
        const std::size_t k = std::min<std::size_t>(spec.k, s->count);
        if (exact) {
            ExactScan source;
            source.count = s->count;
            for (const auto &c : s->chunks) {
                source.err_max = std::max(source.err_max, double(c->err_max));
                source.norm_max = std::max(source.norm_max, double(c->norm_max));
                source.aux_max = std::max(source.aux_max, double(c->aux_max));
            }
            auto bounds_of = [&](const std::vector<search::Hit> &hs) {
                std::vector<SlotBounds> out(hs.size());
                for (std::size_t i = 0; i < hs.size(); ++i) {
                    const ResidentChunk &c = *s->chunks[hs[i].pos / kChunkSlots];
                    const std::size_t slot = hs[i].pos % kChunkSlots;
                    out[i] = SlotBounds{c.errs[slot], c.norms[slot], c.aux[slot]};
                }
                return out;
            };
            const search::RankByBound rank = search::rank_by_bound(bounds[q]);
            source.scan = [&](std::size_t keep, std::vector<search::Hit> *f,
                              std::vector<SlotBounds> *b) {
                *f = search::scan_codes(mq[q], code_blocks(*s), keep, spec.threads, &rank);
                *b = bounds_of(*f);
                return Status::ok();
            };
            std::vector<SlotBounds> found_bounds = bounds_of(found[q]);
            PVEC_FORWARD_IF_ERROR(search_exact(s->meta, raw_places(*s), source, queries + q * dim_,
                                               bounds[q], k, exact_keep(*s), std::move(found[q]),
                                               std::move(found_bounds), &(*hits)[q], &rescored));
        } else {
            rescored += found[q].size();
            PVEC_FORWARD_IF_ERROR(
                rescore_raw(s->meta.metric, raw_places(*s), queries + q * dim_, k, found[q],
                            &(*hits)[q]));
        }
    }
    PVEC_FORWARD_IF_ERROR(read.end());
    return report();
}

Status Collection::search_exact(const CollectionMeta &meta, const RawPlaces &places,
                                const ExactScan &source, const float *query,
                                const search::ScoreBounds &bounds, std::size_t k, std::size_t keep,
                                std::vector<search::Hit> found,
                                std::vector<SlotBounds> found_bounds,
                                std::vector<search::Hit> *out, uint64_t *rescored) {
    out->clear();
    if (k == 0) {
        return Status::ok();  // no items left
    }
    // A raw vector rounded to binary16 may be a little longer than the original: norms are of
    // the original.
    const double norm_slack = meta.raw_tier == kRawF16 ? 1.0 + 0x1p-10 : 1.0 + 0x1p-20;
    auto xnorm = [&](float norm) {
        return meta.metric == Metric::cosine ? 1.0 : double(norm) * norm_slack;
    };
    // Bounds over every live slot, for the items a scan did not keep: the chunks' maxima.
    const double xnorm_max = meta.metric == Metric::cosine ? 1.0 : source.norm_max * norm_slack;
    auto fetch = [&](const std::vector<search::Hit> &hits, float *x) {
        std::vector<RawWanted> wanted(hits.size());
        for (std::size_t i = 0; i < hits.size(); ++i) {
            const search::Hit &h = hits[i];
            wanted[i] = {h.id, SlotRef{h.pos / kChunkSlots, h.pos % kChunkSlots}, x + i * dim_};
        }
        return read_raw_many(places, std::move(wanted));
    };
    search::ExactScores done;
    for (;;) {
        std::vector<search::Bounded> cands;
        cands.reserve(found.size());
        for (std::size_t i = 0; i < found.size(); ++i) {
            const SlotBounds &b = found_bounds[i];
            cands.push_back(search::Bounded{
                found[i], search::lower_from_key(bounds, found[i].score, b.err, xnorm(b.norm), b.aux)});
        }
        double kth;
        PVEC_FORWARD_IF_ERROR(
            search::rescore_until_exact(meta.metric, query, dim_, k, cands, fetch, &done, out, &kth));
        if (found.size() >= source.count || found.empty()) {
            break;  // every item was a candidate
        }
        // An item the scan did not keep has a key no smaller than the last kept one's.
        if (search::lower_from_key(bounds, found.back().score, source.err_max, xnorm_max,
                                   source.aux_max) > kth) {
            break;
        }
        keep = std::min<std::size_t>(source.count, keep * 4);
        PVEC_FORWARD_IF_ERROR(source.scan(keep, &found, &found_bounds));
    }
    *rescored += done.size();
    return Status::ok();
}

Status Collection::train(const TrainSpec &spec) {
    PVEC_FORWARD_IF_ERROR(alive());
    PVEC_RETURN_IF(db_.readonly(), PVEC_READONLY, "the database is open read-only");
    PVEC_FORWARD_IF_ERROR(prepare());
    Database::WriteScope scope(db_);
    PVEC_FORWARD_IF_ERROR(scope.begin());
    PVEC_FORWARD_IF_ERROR(alive());
    const SnapshotPtr s = snapshot();
    const std::string codec_name = spec.codec.value_or(s->meta.codec);
    codec::CodecId id;
    PVEC_RETURN_IF(!codec::codec_from_name(codec_name, &id), PVEC_INVALID,
                   "unknown codec '" + codec_name + "'");
    const uint32_t pca_dim = spec.pca_dim.value_or(s->meta.pca_dim);
    PVEC_RETURN_IF(pca_dim >= dim_, PVEC_RANGE,
                   "pca_dim must be smaller than the dimension " + std::to_string(dim_));
    const uint32_t flags = spec.flags.value_or(s->meta.flags);
    if (s->model && s->model->codec.id == id && !codec::codec_needs_training(id) && pca_dim == 0 &&
        !s->model->pca) {
        return scope.commit();  // f16 / bf16 without PCA: there is nothing to fit, the codes stand
    }
    const uint64_t n = s->count;
    PVEC_RETURN_IF(n == 0, PVEC_RANGE, "the collection has no items to train on");
    PVEC_RETURN_IF(s->model && s->meta.raw_tier == kRawNone, PVEC_UNSUPPORTED,
                   "re-training a trained collection needs its raw tier (the codes are lossy)");

    std::shared_ptr<const model::Model> m;
    if (codec_name != "f32" || pca_dim > 0) {
        // An even spread over the live items, so that old and new items are both represented.
        const uint64_t want = std::min<uint64_t>(n, spec.sample ? spec.sample : 16384);
        std::vector<float> sample;
        sample.reserve(want * dim_);
        std::vector<float> v(dim_);
        uint64_t seen = 0, taken = 0;
        for (std::size_t ci = 0; ci < s->chunks.size() && taken < want; ++ci) {
            for (std::size_t slot = 0; slot < kChunkSlots && taken < want; ++slot) {
                if (!s->chunks[ci]->is_live(slot)) {
                    continue;
                }
                if (seen++ * want / n == taken) {
                    PVEC_FORWARD_IF_ERROR(source_vector(*s, SlotRef{ci, slot}, v.data()));
                    sample.insert(sample.end(), v.begin(), v.end());
                    ++taken;
                }
            }
        }
        auto fitted = std::make_shared<model::Model>();
        PVEC_FORWARD_IF_ERROR(model::fit(sample.data(), taken, dim_, s->meta.metric, id, pca_dim,
                                         (flags & kFlagPcaRotate) != 0,
                                         spec.seed ? spec.seed : 0x5eed, fitted.get()));
        m = std::move(fitted);
    }
    return reencode(scope, *s, std::move(m), codec_name, pca_dim, flags);
}

Status Collection::export_model(std::vector<uint8_t> *blob) {
    if (streaming()) {
        const bool committed = sqlite3_get_autocommit(db_.conn()) != 0;
        Database::ReadScope read(db_);
        PVEC_FORWARD_IF_ERROR(read.begin_plain());
        PVEC_FORWARD_IF_ERROR(stream_refresh(committed));
        PVEC_FORWARD_IF_ERROR(read.end());
    }
    PVEC_FORWARD_IF_ERROR(alive());
    const SnapshotPtr s = snapshot();
    PVEC_RETURN_IF(!s->model, PVEC_NOTFOUND, "the collection is not trained: it has no model");
    *blob = s->model->serialize();
    return Status::ok();
}

Status Collection::import_model(const uint8_t *blob, std::size_t size) {
    PVEC_FORWARD_IF_ERROR(alive());
    PVEC_RETURN_IF(db_.readonly(), PVEC_READONLY, "the database is open read-only");
    auto m = std::make_shared<model::Model>();
    PVEC_FORWARD_IF_ERROR(model::Model::deserialize(blob, size, m.get()));
    PVEC_RETURN_IF(m->dim != dim_, PVEC_DIM,
                   "the model is for dimension " + std::to_string(m->dim) +
                       ", the collection has " + std::to_string(dim_));
    PVEC_FORWARD_IF_ERROR(prepare());
    Database::WriteScope scope(db_);
    PVEC_FORWARD_IF_ERROR(scope.begin());
    PVEC_FORWARD_IF_ERROR(alive());
    const SnapshotPtr s = snapshot();
    PVEC_RETURN_IF(m->metric != s->meta.metric, PVEC_INVALID,
                   std::string("the model is for metric ") + metric_name(m->metric));
    PVEC_RETURN_IF(s->model && s->meta.raw_tier == kRawNone && s->count > 0, PVEC_UNSUPPORTED,
                   "re-encoding a trained collection needs its raw tier (the codes are lossy)");
    const std::string codec_name = codec::codec_name(m->codec.id);
    const uint32_t pca_dim = m->pca_dim();
    const uint32_t flags =
        pca_dim > 0 && m->pca->rotated ? (s->meta.flags | kFlagPcaRotate) : s->meta.flags;
    {
        // Checked as strictly as a definition read from the file, so that an import never
        // writes a collection that the next open would refuse.
        CollectionMeta next = s->meta;
        next.codec = codec_name;
        next.pca_dim = pca_dim;
        next.flags = flags;
        next.code_bytes = static_cast<uint32_t>(m->code_bytes());
        next.model_id = 1;
        Status st = validate_definition(next);
        PVEC_RETURN_IF(!st.is_ok(), PVEC_INVALID,
                       "the model does not fit the collection (" + st.message() + ")");
    }
    return reencode(scope, *s, std::move(m), codec_name, pca_dim, flags);
}

Status Collection::reencode(Database::WriteScope &scope, const Snapshot &s,
                            std::shared_ptr<const model::Model> model, const std::string &codec_name,
                            uint32_t pca_dim, uint32_t flags) {
    Draft d(s);
    PVEC_FORWARD_IF_ERROR(encode_all(s, d, std::move(model), codec_name, pca_dim, flags));
    // Everything that allocates happens before the commit: after it, publishing cannot fail.
    SnapshotPtr next = d.publish();
    PVEC_FORWARD_IF_ERROR(scope.commit());
    publish(std::move(next));
    db_.release_free_pages();
    return Status::ok();
}

Status Collection::encode_all(const Snapshot &s, Draft &d,
                              std::shared_ptr<const model::Model> model,
                              const std::string &codec_name, uint32_t pca_dim, uint32_t flags) {
    // New chunks under the new model, built from the best source of each original vector.
    d.meta.codec = codec_name;
    d.meta.pca_dim = pca_dim;
    // Chunks carry code errors whenever there are raw vectors to rescore from and codes whose scan
    // scores the errors bound (not binary or rabitq codes: exact mode refuses them).
    const bool bounded = model && d.meta.raw_tier != kRawNone && search::codes_bound_scores(*model);
    constexpr uint32_t kRawLayout = kFlagRawChunks | kFlagRawParts;  // fixed at creation
    d.meta.flags = (flags & ~(kFlagSlotErrors | kRawLayout)) | (d.meta.flags & kRawLayout) |
                   (bounded ? kFlagSlotErrors : 0u);
    d.meta.code_bytes = static_cast<uint32_t>(model ? model->code_bytes() : dim_ * 4);
    const bool with_err = (d.meta.flags & kFlagSlotErrors) != 0;
    std::vector<std::shared_ptr<ResidentChunk>> chunks;
    std::vector<float> v(dim_);
    std::vector<uint8_t> code(d.meta.code_bytes);
    for (std::size_t ci = 0; ci < s.chunks.size(); ++ci) {
        const ResidentChunk &old = *s.chunks[ci];
        auto chunk = std::make_shared<ResidentChunk>(d.meta.code_bytes);
        chunk->capacity = old.capacity;
        for (std::size_t slot = 0; slot < old.capacity; ++slot) {
            if (!old.is_live(slot)) {
                continue;
            }
            PVEC_FORWARD_IF_ERROR(source_vector(s, SlotRef{ci, slot}, v.data()));
            if (model) {
                model::encode(*model, v.data(), code.data());
            } else {
                std::memcpy(code.data(), v.data(), d.meta.code_bytes);
            }
            chunk->set_live(slot, true);
            chunk->ids[slot] = old.ids[slot];
            chunk->write_code(slot, code.data());
            chunk->set_fields(
                slot, old.norms[slot], scan_aux(model.get(), code.data(), old.norms[slot]),
                with_err ? slot_error(d.meta.raw_tier, *model, v.data(), code.data()) : 0.0f);
        }
        PVEC_FORWARD_IF_ERROR(chunk_file_.rewrite(ci, *chunk, d.meta));
        chunks.push_back(std::move(chunk));
    }
    d.replace_all(std::move(chunks));
    d.model = model;
    // set_model bumps the collection's version; the chunks get that version.
    PVEC_FORWARD_IF_ERROR(db_.catalog().set_model(&d.meta, model.get()));
    for (std::size_t i : d.touched()) {
        PVEC_FORWARD_IF_ERROR(chunk_file_.set_version(i, d.meta.version));
    }
    return Status::ok();
}

}  // namespace pocketvec::store
