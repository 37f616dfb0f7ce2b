// Portable code block kernels (kernels_scalar.cpp, baseline flags) that levels without
// half-precision conversions put in their tables: same contracts as KernelTable's entries.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pocketvec::kernels::portable {

void dot_f16_block(const float *w, const uint8_t *block, std::size_t groups, float *out);
void dot_e4m3_block(const float *w, const uint8_t *block, std::size_t groups, float *out);
void dot_e5m2_block(const float *w, const uint8_t *block, std::size_t groups, float *out);

}  // namespace pocketvec::kernels::portable
