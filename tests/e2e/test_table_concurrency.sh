#!/usr/bin/env bash
# test_table_concurrency.sh - 8 writer processes append 50 commits each (`tarn table append
# --commit-each`, one process per writer) to one table at the same time, through the SQLite catalog and then through a real
# PostgreSQL 15: every row lands exactly once and the snapshot chain is linear (400
# appends, each snapshot's parent the one of the previous sequence number, no gaps).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_pg.sh"
# The lakes and the PostgreSQL data live in memory (/dev/shm) when it is there: this test
# is about concurrent commits (compare-and-swap, retries, a linear chain), and on a disk
# shared with other jobs the fsyncs of 400 commits (about 20 each) would take most of its
# time. Durability is what test_table_crash and the store tests check.
FAST=$WORK
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  FAST=$(mktemp -d /dev/shm/tarn-e2e-conc.XXXXXX) || FAST=$WORK
fi
conc_cleanup() {
  pg_stop
  [ "$FAST" != "$WORK" ] && rm -rf "$FAST"
  cleanup
}
trap conc_cleanup EXIT

WRITERS=8
COMMITS=50
ROWS=2 # per commit

# The input of writer w, commit k: ids w*1000 + k*10 + r, distinct across all writers.
mkdir -p "$WORK/in"
for w in $(seq 0 $((WRITERS - 1))); do
  for k in $(seq 0 $((COMMITS - 1))); do
    for r in $(seq 0 $((ROWS - 1))); do
      printf '{"id": %d, "w": %d, "k": %d}\n' $((w * 1000 + k * 10 + r)) "$w" "$k"
    done >"$WORK/in/$w-$k.jsonl"
  done
done
for w in $(seq 0 $((WRITERS - 1))); do
  for k in $(seq 0 $((COMMITS - 1))); do
    for r in $(seq 0 $((ROWS - 1))); do echo $((w * 1000 + k * 10 + r)); done
  done
done | sort -n >"$WORK/want.ids"

# run_race LABEL: creates c.t in the catalog the environment names, runs the writers, checks.
run_race() {
  local label=$1 lake=$FAST/lake-$1 start w pids=() bad=0 out
  export TARN_LAKE=$lake TARN_LOG_LEVEL=warn
  # Many retries: 8 writers on one table lose most races. A first wait near the length of
  # one commit (tens of ms here) wastes fewer attempts than a shorter one.
  "$BIN" table create c.t --schema "id long not null, w int not null, k int not null" \
    --property commit.retry.num-retries=1000 --property commit.retry.min-wait-ms=40 \
    --property commit.retry.max-wait-ms=1000 >/dev/null ||
    { fail "$label: create c.t"; return; }
  start=$(date +%s)
  # One process per writer: `append --commit-each` commits its 50 files one by one.
  for w in $(seq 0 $((WRITERS - 1))); do
    local files=()
    for k in $(seq 0 $((COMMITS - 1))); do files+=(--jsonl "$WORK/in/$w-$k.jsonl"); done
    "$BIN" table append c.t "${files[@]}" --commit-each --json >"$WORK/$label-out-$w.json" \
      2>"$WORK/$label-err-$w.log" &
    pids+=($!)
  done
  for w in $(seq 0 $((WRITERS - 1))); do
    wait "${pids[$w]}" || echo "writer $w exited $?" >>"$WORK/$label-fail.log"
  done
  local secs=$(($(date +%s) - start))
  if [ -s "$WORK/$label-fail.log" ]; then
    fail "$label: every append succeeded: $(wc -l <"$WORK/$label-fail.log") failed"
    head -5 "$WORK/$label-fail.log"
    cat "$WORK"/$label-err-*.log | head -20
    bad=1
  else
    ok "$label: $((WRITERS * COMMITS)) appends by $WRITERS concurrent writers succeeded ($secs s)"
  fi
  local commits attempts
  commits=$(cat "$WORK"/$label-out-*.json | jq -s length)
  attempts=$(cat "$WORK"/$label-out-*.json | jq -s 'map(.attempts) | add')
  expect_eq "$label: $((WRITERS * COMMITS)) commits reported" $((WRITERS * COMMITS)) "$commits"
  echo "    $label: $commits commits in $attempts attempts ($secs s)"
  # every row exactly once
  "$BIN" table scan c.t --columns id | jq -r .id | sort -n >"$WORK/$label-got.ids"
  if cmp -s "$WORK/want.ids" "$WORK/$label-got.ids"; then
    ok "$label: the final snapshot holds every row exactly once ($(wc -l <"$WORK/want.ids") rows)"
  else
    fail "$label: rows differ: $(wc -l <"$WORK/$label-got.ids") rows, want $(wc -l <"$WORK/want.ids");" \
      "missing $(comm -23 "$WORK/want.ids" "$WORK/$label-got.ids" | wc -l)," \
      "duplicated $(uniq -d "$WORK/$label-got.ids" | wc -l)"
  fi
  # the chain, from the current snapshot to the root (text output keeps 64-bit ids exact)
  out=$("$BIN" table snapshots c.t | awk '
    NR > 1 {
      cur = 0
      if ($1 == "*") { cur = 1; $1 = ""; $0 = $0 }
      n++; par[$1] = $2; seq[$1] = $3 + 0; op[$1] = $5
      if (cur) head = $1
    }
    END {
      id = head; len = 0; gaps = 0; notappend = 0; want = seq[head]
      while (id != "-" && id != "") {
        if (!(id in seq)) { gaps++; break }
        if (seq[id] != want) gaps++
        if (op[id] != "append") notappend++
        want = seq[id] - 1; len++; id = par[id]
      }
      printf "%d %d %d %d %d\n", n, len, gaps, want, notappend
    }')
  expect_eq "$label: snapshots, chain length, gaps, sequence below the root, non-appends" \
    "$((WRITERS * COMMITS)) $((WRITERS * COMMITS)) 0 0 0" "$out"
  expect_eq "$label: the current snapshot's summary counts every row" \
    "$((WRITERS * COMMITS * ROWS))" \
    "$("$BIN" table snapshots c.t --json | jq -r '.[] | select(.current) | .summary["total-records"]')"
  unset TARN_LAKE
  return $bad
}

run_race sqlite

if pg_start "$FAST" >"$WORK/pg.log" 2>&1; then
  ok "PostgreSQL 15 started ($(tail -1 "$WORK/pg.log"))"
  (
    export TARN_CATALOG_TYPE=postgres TARN_CATALOG_POSTGRES="$PG_CONNINFO"
    run_race postgres
    finish >/dev/null # PASS/FAIL counts live in this subshell: report them through the exit code
  )
  rc=$?
  # the catalog rows are in PostgreSQL, not in a SQLite file in the lake
  check "postgres: no SQLite catalog was created in the lake" test ! -e "$FAST/lake-postgres/catalog.db"
  expect_eq "postgres: the table is registered in iceberg_tables" "1" \
    "$(pg_psql "SELECT count(*) FROM iceberg_tables WHERE table_namespace = 'c' AND table_name = 't'")"
  [ "$rc" -eq 0 ] && ok "postgres: every check passed" || fail "postgres: some checks failed (above)"
else
  fail "PostgreSQL 15 did not start"
  cat "$WORK/pg.log"
fi

finish
