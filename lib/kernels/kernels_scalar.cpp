// The scalar level: plain loops, the reference every SIMD level is tested against. Each score is
// accumulated in float, in index order (component 0 first). Compiled at baseline flags; always
// present.
#include "common/float_bits.h"
#include "kernels/kernels.h"
#include "kernels/portable.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pocketvec::kernels {

const KernelTable *kernel_table_scalar();

namespace {

float dot_f32_scalar(const float *a, const float *b, std::size_t n) {
    float s = 0.0f;
    for (std::size_t i = 0; i < n; ++i) {
        s += a[i] * b[i];
    }
    return s;
}

float l2sq_f32_scalar(const float *a, const float *b, std::size_t n) {
    float s = 0.0f;
    for (std::size_t i = 0; i < n; ++i) {
        const float d = a[i] - b[i];
        s += d * d;
    }
    return s;
}

// Group-major like the layout, so the block is read in order; each out[v] still accumulates its
// own components in index order.
void dot_f32_block_scalar(const float *q, const float *block, std::size_t dim, float *out,
                          const float * /*next*/) {
    for (std::size_t v = 0; v < kBlockVectors; ++v) {
        out[v] = 0.0f;
    }
    for (std::size_t g = 0; g < dim; ++g) {
        const float qg = q[g];
        const float *row = block + g * kBlockVectors;
        for (std::size_t v = 0; v < kBlockVectors; ++v) {
            out[v] += qg * row[v];
        }
    }
}

void l2sq_f32_block_scalar(const float *q, const float *block, std::size_t dim, float *out,
                           const float * /*next*/) {
    for (std::size_t v = 0; v < kBlockVectors; ++v) {
        out[v] = 0.0f;
    }
    for (std::size_t g = 0; g < dim; ++g) {
        const float qg = q[g];
        const float *row = block + g * kBlockVectors;
        for (std::size_t v = 0; v < kBlockVectors; ++v) {
            const float d = row[v] - qg;
            out[v] += d * d;
        }
    }
}

// ---- Code block kernels. Group-major like the layout; out[v] accumulates group by group.

inline uint32_t load_u32le(const uint8_t *p) {
    return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
           static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

// The 4 bytes of group g of slot v.
inline const uint8_t *group(const uint8_t *block, std::size_t g, std::size_t v) {
    return block + (g * kBlockVectors + v) * kGroupBytes;
}

void dot_u8_block_scalar(const int16_t *q, const uint8_t *block, std::size_t groups, int32_t *out,
                         const uint8_t * /*next*/) {
    for (std::size_t v = 0; v < kBlockVectors; ++v) {
        int32_t s = 0;
        for (std::size_t g = 0; g < groups; ++g) {
            const uint8_t *c = group(block, g, v);
            for (std::size_t k = 0; k < 4; ++k) {
                s += static_cast<int32_t>(q[4 * g + k]) * c[k];
            }
        }
        out[v] = s;
    }
}

void dot_u4_block_scalar(const int16_t *q, const uint8_t *block, std::size_t groups, int32_t *out,
                         const uint8_t * /*next*/) {
    for (std::size_t v = 0; v < kBlockVectors; ++v) {
        int32_t s = 0;
        for (std::size_t g = 0; g < groups; ++g) {
            const uint8_t *c = group(block, g, v);
            for (std::size_t k = 0; k < 4; ++k) {
                s += static_cast<int32_t>(q[8 * g + k]) * (c[k] & 15) +
                     static_cast<int32_t>(q[8 * g + 4 + k]) * (c[k] >> 4);
            }
        }
        out[v] = s;
    }
}

// Branch-free population count (baseline x86-64 has no POPCNT instruction).
inline uint32_t popcount32(uint32_t x) {
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    x = (x + (x >> 4)) & 0x0f0f0f0fu;
    return (x * 0x01010101u) >> 24;
}

void hamming_block_scalar(const uint32_t *q, const uint8_t *block, std::size_t groups,
                          uint32_t *out, const uint8_t * /*next*/) {
    for (std::size_t v = 0; v < kBlockVectors; ++v) {
        uint32_t h = 0;
        for (std::size_t g = 0; g < groups; ++g) {
            h += popcount32(q[g] ^ load_u32le(group(block, g, v)));
        }
        out[v] = h;
    }
}

template <class Decode>
void dot_half_block(const float *w, const uint8_t *block, std::size_t groups, float *out,
                    Decode decode) {
    for (std::size_t v = 0; v < kBlockVectors; ++v) {
        float s = 0.0f;
        for (std::size_t g = 0; g < groups; ++g) {
            const uint32_t x = load_u32le(group(block, g, v));
            s += w[2 * g] * decode(static_cast<uint16_t>(x & 0xffffu));
            s += w[2 * g + 1] * decode(static_cast<uint16_t>(x >> 16));
        }
        out[v] = s;
    }
}

template <class Decode>
void dot_byte_block(const float *w, const uint8_t *block, std::size_t groups, float *out,
                    Decode decode) {
    for (std::size_t v = 0; v < kBlockVectors; ++v) {
        float s = 0.0f;
        for (std::size_t g = 0; g < groups; ++g) {
            const uint8_t *c = group(block, g, v);
            for (std::size_t k = 0; k < 4; ++k) {
                s += w[4 * g + k] * decode(c[k]);
            }
        }
        out[v] = s;
    }
}

void dot_f16_block_scalar(const float *w, const uint8_t *block, std::size_t groups, float *out,
                          const uint8_t * /*next*/) {
    dot_half_block(w, block, groups, out, fast_f16_to_f32);
}
void dot_bf16_block_scalar(const float *w, const uint8_t *block, std::size_t groups, float *out,
                           const uint8_t * /*next*/) {
    dot_half_block(w, block, groups, out, fast_bf16_to_f32);
}
void dot_e4m3_block_scalar(const float *w, const uint8_t *block, std::size_t groups, float *out,
                           const uint8_t * /*next*/) {
    dot_byte_block(w, block, groups, out, fast_e4m3_to_f32);
}
void dot_e5m2_block_scalar(const float *w, const uint8_t *block, std::size_t groups, float *out,
                           const uint8_t * /*next*/) {
    dot_byte_block(w, block, groups, out, fast_e5m2_to_f32);
}

// Bit v of mask[v / 64] = (s[v] <= threshold), floats (NaN never passes) or int32 sums.
template <class T> void mask_le_any(const T *s, T threshold, uint64_t *mask) {
    for (std::size_t w = 0; w < kBlockVectors / 64; ++w) {
        uint64_t m = 0;
        for (std::size_t j = 0; j < 64; ++j) {
            m |= static_cast<uint64_t>(s[64 * w + j] <= threshold) << j;
        }
        mask[w] = m;
    }
}

void mask_le_scalar(const float *s, float threshold, uint64_t *mask) {
    mask_le_any(s, threshold, mask);
}

void mask_le_i32_scalar(const int32_t *s, int32_t threshold, uint64_t *mask) {
    mask_le_any(s, threshold, mask);
}

constexpr KernelTable kTable{Level::scalar,          "scalar",
                             &dot_f32_scalar,        &l2sq_f32_scalar,
                             &dot_f32_block_scalar,  &l2sq_f32_block_scalar,
                             &dot_u8_block_scalar,   &dot_u4_block_scalar,
                             &hamming_block_scalar,  &dot_f16_block_scalar,
                             &dot_bf16_block_scalar, &dot_e4m3_block_scalar,
                             &dot_e5m2_block_scalar, &mask_le_scalar,
                             &mask_le_i32_scalar};

} // namespace

const KernelTable *kernel_table_scalar() {
    return &kTable;
}

// ---- Portable tiled versions for levels without half-precision conversions (sse2): tiles of 16
// slots keep their sums in registers while the groups stream past, and minifloats decode through
// tables (one load instead of the bit manipulation, which does not vectorise without F16C).
namespace portable {

namespace {

constexpr std::size_t kTile = 16;

}  // namespace

const float *f16_table() {
    static const std::vector<float> table = [] {
        std::vector<float> t(65536);
        for (uint32_t h = 0; h < 65536; ++h) {
            t[h] = fast_f16_to_f32(static_cast<uint16_t>(h));
        }
        return t;
    }();
    return table.data();
}

namespace {

template <class Term>
inline void tiled(const uint8_t *block, std::size_t groups, float *out, Term term) {
    for (std::size_t t = 0; t < kBlockVectors; t += kTile) {
        float acc[kTile] = {};
        for (std::size_t g = 0; g < groups; ++g) {
            const uint8_t *p = group(block, g, t);
            for (std::size_t k = 0; k < kTile; ++k) {
                acc[k] += term(g, p + kGroupBytes * k);
            }
        }
        for (std::size_t k = 0; k < kTile; ++k) {
            out[t + k] = acc[k];
        }
    }
}

void dot_fp8_lut(const float *w, const uint8_t *block, std::size_t groups, float *out,
                 const float *lut) {
    tiled(block, groups, out, [&](std::size_t g, const uint8_t *c) {
        const float *wg = w + 4 * g;
        return wg[0] * lut[c[0]] + wg[1] * lut[c[1]] + wg[2] * lut[c[2]] + wg[3] * lut[c[3]];
    });
}

template <class Decode> std::vector<float> byte_table(Decode decode) {
    std::vector<float> t(256);
    for (unsigned b = 0; b < 256; ++b) {
        t[b] = decode(static_cast<uint8_t>(b));
    }
    return t;
}

} // namespace

void dot_f16_block(const float *w, const uint8_t *block, std::size_t groups, float *out,
                   const uint8_t * /*next*/) {
    const float *t = f16_table();
    tiled(block, groups, out, [&](std::size_t g, const uint8_t *c) {
        const uint32_t x = load_u32le(c);
        return w[2 * g] * t[x & 0xffffu] + w[2 * g + 1] * t[x >> 16];
    });
}

void dot_e4m3_block(const float *w, const uint8_t *block, std::size_t groups, float *out,
                    const uint8_t * /*next*/) {
    static const std::vector<float> lut = byte_table(fast_e4m3_to_f32);
    dot_fp8_lut(w, block, groups, out, lut.data());
}

void dot_e5m2_block(const float *w, const uint8_t *block, std::size_t groups, float *out,
                    const uint8_t * /*next*/) {
    static const std::vector<float> lut = byte_table(fast_e5m2_to_f32);
    dot_fp8_lut(w, block, groups, out, lut.data());
}

} // namespace portable

} // namespace pocketvec::kernels
