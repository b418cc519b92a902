#!/usr/bin/env bash
# End-to-end: the catalog suite (tests/unit/test_catalog.c) against a real PostgreSQL 15
# started here on loopback, with password (SCRAM) authentication over TCP.
set -uo pipefail

: "${E2E_BUILD_DIR:?set E2E_BUILD_DIR to the build directory (ctest sets it)}"
BIN=$E2E_BUILD_DIR/test_catalog
if [ ! -x "$BIN" ]; then
  echo "missing $BIN: build it first (make test_catalog)" >&2
  exit 1
fi

source "$(dirname "$0")/lib_pg.sh"
WORK=$(mktemp -d /tmp/tarn-e2e-pg.XXXXXX)
cleanup() {
  pg_stop
  rm -rf "$WORK"
}
trap cleanup EXIT
pg_start "$WORK" || exit 1
PW=$PG_PASSWORD

# The catalog suite over TCP with the password (the unit binary already ran the SQLite
# and backend-independent groups under ctest, so only the PostgreSQL group runs here).
export CATALOG_TEST_PG="$PG_CONNINFO"
export CATALOG_TEST_ONLY_PG=1
start=$(date +%s)
"$BIN" >"$WORK/test.out" 2>&1
rc=$?
cat "$WORK/test.out"
echo "catalog suite on PostgreSQL: $(($(date +%s) - start)) s"

fail=0
if [ "$rc" -ne 0 ]; then
  echo "FAIL - test_catalog on PostgreSQL exited $rc" >&2
  pg_log_tail 30 >&2
  fail=1
fi
if grep -q -- "$PW" "$WORK/test.out"; then
  echo "FAIL - the password appeared in the test output" >&2
  fail=1
fi
# The tests use one schema each and drop it; nothing is left behind in public.
left=$(pg_psql "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'tarn_t_%'" 2>/dev/null ||
  echo "?")
if [ "$left" != "0" ]; then
  echo "FAIL - test schemas left behind: $left" >&2
  fail=1
fi
[ "$fail" -eq 0 ] && echo "ok   - catalog suite passed on a real PostgreSQL 15"
exit "$fail"
