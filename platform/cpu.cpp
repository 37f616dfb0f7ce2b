#include "platform/cpu.h"

#include <cstdint>

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
#define PVEC_CPU_X86 1
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#elif defined(__aarch64__) || defined(_M_ARM64)
#define PVEC_CPU_AARCH64 1
#if defined(__linux__) || defined(__ANDROID__)
#include <sys/auxv.h>
#elif defined(__APPLE__)
#include <sys/sysctl.h>
#include <sys/types.h>
#endif
#endif

namespace pocketvec::platform {
namespace {

#if defined(PVEC_CPU_X86)

struct CpuidRegs {
    std::uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

CpuidRegs cpuid(std::uint32_t leaf, std::uint32_t subleaf) {
    CpuidRegs r;
#if defined(_MSC_VER) && !defined(__clang__)
    int v[4];
    __cpuidex(v, static_cast<int>(leaf), static_cast<int>(subleaf));
    r.eax = static_cast<std::uint32_t>(v[0]);
    r.ebx = static_cast<std::uint32_t>(v[1]);
    r.ecx = static_cast<std::uint32_t>(v[2]);
    r.edx = static_cast<std::uint32_t>(v[3]);
#else
    unsigned a = 0, b = 0, c = 0, d = 0;
    __cpuid_count(leaf, subleaf, a, b, c, d);
    r.eax = a;
    r.ebx = b;
    r.ecx = c;
    r.edx = d;
#endif
    return r;
}

std::uint32_t cpuid_max_leaf() {
#if defined(_MSC_VER) && !defined(__clang__)
    return cpuid(0, 0).eax;
#else
    return __get_cpuid_max(0, nullptr);
#endif
}

// XCR0, the OS-enabled register states. Only call after cpuid reported OSXSAVE: xgetbv faults
// otherwise. Inline asm rather than _xgetbv, which GCC/Clang only allow under -mxsave.
std::uint64_t xgetbv0() {
#if defined(_MSC_VER) && !defined(__clang__)
    return _xgetbv(0);
#else
    std::uint32_t lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (static_cast<std::uint64_t>(hi) << 32) | lo;
#endif
}

constexpr bool bit(std::uint32_t reg, int n) { return ((reg >> n) & 1u) != 0; }

CpuFeatures detect() {
    CpuFeatures f;
    const std::uint32_t max_leaf = cpuid_max_leaf();
    if (max_leaf < 1) {
        return f;
    }
    const CpuidRegs l1 = cpuid(1, 0);
    f.sse2 = bit(l1.edx, 26);
    f.popcnt = bit(l1.ecx, 23);

    const bool osxsave = bit(l1.ecx, 27);
    const bool avx = bit(l1.ecx, 28);
    const bool fma = bit(l1.ecx, 12);
    std::uint64_t xcr0 = 0;
    if (osxsave) {
        xcr0 = xgetbv0();
    }
    // XCR0 bit 1 = SSE (XMM), bit 2 = AVX (upper YMM); bits 5, 6, 7 = opmask, ZMM0-15 upper
    // halves, ZMM16-31.
    const bool os_ymm = osxsave && (xcr0 & 0x6) == 0x6;
    const bool os_zmm = os_ymm && (xcr0 & 0xE0) == 0xE0;

    CpuidRegs l7;
    if (max_leaf >= 7) {
        l7 = cpuid(7, 0);
    }
    const bool ymm_ok = avx && os_ymm;
    f.avx2 = ymm_ok && bit(l7.ebx, 5);
    f.fma = ymm_ok && fma;
    f.f16c = ymm_ok && bit(l1.ecx, 29);

    const bool zmm_ok = ymm_ok && os_zmm;
    f.avx512f = zmm_ok && bit(l7.ebx, 16);
    f.avx512dq = f.avx512f && bit(l7.ebx, 17);
    f.avx512cd = f.avx512f && bit(l7.ebx, 28);
    f.avx512bw = f.avx512f && bit(l7.ebx, 30);
    f.avx512vl = f.avx512f && bit(l7.ebx, 31);
    f.avx512vnni = f.avx512f && bit(l7.ecx, 11);
    f.avx512vpopcntdq = f.avx512f && bit(l7.ecx, 14);
    return f;
}

#elif defined(PVEC_CPU_AARCH64)

CpuFeatures detect() {
    CpuFeatures f;
    f.neon = true;  // Advanced SIMD is part of the aarch64 base architecture.
#if defined(__linux__) || defined(__ANDROID__)
    // Values from the kernel's uapi asm/hwcap.h for arm64; spelled out so that old headers build.
    constexpr unsigned long kHwcapAsimd = 1ul << 1;
    constexpr unsigned long kHwcapAsimddp = 1ul << 20;
    const unsigned long hwcap = getauxval(AT_HWCAP);
    if ((hwcap & kHwcapAsimd) != 0) {
        f.neon_dotprod = (hwcap & kHwcapAsimddp) != 0;
    }
#elif defined(__APPLE__)
    int value = 0;
    size_t size = sizeof(value);
    if (sysctlbyname("hw.optional.arm.FEAT_DotProd", &value, &size, nullptr, 0) == 0) {
        f.neon_dotprod = value != 0;
    }
#endif
    return f;
}

#else

CpuFeatures detect() { return CpuFeatures{}; }

#endif

}  // namespace

const CpuFeatures &cpu_features() {
    static const CpuFeatures features = detect();
    return features;
}

}  // namespace pocketvec::platform
