// Picks the kernel table once. Compiled at baseline flags: it only reads CPU features and calls a
// level's kernel_table_*() after checking that the CPU and OS can run that level and the
// extensions of the variant it asks for.
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
const KernelTable *kernel_table_avx512(bool vnni, bool vpopcntdq);
#endif
#if defined(PVEC_HAVE_NEON)
const KernelTable *kernel_table_neon(bool dotprod);
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
        // Matches the unit's -mavx2 -mfma -mf16c -mpopcnt.
        return f.avx2 && f.fma && f.f16c && f.popcnt;
    case Level::avx512:
        // Matches the unit's -mavx512f -mavx512bw -mavx512dq -mavx512cd -mavx512vl.
        return f.avx512f && f.avx512bw && f.avx512dq && f.avx512cd && f.avx512vl;
    case Level::neon:
        return f.neon;
    }
    return false;
}

// Every compiled variant of `level` this CPU can run, best first. Only call once
// cpu_can_run(level).
std::vector<const KernelTable *> variants(Level level) {
    [[maybe_unused]] const platform::CpuFeatures &f = platform::cpu_features();
    std::vector<const KernelTable *> out;
    switch (level) {
    case Level::scalar:
        out.push_back(kernel_table_scalar());
        break;
    case Level::sse2:
#if defined(PVEC_HAVE_SSE2)
        out.push_back(kernel_table_sse2());
#endif
        break;
    case Level::avx2:
#if defined(PVEC_HAVE_AVX2)
        out.push_back(kernel_table_avx2());
#endif
        break;
    case Level::avx512:
#if defined(PVEC_HAVE_AVX512)
        for (bool vnni : {true, false}) {
            for (bool vpopcntdq : {true, false}) {
                if ((!vnni || f.avx512vnni) && (!vpopcntdq || f.avx512vpopcntdq)) {
                    out.push_back(kernel_table_avx512(vnni, vpopcntdq));
                }
            }
        }
#endif
        break;
    case Level::neon:
#if defined(PVEC_HAVE_NEON)
        if (f.neon_dotprod) {
            out.push_back(kernel_table_neon(true));
        }
        out.push_back(kernel_table_neon(false));
#endif
        break;
    }
    return out;
}

// Every table's name, whether or not this CPU runs it, to tell "unknown" from "cannot run".
bool is_known_name(const char *name) {
    constexpr const char *kVariants[] = {"avx512+vnni", "avx512+vpopcntdq",
                                         "avx512+vnni+vpopcntdq", "neon+dotprod"};
    for (const auto &entry : kNames) {
        if (std::strcmp(name, entry.name) == 0) {
            return true;
        }
    }
    for (const char *v : kVariants) {
        if (std::strcmp(name, v) == 0) {
            return true;
        }
    }
    return false;
}

struct Choice {
    const KernelTable *table = nullptr;
    std::string error;
};

const KernelTable *best() {
    for (Level level : kPreference) {
        if (const KernelTable *t = table_for(level)) {
            return t;
        }
    }
    return kernel_table_scalar();
}

Choice choose() {
    Choice c;
    const char *forced = std::getenv("PVEC_SIMD");
    if (forced == nullptr || *forced == '\0') {
        c.table = best();
        return c;
    }
    for (const KernelTable *t : runnable_tables()) {
        if (std::strcmp(forced, t->name) == 0) {
            c.table = t;
            return c;
        }
    }
    for (const auto &entry : kNames) {
        if (std::strcmp(forced, entry.name) == 0) {
            if (const KernelTable *t = table_for(entry.level)) {
                c.table = t;
                return c;
            }
        }
    }
    c.table = best();
    c.error = std::string("PVEC_SIMD=") + forced +
              (is_known_name(forced)
                   ? ": this CPU cannot run that kernel level, or this build does not include it"
                   : ": unknown kernel level") +
              " (runnable here:";
    for (const KernelTable *t : runnable_tables()) {
        c.error += std::string(" ") + t->name;
    }
    c.error += ")";
    return c;
}

const Choice &chosen() {
    static const Choice c = choose();
    return c;
}

}  // namespace

const KernelTable *table_for(Level level) {
    if (!cpu_can_run(level)) {
        return nullptr;
    }
    const std::vector<const KernelTable *> v = variants(level);
    return v.empty() ? nullptr : v.front();
}

std::vector<const KernelTable *> runnable_tables() {
    std::vector<const KernelTable *> out;
    for (const auto &entry : kNames) {
        if (cpu_can_run(entry.level)) {
            for (const KernelTable *t : variants(entry.level)) {
                out.push_back(t);
            }
        }
    }
    return out;
}

const KernelTable &active() { return *chosen().table; }

const std::string &forced_level_error() { return chosen().error; }

const char *level_name(Level level) {
    for (const auto &entry : kNames) {
        if (entry.level == level) {
            return entry.name;
        }
    }
    return "unknown";
}

}  // namespace pocketvec::kernels
