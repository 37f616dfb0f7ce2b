// PCA: a mean and an orthonormal projection fitted on a sample, optionally followed by a random
// orthogonal rotation, applied to vectors at insert and to queries at search.
//
// What is exact in the projected space (C = components, out_dim x in_dim, orthonormal rows):
//   - L2: |project(q) - project(x)| = |C (q - x)|, the distance between the projected points; equal
//     to |q - x| when nothing is dropped (out_dim == in_dim), otherwise the distance within the
//     kept subspace (never larger than the original).
//   - Inner product: q.x = mean_dot(q) + project_direction(q) . project(x) + r, where r is the
//     inner product of the dropped parts of q and x - mean; r = 0 when out_dim == in_dim.
//     mean_dot(q) is the same for every x, so ranking by project_direction(q) . project(x) is
//     ranking by the scores without r; add mean_dot(q) to report them. Do not score dot with
//     project(q): C(q - mean) . C(x - mean) carries an x-dependent term -C mean . C(x - mean).
//   - Cosine: as inner product on vectors normalised before projection.
// A rotation R (out_dim x out_dim, orthogonal) is folded into C (C = R P); it changes none of the
// above.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/status.h"

namespace pocketvec::pca {

// Rounds of the structured rotation (Pca::structured).
constexpr uint32_t kStructuredRounds = 4;

struct Pca {
    uint32_t in_dim = 0;
    uint32_t out_dim = 0;
    bool rotated = false;             // a random rotation is folded into components
    float explained_variance = 0.0f;  // fraction of the sample's variance kept, in [0, 1]
    std::vector<float> mean;          // in_dim
    std::vector<float> components;    // out_dim x in_dim, row-major, orthonormal rows
    // A structured rotation instead of components (fit_rotation): out_dim == in_dim = d,
    // components empty, and C = K F_3 S_3 K F_2 S_2 K F_1 S_1 K F_0 S_0, where S_r multiplies by
    // random signs (bit i % 64 of the r * ceil(d / 64) + i / 64-th draw of
    // std::mt19937_64(seed), set = -1), F_r is the orthonormal Walsh-Hadamard transform
    // (Sylvester order, scaled by 1 / sqrt(w)) of the window of w coordinates starting at 0 (even
    // r) or d - w (odd r), w the largest power of two <= d, and K (only when w < d) maps
    // (x_i, x_{i+h}) to ((x_i + x_{i+h}) / sqrt 2, (x_i - x_{i+h}) / sqrt 2) for i < h = d / 2
    // (a Kac's walk step, as RaBitQ's own FhtKacRotator does). O(d log d) per vector and 8 bytes
    // in the blob instead of 4 d^2; the same recall as a dense Haar rotation on the data sets.
    bool structured = false;
    uint64_t seed = 0;

    // Little-endian blob: "PVPC", u32 version (1; 2 when structured), u32 in_dim, u32 out_dim,
    // u32 flags (bit 0: rotated, bit 1: structured, version 2 only), f32 explained_variance,
    // f32 mean[in_dim], then f32 components[out_dim * in_dim], or u64 seed when structured.
    std::vector<uint8_t> serialize() const;
    // PVEC_CORRUPT for a bad magic, truncated or trailing bytes, dims out of range
    // (0 < out_dim <= in_dim; structured: out_dim == in_dim and rotated) or non-finite values;
    // PVEC_FORMAT for a newer version. `out` is written only on success.
    static Status deserialize(const uint8_t *data, std::size_t size, Pca *out);
};

// Fits a PCA on `n` row-major sample vectors of `in_dim` finite floats: the covariance (double
// precision) is diagonalised with Eigen's SelfAdjointEigenSolver and the components sorted by
// decreasing eigenvalue, each with its largest-magnitude entry made positive (eigenvectors have
// no sign of their own; this makes the fit reproducible).
//   out_dim > 0: keep that many components (<= in_dim).
//   out_dim == 0: keep the fewest components whose variance reaches `variance_target` (0, 1] of
//                 the total.
//   random_rotation: fold a random orthogonal out_dim x out_dim rotation (QR of a Gaussian
//                 matrix drawn from `seed`, sign-corrected to be uniformly distributed) into the
//                 components. It spreads the variance evenly over the output dimensions, which
//                 helps binary and the integer codecs. Same seed, same sample: same result on
//                 every platform (the generator is std::mt19937_64 with our own Gaussian draw).
// PVEC_RANGE for n < 2, in_dim == 0, out_dim > in_dim or variance_target outside (0, 1];
// PVEC_INVALID for a non-finite sample value. `out` is written only on success.
Status fit(const float *sample, std::size_t n, std::size_t in_dim, std::size_t out_dim,
           double variance_target, bool random_rotation, uint64_t seed, Pca *out);

// A centring and a random orthogonal rotation of the whole space, nothing dropped: mean = the
// sample's mean (double sums), the structured rotation of `seed` (Pca::structured); out_dim =
// in_dim, rotated, explained_variance 1. For codecs whose estimates rest on a random rotation of
// centred vectors (rabitq): a dense Haar rotation would cost 4 d^2 bytes in every model (4 MiB at
// d = 1024, more than the codes of 30,000 vectors) and d^2 operations per vector, for the same
// recall (measured with pocketvec eval on the six data sets).
// PVEC_RANGE for n < 1 or in_dim == 0; PVEC_INVALID for a non-finite sample value.
Status fit_rotation(const float *sample, std::size_t n, std::size_t in_dim, uint64_t seed,
                    Pca *out);

// y = C (x - mean); x has in_dim floats, y out_dim.
void project(const Pca &pca, const float *x, float *y);
// y = C q, the query side of inner-product scores (see above).
void project_direction(const Pca &pca, const float *q, float *y);
// q . mean, the constant term of inner-product scores (see above).
float mean_dot(const Pca &pca, const float *q);
// x = mean + C^T y: a point of the projected space mapped back (y out_dim floats, x in_dim).
void back_project(const Pca &pca, const float *y, float *x);

}  // namespace pocketvec::pca
