// The neon level. NEON is the aarch64 baseline, so this unit needs no extra flags; it is only
// built on aarch64.
//  - f32, bf16: the generic xsimd kernels for xsimd::neon64.
//  - f16, e4m3, e5m2: FCVTL (binary16 -> binary32, part of base aarch64); an fp8 byte becomes the
//    binary16 it equals (e5m2 exactly, e4m3 divided by 2^8, undone once per score).
//  - int8, int4: widening multiply-accumulate (SMLAL); binary: CNT.
//  - the "neon+dotprod" variant (when the CPU reports the dot-product extension): SDOT for int8
//    and int4. Those kernels carry a target attribute, so only they use the extension.
#include "kernels/f32_generic.hpp"

#include <algorithm>
#include <arm_neon.h>
#include <cstring>

#if !(XSIMD_WITH_NEON64)
#error "kernels_neon.cpp must be compiled with aarch64 NEON (the aarch64 baseline)"
#endif

namespace pocketvec::kernels {

const KernelTable *kernel_table_neon(bool dotprod);

namespace {

using Arch = xsimd::neon64;

constexpr std::size_t kRow = kBlockVectors * kGroupBytes; // bytes from one group to the next

float dot_f32_neon(const float *a, const float *b, std::size_t n) {
    return dot_f32_row<Arch>(a, b, n);
}

float l2sq_f32_neon(const float *a, const float *b, std::size_t n) {
    return l2sq_f32_row<Arch>(a, b, n);
}

void dot_f32_block_neon(const float *q, const float *block, std::size_t dim, float *out,
                        const float *next) {
    dot_f32_block_tiled<Arch>(q, block, dim, out, next);
}

void l2sq_f32_block_neon(const float *q, const float *block, std::size_t dim, float *out,
                         const float *next) {
    l2sq_f32_block_tiled<Arch>(q, block, dim, out, next);
}

void dot_bf16_block_neon(const float *w, const uint8_t *block, std::size_t groups, float *out,
                         const uint8_t *next) {
    dot_bf16_block_tiled<Arch>(w, block, groups, out, next);
}

// Byte codes (one per dimension, 4 per group) through widening multiply-accumulate: each slot of a
// tile of 16 has its own 4-lane accumulator, summed into `out` at the end of every chunk.
// `planes(x, p)` maps the 16 loaded bytes to plane p's byte codes (int8: the codes; int4: the low,
// then the high nibbles), weighted by q[4 * kPlanes * g + 4 * p + k].
template <std::size_t kPlanes, class Planes>
inline void dot_bytes_smlal(const int16_t *q, const uint8_t *block, std::size_t groups,
                            int32_t *out, const Planes &planes) {
    constexpr std::size_t kTile = 16;
    for (std::size_t v = 0; v < kBlockVectors; ++v) {
        out[v] = 0;
    }
    for (std::size_t g0 = 0; g0 < groups; g0 += kChunkGroups) {
        const std::size_t g1 = std::min(groups, g0 + kChunkGroups);
        prefetch_groups(block, g1, std::min(groups, g1 + kChunkGroups));
        for (std::size_t t = 0; t < kBlockVectors; t += kTile) {
            int32x4_t acc[kTile];
            for (int32x4_t &a : acc) {
                a = vdupq_n_s32(0);
            }
            const uint8_t *row = block + (g0 * kBlockVectors + t) * kGroupBytes;
            for (std::size_t g = g0; g < g1; ++g, row += kRow) {
                for (std::size_t p = 0; p < kPlanes; ++p) {
                    const int16x4_t q4 = vld1_s16(q + (4 * kPlanes) * g + 4 * p);
                    for (std::size_t i = 0; i < kTile / 4; ++i) {
                        const uint8x16_t x = planes(vld1q_u8(row + 16 * i), p);
                        const int16x8_t lo = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(x)));
                        const int16x8_t hi = vreinterpretq_s16_u16(vmovl_high_u8(x));
                        acc[4 * i] = vmlal_s16(acc[4 * i], vget_low_s16(lo), q4);
                        acc[4 * i + 1] = vmlal_s16(acc[4 * i + 1], vget_high_s16(lo), q4);
                        acc[4 * i + 2] = vmlal_s16(acc[4 * i + 2], vget_low_s16(hi), q4);
                        acc[4 * i + 3] = vmlal_s16(acc[4 * i + 3], vget_high_s16(hi), q4);
                    }
                }
            }
            for (std::size_t s = 0; s < kTile; ++s) {
                out[t + s] += vaddvq_s32(acc[s]);
            }
        }
    }
}

void dot_u8_block_neon(const int16_t *q, const uint8_t *block, std::size_t groups, int32_t *out,
                       const uint8_t * /*next*/) {
    dot_bytes_smlal<1>(q, block, groups, out, [](uint8x16_t x, std::size_t) { return x; });
}

void dot_u4_block_neon(const int16_t *q, const uint8_t *block, std::size_t groups, int32_t *out,
                       const uint8_t * /*next*/) {
    dot_bytes_smlal<2>(q, block, groups, out, [](uint8x16_t x, std::size_t plane) {
        return plane == 0 ? vandq_u8(x, vdupq_n_u8(0x0f)) : vshrq_n_u8(x, 4);
    });
}

// Binary: CNT gives byte counts (<= 8), summed in bytes over up to 31 groups (<= 248), then
// widened pairwise into each slot's 32-bit lane.
void hamming_block_neon(const uint32_t *q, const uint8_t *block, std::size_t groups,
                        uint32_t *out, const uint8_t * /*next*/) {
    constexpr std::size_t kAcc = 8;
    constexpr std::size_t kFlush = 31;
    for (std::size_t t = 0; t < kBlockVectors; t += 4 * kAcc) {
        uint32x4_t acc[kAcc];
        uint8x16_t bytes[kAcc];
        for (std::size_t i = 0; i < kAcc; ++i) {
            acc[i] = vdupq_n_u32(0);
            bytes[i] = vdupq_n_u8(0);
        }
        const uint8_t *row = block + t * kGroupBytes;
        for (std::size_t g = 0; g < groups; ++g, row += kRow) {
            const uint8x16_t qg = vreinterpretq_u8_u32(vdupq_n_u32(q[g]));
            for (std::size_t i = 0; i < kAcc; ++i) {
                const uint8x16_t x = veorq_u8(vld1q_u8(row + 16 * i), qg);
                bytes[i] = vaddq_u8(bytes[i], vcntq_u8(x));
            }
            if ((g + 1) % kFlush == 0 || g + 1 == groups) {
                for (std::size_t i = 0; i < kAcc; ++i) {
                    acc[i] = vaddq_u32(acc[i], vpaddlq_u16(vpaddlq_u8(bytes[i])));
                    bytes[i] = vdupq_n_u8(0);
                }
            }
        }
        for (std::size_t i = 0; i < kAcc; ++i) {
            vst1q_u32(out + t + 4 * i, acc[i]);
        }
    }
}

// f16: each 16 bytes are 4 slots x (lo, hi); converted, the lanes alternate lo/hi of one slot.
void dot_f16_block_neon(const float *w, const uint8_t *block, std::size_t groups, float *out,
                        const uint8_t * /*next*/) {
    constexpr std::size_t kAcc = 8;
    constexpr std::size_t kTile = kAcc * 2; // slots
    for (std::size_t t = 0; t < kBlockVectors; t += kTile) {
        float32x4_t acc[kAcc];
        for (float32x4_t &a : acc) {
            a = vdupq_n_f32(0.0f);
        }
        const uint8_t *row = block + t * kGroupBytes;
        for (std::size_t g = 0; g < groups; ++g, row += kRow) {
            const float32x2_t pair = vld1_f32(w + 2 * g);
            const float32x4_t wg = vcombine_f32(pair, pair);
            for (std::size_t i = 0; i < kAcc / 2; ++i) {
                const float16x8_t h = vreinterpretq_f16_u8(vld1q_u8(row + 16 * i));
                acc[2 * i] = vfmaq_f32(acc[2 * i], wg, vcvt_f32_f16(vget_low_f16(h)));
                acc[2 * i + 1] = vfmaq_f32(acc[2 * i + 1], wg, vcvt_high_f32_f16(h));
            }
        }
        for (std::size_t i = 0; i < kAcc; ++i) {
            const float32x4_t a = acc[i];
            out[t + 2 * i] = vgetq_lane_f32(a, 0) + vgetq_lane_f32(a, 1);
            out[t + 2 * i + 1] = vgetq_lane_f32(a, 2) + vgetq_lane_f32(a, 3);
        }
    }
}

// fp8: 4 slots (16 bytes) widen to 16 binary16 lanes; each converted quarter is one slot's group.
template <bool kE4m3>
void dot_fp8_block_neon(const float *w, const uint8_t *block, std::size_t groups, float *out) {
    constexpr std::size_t kTile = 16;
    const uint16x8_t sign = vdupq_n_u16(0x8000);
    const uint16x8_t magnitude = vdupq_n_u16(0x3f80);
    auto to_half = [&](uint16x8_t h) {
        if (kE4m3) {
            // s.eeee.mmm -> s.0eeee.mmm0000000: e4m3(b) * 2^-8 as binary16.
            h = vorrq_u16(vandq_u16(h, sign), vandq_u16(vshrq_n_u16(h, 1), magnitude));
        }
        return vreinterpretq_f16_u16(h);
    };
    for (std::size_t t = 0; t < kBlockVectors; t += kTile) {
        float32x4_t acc[kTile];
        for (float32x4_t &a : acc) {
            a = vdupq_n_f32(0.0f);
        }
        const uint8_t *row = block + t * kGroupBytes;
        for (std::size_t g = 0; g < groups; ++g, row += kRow) {
            const float32x4_t wg = vld1q_f32(w + 4 * g);
            for (std::size_t i = 0; i < kTile / 4; ++i) {
                const uint8x16_t x = vld1q_u8(row + 16 * i);
                const float16x8_t lo = to_half(vshll_n_u8(vget_low_u8(x), 8));
                const float16x8_t hi = to_half(vshll_high_n_u8(x, 8));
                acc[4 * i] = vfmaq_f32(acc[4 * i], wg, vcvt_f32_f16(vget_low_f16(lo)));
                acc[4 * i + 1] = vfmaq_f32(acc[4 * i + 1], wg, vcvt_high_f32_f16(lo));
                acc[4 * i + 2] = vfmaq_f32(acc[4 * i + 2], wg, vcvt_f32_f16(vget_low_f16(hi)));
                acc[4 * i + 3] = vfmaq_f32(acc[4 * i + 3], wg, vcvt_high_f32_f16(hi));
            }
        }
        const float unscale = kE4m3 ? 256.0f : 1.0f;
        for (std::size_t s = 0; s < kTile; ++s) {
            out[t + s] = vaddvq_f32(acc[s]) * unscale;
        }
    }
}

void dot_e4m3_block_neon(const float *w, const uint8_t *block, std::size_t groups, float *out,
                         const uint8_t * /*next*/) {
    dot_fp8_block_neon<true>(w, block, groups, out);
}

void dot_e5m2_block_neon(const float *w, const uint8_t *block, std::size_t groups, float *out,
                         const uint8_t * /*next*/) {
    dot_fp8_block_neon<false>(w, block, groups, out);
}

// mask[w] from the comparisons le(i) of lanes i .. i + 3 (all ones where a score passes): lane i of
// a comparison keeps bit i (AND with 1, 2, 4, 8, then add across).
template <class Le> void mask_from_lanes(const Le &le, uint64_t *mask) {
    const uint32_t weights[4] = {1, 2, 4, 8};
    const uint32x4_t bit = vld1q_u32(weights);
    for (std::size_t w = 0; w < kBlockVectors / 64; ++w) {
        uint64_t m = 0;
        for (std::size_t j = 0; j < 64; j += 4) {
            m |= static_cast<uint64_t>(vaddvq_u32(vandq_u32(le(64 * w + j), bit))) << j;
        }
        mask[w] = m;
    }
}

void mask_le_neon(const float *s, float threshold, uint64_t *mask) {
    const float32x4_t t = vdupq_n_f32(threshold);
    mask_from_lanes([&](std::size_t i) { return vcleq_f32(vld1q_f32(s + i), t); }, mask);
}

void mask_le_i32_neon(const int32_t *s, int32_t threshold, uint64_t *mask) {
    const int32x4_t t = vdupq_n_s32(threshold);
    mask_from_lanes([&](std::size_t i) { return vcleq_s32(vld1q_s32(s + i), t); }, mask);
}

// ---- Dot-product extension: SDOT sums four s8 x s8 products into each 32-bit lane. A weight
// (|q| <= 4032) splits into 64 * hi + lo with |hi| <= 63 and -32 <= lo < 32, both int8; int8 codes
// are unsigned, so they are scanned as c - 128 and 128 * sum(q) is added back. All exact.
// Every CPU with the dot-product extension implements at least Armv8.2-A.
#define PVEC_TARGET_DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))

// The hi and lo int8 halves of four weights, each broadcast to every 32-bit lane.
struct SplitWeights {
    int8x16_t hi, lo;
};

inline SplitWeights split_weights(const int16_t *q4) {
    const int16x4_t q = vld1_s16(q4);
    const int16x4_t hi = vshr_n_s16(vadd_s16(q, vdup_n_s16(32)), 6); // floor((q + 32) / 64)
    const int16x4_t lo = vsub_s16(q, vshl_n_s16(hi, 6));
    const int32x2_t both = vreinterpret_s32_s8(vmovn_s16(vcombine_s16(hi, lo)));
    return {vreinterpretq_s8_s32(vdupq_lane_s32(both, 0)),
            vreinterpretq_s8_s32(vdupq_lane_s32(both, 1))};
}

// Tiles of 8 registers (32 slots) with a hi and a lo accumulator each, chunk by chunk; `bytes(x,
// p)` gives plane p's signed bytes of 16 loaded code bytes, weighted by q[4 * kPlanes * g + 4p +
// k].
template <std::size_t kPlanes, class Bytes>
PVEC_TARGET_DOTPROD inline void dot_bytes_sdot(const int16_t *q, const uint8_t *block,
                                               std::size_t groups, int32_t *out,
                                               const Bytes &bytes) {
    constexpr std::size_t kAcc = 8;
    for (std::size_t v = 0; v < kBlockVectors; ++v) {
        out[v] = 0;
    }
    for (std::size_t g0 = 0; g0 < groups; g0 += kChunkGroups) {
        const std::size_t g1 = std::min(groups, g0 + kChunkGroups);
        prefetch_groups(block, g1, std::min(groups, g1 + kChunkGroups));
        for (std::size_t t = 0; t < kBlockVectors; t += 4 * kAcc) {
            int32x4_t hi[kAcc], lo[kAcc];
            for (std::size_t i = 0; i < kAcc; ++i) {
                hi[i] = vdupq_n_s32(0);
                lo[i] = vdupq_n_s32(0);
            }
            const uint8_t *row = block + (g0 * kBlockVectors + t) * kGroupBytes;
            for (std::size_t g = g0; g < g1; ++g, row += kRow) {
                for (std::size_t p = 0; p < kPlanes; ++p) {
                    const SplitWeights w = split_weights(q + (4 * kPlanes) * g + 4 * p);
                    for (std::size_t i = 0; i < kAcc; ++i) {
                        const int8x16_t x = bytes(vld1q_u8(row + 16 * i), p);
                        hi[i] = vdotq_s32(hi[i], x, w.hi);
                        lo[i] = vdotq_s32(lo[i], x, w.lo);
                    }
                }
            }
            for (std::size_t i = 0; i < kAcc; ++i) {
                // 64 * hi + lo in wrapping arithmetic: the true sum fits (KernelTable's bound).
                const uint32x4_t sum = vaddq_u32(vshlq_n_u32(vreinterpretq_u32_s32(hi[i]), 6),
                                                 vreinterpretq_u32_s32(lo[i]));
                const int32x4_t prev = vld1q_s32(out + t + 4 * i);
                vst1q_s32(out + t + 4 * i, vaddq_s32(prev, vreinterpretq_s32_u32(sum)));
            }
        }
    }
}

PVEC_TARGET_DOTPROD void dot_u8_block_sdot(const int16_t *q, const uint8_t *block,
                                           std::size_t groups, int32_t *out,
                                           const uint8_t * /*next*/) {
    int32_t q_sum = 0;
    for (std::size_t i = 0; i < 4 * groups; ++i) {
        q_sum += q[i];
    }
    dot_bytes_sdot<1>(q, block, groups, out, [](uint8x16_t x, std::size_t) {
        return vreinterpretq_s8_u8(veorq_u8(x, vdupq_n_u8(0x80)));
    });
    for (std::size_t v = 0; v < kBlockVectors; ++v) {
        out[v] = static_cast<int32_t>(static_cast<uint32_t>(out[v]) +
                                      128u * static_cast<uint32_t>(q_sum));
    }
}

PVEC_TARGET_DOTPROD void dot_u4_block_sdot(const int16_t *q, const uint8_t *block,
                                           std::size_t groups, int32_t *out,
                                           const uint8_t * /*next*/) {
    dot_bytes_sdot<2>(q, block, groups, out, [](uint8x16_t x, std::size_t plane) {
        return vreinterpretq_s8_u8(plane == 0 ? vandq_u8(x, vdupq_n_u8(0x0f)) : vshrq_n_u8(x, 4));
    });
}

#undef PVEC_TARGET_DOTPROD

constexpr KernelTable make_table(const char *name, bool dotprod) {
    return KernelTable{Level::neon,
                       name,
                       &dot_f32_neon,
                       &l2sq_f32_neon,
                       &dot_f32_block_neon,
                       &l2sq_f32_block_neon,
                       dotprod ? &dot_u8_block_sdot : &dot_u8_block_neon,
                       dotprod ? &dot_u4_block_sdot : &dot_u4_block_neon,
                       &hamming_block_neon,
                       &dot_f16_block_neon,
                       &dot_bf16_block_neon,
                       &dot_e4m3_block_neon,
                       &dot_e5m2_block_neon,
                       &mask_le_neon,
                       &mask_le_i32_neon};
}

// Constant-initialized: no code of this unit runs at load time.
constexpr KernelTable kTables[2] = {make_table("neon", false), make_table("neon+dotprod", true)};

} // namespace

// The variant for these extensions; the caller has checked that the CPU has them.
const KernelTable *kernel_table_neon(bool dotprod) {
    return &kTables[dotprod ? 1 : 0];
}

} // namespace pocketvec::kernels
