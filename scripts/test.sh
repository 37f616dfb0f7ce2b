#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: install, build, and pass every test — in a release
# build, in a release build linking SQLCipher (encryption and integration tests), with
# AddressSanitizer + UndefinedBehaviorSanitizer, the concurrency tests with ThreadSanitizer, and
# an aarch64 cross build's demo under qemu.
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

# Encryption at rest: a build linking SQLCipher (Debian's libsqlcipher-dev, SQLite 3.15.2 inside)
# runs the encryption tests and the whole integration suite on that older SQLite. Only those two
# targets, in Release, without the tool (it needs JSON1, which that SQLite lacks).
if [ "${PVEC_SKIP_SQLCIPHER:-0}" != 1 ]; then
    cmake -S . -B build-cipher -G Ninja -DCMAKE_BUILD_TYPE=Release -DPVEC_SANITIZE= \
        -DPVEC_SQLCIPHER=ON -DPVEC_BUILD_TESTS=ON -DPVEC_BUILD_TOOLS=OFF -DPVEC_BUILD_EXAMPLES=OFF \
        -DPVEC_BUILD_BENCH=OFF
    cmake --build build-cipher -j "$jobs" --target test_integration test_encryption
    (cd build-cipher && ctest -j "$jobs" -L "encryption|integration" --output-on-failure \
        --timeout 600)
fi

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

# aarch64: a cross build whose kernel and codec tests (every NEON variant against scalar) and
# small synthetic demo must pass under qemu-aarch64 with NEON kernels. (Debian 12's qemu-user
# hangs in programs that start threads here, so the threaded suites run on the x86 machine.)
if [ "${PVEC_SKIP_AARCH64:-0}" != 1 ]; then
    cmake -S . -B build-aarch64 -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_TOOLCHAIN_FILE=platform/toolchains/aarch64-linux-gnu.cmake -DPVEC_BUILD_TESTS=ON \
        -DPVEC_BUILD_TOOLS=ON -DPVEC_BUILD_EXAMPLES=OFF -DPVEC_BUILD_BENCH=OFF
    cmake --build build-aarch64 -j "$jobs" --target pocketvec_tool test_kernels test_codec
    qemu=(timeout 600 qemu-aarch64 -L /usr/aarch64-linux-gnu)
    "${qemu[@]}" build-aarch64/tests/kernels/test_kernels --gtest_brief=1
    "${qemu[@]}" build-aarch64/tests/unit/codec/test_codec --gtest_brief=1
    out=$("${qemu[@]}" build-aarch64/tools/pocketvec demo --count 2000 --dim 64 --queries 20)
    echo "$out"
    echo "$out" | grep -q "kernel neon" || { echo "aarch64 demo: no NEON kernel level" >&2; exit 1; }
    echo "$out" | grep -q "recall@10    1.000" || { echo "aarch64 demo: recall below 1" >&2; exit 1; }
fi
