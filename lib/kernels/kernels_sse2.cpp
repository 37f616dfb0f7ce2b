// The sse2 level: the generic f32 kernels instantiated for xsimd::sse2. SSE2 is the x86-64
// baseline, so this unit needs no extra flags; it exists so that those kernels are vectorized.
#include "kernels/f32_generic.hpp"

#if !(XSIMD_WITH_SSE2)
#error "kernels_sse2.cpp must be compiled with SSE2 (the x86-64 baseline)"
#endif

namespace pocketvec::kernels {

const KernelTable *kernel_table_sse2();

namespace {

using Arch = xsimd::sse2;

float dot_f32_sse2(const float *a, const float *b, std::size_t n) {
    return dot_f32_row<Arch>(a, b, n);
}

float l2sq_f32_sse2(const float *a, const float *b, std::size_t n) {
    return l2sq_f32_row<Arch>(a, b, n);
}

void dot_f32_block_sse2(const float *q, const float *block, std::size_t dim, float *out) {
    dot_f32_block_tiled<Arch>(q, block, dim, out);
}

void l2sq_f32_block_sse2(const float *q, const float *block, std::size_t dim, float *out) {
    l2sq_f32_block_tiled<Arch>(q, block, dim, out);
}

// Constant-initialized: no code of this unit runs at load time.
constexpr KernelTable kTable{
    Level::sse2, "sse2", &dot_f32_sse2, &l2sq_f32_sse2, &dot_f32_block_sse2, &l2sq_f32_block_sse2};

}  // namespace

const KernelTable *kernel_table_sse2() { return &kTable; }

}  // namespace pocketvec::kernels
