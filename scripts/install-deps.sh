#!/usr/bin/env bash
# Installs the Debian 12 packages pocketvec builds and tests with (skips what is present).
set -euo pipefail
packages=(cmake ninja-build g++ pkg-config libsqlite3-dev libxsimd-dev libzstd-dev libeigen3-dev
          libgtest-dev libbenchmark-dev python3)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
