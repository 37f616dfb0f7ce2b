#include "store/chunk_file.h"

#include <cmath>
#include <cstring>

#include "codec/codec.h"
#include "store/checksum.h"

namespace pocketvec::store {

float scan_aux(const model::Model *model, const uint8_t *code, float norm) {
    if (model) {
        // Only L2 code scores use |decode(code)|^2; decoding every code at load costs more than
        // reading the chunks (a third of opening 25,000 binary codes).
        return model->metric == Metric::l2 ? codec::decoded_norm2(model->codec, code) : 0.0f;
    }
    return norm > 0 ? 1.0f / norm : 0.0f;
}

namespace {

// Both chunk reads are rowid lookups or rowid-ordered scans: they write no temporary file, so
// SQLITE_FULL from them is no full disk. SQLite 3.15 (SQLCipher 3.4.1) answers so when a damaged
// page points past the largest page number; later versions say SQLITE_CORRUPT.
Status read_failed(sqlite3 *conn, int rc, const std::string &what) {
    Status st = sqlite_status(conn, rc, what);
    PVEC_RETURN_IF((rc & 0xff) == SQLITE_FULL, PVEC_CORRUPT,
                   st.message() + " (a damaged page points past the end of the file)");
    return st;
}

}  // namespace

ChunkFile::ChunkFile(sqlite3 *conn, const CollectionMeta &meta)
    : conn_(conn), uid_(meta.uid), chunks_(tables::chunks(meta.id)), versions_(tables::versions(meta.id)),
      where_("collection '" + meta.name + "'") {}

Status ChunkFile::prepare() {
    if (list_.prepared()) {
        return Status::ok();
    }
    auto prep = [&](Stmt &s, const std::string &sql) {
        return prepare_on_own_tables(s, conn_, sql, where_);
    };
    PVEC_FORWARD_IF_ERROR(prep(list_, "SELECT c.id, v.version FROM " + chunks_ + " c LEFT JOIN " +
                                          versions_ + " v ON v.id = c.id ORDER BY c.id"));
    PVEC_FORWARD_IF_ERROR(prep(load_, "SELECT capacity, data FROM " + chunks_ + " WHERE id = ?1"));
    PVEC_FORWARD_IF_ERROR(
        prep(insert_, "INSERT INTO " + chunks_ + "(id, capacity, data) VALUES(?1, ?2, ?3)"));
    PVEC_FORWARD_IF_ERROR(prep(insert_version_, "INSERT OR REPLACE INTO " + versions_ +
                                                    "(id, version) VALUES(?1, ?2)"));
    PVEC_FORWARD_IF_ERROR(
        prep(rewrite_, "UPDATE " + chunks_ + " SET capacity = ?2, data = ?3 WHERE id = ?1"));
    PVEC_FORWARD_IF_ERROR(
        prep(set_version_, "UPDATE " + versions_ + " SET version = ?2 WHERE id = ?1"));
    return Status::ok();
}

Status ChunkFile::versions(std::vector<int64_t> *out) {
    PVEC_FORWARD_IF_ERROR(prepare());
    out->clear();
    StmtUse use(list_);
    int rc;
    while ((rc = use.step()) == SQLITE_ROW) {
        PVEC_RETURN_IF(use.int64(0) != static_cast<int64_t>(out->size()), PVEC_CORRUPT,
                       where_ + ": chunk ids are not contiguous");
        PVEC_RETURN_IF(use.is_null(1), PVEC_CORRUPT,
                       where_ + ": chunk " + std::to_string(out->size()) + " has no version");
        out->push_back(use.int64(1));
    }
    return rc == SQLITE_DONE ? Status::ok()
                             : read_failed(conn_, rc, "reading the chunks of " + where_);
}

Status ChunkFile::load(std::size_t index, const CollectionMeta &meta, const model::Model *model,
                       std::shared_ptr<ResidentChunk> *out) {
    const std::size_t code_bytes = meta.code_bytes;
    PVEC_FORWARD_IF_ERROR(prepare());
    const std::string which = where_ + ": chunk " + std::to_string(index);
    StmtUse use(load_);
    use.bind(1, static_cast<int64_t>(index));
    int rc = use.step();
    if (rc == SQLITE_DONE) {
        return error(PVEC_CORRUPT, which + " is missing");
    }
    if (rc != SQLITE_ROW) {
        return read_failed(conn_, rc, "reading the chunks of " + where_);
    }
    const int64_t capacity = use.int64(0);
    PVEC_RETURN_IF(capacity < int64_t(kChunkGrowth) || capacity > int64_t(kChunkSlots) ||
                       capacity % kChunkGrowth != 0,
                   PVEC_CORRUPT, which + " has an invalid capacity");
    const ChunkLayout lay = chunk_layout(meta, static_cast<std::size_t>(capacity));
    PVEC_RETURN_IF(use.bytes(1) != lay.total_bytes(), PVEC_CORRUPT,
                   which + " has " + std::to_string(use.bytes(1)) + " bytes, expected " +
                       std::to_string(lay.total_bytes()));
    const auto *data = static_cast<const uint8_t *>(use.blob(1));
    const std::string damage = find_damage(data, lay, uid_, index);
    PVEC_RETURN_IF(!damage.empty(), PVEC_CORRUPT, where_ + ": " + damage);
    auto chunk = std::make_shared<ResidentChunk>(code_bytes);
    chunk->capacity = lay.capacity;
    for (std::size_t slot = 0; slot < lay.capacity; ++slot) {
        if (!((data[lay.live_offset() + slot / 8] >> (slot % 8)) & 1u)) {
            continue;
        }
        chunk->set_live(slot, true);
        std::memcpy(&chunk->ids[slot], data + lay.id_offset(slot), 8);
        float norm, err = 0;
        std::memcpy(&norm, data + lay.norm_offset(slot), 4);
        if (lay.with_err) {
            uint16_t stored;
            std::memcpy(&stored, data + lay.err_offset(slot), kErrBytes);
            err = err_value(stored);
        }
        const uint8_t *code = data + lay.code_offset(slot);
        chunk->set_fields(slot, norm, scan_aux(model, code, norm), err);
    }
    // The blob's codes are row-major and a free slot's are zero (find_damage checked): all of them
    // go into the scan layout in one tiled transposition.
    chunk->write_codes(data + lay.codes_offset(), lay.capacity);
    *out = std::move(chunk);
    return Status::ok();
}

Status ChunkFile::insert_built(std::size_t index, const ResidentChunk &chunk,
                               const uint8_t *row_codes, const CollectionMeta &meta,
                               int64_t version) {
    PVEC_FORWARD_IF_ERROR(prepare());
    std::vector<uint8_t> &data = blob_buf_;
    build_blob(chunk, chunk_layout(meta, chunk.capacity), uid_, index, &data, row_codes);
    {
        StmtUse use(insert_);
        use.bind(1, static_cast<int64_t>(index));
        use.bind(2, static_cast<int64_t>(chunk.capacity));
        use.bind_blob(3, data.data(), data.size());
        int rc = use.step();
        if (rc != SQLITE_DONE) {
            return sqlite_status(conn_, rc, "adding a chunk to " + where_);
        }
    }
    StmtUse use(insert_version_);
    use.bind(1, static_cast<int64_t>(index));
    use.bind(2, version);
    int rc = use.step();
    return rc == SQLITE_DONE ? Status::ok() : sqlite_status(conn_, rc, "adding a chunk to " + where_);
}

Status ChunkFile::rewrite(std::size_t index, const ResidentChunk &chunk, const CollectionMeta &meta) {
    PVEC_FORWARD_IF_ERROR(prepare());
    std::vector<uint8_t> &data = blob_buf_;
    build_blob(chunk, chunk_layout(meta, chunk.capacity), uid_, index, &data);
    blob_.close();  // the UPDATE expires any blob handle on this row
    StmtUse use(rewrite_);
    use.bind(1, static_cast<int64_t>(index));
    use.bind(2, static_cast<int64_t>(chunk.capacity));
    use.bind_blob(3, data.data(), data.size());
    int rc = use.step();
    return rc == SQLITE_DONE ? Status::ok()
                             : sqlite_status(conn_, rc, "rewriting a chunk of " + where_);
}

Status ChunkFile::set_version(std::size_t index, int64_t version) {
    PVEC_FORWARD_IF_ERROR(prepare());
    StmtUse use(set_version_);
    use.bind(1, static_cast<int64_t>(index));
    use.bind(2, version);
    int rc = use.step();
    if (rc != SQLITE_DONE) {
        return sqlite_status(conn_, rc, "updating a chunk version of " + where_);
    }
    PVEC_RETURN_IF(sqlite3_changes(conn_) != 1, PVEC_CORRUPT,
                   where_ + ": chunk " + std::to_string(index) + " has no version");
    return Status::ok();
}

Status ChunkFile::write_slot(std::size_t index, const ChunkLayout &lay, std::size_t slot,
                             int64_t id, float norm, float err, const uint8_t *code,
                             uint8_t live_byte) {
    PVEC_FORWARD_IF_ERROR(blob_.open(conn_, chunks_, "data", static_cast<int64_t>(index), true));
    PVEC_RETURN_IF(blob_.size() != lay.total_bytes(), PVEC_CORRUPT,
                   where_ + ": chunk " + std::to_string(index) + " changed size");
    const uint16_t stored_err = err_stored(err);
    const uint32_t sum = checksum::slot(uid_, index, slot, id, norm,
                                        lay.with_err ? &stored_err : nullptr, code, lay.code_bytes);
    PVEC_FORWARD_IF_ERROR(blob_.write(code, lay.code_bytes, lay.code_offset(slot)));
    PVEC_FORWARD_IF_ERROR(blob_.write(&sum, 4, lay.sum_offset(slot)));
    if (lay.with_err) {
        PVEC_FORWARD_IF_ERROR(blob_.write(&stored_err, kErrBytes, lay.err_offset(slot)));
    }
    PVEC_FORWARD_IF_ERROR(blob_.write(&norm, 4, lay.norm_offset(slot)));
    PVEC_FORWARD_IF_ERROR(blob_.write(&id, 8, lay.id_offset(slot)));
    return blob_.write(&live_byte, 1, lay.live_offset() + slot / 8);
}

Status ChunkFile::clear_slot(std::size_t index, const ChunkLayout &lay, std::size_t slot,
                             uint8_t live_byte) {
    PVEC_FORWARD_IF_ERROR(blob_.open(conn_, chunks_, "data", static_cast<int64_t>(index), true));
    PVEC_RETURN_IF(blob_.size() != lay.total_bytes(), PVEC_CORRUPT,
                   where_ + ": chunk " + std::to_string(index) + " changed size");
    PVEC_FORWARD_IF_ERROR(blob_.write(&live_byte, 1, lay.live_offset() + slot / 8));
    const std::vector<uint8_t> zeros(std::max<std::size_t>(lay.code_bytes, 8), 0);
    PVEC_FORWARD_IF_ERROR(blob_.write(zeros.data(), 8, lay.id_offset(slot)));
    PVEC_FORWARD_IF_ERROR(blob_.write(zeros.data(), 4, lay.norm_offset(slot)));
    PVEC_FORWARD_IF_ERROR(blob_.write(zeros.data(), 4, lay.sum_offset(slot)));
    if (lay.with_err) {
        PVEC_FORWARD_IF_ERROR(blob_.write(zeros.data(), kErrBytes, lay.err_offset(slot)));
    }
    return blob_.write(zeros.data(), lay.code_bytes, lay.code_offset(slot));
}

void ChunkFile::build_blob(const ResidentChunk &chunk, const ChunkLayout &lay, int64_t uid,
                           std::size_t index, std::vector<uint8_t> *out,
                           const uint8_t *row_codes) {
    out->assign(lay.total_bytes(), 0);
    uint8_t *data = out->data();
    for (std::size_t s = 0; s < std::min(lay.capacity, chunk.capacity); ++s) {
        if (!chunk.is_live(s)) {
            continue;
        }
        data[lay.live_offset() + s / 8] |= uint8_t(1u << (s % 8));
        std::memcpy(data + lay.id_offset(s), &chunk.ids[s], 8);
        std::memcpy(data + lay.norm_offset(s), &chunk.norms[s], 4);
        if (row_codes != nullptr) {
            std::memcpy(data + lay.code_offset(s), row_codes + s * lay.code_bytes, lay.code_bytes);
        } else {
            chunk.read_code(s, data + lay.code_offset(s));
        }
        const uint16_t stored_err = err_stored(chunk.errs[s]);
        if (lay.with_err) {
            std::memcpy(data + lay.err_offset(s), &stored_err, kErrBytes);
        }
        const uint32_t sum =
            checksum::slot(uid, index, s, chunk.ids[s], chunk.norms[s],
                           lay.with_err ? &stored_err : nullptr, data + lay.code_offset(s),
                           lay.code_bytes);
        std::memcpy(data + lay.sum_offset(s), &sum, 4);
    }
}

std::string ChunkFile::find_damage(const uint8_t *data, const ChunkLayout &lay, int64_t uid,
                                   std::size_t index) {
    const auto zero = [](const uint8_t *p, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) {
            if (p[i] != 0) {
                return false;
            }
        }
        return true;
    };
    for (std::size_t slot = 0; slot < lay.capacity; ++slot) {
        const uint8_t *id = data + lay.id_offset(slot), *norm = data + lay.norm_offset(slot),
                      *sum = data + lay.sum_offset(slot), *code = data + lay.code_offset(slot);
        const uint8_t *err = lay.with_err ? data + lay.err_offset(slot) : nullptr;
        bool ok;
        if ((data[lay.live_offset() + slot / 8] >> (slot % 8)) & 1u) {
            int64_t id_v;
            float norm_v;
            uint32_t sum_v;
            std::memcpy(&id_v, id, 8);
            std::memcpy(&norm_v, norm, 4);
            std::memcpy(&sum_v, sum, 4);
            uint16_t err_v = 0;
            if (err != nullptr) {
                std::memcpy(&err_v, err, kErrBytes);
            }
            ok = sum_v == checksum::slot(uid, index, slot, id_v, norm_v,
                                         err != nullptr ? &err_v : nullptr, code, lay.code_bytes);
            // A code error is a distance: finite and not negative, or the bound it gives is void.
            ok = ok && (err == nullptr || (std::isfinite(err_value(err_v)) && err_value(err_v) >= 0));
        } else {
            ok = zero(id, 8) && zero(norm, 4) && zero(sum, 4) && zero(code, lay.code_bytes) &&
                 (err == nullptr || zero(err, kErrBytes));
        }
        if (!ok) {
            return "chunk " + std::to_string(index) + " slot " + std::to_string(slot) +
                   " is damaged (checksum mismatch)";
        }
    }
    return "";
}

}  // namespace pocketvec::store
