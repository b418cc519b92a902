#!/usr/bin/env bash
# End-to-end: concurrent clients doing the same thing at once through `tarn serve`.
# Identical appends racing must commit once (the idempotency check is made inside the
# catalog's compare-and-swap), a request whose commit fails must never delete a
# content-addressed data file another request committed, and a GET racing an overwrite
# must return exactly one stored version.
# Needs E2E_NODE_MODULES (the CSV generator uses node); ctest sets it.
source "$(dirname "$0")/lib.sh"

: "${E2E_NODE_MODULES:?set E2E_NODE_MODULES to tests/node_modules}"
export E2E_NODE_MODULES
HERE=$(cd "$(dirname "$0")" && pwd)
CHECK="$HERE/ingest_check.mjs"
LAKE=$WORK/lake
gen() { node "$CHECK" gen "$@"; }

start_serve "$WORK/serve.log" --lake "$LAKE" --listen 127.0.0.1:0 || exit 1
BASE="http://$ADDR"

# rows NAME: the rows `tarn table scan` reads from datasets.NAME (fails if a file is missing).
rows() { "$BIN" table scan "datasets.$1" --lake "$LAKE" 2>"$WORK/scan.err" | wc -l; }
snapshots() { "$BIN" table snapshots "datasets.$1" --lake "$LAKE" --json | jq 'length'; }
# race N QUERY FILE: N concurrent raw-body POST /ingest?QUERY of FILE; statuses and
# outcomes in $WORK/race.N.{code,body}.
race() {
  local n=$1 q=$2 f=$3 i pids=()
  rm -f "$WORK"/race.*
  for i in $(seq 1 "$n"); do
    curl -sS -o "$WORK/race.$i.body" -w '%{http_code}\n' --data-binary "@$f" \
      -H 'Content-Type: text/csv' "$BASE/ingest?$q" >"$WORK/race.$i.code" &
    pids+=($!)
  done
  wait "${pids[@]}"
}
count_outcome() { cat "$WORK"/race.*.body | jq -r '.outcome // .error.code' | grep -cx "$1"; }
count_code() { cat "$WORK"/race.*.code | grep -cx "$1"; }

gen 1 20000 "$WORK/a.csv"
gen 100001 20000 "$WORK/b.csv"
gen 200001 20000 "$WORK/c.csv"

# ---- 1. a failed commit never deletes a file another request committed ----
curl -sS -o /dev/null --data-binary "@$WORK/a.csv" -H 'Content-Type: text/csv' "$BASE/ingest?name=x"
check "the dataset accepts a property change" \
  "$BIN" table set-properties datasets.x --lake "$LAKE" --property commit.retry.num-retries=0
race 12 'name=x&mode=append' "$WORK/b.csv"
ok200=$(count_code 200)
conflicts=$(count_code 409)
expect_eq "12 identical appends without retries: each is 200 or 409" 12 $((ok200 + conflicts))
expect_eq "exactly one of them appended" 1 "$(count_outcome appended)"
expect_eq "the table reads: 20000 + 20000 rows, every referenced file present" 40000 "$(rows x)"
expect_eq "the scan reported no missing file" "" "$(cat "$WORK/scan.err")"
key=$(jq -r 'select(.outcome == "appended") | .parquet_key' "$WORK"/race.*.body)
check "the appended data file is still in the lake" test -f "$LAKE/$key"

# ---- 2. identical concurrent appends are added once ----
before=$(snapshots x)
"$BIN" table set-properties datasets.x --lake "$LAKE" --property commit.retry.num-retries= >/dev/null
race 8 'name=x&mode=append' "$WORK/c.csv"
expect_eq "8 identical appends with retries: all 200" 8 "$(count_code 200)"
expect_eq "one appended, seven found it existing" "1 7" \
  "$(count_outcome appended) $(count_outcome existing)"
expect_eq "one more snapshot, not eight" $((before + 1)) "$(snapshots x)"
expect_eq "rows: the third file's 20000 added once" 60000 "$(rows x)"
expect_eq "every answer names the same data file" 1 \
  "$(jq -r .parquet_key "$WORK"/race.*.body | sort -u | wc -l)"

# The same for a replace of identical bytes, and for a first ingest that creates the table.
race 6 'name=y' "$WORK/a.csv"
expect_eq "6 concurrent first ingests of one file: all 200" 6 "$(count_code 200)"
expect_eq "one created it, the others found it existing" "1 5" \
  "$(count_outcome created) $(count_outcome existing)"
expect_eq "datasets.y has the file's rows once" 20000 "$(rows y)"
expect_eq "datasets.y has one snapshot" 1 "$(snapshots y)"

# ---- resync racing appends never stores a row count of an older snapshot ----
(for _ in $(seq 1 30); do curl -sS -o /dev/null -X POST "$BASE/catalog/datasets/y/resync"; done) &
resyncer=$!
for f in b c; do
  curl -sS -o /dev/null --data-binary "@$WORK/$f.csv" -H 'Content-Type: text/csv' \
    "$BASE/ingest?name=y&mode=append"
done
wait "$resyncer"
curl -sS -o /dev/null -X POST "$BASE/catalog/datasets/y/resync"
expect_eq "after resyncs raced two appends, the dataset's row count is its rows" \
  "$(rows y)" "$(curl -sS "$BASE/catalog/datasets/y" | jq -r .row_count)"

# ---- 3. a GET racing overwrites returns exactly one stored version ----
OBJ="$BASE/storage/buckets/lake/objects/race/obj"
# 24 MiB: more than loopback socket buffers hold, so the server reads on while it sends
SIZE=$((24 << 20))
for v in A B C; do head -c $SIZE /dev/zero | tr '\0' "$v" >"$WORK/v$v"; done
curl -sS -o /dev/null -T "$WORK/vA" "$OBJ"
(
  end=$((SECONDS + 5))
  while [ $SECONDS -lt $end ]; do
    for v in B C A; do curl -sS -o /dev/null -T "$WORK/v$v" "$OBJ"; done
  done
) &
writer=$!
pids=()
for i in 1 2 3 4 5 6; do
  # about 4 s per download: several overwrites land while each one streams
  curl -sS --limit-rate 6M -o "$WORK/get.$i" -w '%{http_code}\n' "$OBJ" >"$WORK/get.$i.code" &
  pids+=($!)
done
wait "${pids[@]}"
wait "$writer"
mixed=0
for i in 1 2 3 4 5 6; do
  f="$WORK/get.$i"
  first=$(head -c 1 "$f")
  if [ "$(cat "$f.code")" != 200 ] || [ "$(stat -c %s "$f")" != $SIZE ] ||
     [ -n "$(tr -d "$first" <"$f" | head -c 1)" ]; then
    mixed=$((mixed + 1))
  fi
done
expect_eq "6 slow GETs during overwrites: each 200 with all 24 MiB of one version" 0 "$mixed"

finish
