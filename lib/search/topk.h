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

// `better` as a type, so sort and nth_element inline it (a function pointer they call).
struct Better {
    bool operator()(const Hit &a, const Hit &b) const { return better(a, b); }
};

// Keeps every offered hit that can still be among the k best in a buffer of up to
// k + max(k, 16) hits; a full buffer is cut back to its k best (nth_element), and the k-th of
// those is the bar later offers must beat. Appending costs less than a heap's sift (a scan with
// k x r candidates offers hundreds of hits a query), and the result is the same: a hit is
// dropped only when k kept hits beat it.
class TopK {
public:
    explicit TopK(std::size_t k) : k_(k), cap_(k + std::max<std::size_t>(k, 16)) {
        hits_.reserve(k == 0 ? 0 : std::min<std::size_t>(cap_, 1024));  // a huge k grows as used
    }

    // The score a candidate must reach (<=) to be worth offering: +inf until the first cut, then
    // the k-th best score at the last cut (never below the k-th best offered so far).
    float threshold() const { return cut_ ? bar_.score : kInfinity; }

    void offer(float score, int64_t id, uint64_t pos = 0) {
        const Hit h{score, id, pos};
        if (k_ == 0 || (cut_ && !better(h, bar_))) {
            return;
        }
        hits_.push_back(h);
        if (hits_.size() == cap_) {
            cut();
        }
    }

    // The hits, best first; empties the selection.
    std::vector<Hit> take_sorted() {
        std::sort(hits_.begin(), hits_.end(), Better{});
        if (hits_.size() > k_) {
            hits_.resize(k_);
        }
        cut_ = false;
        return std::move(hits_);
    }

private:
    // The k best to the front, the k-th at k - 1 (nth_element), the rest dropped.
    void cut() {
        std::nth_element(hits_.begin(), hits_.begin() + static_cast<std::ptrdiff_t>(k_ - 1),
                         hits_.end(), Better{});
        hits_.resize(k_);
        bar_ = hits_[k_ - 1];
        cut_ = true;
    }

    static constexpr float kInfinity = __builtin_huge_valf();
    std::size_t k_, cap_;
    std::vector<Hit> hits_;  // every kept hit, unordered
    bool cut_ = false;       // bar_ is set: k kept hits beat or equal it
    Hit bar_{};              // the k-th best kept at the last cut
};

}  // namespace pocketvec::search
