#!/usr/bin/env bash
# End-to-end: the Postgres ingest's library suite (tests/unit/test_ingest_pg.c) against a
# real PostgreSQL 15 on loopback: exact numerics of every width, dates and timestamps
# across eras against PostgreSQL's own arithmetic, BC incremental marks, three readers on
# an exported snapshot giving the bytes of one. Short, so that the ThreadSanitizer stage
# runs it too (the readers and the decoder hand chunks across threads).
set -uo pipefail

: "${E2E_BUILD_DIR:?set E2E_BUILD_DIR to the build directory (ctest sets it)}"
BIN=$E2E_BUILD_DIR/test_ingest_pg
if [ ! -x "$BIN" ]; then
  echo "missing $BIN: build it first (make test_ingest_pg)" >&2
  exit 1
fi

source "$(dirname "$0")/lib_pg.sh"
WORK=$(mktemp -d /tmp/tarn-e2e-pgi.XXXXXX)
cleanup() {
  pg_stop
  rm -rf "$WORK"
}
trap cleanup EXIT
pg_start "$WORK" || exit 1

INGEST_TEST_PG="$PG_CONNINFO" "$BIN" >"$WORK/test.out" 2>&1
rc=$?
cat "$WORK/test.out"
fail=0
if [ "$rc" -ne 0 ]; then
  echo "FAIL - test_ingest_pg on PostgreSQL exited $rc" >&2
  pg_log_tail 30 >&2
  fail=1
fi
if grep -q "SKIPPED" "$WORK/test.out"; then
  echo "FAIL - cases were skipped with a server at hand" >&2
  fail=1
fi
if grep -q -- "$PG_PASSWORD" "$WORK/test.out"; then
  echo "FAIL - the password appeared in the test output" >&2
  fail=1
fi
[ "$fail" -eq 0 ] && echo "ok - test_ingest_pg on PostgreSQL"
exit "$fail"
