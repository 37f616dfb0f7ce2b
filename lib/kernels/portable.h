// Portable code block kernels (kernels_scalar.cpp, baseline flags) that levels without
// half-precision conversions put in their tables: same contracts as KernelTable's entries.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pocketvec::kernels::portable {

// Every binary16 value as a float, built once (256 KiB, immutable afterwards, thread-safe): a
// table load decodes f16 faster than the bit manipulation where there is no F16C / FCVTL.
const float *f16_table();

void dot_f16_block(const float *w, const uint8_t *block, std::size_t groups, float *out,
                   const uint8_t *next);
void dot_e4m3_block(const float *w, const uint8_t *block, std::size_t groups, float *out,
                    const uint8_t *next);
void dot_e5m2_block(const float *w, const uint8_t *block, std::size_t groups, float *out,
                    const uint8_t *next);

}  // namespace pocketvec::kernels::portable
