#!/usr/bin/env bash
# End-to-end: the catalog suite (tests/unit/test_catalog.c) against a real PostgreSQL 15
# started here on loopback, with password (SCRAM) authentication over TCP.
set -uo pipefail

: "${E2E_BUILD_DIR:?set E2E_BUILD_DIR to the build directory (ctest sets it)}"
BIN=$E2E_BUILD_DIR/test_catalog
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
if [ ! -x "$BIN" ]; then
  echo "missing $BIN: build it first (make test_catalog)" >&2
  exit 1
fi
if [ ! -x "$PGBIN/postgres" ]; then
  echo "PostgreSQL 15 is not installed in $PGBIN (scripts/setup.sh installs it)" >&2
  exit 1
fi

WORK=$(mktemp -d /tmp/tarn-e2e-pg.XXXXXX)
chmod 755 "$WORK"
PGDIR=$WORK/pg # data, socket and log; owned by the server's user
mkdir "$PGDIR"

# PostgreSQL refuses to run as root: as root, run it as `nobody`.
if [ "$(id -u)" -eq 0 ]; then
  chown nobody: "$PGDIR"
  as_pg() { runuser -u nobody -- "$@"; }
else
  as_pg() { "$@"; }
fi

STARTED=0
cleanup() {
  if [ "$STARTED" -eq 1 ]; then
    as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PW=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$PW" >"$PGDIR/pwfile"
[ "$(id -u)" -eq 0 ] && chown nobody: "$PGDIR/pwfile"

if ! as_pg "$PGBIN/initdb" -D "$PGDIR/data" -U tarn --pwfile="$PGDIR/pwfile" -E UTF8 \
  --locale=C --auth-local=trust --auth-host=scram-sha-256 >"$WORK/initdb.log" 2>&1; then
  echo "initdb failed:" >&2
  cat "$WORK/initdb.log" >&2
  exit 1
fi
rm -f "$PGDIR/pwfile"

# Loopback only, plus a unix socket in our directory; retry on a taken port.
PORT=
for _ in 1 2 3 4 5 6 7 8; do
  p=$((20000 + RANDOM % 30000))
  if as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $p -k $PGDIR -c max_connections=60" start \
    >/dev/null 2>&1; then
    PORT=$p
    STARTED=1
    break
  fi
done
if [ -z "$PORT" ]; then
  echo "PostgreSQL did not start; log:" >&2
  cat "$PGDIR/server.log" >&2
  exit 1
fi
echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT"

if ! as_pg "$PGBIN/createdb" -h "$PGDIR" -p "$PORT" -U tarn tarn_test; then
  echo "createdb failed" >&2
  exit 1
fi

# The catalog suite over TCP with the password (the unit binary already ran the SQLite
# and backend-independent groups under ctest, so only the PostgreSQL group runs here).
export CATALOG_TEST_PG="host=127.0.0.1 port=$PORT dbname=tarn_test user=tarn password=$PW"
export CATALOG_TEST_ONLY_PG=1
start=$(date +%s)
"$BIN" >"$WORK/test.out" 2>&1
rc=$?
cat "$WORK/test.out"
echo "catalog suite on PostgreSQL: $(($(date +%s) - start)) s"

fail=0
if [ "$rc" -ne 0 ]; then
  echo "FAIL - test_catalog on PostgreSQL exited $rc" >&2
  tail -30 "$PGDIR/server.log" >&2
  fail=1
fi
if grep -q -- "$PW" "$WORK/test.out"; then
  echo "FAIL - the password appeared in the test output" >&2
  fail=1
fi
# The tests use one schema each and drop it; nothing is left behind in public.
left=$(as_pg psql -h "$PGDIR" -p "$PORT" -U tarn -d tarn_test -Atc \
  "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'tarn_t_%'" 2>/dev/null || echo "?")
if [ "$left" != "0" ]; then
  echo "FAIL - test schemas left behind: $left" >&2
  fail=1
fi
[ "$fail" -eq 0 ] && echo "ok   - catalog suite passed on a real PostgreSQL 15"
exit "$fail"
