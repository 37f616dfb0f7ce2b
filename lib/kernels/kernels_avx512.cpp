// The avx512 level: the generic f32 kernels instantiated for xsimd::avx512bw. Compiled with
// -mavx512f -mavx512bw -mavx512dq -mavx512cd -mavx512vl, and only called after dispatch.cpp checked
// that this CPU and OS can run all five.
#include "kernels/f32_generic.hpp"

#if !(XSIMD_WITH_AVX512BW)
#error "kernels_avx512.cpp needs -mavx512f -mavx512bw -mavx512dq -mavx512cd -mavx512vl"
#endif

namespace pocketvec::kernels {

const KernelTable *kernel_table_avx512();

namespace {

using Arch = xsimd::avx512bw;

float dot_f32_avx512(const float *a, const float *b, std::size_t n) {
    return dot_f32_row<Arch>(a, b, n);
}

float l2sq_f32_avx512(const float *a, const float *b, std::size_t n) {
    return l2sq_f32_row<Arch>(a, b, n);
}

void dot_f32_block_avx512(const float *q, const float *block, std::size_t dim, float *out) {
    dot_f32_block_tiled<Arch>(q, block, dim, out);
}

void l2sq_f32_block_avx512(const float *q, const float *block, std::size_t dim, float *out) {
    l2sq_f32_block_tiled<Arch>(q, block, dim, out);
}

// Constant-initialized: no code of this unit runs at load time.
constexpr KernelTable kTable{Level::avx512,         "avx512",
                             &dot_f32_avx512,       &l2sq_f32_avx512,
                             &dot_f32_block_avx512, &l2sq_f32_block_avx512};

}  // namespace

const KernelTable *kernel_table_avx512() { return &kTable; }

}  // namespace pocketvec::kernels
