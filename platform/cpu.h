// Run-time CPU feature detection. Compiled at baseline flags: nothing here executes an instruction
// the CPU may lack (x86: cpuid, and xgetbv only once cpuid reports OSXSAVE; aarch64: getauxval).
//
// A feature is reported only when both the CPU has it and the OS saves its register state on a
// context switch (x86: XCR0 holds the YMM state for AVX/AVX2/FMA, and the opmask + ZMM states for
// AVX-512). So `avx2 == true` means AVX2 code may run, not merely that cpuid lists it.
#pragma once

namespace pocketvec::platform {

struct CpuFeatures {
    // x86-64
    bool sse2 = false;
    bool avx2 = false;  // AVX2 (implies AVX) with the OS saving YMM state
    bool fma = false;   // FMA3, same OS condition as avx2
    bool f16c = false;  // half-precision conversions (VCVTPH2PS), same OS condition as avx2
    bool popcnt = false;
    bool avx512f = false;
    bool avx512bw = false;
    bool avx512dq = false;  // the avx512 kernel unit is compiled with -mavx512{f,bw,dq,cd,vl}
    bool avx512cd = false;  //   so all five are required before it may run
    bool avx512vl = false;
    bool avx512vnni = false;
    bool avx512vpopcntdq = false;
    // aarch64
    bool neon = false;  // always true on aarch64 (Advanced SIMD is mandatory there)
    bool neon_dotprod = false;
};

// The features of the CPU this process runs on; computed once on first use (thread-safe).
const CpuFeatures &cpu_features();

}  // namespace pocketvec::platform
