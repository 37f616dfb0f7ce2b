// A deterministic generator of embedding-like vectors for the demo: clustered, with a decaying
// per-dimension spectrum like real sentence embeddings, unit norm. It is synthetic data; the demo
// says so in its output.
#pragma once

#include "readers.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pocketvec::tool {

class SyntheticSource {
public:
    static constexpr size_t kClusters = 256;

    // Draws the cluster centres from `seed`.
    SyntheticSource(size_t dim, uint64_t seed);

    // `count` unit vectors: a random centre plus noise, both scaled by the spectrum, normalised.
    // Each row has its own random stream derived from (seed, stream, row), so the result does not
    // depend on the number of threads. Base and queries use different `stream` values.
    Matrix sample(size_t count, uint64_t stream, unsigned threads) const;

private:
    size_t dim_;
    uint64_t seed_;
    std::vector<float> sigma_;   // per-dimension standard deviation, decaying like 1/sqrt(1+i)
    std::vector<float> centres_; // kClusters x dim_
};

} // namespace pocketvec::tool
