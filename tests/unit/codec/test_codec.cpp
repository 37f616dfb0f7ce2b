// Codecs: bit-exact small-float conversions against an independent reference (ldexp values and a
// brute-force nearest search), trained int8/int4/binary parameters, fast scoring against the scalar
// reference, and the parameter blob.
#include "codec/codec.h"
#include "kernels/block_layout.h"
#include "codec/minifloat.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <limits>
#include <random>
#include <vector>

namespace pocketvec::codec {
namespace {

constexpr std::size_t kOddDims[] = {1, 3, 7, 15, 17, 33, 100, 383, 384};
constexpr CodecId kAllCodecs[] = {CodecId::f32,    CodecId::f16,    CodecId::bf16,
                                  CodecId::e4m3,   CodecId::e5m2,   CodecId::int8,
                                  CodecId::int4,   CodecId::binary, CodecId::rabitq,
                                  CodecId::rabitq2};

uint32_t bits_of(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}

float float_of(uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

// --- independent reference for small floats -------------------------------------------------

struct RefFormat {
    int exp_bits;
    int man_bits;
    int bias;
    bool ieee_specials;  // all-ones exponent is Inf/NaN (f16, bf16, e5m2); else only S.1111.111 is NaN
};

constexpr RefFormat kRefF16{5, 10, 15, true};
constexpr RefFormat kRefBf16{8, 7, 127, true};
constexpr RefFormat kRefE4m3{4, 3, 7, false};
constexpr RefFormat kRefE5m2{5, 2, 15, true};

// The value of a code, from the definition: (-1)^s * 2^(e - bias) * (1 + m / 2^M), or
// 2^(1 - bias) * m / 2^M for e == 0.
double ref_value(uint32_t code, const RefFormat &f) {
    const int width = 1 + f.exp_bits + f.man_bits;
    const bool neg = (code >> (width - 1)) & 1u;
    const uint32_t e = (code >> f.man_bits) & ((1u << f.exp_bits) - 1);
    const uint32_t m = code & ((1u << f.man_bits) - 1);
    const uint32_t e_max = (1u << f.exp_bits) - 1;
    double v;
    if (f.ieee_specials && e == e_max) {
        v = m == 0 ? std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
    } else if (!f.ieee_specials && e == e_max && m == (1u << f.man_bits) - 1) {
        v = std::numeric_limits<double>::quiet_NaN();
    } else if (e == 0) {
        v = std::ldexp(static_cast<double>(m) / (1u << f.man_bits), 1 - f.bias);
    } else {
        v = std::ldexp(1.0 + static_cast<double>(m) / (1u << f.man_bits), static_cast<int>(e) - f.bias);
    }
    return neg ? -v : v;
}

// Non-negative finite codes of a format, ascending by value (codes are monotone in value).
std::vector<uint32_t> positive_finite_codes(const RefFormat &f) {
    std::vector<uint32_t> out;
    const uint32_t count = 1u << (f.exp_bits + f.man_bits);
    for (uint32_t c = 0; c < count; ++c) {
        if (std::isfinite(ref_value(c, f))) {
            out.push_back(c);
        }
    }
    return out;
}

// Round to nearest, ties to the even code, by search over the format's values; `saturate` decides
// what happens beyond the largest finite value (IEEE: Inf past the rounding boundary).
uint32_t ref_encode(double x, const RefFormat &f, const std::vector<uint32_t> &pos, bool saturate) {
    const int width = 1 + f.exp_bits + f.man_bits;
    const uint32_t sign = std::signbit(x) ? 1u << (width - 1) : 0u;
    const double a = std::fabs(x);
    const uint32_t top = pos.back();
    const double max = ref_value(top, f);
    if (a >= max) {
        const double ulp = max - ref_value(pos[pos.size() - 2], f);
        if (saturate || a < max + ulp / 2 || (!f.ieee_specials)) {
            return sign | top;
        }
        return sign | (((1u << f.exp_bits) - 1) << f.man_bits);  // Inf
    }
    auto it = std::upper_bound(pos.begin(), pos.end(), a,
                               [&](double v, uint32_t c) { return v < ref_value(c, f); });
    const uint32_t hi = *it;
    const uint32_t lo = *(it - 1);
    const double dlo = a - ref_value(lo, f);
    const double dhi = ref_value(hi, f) - a;
    if (dlo < dhi) {
        return sign | lo;
    }
    if (dhi < dlo) {
        return sign | hi;
    }
    return sign | ((lo & 1u) == 0 ? lo : hi);
}

bool is_nan_code(uint32_t code, const RefFormat &f) { return std::isnan(ref_value(code, f)); }

// Codec params with scale 1 for the float codecs.
CodecParams float_params(CodecId id, uint32_t dim) {
    CodecParams p;
    p.id = id;
    p.dim = dim;
    return p;
}

// A rabitq / rabitq2 code read back by the format's definition (codec.h, docs/format.md):
// planes of 4 * ceil(dim / 32) bytes, then f16 alpha / scale and f16 |x| / scale.
struct RabitqRef {
    std::vector<double> level;  // xb_i
    double alpha = 0;
    double norm = 0;
};

RabitqRef rabitq_ref(const CodecParams &p, const uint8_t *code) {
    const std::size_t pb = 4 * ((p.dim + 31) / 32);
    auto bit = [&](const uint8_t *plane, std::size_t i) { return (plane[i / 8] >> (i % 8)) & 1; };
    RabitqRef r;
    for (std::size_t i = 0; i < p.dim; ++i) {
        r.level.push_back(p.id == CodecId::rabitq ? bit(code, i) - 0.5
                                                  : 2.0 * bit(code, i) + bit(code + pb, i) - 1.5);
    }
    const uint8_t *f = code + (p.id == CodecId::rabitq ? 1 : 2) * pb;
    r.alpha = double(f16_to_f32(uint16_t(f[0] | f[1] << 8))) * p.scale;
    r.norm = double(f16_to_f32(uint16_t(f[2] | f[3] << 8))) * p.scale;
    return r;
}

// --- names and sizes ----------------------------------------------------------------------------

TEST(Codec, NamesAndSizes) {
    for (CodecId id : kAllCodecs) {
        CodecId back;
        ASSERT_TRUE(codec_from_name(codec_name(id), &back));
        EXPECT_EQ(back, id);
    }
    CodecId dummy;
    EXPECT_FALSE(codec_from_name("int2", &dummy));
    EXPECT_FALSE(codec_from_name("", &dummy));
    EXPECT_FALSE(codec_from_code(10, &dummy));
    // Stored in files: pinned.
    EXPECT_EQ(static_cast<uint32_t>(CodecId::rabitq), 8u);
    EXPECT_EQ(static_cast<uint32_t>(CodecId::rabitq2), 9u);
    EXPECT_STREQ(codec_name(CodecId::rabitq), "rabitq");
    EXPECT_STREQ(codec_name(CodecId::rabitq2), "rabitq2");
    EXPECT_TRUE(codec_needs_training(CodecId::rabitq));
    EXPECT_TRUE(codec_needs_training(CodecId::rabitq2));
    EXPECT_TRUE(is_rabitq(CodecId::rabitq2));
    EXPECT_FALSE(is_rabitq(CodecId::binary));
    // Bit planes in whole 4-byte groups, then 4 bytes of factors.
    EXPECT_EQ(code_bytes(CodecId::rabitq, 1), 8u);
    EXPECT_EQ(code_bytes(CodecId::rabitq, 32), 8u);
    EXPECT_EQ(code_bytes(CodecId::rabitq, 33), 12u);
    EXPECT_EQ(code_bytes(CodecId::rabitq, 100), 20u);
    EXPECT_EQ(code_bytes(CodecId::rabitq, 384), 52u);
    EXPECT_EQ(code_bytes(CodecId::rabitq2, 1), 12u);
    EXPECT_EQ(code_bytes(CodecId::rabitq2, 100), 36u);
    EXPECT_EQ(code_bytes(CodecId::rabitq2, 384), 100u);
    EXPECT_EQ(code_bytes(CodecId::f32, 3), 12u);
    EXPECT_EQ(code_bytes(CodecId::f16, 3), 6u);
    EXPECT_EQ(code_bytes(CodecId::bf16, 384), 768u);
    EXPECT_EQ(code_bytes(CodecId::e4m3, 7), 7u);
    EXPECT_EQ(code_bytes(CodecId::e5m2, 7), 7u);
    EXPECT_EQ(code_bytes(CodecId::int8, 100), 100u);
    EXPECT_EQ(code_bytes(CodecId::int4, 7), 4u);
    EXPECT_EQ(code_bytes(CodecId::int4, 384), 192u);
    EXPECT_EQ(code_bytes(CodecId::binary, 1), 1u);
    EXPECT_EQ(code_bytes(CodecId::binary, 383), 48u);
    EXPECT_EQ(code_bytes(CodecId::binary, 384), 48u);
}

// --- exhaustive small-float round trips -------------------------------------------------------

TEST(Minifloat, F16AllCodes) {
    const CodecParams p = float_params(CodecId::f16, 1);
    for (uint32_t h = 0; h < 0x10000; ++h) {
        const float v = f16_to_f32(static_cast<uint16_t>(h));
        const double ref = ref_value(h, kRefF16);
        uint8_t code[2] = {static_cast<uint8_t>(h), static_cast<uint8_t>(h >> 8)};
        float fast;
        decode(p, code, &fast);
        if (std::isnan(ref)) {
            ASSERT_TRUE(std::isnan(v)) << h;
            ASSERT_TRUE(std::isnan(fast)) << h;
            ASSERT_TRUE(is_nan_code(f32_to_f16(v), kRefF16)) << h;
            continue;
        }
        ASSERT_EQ(static_cast<double>(v), ref) << h;
        ASSERT_EQ(bits_of(fast), bits_of(v)) << h;  // signed zeros too
        ASSERT_EQ(f32_to_f16(v), h) << h;
        uint8_t back[2];
        encode(p, &v, back);
        ASSERT_EQ(back[0] | (back[1] << 8), static_cast<int>(h)) << h;
    }
}

TEST(Minifloat, Bf16AllCodes) {
    const CodecParams p = float_params(CodecId::bf16, 1);
    for (uint32_t h = 0; h < 0x10000; ++h) {
        const float v = bf16_to_f32(static_cast<uint16_t>(h));
        const double ref = ref_value(h, kRefBf16);
        uint8_t code[2] = {static_cast<uint8_t>(h), static_cast<uint8_t>(h >> 8)};
        float fast;
        decode(p, code, &fast);
        if (std::isnan(ref)) {
            ASSERT_TRUE(std::isnan(v) && std::isnan(fast)) << h;
            ASSERT_TRUE(is_nan_code(f32_to_bf16(v), kRefBf16)) << h;
            continue;
        }
        ASSERT_EQ(static_cast<double>(v), ref) << h;
        ASSERT_EQ(bits_of(fast), bits_of(v)) << h;
        ASSERT_EQ(f32_to_bf16(v), h) << h;
        uint8_t back[2];
        encode(p, &v, back);
        ASSERT_EQ(back[0] | (back[1] << 8), static_cast<int>(h)) << h;
    }
}

void check_fp8_all_codes(CodecId id, const RefFormat &f, uint8_t (*enc)(float),
                         float (*dec)(uint8_t)) {
    const CodecParams p = float_params(id, 1);
    int nans = 0;
    for (uint32_t b = 0; b < 256; ++b) {
        const float v = dec(static_cast<uint8_t>(b));
        const double ref = ref_value(b, f);
        const uint8_t code = static_cast<uint8_t>(b);
        float fast;
        decode(p, &code, &fast);
        if (std::isnan(ref)) {
            ++nans;
            EXPECT_TRUE(std::isnan(v) && std::isnan(fast)) << b;
            EXPECT_TRUE(is_nan_code(enc(v), f)) << b;
            continue;
        }
        EXPECT_EQ(static_cast<double>(v), ref) << b;
        EXPECT_EQ(bits_of(fast), bits_of(v)) << b;
        if (std::isinf(ref)) {
            // Saturating: Inf becomes the largest finite value of its sign.
            EXPECT_EQ(enc(v), (b & 0x80u) | 0x7bu) << b;
            continue;
        }
        EXPECT_EQ(enc(v), b) << b;
        uint8_t back;
        encode(p, &v, &back);
        EXPECT_EQ(back, b) << b;
    }
    EXPECT_EQ(nans, id == CodecId::e4m3 ? 2 : 6);
}

TEST(Minifloat, E4m3AllCodes) {
    check_fp8_all_codes(CodecId::e4m3, kRefE4m3, f32_to_e4m3, e4m3_to_f32);
    EXPECT_EQ(e4m3_to_f32(0x7e), 448.0f);
    EXPECT_EQ(e4m3_to_f32(0x01), std::ldexp(1.0f, -9));
    EXPECT_EQ(e4m3_to_f32(0x08), std::ldexp(1.0f, -6));
}

TEST(Minifloat, E5m2AllCodes) {
    check_fp8_all_codes(CodecId::e5m2, kRefE5m2, f32_to_e5m2, e5m2_to_f32);
    EXPECT_EQ(e5m2_to_f32(0x7b), 57344.0f);
    EXPECT_EQ(e5m2_to_f32(0x01), std::ldexp(1.0f, -16));
    EXPECT_TRUE(std::isinf(e5m2_to_f32(0x7c)));
}

// Every midpoint between neighbouring values (the ties), points just beside them, and random
// floats over the whole range, against the brute-force nearest-even reference.
template <class Enc>
void check_rounding(const RefFormat &f, Enc enc, bool saturate, uint64_t seed) {
    const std::vector<uint32_t> pos = positive_finite_codes(f);
    std::vector<float> probes;
    for (std::size_t i = 0; i + 1 < pos.size(); ++i) {
        const double mid = (ref_value(pos[i], f) + ref_value(pos[i + 1], f)) / 2;
        const auto m = static_cast<float>(mid);
        ASSERT_EQ(static_cast<double>(m), mid);  // midpoints are exact in binary32
        probes.push_back(m);
        probes.push_back(std::nextafter(m, 0.0f));
        probes.push_back(std::nextafter(m, std::numeric_limits<float>::infinity()));
    }
    std::mt19937_64 rng(seed);
    const double max = ref_value(pos.back(), f);
    std::uniform_real_distribution<double> log_mag(std::log2(max) - 40, std::log2(max) + 2);
    for (int i = 0; i < 20000; ++i) {
        probes.push_back(static_cast<float>(std::exp2(log_mag(rng))));
    }
    probes.push_back(0.0f);
    probes.push_back(std::numeric_limits<float>::denorm_min());
    probes.push_back(std::numeric_limits<float>::max());
    for (float x : probes) {
        for (float s : {x, -x}) {
            ASSERT_EQ(static_cast<uint32_t>(enc(s)), ref_encode(s, f, pos, saturate)) << s;
        }
    }
}

TEST(Minifloat, RoundToNearestEvenF16) { check_rounding(kRefF16, f32_to_f16, false, 1); }
TEST(Minifloat, RoundToNearestEvenBf16) { check_rounding(kRefBf16, f32_to_bf16, false, 2); }
TEST(Minifloat, RoundToNearestEvenE4m3) { check_rounding(kRefE4m3, f32_to_e4m3, true, 3); }
TEST(Minifloat, RoundToNearestEvenE5m2) { check_rounding(kRefE5m2, f32_to_e5m2, true, 4); }

TEST(Minifloat, TiesSaturationAndSubnormals) {
    // Ties go to the even mantissa.
    EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);      // 1 + half ulp -> 1
    EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // -> 1 + 2 ulp
    EXPECT_EQ(f32_to_e4m3(1.0625f), 0x38);                            // 1 + 1/16 -> 1
    EXPECT_EQ(f32_to_e4m3(1.1875f), 0x3a);                            // 1 + 3/16 -> 1.25
    EXPECT_EQ(f32_to_bf16(float_of(0x3f808000u)), 0x3f80);
    EXPECT_EQ(f32_to_bf16(float_of(0x3f818000u)), 0x3f82);
    // Saturation: never Inf or NaN from a finite value in fp8.
    EXPECT_EQ(f32_to_e4m3(464.0f), 0x7e);
    EXPECT_EQ(f32_to_e4m3(1e30f), 0x7e);
    EXPECT_EQ(f32_to_e4m3(-1e30f), 0xfe);
    EXPECT_EQ(f32_to_e4m3(std::numeric_limits<float>::infinity()), 0x7e);
    EXPECT_EQ(f32_to_e5m2(61440.0f), 0x7b);
    EXPECT_EQ(f32_to_e5m2(-std::numeric_limits<float>::infinity()), 0xfb);
    EXPECT_EQ(f32_to_e4m3(std::numeric_limits<float>::quiet_NaN()) & 0x7f, 0x7f);
    EXPECT_TRUE(std::isnan(e5m2_to_f32(f32_to_e5m2(std::numeric_limits<float>::quiet_NaN()))));
    // IEEE f16 overflows to Inf past 65520; the f16 codec saturates instead.
    EXPECT_EQ(f32_to_f16(65519.0f), 0x7bff);
    EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);
    const CodecParams p16 = float_params(CodecId::f16, 1);
    uint8_t c16[2];
    const float big = 1e6f;
    encode(p16, &big, c16);
    EXPECT_EQ(c16[0] | (c16[1] << 8), 0x7bff);
    const CodecParams pb = float_params(CodecId::bf16, 1);
    const float fmax = std::numeric_limits<float>::max();
    encode(pb, &fmax, c16);
    EXPECT_EQ(c16[0] | (c16[1] << 8), 0x7f7f);
    // Subnormals: half the smallest rounds to 0 (even), 1.5 and 2.5 units round to 2.
    EXPECT_EQ(f32_to_e4m3(std::ldexp(1.0f, -10)), 0x00);
    EXPECT_EQ(f32_to_e4m3(std::ldexp(1.0001f, -10)), 0x01);
    EXPECT_EQ(f32_to_e4m3(std::ldexp(3.0f, -10)), 0x02);
    EXPECT_EQ(f32_to_e4m3(std::ldexp(5.0f, -10)), 0x02);
    EXPECT_EQ(f32_to_e4m3(std::ldexp(15.0f, -10)), 0x08);  // 7.5 units -> smallest normal
    EXPECT_EQ(f32_to_e5m2(std::ldexp(1.0f, -17)), 0x00);
    EXPECT_EQ(f32_to_e5m2(std::ldexp(3.0f, -17)), 0x02);
    EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);
    EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -25)), 0x0002);
    EXPECT_EQ(f32_to_f16(-std::ldexp(1.0f, -24)), 0x8001);
    EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
}

#if defined(__FLT16_MAX__) && !defined(__clang__) && defined(__x86_64__)
// GCC's _Float16 conversion (libgcc, or F16C) is a second independent reference.
TEST(Minifloat, F16MatchesCompiler) {
    std::mt19937 rng(7);
    for (int i = 0; i < 200000; ++i) {
        const float x = float_of(rng());
        if (std::isnan(x)) {
            continue;
        }
        const _Float16 h = static_cast<_Float16>(x);
        uint16_t hb;
        std::memcpy(&hb, &h, sizeof hb);
        ASSERT_EQ(f32_to_f16(x), hb) << x;
    }
}
#endif

// --- trained codecs -----------------------------------------------------------------------------

// n x dim with dimension i ~ N(centre_i, sigma_i), sigma spanning four decades, plus rare
// outliers, like real embedding dimensions with very different ranges.
std::vector<float> skewed_sample(std::size_t n, std::size_t dim, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::vector<float> x(n * dim);
    for (std::size_t j = 0; j < n; ++j) {
        for (std::size_t i = 0; i < dim; ++i) {
            const float sigma = std::pow(10.0f, -3.0f + 4.0f * static_cast<float>(i) / dim);
            const float centre = (i % 3 == 0) ? 2.0f * sigma : 0.0f;
            float v = centre + sigma * g(rng);
            if (rng() % 2000 == 0) {
                v *= 8.0f;  // outlier
            }
            x[j * dim + i] = v;
        }
    }
    return x;
}

double reconstruction_mse(const CodecParams &p, const std::vector<float> &x, std::size_t n) {
    std::vector<uint8_t> code(code_bytes(p.id, p.dim));
    std::vector<float> y(p.dim);
    double err = 0.0;
    for (std::size_t j = 0; j < n; ++j) {
        encode(p, &x[j * p.dim], code.data());
        decode(p, code.data(), y.data());
        for (std::size_t i = 0; i < p.dim; ++i) {
            const double d = static_cast<double>(x[j * p.dim + i]) - y[i];
            err += d * d;
        }
    }
    return err / static_cast<double>(n * p.dim);
}

// The same codec with one global [min, max] for every dimension (the SQLite Vector approach).
CodecParams global_range_params(CodecId id, const std::vector<float> &x, std::size_t dim) {
    const auto [lo, hi] = std::minmax_element(x.begin(), x.end());
    CodecParams p;
    p.id = id;
    p.dim = static_cast<uint32_t>(dim);
    const float levels = id == CodecId::int8 ? 255.0f : 15.0f;
    p.offset.assign(dim, *lo);
    p.step.assign(dim, (*hi - *lo) / levels);
    return p;
}

double signal_power(const std::vector<float> &x) {
    double s = 0.0;
    for (float v : x) {
        s += static_cast<double>(v) * v;
    }
    return s / static_cast<double>(x.size());
}

TEST(Codec, IntPerDimensionFitBeatsGlobalRange) {
    const std::size_t n = 4000, dim = 64;
    const std::vector<float> train_x = skewed_sample(n, dim, 11);
    const std::vector<float> test_x = skewed_sample(1000, dim, 12);
    for (CodecId id : {CodecId::int8, CodecId::int4}) {
        CodecParams p;
        ASSERT_TRUE(train(id, train_x.data(), n, dim, &p).is_ok());
        ASSERT_TRUE(validate(p).is_ok());
        const double fitted = reconstruction_mse(p, test_x, 1000);
        const double global = reconstruction_mse(global_range_params(id, train_x, dim), test_x, 1000);
        const double power = signal_power(test_x);
        std::printf("%s: relative MSE per-dim fit %.3g, global min/max %.3g\n", codec_name(id),
                    fitted / power, global / power);
        // Held-out data: unseen outliers beyond the fitted range dominate the int8 error.
        EXPECT_LT(fitted * 8, global) << codec_name(id);
        EXPECT_LT(fitted / power, id == CodecId::int8 ? 2e-3 : 4e-2) << codec_name(id);
    }
}

TEST(Codec, IntErrorWithinHalfStep) {
    const std::size_t n = 2000, dim = 33;
    const std::vector<float> x = skewed_sample(n, dim, 21);
    for (CodecId id : {CodecId::int8, CodecId::int4}) {
        CodecParams p;
        ASSERT_TRUE(train(id, x.data(), n, dim, &p).is_ok());
        const float top = id == CodecId::int8 ? 255.0f : 15.0f;
        std::vector<uint8_t> code(code_bytes(id, dim));
        std::vector<float> y(dim);
        for (std::size_t j = 0; j < n; ++j) {
            encode(p, &x[j * dim], code.data());
            decode(p, code.data(), y.data());
            for (std::size_t i = 0; i < dim; ++i) {
                const float v = x[j * dim + i];
                const float lo = p.offset[i], hi = p.offset[i] + p.step[i] * top;
                // Inside the range: within half a step; outside: clipped to the nearest end.
                const float want_err = v < lo ? lo - v : v > hi ? v - hi : p.step[i] * 0.5f;
                ASSERT_LE(std::fabs(v - y[i]), want_err * 1.0001f + 1e-6f * std::fabs(v));
            }
        }
    }
}

TEST(Codec, Int4NibbleLayoutAndConstantDims) {
    CodecParams p = untrained_params(CodecId::int4, 3);
    p.offset = {0.0f, 0.0f, 5.0f};
    p.step = {1.0f, 1.0f, 0.0f};  // a constant dimension has step 0
    const float x[3] = {3.0f, 12.0f, 5.0f};
    uint8_t code[2] = {0xff, 0xff};
    encode(p, x, code);
    EXPECT_EQ(code[0], 0xc3);  // dim 0 low nibble, dim 1 high nibble
    EXPECT_EQ(code[1], 0x00);  // odd tail: high nibble 0
    float y[3];
    decode(p, code, y);
    EXPECT_EQ(y[0], 3.0f);
    EXPECT_EQ(y[1], 12.0f);
    EXPECT_EQ(y[2], 5.0f);
    const float clip[3] = {-4.0f, 99.0f, 7.0f};
    encode(p, clip, code);
    EXPECT_EQ(code[0], 0xf0);
}

TEST(Codec, BinaryThresholdsAndBits) {
    const std::size_t n = 3000, dim = 77;
    const std::vector<float> x = skewed_sample(n, dim, 31);
    CodecParams p;
    ASSERT_TRUE(train(CodecId::binary, x.data(), n, dim, &p).is_ok());
    for (std::size_t i = 0; i < dim; ++i) {
        double sum = 0, lo = 0, hi = 0;
        int nlo = 0, nhi = 0;
        for (std::size_t j = 0; j < n; ++j) {
            sum += x[j * dim + i];
        }
        const double mean = sum / n;
        EXPECT_NEAR(p.threshold[i], mean, 1e-5 * (std::fabs(mean) + 1e-3));
        for (std::size_t j = 0; j < n; ++j) {
            const float v = x[j * dim + i];
            (v > p.threshold[i] ? hi : lo) += v;
            ++(v > p.threshold[i] ? nhi : nlo);
        }
        EXPECT_NEAR(p.offset[i], lo / nlo, 1e-5 * (std::fabs(lo / nlo) + 1e-3));
        EXPECT_NEAR(p.offset[i] + p.step[i], hi / nhi, 1e-5 * (std::fabs(hi / nhi) + 1e-3));
    }
    std::vector<uint8_t> code(code_bytes(CodecId::binary, dim));
    std::vector<float> y(dim);
    for (std::size_t j = 0; j < 50; ++j) {
        encode(p, &x[j * dim], code.data());
        decode(p, code.data(), y.data());
        for (std::size_t i = 0; i < dim; ++i) {
            const bool bit = (code[i / 8] >> (i % 8)) & 1u;
            ASSERT_EQ(bit, x[j * dim + i] > p.threshold[i]);
            ASSERT_EQ(y[i], bit ? p.offset[i] + p.step[i] : p.offset[i]);
        }
        EXPECT_EQ(code.back() >> (dim % 8), 0);  // unused tail bits stay 0
    }
}

// rabitq / rabitq2 codes as documented: the sign plane, rabitq2's outer level on the largest
// |x_i| with the best cosine over every count, the factors, zero tails, and decode's point.
TEST(Codec, RabitqEncodesTheDocumentedCode) {
    std::mt19937_64 rng(77);
    std::normal_distribution<float> g(0.0f, 1.0f);
    for (CodecId id : {CodecId::rabitq, CodecId::rabitq2}) {
        for (std::size_t dim : kOddDims) {
            SCOPED_TRACE(std::string(codec_name(id)) + " dim " + std::to_string(dim));
            const std::size_t n = 50;
            std::vector<float> x(n * dim);
            for (std::size_t k = 0; k < x.size(); ++k) {
                x[k] = g(rng) * (1.0f + static_cast<float>(k % 5));
            }
            std::fill(x.begin() + 7 * dim, x.begin() + 8 * dim, 0.0f);  // the zero vector
            CodecParams p;
            ASSERT_TRUE(train(id, x.data(), n, dim, &p).is_ok());
            ASSERT_TRUE(validate(p).is_ok());
            const std::size_t bytes = code_bytes(id, dim);
            const std::size_t pb = 4 * ((dim + 31) / 32);
            std::vector<uint8_t> code(bytes);
            std::vector<float> y(dim);
            double max_norm = 0;
            for (std::size_t j = 0; j < n; ++j) {
                const float *v = &x[j * dim];
                double n2 = 0;
                for (std::size_t i = 0; i < dim; ++i) {
                    n2 += double(v[i]) * v[i];
                }
                max_norm = std::max(max_norm, std::sqrt(n2));
                encode(p, v, code.data());
                const RabitqRef r = rabitq_ref(p, code.data());
                for (std::size_t plane = 0; plane < (id == CodecId::rabitq ? 1u : 2u); ++plane) {
                    for (std::size_t i = dim; i < 8 * pb; ++i) {
                        ASSERT_EQ((code[plane * pb + i / 8] >> (i % 8)) & 1, 0) << "tail bit " << i;
                    }
                }
                double ip = 0, xb2 = 0;
                for (std::size_t i = 0; i < dim; ++i) {
                    ASSERT_EQ(r.level[i] > 0, v[i] > 0) << "sign of " << i;
                    ip += r.level[i] * v[i];
                    xb2 += r.level[i] * r.level[i];
                }
                if (id == CodecId::rabitq2) {
                    // The outer coordinates are the largest |x_i| ...
                    float min_outer = INFINITY, max_inner = 0;
                    std::vector<float> mags;
                    for (std::size_t i = 0; i < dim; ++i) {
                        if (std::fabs(r.level[i]) > 1) {
                            min_outer = std::min(min_outer, std::fabs(v[i]));
                        } else {
                            max_inner = std::max(max_inner, std::fabs(v[i]));
                        }
                        mags.push_back(std::fabs(v[i]));
                    }
                    ASSERT_GE(min_outer, max_inner);
                    // ... and their count has the best cosine of all counts.
                    std::sort(mags.rbegin(), mags.rend());
                    double l1 = 0;
                    for (float m : mags) {
                        l1 += m;
                    }
                    const double got = n2 > 0 ? ip / std::sqrt(xb2) : 0;
                    double top = 0;
                    for (std::size_t k = 0; k <= dim; ++k) {
                        if (k > 0) {
                            top += mags[k - 1];
                        }
                        const double other = (0.5 * l1 + top) / std::sqrt(0.25 * dim + 2.0 * k);
                        ASSERT_LE(other, got * (1 + 1e-9) + 1e-12) << "k " << k;
                    }
                }
                if (n2 == 0) {
                    EXPECT_EQ(r.alpha, 0.0);
                    EXPECT_EQ(r.norm, 0.0);
                } else {
                    EXPECT_NEAR(r.alpha, n2 / ip, 1e-3 * n2 / ip);  // f16: 11 bits
                    EXPECT_NEAR(r.norm, std::sqrt(n2), 1e-3 * std::sqrt(n2));
                }
                decode(p, code.data(), y.data());
                for (std::size_t i = 0; i < dim; ++i) {
                    const double want = n2 > 0 ? (ip / xb2) * r.level[i] : 0.0;
                    ASSERT_NEAR(y[i], want, 2e-3 * std::fabs(want) + 1e-30) << i;
                }
            }
            // The scale is the power of two at or above the sample's largest norm.
            EXPECT_GE(p.scale, max_norm);
            EXPECT_LT(p.scale, 2 * max_norm);
            // A vector far larger than the sample saturates its factors; they stay finite.
            std::vector<float> big(dim, 1e6f * p.scale);
            encode(p, big.data(), code.data());
            const RabitqRef r = rabitq_ref(p, code.data());
            EXPECT_TRUE(std::isfinite(r.alpha) && std::isfinite(r.norm));
        }
        // Extreme magnitudes still give a valid power-of-two scale and finite factors.
        for (float mag : {3e38f, 1e-30f, 1e-44f}) {
            const std::vector<float> s(8, mag);
            CodecParams p;
            ASSERT_TRUE(train(id, s.data(), 1, 8, &p).is_ok()) << mag;
            EXPECT_TRUE(validate(p).is_ok()) << mag;
            std::vector<uint8_t> code(code_bytes(id, 8));
            encode(p, s.data(), code.data());
            const RabitqRef r = rabitq_ref(p, code.data());
            EXPECT_TRUE(std::isfinite(r.alpha) && std::isfinite(r.norm) && r.norm > 0) << mag;
        }
    }
}

TEST(Codec, Fp8ScaleUsesTheRange) {
    const std::size_t n = 500, dim = 16;
    std::vector<float> x = skewed_sample(n, dim, 41);
    const float max_abs = std::fabs(*std::max_element(
        x.begin(), x.end(), [](float a, float b) { return std::fabs(a) < std::fabs(b); }));
    for (CodecId id : {CodecId::e4m3, CodecId::e5m2}) {
        CodecParams p;
        ASSERT_TRUE(train(id, x.data(), n, dim, &p).is_ok());
        const float top = id == CodecId::e4m3 ? 448.0f : 57344.0f;
        EXPECT_NEAR(max_abs / p.scale, top / 2, top * 1e-6);
        // Nothing in or near the sample saturates, and far beyond it nothing becomes Inf.
        std::vector<uint8_t> code(dim);
        std::vector<float> y(dim);
        std::vector<float> far(dim, 1e30f);
        encode(p, far.data(), code.data());
        decode(p, code.data(), y.data());
        for (float v : y) {
            EXPECT_NEAR(v, top * p.scale, top * p.scale * 1e-6);
        }
        const double rel = reconstruction_mse(p, x, n) / signal_power(x);
        std::printf("%s: relative MSE %.3g\n", codec_name(id), rel);
        EXPECT_LT(rel, id == CodecId::e4m3 ? 2e-3 : 8e-3);
    }
}

TEST(Codec, TrainRejectsBadInput) {
    CodecParams p;
    const float x[4] = {1, 2, 3, 4};
    EXPECT_EQ(train(CodecId::int8, x, 0, 4, &p).code(), PVEC_RANGE);
    EXPECT_EQ(train(CodecId::int8, x, 1, 0, &p).code(), PVEC_RANGE);
    const float bad[2] = {1.0f, std::numeric_limits<float>::quiet_NaN()};
    EXPECT_EQ(train(CodecId::e4m3, bad, 1, 2, &p).code(), PVEC_INVALID);
    EXPECT_EQ(train(static_cast<CodecId>(99), x, 1, 4, &p).code(), PVEC_INVALID);
    ASSERT_TRUE(train(CodecId::f16, nullptr, 0, 4, &p).is_ok());  // nothing to fit
    EXPECT_EQ(p.id, CodecId::f16);
    EXPECT_EQ(p.dim, 4u);
    // One vector, a constant sample: still valid parameters.
    for (CodecId id : kAllCodecs) {
        ASSERT_TRUE(train(id, x, 1, 4, &p).is_ok()) << codec_name(id);
        EXPECT_TRUE(validate(p).is_ok()) << codec_name(id);
        const float zeros[4] = {};
        ASSERT_TRUE(train(id, zeros, 1, 4, &p).is_ok()) << codec_name(id);
        EXPECT_TRUE(validate(p).is_ok()) << codec_name(id);
    }
}

// --- scoring --------------------------------------------------------------------------------------

TEST(Codec, DotRowsFastMatchesScalarAndDecode) {
    for (CodecId id : kAllCodecs) {
        for (std::size_t dim : kOddDims) {
            const std::size_t n = 37;
            std::vector<float> x = skewed_sample(n + 200, dim, 100 + dim);
            CodecParams p;
            ASSERT_TRUE(train(id, x.data(), n + 200, dim, &p).is_ok());
            const std::size_t bytes = code_bytes(id, dim);
            std::vector<uint8_t> codes(n * bytes);
            for (std::size_t j = 0; j < n; ++j) {
                encode(p, &x[j * dim], &codes[j * bytes]);
            }
            const float *q = &x[(n + 5) * dim];
            const PreparedQuery pq = prepare_query(p, q);
            std::vector<float> fast(n), ref(n), y(dim);
            dot_rows(pq, codes.data(), n, fast.data());
            dot_rows_scalar(pq, codes.data(), n, ref.data());
            for (std::size_t j = 0; j < n; ++j) {
                const uint8_t *c = &codes[j * bytes];
                decode(p, c, y.data());
                double want = 0.0, mag = 0.0, norm2 = 0.0;
                for (std::size_t i = 0; i < dim; ++i) {
                    want += static_cast<double>(q[i]) * y[i];
                    mag += std::fabs(static_cast<double>(q[i]) * y[i]);
                    norm2 += static_cast<double>(y[i]) * y[i];
                }
                if (is_rabitq(id)) {
                    // The estimate alpha (xb . q) from the documented layout, not q . decode.
                    const RabitqRef r = rabitq_ref(p, c);
                    double est = 0.0, mag2 = 0.0;
                    for (std::size_t i = 0; i < dim; ++i) {
                        est += static_cast<double>(q[i]) * r.level[i];
                        mag2 += std::fabs(static_cast<double>(q[i]) * r.level[i]);
                    }
                    est *= r.alpha;
                    const double tol = 1e-5 * std::fabs(r.alpha) * mag2 + 1e-30;
                    EXPECT_NEAR(ref[j], est, tol) << codec_name(id) << " dim " << dim;
                    EXPECT_NEAR(fast[j], ref[j], tol) << codec_name(id) << " dim " << dim;
                    // |x|^2 of the encoded vector, to f16 precision (not |decode|^2).
                    double x2 = 0.0;
                    for (std::size_t i = 0; i < dim; ++i) {
                        x2 += static_cast<double>(x[j * dim + i]) * x[j * dim + i];
                    }
                    EXPECT_NEAR(decoded_norm2(p, c), x2, 2e-3 * x2) << codec_name(id) << dim;
                    continue;
                }
                EXPECT_NEAR(decoded_norm2(p, c), norm2, 1e-5 * norm2) << codec_name(id) << dim;
                if (id == CodecId::binary) {
                    int h = 0;
                    for (std::size_t i = 0; i < dim; ++i) {
                        h += (q[i] > p.threshold[i]) != (y[i] > p.threshold[i]);
                    }
                    EXPECT_EQ(ref[j], static_cast<float>(dim) - 2.0f * h);
                    EXPECT_EQ(fast[j], ref[j]);
                    continue;
                }
                // Float sums in another order: a few ulps of the sum of magnitudes (the int
                // codecs' base term adds a cancellation of its own).
                const double tol = 1e-5 * (mag + std::fabs(pq.base)) + 1e-30;
                EXPECT_NEAR(fast[j], ref[j], tol) << codec_name(id) << " dim " << dim;
                EXPECT_NEAR(ref[j], want, tol) << codec_name(id) << " dim " << dim;
            }
        }
    }
}

// dot_block over the block scan layout, at every kernel table this CPU runs, equals the scalar
// reference over the same codes for every slot of a block (250 live codes, the rest free: zero
// codes): float codecs up to rounding; binary exactly; int8/int4 exactly the integer sum against
// the quantized query, and within the documented qscale / 2 * sum c_i of the float reference.
TEST(Codec, DotBlockMatchesScalarOverTheBlockLayout) {
    struct Free {
        void operator()(void *p) const { std::free(p); }
    };
    for (const pocketvec::kernels::KernelTable *table : pocketvec::kernels::runnable_tables()) {
        for (CodecId id : kAllCodecs) {
            for (std::size_t dim : kOddDims) {
                SCOPED_TRACE(std::string(table->name) + " " + codec_name(id) + " dim " +
                             std::to_string(dim));
                const std::size_t n = 256;
                std::vector<float> x = skewed_sample(n + 10, dim, 300 + dim);
                CodecParams p;
                ASSERT_TRUE(train(id, x.data(), n + 10, dim, &p).is_ok());
                const std::size_t bytes = code_bytes(id, dim);
                std::vector<uint8_t> rows(n * bytes, 0);
                const std::size_t bb = pocketvec::kernels::block_bytes(bytes);
                std::unique_ptr<uint8_t, Free> block(static_cast<uint8_t *>(std::aligned_alloc(64, bb)));
                std::memset(block.get(), 0, bb);
                for (std::size_t v = 0; v < n; ++v) {
                    if (v % 37 == 5) {
                        continue;  // a free slot: zero code, as the store keeps it
                    }
                    encode(p, &x[v * dim], &rows[v * bytes]);
                    pocketvec::kernels::block_store(block.get(), bytes, v, &rows[v * bytes]);
                }
                const float *q = &x[(n + 3) * dim];
                const PreparedQuery pq = prepare_query(p, q);
                alignas(64) float got[256];
                std::vector<float> ref(n);
                dot_block(pq, block.get(), got, *table);
                dot_rows_scalar(pq, rows.data(), n, ref.data());
                alignas(64) float scalar_level[256];
                dot_block(pq, block.get(), scalar_level, *pocketvec::kernels::runnable_tables()[0]);
                for (std::size_t v = 0; v < n; ++v) {
                    if (id == CodecId::binary) {
                        ASSERT_EQ(got[v], ref[v]) << "slot " << v;
                        continue;
                    }
                    if (is_rabitq(id)) {
                        // Integer popcounts: every level gives the scalar level's bits.
                        ASSERT_EQ(got[v], scalar_level[v]) << "slot " << v;
                        // The estimate against the quantized query, decoded from its planes.
                        const RabitqRef r = rabitq_ref(p, &rows[v * bytes]);
                        const std::size_t pg = (dim + 31) / 32;
                        double est_q = 0.0, mag = 0.0, levels = 0.0;
                        for (std::size_t i = 0; i < dim; ++i) {
                            uint32_t u = 0;
                            ASSERT_EQ(pq.query_bits, id == CodecId::rabitq ? 4u : 6u);
                            for (uint32_t b = 0; b < pq.query_bits; ++b) {
                                u |= ((pq.bits32[b * pg + i / 32] >> (i % 32)) & 1u) << b;
                            }
                            const double qi =
                                pq.qscale * (u - ((1u << pq.query_bits) - 1) / 2.0);
                            ASSERT_LE(std::fabs(qi - q[i]), pq.qscale / 2 * (1 + 1e-6) + 1e-30);
                            est_q += qi * r.level[i];
                            mag += std::fabs(qi * r.level[i]);
                            levels += std::fabs(r.level[i]);
                        }
                        est_q *= r.alpha;
                        ASSERT_NEAR(got[v], est_q, 1e-5 * std::fabs(r.alpha) * mag + 1e-30)
                            << "slot " << v;
                        ASSERT_LE(std::fabs(got[v] - ref[v]),
                                  std::fabs(r.alpha) * pq.qscale / 2 * levels * (1 + 1e-5) +
                                      1e-5 * std::fabs(r.alpha) * mag + 1e-30)
                            << "slot " << v;
                        continue;
                    }
                    std::vector<float> y(dim);
                    decode(p, &rows[v * bytes], y.data());
                    double m = std::fabs(pq.base);
                    for (std::size_t i = 0; i < dim; ++i) {
                        m += std::fabs(static_cast<double>(q[i]) * y[i]);
                    }
                    if (id != CodecId::int8 && id != CodecId::int4) {
                        ASSERT_NEAR(got[v], ref[v], 1e-5 * m + 1e-30) << "slot " << v;
                        continue;
                    }
                    // The integer sum against the quantized query, from the row-major code.
                    int64_t isum = 0;
                    double code_sum = 0;
                    for (std::size_t i = 0; i < dim; ++i) {
                        const int c = id == CodecId::int8 ? rows[v * bytes + i]
                                                          : (rows[v * bytes + i / 2] >> (4 * (i % 2))) & 15;
                        const std::size_t j = id == CodecId::int8
                                                  ? i
                                                  : 8 * (i / 8) + (i % 2) * 4 + (i % 8) / 2;
                        isum += static_cast<int64_t>(pq.qint[j]) * c;
                        code_sum += c;
                    }
                    const double want = pq.base + static_cast<double>(pq.qscale) * isum;
                    ASSERT_NEAR(got[v], want, 1e-6 * (std::fabs(pq.base) + pq.qscale * 4032.0 * code_sum) + 1e-30)
                        << "slot " << v;
                    ASSERT_LE(std::fabs(got[v] - ref[v]),
                              pq.qscale / 2 * code_sum * (1 + 1e-5) + 1e-5 * m + 1e-30)
                        << "slot " << v;
                }
            }
        }
    }
}

// query_rounding bounds the integer query's error for every code (exact search from codes relies
// on it): each weight is off by at most qscale / 2, so the bound is at most c_max * dim * qscale /
// 2, and every code, extreme ones included, stays within it of the float reference.
TEST(Codec, QueryRoundingBoundsEveryCode) {
    struct Free {
        void operator()(void *p) const { std::free(p); }
    };
    for (CodecId id : {CodecId::int8, CodecId::int4}) {
        for (std::size_t dim : kOddDims) {
            SCOPED_TRACE(std::string(codec_name(id)) + " dim " + std::to_string(dim));
            const double cmax = id == CodecId::int8 ? 255.0 : 15.0;
            std::vector<float> x = skewed_sample(300, dim, 900 + dim);
            CodecParams p;
            ASSERT_TRUE(train(id, x.data(), 290, dim, &p).is_ok());
            const PreparedQuery pq = prepare_query(p, &x[295 * dim]);
            const QueryRounding r = query_rounding(pq);
            EXPECT_GT(r.rounding, 0.0);
            EXPECT_LE(r.rounding, cmax * double(dim) * pq.qscale / 2 * (1 + 1e-6));
            const std::size_t bytes = code_bytes(id, dim);
            std::vector<uint8_t> rows(256 * bytes);
            std::mt19937 rng(static_cast<uint32_t>(dim));
            for (std::size_t v = 0; v < 256; ++v) {
                for (std::size_t b = 0; b < bytes; ++b) {
                    // Slot 0 all zero, slot 1 all maximal, then random codes.
                    rows[v * bytes + b] = v == 0 ? 0 : v == 1 ? 0xff : static_cast<uint8_t>(rng());
                }
                if (id == CodecId::int4 && dim % 2 == 1) {
                    rows[v * bytes + bytes - 1] &= 0x0f;  // the odd tail's high nibble stays 0
                }
            }
            const std::size_t bb = pocketvec::kernels::block_bytes(bytes);
            std::unique_ptr<uint8_t, Free> block(static_cast<uint8_t *>(std::aligned_alloc(64, bb)));
            std::memset(block.get(), 0, bb);
            for (std::size_t v = 0; v < 256; ++v) {
                pocketvec::kernels::block_store(block.get(), bytes, v, &rows[v * bytes]);
            }
            std::vector<float> ref(256);
            dot_rows_scalar(pq, rows.data(), 256, ref.data());
            for (const pocketvec::kernels::KernelTable *table : pocketvec::kernels::runnable_tables()) {
                alignas(64) float got[256];
                dot_block(pq, block.get(), got, *table);
                for (std::size_t v = 0; v < 256; ++v) {
                    ASSERT_LE(std::fabs(double(got[v]) - ref[v]),
                              r.rounding + 1e-5 * (std::fabs(pq.base) + r.magnitude) + 1e-30)
                        << table->name << " slot " << v;
                }
            }
        }
    }
    // Float codecs score the float query itself: nothing to bound.
    std::vector<float> x = skewed_sample(40, 8, 3);
    CodecParams p;
    ASSERT_TRUE(train(CodecId::e4m3, x.data(), 40, 8, &p).is_ok());
    EXPECT_EQ(query_rounding(prepare_query(p, x.data())).rounding, 0.0);
}

// --- parameter blobs ------------------------------------------------------------------------------

bool same_params(const CodecParams &a, const CodecParams &b) {
    return a.id == b.id && a.dim == b.dim && bits_of(a.scale) == bits_of(b.scale) &&
           a.offset == b.offset && a.step == b.step && a.threshold == b.threshold;
}

TEST(Codec, ParamsRoundTripAndRejectDamage) {
    const std::size_t dim = 19;
    const std::vector<float> x = skewed_sample(300, dim, 51);
    for (CodecId id : kAllCodecs) {
        CodecParams p;
        ASSERT_TRUE(train(id, x.data(), 300, dim, &p).is_ok());
        const std::vector<uint8_t> blob = p.serialize();
        CodecParams back;
        ASSERT_TRUE(CodecParams::deserialize(blob.data(), blob.size(), &back).is_ok());
        EXPECT_TRUE(same_params(p, back)) << codec_name(id);
        EXPECT_EQ(back.serialize(), blob);

        // Every truncation is refused and leaves the output untouched.
        for (std::size_t len = 0; len < blob.size(); ++len) {
            CodecParams untouched = back;
            EXPECT_EQ(CodecParams::deserialize(blob.data(), len, &untouched).code(), PVEC_CORRUPT)
                << codec_name(id) << " len " << len;
            EXPECT_TRUE(same_params(untouched, back));
        }
        std::vector<uint8_t> longer = blob;
        longer.push_back(0);
        EXPECT_EQ(CodecParams::deserialize(longer.data(), longer.size(), &back).code(), PVEC_CORRUPT);

        // Any flipped bit either is refused or yields parameters that validate (a flipped
        // mantissa bit of an offset is undetectable here; the model's checksum catches it).
        for (std::size_t byte = 0; byte < blob.size(); ++byte) {
            for (int bit = 0; bit < 8; ++bit) {
                std::vector<uint8_t> bad = blob;
                bad[byte] = static_cast<uint8_t>(bad[byte] ^ (1u << bit));
                CodecParams q;
                const Status st = CodecParams::deserialize(bad.data(), bad.size(), &q);
                if (st.is_ok()) {
                    EXPECT_TRUE(validate(q).is_ok());
                    EXPECT_GE(byte, 8u) << "magic and version damage must be detected";
                } else {
                    EXPECT_TRUE(st.code() == PVEC_CORRUPT || st.code() == PVEC_FORMAT);
                }
            }
        }
    }
    // A newer version is refused as such.
    CodecParams p = untrained_params(CodecId::int8, 4);
    std::vector<uint8_t> blob = p.serialize();
    EXPECT_EQ(blob[4], 1u);
    blob[4] = 3;
    EXPECT_EQ(CodecParams::deserialize(blob.data(), blob.size(), &p).code(), PVEC_FORMAT);
    // rabitq blobs are version 2 (a library older than rabitq says "newer", not "damaged"); a
    // version 1 blob cannot name them; their scale is a power of two.
    p = untrained_params(CodecId::rabitq2, 4);
    blob = p.serialize();
    EXPECT_EQ(blob[4], 2u);
    ASSERT_TRUE(CodecParams::deserialize(blob.data(), blob.size(), &p).is_ok());
    blob[4] = 1;
    EXPECT_EQ(CodecParams::deserialize(blob.data(), blob.size(), &p).code(), PVEC_CORRUPT);
    // ... and a version 2 blob cannot name an older codec (each codec has one blob version, so
    // every blob that reads reads back byte for byte: found by fuzz_codec_params).
    p = untrained_params(CodecId::e4m3, 4);
    blob = p.serialize();
    EXPECT_EQ(blob[4], 1u);
    blob[4] = 2;
    EXPECT_EQ(CodecParams::deserialize(blob.data(), blob.size(), &p).code(), PVEC_CORRUPT);
    for (float scale : {3.0f, 0.75f, 0.0f, -2.0f}) {
        p = untrained_params(CodecId::rabitq, 4);
        p.scale = scale;
        blob = p.serialize();
        EXPECT_EQ(CodecParams::deserialize(blob.data(), blob.size(), &p).code(), PVEC_CORRUPT)
            << scale;
    }
    p = untrained_params(CodecId::rabitq, 4);
    p.scale = 0.25f;
    blob = p.serialize();
    EXPECT_TRUE(CodecParams::deserialize(blob.data(), blob.size(), &p).is_ok());
    p = untrained_params(CodecId::rabitq, 4);
    p.offset.assign(4, 0.0f);
    blob = p.serialize();
    EXPECT_EQ(CodecParams::deserialize(blob.data(), blob.size(), &p).code(), PVEC_CORRUPT);
    // Arrays that do not fit the codec are refused.
    p = untrained_params(CodecId::int8, 4);
    p.threshold.assign(4, 0.0f);
    blob = p.serialize();
    EXPECT_EQ(CodecParams::deserialize(blob.data(), blob.size(), &p).code(), PVEC_CORRUPT);
    p = untrained_params(CodecId::e4m3, 4);
    p.scale = -1.0f;
    blob = p.serialize();
    EXPECT_EQ(CodecParams::deserialize(blob.data(), blob.size(), &p).code(), PVEC_CORRUPT);
    p = untrained_params(CodecId::int4, 4);
    p.step[2] = std::numeric_limits<float>::infinity();
    blob = p.serialize();
    EXPECT_EQ(CodecParams::deserialize(blob.data(), blob.size(), &p).code(), PVEC_CORRUPT);
}

}  // namespace
}  // namespace pocketvec::codec
