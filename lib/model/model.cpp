#include "model/model.h"

#include "common/le_bytes.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace pocketvec::model {
namespace {

constexpr uint8_t kMagic[4] = {'P', 'V', 'M', 'D'};
constexpr uint32_t kVersion = 1;

void normalise(const float *x, std::size_t n, float *y) {
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) {
        s += double(x[i]) * x[i];
    }
    const double inv = s > 0 ? 1.0 / std::sqrt(s) : 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        y[i] = static_cast<float>(x[i] * inv);
    }
}

}  // namespace

uint64_t checksum(const uint8_t *data, std::size_t size) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (std::size_t i = 0; i < size; ++i) {
        h = (h ^ data[i]) * 0x100000001b3ull;
    }
    return h;
}

std::vector<uint8_t> Model::serialize() const {
    std::vector<uint8_t> out(kMagic, kMagic + 4);
    put_u32(&out, kVersion);
    put_u32(&out, dim);
    put_u32(&out, static_cast<uint32_t>(metric));
    const std::vector<uint8_t> p = pca ? pca->serialize() : std::vector<uint8_t>();
    put_u32(&out, static_cast<uint32_t>(p.size()));
    out.insert(out.end(), p.begin(), p.end());
    const std::vector<uint8_t> c = codec.serialize();
    put_u32(&out, static_cast<uint32_t>(c.size()));
    out.insert(out.end(), c.begin(), c.end());
    const uint64_t sum = checksum(out.data(), out.size());
    put_u32(&out, static_cast<uint32_t>(sum));
    put_u32(&out, static_cast<uint32_t>(sum >> 32));
    return out;
}

Status Model::deserialize(const uint8_t *data, std::size_t size, Model *out) {
    PVEC_RETURN_IF(data == nullptr || size < 28 || std::memcmp(data, kMagic, 4) != 0, PVEC_CORRUPT,
                   "not a pocketvec model");
    const uint64_t stored = uint64_t(get_u32(data + size - 8)) | uint64_t(get_u32(data + size - 4)) << 32;
    PVEC_RETURN_IF(checksum(data, size - 8) != stored, PVEC_CORRUPT, "model checksum mismatch");
    const uint32_t version = get_u32(data + 4);
    PVEC_RETURN_IF(version > kVersion, PVEC_FORMAT,
                   "model version " + std::to_string(version) + " is newer than this library");
    PVEC_RETURN_IF(version == 0, PVEC_CORRUPT, "model version 0");
    Model m;
    m.dim = get_u32(data + 8);
    PVEC_RETURN_IF(m.dim < 1 || m.dim > PVEC_MAX_DIM || !metric_from_code(get_u32(data + 12), &m.metric),
                   PVEC_CORRUPT, "model header is damaged");
    const std::size_t body_end = size - 8;
    std::size_t pos = 16;
    const uint32_t pca_len = get_u32(data + pos);
    pos += 4;
    PVEC_RETURN_IF(pca_len > body_end - pos, PVEC_CORRUPT, "model is truncated");
    if (pca_len > 0) {
        pca::Pca p;
        PVEC_FORWARD_IF_ERROR(pca::Pca::deserialize(data + pos, pca_len, &p));
        PVEC_RETURN_IF(p.in_dim != m.dim, PVEC_CORRUPT, "model PCA does not match its dimension");
        m.pca = std::move(p);
    }
    pos += pca_len;
    PVEC_RETURN_IF(body_end - pos < 4, PVEC_CORRUPT, "model is truncated");
    const uint32_t codec_len = get_u32(data + pos);
    pos += 4;
    PVEC_RETURN_IF(codec_len != body_end - pos, PVEC_CORRUPT, "model codec part has a bad size");
    PVEC_FORWARD_IF_ERROR(codec::CodecParams::deserialize(data + pos, codec_len, &m.codec));
    PVEC_RETURN_IF(m.codec.dim != m.code_dim(), PVEC_CORRUPT,
                   "model codec does not match its dimension");
    *out = std::move(m);
    return Status::ok();
}

void to_code_space(const Model &m, const float *x, float *y) {
    if (m.metric == Metric::cosine) {
        std::vector<float> unit(m.dim);
        normalise(x, m.dim, unit.data());
        if (m.pca) {
            pca::project(*m.pca, unit.data(), y);
        } else {
            std::memcpy(y, unit.data(), m.dim * sizeof(float));
        }
        return;
    }
    if (m.pca) {
        pca::project(*m.pca, x, y);
    } else {
        std::memcpy(y, x, m.dim * sizeof(float));
    }
}

void encode(const Model &m, const float *x, uint8_t *code) {
    std::vector<float> y(m.code_dim());
    to_code_space(m, x, y.data());
    codec::encode(m.codec, y.data(), code);
}

void reconstruct(const Model &m, const uint8_t *code, float *x) {
    std::vector<float> y(m.code_dim());
    codec::decode(m.codec, code, y.data());
    if (!m.pca) {
        std::memcpy(x, y.data(), m.dim * sizeof(float));
        return;
    }
    pca::back_project(*m.pca, y.data(), x);
}

float code_error(const Model &m, const float *x, const uint8_t *code) {
    // Reused per thread: this runs once per written vector.
    thread_local std::vector<double> xu, approx;
    thread_local std::vector<float> y;
    xu.assign(x, x + m.dim);
    if (m.metric == Metric::cosine) {
        double n2 = 0;
        for (double v : xu) {
            n2 += v * v;
        }
        const double inv = n2 > 0 ? 1.0 / std::sqrt(n2) : 0.0;
        for (double &v : xu) {
            v *= inv;
        }
    }
    y.resize(m.code_dim());
    codec::decode(m.codec, code, y.data());
    // approx = mean + C^T y, in double; decode's own rounding (a few float ulps of each term of
    // offset + step * c, or of scale * fp8) is bounded by `slack` below.
    approx.assign(m.dim, 0.0);
    if (m.pca) {
        const pca::Pca &p = *m.pca;
        for (uint32_t i = 0; i < m.dim; ++i) {
            approx[i] = p.mean[i];
        }
        for (uint32_t r = 0; r < p.out_dim; ++r) {
            const float *row = &p.components[std::size_t(r) * m.dim];
            for (uint32_t i = 0; i < m.dim; ++i) {
                approx[i] += double(row[i]) * y[r];
            }
        }
    } else {
        for (uint32_t i = 0; i < m.dim; ++i) {
            approx[i] = y[i];
        }
    }
    double d2 = 0, terms2 = 0;
    for (uint32_t i = 0; i < m.dim; ++i) {
        d2 += (xu[i] - approx[i]) * (xu[i] - approx[i]);
    }
    for (float v : y) {
        terms2 += double(v) * v;
    }
    for (float o : m.codec.offset) {
        terms2 += double(o) * o;
    }
    const double slack = 0x1p-20 * (1.0 + std::sqrt(terms2));
    const auto e = static_cast<float>(std::sqrt(d2) + slack);
    return std::nextafter(e, std::numeric_limits<float>::infinity());
}

Query prepare_query(const Model &m, const float *q) {
    Query out;
    out.metric = m.metric;
    out.hamming = m.codec.id == codec::CodecId::binary;
    std::vector<float> qq(q, q + m.dim);
    if (m.metric == Metric::cosine) {
        normalise(q, m.dim, qq.data());
    }
    std::vector<float> y(m.code_dim());
    const bool centred_cosine = codec::is_rabitq(m.codec.id) && m.metric == Metric::cosine;
    if (m.metric == Metric::l2 || centred_cosine) {
        // |q' - y|^2 = |q'|^2 - 2 q'.y + |y|^2 with q' = C (q - mean); rabitq under cosine
        // scores |q' - y|^2 / 2 = 1 - (q'.y - |y|^2 / 2 + 1 - |q'|^2 / 2) (the codec adds the
        // -|y|^2 / 2), the cosine distance itself without PCA.
        if (m.pca) {
            pca::project(*m.pca, qq.data(), y.data());
        } else {
            y = qq;
        }
        double n2 = 0;
        for (float v : y) {
            n2 += double(v) * v;
        }
        out.constant = centred_cosine ? static_cast<float>(1.0 - n2 / 2) : static_cast<float>(n2);
    } else if (m.pca) {
        // q.x = q.mean + (C q).(C (x - mean)) on the kept subspace.
        pca::project_direction(*m.pca, qq.data(), y.data());
        out.constant = pca::mean_dot(*m.pca, qq.data());
    } else {
        y = qq;
    }
    out.prepared = codec::prepare_query(m.codec, y.data());
    if (centred_cosine) {
        out.prepared.norm2_weight = -0.5f;
    }
    return out;
}

Status fit(const float *sample, std::size_t n, uint32_t dim, Metric metric, codec::CodecId id,
           uint32_t pca_dim, bool rotate, uint64_t seed, Model *out) {
    // f16 / bf16 without PCA fit nothing and need no sample.
    PVEC_RETURN_IF(n == 0 && (pca_dim > 0 || codec::codec_needs_training(id)), PVEC_RANGE,
                   "there are no vectors to train on");
    PVEC_RETURN_IF(pca_dim >= dim, PVEC_RANGE, "pca_dim must be smaller than the dimension");
    const bool rabitq = codec::is_rabitq(id);
    PVEC_RETURN_IF(rabitq && n < 2, PVEC_RANGE,
                   std::string(codec::codec_name(id)) +
                       " needs at least two vectors to train on (a mean and a rotation)");
    {
        const std::size_t bytes = codec::code_bytes(id, pca_dim > 0 ? pca_dim : dim);
        PVEC_RETURN_IF(bytes > std::size_t{4} * dim, PVEC_RANGE,
                       std::string(codec::codec_name(id)) + " codes of " + std::to_string(bytes) +
                           " bytes would be larger than the float32 vectors (" +
                           std::to_string(4 * std::size_t{dim}) + " bytes)");
    }
    Model m;
    m.dim = dim;
    m.metric = metric;
    std::vector<float> space(n * dim);
    std::copy(sample, sample + n * dim, space.begin());
    if (metric == Metric::cosine) {
        for (std::size_t i = 0; i < n; ++i) {
            normalise(&sample[i * dim], dim, &space[i * dim]);
        }
    }
    if (pca_dim > 0) {
        PVEC_RETURN_IF(n < 2, PVEC_RANGE, "PCA needs at least two vectors");
        pca::Pca p;
        PVEC_FORWARD_IF_ERROR(
            pca::fit(space.data(), n, dim, pca_dim, 1.0, rotate || rabitq, seed, &p));
        std::vector<float> projected(n * pca_dim);
        for (std::size_t i = 0; i < n; ++i) {
            pca::project(p, &space[i * dim], &projected[i * pca_dim]);
        }
        space.swap(projected);
        m.pca = std::move(p);
    } else if (rabitq) {
        pca::Pca p;
        PVEC_FORWARD_IF_ERROR(pca::fit_rotation(space.data(), n, dim, seed, &p));
        std::vector<float> rotated(n * dim);
        for (std::size_t i = 0; i < n; ++i) {
            pca::project(p, &space[i * dim], &rotated[i * dim]);
        }
        space.swap(rotated);
        m.pca = std::move(p);
    }
    if (codec::codec_needs_training(id)) {
        PVEC_FORWARD_IF_ERROR(codec::train(id, space.data(), n, m.code_dim(), &m.codec));
    } else {
        m.codec = codec::untrained_params(id, m.code_dim());
    }
    *out = std::move(m);
    return Status::ok();
}

}  // namespace pocketvec::model
