// A write call's working copy of one collection: copy-on-write over the snapshot it started from.
//
// Invariants (what a draft may and may not do):
//  - It never changes a chunk it shares with a published snapshot: edit(i) copies chunk i the
//    first time the call changes it, and later changes in the same call go to that private copy.
//  - It is published (becomes the collection's snapshot) only after the call's SQL has succeeded
//    (COMMIT, or RELEASE of the call's savepoint); a failed call drops it, so the resident state
//    stays the one before the call without any undo step.
//  - Every chunk it changed is listed by touched(), so the file's chunk versions can be set to
//    the collection's new version before the call commits.
//  - At most one chunk is `fresh`: created by this call and not yet in the file. Its slots are
//    written to the file in one INSERT of its rows (Collection::flush_fresh) instead of slot by
//    slot into a row of zeros; until then its codes are kept row-major in `fresh->codes`, not in
//    the resident block. It is flushed before another chunk is created and before the call
//    finishes, so a published draft never has one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "store/snapshot.h"

namespace pocketvec::store {

struct SlotRef {
    std::size_t chunk;
    std::size_t slot;
};

class Draft {
public:
    explicit Draft(const Snapshot &base)
        : meta(base.meta), model(base.model), count(base.count), chunks_(base.chunks),
          versions_(base.chunk_versions), owned_(base.chunks.size(), false) {
        for (std::size_t i = 0; i < chunks_.size(); ++i) {
            if (chunks_[i]->live_count < chunks_[i]->capacity) {
                with_free_.insert(i);
            }
        }
    }

    CollectionMeta meta;
    std::shared_ptr<const model::Model> model;
    uint64_t count;
    // Items this call may still add, the current one included (a batch sets it per item): a chunk
    // that must grow grows for them at once instead of kChunkGrowth slots at a time, each growth
    // being a rewrite of the chunk's row. At most one chunk's worth is allocated beyond need.
    std::size_t pending_items = 1;

    // The chunk this call created whose file rows are not written yet (invariants above).
    struct FreshChunk {
        std::size_t index;
        std::vector<uint8_t> codes;  // capacity x code_bytes, row-major
        std::vector<uint8_t> raw;    // capacity x raw slot bytes (raw vectors per chunk only)
    };
    std::optional<FreshChunk> fresh;

    std::size_t chunk_count() const { return chunks_.size(); }
    const ResidentChunk &chunk(std::size_t i) const { return *chunks_[i]; }
    const std::set<std::size_t> &touched() const { return touched_; }

    // Chunk i, safe to change: a private copy made on the first change in this call.
    ResidentChunk &edit(std::size_t i) {
        if (!owned_[i]) {
            auto copy = std::make_shared<ResidentChunk>(*chunks_[i]);
            mutable_.resize(chunks_.size());
            mutable_[i] = copy;
            chunks_[i] = std::move(copy);
            owned_[i] = true;
        }
        touched_.insert(i);
        return *mutable_[i];
    }

    // A new, empty chunk of `capacity` slots at the end.
    void append(std::size_t capacity) {
        auto c = std::make_shared<ResidentChunk>(meta.code_bytes);
        c->capacity = capacity;
        chunks_.push_back(c);
        mutable_.resize(chunks_.size());
        mutable_.back() = std::move(c);
        versions_.push_back(0);
        owned_.push_back(true);
        touched_.insert(chunks_.size() - 1);
        with_free_.insert(chunks_.size() - 1);
    }

    // Replaces every chunk (re-encoding under a new model); all of them count as touched.
    void replace_all(std::vector<std::shared_ptr<ResidentChunk>> chunks) {
        chunks_.assign(chunks.begin(), chunks.end());
        mutable_ = std::move(chunks);
        versions_.assign(chunks_.size(), 0);
        owned_.assign(chunks_.size(), true);
        touched_.clear();
        with_free_.clear();
        for (std::size_t i = 0; i < chunks_.size(); ++i) {
            touched_.insert(i);
            if (chunks_[i]->live_count < chunks_[i]->capacity) {
                with_free_.insert(i);
            }
        }
    }

    // The lowest free slot below a chunk's capacity, if any.
    bool lowest_free(SlotRef *out) const {
        for (std::size_t i : with_free_) {
            const ResidentChunk &c = *chunks_[i];
            for (std::size_t w = 0; w * 64 < c.capacity; ++w) {
                uint64_t free_bits = ~c.live[w];
                if (c.capacity < (w + 1) * 64) {
                    free_bits &= (uint64_t{1} << (c.capacity - w * 64)) - 1;
                }
                if (free_bits != 0) {
                    *out = SlotRef{i, w * 64 + static_cast<std::size_t>(__builtin_ctzll(free_bits))};
                    return true;
                }
            }
        }
        return false;
    }
    // Keeps the free-chunk index right after a slot of chunk i was taken or freed, or it grew.
    void update_free(std::size_t i) {
        if (chunks_[i]->live_count < chunks_[i]->capacity) {
            with_free_.insert(i);
        } else {
            with_free_.erase(i);
        }
    }

    // The immutable state this draft describes; touched chunks get the draft's meta.version.
    std::shared_ptr<const Snapshot> publish() const {
        auto s = std::make_shared<Snapshot>();
        s->meta = meta;
        s->model = model;
        s->chunks = chunks_;
        s->chunk_versions = versions_;
        for (std::size_t i : touched_) {
            s->chunk_versions[i] = meta.version;
        }
        s->count = count;
        return s;
    }

private:
    std::vector<std::shared_ptr<const ResidentChunk>> chunks_;
    std::vector<std::shared_ptr<ResidentChunk>> mutable_;  // [i] set when owned_[i]
    std::vector<int64_t> versions_;
    std::vector<bool> owned_;
    std::set<std::size_t> touched_;
    std::set<std::size_t> with_free_;  // chunks with a free slot below their capacity
};

}  // namespace pocketvec::store
