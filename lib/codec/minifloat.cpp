#include "codec/minifloat.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace pocketvec::codec {

namespace {

uint32_t float_bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}

float bits_float(uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

// A binary floating-point format narrower than binary32, described by its fields. Codes are
// sign | exponent | mantissa with the sign at bit `sign_shift`.
struct Format {
    int man_bits;
    int bias;
    int sign_shift;
    uint32_t max_finite;  // magnitude code of the largest finite value
    uint32_t nan;         // magnitude code produced for NaN input
    uint32_t inf;         // magnitude code of Inf, 0 when the format has none
};

constexpr Format kF16{10, 15, 15, 0x7bff, 0x7e00, 0x7c00};
constexpr Format kE4m3{3, 7, 7, 0x7e, 0x7f, 0};
constexpr Format kE5m2{2, 15, 7, 0x7b, 0x7e, 0x7c};

// v / 2^s rounded to nearest, ties to even; callers pass v < 2^31.
uint32_t shift_rne(uint32_t v, int s) {
    if (s <= 0) {
        return v;
    }
    if (s > 31) {
        return 0;
    }
    const uint32_t q = v >> s;
    const uint32_t rem = v & ((1u << s) - 1);
    const uint32_t half = 1u << (s - 1);
    return (rem > half || (rem == half && (q & 1u))) ? q + 1 : q;
}

uint32_t encode_minifloat(float x, const Format &fmt, bool saturate) {
    const uint32_t u = float_bits(x);
    const uint32_t sign = (u >> 31) << fmt.sign_shift;
    const uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) {
        return sign | fmt.nan;
    }
    uint32_t q;
    const int exp8 = static_cast<int>(a >> 23);
    const int e = exp8 - 127 + fmt.bias;
    if (a == 0x7f800000u) {
        q = 0xffffffffu;  // Inf: treated as overflow below
    } else if (exp8 == 0) {
        // binary32 zero or subnormal: below half the smallest subnormal of every format here.
        q = 0;
    } else if (e >= 1) {
        // Re-bias, then round exponent and mantissa together: a mantissa carry correctly bumps the
        // exponent, and a carry past the top lands above max_finite.
        q = shift_rne(a - (static_cast<uint32_t>(127 - fmt.bias) << 23), 23 - fmt.man_bits);
    } else {
        // Subnormal result: the mantissa with its implicit bit, in units of the smallest
        // subnormal. Rounding up to 2^man_bits yields the smallest normal's code, as it should.
        const uint32_t m = (a & 0x7fffffu) | 0x800000u;
        q = shift_rne(m, 23 - fmt.man_bits + 1 - e);
    }
    if (q > fmt.max_finite) {
        q = (saturate || fmt.inf == 0) ? fmt.max_finite : fmt.inf;
    }
    return sign | q;
}

float decode_minifloat(uint32_t code, const Format &fmt) {
    const uint32_t mag = code & ((1u << fmt.sign_shift) - 1);
    const bool negative = ((code >> fmt.sign_shift) & 1u) != 0;
    const uint32_t e = mag >> fmt.man_bits;
    const uint32_t m = mag & ((1u << fmt.man_bits) - 1);
    const uint32_t e_max = (1u << (fmt.sign_shift - fmt.man_bits)) - 1;
    float v;
    if (fmt.inf != 0 && e == e_max) {
        v = m == 0 ? std::numeric_limits<float>::infinity()
                   : std::numeric_limits<float>::quiet_NaN();
    } else if (fmt.inf == 0 && mag == fmt.nan) {
        v = std::numeric_limits<float>::quiet_NaN();
    } else if (e == 0) {
        v = std::ldexp(static_cast<float>(m), 1 - fmt.bias - fmt.man_bits);
    } else {
        v = std::ldexp(static_cast<float>((1u << fmt.man_bits) | m),
                       static_cast<int>(e) - fmt.bias - fmt.man_bits);
    }
    return negative ? -v : v;
}

}  // namespace

uint16_t f32_to_f16(float x) { return static_cast<uint16_t>(encode_minifloat(x, kF16, false)); }
float f16_to_f32(uint16_t h) { return decode_minifloat(h, kF16); }

uint16_t f32_to_bf16(float x) {
    const uint32_t u = float_bits(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        return static_cast<uint16_t>((u >> 16) | 0x0040u);  // keep it a (quiet) NaN
    }
    return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
float bf16_to_f32(uint16_t h) { return bits_float(static_cast<uint32_t>(h) << 16); }

uint8_t f32_to_e4m3(float x) { return static_cast<uint8_t>(encode_minifloat(x, kE4m3, true)); }
float e4m3_to_f32(uint8_t b) { return decode_minifloat(b, kE4m3); }

uint8_t f32_to_e5m2(float x) { return static_cast<uint8_t>(encode_minifloat(x, kE5m2, true)); }
float e5m2_to_f32(uint8_t b) { return decode_minifloat(b, kE5m2); }

}  // namespace pocketvec::codec
