// A collection's trained model: optional PCA, then a codec. Turns vectors into codes at insert,
// queries into prepared scorers at search, and codes back into approximate vectors; serialises to
// one checksummed blob (the unit stored in pvec_models and moved by export/import).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "codec/codec.h"
#include "common/metric.h"
#include "common/status.h"
#include "pca/pca.h"

namespace pocketvec::model {

struct Model {
    uint32_t dim = 0;  // input dimension
    Metric metric = Metric::cosine;
    std::optional<pca::Pca> pca;
    codec::CodecParams codec;  // over code_dim() dimensions

    uint32_t code_dim() const { return pca ? pca->out_dim : dim; }
    // The collection's pca_dim for this model: the PCA's output size, but 0 for the
    // full-dimension rotation of a rabitq model (model::fit without PCA), which belongs to the
    // codec, not to a PCA the collection was asked for. (A full-dimension PCA with another codec
    // keeps out_dim, which collections refuse.)
    uint32_t pca_dim() const {
        if (!pca) {
            return 0;
        }
        return codec::is_rabitq(codec.id) && pca->out_dim == dim ? 0 : pca->out_dim;
    }
    std::size_t code_bytes() const { return codec::code_bytes(codec.id, code_dim()); }

    // Blob (little-endian): "PVMD", u32 version (1), u32 dim, u32 metric, u32 pca blob bytes (0 =
    // no PCA), pca blob, u32 codec blob bytes, codec blob, u64 FNV-1a checksum of all before it.
    std::vector<uint8_t> serialize() const;
    // PVEC_CORRUPT for damage (bad magic, sizes, checksum, inconsistent parts); PVEC_FORMAT for a
    // newer version. `out` is written only on success.
    static Status deserialize(const uint8_t *data, std::size_t size, Model *out);
};

// FNV-1a, 64 bits: catches damage of a stored blob (not an adversary).
uint64_t checksum(const uint8_t *data, std::size_t size);

// Fits PCA (when pca_dim > 0) and the codec on n sample vectors of model.dim floats.
// rabitq / rabitq2 need centred, randomly rotated vectors: with PCA its random rotation is always
// applied (whatever `rotate` says); without, the model gets a full-dimension centring and random
// rotation (pca::fit_rotation, out_dim == dim). They need n >= 2 and a code no larger than f32's
// (code_bytes <= 4 * dim): PVEC_RANGE otherwise.
Status fit(const float *sample, std::size_t n, uint32_t dim, Metric metric, codec::CodecId codec,
           uint32_t pca_dim, bool rotate, uint64_t seed, Model *out);

// The space codes live in: unit length first under cosine, then PCA. `x` has dim floats, `y`
// code_dim floats.
void to_code_space(const Model &m, const float *x, float *y);

// Encodes x (dim floats) into m.code_bytes() bytes.
void encode(const Model &m, const float *x, uint8_t *code);

// Approximate vector of a code: decoded, mapped back through PCA (mean + C^T y); under cosine the
// result has unit length (the caller scales it by the original norm).
void reconstruct(const Model &m, const uint8_t *code, float *x);

// An upper bound on |x_u - approx(code)|, where x_u is `x` (dim floats: the vector exact scores are
// computed from) made unit length under cosine, and approx(code) = reconstruct(m, code) in exact
// arithmetic: the vector whose inner product with a query the code scan estimates. So for any
// query q, |q.x_u - q.approx(code)| <= |q| * code_error (Cauchy-Schwarz), the heart of exact search
// from codes (PVEC_RESCORE_EXACT). Computed in double, with slack for decode's float rounding,
// rounded up to float.
float code_error(const Model &m, const float *x, const uint8_t *code);

// A query ready to be scored against codes: dot_rows(prepared, ...) gives the code-space inner
// product; score() turns it into the collection's approximate score.
struct Query {
    codec::PreparedQuery prepared;
    Metric metric = Metric::cosine;
    bool hamming = false;   // binary: dot_rows gives a Hamming similarity, only a ranking
    // dot/cosine: q . mean (PCA); l2: |q'|^2. rabitq under cosine: 1 - |q'|^2 / 2 with the
    // centred q' = C (q - mean) and the codec adding -|y|^2 / 2 to each estimate, so that the
    // score is |q' - y|^2 / 2 (= 1 - cos without PCA): the query is centred like the data, which
    // shrinks the estimator's error (it grows with |q'|).
    float constant = 0;
};
Query prepare_query(const Model &m, const float *q);

// Approximate user-facing score (smaller is better) from the code-space inner product `ip` and
// the code's decoded squared norm (l2 only).
inline float score(const Query &q, float ip, float norm2) {
    if (q.hamming) {
        return -ip;
    }
    switch (q.metric) {
    case Metric::cosine: return 1.0f - (ip + q.constant);
    case Metric::dot: return -(ip + q.constant);
    default: return q.constant - 2.0f * ip + norm2;  // squared; the caller takes the root
    }
}

}  // namespace pocketvec::model
