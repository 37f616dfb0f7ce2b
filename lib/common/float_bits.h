// Branch-free minifloat decoders for hot loops (lib/codec/ and the scalar kernels). The anonymous
// namespace gives every translation unit its own copy, so these can never be merged with a copy
// compiled under other -m flags (STYLE.md, "SIMD kernels"). Tested against codec/minifloat.h on
// every code.
#pragma once

#include <cstdint>
#include <cstring>

namespace pocketvec {
namespace {

inline uint32_t fast_float_bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}

inline float fast_bits_float(uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

// binary16 -> binary32. Normals are re-biased by integer addition; Inf/NaN get a second re-bias
// to reach exponent 255; subnormals are re-biased one binade up and the implicit bit subtracted
// in float, which is exact.
inline float fast_f16_to_f32(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t o = static_cast<uint32_t>(h & 0x7fffu) << 13;
    const uint32_t exp = o & 0x0f800000u;
    o += 112u << 23;
    o += exp == 0x0f800000u ? (112u << 23) : 0u;
    const float sub = fast_bits_float(o + (1u << 23)) - fast_bits_float(113u << 23);
    const float f = exp == 0 ? sub : fast_bits_float(o);
    return fast_bits_float(fast_float_bits(f) | sign);
}

// E5M2 is the top byte of binary16 (same exponent width and bias).
inline float fast_e5m2_to_f32(uint8_t b) {
    return fast_f16_to_f32(static_cast<uint16_t>(static_cast<uint16_t>(b) << 8));
}

// E4M3: same scheme as f16 with bias 7 and no Inf; magnitude 0x7f is NaN.
inline float fast_e4m3_to_f32(uint8_t b) {
    const uint32_t sign = static_cast<uint32_t>(b & 0x80u) << 24;
    const uint32_t mag = b & 0x7fu;
    uint32_t o = mag << 20;
    const uint32_t exp = o & 0x07800000u;
    o += 120u << 23;
    const float sub = fast_bits_float(o + (1u << 23)) - fast_bits_float(121u << 23);
    const uint32_t f = exp == 0 ? fast_float_bits(sub) : o;
    return fast_bits_float((mag == 0x7fu ? 0x7fc00000u : f) | sign);
}

inline float fast_bf16_to_f32(uint16_t h) { return fast_bits_float(static_cast<uint32_t>(h) << 16); }

inline uint16_t load_u16le(const uint8_t *p) {
    return static_cast<uint16_t>(p[0] | (static_cast<uint16_t>(p[1]) << 8));
}

}  // namespace
}  // namespace pocketvec
