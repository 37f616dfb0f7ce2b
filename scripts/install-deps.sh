#!/usr/bin/env bash
# Installs the Debian 12 packages pocketvec builds and tests with (skips what is present),
# including the aarch64 cross toolchain, qemu-user and the arm64 libraries (Debian multiarch)
# that the cross check of scripts/test.sh uses.
set -euo pipefail
packages=(cmake ninja-build g++ pkg-config libsqlite3-dev libxsimd-dev libzstd-dev libeigen3-dev
          libgtest-dev libbenchmark-dev libxxhash-dev python3 libsqlcipher-dev
          g++-aarch64-linux-gnu qemu-user libsqlite3-dev:arm64 libzstd-dev:arm64 libgtest-dev:arm64 libxxhash-dev:arm64)
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
need_update=0
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $sudo dpkg --add-architecture arm64
    need_update=1
fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ] || [ "$need_update" = 1 ]; then
    echo "installing: ${missing[*]}"
    $sudo apt-get update -qq
    if [ ${#missing[@]} -gt 0 ]; then
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
fi
