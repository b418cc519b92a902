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
# a 10,000-column file of about 9 MB for the slow uploads below
wide "$WORK/slow.csv" 10000 150

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

# ---- concurrent ingests share max_memory: two fit, a third waits its turn ----
pids=()
for i in 1 2; do
  curl -sS -o "$WORK/r.slow$i" -w '%{http_code}' --limit-rate 2M --data-binary "@$WORK/slow.csv" \
    -H 'Content-Type: text/csv' "$BASE/ingest?name=slow$i" >"$WORK/c.slow$i" &
  pids+=($!)
done
sleep 1
expect_eq "a third ingest while two hold the budget: 503" 503 "$(post third "$WORK/w10k.csv")"
check "... with Retry-After" grep -qi '^Retry-After: 5' "$WORK/h.third"
expect_match "... saying why" 'max_memory' "$(cat "$WORK/r.third")"
wait "${pids[@]}"
expect_eq "the two ingests that held it succeeded" "200 200" "$(cat "$WORK/c.slow1") $(cat "$WORK/c.slow2")"
expect_eq "afterwards the third is accepted" 200 "$(post third "$WORK/w10k.csv")"

# ---- memory: six wide ingests at once stay within the budget, and go back after ----
pids=()
for i in 1 2 3 4 5 6; do
  curl -sS -o "$WORK/six$i" -w '%{http_code}\n' --retry 20 --retry-delay 1 --retry-all-errors \
    --data-binary "@$WORK/w10ks.csv" -H 'Content-Type: text/csv' "$BASE/ingest?name=six$i" \
    >"$WORK/c.six$i" &
  pids+=($!)
done
wait "${pids[@]}"
expect_eq "six 10,000-column ingests (retrying on 503): all 200" "200 200 200 200 200 200" \
  "$(cat "$WORK"/c.six? | tr '\n' ' ' | sed 's/ $//')"
hwm=$(rss_kb "$SERVE_PID" VmHWM)
check "peak RSS ${hwm} kB stays under max_memory (512 MiB) + what the server had ($base_rss kB)" \
  test "$hwm" -lt $((512 * 1024 + base_rss))
sleep 1
rss=$(rss_kb "$SERVE_PID" VmRSS)
check "after the ingests RSS went back to ${rss} kB (under 160 MiB)" test "$rss" -lt $((160 * 1024))
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
