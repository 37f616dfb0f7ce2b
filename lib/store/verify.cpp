// Collection::verify and Database::check: the full scan behind pvec_db_check. Everything is read
// in the caller's one read transaction; nothing is written and no resident state changes.
#include <algorithm>
#include <set>
#include <unordered_set>

#include "store/checksum.h"
#include "store/collection.h"
#include "store/database.h"

namespace pocketvec::store {

void DamageReport::add(std::string what) {
    ++count;
    if (lines.size() < kMaxLines) {
        lines.push_back(std::move(what));
    }
}

Status Collection::verify(const CollectionMeta &meta, DamageReport *report) {
    CollectionMeta row = meta;
    const std::string where = "collection '" + row.name + "'";
    // Damage is reported and the check goes on; only a failure to read (I/O, memory) stops it.
    auto note = [&](const Status &st) -> Status {
        if (st.code() == PVEC_CORRUPT) {
            report->add(st.message());
            return Status::ok();
        }
        return st;
    };
    Status st = prepare();
    if (!st.is_ok()) {
        return note(st);
    }
    std::shared_ptr<const model::Model> model;
    st = db_.catalog().read_model(&row, &model);
    if (!st.is_ok()) {
        return note(st);
    }
    std::vector<int64_t> versions;
    st = chunk_file_.versions(&versions);
    if (!st.is_ok()) {
        return note(st);
    }
    std::vector<std::shared_ptr<ResidentChunk>> chunks(versions.size());
    for (std::size_t i = 0; i < versions.size(); ++i) {
        PVEC_FORWARD_IF_ERROR(note(chunk_file_.load(i, row, model.get(), &chunks[i])));
    }

    // Items against slots: each row's checksum, its slot live and holding its id, no slot twice.
    std::set<std::pair<std::size_t, std::size_t>> seen;
    std::unordered_set<int64_t> item_ids;
    {
        Stmt all;
        PVEC_FORWARD_IF_ERROR(note(
            all.prepare(db_.conn(), "SELECT id, chunk, slot, meta, sum FROM " + tables::items(id_))));
        StmtUse use(all);
        int rc;
        while ((rc = use.step()) == SQLITE_ROW) {
            const int64_t id = use.int64(0), chunk = use.int64(1), slot = use.int64(2);
            const std::string item = where + ": item " + std::to_string(id);
            item_ids.insert(id);
            if (!checksum::column_matches(use.int64(4),
                                          checksum::item(row.uid, id, chunk, slot,
                                                         !use.is_null(3), use.text(3)))) {
                report->add(item + ": its items row is damaged (checksum mismatch)");
                continue;
            }
            if (chunk < 0 || static_cast<std::size_t>(chunk) >= chunks.size() || slot < 0 ||
                slot >= int64_t(kChunkSlots)) {
                report->add(item + " points to chunk " + std::to_string(chunk) + " slot " +
                            std::to_string(slot) + ", which does not exist");
                continue;
            }
            const ResidentChunk *c = chunks[chunk].get();
            if (c == nullptr) {
                continue;  // the chunk's damage is reported already
            }
            if (static_cast<std::size_t>(slot) >= c->capacity || !c->is_live(slot) ||
                c->ids[slot] != id) {
                report->add(item + " points to chunk " + std::to_string(chunk) + " slot " +
                            std::to_string(slot) + ", which does not hold it");
            } else if (!seen.insert({std::size_t(chunk), std::size_t(slot)}).second) {
                report->add(item + ": two items rows point to its slot");
            }
        }
        if (rc != SQLITE_DONE) {
            return sqlite_status(db_.conn(), rc, "reading the items of " + where);
        }
    }
    for (std::size_t c = 0; c < chunks.size(); ++c) {
        if (chunks[c] == nullptr) {
            continue;
        }
        for (std::size_t slot = 0; slot < chunks[c]->capacity; ++slot) {
            if (chunks[c]->is_live(slot) && !seen.count({c, slot})) {
                report->add(where + ": chunk " + std::to_string(c) + " slot " +
                            std::to_string(slot) + " holds item " +
                            std::to_string(chunks[c]->ids[slot]) + " but no items row points to it");
            }
        }
    }

    // Raw vectors stored per chunk: one row per part of each chunk (raw_chunks.h), of its size;
    // each live slot's checksum and decoding, each free slot zero.
    if ((row.flags & kFlagRawChunks) != 0) {
        Stmt all;
        PVEC_FORWARD_IF_ERROR(
            note(all.prepare(db_.conn(), "SELECT id, data FROM " + tables::raw_chunks(id_))));
        const std::size_t stride = raw_chunks_.slot_bytes();
        const std::size_t rows_per_chunk = raw_chunks_.rows_per_chunk();
        std::vector<float> vec(dim_);
        std::vector<std::vector<bool>> has_row(chunks.size(),
                                               std::vector<bool>(rows_per_chunk, false));
        StmtUse use(all);
        int rc;
        while ((rc = use.step()) == SQLITE_ROW) {
            const int64_t r = use.int64(0);
            const auto row_id = static_cast<std::size_t>(r);
            const std::size_t c = r < 0 ? chunks.size() : row_id / rows_per_chunk;
            const std::size_t part = r < 0 ? 0 : row_id % rows_per_chunk;
            const std::string raw = where + ": the raw vectors of chunk " + std::to_string(c);
            if (r < 0 || c >= chunks.size()) {
                report->add(where + ": raw vectors row " + std::to_string(r) +
                            " belongs to no chunk");
                continue;
            }
            const ResidentChunk *chunk = chunks[c].get();
            if (chunk == nullptr) {
                has_row[c][part] = true;
                continue;  // the chunk's damage is reported already
            }
            const std::size_t slots = raw_chunks_.slots_in_part(chunk->capacity, part);
            if (slots == 0) {
                report->add(raw + ": row " + std::to_string(r) + " belongs to no part of it");
                continue;
            }
            has_row[c][part] = true;
            const auto *data = static_cast<const uint8_t *>(use.blob(1));
            if (static_cast<std::size_t>(use.bytes(1)) != slots * stride) {
                report->add(raw + " have the wrong size");
                continue;
            }
            const std::size_t first = part * raw_chunks_.part_slots();
            for (std::size_t i = 0; i < slots; ++i) {
                const std::size_t slot = first + i;
                const uint8_t *p = data + i * stride;
                if (chunk->is_live(slot)) {
                    st = decode_raw(row.raw_tier, chunk->ids[slot], p, stride, vec.data());
                    PVEC_FORWARD_IF_ERROR(note(st.is_ok() ? st : error(st.code(), where + ": " + st.message())));
                } else if (std::any_of(p, p + stride, [](uint8_t b) { return b != 0; })) {
                    report->add(raw + ": free slot " + std::to_string(slot) + " is not zero");
                }
            }
        }
        if (rc != SQLITE_DONE) {
            return sqlite_status(db_.conn(), rc, "reading the raw vectors of " + where);
        }
        for (std::size_t c = 0; c < chunks.size(); ++c) {
            const std::size_t capacity = chunks[c] ? chunks[c]->capacity : kChunkSlots;
            for (std::size_t part = 0; raw_chunks_.slots_in_part(capacity, part) > 0; ++part) {
                if (!has_row[c][part] && (chunks[c] || part == 0)) {
                    report->add(where + ": the raw vectors of chunk " + std::to_string(c) +
                                " are missing");
                    break;
                }
            }
        }
    } else if (row.raw_tier != kRawNone) {
        Stmt all;
        PVEC_FORWARD_IF_ERROR(
            note(all.prepare(db_.conn(), "SELECT id, vec FROM " + tables::raw(id_))));
        std::vector<float> vec(dim_);
        std::size_t raw_count = 0;
        StmtUse use(all);
        int rc;
        while ((rc = use.step()) == SQLITE_ROW) {
            const int64_t id = use.int64(0);
            ++raw_count;
            st = decode_raw(row.raw_tier, id, static_cast<const uint8_t *>(use.blob(1)),
                            use.bytes(1), vec.data());
            if (!st.is_ok()) {
                PVEC_FORWARD_IF_ERROR(note(error(st.code(), where + ": " + st.message())));
            } else if (!item_ids.count(id)) {
                report->add(where + ": raw vector " + std::to_string(id) + " belongs to no item");
            }
        }
        if (rc != SQLITE_DONE) {
            return sqlite_status(db_.conn(), rc, "reading the raw vectors of " + where);
        }
        if (raw_count < item_ids.size()) {
            report->add(where + ": " + std::to_string(item_ids.size() - raw_count) +
                        " items have no raw vector");
        }
    }
    return Status::ok();
}

Status Database::check(DamageReport *report) {
    ReadScope read(*this);
    PVEC_FORWARD_IF_ERROR(read.begin());
    {
        // SQLite's own structure first: pages, B-trees, free list, indexes.
        Stmt ic;
        PVEC_FORWARD_IF_ERROR(ic.prepare(conn_, "PRAGMA integrity_check(1000)"));
        StmtUse use(ic);
        int rc;
        while ((rc = use.step()) == SQLITE_ROW) {
            const std::string line(use.text(0));
            if (line != "ok") {
                report->add("SQLite: " + line);
            }
        }
        if (rc != SQLITE_DONE) {
            const Status st = sqlite_status(conn_, rc, "checking the file");
            if (st.code() != PVEC_CORRUPT) {
                return st;
            }
            report->add(st.message());
        }
    }
    if (has_schema_) {
        std::vector<std::string> damaged;
        std::vector<CollectionMeta> good;
        Status st = catalog_.find_damaged(&damaged, &good);
        if (st.code() == PVEC_CORRUPT) {
            report->add(st.message());
        } else {
            PVEC_FORWARD_IF_ERROR(st);
        }
        for (std::string &d : damaged) {
            report->add(std::move(d));
        }
        for (const CollectionMeta &meta : good) {
            // A private Collection: the registry's resident copies are neither used nor changed.
            Collection c(*this, meta);
            PVEC_FORWARD_IF_ERROR(c.verify(meta, report));
        }
    }
    return read.end();
}

}  // namespace pocketvec::store
