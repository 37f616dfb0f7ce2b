// Integer code block kernels (int8, int4, binary) for the x86 level units, written once over an
// `Ops` struct that each unit defines for its register width (SSE2 __m128i, AVX2 __m256i, AVX-512
// __m512i). Same rules as f32_generic.hpp: include from exactly one level unit per Ops, everything
// in an anonymous namespace so no instantiation is shared across units compiled with other flags.
//
// An Ops struct provides:
//   using V;  static constexpr std::size_t kSlots;   // 32-bit lanes (= slots) per register
//   V zero(); V set1(int32_t); V load(const uint8_t *), V load_acc(const int32_t *),
//   void store(int32_t *, V) (all aligned)
//   V add32(V, V); V and_(V, V); V xor_(V, V); V srli16<N>(V); V srli32<N>(V); V sub32(V, V)
//   V madd16(V, V)   // pmaddwd: s16 x s16, adjacent pairs summed into s32
//   for hamming_pshufb (SSSE3 and later) also: V maddubs(V u8, V s8) (pmaddubsw),
//   V shuffle8(V table, V idx), V add8(V, V), V set_nibble_popcounts()
//
// Every kernel is exact (integer sums; KernelTable documents the bounds that keep them in range).
#pragma once

#include "kernels/chunks.h"
#include "kernels/kernels.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace pocketvec::kernels {
namespace {

// Two s16 values in one 32-bit lane: lo in bits 0..15, hi in bits 16..31.
inline int32_t pair16(int lo, int hi) {
    return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(lo)) |
                                static_cast<uint32_t>(static_cast<uint16_t>(hi)) << 16);
}

// Runs body(acc, x, query) over every register of each tile of kAcc registers for every group,
// chunk by chunk: the tile's accumulators stay in registers while a chunk's groups stream past and
// go through `out` between chunks; each tile prefetches its lines a chunk ahead (chunks.h).
// `per_group(g)` prepares group g's broadcast query registers.
template <class Ops, std::size_t kAcc, class PerGroup, class Body>
inline void int_tiles(const uint8_t *block, const uint8_t *next, std::size_t groups, int32_t *out,
                      const PerGroup &per_group, const Body &body) {
    using V = typename Ops::V;
    constexpr std::size_t kTile = kAcc * Ops::kSlots;
    static_assert(kBlockVectors % kTile == 0, "a block must split into whole tiles");
    for (std::size_t g0 = 0; g0 < groups || g0 == 0; g0 += kChunkGroups) {
        const std::size_t g1 = std::min(groups, g0 + kChunkGroups);
        for (std::size_t t = 0; t < kBlockVectors; t += kTile) {
            V acc[kAcc];
            for (std::size_t i = 0; i < kAcc; ++i) {
                acc[i] = g0 == 0 ? Ops::zero() : Ops::load_acc(out + t + i * Ops::kSlots);
            }
            const uint8_t *row = block + (g0 * kBlockVectors + t) * kGroupBytes;
            for (std::size_t g = g0; g < g1; ++g, row += kBlockVectors * kGroupBytes) {
                prefetch_ahead(block, next, row, g, groups, kTile * kGroupBytes, t == 0);
                const auto qg = per_group(g);
                for (std::size_t i = 0; i < kAcc; ++i) {
                    acc[i] = body(acc[i], Ops::load(row + i * Ops::kSlots * kGroupBytes), qg);
                }
            }
            for (std::size_t i = 0; i < kAcc; ++i) {
                Ops::store(out + t + i * Ops::kSlots, acc[i]);
            }
        }
    }
}

template <class Ops> struct QueryPair { typename Ops::V even, odd; };

// int8 codes: the even bytes (0, 2) and the odd bytes (1, 3) of each slot's group, widened to s16
// in place by a mask and a shift, each multiplied by its query pair with pmaddwd. No widening
// shuffle, no saturation: each product fits s16 x s16 -> s32 exactly.
template <class Ops, std::size_t kAcc>
void dot_u8_generic(const int16_t *q, const uint8_t *block, std::size_t groups, int32_t *out,
                    const uint8_t *next) {
    using V = typename Ops::V;
    const V low_bytes = Ops::set1(0x00ff00ff);
    int_tiles<Ops, kAcc>(
        block, next, groups, out,
        [&](std::size_t g) {
            const int16_t *qg = q + 4 * g;
            return QueryPair<Ops>{Ops::set1(pair16(qg[0], qg[2])), Ops::set1(pair16(qg[1], qg[3]))};
        },
        [&](V acc, V x, const QueryPair<Ops> &qg) {
            const V even = Ops::madd16(Ops::and_(x, low_bytes), qg.even);
            const V odd = Ops::madd16(Ops::template srli16<8>(x), qg.odd);
            return Ops::add32(acc, Ops::add32(even, odd));
        });
}

template <class Ops> struct QueryQuad { typename Ops::V lo_even, lo_odd, hi_even, hi_odd; };

// int4 codes: the low and high nibbles, each split into even and odd bytes as in dot_u8_generic
// (int16 weights rule out pmaddubsw).
template <class Ops, std::size_t kAcc>
void dot_u4_generic(const int16_t *q, const uint8_t *block, std::size_t groups, int32_t *out,
                    const uint8_t *next) {
    using V = typename Ops::V;
    const V low_nibbles = Ops::set1(0x000f000f);
    int_tiles<Ops, kAcc>(
        block, next, groups, out,
        [&](std::size_t g) {
            const int16_t *lo = q + 8 * g;
            const int16_t *hi = lo + 4;
            return QueryQuad<Ops>{Ops::set1(pair16(lo[0], lo[2])), Ops::set1(pair16(lo[1], lo[3])),
                                  Ops::set1(pair16(hi[0], hi[2])), Ops::set1(pair16(hi[1], hi[3]))};
        },
        [&](V acc, V x, const QueryQuad<Ops> &qg) {
            // Nibble j of a 16-bit half sits at bit 4j: bytes 0/2 hold nibbles 0 (lo) and 1 (hi),
            // bytes 1/3 nibbles 2 (lo) and 3 (hi).
            const V s0 = Ops::madd16(Ops::and_(x, low_nibbles), qg.lo_even);
            const V s1 =
                Ops::madd16(Ops::and_(Ops::template srli16<4>(x), low_nibbles), qg.hi_even);
            const V s2 = Ops::madd16(Ops::and_(Ops::template srli16<8>(x), low_nibbles), qg.lo_odd);
            const V s3 = Ops::madd16(Ops::template srli16<12>(x), qg.hi_odd);
            return Ops::add32(acc, Ops::add32(Ops::add32(s0, s1), Ops::add32(s2, s3)));
        });
}

// Binary codes, SWAR popcount of each 32-bit lane (SSE2: no byte shuffle, no POPCNT).
template <class Ops, std::size_t kAcc>
void hamming_swar(const uint32_t *q, const uint8_t *block, std::size_t groups, uint32_t *out,
                  const uint8_t *next) {
    using V = typename Ops::V;
    const V m1 = Ops::set1(0x55555555), m2 = Ops::set1(0x33333333), m4 = Ops::set1(0x0f0f0f0f);
    const V m6 = Ops::set1(0x3f);
    int_tiles<Ops, kAcc>(
        block, next, groups, reinterpret_cast<int32_t *>(out),
        [&](std::size_t g) { return Ops::set1(static_cast<int32_t>(q[g])); },
        [&](V acc, V x, V qg) {
            V v = Ops::xor_(x, qg);
            v = Ops::sub32(v, Ops::and_(Ops::template srli32<1>(v), m1));
            v = Ops::add32(Ops::and_(v, m2), Ops::and_(Ops::template srli32<2>(v), m2));
            v = Ops::and_(Ops::add32(v, Ops::template srli32<4>(v)), m4);
            v = Ops::add32(v, Ops::template srli32<8>(v));
            v = Ops::add32(v, Ops::template srli32<16>(v));
            return Ops::add32(acc, Ops::and_(v, m6));
        });
}

// Binary codes, nibble-table popcount with pshufb: byte counts (<= 8 each) are summed in bytes
// over one chunk of kChunkGroups (<= 128), then widened into the slot's 32-bit lane.
template <class Ops, std::size_t kAcc>
void hamming_pshufb(const uint32_t *q, const uint8_t *block, std::size_t groups, uint32_t *out,
                    const uint8_t *next) {
    using V = typename Ops::V;
    static_assert(kChunkGroups * 8 <= 255, "byte counts of a chunk must fit a byte");
    const V table = Ops::set_nibble_popcounts();
    const V nibbles = Ops::set1(0x0f0f0f0f);
    const V ones8 = Ops::set1(0x01010101);
    const V ones16 = Ops::set1(0x00010001);
    int32_t *sums = reinterpret_cast<int32_t *>(out);
    for (std::size_t g0 = 0; g0 < groups || g0 == 0; g0 += kChunkGroups) {
        const std::size_t g1 = std::min(groups, g0 + kChunkGroups);
        for (std::size_t t = 0; t < kBlockVectors; t += kAcc * Ops::kSlots) {
            V bytes[kAcc];
            for (std::size_t i = 0; i < kAcc; ++i) {
                bytes[i] = Ops::zero();
            }
            const uint8_t *row = block + (g0 * kBlockVectors + t) * kGroupBytes;
            for (std::size_t g = g0; g < g1; ++g, row += kBlockVectors * kGroupBytes) {
                prefetch_ahead(block, next, row, g, groups, kAcc * Ops::kSlots * kGroupBytes,
                               t == 0);
                const V qg = Ops::set1(static_cast<int32_t>(q[g]));
                for (std::size_t i = 0; i < kAcc; ++i) {
                    const V x = Ops::xor_(Ops::load(row + i * Ops::kSlots * kGroupBytes), qg);
                    const V lo = Ops::shuffle8(table, Ops::and_(x, nibbles));
                    const V hi =
                        Ops::shuffle8(table, Ops::and_(Ops::template srli16<4>(x), nibbles));
                    bytes[i] = Ops::add8(bytes[i], Ops::add8(lo, hi));
                }
            }
            for (std::size_t i = 0; i < kAcc; ++i) {
                int32_t *o = sums + t + i * Ops::kSlots;
                const V widened = Ops::madd16(Ops::maddubs(bytes[i], ones8), ones16);
                Ops::store(o, g0 == 0 ? widened : Ops::add32(Ops::load_acc(o), widened));
            }
        }
    }
}

} // namespace
} // namespace pocketvec::kernels
