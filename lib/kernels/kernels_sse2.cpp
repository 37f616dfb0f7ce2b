// The sse2 level. SSE2 is the x86-64 baseline, so this unit needs no extra flags; it exists so
// that the kernels are vectorized on CPUs older than AVX2.
//  - f32, bf16: the generic xsimd kernels for xsimd::sse2.
//  - int8, int4: code_x86.hpp's pmaddwd kernels (no pmaddubsw before SSSE3); binary: SWAR popcount.
//  - f16, e4m3, e5m2: there is no half-precision conversion before F16C, so the portable
//    table-decoding kernels (kernels/portable.h).
#include "kernels/code_x86.hpp"
#include "kernels/f32_generic.hpp"
#include "kernels/portable.h"

#include <emmintrin.h>

#if !(XSIMD_WITH_SSE2)
#error "kernels_sse2.cpp must be compiled with SSE2 (the x86-64 baseline)"
#endif

namespace pocketvec::kernels {

const KernelTable *kernel_table_sse2();

namespace {

using Arch = xsimd::sse2;

struct Ops128 {
    using V = __m128i;
    static constexpr std::size_t kSlots = 4;
    static V zero() { return _mm_setzero_si128(); }
    static V set1(int32_t x) { return _mm_set1_epi32(x); }
    static V load(const uint8_t *p) { return _mm_load_si128(reinterpret_cast<const V *>(p)); }
    static V load_acc(const int32_t *p) { return _mm_load_si128(reinterpret_cast<const V *>(p)); }
    static void store(int32_t *p, V v) { _mm_store_si128(reinterpret_cast<V *>(p), v); }
    static V add32(V a, V b) { return _mm_add_epi32(a, b); }
    static V sub32(V a, V b) { return _mm_sub_epi32(a, b); }
    static V and_(V a, V b) { return _mm_and_si128(a, b); }
    static V xor_(V a, V b) { return _mm_xor_si128(a, b); }
    template <int N> static V srli16(V a) { return _mm_srli_epi16(a, N); }
    template <int N> static V srli32(V a) { return _mm_srli_epi32(a, N); }
    static V madd16(V a, V b) { return _mm_madd_epi16(a, b); }
};

float dot_f32_sse2(const float *a, const float *b, std::size_t n) {
    return dot_f32_row<Arch>(a, b, n);
}

float l2sq_f32_sse2(const float *a, const float *b, std::size_t n) {
    return l2sq_f32_row<Arch>(a, b, n);
}

void dot_f32_block_sse2(const float *q, const float *block, std::size_t dim, float *out,
                        const float *next) {
    dot_f32_block_tiled<Arch>(q, block, dim, out, next);
}

void l2sq_f32_block_sse2(const float *q, const float *block, std::size_t dim, float *out,
                         const float *next) {
    l2sq_f32_block_tiled<Arch>(q, block, dim, out, next);
}

void dot_u8_block_sse2(const int16_t *q, const uint8_t *block, std::size_t groups, int32_t *out,
                       const uint8_t *next) {
    dot_u8_generic<Ops128, 4>(q, block, groups, out, next);
}

void dot_u4_block_sse2(const int16_t *q, const uint8_t *block, std::size_t groups, int32_t *out,
                       const uint8_t *next) {
    dot_u4_generic<Ops128, 2>(q, block, groups, out, next);
}

void hamming_block_sse2(const uint32_t *q, const uint8_t *block, std::size_t groups,
                        uint32_t *out, const uint8_t *next) {
    hamming_swar<Ops128, 4>(q, block, groups, out, next);
}

void dot_bf16_block_sse2(const float *w, const uint8_t *block, std::size_t groups, float *out,
                         const uint8_t *next) {
    dot_bf16_block_tiled<Arch>(w, block, groups, out, next);
}

void mask_le_sse2(const float *s, float threshold, uint64_t *mask) {
    const __m128 t = _mm_set1_ps(threshold);
    for (std::size_t w = 0; w < kBlockVectors / 64; ++w) {
        uint64_t m = 0;
        for (std::size_t j = 0; j < 64; j += 4) {
            const int bits = _mm_movemask_ps(_mm_cmple_ps(_mm_load_ps(s + 64 * w + j), t));
            m |= static_cast<uint64_t>(bits) << j;
        }
        mask[w] = m;
    }
}

void mask_le_i32_sse2(const int32_t *s, int32_t threshold, uint64_t *mask) {
    const __m128i t = _mm_set1_epi32(threshold);
    for (std::size_t w = 0; w < kBlockVectors / 64; ++w) {
        uint64_t m = 0;
        for (std::size_t j = 0; j < 64; j += 4) {
            const __m128i x = _mm_load_si128(reinterpret_cast<const __m128i *>(s + 64 * w + j));
            // x <= t is !(x > t): the lanes where the comparison is false.
            const int bits = _mm_movemask_ps(_mm_castsi128_ps(_mm_cmpgt_epi32(x, t))) ^ 15;
            m |= static_cast<uint64_t>(bits) << j;
        }
        mask[w] = m;
    }
}

// Constant-initialized: no code of this unit runs at load time.
constexpr KernelTable kTable{Level::sse2,
                             "sse2",
                             &dot_f32_sse2,
                             &l2sq_f32_sse2,
                             &dot_f32_block_sse2,
                             &l2sq_f32_block_sse2,
                             &dot_u8_block_sse2,
                             &dot_u4_block_sse2,
                             &hamming_block_sse2,
                             &portable::dot_f16_block,
                             &dot_bf16_block_sse2,
                             &portable::dot_e4m3_block,
                             &portable::dot_e5m2_block,
                             &mask_le_sse2,
                             &mask_le_i32_sse2};

} // namespace

const KernelTable *kernel_table_sse2() {
    return &kTable;
}

} // namespace pocketvec::kernels
