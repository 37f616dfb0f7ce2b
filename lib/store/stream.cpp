// Streaming mode (pvec_collection_open_v2 with a memory cap): a search reads the collection's
// chunks from the file through a bounded window instead of holding them resident.
//
// Why results equal resident mode's: each window of chunks is scanned by the same kernels and
// selection as a resident scan (search/scan.h), with positions offset by the window's first chunk,
// and the windows' selections are merged under the one total order (score, then id) that every
// selection uses, exactly as the scan's thread ranges are merged. Exact f32 scans keep each
// window's exact best k with their vectors and re-rank them in double with the next window's
// (search::rescore_exact), so the final ranking is the resident one.
//
// Memory (what the cap bounds): the window's resident chunks, the one chunk blob SQLite reads
// while a chunk is decoded, and the growth of the connection's page cache up to its bound
// (PRAGMA cache_size); min_memory_cap() is their sum for a one-chunk window. The file is read with
// SQLite's memory map turned off for the duration of the search (it would map up to mmap_size of
// the file into the process's resident set), and turned back on after.
//
// Locking: a streaming search uses the connection throughout, so it holds the Database's mutex
// from its first read to its last (unlike a resident search, it does not run concurrently with
// other calls on the same pvec_db). It reads everything in one read transaction, or in the
// explicit transaction that is open, so it sees one committed state plus this connection's own
// uncommitted writes, as a resident search does.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_map>

#if defined(__GLIBC__)  // defined by any libc header above
#include <malloc.h>
#endif

#include "codec/codec.h"
#include "pocketvec/pocketvec.h"
#include "search/exact.h"
#include "search/scan.h"
#include "store/collection.h"
#include "store/database.h"

namespace pocketvec::store {
namespace {

// SQLite's per-page overhead in its page cache (PgHdr, PgHdr1, the b-tree's MemPage), rounded up:
// what one cached page costs beyond page_size bytes.
constexpr uint64_t kPageOverhead = 512;

int64_t pragma_int(sqlite3 *conn, const char *sql, int64_t fallback) {
    Stmt st;
    if (!st.prepare(conn, sql).is_ok()) {
        return fallback;
    }
    StmtUse use(st);
    return use.step() == SQLITE_ROW ? use.int64(0) : fallback;
}

// The bytes the connection's page cache may grow to (PRAGMA cache_size: pages, or KiB when
// negative), with SQLite's per-page overhead.
uint64_t page_cache_bound(sqlite3 *conn) {
    const int64_t page = std::max<int64_t>(512, pragma_int(conn, "PRAGMA page_size", 4096));
    const int64_t size = pragma_int(conn, "PRAGMA cache_size", -2000);
    const uint64_t pages = size >= 0 ? static_cast<uint64_t>(size)
                                     : static_cast<uint64_t>(-size) * 1024 / uint64_t(page);
    return pages * (uint64_t(page) + kPageOverhead);
}

// One resident chunk of `meta`'s code size: the object (its slot columns) and its code block.
uint64_t resident_chunk_bytes(const CollectionMeta &meta) {
    return sizeof(ResidentChunk) +
           std::max<uint64_t>(64, kernels::block_bytes(meta.code_bytes));
}

// The largest chunk blob of `meta` (a full chunk), as SQLite hands it to ChunkFile::load.
uint64_t chunk_blob_bytes(const CollectionMeta &meta) {
    return chunk_layout(meta, kChunkSlots).total_bytes();
}

// Turns the connection's memory map off while it lives, and back to what it was after: mapped
// file pages count in the process's resident set, and a scan touches every page of the chunks.
class MmapOff {
public:
    explicit MmapOff(sqlite3 *conn) : conn_(conn) {
        was_ = pragma_int(conn_, "PRAGMA mmap_size", 0);
        if (was_ > 0) {
            (void)exec(conn_, "PRAGMA mmap_size = 0");
        }
    }
    ~MmapOff() {
        if (was_ > 0) {
            (void)exec(conn_, ("PRAGMA mmap_size = " + std::to_string(was_)).c_str());
        }
    }
    MmapOff(const MmapOff &) = delete;
    MmapOff &operator=(const MmapOff &) = delete;

private:
    sqlite3 *conn_;
    int64_t was_ = 0;
};

// Gives the heap's free pages back to the system after a window of `bytes` was released. glibc's
// dynamic mmap threshold moves chunk-sized blocks (a float32 chunk at 384 dimensions is 390 KiB)
// from mmap to its heap after the first is freed, and the heap then keeps freed blocks and the
// holes between them: measured 1.5-2 MiB over the cap at 400,000 x 384 float32 without this, 97-99%
// of the cap with it (bench/store/stream_bench.cpp). A trim walks the whole heap, so it runs only
// after windows large enough for that walk to be small beside reading them.
constexpr uint64_t kTrimWindowBytes = 1u << 20;

void release_heap(uint64_t bytes) {
#if defined(__GLIBC__)
    if (bytes >= kTrimWindowBytes) {
        (void)malloc_trim(0);
    }
#else
    (void)bytes;
#endif
}

std::size_t saturating_mul(std::size_t a, std::size_t b) {
    return b != 0 && a > std::numeric_limits<std::size_t>::max() / b ? std::numeric_limits<std::size_t>::max()
                                                                      : a * b;
}

}  // namespace

uint64_t Collection::min_memory_cap(sqlite3 *conn, const CollectionMeta &meta) {
    return page_cache_bound(conn) + resident_chunk_bytes(meta) + chunk_blob_bytes(meta);
}

Status Collection::stream_refresh(bool committed) {
    const SnapshotPtr cur = snapshot();
    CollectionMeta row;
    bool found;
    PVEC_FORWARD_IF_ERROR(db_.catalog().read_by_id(id_, &row, &found));
    PVEC_RETURN_IF(!found || row.uid != uid_, PVEC_NOTFOUND, "the collection was dropped");
    PVEC_RETURN_IF(row.dim != dim_ || row.metric != cur->meta.metric ||
                       row.raw_tier != cur->meta.raw_tier,
                   PVEC_CORRUPT, "collection '" + row.name + "' changed its definition");
    // A state read outside any transaction is committed and never rolled back: it stays valid
    // while the row's version is the same. One read inside a transaction may be undone, so it is
    // never trusted by a later call.
    const bool same = stream_committed_ && row.version == cur->meta.version;
    if (!same) {
        std::shared_ptr<const model::Model> model = cur->model;
        if (!stream_committed_ || row.model_id != cur->meta.model_id) {
            PVEC_FORWARD_IF_ERROR(db_.catalog().read_model(&row, &model));
        } else {
            row.model_version = cur->meta.model_version;
        }
        auto next = std::make_shared<Snapshot>();
        next->meta = row;
        next->model = std::move(model);
        std::lock_guard<std::mutex> lock(snapshot_mutex_);
        current_ = std::move(next);
        stream_committed_ = committed;
    }
    const CollectionMeta &meta = snapshot()->meta;
    const uint64_t least = min_memory_cap(db_.conn(), meta);
    PVEC_RETURN_IF(memory_cap_ < least, PVEC_RANGE,
                   "memory_cap " + std::to_string(memory_cap_) + " is below the " +
                       std::to_string(least) + " bytes one chunk of '" + meta.name +
                       "' needs (its page cache bound, one resident chunk and one chunk blob)");
    return Status::ok();
}

Status Collection::count(uint64_t *out) {
    if (!streaming()) {
        const SnapshotPtr s = snapshot();
        PVEC_RETURN_IF(s->dropped, PVEC_NOTFOUND, "the collection was dropped");
        *out = s->count;
        return Status::ok();
    }
    const bool committed = sqlite3_get_autocommit(db_.conn()) != 0;
    MmapOff no_map(db_.conn());  // count(*) reads every page of the items table
    Database::ReadScope read(db_);
    PVEC_FORWARD_IF_ERROR(read.begin_plain());
    PVEC_FORWARD_IF_ERROR(stream_refresh(committed));
    Stmt n;
    PVEC_FORWARD_IF_ERROR(n.prepare(db_.conn(), "SELECT count(*) FROM " + tables::items(id_)));
    {
        StmtUse use(n);
        const int rc = use.step();
        if (rc != SQLITE_ROW) {
            return sqlite_status(db_.conn(), rc, "counting the items");
        }
        *out = static_cast<uint64_t>(use.int64(0));
    }
    return read.end();
}

Status Collection::stats_stream(CollectionStats *out) {
    MmapOff no_map(db_.conn());  // dbstat reads every page of the collection's tables
    const bool committed = sqlite3_get_autocommit(db_.conn()) != 0;
    Database::ReadScope read(db_);
    PVEC_FORWARD_IF_ERROR(read.begin_plain());
    PVEC_FORWARD_IF_ERROR(stream_refresh(committed));
    const SnapshotPtr s = snapshot();
    PVEC_FORWARD_IF_ERROR(count(&out->count));
    // The capacity column of every chunk row (never its blob): slots and bytes without a scan.
    Stmt caps;
    PVEC_FORWARD_IF_ERROR(
        caps.prepare(db_.conn(), "SELECT capacity FROM " + tables::chunks(id_) + " ORDER BY id"));
    uint64_t capacity = 0, chunk_bytes = 0;
    {
        StmtUse use(caps);
        int rc;
        while ((rc = use.step()) == SQLITE_ROW) {
            const int64_t c = use.int64(0);
            PVEC_RETURN_IF(c < 0 || c > int64_t(kChunkSlots), PVEC_CORRUPT,
                           "collection '" + s->meta.name + "': a chunk has an invalid capacity");
            capacity += static_cast<uint64_t>(c);
            chunk_bytes += chunk_layout(s->meta, static_cast<std::size_t>(c)).total_bytes();
        }
        if (rc != SQLITE_DONE) {
            return sqlite_status(db_.conn(), rc, "reading the chunks");
        }
    }
    out->capacity = capacity;
    out->bytes_used = measure_bytes(s->meta, chunk_bytes);
    return read.end();
}

Status Collection::get_stream(int64_t id, float *vec, std::string *meta, bool *has_meta) {
    PVEC_FORWARD_IF_ERROR(prepare());
    MmapOff no_map(db_.conn());  // else every chunk read would stay mapped in the resident set
    const bool committed = sqlite3_get_autocommit(db_.conn()) != 0;
    Database::ReadScope read(db_);
    PVEC_FORWARD_IF_ERROR(read.begin_plain());
    PVEC_FORWARD_IF_ERROR(stream_refresh(committed));
    const SnapshotPtr s = snapshot();
    std::vector<int64_t> versions;
    PVEC_FORWARD_IF_ERROR(chunk_file_.versions(&versions));
    StmtUse use(get_stmt_);
    use.bind(1, id);
    const int rc = use.step();
    if (rc == SQLITE_DONE) {
        // A resident handle also looks for the id in the chunks (a lost items row is damage);
        // that would read every chunk here: pvec_db_check finds it.
        return error(PVEC_NOTFOUND, "no item with id " + std::to_string(id));
    }
    if (rc != SQLITE_ROW) {
        return sqlite_status(db_.conn(), rc, "reading item " + std::to_string(id));
    }
    const int64_t chunk = use.int64(0), slot = use.int64(1);
    const std::string invalid = "item " + std::to_string(id) + " points to an invalid slot";
    PVEC_RETURN_IF(chunk < 0 || static_cast<std::size_t>(chunk) >= versions.size() || slot < 0,
                   PVEC_CORRUPT, invalid);
    std::shared_ptr<ResidentChunk> c;
    PVEC_FORWARD_IF_ERROR(chunk_file_.load(static_cast<std::size_t>(chunk), s->meta,
                                           s->model.get(), &c));
    PVEC_RETURN_IF(slot >= static_cast<int64_t>(c->capacity) ||
                       !c->is_live(static_cast<std::size_t>(slot)) || c->ids[slot] != id,
                   PVEC_CORRUPT, invalid);
    const SlotRef loc{static_cast<std::size_t>(chunk), static_cast<std::size_t>(slot)};
    PVEC_FORWARD_IF_ERROR(check_item_row(id, loc, use, meta, has_meta));
    if (vec) {
        if (!s->model) {
            c->read_code(loc.slot, reinterpret_cast<uint8_t *>(vec));  // exact float32 codes
        } else if (s->meta.raw_tier != kRawNone) {
            std::vector<std::size_t> capacities(versions.size(), 0);
            capacities[loc.chunk] = c->capacity;
            PVEC_FORWARD_IF_ERROR(
                read_raw(RawPlaces{s->meta.raw_tier, nullptr, &capacities}, loc, id, vec));
        } else {
            // As a resident get: the code decoded, mapped back, scaled to the original norm.
            std::vector<uint8_t> code(s->meta.code_bytes);
            c->read_code(loc.slot, code.data());
            model::reconstruct(*s->model, code.data(), vec);
            if (s->meta.metric == Metric::cosine) {
                double n2 = 0;
                for (uint32_t i = 0; i < dim_; ++i) {
                    n2 += double(vec[i]) * vec[i];
                }
                const float n = static_cast<float>(std::sqrt(n2));
                const float scale = n > 0 ? c->norms[loc.slot] / n : 0.0f;
                for (uint32_t i = 0; i < dim_; ++i) {
                    vec[i] *= scale;
                }
            }
        }
    }
    return read.end();
}

Status Collection::search_stream(const float *queries, std::size_t n, const SearchSpec &spec,
                                 std::vector<std::vector<search::Hit>> *hits) {
    std::lock_guard<std::mutex> lock(db_.mutex());
    uint64_t rescored = 0;
    PVEC_FORWARD_IF_ERROR(prepare());
    MmapOff no_map(db_.conn());
    const bool committed = sqlite3_get_autocommit(db_.conn()) != 0;
    Database::ReadScope read(db_);
    PVEC_FORWARD_IF_ERROR(read.begin_plain());
    PVEC_FORWARD_IF_ERROR(stream_refresh(committed));
    const SnapshotPtr s = snapshot();
    const CollectionMeta &meta = s->meta;
    PVEC_RETURN_IF(spec.rescore == PVEC_RESCORE_RAW && meta.raw_tier == kRawNone, PVEC_UNSUPPORTED,
                   "rescoring from raw vectors needs a collection created with a raw tier");
    const bool exact = spec.rescore == PVEC_RESCORE_EXACT;
    PVEC_FORWARD_IF_ERROR(exact_supported(*s, exact));

    std::vector<int64_t> versions;
    PVEC_FORWARD_IF_ERROR(chunk_file_.versions(&versions));
    const std::size_t n_chunks = versions.size();
    // The window: as many resident chunks as fit beside one blob and the page cache's bound.
    const uint64_t fixed = page_cache_bound(db_.conn()) + chunk_blob_bytes(meta);
    const std::size_t per = static_cast<std::size_t>(
        std::max<uint64_t>(1, (memory_cap_ - std::min(memory_cap_, fixed)) / resident_chunk_bytes(meta)));
    const std::size_t slots = n_chunks * kChunkSlots;  // at least the live items

    std::vector<std::size_t> capacities(n_chunks, 0);
    uint64_t count = 0;
    double maxima[3] = {0, 0, 0};  // err, norm, aux over every chunk (exact mode's bounds)
    bool counted = false;          // the first pass has set capacities, count and maxima
    std::vector<std::shared_ptr<ResidentChunk>> window;
    window.reserve(std::min(per, n_chunks));
    // Calls visit(first chunk, window) for every window, in chunk order; a window's buffers are
    // released before the next one is read.
    auto stream = [&](const auto &visit) -> Status {
        auto release = [&]() {
            const uint64_t held = uint64_t(window.size()) * resident_chunk_bytes(meta);
            window.clear();
            release_heap(held);
        };
        for (std::size_t first = 0; first < n_chunks; first += per) {
            release();
            for (std::size_t i = first; i < std::min(n_chunks, first + per); ++i) {
                std::shared_ptr<ResidentChunk> c;
                PVEC_FORWARD_IF_ERROR(chunk_file_.load(i, meta, s->model.get(), &c));
                if (!counted) {
                    capacities[i] = c->capacity;
                    count += c->live_count;
                    maxima[0] = std::max(maxima[0], double(c->err_max));
                    maxima[1] = std::max(maxima[1], double(c->norm_max));
                    maxima[2] = std::max(maxima[2], double(c->aux_max));
                }
                window.push_back(std::move(c));
            }
            visit(first);
        }
        release();
        counted = true;
        return Status::ok();
    };

    if (!s->model) {
        // Exact float32: each window's exact best k, kept with their vectors, re-ranked in double
        // with every later window's (at most 2k vectors per query held).
        const std::size_t k = std::min(spec.k, std::max<std::size_t>(1, slots));
        std::vector<std::vector<search::Hit>> best(n);
        std::vector<std::vector<float>> vecs(n);
        PVEC_FORWARD_IF_ERROR(stream([&](std::size_t) {
            std::vector<search::BlockView> blocks;
            for (const auto &c : window) {
                blocks.push_back(search::BlockView{c->f32_block(), c->ids.data(), c->live.data(),
                                                   c->aux.data()});
            }
            for (std::size_t q = 0; q < n; ++q) {
                const float *query = queries + q * dim_;
                std::vector<search::Hit> found = search::scan_exact(
                    search::Query{meta.metric, query, dim_, k, spec.threads}, blocks);
                std::vector<search::Hit> cands = best[q];
                std::vector<float> x = vecs[q];
                for (search::Hit h : found) {
                    const std::size_t at = x.size() / dim_;
                    x.resize(x.size() + dim_);
                    window[h.pos / kChunkSlots]->read_code(
                        h.pos % kChunkSlots, reinterpret_cast<uint8_t *>(x.data() + at * dim_));
                    h.pos = at;
                    cands.push_back(h);
                }
                std::vector<search::Hit> kept;
                (void)search::rescore_exact(
                    meta.metric, query, dim_, k, cands,
                    [&](const search::Hit &h, float *out) {
                        std::memcpy(out, x.data() + h.pos * dim_, dim_ * sizeof(float));
                        return Status::ok();
                    },
                    &kept);
                vecs[q].clear();
                for (search::Hit &h : kept) {
                    vecs[q].insert(vecs[q].end(), x.begin() + h.pos * dim_,
                                   x.begin() + (h.pos + 1) * dim_);
                    h.pos = vecs[q].size() / dim_ - 1;
                }
                best[q] = std::move(kept);
            }
        }));
        for (std::size_t q = 0; q < n; ++q) {
            for (search::Hit &h : best[q]) {
                h.pos = 0;
            }
            (*hits)[q] = std::move(best[q]);
        }
        PVEC_FORWARD_IF_ERROR(read.end());
        if (spec.rescored != nullptr) {
            *spec.rescored = 0;
        }
        return Status::ok();
    }

    const uint32_t r = std::max<uint32_t>(1, spec.oversample);
    const bool rescore = exact || spec.rescore == PVEC_RESCORE_RAW ||
                         (spec.rescore == PVEC_RESCORE_AUTO && r > 1 && meta.raw_tier != kRawNone);
    // The resident scan keeps min(count, k x r) (exact mode: min(count, max(64, 8 min(k, count))));
    // the count is known only after the scan, and a selection larger than the live items returns
    // them all, so the same with `slots` for the count keeps the same candidates.
    const std::size_t kk = std::min(spec.k, slots);
    const std::size_t keep = std::max<std::size_t>(
        1, std::min(slots, exact     ? std::max<std::size_t>(64, saturating_mul(8, kk))
                           : rescore ? saturating_mul(spec.k, r)
                                     : spec.k));
    std::vector<model::Query> mq;
    std::vector<search::ScoreBounds> bounds;
    std::vector<search::RankByBound> ranks;
    for (std::size_t q = 0; q < n; ++q) {
        mq.push_back(model::prepare_query(*s->model, queries + q * dim_));
        if (exact) {
            bounds.push_back(search::score_bounds(*s->model, mq.back(), queries + q * dim_));
            ranks.push_back(search::rank_by_bound(bounds.back()));
        }
    }
    ExactScan source;  // exact mode: filled by the first pass
    // One pass over the file for queries `qs` (ranked by `rk` in exact mode): each query's best
    // `want`, merged over the windows, with their slot bounds when `sb` is given.
    auto scan_all = [&](const std::vector<model::Query> &qs,
                        const std::vector<search::RankByBound> *rk, std::size_t want,
                        std::vector<std::vector<search::Hit>> *out,
                        std::vector<std::vector<SlotBounds>> *sb) -> Status {
        const std::size_t nq = qs.size();
        std::vector<search::TopK> merged(nq, search::TopK(want));
        // Exact mode: the bounds of the hits each selection holds, by position.
        std::vector<std::unordered_map<uint64_t, SlotBounds>> held(sb ? nq : 0);
        PVEC_FORWARD_IF_ERROR(stream([&](std::size_t first) {
            std::vector<search::CodeBlockView> blocks;
            blocks.reserve(window.size());
            for (const auto &c : window) {
                blocks.push_back(search::CodeBlockView{c->block(), c->stride(), c->ids.data(),
                                                       c->live.data(), c->aux.data(),
                                                       c->errs.data()});
            }
            std::vector<std::vector<search::Hit>> found =
                search::scan_codes_batch(qs, blocks, want, spec.threads, rk);
            for (std::size_t q = 0; q < nq; ++q) {
                for (const search::Hit &h : found[q]) {
                    const uint64_t pos = h.pos + first * kChunkSlots;
                    merged[q].offer(h.score, h.id, pos);
                    if (sb) {
                        const ResidentChunk &c = *window[h.pos / kChunkSlots];
                        const std::size_t slot = h.pos % kChunkSlots;
                        held[q][pos] = SlotBounds{c.errs[slot], c.norms[slot], c.aux[slot]};
                    }
                }
                if (sb) {
                    // Only the bounds of hits still selected are kept (at most `want`).
                    std::vector<search::Hit> kept = merged[q].take_sorted();
                    merged[q] = search::TopK(want);
                    std::unordered_map<uint64_t, SlotBounds> still;
                    for (const search::Hit &h : kept) {
                        merged[q].offer(h.score, h.id, h.pos);
                        still[h.pos] = held[q][h.pos];
                    }
                    held[q] = std::move(still);
                }
            }
        }));
        out->assign(nq, {});
        if (sb) {
            sb->assign(nq, {});
        }
        for (std::size_t q = 0; q < nq; ++q) {
            (*out)[q] = merged[q].take_sorted();
            if (sb) {
                for (const search::Hit &h : (*out)[q]) {
                    (*sb)[q].push_back(held[q][h.pos]);
                }
            }
        }
        return Status::ok();
    };
    std::vector<std::vector<search::Hit>> first_found;
    std::vector<std::vector<SlotBounds>> first_bounds;
    PVEC_FORWARD_IF_ERROR(
        scan_all(mq, exact ? &ranks : nullptr, keep, &first_found, exact ? &first_bounds : nullptr));
    const bool hamming = !mq.empty() && mq[0].hamming;
    const std::size_t k = std::min<std::size_t>(spec.k, count);
    const RawPlaces places{meta.raw_tier, nullptr, &capacities};
    if (exact) {
        source.count = count;
        source.err_max = maxima[0];
        source.norm_max = maxima[1];
        source.aux_max = maxima[2];
    }
    for (std::size_t q = 0; q < n; ++q) {
        std::vector<search::Hit> found = std::move(first_found[q]);
        if (exact) {
            // A widening scan reads the file again, for this query alone.
            const std::vector<model::Query> one{mq[q]};
            const std::vector<search::RankByBound> one_rank{ranks[q]};
            source.scan = [&](std::size_t want, std::vector<search::Hit> *f,
                              std::vector<SlotBounds> *b) {
                std::vector<std::vector<search::Hit>> fs;
                std::vector<std::vector<SlotBounds>> bs;
                PVEC_FORWARD_IF_ERROR(scan_all(one, &one_rank, want, &fs, &bs));
                *f = std::move(fs[0]);
                *b = std::move(bs[0]);
                return Status::ok();
            };
            PVEC_FORWARD_IF_ERROR(search_exact(meta, places, source, queries + q * dim_, bounds[q], k,
                                               keep, std::move(found), std::move(first_bounds[q]),
                                               &(*hits)[q], &rescored));
            continue;
        }
        if (rescore) {
            rescored += found.size();
            PVEC_FORWARD_IF_ERROR(
                rescore_raw(meta.metric, places, queries + q * dim_, k, found, &(*hits)[q]));
            continue;
        }
        if (meta.metric == Metric::l2 && !hamming) {
            for (search::Hit &h : found) {
                h.score = std::sqrt(std::max(0.0f, h.score));
            }
            std::sort(found.begin(), found.end(), search::better);
        }
        (*hits)[q] = std::move(found);
    }
    PVEC_FORWARD_IF_ERROR(read.end());
    if (spec.rescored != nullptr) {
        *spec.rescored = rescored;
    }
    return Status::ok();
}

}  // namespace pocketvec::store
