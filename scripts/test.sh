#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: install, build, and pass every test — once in a release
# build, once with AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)

# Every option that decides what is tested is set explicitly: a cached value from an earlier
# configure of build/ never narrows the run.
opts=(-DPVEC_BUILD_TESTS=ON -DPVEC_BUILD_TOOLS=ON -DPVEC_BUILD_EXAMPLES=ON -DPVEC_BUILD_BENCH=ON)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPVEC_SANITIZE= "${opts[@]}"
cmake --build build -j "$jobs"
(cd build && ctest -j "$jobs" --output-on-failure --timeout 600)

if [ "${PVEC_SKIP_SANITIZERS:-0}" != 1 ]; then
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPVEC_SANITIZE=address,undefined \
        "${opts[@]}"
    cmake --build build-asan -j "$jobs"
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest -j "$jobs" --output-on-failure --timeout 900)

    # ThreadSanitizer over the tests labelled `concurrency` (threads and processes on one file).
    cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPVEC_SANITIZE=thread \
        -DPVEC_BUILD_TOOLS=OFF -DPVEC_BUILD_EXAMPLES=OFF
    cmake --build build-tsan -j "$jobs" --target test_concurrency
    (cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest -j "$jobs" -L concurrency \
        --output-on-failure --timeout 900)
fi
