#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: install, build, run the main job (`pocketvec demo`).
# Extra arguments go to the demo, e.g. `scripts/demo.sh --json` or `--data ../shared/data/sift-128`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Its own build directory, so that it never changes what scripts/test.sh builds (and back).
cmake -S . -B build-demo -G Ninja -DCMAKE_BUILD_TYPE=Release -DPVEC_BUILD_TESTS=OFF >/dev/null
cmake --build build-demo --target pocketvec_tool
exec build-demo/tools/pocketvec demo "$@"
