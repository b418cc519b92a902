#!/usr/bin/env bash
# Configures and builds tarn. Usage: scripts/build.sh [release|asan]
#   release  optimised build in build/          (what scripts/run.sh uses)
#   asan     debug build with AddressSanitizer + UndefinedBehaviorSanitizer in build-asan/
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-release}
case "$kind" in
  release) dir=build;      flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DTARN_SANITIZE=OFF) ;;
  # -O1: what AddressSanitizer recommends, and it lets the compiler see more warnings
  asan)    dir=build-asan; flags=(-DCMAKE_BUILD_TYPE=Debug -DTARN_SANITIZE=ON "-DCMAKE_C_FLAGS_DEBUG=-g -O1") ;;
  *) echo "usage: $0 [release|asan]" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" "${flags[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
echo "build: $dir/tarn"
