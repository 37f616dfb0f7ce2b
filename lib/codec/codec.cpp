#include "codec/codec.h"

#include "common/le_bytes.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "common/float_bits.h"
#include "codec/minifloat.h"

// f32/f16/bf16 codes are copied in host byte order; the file format says little-endian.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "pocketvec codecs assume a little-endian target"
#endif

namespace pocketvec::codec {

namespace {

constexpr const char *kNames[kCodecCount] = {"f32",  "f16",  "bf16",   "e4m3",   "e5m2",
                                             "int8", "int4", "binary", "rabitq", "rabitq2"};
constexpr uint32_t kBits[kCodecCount] = {32, 16, 16, 8, 8, 8, 4, 1, 1, 2};

constexpr uint8_t kParamsMagic[4] = {'P', 'V', 'C', 'D'};
// Version 2 is version 1's layout for the codecs added with it (rabitq, rabitq2): a library that
// predates them refuses the blob as newer instead of as damaged.
constexpr uint32_t kParamsVersion = 2;
constexpr uint32_t kFirstCodecOfVersion2 = static_cast<uint32_t>(CodecId::rabitq);
constexpr float kE4m3Max = 448.0f;
constexpr float kE5m2Max = 57344.0f;
// The sample's max |x| maps to max finite / kFp8Headroom (see train() in codec.h).
constexpr float kFp8Headroom = 2.0f;
// Fractions of a dimension's sample kept inside the clip range tried by int8/int4 training.
constexpr double kClipFractions[] = {1.0, 0.9999, 0.999, 0.995, 0.99, 0.98, 0.95, 0.9};

bool is_fp8(CodecId id) { return id == CodecId::e4m3 || id == CodecId::e5m2; }
bool is_affine(CodecId id) { return id == CodecId::int8 || id == CodecId::int4; }
uint32_t levels_of(CodecId id) { return id == CodecId::int8 ? 256u : 16u; }

// --- little-endian byte I/O -------------------------------------------------------------------

void put_array(std::vector<uint8_t> *out, const std::vector<float> &a) {
    put_u32(out, static_cast<uint32_t>(a.size()));
    for (float f : a) {
        put_f32(out, f);
    }
}

class Reader {
public:
    Reader(const uint8_t *data, std::size_t size) : p_(data), left_(size) {}

    bool u32(uint32_t *v) {
        if (left_ < 4) {
            return false;
        }
        *v = get_u32(p_);
        p_ += 4;
        left_ -= 4;
        return true;
    }
    bool f32(float *f) {
        uint32_t u;
        if (!u32(&u)) {
            return false;
        }
        std::memcpy(f, &u, sizeof u);
        return true;
    }
    // A counted array; the count is checked against the bytes left before anything is allocated,
    // so a garbled count cannot ask for gigabytes.
    bool array(std::vector<float> *a) {
        uint32_t count;
        if (!u32(&count) || count > left_ / 4) {
            return false;
        }
        a->resize(count);
        for (float &f : *a) {
            f32(&f);
        }
        return true;
    }
    bool bytes(uint8_t *dst, std::size_t n) {
        if (left_ < n) {
            return false;
        }
        std::memcpy(dst, p_, n);
        p_ += n;
        left_ -= n;
        return true;
    }
    std::size_t left() const { return left_; }

private:
    const uint8_t *p_;
    std::size_t left_;
};

bool all_finite(const std::vector<float> &a) {
    return std::all_of(a.begin(), a.end(), [](float f) { return std::isfinite(f); });
}

// --- training ---------------------------------------------------------------------------------

// Level of x in [0, levels - 1]; NaN gives 0.
inline uint32_t quantize(float x, float offset, float inv_step, uint32_t levels) {
    float v = std::floor((x - offset) * inv_step + 0.5f);
    if (!(v >= 0.0f)) {
        return 0;
    }
    const float top = static_cast<float>(levels - 1);
    return static_cast<uint32_t>(v > top ? top : v);
}

inline float inverse_step(float step) { return step > 0.0f ? 1.0f / step : 0.0f; }

// Squared reconstruction error of `values` for one candidate range.
double range_error(const std::vector<float> &values, float lo, float step, uint32_t levels) {
    const float inv = inverse_step(step);
    double err = 0.0;
    for (float x : values) {
        const float r = lo + step * static_cast<float>(quantize(x, lo, inv, levels));
        const double d = static_cast<double>(x) - r;
        err += d * d;
    }
    return err;
}

void train_affine(CodecId id, const float *sample, std::size_t n, std::size_t dim,
                  CodecParams *p) {
    const uint32_t levels = levels_of(id);
    p->offset.assign(dim, 0.0f);
    p->step.assign(dim, 0.0f);
    std::vector<float> values(n);
    std::vector<float> sorted(n);
    for (std::size_t i = 0; i < dim; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
            values[j] = sample[j * dim + i];
        }
        sorted = values;
        std::sort(sorted.begin(), sorted.end());
        double best_err = std::numeric_limits<double>::infinity();
        for (double keep : kClipFractions) {
            const double tail = (1.0 - keep) / 2.0 * static_cast<double>(n - 1);
            const auto lo_i = static_cast<std::size_t>(std::floor(tail));
            const auto hi_i = static_cast<std::size_t>(std::ceil(static_cast<double>(n - 1) - tail));
            const float lo = sorted[lo_i];
            const float hi = sorted[std::min(hi_i, n - 1)];
            const float step = hi > lo ? (hi - lo) / static_cast<float>(levels - 1) : 0.0f;
            const double err = range_error(values, lo, step, levels);
            if (err < best_err) {
                best_err = err;
                p->offset[i] = lo;
                p->step[i] = step;
            }
            if (hi_i - lo_i < 1) {
                break;  // narrower ranges would be the same single value
            }
        }
    }
}

void train_binary(const float *sample, std::size_t n, std::size_t dim, CodecParams *p) {
    p->threshold.assign(dim, 0.0f);
    p->offset.assign(dim, 0.0f);
    p->step.assign(dim, 0.0f);
    for (std::size_t i = 0; i < dim; ++i) {
        double sum = 0.0;
        for (std::size_t j = 0; j < n; ++j) {
            sum += sample[j * dim + i];
        }
        const float t = static_cast<float>(sum / static_cast<double>(n));
        double sum_lo = 0.0, sum_hi = 0.0;
        std::size_t n_hi = 0;
        for (std::size_t j = 0; j < n; ++j) {
            const float x = sample[j * dim + i];
            if (x > t) {
                sum_hi += x;
                ++n_hi;
            } else {
                sum_lo += x;
            }
        }
        const std::size_t n_lo = n - n_hi;
        const double lo = n_lo ? sum_lo / static_cast<double>(n_lo) : t;
        const double hi = n_hi ? sum_hi / static_cast<double>(n_hi) : t;
        p->threshold[i] = t;
        p->offset[i] = static_cast<float>(lo);
        p->step[i] = static_cast<float>(std::max(0.0, hi - lo));
    }
}

// Float codecs saturate finite input instead of overflowing to Inf (codec.h).
uint16_t encode_f16(float x) {
    const uint16_t h = f32_to_f16(x);
    if ((h & 0x7fffu) == 0x7c00u && std::isfinite(x)) {
        return static_cast<uint16_t>((h & 0x8000u) | 0x7bffu);
    }
    return h;
}

uint16_t encode_bf16(float x) {
    const uint16_t h = f32_to_bf16(x);
    if ((h & 0x7fffu) == 0x7f80u && std::isfinite(x)) {
        return static_cast<uint16_t>((h & 0x8000u) | 0x7f7fu);
    }
    return h;
}

void store_u16le(uint8_t *p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v);
    p[1] = static_cast<uint8_t>(v >> 8);
}

bool is_power_of_two(float f) {
    int e;
    return std::frexp(f, &e) == 0.5f;
}

// --- rabitq -----------------------------------------------------------------------------------

// Bytes of one bit plane of a rabitq code: whole 4-byte groups, so the factors have their own.
std::size_t plane_bytes(std::size_t dim) { return 4 * ((dim + 31) / 32); }

void set_bit(uint8_t *plane, std::size_t i) {
    plane[i / 8] = static_cast<uint8_t>(plane[i / 8] | (1u << (i % 8)));
}

uint32_t get_bit(const uint8_t *plane, std::size_t i) { return (plane[i / 8] >> (i % 8)) & 1u; }

// The level xb_i of coordinate i (codec.h): s - 1/2 (rabitq) or 2h + l - 3/2 (rabitq2).
float rabitq_level(CodecId id, const uint8_t *code, std::size_t dim, std::size_t i) {
    if (id == CodecId::rabitq) {
        return static_cast<float>(get_bit(code, i)) - 0.5f;
    }
    const std::size_t pb = plane_bytes(dim);
    return static_cast<float>(2 * get_bit(code, i) + get_bit(code + pb, i)) - 1.5f;
}

void encode_rabitq(const CodecParams &p, const float *x, uint8_t *code) {
    const std::size_t dim = p.dim;
    const std::size_t pb = plane_bytes(dim);
    const std::size_t planes = p.id == CodecId::rabitq ? 1 : 2;
    std::memset(code, 0, planes * pb + 4);
    // Non-finite input (which callers reject) counts as 0, so that sorting stays well defined.
    auto value = [&](std::size_t i) { return std::isfinite(x[i]) ? x[i] : 0.0f; };
    double norm2 = 0.0, l1 = 0.0;
    for (std::size_t i = 0; i < dim; ++i) {
        const double v = value(i);
        norm2 += v * v;
        l1 += std::fabs(v);
        if (v > 0) {
            set_bit(code, i);  // the sign plane
        }
    }
    double ip = 0.5 * l1;  // xb . x with every |xb_i| = 1/2
    if (p.id == CodecId::rabitq2) {
        // |xb_i| is 3/2 for the k largest |x_i| and 1/2 for the rest; cos(xb, x) is
        // (l1 / 2 + top_k) / (|x| sqrt(dim / 4 + 2k)), maximised over k (the smallest k of ties).
        std::vector<uint32_t> order(dim);
        for (std::size_t i = 0; i < dim; ++i) {
            order[i] = static_cast<uint32_t>(i);
        }
        std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
            const float fa = std::fabs(value(a)), fb = std::fabs(value(b));
            return fa > fb || (fa == fb && a < b);
        });
        double best = ip * ip / (0.25 * static_cast<double>(dim));
        std::size_t best_k = 0;
        double top = 0.0;
        for (std::size_t k = 1; k <= dim; ++k) {
            top += std::fabs(static_cast<double>(value(order[k - 1])));
            const double num = 0.5 * l1 + top;
            const double c2 = num * num / (0.25 * static_cast<double>(dim) + 2.0 * static_cast<double>(k));
            if (c2 > best) {
                best = c2;
                best_k = k;
            }
        }
        // Low bit: 1 for an outer positive (c = 3) and an inner non-positive (c = 1) coordinate.
        std::vector<uint8_t> outer(dim, 0);
        for (std::size_t k = 0; k < best_k; ++k) {
            outer[order[k]] = 1;
        }
        double top_k = 0.0;
        for (std::size_t i = 0; i < dim; ++i) {
            const bool pos = value(i) > 0;
            if (outer[i]) {
                top_k += std::fabs(static_cast<double>(value(i)));
            }
            if (pos == (outer[i] != 0)) {
                set_bit(code + pb, i);
            }
        }
        ip = 0.5 * l1 + top_k;
    }
    const double alpha = ip > 0 ? norm2 / ip : 0.0;
    uint8_t *factors = code + planes * pb;
    store_u16le(factors, encode_f16(static_cast<float>(alpha / p.scale)));
    store_u16le(factors + 2, encode_f16(static_cast<float>(std::sqrt(norm2) / p.scale)));
}

void decode_rabitq(const CodecParams &p, const uint8_t *code, float *x) {
    const std::size_t dim = p.dim;
    RabitqFactors f = rabitq_factors(p, code);
    double xb2 = 0.0;
    for (std::size_t i = 0; i < dim; ++i) {
        const double l = rabitq_level(p.id, code, dim, i);
        xb2 += l * l;
    }
    // xb . x = |x|^2 / alpha; the point of xb's line nearest x is (xb . x / |xb|^2) xb.
    const double t = f.alpha > 0 && xb2 > 0
                         ? static_cast<double>(f.norm) * f.norm / f.alpha / xb2
                         : 0.0;
    for (std::size_t i = 0; i < dim; ++i) {
        x[i] = static_cast<float>(t * rabitq_level(p.id, code, dim, i));
    }
}

}  // namespace

RabitqFactors rabitq_factors(const CodecParams &p, const uint8_t *code) {
    const std::size_t planes = p.id == CodecId::rabitq ? 1 : 2;
    const uint8_t *f = code + planes * plane_bytes(p.dim);
    return RabitqFactors{f16_to_f32(load_u16le(f)) * p.scale,
                         f16_to_f32(load_u16le(f + 2)) * p.scale};
}

bool codec_from_name(std::string_view name, CodecId *out) {
    for (uint32_t i = 0; i < kCodecCount; ++i) {
        if (name == kNames[i]) {
            *out = static_cast<CodecId>(i);
            return true;
        }
    }
    return false;
}

const char *codec_name(CodecId id) {
    const auto i = static_cast<uint32_t>(id);
    return i < kCodecCount ? kNames[i] : "?";
}

bool codec_from_code(uint32_t code, CodecId *out) {
    if (code >= kCodecCount) {
        return false;
    }
    *out = static_cast<CodecId>(code);
    return true;
}

uint32_t codec_bits(CodecId id) {
    const auto i = static_cast<uint32_t>(id);
    return i < kCodecCount ? kBits[i] : 0;
}

std::size_t code_bytes(CodecId id, std::size_t dim) {
    if (is_rabitq(id)) {
        return plane_bytes(dim) * codec_bits(id) + 4;
    }
    return (dim * codec_bits(id) + 7) / 8;
}

bool codec_needs_training(CodecId id) {
    return is_fp8(id) || is_affine(id) || id == CodecId::binary || is_rabitq(id);
}

bool is_rabitq(CodecId id) { return id == CodecId::rabitq || id == CodecId::rabitq2; }

uint32_t rabitq_query_bits(CodecId id) { return id == CodecId::rabitq2 ? 6 : 4; }

std::vector<uint8_t> CodecParams::serialize() const {
    std::vector<uint8_t> out(kParamsMagic, kParamsMagic + 4);
    put_u32(&out, static_cast<uint32_t>(id) >= kFirstCodecOfVersion2 ? 2u : 1u);
    put_u32(&out, static_cast<uint32_t>(id));
    put_u32(&out, dim);
    put_f32(&out, scale);
    put_array(&out, offset);
    put_array(&out, step);
    put_array(&out, threshold);
    return out;
}

Status CodecParams::deserialize(const uint8_t *data, std::size_t size, CodecParams *out) {
    PVEC_RETURN_IF(data == nullptr && size != 0, PVEC_MISUSE, "codec parameters: NULL data");
    Reader r(data, size);
    uint8_t magic[4];
    PVEC_RETURN_IF(!r.bytes(magic, 4) || std::memcmp(magic, kParamsMagic, 4) != 0, PVEC_CORRUPT,
                   "codec parameters: bad magic");
    uint32_t version = 0, id = 0;
    CodecParams p;
    PVEC_RETURN_IF(!r.u32(&version), PVEC_CORRUPT, "codec parameters: truncated");
    PVEC_RETURN_IF(version == 0, PVEC_CORRUPT, "codec parameters: bad version");
    PVEC_RETURN_IF(version > kParamsVersion, PVEC_FORMAT,
                   "codec parameters: written by a newer pocketvec");
    PVEC_RETURN_IF(!r.u32(&id) || !r.u32(&p.dim) || !r.f32(&p.scale) || !r.array(&p.offset) ||
                       !r.array(&p.step) || !r.array(&p.threshold),
                   PVEC_CORRUPT, "codec parameters: truncated");
    PVEC_RETURN_IF(r.left() != 0, PVEC_CORRUPT, "codec parameters: trailing bytes");
    PVEC_RETURN_IF(!codec_from_code(id, &p.id), PVEC_CORRUPT, "codec parameters: unknown codec");
    PVEC_RETURN_IF(version == 1 && id >= kFirstCodecOfVersion2, PVEC_CORRUPT,
                   "codec parameters: a version 1 blob names a codec of version 2");
    // Each codec has one blob version (serialize writes it), so a blob reads back as written.
    PVEC_RETURN_IF(version == 2 && id < kFirstCodecOfVersion2, PVEC_CORRUPT,
                   "codec parameters: a version 2 blob names a codec of version 1");
    PVEC_FORWARD_IF_ERROR(validate(p));
    *out = std::move(p);
    return Status::ok();
}

Status validate(const CodecParams &p) {
    PVEC_RETURN_IF(static_cast<uint32_t>(p.id) >= kCodecCount, PVEC_CORRUPT,
                   "codec parameters: unknown codec");
    PVEC_RETURN_IF(p.dim == 0, PVEC_CORRUPT, "codec parameters: dim is 0");
    PVEC_RETURN_IF(!std::isfinite(p.scale) || !(p.scale > 0.0f), PVEC_CORRUPT,
                   "codec parameters: scale must be finite and > 0");
    PVEC_RETURN_IF(!is_fp8(p.id) && !is_rabitq(p.id) && p.scale != 1.0f, PVEC_CORRUPT,
                   "codec parameters: scale is used by fp8 and rabitq only and must be 1 otherwise");
    PVEC_RETURN_IF(is_rabitq(p.id) && !is_power_of_two(p.scale), PVEC_CORRUPT,
                   "codec parameters: the rabitq scale must be a power of two");
    const bool affine = is_affine(p.id) || p.id == CodecId::binary;
    const std::size_t want = affine ? p.dim : 0;
    const std::size_t want_threshold = p.id == CodecId::binary ? p.dim : 0;
    PVEC_RETURN_IF(p.offset.size() != want || p.step.size() != want ||
                       p.threshold.size() != want_threshold,
                   PVEC_CORRUPT, "codec parameters: array sizes do not match the codec and dim");
    PVEC_RETURN_IF(!all_finite(p.offset) || !all_finite(p.step) || !all_finite(p.threshold),
                   PVEC_CORRUPT, "codec parameters: non-finite value");
    PVEC_RETURN_IF(std::any_of(p.step.begin(), p.step.end(), [](float s) { return s < 0.0f; }),
                   PVEC_CORRUPT, "codec parameters: negative step");
    return Status::ok();
}

Status train(CodecId id, const float *sample, std::size_t n, std::size_t dim, CodecParams *out) {
    PVEC_RETURN_IF(static_cast<uint32_t>(id) >= kCodecCount, PVEC_INVALID, "unknown codec");
    PVEC_RETURN_IF(dim == 0 || dim > 0xffffffffu, PVEC_RANGE, "train: dim out of range");
    PVEC_RETURN_IF(out == nullptr, PVEC_MISUSE, "train: NULL output");
    CodecParams p;
    p.id = id;
    p.dim = static_cast<uint32_t>(dim);
    if (codec_needs_training(id)) {
        PVEC_RETURN_IF(n == 0, PVEC_RANGE, "train: empty sample");
        PVEC_RETURN_IF(sample == nullptr, PVEC_MISUSE, "train: NULL sample");
        float max_abs = 0.0f;
        for (std::size_t k = 0; k < n * dim; ++k) {
            PVEC_RETURN_IF(!std::isfinite(sample[k]), PVEC_INVALID, "train: non-finite sample value");
            max_abs = std::max(max_abs, std::fabs(sample[k]));
        }
        if (is_fp8(id)) {
            const float top = id == CodecId::e4m3 ? kE4m3Max : kE5m2Max;
            p.scale = max_abs > 0.0f ? max_abs * kFp8Headroom / top : 1.0f;
            // A tiny max_abs can underflow the scale; keep it usable.
            if (!(p.scale > 0.0f) || !std::isfinite(p.scale)) {
                p.scale = 1.0f;
            }
        } else if (is_affine(id)) {
            train_affine(id, sample, n, dim, &p);
        } else if (is_rabitq(id)) {
            double max_norm2 = 0.0;
            for (std::size_t j = 0; j < n; ++j) {
                double s = 0.0;
                for (std::size_t i = 0; i < dim; ++i) {
                    s += static_cast<double>(sample[j * dim + i]) * sample[j * dim + i];
                }
                max_norm2 = std::max(max_norm2, s);
            }
            // The smallest power of two >= the largest norm, at most 2^127 (a norm past f32's
            // range, which collections refuse anyway, then saturates its factors).
            int e = 0;
            const double mant = std::frexp(std::sqrt(max_norm2), &e);
            p.scale = max_norm2 > 0 ? std::ldexp(1.0f, std::min(mant == 0.5 ? e - 1 : e, 127))
                                    : 1.0f;
            if (!(p.scale > 0.0f)) {
                p.scale = 1.0f;  // below the smallest subnormal
            }
        } else {
            train_binary(sample, n, dim, &p);
        }
    }
    *out = std::move(p);
    return Status::ok();
}

CodecParams untrained_params(CodecId id, uint32_t dim) {
    CodecParams p;
    p.id = id;
    p.dim = dim;
    if (is_affine(id)) {
        p.offset.assign(dim, -1.0f);
        p.step.assign(dim, 2.0f / static_cast<float>(levels_of(id) - 1));
    } else if (id == CodecId::binary) {
        p.threshold.assign(dim, 0.0f);
        p.offset.assign(dim, -1.0f);
        p.step.assign(dim, 2.0f);
    }
    return p;
}

void encode(const CodecParams &p, const float *x, uint8_t *code) {
    const std::size_t dim = p.dim;
    switch (p.id) {
    case CodecId::f32:
        std::memcpy(code, x, dim * sizeof(float));
        break;
    case CodecId::f16:
        for (std::size_t i = 0; i < dim; ++i) {
            store_u16le(code + 2 * i, encode_f16(x[i]));
        }
        break;
    case CodecId::bf16:
        for (std::size_t i = 0; i < dim; ++i) {
            store_u16le(code + 2 * i, encode_bf16(x[i]));
        }
        break;
    case CodecId::e4m3:
        for (std::size_t i = 0; i < dim; ++i) {
            code[i] = f32_to_e4m3(x[i] / p.scale);
        }
        break;
    case CodecId::e5m2:
        for (std::size_t i = 0; i < dim; ++i) {
            code[i] = f32_to_e5m2(x[i] / p.scale);
        }
        break;
    case CodecId::int8:
        for (std::size_t i = 0; i < dim; ++i) {
            code[i] = static_cast<uint8_t>(
                quantize(x[i], p.offset[i], inverse_step(p.step[i]), 256));
        }
        break;
    case CodecId::int4:
        std::memset(code, 0, code_bytes(p.id, dim));
        for (std::size_t i = 0; i < dim; ++i) {
            const uint32_t c = quantize(x[i], p.offset[i], inverse_step(p.step[i]), 16);
            code[i / 2] = static_cast<uint8_t>(code[i / 2] | (c << (4 * (i & 1))));
        }
        break;
    case CodecId::binary:
        std::memset(code, 0, code_bytes(p.id, dim));
        for (std::size_t i = 0; i < dim; ++i) {
            if (x[i] > p.threshold[i]) {
                code[i / 8] = static_cast<uint8_t>(code[i / 8] | (1u << (i % 8)));
            }
        }
        break;
    case CodecId::rabitq:
    case CodecId::rabitq2:
        encode_rabitq(p, x, code);
        break;
    }
}

void decode(const CodecParams &p, const uint8_t *code, float *x) {
    const std::size_t dim = p.dim;
    switch (p.id) {
    case CodecId::f32:
        std::memcpy(x, code, dim * sizeof(float));
        break;
    case CodecId::f16:
        for (std::size_t i = 0; i < dim; ++i) {
            x[i] = fast_f16_to_f32(load_u16le(code + 2 * i));
        }
        break;
    case CodecId::bf16:
        for (std::size_t i = 0; i < dim; ++i) {
            x[i] = fast_bf16_to_f32(load_u16le(code + 2 * i));
        }
        break;
    case CodecId::e4m3:
        for (std::size_t i = 0; i < dim; ++i) {
            x[i] = fast_e4m3_to_f32(code[i]) * p.scale;
        }
        break;
    case CodecId::e5m2:
        for (std::size_t i = 0; i < dim; ++i) {
            x[i] = fast_e5m2_to_f32(code[i]) * p.scale;
        }
        break;
    case CodecId::int8:
        for (std::size_t i = 0; i < dim; ++i) {
            x[i] = p.offset[i] + p.step[i] * static_cast<float>(code[i]);
        }
        break;
    case CodecId::int4:
        for (std::size_t i = 0; i < dim; ++i) {
            const uint32_t c = (code[i / 2] >> (4 * (i & 1))) & 0xfu;
            x[i] = p.offset[i] + p.step[i] * static_cast<float>(c);
        }
        break;
    case CodecId::binary:
        for (std::size_t i = 0; i < dim; ++i) {
            const uint32_t b = (code[i / 8] >> (i % 8)) & 1u;
            x[i] = p.offset[i] + p.step[i] * static_cast<float>(b);
        }
        break;
    case CodecId::rabitq:
    case CodecId::rabitq2:
        decode_rabitq(p, code, x);
        break;
    }
}

}  // namespace pocketvec::codec
