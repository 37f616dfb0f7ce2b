// The avx2 level: the generic f32 kernels instantiated for xsimd::fma3<xsimd::avx2>. Compiled with
// -mavx2 -mfma, and only called after dispatch.cpp checked that this CPU and OS can run AVX2 + FMA.
#include "kernels/f32_generic.hpp"

#if !(XSIMD_WITH_FMA3_AVX2)
#error "kernels_avx2.cpp must be compiled with -mavx2 -mfma"
#endif

namespace pocketvec::kernels {

const KernelTable *kernel_table_avx2();

namespace {

using Arch = xsimd::fma3<xsimd::avx2>;

float dot_f32_avx2(const float *a, const float *b, std::size_t n) {
    return dot_f32_row<Arch>(a, b, n);
}

float l2sq_f32_avx2(const float *a, const float *b, std::size_t n) {
    return l2sq_f32_row<Arch>(a, b, n);
}

void dot_f32_block_avx2(const float *q, const float *block, std::size_t dim, float *out) {
    dot_f32_block_tiled<Arch>(q, block, dim, out);
}

void l2sq_f32_block_avx2(const float *q, const float *block, std::size_t dim, float *out) {
    l2sq_f32_block_tiled<Arch>(q, block, dim, out);
}

// Constant-initialized: no code of this unit runs at load time.
constexpr KernelTable kTable{
    Level::avx2, "avx2", &dot_f32_avx2, &l2sq_f32_avx2, &dot_f32_block_avx2, &l2sq_f32_block_avx2};

}  // namespace

const KernelTable *kernel_table_avx2() { return &kTable; }

}  // namespace pocketvec::kernels
