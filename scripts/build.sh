#!/usr/bin/env bash
# Configures and builds tarn. Usage: scripts/build.sh [release|dist|asan|tsan] [targets...]
#   release  optimised build (-O2 -g, RelWithDebInfo) in build/   (what scripts/run.sh uses)
#   dist     what a packager builds (-O3, Release) in build-dist/
#   asan     debug build with AddressSanitizer + UndefinedBehaviorSanitizer in build-asan/
#   tsan     ThreadSanitizer build in build-tsan/ (scripts/test.sh runs the threaded tests)
# Targets, when given, limit the build to them (e.g. `tsan tarn test_http`).
# Warnings are errors here (-Werror, as in CI); TARN_WERROR=OFF in the environment turns
# that off. A plain `cmake` build leaves it off (option TARN_WERROR).
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-release}
[ $# -gt 0 ] && shift
case "$kind" in
  release) dir=build;      flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DTARN_SANITIZE=OFF) ;;
  dist)    dir=build-dist; flags=(-DCMAKE_BUILD_TYPE=Release -DTARN_SANITIZE=OFF) ;;
  # -O1: what AddressSanitizer recommends, and it lets the compiler see more warnings
  asan)    dir=build-asan; flags=(-DCMAKE_BUILD_TYPE=Debug -DTARN_SANITIZE=ON "-DCMAKE_C_FLAGS_DEBUG=-g -O1") ;;
  # -O1 as ThreadSanitizer recommends; no benchmarks (nothing runs them under TSan)
  tsan)    dir=build-tsan; flags=(-DCMAKE_BUILD_TYPE=Debug -DTARN_TSAN=ON -DTARN_BENCH=OFF
                                  "-DCMAKE_C_FLAGS_DEBUG=-g -O1") ;;
  *) echo "usage: $0 [release|dist|asan|tsan] [targets...]" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" "${flags[@]}" "-DTARN_WERROR=${TARN_WERROR:-ON}" >/dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build "$dir" -j"$(nproc)" "${targets[@]}"
echo "build: $dir"
