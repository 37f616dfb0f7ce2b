// Picks the kernel table once. Compiled at baseline flags: it only reads CPU features and calls a
// level's kernel_table_*() after checking that the CPU and OS can run that level.
//
// Which levels exist is decided by the build: lib/kernels/CMakeLists.txt defines PVEC_HAVE_SSE2,
// PVEC_HAVE_AVX2, PVEC_HAVE_AVX512 (x86-64) or PVEC_HAVE_NEON (aarch64) on this unit for each level
// unit it compiles. The scalar level is always there.
#include "kernels/kernels.h"

#include "platform/cpu.h"

#include <cstdlib>
#include <cstring>

namespace pocketvec::kernels {

// Defined in the level units (kernels_<level>.cpp).
const KernelTable *kernel_table_scalar();
#if defined(PVEC_HAVE_SSE2)
const KernelTable *kernel_table_sse2();
#endif
#if defined(PVEC_HAVE_AVX2)
const KernelTable *kernel_table_avx2();
#endif
#if defined(PVEC_HAVE_AVX512)
const KernelTable *kernel_table_avx512();
#endif
#if defined(PVEC_HAVE_NEON)
const KernelTable *kernel_table_neon();
#endif

namespace {

// Best first; the first level this CPU can run wins.
constexpr Level kPreference[] = {Level::avx512, Level::avx2, Level::sse2, Level::neon,
                                 Level::scalar};

constexpr struct {
    Level level;
    const char *name;
} kNames[] = {{Level::scalar, "scalar"},
              {Level::sse2, "sse2"},
              {Level::avx2, "avx2"},
              {Level::avx512, "avx512"},
              {Level::neon, "neon"}};

// Whether this CPU (and its OS) can execute the instructions the level's unit was compiled for.
bool cpu_can_run(Level level) {
    const platform::CpuFeatures &f = platform::cpu_features();
    switch (level) {
    case Level::scalar:
        return true;
    case Level::sse2:
        return f.sse2;
    case Level::avx2:
        return f.avx2 && f.fma;
    case Level::avx512:
        // Matches the unit's -mavx512f -mavx512bw -mavx512dq -mavx512cd -mavx512vl.
        return f.avx512f && f.avx512bw && f.avx512dq && f.avx512cd && f.avx512vl;
    case Level::neon:
        return f.neon;
    }
    return false;
}

// The level's table if it was compiled in, else nullptr. Only call once cpu_can_run(level).
const KernelTable *compiled_table(Level level) {
    switch (level) {
    case Level::scalar:
        return kernel_table_scalar();
    case Level::sse2:
#if defined(PVEC_HAVE_SSE2)
        return kernel_table_sse2();
#else
        return nullptr;
#endif
    case Level::avx2:
#if defined(PVEC_HAVE_AVX2)
        return kernel_table_avx2();
#else
        return nullptr;
#endif
    case Level::avx512:
#if defined(PVEC_HAVE_AVX512)
        return kernel_table_avx512();
#else
        return nullptr;
#endif
    case Level::neon:
#if defined(PVEC_HAVE_NEON)
        return kernel_table_neon();
#else
        return nullptr;
#endif
    }
    return nullptr;
}

const KernelTable &choose() {
    // PVEC_SIMD forces a level when this CPU can run it and it was compiled in; an unknown name or
    // an unusable level falls back to the best one.
    if (const char *forced = std::getenv("PVEC_SIMD"); forced != nullptr && *forced != '\0') {
        for (const auto &entry : kNames) {
            if (std::strcmp(forced, entry.name) == 0) {
                if (const KernelTable *t = table_for(entry.level)) {
                    return *t;
                }
                break;
            }
        }
    }
    for (Level level : kPreference) {
        if (const KernelTable *t = table_for(level)) {
            return *t;
        }
    }
    return *kernel_table_scalar();
}

}  // namespace

const KernelTable *table_for(Level level) {
    if (!cpu_can_run(level)) {
        return nullptr;
    }
    return compiled_table(level);
}

const KernelTable &active() {
    static const KernelTable &table = choose();
    return table;
}

const char *level_name(Level level) {
    for (const auto &entry : kNames) {
        if (entry.level == level) {
            return entry.name;
        }
    }
    return "unknown";
}

}  // namespace pocketvec::kernels
