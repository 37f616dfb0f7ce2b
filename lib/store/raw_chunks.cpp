#include "store/raw_chunks.h"

#include <vector>

namespace pocketvec::store {

std::size_t raw_part_slots(std::size_t slot_bytes) {
    std::size_t slots = kChunkSlots;
    while (slots > kMinRawPartSlots && slots * slot_bytes > kRawPartBytes) {
        slots /= 2;
    }
    return slots;
}

RawChunks::RawChunks(sqlite3 *conn, const CollectionMeta &meta)
    : conn_(conn), table_(tables::raw_chunks(meta.id)),
      where_("collection '" + meta.name + "'"),
      slot_bytes_(std::size_t{meta.dim} * (meta.raw_tier == kRawF16 ? 2 : 4) + 4),
      part_slots_((meta.flags & kFlagRawParts) != 0 ? raw_part_slots(slot_bytes_) : kChunkSlots),
      rows_per_chunk_((meta.flags & kFlagRawParts) != 0 ? kRawRowsPerChunk : 1) {}

Status RawChunks::prepare() {
    if (insert_.prepared()) {
        return Status::ok();
    }
    auto prep = [&](Stmt &s, const std::string &sql) {
        return prepare_on_own_tables(s, conn_, sql, where_);
    };
    PVEC_FORWARD_IF_ERROR(prep(insert_, "INSERT INTO " + table_ + "(id, data) VALUES(?1, ?2)"));
    PVEC_FORWARD_IF_ERROR(
        prep(insert_zeros_, "INSERT INTO " + table_ + "(id, data) VALUES(?1, zeroblob(?2))"));
    // `||` makes TEXT of two blobs (whose length() stops at a zero byte): cast back.
    PVEC_FORWARD_IF_ERROR(prep(grow_, "UPDATE " + table_ +
                                          " SET data = CAST(data || zeroblob(?2) AS BLOB)"
                                          " WHERE id = ?1"));
    return Status::ok();
}

Status RawChunks::insert_filled(std::size_t chunk, const uint8_t *bytes, std::size_t n) {
    PVEC_FORWARD_IF_ERROR(prepare());
    const std::size_t part_bytes = part_slots_ * slot_bytes_;
    for (std::size_t part = 0; part * part_bytes < n; ++part) {
        StmtUse use(insert_);
        use.bind(1, row_of(chunk, part));
        use.bind_blob(2, bytes + part * part_bytes, std::min(part_bytes, n - part * part_bytes));
        int rc = use.step();
        if (rc != SQLITE_DONE) {
            return sqlite_status(conn_, rc, "adding raw vectors to " + where_);
        }
    }
    return Status::ok();
}

Status RawChunks::grow(std::size_t chunk, std::size_t old_capacity, std::size_t capacity) {
    PVEC_FORWARD_IF_ERROR(prepare());
    close();  // the UPDATE expires blob handles on this row
    for (std::size_t part = 0; slots_in_part(capacity, part) > 0; ++part) {
        const std::size_t had = slots_in_part(old_capacity, part);
        const std::size_t want = slots_in_part(capacity, part);
        if (want == had) {
            continue;
        }
        // A part the chunk had grows in place; a new one is a new row of free slots.
        StmtUse use(had == 0 ? insert_zeros_ : grow_);
        use.bind(1, row_of(chunk, part));
        use.bind(2, static_cast<int64_t>((want - had) * slot_bytes_));
        int rc = use.step();
        if (rc != SQLITE_DONE) {
            return sqlite_status(conn_, rc, "growing the raw vectors of " + where_);
        }
        PVEC_RETURN_IF(sqlite3_changes(conn_) != 1, PVEC_CORRUPT,
                       where_ + ": the raw vectors of chunk " + std::to_string(chunk) +
                           " are missing");
    }
    return Status::ok();
}

Status RawChunks::open_row(Blob &blob, std::size_t chunk, std::size_t part, bool write) {
    Status st = blob.open(conn_, table_, "data", row_of(chunk, part), write);
    // No row for an existing chunk is damage; SQLite says SQLITE_ERROR ("no such rowid").
    PVEC_RETURN_IF(st.code() == PVEC_ERROR, PVEC_CORRUPT,
                   where_ + ": the raw vectors of chunk " + std::to_string(chunk) +
                       " are missing");
    return st;
}

Status RawChunks::write(std::size_t chunk, std::size_t slot, const uint8_t *bytes) {
    const std::size_t part = slot / part_slots_, at = slot % part_slots_;
    PVEC_FORWARD_IF_ERROR(open_row(writer_, chunk, part, true));
    PVEC_RETURN_IF((at + 1) * slot_bytes_ > writer_.size(), PVEC_CORRUPT,
                   where_ + ": the raw vectors of chunk " + std::to_string(chunk) +
                       " have the wrong size");
    return writer_.write(bytes, slot_bytes_, at * slot_bytes_);
}

Status RawChunks::clear(std::size_t chunk, std::size_t slot) {
    const std::vector<uint8_t> zeros(slot_bytes_, 0);
    return write(chunk, slot, zeros.data());
}

Status RawChunks::read(std::size_t chunk, std::size_t slot, std::size_t capacity, uint8_t *out) {
    const std::size_t part = slot / part_slots_, at = slot % part_slots_;
    PVEC_FORWARD_IF_ERROR(open_row(reader_, chunk, part, false));
    PVEC_RETURN_IF(reader_.size() != slots_in_part(capacity, part) * slot_bytes_, PVEC_CORRUPT,
                   where_ + ": the raw vectors of chunk " + std::to_string(chunk) +
                       " have the wrong size");
    return reader_.read(out, slot_bytes_, at * slot_bytes_);
}

}  // namespace pocketvec::store
