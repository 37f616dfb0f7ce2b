// The avx512 level. Compiled with -mavx512f -mavx512bw -mavx512dq -mavx512cd -mavx512vl, and only
// called after dispatch.cpp checked that this CPU and OS can run all five.
//  - f32, bf16: the generic xsimd kernels for xsimd::avx512bw.
//  - f16, e4m3, e5m2: VCVTPH2PS (part of AVX-512F); an fp8 byte becomes the binary16 it equals
//    (e5m2 exactly; e4m3 divided by 2^8, undone once per score).
//  - int8, int4, binary: code_x86.hpp over 512-bit registers; and, in the variants this unit
//    offers when the CPU has them, VPDPWSSD / VPDPBUSD (AVX512-VNNI) for int8 / int4 and VPOPCNTD
//    (AVX512-VPOPCNTDQ) for binary. Those kernels carry a target attribute, so only they are
//    compiled for the extension, and dispatch puts them in a table only when cpuid reports it.
// GCC 12's AVX-512 headers build some results from _mm512_undefined_*(), which its own
// -Wmaybe-uninitialized then reports inside the intrinsics; nothing here reads an undefined lane.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include "kernels/code_x86.hpp"
#include "kernels/f32_generic.hpp"

#include <cstring>
#include <immintrin.h>

#if !(XSIMD_WITH_AVX512BW)
#error "kernels_avx512.cpp needs -mavx512f -mavx512bw -mavx512dq -mavx512cd -mavx512vl"
#endif

namespace pocketvec::kernels {

const KernelTable *kernel_table_avx512(bool vnni, bool vpopcntdq);

namespace {

using Arch = xsimd::avx512bw;

struct Ops512 {
    using V = __m512i;
    static constexpr std::size_t kSlots = 16;
    static V zero() { return _mm512_setzero_si512(); }
    static V set1(int32_t x) { return _mm512_set1_epi32(x); }
    static V load(const uint8_t *p) { return _mm512_load_si512(p); }
    static V load_acc(const int32_t *p) { return _mm512_load_si512(p); }
    static void store(int32_t *p, V v) { _mm512_store_si512(p, v); }
    static V add32(V a, V b) { return _mm512_add_epi32(a, b); }
    static V sub32(V a, V b) { return _mm512_sub_epi32(a, b); }
    static V add16(V a, V b) { return _mm512_add_epi16(a, b); }
    static V add8(V a, V b) { return _mm512_add_epi8(a, b); }
    static V and_(V a, V b) { return _mm512_and_si512(a, b); }
    static V xor_(V a, V b) { return _mm512_xor_si512(a, b); }
    template <int N> static V srli16(V a) { return _mm512_srli_epi16(a, N); }
    template <int N> static V srli32(V a) { return _mm512_srli_epi32(a, N); }
    static V madd16(V a, V b) { return _mm512_madd_epi16(a, b); }
    static V maddubs(V u8, V s8) { return _mm512_maddubs_epi16(u8, s8); }
    static V shuffle8(V table, V idx) { return _mm512_shuffle_epi8(table, idx); }
    static V set_nibble_popcounts() {
        return _mm512_broadcast_i32x4(
            _mm_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4));
    }
};

float dot_f32_avx512(const float *a, const float *b, std::size_t n) {
    return dot_f32_row<Arch>(a, b, n);
}

float l2sq_f32_avx512(const float *a, const float *b, std::size_t n) {
    return l2sq_f32_row<Arch>(a, b, n);
}

void dot_f32_block_avx512(const float *q, const float *block, std::size_t dim, float *out,
                          const float *next) {
    dot_f32_block_tiled<Arch>(q, block, dim, out, next);
}

void l2sq_f32_block_avx512(const float *q, const float *block, std::size_t dim, float *out,
                           const float *next) {
    l2sq_f32_block_tiled<Arch>(q, block, dim, out, next);
}

void dot_u8_block_avx512(const int16_t *q, const uint8_t *block, std::size_t groups, int32_t *out,
                         const uint8_t *next) {
    dot_u8_generic<Ops512, 16>(q, block, groups, out, next);
}

void dot_u4_block_avx512(const int16_t *q, const uint8_t *block, std::size_t groups, int32_t *out,
                         const uint8_t *next) {
    dot_u4_generic<Ops512, 16>(q, block, groups, out, next);
}

void hamming_block_avx512(const uint32_t *q, const uint8_t *block, std::size_t groups,
                          uint32_t *out, const uint8_t *next) {
    hamming_pshufb<Ops512, 8>(q, block, groups, out, next);
}

void dot_bf16_block_avx512(const float *w, const uint8_t *block, std::size_t groups, float *out,
                           const uint8_t *next) {
    dot_bf16_block_tiled<Arch>(w, block, groups, out, next);
}

#ifndef XF16_ACC
#define XF16_ACC 8
#define XF16_PF 2
#endif
// f16: each 32-byte half of a 64-byte line is 8 slots x (lo, hi); converted, its lanes alternate
// lo/hi of one slot, so the weights alternate too and the two halves are added once per tile.
// Tiles of 128 slots (16 accumulators, two tiles per row): with four tiles of 64 the per-tile
// prefetch read 512 MiB of codes from memory at 9.0 GB/s against 9.6 (same in L2).
void dot_f16_block_avx512(const float *w, const uint8_t *block, std::size_t groups, float *out,
                          const uint8_t *next) {
    constexpr std::size_t kAcc = 16;
    constexpr std::size_t kTile = kAcc * 8;     // slots
    alignas(64) float lanes[2 * kBlockVectors]; // slot s: its lo and hi sums at 2s, 2s + 1
    for (std::size_t g0 = 0; g0 < groups || g0 == 0; g0 += kChunkGroups) {
        const std::size_t g1 = std::min(groups, g0 + kChunkGroups);
        for (std::size_t t = 0; t < kBlockVectors; t += kTile) {
            __m512 acc[kAcc];
            for (std::size_t i = 0; i < kAcc; ++i) {
                acc[i] = g0 == 0 ? _mm512_setzero_ps() : _mm512_load_ps(lanes + 2 * t + 16 * i);
            }
            const uint8_t *row = block + (g0 * kBlockVectors + t) * kGroupBytes;
            for (std::size_t g = g0; g < g1; ++g, row += kBlockVectors * kGroupBytes) {
                prefetch_ahead(block, next, row, g, groups, kTile * kGroupBytes, t == 0);
                double pair;
                std::memcpy(&pair, w + 2 * g, sizeof pair);
                const __m512 wg = _mm512_castpd_ps(_mm512_set1_pd(pair));
                for (std::size_t i = 0; i < kAcc; ++i) {
                    const __m256i h =
                        _mm256_load_si256(reinterpret_cast<const __m256i *>(row + 32 * i));
                    acc[i] = _mm512_fmadd_ps(wg, _mm512_cvtph_ps(h), acc[i]);
                }
            }
            for (std::size_t i = 0; i < kAcc; ++i) {
                _mm512_store_ps(lanes + 2 * t + 16 * i, acc[i]);
            }
        }
    }
    for (std::size_t s = 0; s < kBlockVectors; ++s) {
        out[s] = lanes[2 * s] + lanes[2 * s + 1];
    }
}

// fp8: one 64-byte load is 16 slots x 4 bytes. Each byte becomes the binary16 it equals without
// widening: as 16-bit words the loaded line holds (b0, b1) and (b2, b3) of every slot, so the odd
// bytes already sit in the high byte of a word and a 16-bit shift moves the even ones there. An
// e5m2 byte in the high byte of a word is that binary16; an e4m3 byte s.eeee.mmm becomes
// s.0eeee.mmm0000000, e4m3(b) * 2^-8 (subnormals included: VCVTPH2PS converts binary16
// subnormals to normal floats, so no FMA ever sees a denormal input), undone once per score.
// Converted, the lanes of the even words hold (b0, b2) and those of the odd words (b1, b3) of 8
// slots, so each slot keeps two sums, (b0, b1) and (b2, b3), added once at the end.
template <bool kE4m3>
void dot_fp8_block_avx512(const float *w, const uint8_t *block, std::size_t groups, float *out,
                          const uint8_t *next) {
    constexpr std::size_t kLines = 8;              // 64-byte lines (16 slots each) per tile
    constexpr std::size_t kTile = kLines * 16;     // slots
    const __m512i keep = _mm512_set1_epi32(kE4m3 ? static_cast<int>(0xbf80bf80u)
                                                 : static_cast<int>(0xff00ff00u));
    alignas(64) float lanes[2 * kBlockVectors]; // slot s: its (b0, b1) and (b2, b3) sums
    for (std::size_t g0 = 0; g0 < groups || g0 == 0; g0 += kChunkGroups) {
        const std::size_t g1 = std::min(groups, g0 + kChunkGroups);
        for (std::size_t t = 0; t < kBlockVectors; t += kTile) {
            __m512 acc[2 * kLines]; // line i: slots 0-7 in acc[2i], slots 8-15 in acc[2i + 1]
            for (std::size_t i = 0; i < 2 * kLines; ++i) {
                acc[i] = g0 == 0 ? _mm512_setzero_ps() : _mm512_load_ps(lanes + 2 * t + 16 * i);
            }
            const uint8_t *row = block + (g0 * kBlockVectors + t) * kGroupBytes;
            for (std::size_t g = g0; g < g1; ++g, row += kBlockVectors * kGroupBytes) {
                prefetch_ahead(block, next, row, g, groups, kTile * kGroupBytes, t == 0);
                const __m512 wg = _mm512_broadcast_f32x4(_mm_loadu_ps(w + 4 * g));
                const __m512 w_even = _mm512_permute_ps(wg, _MM_SHUFFLE(2, 0, 2, 0));
                const __m512 w_odd = _mm512_permute_ps(wg, _MM_SHUFFLE(3, 1, 3, 1));
                for (std::size_t i = 0; i < kLines; ++i) {
                    const __m512i x = _mm512_load_si512(row + 64 * i);
                    __m512i even = _mm512_slli_epi16(x, 8);
                    __m512i odd = x;
                    if (kE4m3) {
                        even = _mm512_srai_epi16(even, 1);
                        odd = _mm512_srai_epi16(odd, 1);
                    }
                    even = _mm512_and_si512(even, keep);
                    odd = _mm512_and_si512(odd, keep);
                    __m512 lo = acc[2 * i], hi = acc[2 * i + 1];
                    lo = _mm512_fmadd_ps(w_even, _mm512_cvtph_ps(_mm512_castsi512_si256(even)), lo);
                    hi = _mm512_fmadd_ps(w_even, _mm512_cvtph_ps(_mm512_extracti64x4_epi64(even, 1)),
                                         hi);
                    lo = _mm512_fmadd_ps(w_odd, _mm512_cvtph_ps(_mm512_castsi512_si256(odd)), lo);
                    hi = _mm512_fmadd_ps(w_odd, _mm512_cvtph_ps(_mm512_extracti64x4_epi64(odd, 1)),
                                         hi);
                    acc[2 * i] = lo;
                    acc[2 * i + 1] = hi;
                }
            }
            for (std::size_t i = 0; i < 2 * kLines; ++i) {
                _mm512_store_ps(lanes + 2 * t + 16 * i, acc[i]);
            }
        }
    }
    const float unscale = kE4m3 ? 256.0f : 1.0f;
    for (std::size_t s = 0; s < kBlockVectors; ++s) {
        out[s] = (lanes[2 * s] + lanes[2 * s + 1]) * unscale;
    }
}

void dot_e4m3_block_avx512(const float *w, const uint8_t *block, std::size_t groups, float *out,
                           const uint8_t *next) {
    dot_fp8_block_avx512<true>(w, block, groups, out, next);
}

void dot_e5m2_block_avx512(const float *w, const uint8_t *block, std::size_t groups, float *out,
                           const uint8_t *next) {
    dot_fp8_block_avx512<false>(w, block, groups, out, next);
}

void mask_le_avx512(const float *s, float threshold, uint64_t *mask) {
    const __m512 t = _mm512_set1_ps(threshold);
    for (std::size_t w = 0; w < kBlockVectors / 64; ++w) {
        uint64_t m = 0;
        for (std::size_t j = 0; j < 64; j += 16) {
            const __mmask16 c = _mm512_cmp_ps_mask(_mm512_load_ps(s + 64 * w + j), t, _CMP_LE_OQ);
            m |= static_cast<uint64_t>(c) << j;
        }
        mask[w] = m;
    }
}

void mask_le_i32_avx512(const int32_t *s, int32_t threshold, uint64_t *mask) {
    const __m512i t = _mm512_set1_epi32(threshold);
    for (std::size_t w = 0; w < kBlockVectors / 64; ++w) {
        uint64_t m = 0;
        for (std::size_t j = 0; j < 64; j += 16) {
            const __mmask16 c = _mm512_cmple_epi32_mask(_mm512_load_si512(s + 64 * w + j), t);
            m |= static_cast<uint64_t>(c) << j;
        }
        mask[w] = m;
    }
}

// ---- AVX512-VNNI: VPDPWSSD multiplies s16 pairs and adds both products into each 32-bit lane,
// exactly: the even and odd bytes of every slot's group, widened in place by a mask and a shift,
// against the query's (q0, q2) and (q1, q3) pairs. One accumulator per 16 slots covers a whole
// 1 KB row of the block per group, so the block is read strictly in order.
#define PVEC_TARGET_VNNI __attribute__((target("avx512vnni")))

PVEC_TARGET_VNNI void dot_u8_block_vnni(const int16_t *q, const uint8_t *block, std::size_t groups,
                                        int32_t *out, const uint8_t *next) {
    const __m512i low_bytes = _mm512_set1_epi32(0x00ff00ff);
    __m512i acc[16];
    for (__m512i &a : acc) {
        a = _mm512_setzero_si512();
    }
    const uint8_t *row = block;
    for (std::size_t g = 0; g < groups; ++g, row += kBlockVectors * kGroupBytes) {
        prefetch_ahead(block, next, row, g, groups, kRowBytes, true);
        const int16_t *qg = q + 4 * g;
        const __m512i even = _mm512_set1_epi32(pair16(qg[0], qg[2]));
        const __m512i odd = _mm512_set1_epi32(pair16(qg[1], qg[3]));
        for (std::size_t i = 0; i < 16; ++i) {
            const __m512i x = _mm512_load_si512(row + 64 * i);
            acc[i] = _mm512_dpwssd_epi32(acc[i], _mm512_and_si512(x, low_bytes), even);
            acc[i] = _mm512_dpwssd_epi32(acc[i], _mm512_srli_epi16(x, 8), odd);
        }
    }
    for (std::size_t i = 0; i < 16; ++i) {
        _mm512_store_si512(out + 16 * i, acc[i]);
    }
}

// int4 with VPDPBUSD (unsigned bytes x signed bytes, four products added into each 32-bit lane),
// one sum per slot over whole rows. A code byte is x = 16 h + l (h, l its high and low nibbles,
// weights wh and wl); with m = x & 0xf0 = 16 h, l16 = (x << 4) & 0xf0 = 16 l and m >> 4 = h,
//   A x + B m + C l16 + D h = l (A + 16 C) + h (16 A + 16 B + D),
// so wl = 16 C + A and wh - 16 A = 16 B + D (A, D in [-8, 8)) give l wl + h wh with four int8
// factors (|C|, |B| <= 127 for |w| <= kMaxInt4QueryWeight) and three cheap operations per line.
// One accumulator per 16 slots covers a whole 1 KB row per group, so the block is read strictly
// in order, as dot_u8_block_vnni reads it: with tiles of half rows and two sums per slot (the
// split 64 * hi + lo of kMaxQueryWeight), int4 read 400,000 x 384 codes (77 MB, in L3) at 9 GB/s
// where the int8 kernel read its 154 MB at 12. The sums wrap modulo 2^32 only where the true sum
// would not fit int32, which KernelTable's bound excludes.
PVEC_TARGET_VNNI void dot_u4_block_vnni(const int16_t *q, const uint8_t *block, std::size_t groups,
                                        int32_t *out, const uint8_t *next) {
    const __m512i high = _mm512_set1_epi8(static_cast<char>(0xf0));
    __m512i acc[16];
    for (__m512i &a : acc) {
        a = _mm512_setzero_si512();
    }
    const uint8_t *row = block;
    for (std::size_t g = 0; g < groups; ++g, row += kBlockVectors * kGroupBytes) {
        prefetch_ahead(block, next, row, g, groups, kRowBytes, true);
        const __m128i qg = _mm_loadu_si128(reinterpret_cast<const __m128i *>(q + 8 * g));
        const __m128i eight = _mm_set1_epi16(8);
        const __m128i c = _mm_srai_epi16(_mm_add_epi16(qg, eight), 4);
        const __m128i a = _mm_sub_epi16(qg, _mm_slli_epi16(c, 4));
        const __m128i r = _mm_sub_epi16(qg, _mm_slli_epi16(_mm_unpacklo_epi64(a, a), 4));
        const __m128i b = _mm_srai_epi16(_mm_add_epi16(r, eight), 4);
        const __m128i d = _mm_sub_epi16(r, _mm_slli_epi16(b, 4));
        const __m128i ac = _mm_packs_epi16(a, c);
        const __m128i bd = _mm_packs_epi16(b, d);
        const __m512i wa = _mm512_set1_epi32(_mm_cvtsi128_si32(ac));
        const __m512i wc = _mm512_set1_epi32(_mm_extract_epi32(ac, 2));
        const __m512i wb = _mm512_set1_epi32(_mm_extract_epi32(bd, 1));
        const __m512i wd = _mm512_set1_epi32(_mm_extract_epi32(bd, 3));
        for (std::size_t i = 0; i < 16; ++i) {
            const __m512i x = _mm512_load_si512(row + 64 * i);
            const __m512i m = _mm512_and_si512(x, high);
            const __m512i l16 = _mm512_and_si512(_mm512_slli_epi16(x, 4), high);
            const __m512i h = _mm512_srli_epi16(m, 4);
            acc[i] = _mm512_dpbusd_epi32(acc[i], x, wa);
            acc[i] = _mm512_dpbusd_epi32(acc[i], m, wb);
            acc[i] = _mm512_dpbusd_epi32(acc[i], l16, wc);
            acc[i] = _mm512_dpbusd_epi32(acc[i], h, wd);
        }
    }
    for (std::size_t i = 0; i < 16; ++i) {
        _mm512_store_si512(out + 16 * i, acc[i]);
    }
}

// ---- AVX512-VPOPCNTDQ: one VPOPCNTD per 16 slots.
__attribute__((target("avx512vpopcntdq"))) void
hamming_block_vpopcnt(const uint32_t *q, const uint8_t *block, std::size_t groups, uint32_t *out,
                      const uint8_t *next) {
    __m512i acc[16];
    for (__m512i &a : acc) {
        a = _mm512_setzero_si512();
    }
    const uint8_t *row = block;
    for (std::size_t g = 0; g < groups; ++g, row += kBlockVectors * kGroupBytes) {
        prefetch_ahead(block, next, row, g, groups, kRowBytes, true);
        const __m512i qg = _mm512_set1_epi32(static_cast<int32_t>(q[g]));
        for (std::size_t i = 0; i < 16; ++i) {
            const __m512i x = _mm512_xor_si512(_mm512_load_si512(row + 64 * i), qg);
            acc[i] = _mm512_add_epi32(acc[i], _mm512_popcnt_epi32(x));
        }
    }
    for (std::size_t i = 0; i < 16; ++i) {
        _mm512_store_si512(out + 16 * i, acc[i]);
    }
}

#undef PVEC_TARGET_VNNI

constexpr KernelTable make_table(const char *name, bool vnni, bool vpopcntdq) {
    return KernelTable{Level::avx512,
                       name,
                       &dot_f32_avx512,
                       &l2sq_f32_avx512,
                       &dot_f32_block_avx512,
                       &l2sq_f32_block_avx512,
                       vnni ? &dot_u8_block_vnni : &dot_u8_block_avx512,
                       vnni ? &dot_u4_block_vnni : &dot_u4_block_avx512,
                       vpopcntdq ? &hamming_block_vpopcnt : &hamming_block_avx512,
                       &dot_f16_block_avx512,
                       &dot_bf16_block_avx512,
                       &dot_e4m3_block_avx512,
                       &dot_e5m2_block_avx512,
                       &mask_le_avx512,
                       &mask_le_i32_avx512};
}

// Constant-initialized: no code of this unit runs at load time.
constexpr KernelTable kTables[2][2] = {
    {make_table("avx512", false, false), make_table("avx512+vpopcntdq", false, true)},
    {make_table("avx512+vnni", true, false), make_table("avx512+vnni+vpopcntdq", true, true)}};

} // namespace

// The variant for these extensions; the caller has checked that the CPU has them.
const KernelTable *kernel_table_avx512(bool vnni, bool vpopcntdq) {
    return &kTables[vnni ? 1 : 0][vpopcntdq ? 1 : 0];
}

} // namespace pocketvec::kernels
