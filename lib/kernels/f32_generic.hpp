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

#include "kernels/kernels.h"

#include <xsimd/xsimd.hpp>

#include <cstddef>
#include <cstdint>

namespace pocketvec::kernels {
namespace {

template <class Arch>
inline float horizontal_sum(const xsimd::batch<float, Arch> &v) {
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

template <class Arch>
float dot_f32_row(const float *a, const float *b, std::size_t n) {
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

template <class Arch>
float l2sq_f32_row(const float *a, const float *b, std::size_t n) {
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
// accumulator of the tile. Every load and the final store are aligned: block and out are 64-byte
// aligned and each row of a block is kBlockVectors * 4 = 1024 bytes.

constexpr std::size_t kBlockAccumulators = 8;

template <class Arch>
void dot_f32_block_tiled(const float *q, const float *block, std::size_t dim, float *out) {
    using B = xsimd::batch<float, Arch>;
    constexpr std::size_t kW = B::size;
    constexpr std::size_t kTile = kBlockAccumulators * kW;
    static_assert(kBlockVectors % kTile == 0, "a block must split into whole tiles");
    for (std::size_t t = 0; t < kBlockVectors; t += kTile) {
        B acc0(0.0f), acc1(0.0f), acc2(0.0f), acc3(0.0f);
        B acc4(0.0f), acc5(0.0f), acc6(0.0f), acc7(0.0f);
        const float *row = block + t;
        for (std::size_t g = 0; g < dim; ++g, row += kBlockVectors) {
            const B qg(q[g]);
            acc0 = xsimd::fma(qg, B::load_aligned(row), acc0);
            acc1 = xsimd::fma(qg, B::load_aligned(row + kW), acc1);
            acc2 = xsimd::fma(qg, B::load_aligned(row + 2 * kW), acc2);
            acc3 = xsimd::fma(qg, B::load_aligned(row + 3 * kW), acc3);
            acc4 = xsimd::fma(qg, B::load_aligned(row + 4 * kW), acc4);
            acc5 = xsimd::fma(qg, B::load_aligned(row + 5 * kW), acc5);
            acc6 = xsimd::fma(qg, B::load_aligned(row + 6 * kW), acc6);
            acc7 = xsimd::fma(qg, B::load_aligned(row + 7 * kW), acc7);
        }
        float *o = out + t;
        acc0.store_aligned(o);
        acc1.store_aligned(o + kW);
        acc2.store_aligned(o + 2 * kW);
        acc3.store_aligned(o + 3 * kW);
        acc4.store_aligned(o + 4 * kW);
        acc5.store_aligned(o + 5 * kW);
        acc6.store_aligned(o + 6 * kW);
        acc7.store_aligned(o + 7 * kW);
    }
}

template <class Arch>
void l2sq_f32_block_tiled(const float *q, const float *block, std::size_t dim, float *out) {
    using B = xsimd::batch<float, Arch>;
    constexpr std::size_t kW = B::size;
    constexpr std::size_t kTile = kBlockAccumulators * kW;
    static_assert(kBlockVectors % kTile == 0, "a block must split into whole tiles");
    for (std::size_t t = 0; t < kBlockVectors; t += kTile) {
        B acc0(0.0f), acc1(0.0f), acc2(0.0f), acc3(0.0f);
        B acc4(0.0f), acc5(0.0f), acc6(0.0f), acc7(0.0f);
        const float *row = block + t;
        for (std::size_t g = 0; g < dim; ++g, row += kBlockVectors) {
            const B qg(q[g]);
            const B d0 = B::load_aligned(row) - qg;
            const B d1 = B::load_aligned(row + kW) - qg;
            const B d2 = B::load_aligned(row + 2 * kW) - qg;
            const B d3 = B::load_aligned(row + 3 * kW) - qg;
            const B d4 = B::load_aligned(row + 4 * kW) - qg;
            const B d5 = B::load_aligned(row + 5 * kW) - qg;
            const B d6 = B::load_aligned(row + 6 * kW) - qg;
            const B d7 = B::load_aligned(row + 7 * kW) - qg;
            acc0 = xsimd::fma(d0, d0, acc0);
            acc1 = xsimd::fma(d1, d1, acc1);
            acc2 = xsimd::fma(d2, d2, acc2);
            acc3 = xsimd::fma(d3, d3, acc3);
            acc4 = xsimd::fma(d4, d4, acc4);
            acc5 = xsimd::fma(d5, d5, acc5);
            acc6 = xsimd::fma(d6, d6, acc6);
            acc7 = xsimd::fma(d7, d7, acc7);
        }
        float *o = out + t;
        acc0.store_aligned(o);
        acc1.store_aligned(o + kW);
        acc2.store_aligned(o + 2 * kW);
        acc3.store_aligned(o + 3 * kW);
        acc4.store_aligned(o + 4 * kW);
        acc5.store_aligned(o + 5 * kW);
        acc6.store_aligned(o + 6 * kW);
        acc7.store_aligned(o + 7 * kW);
    }
}


// bf16 codes (two per 4-byte group, lo half first): a bf16 is the top half of a binary32, so the
// low half decodes by a shift and the high half by a mask. Accumulators hold one slot per lane.
template <class Arch>
void dot_bf16_block_tiled(const float *w, const uint8_t *block, std::size_t groups, float *out) {
    using F = xsimd::batch<float, Arch>;
    using U = xsimd::batch<uint32_t, Arch>;
    constexpr std::size_t kW = F::size;
    constexpr std::size_t kTile = kBlockAccumulators * kW;
    static_assert(kBlockVectors % kTile == 0, "a block must split into whole tiles");
    const U high_half(0xffff0000u);
    for (std::size_t t = 0; t < kBlockVectors; t += kTile) {
        F acc[kBlockAccumulators];
        for (F &a : acc) {
            a = F(0.0f);
        }
        const uint32_t *row = reinterpret_cast<const uint32_t *>(block) + t;
        for (std::size_t g = 0; g < groups; ++g, row += kBlockVectors) {
            const F wl(w[2 * g]);
            const F wh(w[2 * g + 1]);
            for (std::size_t i = 0; i < kBlockAccumulators; ++i) {
                const U x = U::load_aligned(row + i * kW);
                acc[i] = xsimd::fma(wl, xsimd::bitwise_cast<F>(x << 16), acc[i]);
                acc[i] = xsimd::fma(wh, xsimd::bitwise_cast<F>(x & high_half), acc[i]);
            }
        }
        for (std::size_t i = 0; i < kBlockAccumulators; ++i) {
            acc[i].store_aligned(out + t + i * kW);
        }
    }
}

}  // namespace
}  // namespace pocketvec::kernels
