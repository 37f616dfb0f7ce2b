// Scoring a float query against row-major codes. The fast versions are plain C++ shaped for the
// auto-vectoriser at baseline flags: each row is summed into kLanes independent float lanes (a
// float sum cannot be reordered by the compiler without -ffast-math, so the lanes make the
// reordering explicit), with branch-free decoders. Block-layout and per-level SIMD kernels belong
// to lib/kernels/; these are the row-major references and the rescoring path.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "codec/codec.h"
#include "common/float_bits.h"
#include "codec/minifloat.h"
#include "kernels/portable.h"

namespace pocketvec::codec {

namespace {

constexpr std::size_t kLanes = 16;

// sum over i < n of term(i), in kLanes lanes.
template <class Term>
inline float lane_sum(std::size_t n, Term term) {
    float acc[kLanes] = {};
    std::size_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        for (std::size_t k = 0; k < kLanes; ++k) {
            acc[k] += term(i + k);
        }
    }
    float tail = 0.0f;
    for (; i < n; ++i) {
        tail += term(i);
    }
    for (std::size_t width = kLanes / 2; width > 0; width /= 2) {
        for (std::size_t k = 0; k < width; ++k) {
            acc[k] += acc[k + width];
        }
    }
    return acc[0] + tail;
}

inline float load_f32(const uint8_t *p) {
    float f;
    std::memcpy(&f, p, sizeof f);
    return f;
}

inline uint64_t load_u64(const uint8_t *p) {
    uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// Hamming distance between the query bits and one binary code of `bytes` bytes.
inline uint32_t hamming_row(const uint64_t *qbits, const uint8_t *row, std::size_t bytes,
                            uint64_t last_mask) {
    const std::size_t full = bytes / 8;
    uint32_t h = 0;
    for (std::size_t k = 0; k < full; ++k) {
        h += static_cast<uint32_t>(__builtin_popcountll(load_u64(row + 8 * k) ^ qbits[k]));
    }
    const std::size_t rest = bytes - 8 * full;
    if (rest != 0) {
        uint64_t v = 0;
        std::memcpy(&v, row + 8 * full, rest);
        h += static_cast<uint32_t>(__builtin_popcountll((v ^ qbits[full]) & last_mask));
    }
    return h;
}

// w[i], or 0 past its end (the padding of a code's last group).
inline float weight(const std::vector<float> &w, std::size_t i) { return i < w.size() ? w[i] : 0.0f; }

// Mask of the valid bits of the last (possibly partial) 64-bit word of a binary code.
uint64_t last_word_mask(std::size_t dim) {
    const std::size_t r = dim % 64;
    return r == 0 ? ~uint64_t{0} : (uint64_t{1} << r) - 1;
}

// The block weights (4 per group for int8; lo0 hi0 lo1 hi1 ... for int4) quantized to integers
// in the kernels' order (int4: the four low-nibble weights of a group, then the four high-nibble
// ones). The bound keeps code_max * sum |q| < 2^31, so every kernel's integer sum is exact.
void quantize_weights(CodecId id, std::size_t groups, const std::vector<float> &block_w,
                      std::vector<int16_t> *qint, float *qscale) {
    const double code_max = id == CodecId::int8 ? 255.0 : 15.0;
    const double weights = static_cast<double>(block_w.size());
    const double fit = std::floor((0x1p31 - 1) / (code_max * std::max(1.0, weights)));
    const double most =
        id == CodecId::int8 ? kernels::kMaxQueryWeight : kernels::kMaxInt4QueryWeight;
    const float limit = static_cast<float>(std::min<double>(most, fit));
    float max_abs = 0.0f;
    for (float x : block_w) {
        max_abs = std::max(max_abs, std::fabs(x));
    }
    *qscale = max_abs > 0.0f ? max_abs / limit : 0.0f;
    const float inv = max_abs > 0.0f ? limit / max_abs : 0.0f;
    const long lim = static_cast<long>(limit);
    auto q = [&](float x) {
        const long r = std::lround(x * inv);
        return static_cast<int16_t>(std::min(lim, std::max(-lim, r)));
    };
    const std::size_t per_group = id == CodecId::int8 ? 4 : 8;
    qint->assign(groups * per_group, 0);
    for (std::size_t g = 0; g < groups; ++g) {
        if (id == CodecId::int8) {
            for (std::size_t k = 0; k < 4; ++k) {
                (*qint)[4 * g + k] = q(block_w[4 * g + k]);
            }
        } else {
            for (std::size_t k = 0; k < 4; ++k) {
                (*qint)[8 * g + k] = q(block_w[8 * g + 2 * k]);
                (*qint)[8 * g + 4 + k] = q(block_w[8 * g + 2 * k + 1]);
            }
        }
    }
}

// --- rabitq ---------------------------------------------------------------------------------------

// The quantized query's offset: q_i ~ qscale * (u_i - query_half(bits)).
float query_half(uint32_t bits) { return static_cast<float>((1u << bits) - 1) / 2.0f; }

std::size_t plane_groups(std::size_t dim) { return (dim + 31) / 32; }
std::size_t code_planes(CodecId id) { return id == CodecId::rabitq ? 1 : 2; }

uint32_t bit_of(const uint8_t *plane, std::size_t i) { return (plane[i / 8] >> (i % 8)) & 1u; }

// The query's levels u_i (round to nearest on the symmetric grid) as pq->query_bits bit planes.
void quantize_rabitq_query(const float *q, std::size_t dim, PreparedQuery *pq) {
    const uint32_t bits = pq->query_bits;
    const float half = query_half(bits);
    const float top = static_cast<float>((1u << bits) - 1);
    float max_abs = 0.0f;
    for (std::size_t i = 0; i < dim; ++i) {
        max_abs = std::max(max_abs, std::fabs(q[i]));
    }
    pq->qscale = max_abs > 0.0f ? max_abs / half : 0.0f;
    const float inv = max_abs > 0.0f ? half / max_abs : 0.0f;
    const std::size_t groups = plane_groups(dim);
    pq->bits32.assign(bits * groups, 0);
    for (std::size_t i = 0; i < dim; ++i) {
        const float t = std::floor(q[i] * inv + half + 0.5f);
        const uint32_t u = static_cast<uint32_t>(std::min(top, std::max(0.0f, t)));
        for (uint32_t j = 0; j < bits; ++j) {
            if ((u >> j) & 1u) {
                pq->bits32[j * groups + i / 32] |= 1u << (i % 32);
            }
        }
    }
}

// sum_j 2^j popcount(query plane j ^ code plane) for every slot: the code plane starts at group
// `first` of the block.
void weighted_hamming(const PreparedQuery &pq, const kernels::KernelTable &kt, const uint8_t *block,
                      std::size_t first, std::size_t groups, uint32_t *acc) {
    alignas(64) uint32_t ham[kernels::kBlockVectors];
    const uint8_t *plane = block + first * kernels::kBlockVectors * kernels::kGroupBytes;
    for (std::size_t v = 0; v < kernels::kBlockVectors; ++v) {
        acc[v] = 0;
    }
    for (uint32_t j = 0; j < pq.query_bits; ++j) {
        kt.hamming_block(pq.bits32.data() + j * groups, plane, groups, ham, nullptr);
        for (std::size_t v = 0; v < kernels::kBlockVectors; ++v) {
            acc[v] += ham[v] << j;
        }
    }
}

}  // namespace

PreparedQuery prepare_query(const CodecParams &p, const float *q) {
    PreparedQuery pq;
    pq.id = p.id;
    pq.dim = p.dim;
    const std::size_t dim = p.dim;
    switch (p.id) {
    case CodecId::f32:
    case CodecId::f16:
    case CodecId::bf16:
        pq.w.assign(q, q + dim);
        break;
    case CodecId::e4m3:
    case CodecId::e5m2:
        // The scale is applied once per score, not once per element; decoding a byte through a
        // table is one load instead of the bit manipulation (3-6x faster scans measured on glove).
        pq.w.assign(q, q + dim);
        pq.scale = p.scale;
        pq.lut.resize(256);
        for (unsigned b = 0; b < 256; ++b) {
            pq.lut[b] = p.id == CodecId::e4m3 ? fast_e4m3_to_f32(static_cast<uint8_t>(b))
                                              : fast_e5m2_to_f32(static_cast<uint8_t>(b));
        }
        break;
    case CodecId::int8:
    case CodecId::int4:
    case CodecId::binary: {
        // q.(offset + step*c) = q.offset + (q*step).c
        double base = 0.0;
        pq.w.resize(dim);
        for (std::size_t i = 0; i < dim; ++i) {
            base += static_cast<double>(q[i]) * p.offset[i];
            pq.w[i] = q[i] * p.step[i];
        }
        pq.base = static_cast<float>(base);
        if (p.id == CodecId::int4) {
            const std::size_t bytes = code_bytes(p.id, dim);
            pq.w_lo.assign(bytes, 0.0f);
            pq.w_hi.assign(bytes, 0.0f);
            for (std::size_t i = 0; i < dim; ++i) {
                (i % 2 == 0 ? pq.w_lo : pq.w_hi)[i / 2] = pq.w[i];
            }
        }
        if (p.id == CodecId::binary) {
            pq.bits.assign((dim + 63) / 64, 0);
            for (std::size_t i = 0; i < dim; ++i) {
                if (q[i] > p.threshold[i]) {
                    pq.bits[i / 64] |= uint64_t{1} << (i % 64);
                }
            }
        }
        break;
    }
    case CodecId::rabitq:
    case CodecId::rabitq2:
        pq.w.assign(q, q + dim);
        pq.scale = p.scale;
        pq.query_bits = rabitq_query_bits(p.id);
        quantize_rabitq_query(q, dim, &pq);
        return pq;  // no block_w: the block scan runs on the query's bit planes
    }
    // The weights dot_block applies to each 4-byte group of a code, padded with zeros to whole
    // groups (the codes' padding bytes are zero too): computed once per query, not per block.
    const std::size_t groups = (code_bytes(p.id, dim) + 3) / 4;
    pq.block_w.assign(groups * 8, 0.0f);
    switch (p.id) {
    case CodecId::f32:
        for (std::size_t g = 0; g < groups; ++g) {
            pq.block_w[g] = weight(pq.w, g);
        }
        break;
    case CodecId::f16:
    case CodecId::bf16:
        for (std::size_t i = 0; i < 2 * groups; ++i) {
            pq.block_w[i] = weight(pq.w, i);
        }
        break;
    case CodecId::e4m3:
    case CodecId::e5m2:
    case CodecId::int8:
        for (std::size_t i = 0; i < 4 * groups; ++i) {
            pq.block_w[i] = weight(pq.w, i);
        }
        break;
    case CodecId::int4:
        for (std::size_t b = 0; b < 4 * groups; ++b) {
            pq.block_w[2 * b] = weight(pq.w_lo, b);
            pq.block_w[2 * b + 1] = weight(pq.w_hi, b);
        }
        break;
    case CodecId::binary:
        pq.bits32.assign(groups, 0);
        for (std::size_t g = 0; g < groups; ++g) {
            pq.bits32[g] = static_cast<uint32_t>(pq.bits[g / 2] >> (32 * (g % 2)));
        }
        break;
    case CodecId::rabitq:
    case CodecId::rabitq2:
        break;
    }
    if (p.id == CodecId::int8 || p.id == CodecId::int4) {
        quantize_weights(p.id, groups, pq.block_w, &pq.qint, &pq.qscale);
    }
    return pq;
}

void dot_rows(const PreparedQuery &pq, const uint8_t *codes, std::size_t n, float *out) {
    const std::size_t dim = pq.dim;
    const std::size_t stride = code_bytes(pq.id, dim);
    const float *w = pq.w.data();
    for (std::size_t j = 0; j < n; ++j) {
        const uint8_t *c = codes + j * stride;
        float s = 0.0f;
        switch (pq.id) {
        case CodecId::f32:
            s = lane_sum(dim, [&](std::size_t i) { return w[i] * load_f32(c + 4 * i); });
            break;
        case CodecId::f16: {
            const float *t = kernels::portable::f16_table();
            s = lane_sum(dim, [&](std::size_t i) { return w[i] * t[load_u16le(c + 2 * i)]; });
            break;
        }
        case CodecId::bf16:
            s = lane_sum(dim,
                         [&](std::size_t i) { return w[i] * fast_bf16_to_f32(load_u16le(c + 2 * i)); });
            break;
        case CodecId::e4m3:
        case CodecId::e5m2: {
            const float *lut = pq.lut.data();
            s = pq.scale * lane_sum(dim, [&](std::size_t i) { return w[i] * lut[c[i]]; });
            break;
        }
        case CodecId::int8:
            s = pq.base + lane_sum(dim, [&](std::size_t i) { return w[i] * static_cast<float>(c[i]); });
            break;
        case CodecId::int4: {
            const float *lo = pq.w_lo.data();
            const float *hi = pq.w_hi.data();
            s = pq.base + lane_sum(stride, [&](std::size_t b) {
                    return lo[b] * static_cast<float>(c[b] & 0xfu) +
                           hi[b] * static_cast<float>(c[b] >> 4);
                });
            break;
        }
        case CodecId::binary:
            s = static_cast<float>(dim) -
                2.0f * static_cast<float>(
                           hamming_row(pq.bits.data(), c, stride, last_word_mask(dim)));
            break;
        case CodecId::rabitq:
        case CodecId::rabitq2: {
            const std::size_t pb = 4 * plane_groups(dim);
            float ip;
            if (pq.id == CodecId::rabitq) {
                ip = lane_sum(dim, [&](std::size_t i) {
                    return w[i] * (static_cast<float>(bit_of(c, i)) - 0.5f);
                });
            } else {
                ip = lane_sum(dim, [&](std::size_t i) {
                    return w[i] * (static_cast<float>(2 * bit_of(c, i) + bit_of(c + pb, i)) - 1.5f);
                });
            }
            const uint8_t *f = c + code_planes(pq.id) * pb;
            const float alpha = fast_f16_to_f32(load_u16le(f)) * pq.scale;
            const float norm = fast_f16_to_f32(load_u16le(f + 2)) * pq.scale;
            s = alpha * ip + pq.norm2_weight * norm * norm;
            break;
        }
        }
        out[j] = s;
    }
}

void dot_block(const PreparedQuery &pq, const uint8_t *block, float *out) {
    dot_block(pq, block, out, kernels::active());
}

SumKind sum_kind(CodecId id) {
    switch (id) {
    case CodecId::int8:
    case CodecId::int4: return SumKind::int32;
    case CodecId::binary: return SumKind::hamming;
    case CodecId::rabitq:
    case CodecId::rabitq2: return SumKind::none;
    default: return SumKind::float32;
    }
}

void block_sums(const PreparedQuery &pq, const uint8_t *block, BlockSums *out,
                const kernels::KernelTable &kt, const uint8_t *next) {
    const std::size_t groups = (code_bytes(pq.id, pq.dim) + 3) / 4;
    const float *w = pq.block_w.data();  // per-group weights, padded (prepare_query)
    switch (pq.id) {
    case CodecId::f32:
        kt.dot_f32_block(w, reinterpret_cast<const float *>(block), groups, out->f,
                         reinterpret_cast<const float *>(next));
        break;
    case CodecId::f16: kt.dot_f16_block(w, block, groups, out->f, next); break;
    case CodecId::bf16: kt.dot_bf16_block(w, block, groups, out->f, next); break;
    case CodecId::e4m3: kt.dot_e4m3_block(w, block, groups, out->f, next); break;
    case CodecId::e5m2: kt.dot_e5m2_block(w, block, groups, out->f, next); break;
    case CodecId::int8: kt.dot_u8_block(pq.qint.data(), block, groups, out->i, next); break;
    case CodecId::int4: kt.dot_u4_block(pq.qint.data(), block, groups, out->i, next); break;
    case CodecId::binary: kt.hamming_block(pq.bits32.data(), block, groups, out->u, next); break;
    case CodecId::rabitq:
    case CodecId::rabitq2: std::abort();  // SumKind::none: the caller checks sum_kind
    }
}

void dot_block(const PreparedQuery &pq, const uint8_t *block, float *out,
               const kernels::KernelTable &kt, const uint8_t *next) {
    constexpr std::size_t kSlots = kernels::kBlockVectors;
    BlockSums sums;
    switch (sum_kind(pq.id)) {
    case SumKind::int32:
        block_sums(pq, block, &sums, kt, next);
        for (std::size_t v = 0; v < kSlots; ++v) {
            out[v] = int32_value(pq, sums.i[v]);
        }
        return;
    case SumKind::hamming:
        block_sums(pq, block, &sums, kt, next);
        for (std::size_t v = 0; v < kSlots; ++v) {
            out[v] = hamming_value(pq, sums.u[v]);
        }
        return;
    case SumKind::float32:
        block_sums(pq, block, &sums, kt, next);
        for (std::size_t v = 0; v < kSlots; ++v) {
            out[v] = float32_value(pq, sums.f[v]);
        }
        return;
    case SumKind::none: {  // rabitq, rabitq2
        // With q_i = qscale (u_i - h), h = (2^bits - 1) / 2, and a code plane b (0/1 per
        // coordinate), H = sum_j 2^j popcount(plane_j ^ b) = sum_i (b_i ? 2h - u_i : u_i), so
        // sum_i (b_i - 1/2) q_i = qscale (h dim - H) / 2 exactly: the tail past dim has
        // u_i = b_i = 0 and adds nothing to H. rabitq: xb = b - 1/2; rabitq2: xb = 2 h + l - 3/2
        // = 2 (h - 1/2) + (l - 1/2).
        const std::size_t pg = plane_groups(pq.dim);
        const float hd = query_half(pq.query_bits) * static_cast<float>(pq.dim);
        uint32_t *hi = sums.u;
        weighted_hamming(pq, kt, block, 0, pg, hi);
        const std::size_t planes = code_planes(pq.id);
        alignas(64) uint32_t lo[kSlots];
        if (planes == 2) {
            weighted_hamming(pq, kt, block, pg, pg, lo);
        }
        const uint8_t *factors = block + planes * pg * kSlots * kernels::kGroupBytes;
        const float half = 0.5f * pq.qscale;
        for (std::size_t v = 0; v < kSlots; ++v) {
            const uint8_t *f = factors + v * kernels::kGroupBytes;
            const float alpha = fast_f16_to_f32(load_u16le(f)) * pq.scale;
            const float norm = fast_f16_to_f32(load_u16le(f + 2)) * pq.scale;
            float ip = half * (hd - static_cast<float>(hi[v]));
            if (planes == 2) {
                ip = 2.0f * ip + half * (hd - static_cast<float>(lo[v]));
            }
            out[v] = alpha * ip + pq.norm2_weight * norm * norm;
        }
        return;
    }
    }
}

void dot_rows_scalar(const PreparedQuery &pq, const uint8_t *codes, std::size_t n, float *out) {
    const std::size_t dim = pq.dim;
    const std::size_t stride = code_bytes(pq.id, dim);
    for (std::size_t j = 0; j < n; ++j) {
        const uint8_t *c = codes + j * stride;
        double s = 0.0;
        if (pq.id == CodecId::binary) {
            uint32_t h = 0;
            for (std::size_t i = 0; i < dim; ++i) {
                const uint32_t qb = static_cast<uint32_t>(pq.bits[i / 64] >> (i % 64)) & 1u;
                h += qb ^ ((c[i / 8] >> (i % 8)) & 1u);
            }
            out[j] = static_cast<float>(dim) - 2.0f * static_cast<float>(h);
            continue;
        }
        if (is_rabitq(pq.id)) {
            const std::size_t pb = 4 * plane_groups(dim);
            for (std::size_t i = 0; i < dim; ++i) {
                const double level =
                    pq.id == CodecId::rabitq
                        ? bit_of(c, i) - 0.5
                        : 2.0 * bit_of(c, i) + bit_of(c + pb, i) - 1.5;
                s += static_cast<double>(pq.w[i]) * level;
            }
            const uint8_t *f = c + code_planes(pq.id) * pb;
            const double alpha = static_cast<double>(f16_to_f32(load_u16le(f))) * pq.scale;
            const double norm = static_cast<double>(f16_to_f32(load_u16le(f + 2))) * pq.scale;
            out[j] = static_cast<float>(alpha * s + pq.norm2_weight * norm * norm);
            continue;
        }
        for (std::size_t i = 0; i < dim; ++i) {
            float x = 0.0f;
            switch (pq.id) {
            case CodecId::f32: x = load_f32(c + 4 * i); break;
            case CodecId::f16: x = f16_to_f32(load_u16le(c + 2 * i)); break;
            case CodecId::bf16: x = bf16_to_f32(load_u16le(c + 2 * i)); break;
            case CodecId::e4m3: x = e4m3_to_f32(c[i]); break;
            case CodecId::e5m2: x = e5m2_to_f32(c[i]); break;
            case CodecId::int8: x = c[i]; break;
            case CodecId::int4: x = static_cast<float>((c[i / 2] >> (4 * (i & 1))) & 0xfu); break;
            case CodecId::binary: break;
            case CodecId::rabitq: break;
            case CodecId::rabitq2: break;
            }
            s += static_cast<double>(pq.w[i]) * x;
        }
        out[j] = static_cast<float>(static_cast<double>(pq.base) + s * pq.scale);
    }
}

float decoded_norm2(const CodecParams &p, const uint8_t *code) {
    if (is_rabitq(p.id)) {
        const float norm = rabitq_factors(p, code).norm;
        return norm * norm;
    }
    // One element at a time through the reference decoders; this runs once per inserted vector.
    double s = 0.0;
    for (std::size_t i = 0; i < p.dim; ++i) {
        float x = 0.0f;
        switch (p.id) {
        case CodecId::f32: x = load_f32(code + 4 * i); break;
        case CodecId::f16: x = f16_to_f32(load_u16le(code + 2 * i)); break;
        case CodecId::bf16: x = bf16_to_f32(load_u16le(code + 2 * i)); break;
        case CodecId::e4m3: x = e4m3_to_f32(code[i]) * p.scale; break;
        case CodecId::e5m2: x = e5m2_to_f32(code[i]) * p.scale; break;
        case CodecId::int8: x = p.offset[i] + p.step[i] * static_cast<float>(code[i]); break;
        case CodecId::int4:
            x = p.offset[i] + p.step[i] * static_cast<float>((code[i / 2] >> (4 * (i & 1))) & 0xfu);
            break;
        case CodecId::binary:
            x = p.offset[i] + p.step[i] * static_cast<float>((code[i / 8] >> (i % 8)) & 1u);
            break;
        case CodecId::rabitq:
        case CodecId::rabitq2:
            break;  // returned above
        }
        s += static_cast<double>(x) * x;
    }
    return static_cast<float>(s);
}

QueryRounding query_rounding(const PreparedQuery &pq) {
    QueryRounding r;
    if (pq.id != CodecId::int8 && pq.id != CodecId::int4) {
        return r;
    }
    // block_w[j] goes with qint[order(j)], as quantize_weights placed it.
    const bool int8 = pq.id == CodecId::int8;
    const double code_max = int8 ? 255.0 : 15.0;
    const std::size_t per_group = int8 ? 4 : 8;
    const std::size_t groups = pq.qint.size() / per_group;
    for (std::size_t g = 0; g < groups; ++g) {
        for (std::size_t j = 0; j < per_group; ++j) {
            const std::size_t at = int8 ? 4 * g + j : 8 * g + (j % 2 == 0 ? j / 2 : 4 + j / 2);
            const double w = pq.block_w[per_group * g + j];
            r.rounding += std::fabs(w - double(pq.qscale) * pq.qint[at]);
            r.magnitude += std::fabs(w);
        }
    }
    r.rounding *= code_max;
    r.magnitude *= code_max;
    return r;
}

}  // namespace pocketvec::codec
