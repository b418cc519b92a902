#!/usr/bin/env bash
# test_full_disk.sh - a lake on a 16 MiB tmpfs filled to 100%: every read path (HTTP and
# CLI) answers as before, every write fails with "no space left" naming what (507 over
# HTTP, never an absolute path), `tarn serve` (re)starts on the full disk, and once space
# is freed writes work again and nothing stored was lost. Needs root (mount -t tmpfs).
source "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP - test_full_disk: mounting a tmpfs needs root (running as uid $(id -u))"
  exit 77
fi
MNT=$WORK/mnt
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=16m,mode=0755 tmpfs "$MNT" 2>"$WORK/e"; then
  echo "FAIL - running as root but mount -t tmpfs failed: $(cat "$WORK/e")"
  exit 1
fi
full_disk_cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  umount "$MNT" 2>/dev/null || umount -l "$MNT"
  cleanup
}
trap full_disk_cleanup EXIT

LAKE=$MNT/lake
export TARN_LAKE=$LAKE TARN_LOG_LEVEL=warn TARN_PROBE_INTERVAL=0
CFG=$WORK/tarn.ini
printf '[storage]\njournal_flush_age = 100ms\n' >"$CFG"
T() { "$BIN" table "$@"; }
D() { "$BIN" datasets "$@"; }
lc() { tr '[:upper:]' '[:lower:]' <<<"$1"; }
# csv FIRST N FILE: a small CSV with ids FIRST..FIRST+N-1.
csv() { { echo "id,city,amount"; seq "$1" $(($1 + $2 - 1)) | awk '{printf "%d,city%d,%d.5\n", $1, $1 % 7, $1}'; } >"$3"; }
# Every file of the lake but the catalog database, the error journal, the spool and the
# mutation journal's WAL (a log that grows; its events are checked through the API), with
# its SHA-256: what "nothing stored was lost or corrupted" is checked against.
stored() { (cd "$LAKE" && find . -type f ! -name 'catalog.db*' ! -path './_errors/*' \
  ! -path './.spool/*' ! -path './journal/*' -printf '%P\n' | sort | xargs -r sha256sum); }
catalog_rows() {
  sqlite3 "$LAKE/catalog.db" "SELECT table_namespace, table_name, metadata_location,
    coalesce(previous_metadata_location, '') FROM iceberg_tables ORDER BY 1, 2"
}
avail() { df --output=avail -B1 "$MNT" | tail -1 | tr -d ' '; }
# Fills the tmpfs to the last page (dd stops at ENOSPC; a second pass takes what a
# partial last write left).
fill() {
  dd if=/dev/zero of="$MNT/filler1" bs=64k 2>/dev/null
  dd if=/dev/zero of="$MNT/filler2" bs=4k 2>/dev/null
  expect_eq "the tmpfs is 100% full" 0 "$(avail)"
}
# get PATH: GET, body to $WORK/r, status echoed.
get() { curl -sS -o "$WORK/r" -w '%{http_code}' "$BASE$1"; }
post_ingest() {
  local q=$1; shift
  curl -sS -o "$WORK/r" -w '%{http_code}' "$@" "$BASE/ingest?$q"
}
# no_space WHAT STATUS [WHICH]: the last HTTP answer was 507 no_space saying "no space
# left", naming WHICH (when given), without an absolute path.
no_space() {
  expect_eq "$1: 507" 507 "$2"
  expect_eq "$1: error code no_space" no_space "$(jq -r .error.code "$WORK/r")"
  local msg
  msg=$(jq -r .error.message "$WORK/r")
  expect_match "$1: says no space left" 'no space left' "$(lc "$msg")"
  [ -z "${3:-}" ] || expect_match "$1: names $3" "$3" "$msg"
  [[ "$msg" != *"$MNT"* && "$msg" != *"$WORK"* ]]; check "$1: no absolute path in [$msg]" test $? -eq 0
}
# cli_no_space WHAT WHICH CMD...: the command exits 1 and its message says "no space left"
# and names WHICH.
cli_no_space() {
  local what=$1 which=$2; shift 2
  "$@" >"$WORK/o" 2>"$WORK/e"
  expect_eq "$what: exits 1" 1 "$?"
  expect_match "$what: says no space left" 'no space left' "$(lc "$(grep -v 'level=' "$WORK/e")")"
  expect_match "$what: names $which" "$which" "$(grep -v 'level=' "$WORK/e")"
}

# ---- a lake with data: a CSV dataset, a table, an object, an upload ----
csv 1 300 "$WORK/trips.csv"
csv 1000 50 "$WORK/posted.csv"
csv 2000 20 "$WORK/more.csv"
"$BIN" ingest "$WORK/trips.csv" --name trips >/dev/null 2>"$WORK/e"
check "ingest trips" test $? -eq 0
T create db.ev --schema "id long not null, name string" >/dev/null
printf '{"id": 1, "name": "one"}\n{"id": 2, "name": "two"}\n' >"$WORK/rows1.jsonl"
printf '{"id": 3, "name": "three"}\n' >"$WORK/rows2.jsonl"
T append db.ev --jsonl "$WORK/rows1.jsonl" >/dev/null
check "append to db.ev" test $? -eq 0

start_serve "$WORK/serve1.log" --config "$CFG" --listen 127.0.0.1:0 --log-level info || exit 1
BASE="http://$ADDR"
OBJ=$BASE/storage/buckets/lake/objects
code=$(curl -sS -o "$WORK/r" -w '%{http_code}' -X PUT --data-binary 'hello, full disk' "$OBJ/docs/hello.txt")
check "PUT docs/hello.txt" test "$code" -lt 300
code=$(post_ingest 'name=posted' -F "file=@$WORK/posted.csv")
expect_eq "POST /ingest posted" 200 "$code"

# what every read must show again on the full disk
get /catalog/datasets >/dev/null; cp "$WORK/r" "$WORK/want_datasets.json"
get /catalog/datasets/trips >/dev/null; cp "$WORK/r" "$WORK/want_trips.json"
get "/storage/buckets/lake/objects?prefix=warehouse/" >/dev/null; cp "$WORK/r" "$WORK/want_list.json"
want_show=$(T show db.ev); want_scan=$(T scan db.ev); want_snaps=$(T snapshots db.ev)
want_tables=$(T list); want_dl=$(D list); want_ds=$(D show trips); want_dsj=$(D show posted --json)
expect_eq "db.ev has 2 rows before" 2 "$(wc -l <<<"$want_scan")"
want_stored=$(stored)
want_rows=$(catalog_rows)
expect_match "the catalog holds three tables" 'datasets\|posted' "$want_rows"

# ---- full ----
fill

# read_all WHO: every read path answers as before.
read_all() {
  local who=$1
  expect_eq "$who: GET /catalog/datasets 200" 200 "$(get /catalog/datasets)"
  check "$who: GET /catalog/datasets is as before" cmp -s "$WORK/r" "$WORK/want_datasets.json"
  expect_eq "$who: GET /catalog/datasets/trips 200" 200 "$(get /catalog/datasets/trips)"
  check "$who: GET /catalog/datasets/trips is as before" cmp -s "$WORK/r" "$WORK/want_trips.json"
  expect_eq "$who: GET of an object 200" 200 "$(get /storage/buckets/lake/objects/docs/hello.txt)"
  expect_eq "$who: the object's bytes" 'hello, full disk' "$(cat "$WORK/r")"
  expect_eq "$who: listing 200" 200 "$(get "/storage/buckets/lake/objects?prefix=warehouse/")"
  check "$who: listing is as before" cmp -s "$WORK/r" "$WORK/want_list.json"
  expect_eq "$who: tarn table show" "$want_show" "$(T show db.ev 2>"$WORK/e")"
  expect_eq "$who: tarn table scan" "$want_scan" "$(T scan db.ev 2>"$WORK/e")"
  expect_eq "$who: tarn table snapshots" "$want_snaps" "$(T snapshots db.ev 2>"$WORK/e")"
  expect_eq "$who: tarn table list" "$want_tables" "$(T list 2>"$WORK/e")"
  expect_eq "$who: tarn datasets list" "$want_dl" "$(D list 2>"$WORK/e")"
  expect_eq "$who: tarn datasets show" "$want_ds" "$(D show trips 2>"$WORK/e")"
  expect_eq "$who: tarn datasets show --json" "$want_dsj" "$(D show posted --json 2>"$WORK/e")"
}
# write_all WHO: every write path fails with no space left.
write_all() {
  local who=$1 code
  code=$(curl -sS -o "$WORK/r" -w '%{http_code}' -X PUT --data-binary 'new bytes' "$OBJ/docs/new.txt")
  no_space "$who: PUT of an object" "$code" "docs/new.txt"
  code=$(post_ingest 'name=fresh' -F "file=@$WORK/more.csv")
  no_space "$who: POST /ingest (multipart)" "$code"
  code=$(post_ingest 'name=trips&mode=append' --data-binary "@$WORK/more.csv" -H 'Content-Type: text/csv')
  no_space "$who: POST /ingest (raw, append)" "$code"
  code=$(curl -sS -o "$WORK/r" -w '%{http_code}' -X POST "$BASE/storage/errors/flush")
  no_space "$who: POST /storage/errors/flush" "$code" "_errors/bucket_errors/"
  # 300 events: more than the slack in the WAL segment's last page
  code=$(for i in $(seq 1 300); do echo "{\"entity_type\":\"t\",\"entity_id\":\"e$i\",\"action\":\"insert\"}"; done |
    curl -sS -o "$WORK/r" -w '%{http_code}' -X POST "$BASE/journal/events" --data-binary @-)
  no_space "$who: POST /journal/events" "$code" "wal"
  cli_no_space "$who: tarn table append" "'warehouse/db/ev/data/" T append db.ev --jsonl "$WORK/rows2.jsonl"
  # the catalog or the new table's metadata, whichever the last free page went to
  cli_no_space "$who: tarn table create" "$LAKE/catalog.db|db/other/metadata/" T create db.other --schema "id long"
  cli_no_space "$who: tarn ingest" "more.csv" "$BIN" ingest "$WORK/more.csv" --name fresh
  cli_no_space "$who: tarn ingest --mode append" "more.csv" "$BIN" ingest "$WORK/more.csv" --name trips --mode append
  expect_eq "$who: the disk is still full" 0 "$(avail)"
  expect_eq "$who: no temp file left behind" "" "$(find "$LAKE" -name '.tarn-tmp-*')"
}
read_all "full, serve started before"
write_all "full, serve started before"
kill -0 "$SERVE_PID" 2>/dev/null; check "serve is still running" test $? -eq 0

# ---- restart on the full disk ----
kill -TERM "$SERVE_PID"
wait_exit "$SERVE_PID" 20
# (stopping may free a page or two: SQLite drops the -wal file of the catalog connection
# the journal kept open; the disk is filled again below)
check "serve stopped on SIGTERM (exit $EXIT_CODE)" test "$EXIT_CODE" -ne 124
start_serve "$WORK/serve2.log" --config "$CFG" --listen 127.0.0.1:0 --log-level info
check "serve starts on the full disk" test $? -eq 0
fill
BASE="http://$ADDR"
OBJ=$BASE/storage/buckets/lake/objects
read_all "full, serve started full"
write_all "full, serve started full"
expect_match "serve's log says the disk is full" 'no space left' "$(lc "$(cat "$WORK/serve2.log")")"

# ---- space again: nothing lost, writes work ----
rm -f "$MNT/filler1" "$MNT/filler2"
expect_eq "every stored file is there, unchanged" "$want_stored" "$(stored)"
expect_eq "the catalog points where it did" "$want_rows" "$(catalog_rows)"
read_all "space again"
code=$(curl -sS -o "$WORK/r" -w '%{http_code}' -X PUT --data-binary 'new bytes' "$OBJ/docs/new.txt")
check "PUT works again ($code)" test "$code" -lt 300
expect_eq "...and reads back" 'new bytes' "$(curl -sS "$OBJ/docs/new.txt")"
code=$(post_ingest 'name=fresh' -F "file=@$WORK/more.csv")
expect_eq "POST /ingest works again" "200 created" "$code $(jq -r .outcome "$WORK/r")"
out=$(T append db.ev --jsonl "$WORK/rows2.jsonl" 2>&1); check "tarn table append works again: $out" test $? -eq 0
expect_eq "db.ev: the old rows and the new one" "$(sort <<<"$want_scan"$'\n{"id":3,"name":"three"}')" \
  "$(T scan db.ev | sort)"
out=$(T create db.other --schema "id long" 2>&1); check "tarn table create works again: $out" test $? -eq 0
out=$("$BIN" ingest "$WORK/more.csv" --name trips --mode append 2>&1)
check "tarn ingest --mode append works again: $out" test $? -eq 0
expect_eq "trips: 300 + 20 rows" 320 "$(D show trips --json | jq -r .row_count)"
expect_eq "the journal flushes again" 200 "$(curl -sS -o "$WORK/r" -w '%{http_code}' -X POST "$BASE/storage/errors/flush")"
check "the journal on disk holds the no_space events" \
  grep -q '"code":"no_space"' $(ls "$LAKE"/_errors/bucket_errors/*.jsonl 2>/dev/null || echo /dev/null)
expect_eq "GET /storage/errors lists them" 200 "$(get /storage/errors)"
expect_match "...with code no_space" 'no_space' "$(cat "$WORK/r")"
# the journal's WAL failed writing on the full disk: it says so until a restart
expect_eq "/healthz is 503 while the journal's WAL has failed" 503 \
  "$(curl -sS -o "$WORK/r" -w '%{http_code}' "$BASE/healthz")"
expect_match "...saying a restart reopens it" "restarted" "$(jq -r .reason "$WORK/r")"
kill -TERM "$SERVE_PID"
wait_exit "$SERVE_PID" 20
expect_eq "serve stops cleanly with space again" 0 "$EXIT_CODE"
start_serve "$WORK/serve3.log" --config "$CFG" --listen 127.0.0.1:0 --log-level info || exit 1
BASE="http://$ADDR"
expect_eq "after a restart the journal takes events again" 200 \
  "$(curl -sS -o "$WORK/r" -w '%{http_code}' -X POST "$BASE/journal/events" \
    -d '{"entity_type":"t","entity_id":"e","action":"insert"}')"
expect_eq "...and /healthz is 200" 200 "$(curl -sS -o /dev/null -w '%{http_code}' "$BASE/healthz")"
# the ingests that committed: trips and posted before the disk filled, trips' append by
# tarn ingest after (left in the journal's inbox while its WAL had failed, taken in at the
# restart); none of the refused ones; and the event just appended
expect_eq "the journal holds every committed ingest and what was acknowledged, nothing else" \
  "datasets.posted datasets.trips datasets.trips e" \
  "$(curl -s "$BASE/journal/recent" | jq -r '[.events[].entity_id] | sort | join(" ")')"
kill -TERM "$SERVE_PID"
wait_exit "$SERVE_PID" 20
expect_eq "serve stops cleanly after the restart" 0 "$EXIT_CODE"

finish
