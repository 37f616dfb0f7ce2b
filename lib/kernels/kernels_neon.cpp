// The neon level: the generic f32 kernels instantiated for xsimd::neon64. NEON is the aarch64
// baseline, so this unit needs no extra flags; it is only built on aarch64.
#include "kernels/f32_generic.hpp"

#if !(XSIMD_WITH_NEON64)
#error "kernels_neon.cpp must be compiled with aarch64 NEON (the aarch64 baseline)"
#endif

namespace pocketvec::kernels {

const KernelTable *kernel_table_neon();

namespace {

using Arch = xsimd::neon64;

float dot_f32_neon(const float *a, const float *b, std::size_t n) {
    return dot_f32_row<Arch>(a, b, n);
}

float l2sq_f32_neon(const float *a, const float *b, std::size_t n) {
    return l2sq_f32_row<Arch>(a, b, n);
}

void dot_f32_block_neon(const float *q, const float *block, std::size_t dim, float *out) {
    dot_f32_block_tiled<Arch>(q, block, dim, out);
}

void l2sq_f32_block_neon(const float *q, const float *block, std::size_t dim, float *out) {
    l2sq_f32_block_tiled<Arch>(q, block, dim, out);
}

// Constant-initialized: no code of this unit runs at load time.
constexpr KernelTable kTable{
    Level::neon, "neon", &dot_f32_neon, &l2sq_f32_neon, &dot_f32_block_neon, &l2sq_f32_block_neon};

}  // namespace

const KernelTable *kernel_table_neon() { return &kTable; }

}  // namespace pocketvec::kernels
