// Bit-exact conversions between float and the small float formats of the codecs. These are the
// reference conversions (clear, one value at a time); the scan uses branch-free decoders in
// common/float_bits.h that are tested to agree with them on every code.
#pragma once

#include <cstdint>

namespace pocketvec::codec {

// IEEE binary16, round to nearest even; overflow gives Inf (IEEE), NaN stays a quiet NaN.
uint16_t f32_to_f16(float x);
float f16_to_f32(uint16_t h);

// bfloat16: the top 16 bits of binary32 after round to nearest even; NaN stays a quiet NaN.
uint16_t f32_to_bf16(float x);
float bf16_to_f32(uint16_t h);

// OCP FP8 E4M3 ("E4M3FN": bias 7, no Inf, NaN = 0x7f / 0xff, max finite 448, min subnormal 2^-9).
// Round to nearest even, saturating: |x| beyond 448 (Inf included) gives +-448; NaN gives 0x7f
// with the sign of x.
uint8_t f32_to_e4m3(float x);
float e4m3_to_f32(uint8_t b);

// OCP FP8 E5M2 (bias 15, Inf = 0x7c, NaN = 0x7d..0x7f, max finite 57344, min subnormal 2^-16).
// Round to nearest even, saturating like e4m3 (Inf input gives +-57344); NaN gives 0x7e.
uint8_t f32_to_e5m2(float x);
float e5m2_to_f32(uint8_t b);

}  // namespace pocketvec::codec
