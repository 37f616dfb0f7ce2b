#include "synth.h"

#include "cli.h"

#include <cmath>

namespace pocketvec::tool {
namespace {

constexpr double kPi = 3.14159265358979323846;
// Noise relative to the spread of the centres: clusters overlap a little, as topics do, so the
// nearest neighbours are mostly but not only in the query's own cluster.
constexpr float kNoise = 0.6f;

uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// SplitMix64 with a Box-Muller normal. Written out rather than std::normal_distribution, whose
// output differs between standard libraries: the same seed must give the same data everywhere.
class Rng {
public:
    explicit Rng(uint64_t seed) : state_(seed) {}

    uint64_t next() {
        state_ += 0x9E3779B97F4A7C15ull;
        return mix64(state_);
    }

    // Uniform in (0, 1], 53 bits.
    double uniform() { return (static_cast<double>(next() >> 11) + 1.0) * 0x1.0p-53; }

    double normal() {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        const double r = std::sqrt(-2.0 * std::log(uniform()));
        const double t = 2.0 * kPi * uniform();
        spare_ = r * std::sin(t);
        has_spare_ = true;
        return r * std::cos(t);
    }

private:
    uint64_t state_;
    double spare_ = 0.0;
    bool has_spare_ = false;
};

uint64_t stream_seed(uint64_t seed, uint64_t stream, uint64_t row) {
    return mix64(mix64(mix64(seed) ^ (stream + 1)) ^ row);
}

} // namespace

SyntheticSource::SyntheticSource(size_t dim, uint64_t seed)
    : dim_(dim), seed_(seed), sigma_(dim), centres_(kClusters * dim) {
    for (size_t i = 0; i < dim; ++i) {
        sigma_[i] = static_cast<float>(1.0 / std::sqrt(1.0 + static_cast<double>(i)));
    }
    Rng rng(stream_seed(seed, ~0ull, 0));
    for (size_t c = 0; c < kClusters; ++c) {
        for (size_t i = 0; i < dim; ++i) {
            centres_[c * dim + i] = static_cast<float>(rng.normal()) * sigma_[i];
        }
    }
}

Matrix SyntheticSource::sample(size_t count, uint64_t stream, unsigned threads) const {
    Matrix m;
    m.rows = count;
    m.dim = dim_;
    m.data.resize(count * dim_);

    auto fill = [&](size_t begin, size_t end) {
        for (size_t r = begin; r < end; ++r) {
            Rng rng(stream_seed(seed_, stream, r));
            const float *centre = centres_.data() + (rng.next() % kClusters) * dim_;
            float *dst = m.row(r);
            double norm2 = 0.0;
            for (size_t i = 0; i < dim_; ++i) {
                dst[i] = centre[i] + kNoise * sigma_[i] * static_cast<float>(rng.normal());
                norm2 += static_cast<double>(dst[i]) * dst[i];
            }
            const auto inv = static_cast<float>(1.0 / std::sqrt(norm2));
            for (size_t i = 0; i < dim_; ++i) {
                dst[i] *= inv;
            }
        }
    };

    // Rows are cheap (a few hundred normals): a thread only pays for itself over thousands.
    run_parallel(threads, count, fill, 4096);
    return m;
}

} // namespace pocketvec::tool
