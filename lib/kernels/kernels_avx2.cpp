// The avx2 level. Compiled with -mavx2 -mfma -mf16c -mpopcnt, and only called after dispatch.cpp
// checked that this CPU and OS can run AVX2, FMA and F16C (every AVX2 CPU has POPCNT, which only
// the compiler's own scalar code may use here).
//  - f32, bf16: the generic xsimd kernels for xsimd::fma3<xsimd::avx2>.
//  - f16, e4m3, e5m2: VCVTPH2PS (F16C); an fp8 byte becomes the binary16 it equals (e5m2 exactly,
//    e4m3 divided by 2^8, undone once per score).
//  - int8, int4, binary: code_x86.hpp over 256-bit registers (pmaddwd, pmaddubsw, pshufb).
#include "kernels/code_x86.hpp"
#include "kernels/f32_generic.hpp"

#include <cstring>
#include <immintrin.h>

#if !(XSIMD_WITH_FMA3_AVX2)
#error "kernels_avx2.cpp must be compiled with -mavx2 -mfma"
#endif
#if !defined(__F16C__)
#error "kernels_avx2.cpp must be compiled with -mf16c"
#endif

namespace pocketvec::kernels {

const KernelTable *kernel_table_avx2();

namespace {

using Arch = xsimd::fma3<xsimd::avx2>;

struct Ops256 {
    using V = __m256i;
    static constexpr std::size_t kSlots = 8;
    static V zero() { return _mm256_setzero_si256(); }
    static V set1(int32_t x) { return _mm256_set1_epi32(x); }
    static V load(const uint8_t *p) { return _mm256_load_si256(reinterpret_cast<const V *>(p)); }
    static V load_acc(const int32_t *p) {
        return _mm256_load_si256(reinterpret_cast<const V *>(p));
    }
    static void store(int32_t *p, V v) { _mm256_store_si256(reinterpret_cast<V *>(p), v); }
    static V add32(V a, V b) { return _mm256_add_epi32(a, b); }
    static V sub32(V a, V b) { return _mm256_sub_epi32(a, b); }
    static V add16(V a, V b) { return _mm256_add_epi16(a, b); }
    static V add8(V a, V b) { return _mm256_add_epi8(a, b); }
    static V and_(V a, V b) { return _mm256_and_si256(a, b); }
    static V xor_(V a, V b) { return _mm256_xor_si256(a, b); }
    template <int N> static V srli16(V a) { return _mm256_srli_epi16(a, N); }
    template <int N> static V srli32(V a) { return _mm256_srli_epi32(a, N); }
    static V madd16(V a, V b) { return _mm256_madd_epi16(a, b); }
    static V maddubs(V u8, V s8) { return _mm256_maddubs_epi16(u8, s8); }
    static V shuffle8(V table, V idx) { return _mm256_shuffle_epi8(table, idx); }
    static V set_nibble_popcounts() {
        return _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2,
                                3, 1, 2, 2, 3, 2, 3, 3, 4);
    }
};

float dot_f32_avx2(const float *a, const float *b, std::size_t n) {
    return dot_f32_row<Arch>(a, b, n);
}

float l2sq_f32_avx2(const float *a, const float *b, std::size_t n) {
    return l2sq_f32_row<Arch>(a, b, n);
}

void dot_f32_block_avx2(const float *q, const float *block, std::size_t dim, float *out,
                        const float *next) {
    dot_f32_block_tiled<Arch>(q, block, dim, out, next);
}

void l2sq_f32_block_avx2(const float *q, const float *block, std::size_t dim, float *out,
                         const float *next) {
    l2sq_f32_block_tiled<Arch>(q, block, dim, out, next);
}

void dot_u8_block_avx2(const int16_t *q, const uint8_t *block, std::size_t groups, int32_t *out,
                       const uint8_t *next) {
    dot_u8_generic<Ops256, 8>(q, block, groups, out, next);
}

void dot_u4_block_avx2(const int16_t *q, const uint8_t *block, std::size_t groups, int32_t *out,
                       const uint8_t *next) {
    dot_u4_generic<Ops256, 4>(q, block, groups, out, next);
}

void hamming_block_avx2(const uint32_t *q, const uint8_t *block, std::size_t groups,
                        uint32_t *out, const uint8_t *next) {
    hamming_pshufb<Ops256, 4>(q, block, groups, out, next);
}

void dot_bf16_block_avx2(const float *w, const uint8_t *block, std::size_t groups, float *out,
                         const uint8_t *next) {
    dot_bf16_block_tiled<Arch>(w, block, groups, out, next);
}

// f16: each 16 bytes are 4 slots x (lo, hi); converted, the lanes alternate lo/hi of one slot, so
// the weights alternate too and the two halves are added once per tile.
void dot_f16_block_avx2(const float *w, const uint8_t *block, std::size_t groups, float *out,
                        const uint8_t *next) {
    constexpr std::size_t kAcc = 8;
    constexpr std::size_t kTile = kAcc * 4;     // slots
    alignas(64) float lanes[2 * kBlockVectors]; // slot s: its lo and hi sums at 2s, 2s + 1
    for (std::size_t g0 = 0; g0 < groups || g0 == 0; g0 += kChunkGroups) {
        const std::size_t g1 = std::min(groups, g0 + kChunkGroups);
        for (std::size_t t = 0; t < kBlockVectors; t += kTile) {
            __m256 acc[kAcc];
            for (std::size_t i = 0; i < kAcc; ++i) {
                acc[i] = g0 == 0 ? _mm256_setzero_ps() : _mm256_load_ps(lanes + 2 * t + 8 * i);
            }
            const uint8_t *row = block + (g0 * kBlockVectors + t) * kGroupBytes;
            for (std::size_t g = g0; g < g1; ++g, row += kBlockVectors * kGroupBytes) {
                prefetch_ahead(block, next, row, g, groups, kTile * kGroupBytes, t == 0);
                double pair;
                std::memcpy(&pair, w + 2 * g, sizeof pair);
                const __m256 wg = _mm256_castpd_ps(_mm256_set1_pd(pair));
                for (std::size_t i = 0; i < kAcc; ++i) {
                    const __m128i h =
                        _mm_load_si128(reinterpret_cast<const __m128i *>(row + 16 * i));
                    acc[i] = _mm256_fmadd_ps(wg, _mm256_cvtph_ps(h), acc[i]);
                }
            }
            for (std::size_t i = 0; i < kAcc; ++i) {
                _mm256_store_ps(lanes + 2 * t + 8 * i, acc[i]);
            }
        }
    }
    for (std::size_t s = 0; s < kBlockVectors; ++s) {
        out[s] = lanes[2 * s] + lanes[2 * s + 1];
    }
}

// fp8: one 32-byte load is 8 slots x 4 bytes, decoded without widening as in kernels_avx512.cpp:
// as 16-bit words the odd bytes already sit in the high byte of a word and a 16-bit shift moves
// the even ones there; an e5m2 byte there is the binary16 it equals, an e4m3 byte s.eeee.mmm
// becomes s.0eeee.mmm0000000 = e4m3(b) * 2^-8 (undone once per score). Converted, the even words
// give (b0, b2) and the odd words (b1, b3) of 4 slots, so each slot keeps two sums.
template <bool kE4m3>
void dot_fp8_block_avx2(const float *w, const uint8_t *block, std::size_t groups, float *out,
                        const uint8_t *next) {
    constexpr std::size_t kLines = 4;          // 32-byte loads (8 slots each) per tile
    constexpr std::size_t kTile = kLines * 8; // slots
    const __m256i keep = _mm256_set1_epi32(kE4m3 ? static_cast<int>(0xbf80bf80u)
                                                 : static_cast<int>(0xff00ff00u));
    alignas(64) float lanes[2 * kBlockVectors]; // slot s: its (b0, b1) and (b2, b3) sums
    for (std::size_t g0 = 0; g0 < groups || g0 == 0; g0 += kChunkGroups) {
        const std::size_t g1 = std::min(groups, g0 + kChunkGroups);
        for (std::size_t t = 0; t < kBlockVectors; t += kTile) {
            __m256 acc[2 * kLines]; // load i: slots 0-3 in acc[2i], slots 4-7 in acc[2i + 1]
            for (std::size_t i = 0; i < 2 * kLines; ++i) {
                acc[i] = g0 == 0 ? _mm256_setzero_ps() : _mm256_load_ps(lanes + 2 * t + 8 * i);
            }
            const uint8_t *row = block + (g0 * kBlockVectors + t) * kGroupBytes;
            for (std::size_t g = g0; g < g1; ++g, row += kBlockVectors * kGroupBytes) {
                prefetch_ahead(block, next, row, g, groups, kTile * kGroupBytes, t == 0);
                const __m256 wg = _mm256_broadcast_ps(reinterpret_cast<const __m128 *>(w + 4 * g));
                const __m256 w_even = _mm256_permute_ps(wg, _MM_SHUFFLE(2, 0, 2, 0));
                const __m256 w_odd = _mm256_permute_ps(wg, _MM_SHUFFLE(3, 1, 3, 1));
                for (std::size_t i = 0; i < kLines; ++i) {
                    const __m256i x =
                        _mm256_load_si256(reinterpret_cast<const __m256i *>(row + 32 * i));
                    __m256i even = _mm256_slli_epi16(x, 8);
                    __m256i odd = x;
                    if (kE4m3) {
                        even = _mm256_srai_epi16(even, 1);
                        odd = _mm256_srai_epi16(odd, 1);
                    }
                    even = _mm256_and_si256(even, keep);
                    odd = _mm256_and_si256(odd, keep);
                    __m256 lo = acc[2 * i], hi = acc[2 * i + 1];
                    lo = _mm256_fmadd_ps(w_even, _mm256_cvtph_ps(_mm256_castsi256_si128(even)), lo);
                    hi = _mm256_fmadd_ps(w_even, _mm256_cvtph_ps(_mm256_extracti128_si256(even, 1)),
                                         hi);
                    lo = _mm256_fmadd_ps(w_odd, _mm256_cvtph_ps(_mm256_castsi256_si128(odd)), lo);
                    hi = _mm256_fmadd_ps(w_odd, _mm256_cvtph_ps(_mm256_extracti128_si256(odd, 1)),
                                         hi);
                    acc[2 * i] = lo;
                    acc[2 * i + 1] = hi;
                }
            }
            for (std::size_t i = 0; i < 2 * kLines; ++i) {
                _mm256_store_ps(lanes + 2 * t + 8 * i, acc[i]);
            }
        }
    }
    const float unscale = kE4m3 ? 256.0f : 1.0f;
    for (std::size_t s = 0; s < kBlockVectors; ++s) {
        out[s] = (lanes[2 * s] + lanes[2 * s + 1]) * unscale;
    }
}

void dot_e4m3_block_avx2(const float *w, const uint8_t *block, std::size_t groups, float *out,
                         const uint8_t *next) {
    dot_fp8_block_avx2<true>(w, block, groups, out, next);
}

void dot_e5m2_block_avx2(const float *w, const uint8_t *block, std::size_t groups, float *out,
                         const uint8_t *next) {
    dot_fp8_block_avx2<false>(w, block, groups, out, next);
}

void mask_le_avx2(const float *s, float threshold, uint64_t *mask) {
    const __m256 t = _mm256_set1_ps(threshold);
    for (std::size_t w = 0; w < kBlockVectors / 64; ++w) {
        uint64_t m = 0;
        for (std::size_t j = 0; j < 64; j += 8) {
            const __m256 c = _mm256_cmp_ps(_mm256_load_ps(s + 64 * w + j), t, _CMP_LE_OQ);
            m |= static_cast<uint64_t>(static_cast<unsigned>(_mm256_movemask_ps(c))) << j;
        }
        mask[w] = m;
    }
}

void mask_le_i32_avx2(const int32_t *s, int32_t threshold, uint64_t *mask) {
    const __m256i t = _mm256_set1_epi32(threshold);
    for (std::size_t w = 0; w < kBlockVectors / 64; ++w) {
        uint64_t m = 0;
        for (std::size_t j = 0; j < 64; j += 8) {
            const __m256i x =
                _mm256_load_si256(reinterpret_cast<const __m256i *>(s + 64 * w + j));
            // x <= t is !(x > t): the lanes where the comparison is false.
            const auto bits = static_cast<unsigned>(
                _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(x, t))) ^ 0xff);
            m |= static_cast<uint64_t>(bits) << j;
        }
        mask[w] = m;
    }
}

// Constant-initialized: no code of this unit runs at load time.
constexpr KernelTable kTable{Level::avx2,          "avx2",
                             &dot_f32_avx2,        &l2sq_f32_avx2,
                             &dot_f32_block_avx2,  &l2sq_f32_block_avx2,
                             &dot_u8_block_avx2,   &dot_u4_block_avx2,
                             &hamming_block_avx2,  &dot_f16_block_avx2,
                             &dot_bf16_block_avx2, &dot_e4m3_block_avx2,
                             &dot_e5m2_block_avx2, &mask_le_avx2,
                             &mask_le_i32_avx2};

} // namespace

const KernelTable *kernel_table_avx2() {
    return &kTable;
}

} // namespace pocketvec::kernels
