// Every SIMD level this CPU can run, against the scalar reference; and the dispatch rules.
#include "kernels/kernels.h"
#include "platform/cpu.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <vector>

namespace pocketvec::kernels {

// Lets GoogleTest print a Level by name (found by argument-dependent lookup, so not in the
// anonymous namespace).
void PrintTo(Level level, std::ostream *os) { *os << level_name(level); }

namespace {

constexpr std::size_t kDims[] = {1,  2,  3,  4,   5,   7,   8,   9,   15,  16,  17,  31,  32,  33,
                                 63, 64, 65, 100, 127, 128, 129, 383, 384, 385, 512, 768, 1024};

// Best first, as dispatch prefers them.
constexpr Level kPreference[] = {Level::avx512, Level::avx2, Level::sse2, Level::neon,
                                 Level::scalar};
constexpr Level kAllLevels[] = {Level::scalar, Level::sse2, Level::avx2, Level::avx512,
                                Level::neon};

const KernelTable &scalar() { return *table_for(Level::scalar); }

std::vector<float> random_floats(std::size_t n, std::mt19937 &rng) {
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (float &x : v) {
        x = dist(rng);
    }
    return v;
}

// A float sum of terms may differ from another order of the same sum by a few ulps of the sum of
// their magnitudes.
double tolerance(double sum_abs_terms) { return 1e-5 * sum_abs_terms + 1e-6; }

double sum_abs_dot(const float *a, const float *b, std::size_t n, std::size_t stride_b = 1) {
    double s = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        s += std::fabs(static_cast<double>(a[i]) * b[i * stride_b]);
    }
    return s;
}

double sum_abs_l2(const float *a, const float *b, std::size_t n, std::size_t stride_b = 1) {
    double s = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const double d = static_cast<double>(a[i]) - b[i * stride_b];
        s += d * d;
    }
    return s;
}

struct FreeDeleter {
    void operator()(float *p) const { std::free(p); }
};
using AlignedFloats = std::unique_ptr<float[], FreeDeleter>;

// 64-byte aligned, as the block kernels require; n * 4 is rounded up to a multiple of 64.
AlignedFloats aligned_floats(std::size_t n) {
    const std::size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
    return AlignedFloats(static_cast<float *>(std::aligned_alloc(64, bytes == 0 ? 64 : bytes)));
}

// ---- Each runnable table (every variant of every level) against scalar.

std::vector<std::string> runnable_names() {
    std::vector<std::string> out;
    for (const KernelTable *t : runnable_tables()) {
        if (t->level != Level::scalar) {
            out.emplace_back(t->name);
        }
    }
    if (out.empty()) {
        out.emplace_back("none");  // a scalar-only build: the suite skips
    }
    return out;
}

class LevelVsScalar : public ::testing::TestWithParam<std::string> {
  protected:
    void SetUp() override {
        for (const KernelTable *t : runnable_tables()) {
            if (GetParam() == t->name) {
                table_ = t;
            }
        }
        if (table_ == nullptr) {
            GTEST_SKIP() << "no SIMD level is compiled in or runnable here";
        }
    }
    const KernelTable *table_ = nullptr;
};

TEST_P(LevelVsScalar, RowKernelsMatchScalar) {
    std::mt19937 rng(20240601u);
    // (offset of a, offset of b) in floats from a 64-byte aligned start: unaligned rows.
    constexpr std::size_t kOffsets[][2] = {{1, 1}, {0, 3}};
    for (std::size_t dim : kDims) {
        for (const auto &off : kOffsets) {
            SCOPED_TRACE("dim " + std::to_string(dim) + ", offsets " + std::to_string(off[0]) +
                         "/" + std::to_string(off[1]));
            const std::vector<float> va = random_floats(dim + off[0], rng);
            const std::vector<float> vb = random_floats(dim + off[1], rng);
            const float *a = va.data() + off[0];
            const float *b = vb.data() + off[1];

            const float dot_ref = scalar().dot_f32(a, b, dim);
            EXPECT_NEAR(table_->dot_f32(a, b, dim), dot_ref, tolerance(sum_abs_dot(a, b, dim)));

            const float l2_ref = scalar().l2sq_f32(a, b, dim);
            EXPECT_NEAR(table_->l2sq_f32(a, b, dim), l2_ref, tolerance(sum_abs_l2(a, b, dim)));
        }
    }
}

TEST_P(LevelVsScalar, RowKernelsOfNothingAreZero) {
    const float x[1] = {3.0f};
    EXPECT_EQ(table_->dot_f32(x, x, 0), 0.0f);
    EXPECT_EQ(table_->l2sq_f32(x, x, 0), 0.0f);
}

TEST_P(LevelVsScalar, BlockKernelsMatchScalar) {
    std::mt19937 rng(7u);
    for (std::size_t dim : kDims) {
        SCOPED_TRACE("dim " + std::to_string(dim));
        const std::vector<float> codes = random_floats(dim * kBlockVectors, rng);
        AlignedFloats block = aligned_floats(dim * kBlockVectors);
        std::memcpy(block.get(), codes.data(), codes.size() * sizeof(float));
        // The query has no alignment requirement: start it one float in.
        const std::vector<float> vq = random_floats(dim + 1, rng);
        const float *q = vq.data() + 1;

        AlignedFloats ref = aligned_floats(kBlockVectors);
        AlignedFloats got = aligned_floats(kBlockVectors);

        scalar().dot_f32_block(q, block.get(), dim, ref.get(), nullptr);
        table_->dot_f32_block(q, block.get(), dim, got.get(), block.get());
        for (std::size_t v = 0; v < kBlockVectors; ++v) {
            const double tol = tolerance(sum_abs_dot(q, block.get() + v, dim, kBlockVectors));
            ASSERT_NEAR(got[v], ref[v], tol) << "dot, vector " << v;
        }

        scalar().l2sq_f32_block(q, block.get(), dim, ref.get(), nullptr);
        table_->l2sq_f32_block(q, block.get(), dim, got.get(), block.get());
        for (std::size_t v = 0; v < kBlockVectors; ++v) {
            const double tol = tolerance(sum_abs_l2(q, block.get() + v, dim, kBlockVectors));
            ASSERT_NEAR(got[v], ref[v], tol) << "l2sq, vector " << v;
        }
    }
}

// Group counts around every tile, unroll and flush boundary (binary byte counts flush every 31).
constexpr std::size_t kGroups[] = {1, 2, 3, 4, 7, 8, 30, 31, 32, 33, 62, 63, 96, 97, 129, 192};

struct AlignedBytes {
    explicit AlignedBytes(std::size_t n)
        : p(static_cast<uint8_t *>(std::aligned_alloc(64, ((n + 63) / 64) * 64))) {}
    ~AlignedBytes() { std::free(p); }
    AlignedBytes(const AlignedBytes &) = delete;
    AlignedBytes &operator=(const AlignedBytes &) = delete;
    uint8_t *p;
};

// A block of random bytes; every 8th slot holds an extreme code (all bits set), every 16th zeros.
void fill_block(uint8_t *block, std::size_t groups, std::mt19937 &rng, bool (*valid)(uint8_t)) {
    std::uniform_int_distribution<int> byte(0, 255);
    for (std::size_t g = 0; g < groups; ++g) {
        for (std::size_t v = 0; v < kBlockVectors; ++v) {
            for (std::size_t k = 0; k < kGroupBytes; ++k) {
                uint8_t b = 0;
                if (v % 16 == 0) {
                    b = 0;
                } else if (v % 8 == 0) {
                    b = 0xff;
                } else {
                    b = static_cast<uint8_t>(byte(rng));
                }
                while (valid != nullptr && !valid(b)) {
                    b = static_cast<uint8_t>(byte(rng));
                }
                block[(g * kBlockVectors + v) * kGroupBytes + k] = b;
            }
        }
    }
}

// Integer query weights over the whole allowed range (+-limit), its extremes every 11th weight.
std::vector<int16_t> random_query(std::size_t n, std::mt19937 &rng, int limit) {
    std::uniform_int_distribution<int> d(-limit, limit);
    std::vector<int16_t> q(n);
    for (std::size_t i = 0; i < n; ++i) {
        q[i] = static_cast<int16_t>(i % 11 == 0 ? (i % 2 ? limit : -limit) : d(rng));
    }
    return q;
}

TEST_P(LevelVsScalar, IntegerCodeKernelsEqualScalarExactly) {
    std::mt19937 rng(41u);
    alignas(64) int32_t ref[kBlockVectors], got[kBlockVectors];
    for (std::size_t groups : kGroups) {
        SCOPED_TRACE("groups " + std::to_string(groups));
        AlignedBytes block(groups * kBlockVectors * kGroupBytes);
        fill_block(block.p, groups, rng, nullptr);

        const std::vector<int16_t> q8 = random_query(4 * groups, rng, kMaxQueryWeight);
        scalar().dot_u8_block(q8.data(), block.p, groups, ref, nullptr);
        table_->dot_u8_block(q8.data(), block.p, groups, got, block.p);
        for (std::size_t v = 0; v < kBlockVectors; ++v) {
            ASSERT_EQ(got[v], ref[v]) << "int8, slot " << v;
        }

        const std::vector<int16_t> q4 = random_query(8 * groups, rng, kMaxInt4QueryWeight);
        scalar().dot_u4_block(q4.data(), block.p, groups, ref, nullptr);
        table_->dot_u4_block(q4.data(), block.p, groups, got, block.p);
        for (std::size_t v = 0; v < kBlockVectors; ++v) {
            ASSERT_EQ(got[v], ref[v]) << "int4, slot " << v;
        }

        std::vector<uint32_t> bits(groups);
        for (uint32_t &b : bits) {
            b = static_cast<uint32_t>(rng());
        }
        bits[0] = 0xffffffffu;
        scalar().hamming_block(bits.data(), block.p, groups, reinterpret_cast<uint32_t *>(ref),
               nullptr);
        table_->hamming_block(bits.data(), block.p, groups, reinterpret_cast<uint32_t *>(got),
                              block.p);
        for (std::size_t v = 0; v < kBlockVectors; ++v) {
            ASSERT_EQ(got[v], ref[v]) << "binary, slot " << v;
        }
    }
}

// The largest sums the contract allows (255 * sum |q| just under 2^31, as prepare_query bounds
// them for PVEC_MAX_DIM dimensions) do not overflow at any level, and the largest weights
// (+-kMaxQueryWeight, +-kMaxInt4QueryWeight for int4, which the dot-product variants split into
// two int8 halves) are exact.
TEST_P(LevelVsScalar, IntegerKernelsHoldTheLargestSums) {
    const std::size_t groups = 65536 / 4;
    AlignedBytes block(groups * kBlockVectors * kGroupBytes);
    std::memset(block.p, 0xff, groups * kBlockVectors * kGroupBytes);
    const int16_t w8 = static_cast<int16_t>((0x7fffffff / 255) / 65536);  // 128
    std::vector<int16_t> q(8 * groups, static_cast<int16_t>(-w8));
    alignas(64) int32_t got[kBlockVectors];
    table_->dot_u8_block(q.data(), block.p, groups, got, block.p);
    EXPECT_EQ(got[0], -255 * 128 * 65536 + 0);
    EXPECT_EQ(got[255], -255 * 128 * 65536);
    table_->dot_u4_block(q.data(), block.p, groups, got, block.p);
    EXPECT_EQ(got[17], -15 * 128 * 8 * static_cast<int32_t>(groups));
    // The largest weights, both signs, on a few groups.
    for (int sign : {1, -1}) {
        std::vector<int16_t> big(8 * 4, static_cast<int16_t>(sign * kMaxQueryWeight));
        table_->dot_u8_block(big.data(), block.p, 4, got, block.p);
        EXPECT_EQ(got[3], sign * kMaxQueryWeight * 255 * 16);
        std::vector<int16_t> big4(8 * 4, static_cast<int16_t>(sign * kMaxInt4QueryWeight));
        table_->dot_u4_block(big4.data(), block.p, 4, got, block.p);
        EXPECT_EQ(got[3], sign * kMaxInt4QueryWeight * 15 * 32);
    }
}

// Every allowed weight, -kMaxQueryWeight .. kMaxQueryWeight (int4: kMaxInt4QueryWeight), against
// random codes: kernels that split a weight into int8 halves (64 * hi + lo, 16 * hi + lo) meet
// every carry between the halves.
TEST_P(LevelVsScalar, IntegerKernelsTakeEveryWeight) {
    std::mt19937 rng(53u);
    alignas(64) int32_t ref[kBlockVectors], got[kBlockVectors];
    for (std::size_t per_group : {4u, 8u}) {
        const int limit = per_group == 4 ? kMaxQueryWeight : kMaxInt4QueryWeight;
        std::vector<int16_t> all;
        for (int w = -limit; w <= limit; ++w) {
            all.push_back(static_cast<int16_t>(w));
        }
        std::shuffle(all.begin(), all.end(), rng);
        const std::size_t groups = (all.size() + per_group - 1) / per_group;
        std::vector<int16_t> q(groups * per_group, 0);
        std::copy(all.begin(), all.end(), q.begin());
        AlignedBytes block(groups * kBlockVectors * kGroupBytes);
        fill_block(block.p, groups, rng, nullptr);
        const auto kernel = per_group == 4 ? &KernelTable::dot_u8_block : &KernelTable::dot_u4_block;
        (scalar().*kernel)(q.data(), block.p, groups, ref, nullptr);
        (table_->*kernel)(q.data(), block.p, groups, got, block.p);
        for (std::size_t v = 0; v < kBlockVectors; ++v) {
            ASSERT_EQ(got[v], ref[v]) << (per_group == 4 ? "int8" : "int4") << ", slot " << v;
        }
    }
}

bool finite_half_byte(uint8_t hi) { return (hi & 0x7c) != 0x7c; }  // high byte of a binary16
bool e4m3_not_nan(uint8_t b) { return (b & 0x7f) != 0x7f; }
bool e5m2_finite(uint8_t b) { return (b & 0x7c) != 0x7c; }
bool any_byte(uint8_t) { return true; }

TEST_P(LevelVsScalar, FloatCodeKernelsMatchScalar) {
    std::mt19937 rng(43u);
    using Kernel = void (*)(const float *, const uint8_t *, std::size_t, float *, const uint8_t *);
    struct Case {
        const char *name;
        Kernel KernelTable::*kernel;
        std::size_t per_group;     // weights per group
        bool (*valid)(uint8_t);    // for every byte (fp8) or for the high byte of each half
        bool halves;
    };
    const Case cases[] = {
        {"f16", &KernelTable::dot_f16_block, 2, finite_half_byte, true},
        {"bf16", &KernelTable::dot_bf16_block, 2, finite_half_byte, true},
        {"e4m3", &KernelTable::dot_e4m3_block, 4, e4m3_not_nan, false},
        {"e5m2", &KernelTable::dot_e5m2_block, 4, e5m2_finite, false},
    };
    AlignedFloats ref = aligned_floats(kBlockVectors);
    AlignedFloats got = aligned_floats(kBlockVectors);
    AlignedFloats mag = aligned_floats(kBlockVectors);
    for (const Case &c : cases) {
        for (std::size_t groups : kGroups) {
            SCOPED_TRACE(std::string(c.name) + ", groups " + std::to_string(groups));
            AlignedBytes block(groups * kBlockVectors * kGroupBytes);
            fill_block(block.p, groups, rng, c.halves ? any_byte : c.valid);
            if (c.halves) {  // no Inf/NaN halves: fix each half's high byte
                for (std::size_t i = 1; i < groups * kBlockVectors * kGroupBytes; i += 2) {
                    while (!c.valid(block.p[i])) {
                        block.p[i] = static_cast<uint8_t>(rng());
                    }
                }
            }
            const std::vector<float> w = random_floats(c.per_group * groups, rng);
            std::vector<float> wabs(w.size());
            for (std::size_t i = 0; i < w.size(); ++i) {
                wabs[i] = std::fabs(w[i]);
            }
            (scalar().*c.kernel)(w.data(), block.p, groups, ref.get(), nullptr);
            (table_->*c.kernel)(w.data(), block.p, groups, got.get(), block.p);
            // sum |w| |x|: the scalar kernel over |w| and the codes with their sign bits cleared.
            AlignedBytes unsigned_block(groups * kBlockVectors * kGroupBytes);
            for (std::size_t i = 0; i < groups * kBlockVectors * kGroupBytes; ++i) {
                const bool sign_byte = !c.halves || i % 2 == 1;
                unsigned_block.p[i] = sign_byte ? block.p[i] & 0x7f : block.p[i];
            }
            (scalar().*c.kernel)(wabs.data(), unsigned_block.p, groups, mag.get(), nullptr);
            for (std::size_t v = 0; v < kBlockVectors; ++v) {
                ASSERT_NEAR(got[v], ref[v], tolerance(mag[v])) << "slot " << v;
            }
        }
    }
}

TEST_P(LevelVsScalar, MaskLeEqualsScalar) {
    std::mt19937 rng(47u);
    AlignedFloats s = aligned_floats(kBlockVectors);
    for (int round = 0; round < 50; ++round) {
        const std::vector<float> v = random_floats(kBlockVectors, rng);
        std::memcpy(s.get(), v.data(), sizeof(float) * kBlockVectors);
        s[7] = std::nanf("");
        s[64] = -__builtin_huge_valf();
        s[200] = __builtin_huge_valf();
        const float threshold = round == 0 ? s[13] : (round == 1 ? __builtin_huge_valf() : v[round]);
        uint64_t ref[4], got[4];
        scalar().mask_le(s.get(), threshold, ref);
        table_->mask_le(s.get(), threshold, got);
        for (int w = 0; w < 4; ++w) {
            ASSERT_EQ(got[w], ref[w]) << "word " << w << ", round " << round;
        }
        EXPECT_EQ((ref[0] >> 7) & 1, 0u);                        // NaN never passes
        EXPECT_EQ(ref[1] & 1, 1u);                               // -inf always does
        EXPECT_EQ((ref[0] >> 13) & 1, round == 0 ? 1u : (ref[0] >> 13) & 1);  // equality passes
    }
}

// The integer selection against the scalar one and against its definition, with sums at both
// ends of int32 and thresholds at both ends (INT32_MIN passes only itself, INT32_MAX everything).
TEST_P(LevelVsScalar, MaskLeI32EqualsScalar) {
    std::mt19937 rng(53u);
    alignas(64) int32_t s[kBlockVectors];
    std::uniform_int_distribution<int32_t> any(INT32_MIN, INT32_MAX), small(-300, 300);
    for (int round = 0; round < 60; ++round) {
        for (std::size_t v = 0; v < kBlockVectors; ++v) {
            s[v] = round % 2 == 0 ? any(rng) : small(rng);
        }
        s[5] = INT32_MIN;
        s[70] = INT32_MAX;
        const int32_t threshold = round == 0   ? INT32_MIN
                                  : round == 1 ? INT32_MAX
                                               : s[static_cast<std::size_t>(round) * 3];
        uint64_t ref[4], got[4];
        scalar().mask_le_i32(s, threshold, ref);
        table_->mask_le_i32(s, threshold, got);
        for (std::size_t w = 0; w < 4; ++w) {
            ASSERT_EQ(got[w], ref[w]) << "word " << w << ", round " << round;
            for (std::size_t j = 0; j < 64; ++j) {
                ASSERT_EQ((ref[w] >> j) & 1, s[64 * w + j] <= threshold ? 1u : 0u)
                    << "slot " << 64 * w + j << ", round " << round;
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Simd, LevelVsScalar, ::testing::ValuesIn(runnable_names()),
                         [](const ::testing::TestParamInfo<std::string> &info) {
                             std::string n = info.param;
                             for (char &ch : n) {
                                 if (ch == '+') {
                                     ch = '_';
                                 }
                             }
                             return n;
                         });

// The scalar fp8 and half kernels decode what the layout holds: a hand-computed block.
TEST(Scalar, CodeKernelsOnKnownValues) {
    AlignedBytes block(kBlockVectors * kGroupBytes);
    std::memset(block.p, 0, kBlockVectors * kGroupBytes);
    // slot 3: bytes 0x38 (e4m3 1.0 / e5m2 0.5), 0xc0 (e4m3 -2.0 / e5m2 -2.0), 0x01, 0x00
    uint8_t *c = block.p + 3 * kGroupBytes;
    c[0] = 0x38;
    c[1] = 0xc0;
    c[2] = 0x01;  // e4m3 smallest subnormal 2^-9, e5m2 2^-16
    const float w[4] = {1.0f, 1.0f, 512.0f, 0.0f};
    alignas(64) float out[kBlockVectors];
    scalar().dot_e4m3_block(w, block.p, 1, out, nullptr);
    EXPECT_EQ(out[3], 1.0f - 2.0f + 1.0f);
    EXPECT_EQ(out[0], 0.0f);
    scalar().dot_e5m2_block(w, block.p, 1, out, nullptr);
    EXPECT_EQ(out[3], 0.5f - 2.0f + 512.0f * 0x1p-16f);
    // halves: lo = 0xc038 (f16 -2.109375; bf16 -2.875), hi = 0x0001 (f16 2^-24, bf16 2^-133)
    const float wh[2] = {1.0f, 0x1p24f};
    scalar().dot_f16_block(wh, block.p, 1, out, nullptr);
    EXPECT_EQ(out[3], -2.109375f + 1.0f);
    scalar().dot_bf16_block(wh, block.p, 1, out, nullptr);
    EXPECT_EQ(out[3], -2.875f);  // + 2^-109, below half an ulp of 2.875
}

// ---- The scalar reference itself: the block layout scores what the row layout scores.

TEST(Scalar, BlockLayoutMatchesRowLayout) {
    std::mt19937 rng(11u);
    for (std::size_t dim : {1u, 17u, 384u}) {
        SCOPED_TRACE("dim " + std::to_string(dim));
        const std::vector<float> rows = random_floats(kBlockVectors * dim, rng);  // row-major
        AlignedFloats block = aligned_floats(dim * kBlockVectors);
        for (std::size_t v = 0; v < kBlockVectors; ++v) {
            for (std::size_t g = 0; g < dim; ++g) {
                block[g * kBlockVectors + v] = rows[v * dim + g];
            }
        }
        const std::vector<float> q = random_floats(dim, rng);
        AlignedFloats dot = aligned_floats(kBlockVectors);
        AlignedFloats l2 = aligned_floats(kBlockVectors);
        scalar().dot_f32_block(q.data(), block.get(), dim, dot.get(), nullptr);
        scalar().l2sq_f32_block(q.data(), block.get(), dim, l2.get(), nullptr);
        for (std::size_t v = 0; v < kBlockVectors; ++v) {
            const float *row = rows.data() + v * dim;
            EXPECT_NEAR(dot[v], scalar().dot_f32(q.data(), row, dim),
                        tolerance(sum_abs_dot(q.data(), row, dim)));
            EXPECT_NEAR(l2[v], scalar().l2sq_f32(q.data(), row, dim),
                        tolerance(sum_abs_l2(q.data(), row, dim)));
        }
    }
}

TEST(Scalar, SmallExactValues) {
    const float a[3] = {1.0f, 2.0f, 3.0f};
    const float b[3] = {4.0f, -5.0f, 6.0f};
    EXPECT_EQ(scalar().dot_f32(a, b, 3), 12.0f);
    EXPECT_EQ(scalar().l2sq_f32(a, b, 3), 9.0f + 49.0f + 9.0f);
}

// ---- Dispatch.

TEST(Dispatch, ScalarIsAlwaysThere) {
    const KernelTable *t = table_for(Level::scalar);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->level, Level::scalar);
}

TEST(Dispatch, TablesNameTheirLevel) {
    for (const KernelTable *t : runnable_tables()) {
        SCOPED_TRACE(t->name);
        const std::string level = level_name(t->level);
        const std::string name = t->name;
        EXPECT_TRUE(name == level || name.rfind(level + "+", 0) == 0);
        for (auto k : {t->dot_f32, t->l2sq_f32}) {
            EXPECT_NE(k, nullptr);
        }
        EXPECT_NE(t->dot_f32_block, nullptr);
        EXPECT_NE(t->l2sq_f32_block, nullptr);
        EXPECT_NE(t->dot_u8_block, nullptr);
        EXPECT_NE(t->dot_u4_block, nullptr);
        EXPECT_NE(t->hamming_block, nullptr);
        for (auto k : {t->dot_f16_block, t->dot_bf16_block, t->dot_e4m3_block, t->dot_e5m2_block}) {
            EXPECT_NE(k, nullptr);
        }
        EXPECT_NE(t->mask_le, nullptr);
        EXPECT_NE(t->mask_le_i32, nullptr);
    }
    for (Level level : kAllLevels) {
        if (const KernelTable *t = table_for(level)) {
            EXPECT_EQ(t->level, level);
        }
    }
    EXPECT_STREQ(level_name(Level::scalar), "scalar");
    EXPECT_STREQ(level_name(Level::sse2), "sse2");
    EXPECT_STREQ(level_name(Level::avx2), "avx2");
    EXPECT_STREQ(level_name(Level::avx512), "avx512");
    EXPECT_STREQ(level_name(Level::neon), "neon");
}

// Each variant is offered only when the CPU has its extension.
TEST(Dispatch, VariantsNeedTheirExtensions) {
    const platform::CpuFeatures &f = platform::cpu_features();
    for (const KernelTable *t : runnable_tables()) {
        const std::string name = t->name;
        SCOPED_TRACE(name);
        if (name.find("+vnni") != std::string::npos) {
            EXPECT_TRUE(f.avx512vnni);
        }
        if (name.find("+vpopcntdq") != std::string::npos) {
            EXPECT_TRUE(f.avx512vpopcntdq);
        }
        if (name.find("+dotprod") != std::string::npos) {
            EXPECT_TRUE(f.neon_dotprod);
        }
    }
}

TEST(Dispatch, OnlyRunnableLevels) {
    const platform::CpuFeatures &f = platform::cpu_features();
#if defined(__x86_64__) || defined(_M_X64)
    EXPECT_TRUE(f.sse2);
    EXPECT_FALSE(f.neon);
    EXPECT_EQ(table_for(Level::neon), nullptr);
    if (table_for(Level::avx2) != nullptr) {
        EXPECT_TRUE(f.avx2 && f.fma && f.f16c && f.popcnt);
    }
    if (table_for(Level::avx512) != nullptr) {
        EXPECT_TRUE(f.avx512f && f.avx512bw && f.avx512dq && f.avx512cd && f.avx512vl);
    }
#elif defined(__aarch64__) || defined(_M_ARM64)
    EXPECT_TRUE(f.neon);
    EXPECT_EQ(table_for(Level::sse2), nullptr);
    EXPECT_EQ(table_for(Level::avx2), nullptr);
    EXPECT_EQ(table_for(Level::avx512), nullptr);
#endif
    EXPECT_EQ(table_for(static_cast<Level>(99)), nullptr);
}

TEST(Dispatch, ActiveIsARunnableTable) {
    const KernelTable &t = active();
    bool found = false;
    for (const KernelTable *r : runnable_tables()) {
        found = found || r == &t;
    }
    EXPECT_TRUE(found);
    EXPECT_EQ(&t, &active());
}

// PVEC_SIMD, when it names a runnable level or variant, is honoured; otherwise the best table is
// active and forced_level_error() says why. ctest runs this once per name with PVEC_SIMD set
// (tests/kernels/CMakeLists.txt).
TEST(Dispatch, ActiveFollowsEnvironment) {
    const KernelTable *best = nullptr;
    for (Level level : kPreference) {
        if ((best = table_for(level)) != nullptr) {
            break;
        }
    }
    ASSERT_NE(best, nullptr);

    const KernelTable *expected = best;
    bool honoured = true;
    const char *forced = std::getenv("PVEC_SIMD");
    if (forced != nullptr && *forced != '\0') {
        honoured = false;
        for (const KernelTable *t : runnable_tables()) {
            if (std::strcmp(forced, t->name) == 0) {
                expected = t;
                honoured = true;
            }
        }
        for (Level level : kAllLevels) {
            if (!honoured && std::strcmp(forced, level_name(level)) == 0 &&
                table_for(level) != nullptr) {
                expected = table_for(level);
                honoured = true;
            }
        }
    }
    EXPECT_EQ(&active(), expected) << "PVEC_SIMD=" << (forced ? forced : "(unset)") << ", active "
                                   << active().name << ", best " << best->name;
    if (honoured) {
        EXPECT_EQ(forced_level_error(), "");
    } else {
        EXPECT_NE(forced_level_error().find(std::string("PVEC_SIMD=") + forced),
                  std::string::npos)
            << forced_level_error();
    }
}

}  // namespace
}  // namespace pocketvec::kernels
