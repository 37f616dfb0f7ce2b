// Invariant checks for the fuzz targets: a failure aborts (libFuzzer and ctest both report it).
#pragma once

#include <cstdio>
#include <cstdlib>

#define PVEC_FUZZ_CHECK(cond)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #cond, __FILE__,           \
                         __LINE__);                                                                \
            std::abort();                                                                          \
        }                                                                                          \
    } while (0)
