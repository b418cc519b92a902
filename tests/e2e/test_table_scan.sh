#!/usr/bin/env bash
# test_table_scan.sh - `tarn table scan --where` with OR, IN, NOT, IS NULL over a partitioned
# table with an added column, checked against DuckDB reading the same data files with the
# same WHERE (scan_duckdb.mjs). Needs E2E_NODE_MODULES (@duckdb/node-api); ctest sets it.
source "$(dirname "$0")/lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"
: "${E2E_NODE_MODULES:?set E2E_NODE_MODULES to tests/node_modules}"
cd "$WORK"
export TARN_LAKE="$WORK/lake" TARN_LOG_LEVEL=warn
T() { "$BIN" table "$@"; }

T create db.s --schema "id long not null, grp int, name string, score double, \
amount decimal(10,2), ts timestamptz, d date, flag boolean" --partition "grp" >/dev/null
expect_eq "create exits 0" 0 "$?"
# rows 0..199 in two commits, then x added and rows 200..299 (x null in the older files)
gen() { # FIRST LAST WITH_X
  local i
  for ((i = $1; i <= $2; i++)); do
    local name="\"n$((i % 5))\"" score="$(( (i % 9) - 4 )).5" ts="\"2026-01-0$((1 + i % 4))T0$((i % 10)):00:00Z\""
    ((i % 6 == 0)) && name=null
    ((i % 7 == 0)) && score=null
    ((i % 11 == 0)) && score="-0.0"
    ((i % 13 == 0)) && score="0.0"
    ((i % 8 == 0)) && ts=null
    printf '{"id": %d, "grp": %d, "name": %s, "score": %s, "amount": "%d.%02d", "ts": %s, "d": "2026-01-%02d", "flag": %s' \
      "$i" $((i % 4)) "$name" "$score" $((i % 7)) $((i * 3 % 100)) "$ts" $((1 + i % 9)) \
      "$( ((i % 2)) && echo true || echo false)"
    if [ "$3" = 1 ]; then
      if ((i % 5 == 0)); then printf ', "x": null'; else printf ', "x": %d' $((i * 2 % 400)); fi
    fi
    echo "}"
  done
}
gen 0 99 0 >a.jsonl; gen 100 199 0 >b.jsonl; gen 200 299 1 >c.jsonl
T append db.s --jsonl a.jsonl >/dev/null && T append db.s --jsonl b.jsonl >/dev/null
expect_eq "two appends" 0 "$?"
T add-column db.s x long >/dev/null && T append db.s --jsonl c.jsonl >/dev/null
expect_eq "add-column and a third append" 0 "$?"
expect_eq "300 rows" 300 "$(T scan db.s | wc -l)"

if E2E_TARN_BIN="$BIN" E2E_NODE_MODULES="$E2E_NODE_MODULES" \
  node "$HERE/scan_duckdb.mjs" "$WORK/lake" db.s "$WORK/lake/warehouse/db/s/data" \
  >"$WORK/duck.log" 2>&1; then
  ok "tarn table scan --where returns what DuckDB's WHERE does ($(tail -1 "$WORK/duck.log"))"
  grep -v passed "$WORK/duck.log" | sed 's/^ok  /    /' 
else
  fail "tarn and DuckDB differ (log below)"
  sed 's/^/    /' "$WORK/duck.log"
fi
finish
