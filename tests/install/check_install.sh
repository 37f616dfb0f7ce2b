#!/usr/bin/env bash
# The installed package works from any prefix: install the build into a temporary prefix, then
# build examples/basic.c with pkg-config (--libs and --static --libs) and as a C-only CMake project
# with find_package (shared and static targets), and run each. Usage: check_install.sh BUILD SRC
set -euo pipefail
build=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"  # not /usr/local: the package must find itself
cmake --install "$build" --prefix "$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"

cc -std=c99 "$src/examples/basic.c" -o "$work/pc_shared" $(pkg-config --cflags --libs pocketvec) \
    -Wl,-rpath,"$prefix/lib"
"$work/pc_shared" "$work/a.db" >/dev/null
# The static library alone, named by path so that the shared one cannot be picked instead.
cc -std=c99 "$src/examples/basic.c" -o "$work/pc_static" $(pkg-config --cflags pocketvec) \
    "$prefix/lib/libpocketvec.a" $(pkg-config --static --libs pocketvec | sed 's/-lpocketvec//')
"$work/pc_static" "$work/b.db" >/dev/null
if ldd "$work/pc_static" | grep -q libpocketvec; then
    echo "the static build links libpocketvec.so" >&2
    exit 1
fi

for target in pocketvec pocketvec_static; do
    mkdir -p "$work/$target"
    cat > "$work/$target/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.16)
project(app C)
find_package(pocketvec REQUIRED)
add_executable(app "$src/examples/basic.c")
target_link_libraries(app PRIVATE pocketvec::$target)
set_target_properties(app PROPERTIES BUILD_RPATH "$prefix/lib")
CMAKE
    cmake -S "$work/$target" -B "$work/$target/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
    cmake --build "$work/$target/build" >/dev/null
    "$work/$target/build/app" "$work/$target.db" >/dev/null
done
echo "installed package: pkg-config shared and static, find_package shared and static: ok"
