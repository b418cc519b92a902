#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine, builds tarn with AddressSanitizer and
# UndefinedBehaviorSanitizer, and runs the whole test suite (unit and end-to-end) under ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The optimised build first: -O2 finds warnings (-Werror) that -O0 cannot, and it is the
# build the README's run command uses.
bash scripts/build.sh release
bash scripts/build.sh asan
# Test tools (DuckDB, hyparquet, s3rver, a reference SigV4 signer): pinned versions from
# tests/package-lock.json, installed only when the lock file changed.
if [ ! -f tests/node_modules/.tarn-lock ] || ! cmp -s tests/package-lock.json tests/node_modules/.tarn-lock; then
  # `npm install`, not `npm ci`: npm 11's ci refuses a lock file that lists only this
  # platform's optional DuckDB bindings; install still follows the lock exactly.
  npm install --prefix tests --no-audit --no-fund
  cp tests/package-lock.json tests/node_modules/.tarn-lock
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd build-asan
ctest --output-on-failure --timeout 600 -j2 "$@"
