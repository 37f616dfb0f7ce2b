// Generic f32 kernels over xsimd::batch<float, Arch>, for the per-level units only.
//
// Include this header from exactly one level unit per Arch (kernels_sse2.cpp, kernels_avx2.cpp,
// kernels_avx512.cpp, kernels_neon.cpp), each compiled with its own -m flags. Everything below
// sits in an anonymous namespace on purpose: every instantiation then has internal linkage and
// cannot be merged at link time with a copy compiled under other flags (the pitfall in STYLE.md,
// "SIMD kernels"). Do not include it from a unit built at baseline flags with a wider Arch, and do
// not move these templates into a named namespace.
//
// Only per-Arch xsimd operations are used (construct/broadcast, load, store, +, -, fma), and the
// horizontal sum is done here rather than with xsimd::hadd, whose AVX-512 version instantiates
// AVX2 helpers.
#pragma once

#include "kernels/chunks.h"
#include "kernels/kernels.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <xsimd/xsimd.hpp>

namespace pocketvec::kernels {
namespace {

template <class Arch> inline float horizontal_sum(const xsimd::batch<float, Arch> &v) {
    constexpr std::size_t kW = xsimd::batch<float, Arch>::size;
    alignas(64) float lanes[kW];
    v.store_aligned(lanes);
    float s = 0.0f;
    for (std::size_t i = 0; i < kW; ++i) {
        s += lanes[i];
    }
    return s;
}

// ---- Row-major pair kernels: four independent accumulators, then one register at a time, then a
// scalar tail. No alignment assumed.

template <class Arch> float dot_f32_row(const float *a, const float *b, std::size_t n) {
    using B = xsimd::batch<float, Arch>;
    constexpr std::size_t kW = B::size;
    B acc0(0.0f), acc1(0.0f), acc2(0.0f), acc3(0.0f);
    std::size_t i = 0;
    for (; i + 4 * kW <= n; i += 4 * kW) {
        acc0 = xsimd::fma(B::load_unaligned(a + i), B::load_unaligned(b + i), acc0);
        acc1 = xsimd::fma(B::load_unaligned(a + i + kW), B::load_unaligned(b + i + kW), acc1);
        acc2 =
            xsimd::fma(B::load_unaligned(a + i + 2 * kW), B::load_unaligned(b + i + 2 * kW), acc2);
        acc3 =
            xsimd::fma(B::load_unaligned(a + i + 3 * kW), B::load_unaligned(b + i + 3 * kW), acc3);
    }
    for (; i + kW <= n; i += kW) {
        acc0 = xsimd::fma(B::load_unaligned(a + i), B::load_unaligned(b + i), acc0);
    }
    float s = horizontal_sum<Arch>((acc0 + acc1) + (acc2 + acc3));
    for (; i < n; ++i) {
        s += a[i] * b[i];
    }
    return s;
}

template <class Arch> float l2sq_f32_row(const float *a, const float *b, std::size_t n) {
    using B = xsimd::batch<float, Arch>;
    constexpr std::size_t kW = B::size;
    B acc0(0.0f), acc1(0.0f), acc2(0.0f), acc3(0.0f);
    std::size_t i = 0;
    for (; i + 4 * kW <= n; i += 4 * kW) {
        const B d0 = B::load_unaligned(a + i) - B::load_unaligned(b + i);
        const B d1 = B::load_unaligned(a + i + kW) - B::load_unaligned(b + i + kW);
        const B d2 = B::load_unaligned(a + i + 2 * kW) - B::load_unaligned(b + i + 2 * kW);
        const B d3 = B::load_unaligned(a + i + 3 * kW) - B::load_unaligned(b + i + 3 * kW);
        acc0 = xsimd::fma(d0, d0, acc0);
        acc1 = xsimd::fma(d1, d1, acc1);
        acc2 = xsimd::fma(d2, d2, acc2);
        acc3 = xsimd::fma(d3, d3, acc3);
    }
    for (; i + kW <= n; i += kW) {
        const B d = B::load_unaligned(a + i) - B::load_unaligned(b + i);
        acc0 = xsimd::fma(d, d, acc0);
    }
    float s = horizontal_sum<Arch>((acc0 + acc1) + (acc2 + acc3));
    for (; i < n; ++i) {
        const float d = a[i] - b[i];
        s += d * d;
    }
    return s;
}

// ---- Block kernels (layout in kernels.h: element (g, v) at block[g * kBlockVectors + v]).
// The 256 vectors are scored in tiles of kBlockAccumulators registers (tile = 8 * batch size
// vectors); for each group the query component is broadcast once and fused into every
// accumulator of the tile. Groups go chunk by chunk (kChunkGroups rows of 1 KB: in L1 while every
// tile reads them), the partial sums passing through `out` between chunks, each tile prefetching
// its lines a chunk ahead (chunks.h); the sums are the same as without chunks (each slot still adds its groups in order).
// Every load and store is aligned: block and out are 64-byte aligned and each row of a block is
// kBlockVectors * 4 = 1024 bytes.

// AVX-512 (16 floats a register): 16 accumulators, a tile of a whole row, so the block is read in
// order (from L3 and memory that reads faster than half rows: see docs/kernels.md); narrower
// registers: 8 (AVX2 has 16 registers in all).
template <class Arch>
constexpr std::size_t kBlockAccumulators = xsimd::batch<float, Arch>::size >= 16 ? 16 : 8;

// Runs step(acc, row + offset of register i, g) for each group g of every chunk and tile; the
// accumulators start at 0 and carry through out[] between chunks.
template <class Arch, class Step>
inline void float_tiles(const uint8_t *block, const void *next, std::size_t groups, float *out,
                        const Step &step) {
    using B = xsimd::batch<float, Arch>;
    constexpr std::size_t kW = B::size;
    constexpr std::size_t kTile = kBlockAccumulators<Arch> * kW;
    static_assert(kBlockVectors % kTile == 0, "a block must split into whole tiles");
    for (std::size_t g0 = 0; g0 < groups || g0 == 0; g0 += kChunkGroups) {
        const std::size_t g1 = std::min(groups, g0 + kChunkGroups);
        for (std::size_t t = 0; t < kBlockVectors; t += kTile) {
            B acc[kBlockAccumulators<Arch>];
            for (std::size_t i = 0; i < kBlockAccumulators<Arch>; ++i) {
                acc[i] = g0 == 0 ? B(0.0f) : B::load_aligned(out + t + i * kW);
            }
            for (std::size_t g = g0; g < g1; ++g) {
                const uint8_t *row = block + (g * kBlockVectors + t) * 4;
                prefetch_ahead(block, next, row, g, groups, kTile * 4, t == 0);
                step(acc, row, g);
            }
            for (std::size_t i = 0; i < kBlockAccumulators<Arch>; ++i) {
                acc[i].store_aligned(out + t + i * kW);
            }
        }
    }
}

template <class Arch>
void dot_f32_block_tiled(const float *q, const float *block, std::size_t dim, float *out,
                         const float *next) {
    using B = xsimd::batch<float, Arch>;
    constexpr std::size_t kW = B::size;
    float_tiles<Arch>(reinterpret_cast<const uint8_t *>(block), next, dim, out,
                      [&](B *acc, const uint8_t *row, std::size_t g) {
                          const float *r = reinterpret_cast<const float *>(row);
                          const B qg(q[g]);
                          for (std::size_t i = 0; i < kBlockAccumulators<Arch>; ++i) {
                              acc[i] = xsimd::fma(qg, B::load_aligned(r + i * kW), acc[i]);
                          }
                      });
}

template <class Arch>
void l2sq_f32_block_tiled(const float *q, const float *block, std::size_t dim, float *out,
                          const float *next) {
    using B = xsimd::batch<float, Arch>;
    constexpr std::size_t kW = B::size;
    float_tiles<Arch>(reinterpret_cast<const uint8_t *>(block), next, dim, out,
                      [&](B *acc, const uint8_t *row, std::size_t g) {
                          const float *r = reinterpret_cast<const float *>(row);
                          const B qg(q[g]);
                          for (std::size_t i = 0; i < kBlockAccumulators<Arch>; ++i) {
                              const B d = B::load_aligned(r + i * kW) - qg;
                              acc[i] = xsimd::fma(d, d, acc[i]);
                          }
                      });
}

// bf16 codes (two per 4-byte group, lo half first): a bf16 is the top half of a binary32, so the
// low half decodes by a shift and the high half by a mask. Accumulators hold one slot per lane.
template <class Arch>
void dot_bf16_block_tiled(const float *w, const uint8_t *block, std::size_t groups, float *out,
                          const uint8_t *next) {
    using F = xsimd::batch<float, Arch>;
    using U = xsimd::batch<uint32_t, Arch>;
    constexpr std::size_t kW = F::size;
    const U high_half(0xffff0000u);
    float_tiles<Arch>(block, next, groups, out, [&](F *acc, const uint8_t *row, std::size_t g) {
        const uint32_t *r = reinterpret_cast<const uint32_t *>(row);
        const F wl(w[2 * g]);
        const F wh(w[2 * g + 1]);
        for (std::size_t i = 0; i < kBlockAccumulators<Arch>; ++i) {
            const U x = U::load_aligned(r + i * kW);
            acc[i] = xsimd::fma(wl, xsimd::bitwise_cast<F>(x << 16), acc[i]);
            acc[i] = xsimd::fma(wh, xsimd::bitwise_cast<F>(x & high_half), acc[i]);
        }
    });
}

} // namespace
} // namespace pocketvec::kernels
