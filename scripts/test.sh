#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine, builds tarn with AddressSanitizer and
# UndefinedBehaviorSanitizer, and runs the whole test suite (unit and end-to-end) under
# ctest; then runs the threaded tests again under ThreadSanitizer.
# Extra arguments go to the sanitizer run's ctest; the ThreadSanitizer stage then is
# skipped (it has its own selection of tests).
set -euo pipefail
cd "$(dirname "$0")/.."
# Seconds since the start, so a CI log shows where its time goes.
stage() { echo "test.sh: $1 done at ${SECONDS}s"; }
bash scripts/setup.sh
stage setup
# The optimised builds first, with -Werror: -O2 and -O3 find warnings that -O0 cannot.
# `release` (-O2) is the build the README's run command uses; `dist` (-O3, Release) is
# what a packager builds.
bash scripts/build.sh release
stage "release build"
bash scripts/build.sh dist
stage "dist build"
bash scripts/build.sh asan
stage "asan build"
# ThreadSanitizer: the programs that run threads (HTTP server connections, the ingest
# pipeline, the bucket prober, the error journal's flusher, the journal's group commit, the
# catalog and store tests that race writers) and the end-to-end tests that send `tarn
# serve` requests at once.
# Multi-process tests (table concurrency) gain nothing here. `tarn sink` cannot run under
# ThreadSanitizer: librdkafka starts its threads with C11 thrd_create, which TSan does
# not intercept, and the first allocation on such a thread crashes inside TSan; the sink's
# threads are covered by ASan runs and test_sink_table's racing threads are here.
TSAN_UNIT=(test_http test_http_ingest test_http_storage test_http_limits test_ingest
           test_buckets test_applog test_errjournal test_store test_store_s3 test_catalog
           test_table test_base_log test_base_metrics test_base_hash test_sink_table
           test_journal_wal test_journal test_ingest_pg)
TSAN_E2E=(test_serve test_auth test_ingest test_storage test_races test_journal test_ingest_pg_lib)
if [ $# -eq 0 ]; then
  bash scripts/build.sh tsan tarn "${TSAN_UNIT[@]}"
  stage "tsan build"
fi
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
# Two at once: a third beside e2e.test_sink_kill shortened the stage by two minutes but
# starved the kill loop's sinks of CPU (fewer committed before their kill than it asserts).
(cd build-asan && ctest --output-on-failure --timeout 600 -j2 "$@")
stage "tests (ASan/UBSan)"
if [ $# -eq 0 ]; then
  # A race report stops the program with exit code 66, which fails its test.
  export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:exitcode=66:second_deadlock_stack=1}
  regex="^(unit\.($(IFS='|'; echo "${TSAN_UNIT[*]}"))|e2e\.($(IFS='|'; echo "${TSAN_E2E[*]}")))\$"
  echo "ThreadSanitizer: ${#TSAN_UNIT[@]} unit and ${#TSAN_E2E[@]} end-to-end test programs"
  (cd build-tsan && ctest --output-on-failure --timeout 600 -j2 -R "$regex")
  stage "tests (TSan)"
fi
