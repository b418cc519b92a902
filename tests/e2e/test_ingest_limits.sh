#!/usr/bin/env bash
# End-to-end: an ingest's memory is bounded whatever the file's shape, concurrent ingests
# share a global budget (503 with Retry-After past it), memory goes back after, and the
# column limit is one limit: what ingest writes at the limit, every reader of tarn reads.
source "$(dirname "$0")/lib.sh"

LAKE=$WORK/lake
wide() { # wide FILE COLUMNS ROWS [s]: a CSV of COLUMNS int (or string) columns
  awk -v n="$2" -v rows="$3" -v s="${4:-}" 'BEGIN {
    for (i = 0; i < n; i++) printf "%sc%d", (i ? "," : ""), i; print "";
    for (r = 0; r < rows; r++) { for (i = 0; i < n; i++) printf "%s%s%d", (i ? "," : ""), s, i + r; print "" } }' >"$1"
}
rss_kb() { awk "/^$2:/ {print \$2}" "/proc/$1/status"; }
post() { curl -sS -o "$WORK/r.$1" -D "$WORK/h.$1" -w '%{http_code}' --data-binary "@$2" \
           -H 'Content-Type: text/csv' "${@:3}" "$BASE/ingest?name=$1"; }

wide "$WORK/w10k.csv" 10000 2
wide "$WORK/w10ks.csv" 10000 3 s
wide "$WORK/w16k.csv" 16384 2
wide "$WORK/w10001.csv" 10001 2

start_serve "$WORK/serve.log" --lake "$LAKE" --listen 127.0.0.1:0 \
  --config <(printf '[ingest]\nmax_memory = 512MiB\nmemory_budget = 256MiB\n') || exit 1
BASE="http://$ADDR"
base_rss=$(rss_kb "$SERVE_PID" VmRSS)

# ---- the column limit: one limit for writer and readers ----
expect_eq "16,384 columns: 413" 413 "$(post w16k "$WORK/w16k.csv")"
expect_match "... naming the limit, the line and the column" \
  'line 1, column [0-9]+ \(field 10001\).*more than 10000 columns' "$(cat "$WORK/r.w16k")"
expect_eq "10,001 columns: 413" 413 "$(post w10001 "$WORK/w10001.csv")"
expect_eq "10,000 columns, the limit: 200" 200 "$(post w10k "$WORK/w10k.csv")"
expect_eq "10,000 string columns: 200" 200 "$(post w10ks "$WORK/w10ks.csv")"
expect_eq "tarn table scan reads the 10,000-column table" 2 \
  "$("$BIN" table scan datasets.w10k --lake "$LAKE" | wc -l)"
expect_eq "... every column of it" 10000 \
  "$("$BIN" table scan datasets.w10k --lake "$LAKE" --limit 1 | jq 'length')"
expect_eq "tarn parquet schema reads the file" 10000 \
  "$("$BIN" parquet schema "$LAKE/$(jq -r .parquet_key "$WORK/r.w10ks")" | grep -c 'id=')"
expect_eq "the last value of the last row is right" '"s10001"' \
  "$("$BIN" table scan datasets.w10ks --lake "$LAKE" --columns c9999 | tail -1 | jq .c9999)"

# ---- memory: six wide ingests at once stay within max_memory, and it goes back after ----
# Measured on the optimised build (scripts/test.sh builds it first): AddressSanitizer
# keeps freed memory in quarantine and has its own allocator, so RSS means nothing there.
kill "$SERVE_PID"; wait_exit "$SERVE_PID" 20
MEMBIN=${E2E_SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/build/tarn
if [ ! -x "$MEMBIN" ] || nm "$MEMBIN" 2>/dev/null | grep -q __asan_init; then
  MEMBIN=$BIN
fi
if nm "$MEMBIN" 2>/dev/null | grep -q __asan_init; then
  echo "SKIP - memory figures: no optimised build next to this sanitized one"
  start_serve "$WORK/serve.log" --lake "$LAKE" --listen 127.0.0.1:0 \
    --config <(printf '[ingest]\nmax_memory = 512MiB\nmemory_budget = 256MiB\n') || exit 1
else
  BIN_SAVED=$BIN; BIN=$MEMBIN
  start_serve "$WORK/serve.log" --lake "$LAKE" --listen 127.0.0.1:0 \
    --config <(printf '[ingest]\nmax_memory = 512MiB\nmemory_budget = 256MiB\n') || exit 1
  BIN=$BIN_SAVED
fi
BASE="http://$ADDR"
base_rss=$(rss_kb "$SERVE_PID" VmRSS)
pids=()
for i in 1 2 3 4 5 6; do
  curl -sS -o "$WORK/six$i" -w '%{http_code}\n' --data-binary "@$WORK/w10ks.csv" \
    -H 'Content-Type: text/csv' "$BASE/ingest?name=six$i" >"$WORK/c.six$i" &
  pids+=($!)
done
wait "${pids[@]}"
expect_eq "six 10,000-column ingests at once: all 200 (they wait for memory in turn)" \
  "200 200 200 200 200 200" "$(cat "$WORK"/c.six? | tr '\n' ' ' | sed 's/ $//')"
if ! nm "$MEMBIN" 2>/dev/null | grep -q __asan_init; then
  hwm=$(rss_kb "$SERVE_PID" VmHWM)
  check "peak RSS ${hwm} kB stays under max_memory (512 MiB) + what the server had ($base_rss kB)" \
    test "$hwm" -lt $((512 * 1024 + base_rss))
  sleep 1
  rss=$(rss_kb "$SERVE_PID" VmRSS)
  check "after the ingests RSS went back to ${rss} kB (under 160 MiB)" test "$rss" -lt $((160 * 1024))
fi
kill "$SERVE_PID"; wait_exit "$SERVE_PID" 20

# ---- no waiting: past max_memory an ingest is 503 with Retry-After ----
start_serve "$WORK/serve3.log" --lake "$LAKE" --listen 127.0.0.1:0 \
  --config <(printf '[ingest]\nmax_memory = 64MiB\nmemory_budget = 64MiB\nqueue_timeout = 0\n') || exit 1
BASE="http://$ADDR"
wide "$WORK/big.csv" 200 20000 s  # about 30 MB: each conversion needs the whole 64 MiB
busy=0
for try in 1 2 3 4 5; do
  pids=()
  for i in 1 2 3; do
    curl -sS -o "$WORK/r.b$i" -D "$WORK/h.b$i" -w '%{http_code}\n' --data-binary "@$WORK/big.csv" \
      -H 'Content-Type: text/csv' "$BASE/ingest?name=big$try$i" >"$WORK/c.b$i" &
    pids+=($!)
  done
  wait "${pids[@]}"
  for i in 1 2 3; do
    if [ "$(cat "$WORK/c.b$i")" = 503 ]; then busy=$i; break 2; fi
  done
done
check "three big ingests at once on room for one: one is 503 (seen on try $try)" test "$busy" -gt 0
check "... with Retry-After" grep -qi '^Retry-After: 5' "$WORK/h.b$busy"
expect_match "... saying why" 'max_memory' "$(cat "$WORK/r.b$busy")"
kill "$SERVE_PID"; wait_exit "$SERVE_PID" 20

# ---- a budget a file cannot fit: 413 naming the setting ----
start_serve "$WORK/serve2.log" --lake "$LAKE" --listen 127.0.0.1:0 \
  --config <(printf '[ingest]\nmemory_budget = 16MiB\n') || exit 1
BASE="http://$ADDR"
expect_eq "10,000 columns in a 16 MiB budget: 413" 413 "$(post tight "$WORK/w10k.csv")"
expect_match "... naming memory_budget" 'memory_budget is 16 MiB' "$(cat "$WORK/r.tight")"
check "... and nothing of the dataset was written" test ! -e "$LAKE/warehouse/datasets/tight/data"
kill "$SERVE_PID"; wait_exit "$SERVE_PID" 20
"$BIN" ingest "$WORK/w10k.csv" --name tightcli --lake "$LAKE" \
  --config <(printf '[ingest]\nmemory_budget = 16MiB\n') 2>"$WORK/cli.err"
expect_eq "tarn ingest in the same budget: exit 1" 1 "$?"
expect_match "... with the same message" 'memory_budget is 16 MiB' "$(cat "$WORK/cli.err")"

finish
