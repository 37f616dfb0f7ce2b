// Bounded selection of the k best (smallest score, then smallest id) candidates.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace pocketvec::search {

struct Hit {
    float score;
    int64_t id;
    uint64_t pos = 0;  // where the scan found it (block * kBlockVectors + slot), for rescoring
};

// The single ordering used everywhere: smaller score first, equal scores by smaller id.
inline bool better(const Hit &a, const Hit &b) {
    return a.score < b.score || (a.score == b.score && a.id < b.id);
}

class TopK {
public:
    explicit TopK(std::size_t k) : k_(k) { heap_.reserve(k); }

    // The score a candidate must reach (<=) to be worth offering; +inf until the heap is full.
    float threshold() const { return full() ? heap_.front().score : kInfinity; }
    bool full() const { return heap_.size() == k_; }

    void offer(float score, int64_t id, uint64_t pos = 0) {
        Hit h{score, id, pos};
        if (!full()) {
            heap_.push_back(h);
            std::push_heap(heap_.begin(), heap_.end(), better);
            return;
        }
        if (k_ == 0 || !better(h, heap_.front())) {
            return;
        }
        std::pop_heap(heap_.begin(), heap_.end(), better);
        heap_.back() = h;
        std::push_heap(heap_.begin(), heap_.end(), better);
    }

    // The hits, best first; empties the selection.
    std::vector<Hit> take_sorted() {
        std::sort_heap(heap_.begin(), heap_.end(), better);
        return std::move(heap_);
    }

private:
    static constexpr float kInfinity = __builtin_huge_valf();
    std::size_t k_;
    std::vector<Hit> heap_;  // max-heap under `better`: front() is the worst kept hit
};

}  // namespace pocketvec::search
