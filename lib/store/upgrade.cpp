#include "store/upgrade.h"

#include <cstring>
#include <string>
#include <vector>

#include "model/model.h"
#include "store/catalog.h"
#include "store/checksum.h"
#include "store/chunk_format.h"
#include "store/sqlite_util.h"

namespace pocketvec::store {
namespace {

Status step_done(sqlite3 *conn, StmtUse &use) {
    int rc = use.step();
    return rc == SQLITE_DONE ? Status::ok() : sqlite_status(conn, rc, "upgrading the file format");
}

Status read_ids(sqlite3 *conn, const std::string &sql, std::vector<int64_t> *ids) {
    Stmt s;
    PVEC_FORWARD_IF_ERROR(s.prepare(conn, sql));
    StmtUse use(s);
    int rc;
    while ((rc = use.step()) == SQLITE_ROW) {
        ids->push_back(use.int64(0));
    }
    return rc == SQLITE_DONE ? Status::ok() : sqlite_status(conn, rc, "upgrading the file format");
}

Status seal_items(sqlite3 *conn, const CollectionMeta &m) {
    const std::string items = tables::items(m.id);
    PVEC_FORWARD_IF_ERROR(
        exec(conn, ("ALTER TABLE " + items + " ADD COLUMN sum INTEGER NOT NULL DEFAULT 0").c_str()));
    std::vector<int64_t> ids;
    PVEC_FORWARD_IF_ERROR(read_ids(conn, "SELECT id FROM " + items, &ids));
    Stmt get, put;
    PVEC_FORWARD_IF_ERROR(get.prepare(conn, "SELECT chunk, slot, meta FROM " + items + " WHERE id = ?1"));
    PVEC_FORWARD_IF_ERROR(put.prepare(conn, "UPDATE " + items + " SET sum = ?2 WHERE id = ?1"));
    for (int64_t id : ids) {
        uint32_t sum;
        {
            StmtUse use(get);
            use.bind(1, id);
            int rc = use.step();
            if (rc != SQLITE_ROW) {
                return sqlite_status(conn, rc, "upgrading the file format");
            }
            sum = checksum::item(m.uid, id, use.int64(0), use.int64(1), !use.is_null(2), use.text(2));
        }
        StmtUse use(put);
        use.bind(1, id);
        use.bind(2, checksum::to_column(sum));
        PVEC_FORWARD_IF_ERROR(step_done(conn, use));
    }
    return Status::ok();
}

// Rewrites every chunk blob of `m` from an older layout. For chunk `index` of `capacity` slots
// (checked like a load does), the old blob must be old_bytes(capacity) long (else PVEC_CORRUPT),
// and convert(index, lay, in, out) fills `out` (the new layout `lay`'s size, zeroed) from it.
template <class OldBytes, class Convert>
Status rewrite_chunks(sqlite3 *conn, const CollectionMeta &m, bool with_err,
                      const OldBytes &old_bytes, const Convert &convert) {
    const std::string chunks = tables::chunks(m.id);
    std::vector<int64_t> ids;
    PVEC_FORWARD_IF_ERROR(read_ids(conn, "SELECT id FROM " + chunks, &ids));
    Stmt get, put;
    PVEC_FORWARD_IF_ERROR(get.prepare(conn, "SELECT capacity, data FROM " + chunks + " WHERE id = ?1"));
    PVEC_FORWARD_IF_ERROR(put.prepare(conn, "UPDATE " + chunks + " SET data = ?2 WHERE id = ?1"));
    std::vector<uint8_t> out;
    for (int64_t index : ids) {
        {
            StmtUse use(get);
            use.bind(1, index);
            int rc = use.step();
            if (rc != SQLITE_ROW) {
                return sqlite_status(conn, rc, "upgrading the file format");
            }
            const int64_t cap = use.int64(0);
            const std::string which =
                "collection '" + m.name + "': chunk " + std::to_string(index);
            PVEC_RETURN_IF(cap < 32 || cap > 256 || cap % 32 != 0 || index < 0, PVEC_CORRUPT,
                           which + " has an invalid capacity");
            const ChunkLayout lay{static_cast<std::size_t>(cap), m.code_bytes, with_err};
            PVEC_RETURN_IF(use.bytes(1) != old_bytes(lay.capacity), PVEC_CORRUPT,
                           which + " has the wrong size");
            out.assign(lay.total_bytes(), 0);
            convert(static_cast<std::size_t>(index), lay, static_cast<const uint8_t *>(use.blob(1)),
                    out.data());
        }
        StmtUse use(put);
        use.bind(1, index);
        use.bind_blob(2, out.data(), out.size());
        PVEC_FORWARD_IF_ERROR(step_done(conn, use));
    }
    return Status::ok();
}

// Whether slot `slot` of a chunk blob is live (its bitmap comes first in every format).
bool live_in(const uint8_t *blob, std::size_t slot) {
    return ((blob[slot / 8] >> (slot % 8)) & 1u) != 0;
}

// Format 2 chunk blob: bitmap, ids, norms, codes (no sums section).
Status seal_chunks(sqlite3 *conn, const CollectionMeta &m) {
    const std::size_t code_bytes = m.code_bytes;
    const auto old_codes = [](std::size_t cap) { return cap / 8 + cap * 12; };
    return rewrite_chunks(
        conn, m, false, [&](std::size_t cap) { return old_codes(cap) + cap * code_bytes; },
        [&](std::size_t index, const ChunkLayout &lay, const uint8_t *in, uint8_t *out) {
            std::memcpy(out, in, lay.sums_offset());
            std::memcpy(out + lay.codes_offset(), in + old_codes(lay.capacity),
                        lay.capacity * lay.code_bytes);
            for (std::size_t slot = 0; slot < lay.capacity; ++slot) {
                if (!live_in(in, slot)) {
                    continue;
                }
                int64_t id;
                float norm;
                std::memcpy(&id, in + lay.id_offset(slot), 8);
                std::memcpy(&norm, in + lay.norm_offset(slot), 4);
                const uint32_t sum = checksum::slot(m.uid, index, slot, id, norm, nullptr,
                                                    out + lay.code_offset(slot), lay.code_bytes);
                std::memcpy(out + lay.sum_offset(slot), &sum, 4);
            }
        });
}

Status seal_raw(sqlite3 *conn, const CollectionMeta &m) {
    if (m.raw_tier == kRawNone) {
        return Status::ok();
    }
    const std::string raw = tables::raw(m.id);
    std::vector<int64_t> ids;
    PVEC_FORWARD_IF_ERROR(read_ids(conn, "SELECT id FROM " + raw, &ids));
    Stmt get, put;
    PVEC_FORWARD_IF_ERROR(get.prepare(conn, "SELECT vec FROM " + raw + " WHERE id = ?1"));
    PVEC_FORWARD_IF_ERROR(put.prepare(conn, "UPDATE " + raw + " SET vec = ?2 WHERE id = ?1"));
    std::vector<uint8_t> buf;
    for (int64_t id : ids) {
        {
            StmtUse use(get);
            use.bind(1, id);
            int rc = use.step();
            if (rc != SQLITE_ROW) {
                return sqlite_status(conn, rc, "upgrading the file format");
            }
            const auto *p = static_cast<const uint8_t *>(use.blob(0));
            buf.assign(p, p + use.bytes(0));
        }
        const uint32_t sum = checksum::raw(m.uid, id, buf.data(), buf.size());
        buf.resize(buf.size() + 4);
        std::memcpy(buf.data() + buf.size() - 4, &sum, 4);
        StmtUse use(put);
        use.bind(1, id);
        use.bind_blob(2, buf.data(), buf.size());
        PVEC_FORWARD_IF_ERROR(step_done(conn, use));
    }
    return Status::ok();
}

Status seal_model(sqlite3 *conn, const CollectionMeta &m) {
    if (m.model_id == 0) {
        return Status::ok();
    }
    Stmt get, put;
    PVEC_FORWARD_IF_ERROR(get.prepare(conn,
        "SELECT version, blob, checksum FROM pvec_models WHERE id = ?1 AND collection_id = ?2"));
    PVEC_FORWARD_IF_ERROR(put.prepare(conn, "UPDATE pvec_models SET checksum = ?2 WHERE id = ?1"));
    uint32_t sum;
    {
        StmtUse use(get);
        use.bind(1, m.model_id);
        use.bind(2, m.id);
        int rc = use.step();
        PVEC_RETURN_IF(rc == SQLITE_DONE, PVEC_CORRUPT,
                       "collection '" + m.name + "': codes are compressed but the model is missing");
        if (rc != SQLITE_ROW) {
            return sqlite_status(conn, rc, "upgrading the file format");
        }
        const auto *blob = static_cast<const uint8_t *>(use.blob(1));
        // Format 2 rows carry the blob's FNV-1a 64: checked before the row is sealed anew.
        PVEC_RETURN_IF(static_cast<uint64_t>(use.int64(2)) != model::checksum(blob, use.bytes(1)),
                       PVEC_CORRUPT, "collection '" + m.name + "': the model's checksum does not match");
        sum = checksum::model(m.uid, m.id, use.int64(0), blob, use.bytes(1));
    }
    StmtUse use(put);
    use.bind(1, m.model_id);
    use.bind(2, checksum::to_column(sum));
    return step_done(conn, use);
}

// Format 4 chunk blob of a collection with code errors: errs as float32 (4 bytes per slot), each
// slot's sum over them (checksum::slot_format4). Rewritten with errs as bfloat16 rounded up and
// sums anew. A slot whose format 4 sum fails keeps failing: its new sum is made wrong on purpose,
// so the upgrade never seals damage as good and the rest of the chunk stays readable.
Status narrow_errs(sqlite3 *conn, const CollectionMeta &m) {
    const std::size_t code_bytes = m.code_bytes;
    const auto old_codes = [](std::size_t cap) { return cap / 8 + cap * 20; };
    return rewrite_chunks(
        conn, m, true, [&](std::size_t cap) { return old_codes(cap) + cap * code_bytes; },
        [&](std::size_t index, const ChunkLayout &lay, const uint8_t *in, uint8_t *out) {
            std::memcpy(out, in, lay.errs_offset());
            std::memcpy(out + lay.codes_offset(), in + old_codes(lay.capacity),
                        lay.capacity * lay.code_bytes);
            for (std::size_t slot = 0; slot < lay.capacity; ++slot) {
                float err;
                std::memcpy(&err, in + lay.errs_offset() + slot * 4, 4);
                // Free slots keep their bytes (zero, or damage that stays visible): nonzero
                // float32 bits give nonzero bfloat16 bits when rounded up.
                const uint16_t narrow = err_stored(err);
                std::memcpy(out + lay.err_offset(slot), &narrow, kErrBytes);
                if (!live_in(in, slot)) {
                    continue;
                }
                int64_t id;
                float norm;
                uint32_t old_sum;
                std::memcpy(&id, in + lay.id_offset(slot), 8);
                std::memcpy(&norm, in + lay.norm_offset(slot), 4);
                std::memcpy(&old_sum, in + lay.sum_offset(slot), 4);
                const uint8_t *code = out + lay.code_offset(slot);
                uint32_t sum =
                    checksum::slot(m.uid, index, slot, id, norm, &narrow, code, lay.code_bytes);
                if (old_sum != checksum::slot_format4(m.uid, index, slot, id, norm, &err, code,
                                                      lay.code_bytes)) {
                    sum ^= 1u;
                }
                std::memcpy(out + lay.sum_offset(slot), &sum, 4);
            }
        });
}

}  // namespace

Status upgrade_from_1(sqlite3 *conn) {
    PVEC_FORWARD_IF_ERROR(exec(conn,
        "ALTER TABLE pvec_collections ADD COLUMN uid INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE pvec_collections ADD COLUMN version INTEGER NOT NULL DEFAULT 1;"));
    std::vector<int64_t> ids;
    PVEC_FORWARD_IF_ERROR(read_ids(conn, "SELECT id FROM pvec_collections", &ids));
    Stmt set_uid;
    PVEC_FORWARD_IF_ERROR(set_uid.prepare(conn, "UPDATE pvec_collections SET uid = ?2 WHERE id = ?1"));
    for (int64_t id : ids) {
        {
            StmtUse use(set_uid);
            use.bind(1, id);
            use.bind(2, new_collection_uid());
            PVEC_FORWARD_IF_ERROR(step_done(conn, use));
        }
        const std::string sql = "CREATE TABLE " + tables::versions(id) +
                                "(id INTEGER PRIMARY KEY, version INTEGER NOT NULL);"
                                "INSERT INTO " + tables::versions(id) + "(id, version) SELECT id, 1 FROM " +
                                tables::chunks(id) + ";";
        PVEC_FORWARD_IF_ERROR(exec(conn, sql.c_str()));
    }
    return exec(conn, "UPDATE pvec_meta SET value = 2 WHERE key = 'format_version'");
}

Status upgrade_from_2(sqlite3 *conn) {
    PVEC_FORWARD_IF_ERROR(
        exec(conn, "ALTER TABLE pvec_collections ADD COLUMN sum INTEGER NOT NULL DEFAULT 0"));
    Catalog catalog(conn);
    std::vector<CollectionMeta> all;
    PVEC_FORWARD_IF_ERROR(catalog.read_all_unsealed(&all));
    for (const CollectionMeta &m : all) {
        PVEC_FORWARD_IF_ERROR(seal_items(conn, m));
        PVEC_FORWARD_IF_ERROR(seal_chunks(conn, m));
        PVEC_FORWARD_IF_ERROR(seal_raw(conn, m));
        PVEC_FORWARD_IF_ERROR(seal_model(conn, m));
        PVEC_FORWARD_IF_ERROR(catalog.write_sum(m));
    }
    return exec(conn, "UPDATE pvec_meta SET value = 3 WHERE key = 'format_version'");
}

Status upgrade_from_3(sqlite3 *conn) {
    return exec(conn, "UPDATE pvec_meta SET value = 4 WHERE key = 'format_version'");
}

Status upgrade_from_4(sqlite3 *conn) {
    Catalog catalog(conn);
    std::vector<std::string> damaged;  // refused when opened, as before the upgrade
    std::vector<CollectionMeta> good;
    PVEC_FORWARD_IF_ERROR(catalog.find_damaged(&damaged, &good));
    for (const CollectionMeta &m : good) {
        if ((m.flags & kFlagSlotErrors) != 0) {
            PVEC_FORWARD_IF_ERROR(narrow_errs(conn, m));
        }
    }
    return exec(conn, "UPDATE pvec_meta SET value = 5 WHERE key = 'format_version'");
}

// Format 6 only adds kFlagRawParts, which collections created before it lack: they keep one raw
// row per chunk, which format 6 reads as before.
Status upgrade_from_5(sqlite3 *conn) {
    return exec(conn, "UPDATE pvec_meta SET value = 6 WHERE key = 'format_version'");
}

}  // namespace pocketvec::store
