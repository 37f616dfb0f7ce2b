// Every SIMD level this CPU can run, against the scalar reference; and the dispatch rules.
#include "kernels/kernels.h"
#include "platform/cpu.h"

#include <gtest/gtest.h>

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

// ---- Each SIMD level against scalar.

class LevelVsScalar : public ::testing::TestWithParam<Level> {
  protected:
    void SetUp() override {
        table_ = table_for(GetParam());
        if (table_ == nullptr) {
            GTEST_SKIP() << level_name(GetParam())
                         << " is not compiled in or this CPU can't run it";
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

        scalar().dot_f32_block(q, block.get(), dim, ref.get());
        table_->dot_f32_block(q, block.get(), dim, got.get());
        for (std::size_t v = 0; v < kBlockVectors; ++v) {
            const double tol = tolerance(sum_abs_dot(q, block.get() + v, dim, kBlockVectors));
            ASSERT_NEAR(got[v], ref[v], tol) << "dot, vector " << v;
        }

        scalar().l2sq_f32_block(q, block.get(), dim, ref.get());
        table_->l2sq_f32_block(q, block.get(), dim, got.get());
        for (std::size_t v = 0; v < kBlockVectors; ++v) {
            const double tol = tolerance(sum_abs_l2(q, block.get() + v, dim, kBlockVectors));
            ASSERT_NEAR(got[v], ref[v], tol) << "l2sq, vector " << v;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Simd, LevelVsScalar,
                         ::testing::Values(Level::sse2, Level::avx2, Level::avx512, Level::neon),
                         [](const ::testing::TestParamInfo<Level> &info) {
                             return std::string(level_name(info.param));
                         });

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
        scalar().dot_f32_block(q.data(), block.get(), dim, dot.get());
        scalar().l2sq_f32_block(q.data(), block.get(), dim, l2.get());
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
    for (Level level : kAllLevels) {
        const KernelTable *t = table_for(level);
        if (t == nullptr) {
            continue;
        }
        SCOPED_TRACE(level_name(level));
        EXPECT_EQ(t->level, level);
        EXPECT_STREQ(t->name, level_name(level));
        EXPECT_NE(t->dot_f32, nullptr);
        EXPECT_NE(t->l2sq_f32, nullptr);
        EXPECT_NE(t->dot_f32_block, nullptr);
        EXPECT_NE(t->l2sq_f32_block, nullptr);
    }
    EXPECT_STREQ(level_name(Level::scalar), "scalar");
    EXPECT_STREQ(level_name(Level::sse2), "sse2");
    EXPECT_STREQ(level_name(Level::avx2), "avx2");
    EXPECT_STREQ(level_name(Level::avx512), "avx512");
    EXPECT_STREQ(level_name(Level::neon), "neon");
}

TEST(Dispatch, OnlyRunnableLevels) {
    const platform::CpuFeatures &f = platform::cpu_features();
#if defined(__x86_64__) || defined(_M_X64)
    EXPECT_TRUE(f.sse2);
    EXPECT_FALSE(f.neon);
    EXPECT_EQ(table_for(Level::neon), nullptr);
    if (table_for(Level::avx2) != nullptr) {
        EXPECT_TRUE(f.avx2 && f.fma);
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
    EXPECT_EQ(&t, table_for(t.level));
    EXPECT_EQ(&t, &active());
}

// PVEC_SIMD, when it names a runnable level, is honoured; otherwise the best level is chosen.
// ctest runs this once per level with PVEC_SIMD set (tests/kernels/CMakeLists.txt).
TEST(Dispatch, ActiveFollowsEnvironment) {
    const KernelTable *best = nullptr;
    for (Level level : kPreference) {
        if ((best = table_for(level)) != nullptr) {
            break;
        }
    }
    ASSERT_NE(best, nullptr);

    const KernelTable *expected = best;
    const char *forced = std::getenv("PVEC_SIMD");
    if (forced != nullptr) {
        for (Level level : kAllLevels) {
            if (std::strcmp(forced, level_name(level)) == 0 && table_for(level) != nullptr) {
                expected = table_for(level);
            }
        }
    }
    EXPECT_EQ(&active(), expected) << "PVEC_SIMD=" << (forced ? forced : "(unset)") << ", active "
                                   << active().name << ", best " << best->name;
}

}  // namespace
}  // namespace pocketvec::kernels
