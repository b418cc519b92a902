#!/usr/bin/env bash
# test_journal_cli.sh - `tarn journal` on the command line, both ways: on the lake (the
# journal opened by the command) and through a running tarn serve (--url / TARN_URL, with
# and without tokens). Appends of every kind, idempotent --event-id retries (also after a
# flush), a bad NDJSON line refused whole naming the line and field, history / recent /
# stats, flush and compact (DuckDB reads the compacted system.journal's current files:
# every event once), `tarn ingest` events through the inbox (taken in at open, and by a
# running daemon within seconds), local mode refused while the daemon holds the journal,
# the same output both ways, usage errors naming the bad option.
source "$(dirname "$0")/lib.sh"

LAKE=$WORK/lake
INBOX=$LAKE/journal/wal/inbox
SRC=${E2E_SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# run CMD...: runs it with stdout in $WORK/out, stderr in $WORK/err, the exit code in RC
run() { "$@" >"$WORK/out" 2>"$WORK/err"; RC=$?; }
out() { cat "$WORK/out"; }
err() { cat "$WORK/err"; }
J() { "$BIN" journal "$@" --lake "$LAKE"; }        # on the lake
U() { "$BIN" journal "$@" --url "http://$ADDR"; }  # through the daemon
UUID7='^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'
UUID5='^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'

# ---- help and usage ----
run "$BIN" journal --help
expect_eq "tarn journal --help exits 0" 0 "$RC"
for w in 'Usage: tarn journal' 'append KIND' 'history ENTITY_ID' 'recent' 'stats' 'flush' \
         'compact' 'TARN_TOKEN' '--url URL' 'Examples:' 'exit 69'; do
  expect_match "tarn journal --help mentions $w" "$w" "$(out)"
done
for s in append history recent stats flush compact; do
  run "$BIN" journal "$s" --help
  expect_match "tarn journal $s --help: usage and an example" \
    "Usage: tarn journal $s.*Example.*tarn journal $s" "$(out | tr '\n' ' ')"
done
expect_match "append --help shows every kind" 'append insert.*append update.*append delete.*append ingest.*append --file' \
  "$("$BIN" journal append --help | tr '\n' ' ')"
run "$BIN" journal
expect_eq "no subcommand: exit 2" 2 "$RC"
run J frobnicate
expect_match "an unknown subcommand is named (exit 2)" '2 .*unknown subcommand "frobnicate"' "$RC $(err)"
run J append upsert order o-1
expect_match "an unknown kind is named (exit 2)" '2 .*append "upsert": not insert' "$RC $(err)"
run J append insert order
expect_match "a missing argument: exit 2 with the usage" '2 .*missing arguments.*append insert ENTITY_TYPE ENTITY_ID' "$RC $(err)"
run J append insert order o-1 --new '{qty:1}'
expect_match "--new that is not JSON is named (exit 2)" "2 .*--new '\{qty:1\}': not JSON" "$RC $(err)"
run J append delete order o-1 --new 1
expect_match "--new on a delete is refused (exit 2)" '2 .*--new does not apply to append delete' "$RC $(err)"
run J history o-1 --limit 0
expect_match "--limit 0 is named (exit 2)" '2 .*--limit "0": must be a whole number from 1 to 10000' "$RC $(err)"
run J history o-1 --since soon
expect_match "a bad --since is named (exit 2)" '2 .*--since "soon": give an RFC 3339 time' "$RC $(err)"
run J history o-1 --since 2026-01-02T00:00:00Z --until 2026-01-01T00:00:00Z
expect_match "--since after --until (exit 2)" '2 .*--since must be before --until' "$RC $(err)"
run J recent --entity-type x
expect_match "an option of another subcommand is named (exit 2)" '2 .*--entity-type does not apply to recent' "$RC $(err)"
run J append --file x.ndjson --actor ana
expect_match "--actor with --file says to put it in the events (exit 2)" \
  '2 .*--actor does not apply to append --file: give "actor" in each event' "$RC $(err)"
run J append ingest sales --snapshot-id 5 --rows 3
expect_match "append ingest without --source (exit 2)" '2 .*append ingest needs --source' "$RC $(err)"
run J stats --url ftp://x
expect_match "a --url that is not http(s) (exit 2)" '2 .*--url "ftp://x": give the address of a tarn serve' "$RC $(err)"
check "usage errors created no lake" test ! -e "$LAKE"

# ---- on the lake: appends ----
run J append insert order o-1 --new '{"qty":1}' --timestamp 2026-01-01T00:00:01Z
expect_eq "append insert: exit 0, one ack line" "0 1" "$RC $(out | wc -l)"
expect_eq "... its ack: seq 1, not a duplicate" "1 false" "$(out | jq -r '[.seq, .duplicate] | join(" ")')"
expect_match "... an event_id (a UUIDv7)" "$UUID7" "$(out | jq -r .event_id)"
INSERT_ID=$(out | jq -r .event_id)
run J append update order o-1 qty --old 1 --new 2 --event-id c-1 --actor ana \
  --timestamp 2026-01-01T00:00:02Z --workspace ws-1
expect_eq "append update with --event-id" '0 {"event_id":"c-1","seq":2,"duplicate":false}' "$RC $(out)"
run J append update order o-1 qty --old 1 --new 2 --event-id c-1 --actor ana \
  --timestamp 2026-01-01T00:00:02Z --workspace ws-1
expect_eq "the same --event-id again: the first ack, duplicate" \
  '0 {"event_id":"c-1","seq":2,"duplicate":true}' "$RC $(out)"
run J append update order o-1 qty --old 1 --new 3 --event-id c-1
expect_match "the same --event-id for another event: exit 1 naming the id" \
  '1 .*event_id "c-1"' "$RC $(err)"
run J append delete order o-1 --old '{"qty":2}' --timestamp 1767225603000000
expect_eq "append delete (timestamp in microseconds)" "0 3" "$RC $(out | jq -r .seq)"
run J append update order o-1 status --new '"paid"' --timestamp 2026-01-01T00:00:02.5Z
expect_eq "append update without --event-id" "0 4" "$RC $(out | jq -r .seq)"

# a bad line: nothing of the file is stored
printf '%s\n' '{"entity_type":"order","entity_id":"f-1","action":"insert"}' '' \
  '{"entity_type":"order","entity_id":"f-2","action":"update","field":"qty","new_value":1}' \
  '{"entity_type":"order","action":"insert"}' >"$WORK/bad.ndjson"
run J append --file "$WORK/bad.ndjson"
expect_eq "a file with a bad line: exit 1, no ack printed" "1 0" "$RC $(out | wc -l)"
expect_match "... the error names the line and the field" 'bad.ndjson: line 4: field "entity_id" is required' "$(err)"
expect_eq "... and nothing of it is stored" "0 0" "$(J history f-1 | wc -l) $(J history f-2 | wc -l)"
printf '%s\n' '{"entity_type":"order","entity_id":"f-1","action":"insert","colour":"red"}' >"$WORK/bad2.ndjson"
run J append --file "$WORK/bad2.ndjson"
expect_match "an unknown field is named" '1 .*line 1: field "colour" is not an event field' "$RC $(err)"
printf '%s\n' '{"entity_type":"order","entity_id":"f-1","action":"insert","event_id":"f-1-a","timestamp":"2026-01-01T00:00:05Z"}' \
  '{"entity_type":"order","entity_id":"f-1","action":"update","field":"qty","old_value":null,"new_value":5,"actor":"bot","source":"agent","timestamp":"2026-01-01T00:00:06Z"}' \
  '{"entity_type":"item","entity_id":"f-1","action":"delete","timestamp":"2026-01-01T00:00:07Z"}' >"$WORK/good.ndjson"
run J append --file - <"$WORK/good.ndjson"
expect_eq "append --file - (stdin): three acks in order" "0 5 6 7" "$RC $(out | jq -r .seq | tr '\n' ' ' | sed 's/ $//')"
expect_eq "... the client's id is kept" "f-1-a" "$(out | head -1 | jq -r .event_id)"
run J append --file "$WORK/good.ndjson"
expect_eq "the file again: f-1-a is a duplicate, the others new" "true false false" \
  "$(out | jq -r .duplicate | tr '\n' ' ' | sed 's/ $//')"

# ---- on the lake: reading ----
run J history o-1
expect_eq "history: exit 0, the four events of o-1" "0 4" "$RC $(out | wc -l)"
expect_eq "... in time order" "insert update update delete" "$(out | jq -r .action | tr '\n' ' ' | sed 's/ $//')"
expect_eq "... with their fields" "$INSERT_ID|order|*|null|{\"qty\":1}|local|api|null|2026-01-01T00:00:01.000000Z" \
  "$(out | head -1 | jq -r -c '[.event_id, .entity_type, .field, (.old_value|tojson), (.new_value|tojson), .actor, .source, (.workspace_id|tojson), .timestamp] | join("|")')"
expect_eq "... the update as given" "c-1|qty|1|2|ana|ws-1|2" \
  "$(out | sed -n 2p | jq -r -c '[.event_id, .field, .old_value, .new_value, .actor, .workspace_id, .seq] | join("|")')"
expect_eq "... a JSON string stays a string" '"paid"' "$(out | sed -n 3p | jq -c .new_value)"
H_O1=$(out)
expect_eq "--since is inclusive, --until exclusive" "c-1" \
  "$(J history o-1 --since 2026-01-01T00:00:02Z --until 2026-01-01T00:00:02.5Z | jq -r .event_id)"
expect_eq "--since in microseconds" "2" "$(J history o-1 --since 1767225602500000 | wc -l)"
expect_eq "--entity-type filters" "5 2 item" \
  "$(J history f-1 | wc -l) $(J history f-1 --entity-type item | wc -l) $(J history f-1 --entity-type item | jq -r .entity_type | sort -u)"
expect_eq "--limit keeps the oldest" "$INSERT_ID" "$(J history o-1 --limit 1 | jq -r .event_id)"
run J recent --limit 2
expect_eq "recent: newest first" "0 9 8" "$RC $(out | jq -r .seq | tr '\n' ' ' | sed 's/ $//')"
run J stats
expect_eq "stats: the same JSON keys as GET /journal/stats" \
  "appended_since_start compactions_since_start duplicates_since_start events_in_memory flushes_since_start idempotency_window_ids inbox_taken_since_start last_compaction last_compaction_error last_flush last_flush_error memory_bytes table_files table_seq table_small_files wal" \
  "$(out | jq -r 'keys | join(" ")')"
expect_eq "... events in memory, the next WAL number, nothing flushed yet" "9 10 0" \
  "$(out | jq -r '[.events_in_memory, .wal.next_seq, .table_seq] | join(" ")')"

# ---- tarn ingest: its event goes to the inbox, taken in when the journal opens ----
printf 'id,amount\n1,2.5\n2,3.5\n3,4\n' >"$WORK/sales.csv"
run "$BIN" ingest "$WORK/sales.csv" --name sales --lake "$LAKE"
expect_eq "tarn ingest" 0 "$RC"
expect_eq "... leaves one event file in the inbox" 1 "$(ls "$INBOX" | wc -l)"
check "... and says nothing about the journal" test -z "$(err)"
run J stats
expect_eq "the next tarn journal takes it in at open" "1 10" \
  "$(out | jq -r '[.inbox_taken_since_start, .events_in_memory] | join(" ")')"
expect_eq "... and removes the file" 0 "$(ls "$INBOX" | wc -l)"
run J history datasets.sales
expect_eq "the ingest event: action, entity_type, source, rows, file, outcome" \
  "1 ingest sales ingest 3 sales.csv created local" \
  "$(out | wc -l) $(out | jq -r '[.action, .entity_type, .source, .new_value.rows, .new_value.source, .new_value.outcome, .actor] | join(" ")')"
expect_match "... its id a UUIDv5 (of the dataset and snapshot)" "$UUID5" "$(out | jq -r .event_id)"
# snapshot ids are 63-bit: read as text (jq 1.6 rounds them to doubles)
SNAP=$(out | sed -n 's/.*"snapshot_id":\([0-9]*\).*/\1/p')
expect_eq "... naming the dataset's snapshot" \
  "$("$BIN" table snapshots datasets.sales --json --lake "$LAKE" | grep -o '"snapshot_id": [0-9]*' | tail -1 | grep -o '[0-9]*$')" \
  "$SNAP"
expect_match "... and the file's sha256" '^[0-9a-f]{64}$' "$(out | jq -r .new_value.source_sha256)"
run J append ingest sales --snapshot-id "$SNAP" --rows 3 --source elsewhere.csv
expect_match "that commit recorded again with other details: exit 1, a conflict on its id" \
  "^1 .*event_id \"$(J history datasets.sales | jq -r .event_id)\"" "$RC $(err)"
run J append ingest ext --snapshot-id 42 --rows 7 --source s3://in/x.csv --actor etl
expect_match "append ingest by hand: a UUIDv5 id" "$UUID5" "$(out | jq -r .event_id)"
EXT_ID=$(out | jq -r .event_id)
run J append ingest ext --snapshot-id 42 --rows 7 --source s3://in/x.csv --actor etl
expect_eq "... the same commit again: the same id, a duplicate" "0 $EXT_ID true" \
  "$RC $(out | jq -r '[.event_id, .duplicate] | join(" ")')"
expect_eq "... its event" "datasets.ext ext ingest 7 s3://in/x.csv 42 etl" \
  "$(J history datasets.ext | jq -r '[.entity_id, .entity_type, .source, .new_value.rows, .new_value.source, .new_value.snapshot_id, .actor] | join(" ")')"
run "$BIN" ingest "$WORK/sales.csv" --name sales --lake "$LAKE"
expect_eq "the same file again commits nothing: no inbox file" "0 0" "$RC $(ls "$INBOX" | wc -l)"

# ---- flush, then history from system.journal ----
run J flush
expect_eq "flush: exit 0, every event flushed, none left" "0 11 0" \
  "$RC $(out | jq -r '[.flushed, .events_in_memory] | join(" ")')"
expect_eq "after the flush nothing is in memory" "0" "$(J stats | jq -r .events_in_memory)"
expect_eq "history is the same, now from system.journal" "$H_O1" "$(J history o-1)"
run J append update order o-1 qty --old 1 --new 2 --event-id c-1 --actor ana \
  --timestamp 2026-01-01T00:00:02Z --workspace ws-1
expect_eq "a retried --event-id after the flush is still a duplicate" \
  '0 {"event_id":"c-1","seq":2,"duplicate":true}' "$RC $(out)"

# ---- several flushes, then compact ----
for r in 1 2 3; do
  for i in 1 2 3; do
    J append update counter k "n$i" --new "$((r * 10 + i))" --timestamp "2026-01-0${r}T00:00:0${i}Z" >/dev/null
  done
  J flush >/dev/null
done
H_K=$(J history k)
expect_eq "nine events of k over three flushes" 9 "$(wc -l <<<"$H_K")"
FILES_BEFORE=$(J stats | jq -r .table_files)
run J compact
expect_eq "compact: exit 0" 0 "$RC"
C=$(out)
check "compact merged more than one file (files_in $(jq -r .files_in <<<"$C"))" test "$(jq -r .files_in <<<"$C")" -gt 1
check "... into fewer (files_out $(jq -r .files_out <<<"$C"))" test "$(jq -r .files_out <<<"$C")" -lt "$(jq -r .files_in <<<"$C")"
expect_match "... in a snapshot" '^[0-9]+$' "$(jq -r .snapshot_id <<<"$C")"
expect_eq "... of every event it read" "$(J recent --limit 1000 | wc -l)" "$(jq -r .events <<<"$C")"
expect_eq "history of k is unchanged" "$H_K" "$(J history k)"
expect_eq "history of o-1 is unchanged" "$H_O1" "$(J history o-1)"
echo "# table files before: $FILES_BEFORE; compaction: $(tr -d ' \n' <<<"$C")"
run J compact
expect_eq "compact again: nothing to do" "0 0 null" "$RC $(out | jq -r '[.files_in, .snapshot_id] | map(tojson) | join(" ")')"

# DuckDB reads the current snapshot's data files (listed from the table's metadata with
# avsc, not by tarn): every event of the journal exactly once.
if [ -d "${E2E_NODE_MODULES:-}/@duckdb" ]; then
  META=$(sqlite3 "$LAKE/catalog.db" "select metadata_location from iceberg_tables where table_namespace='system' and table_name='journal'")
  E2E_NODE_MODULES=$E2E_NODE_MODULES node --input-type=module -e '
    import path from "node:path"
    import { readFileSync } from "node:fs"
    import { pathToFileURL } from "node:url"
    const [src, meta] = process.argv.slice(1)
    const { decodeAvroFile } = await import(pathToFileURL(path.join(src, "tests/e2e/avro_decode.mjs")).href)
    const { DuckDBInstance } = await import(pathToFileURL(path.join(process.env.E2E_NODE_MODULES, "@duckdb/node-api/lib/index.js")).href)
    const local = u => u.replace(/^file:\/\//, "")
    const m = JSON.parse(readFileSync(local(meta), "utf8"))
    const snap = m.snapshots.find(s => BigInt(s["snapshot-id"]) === BigInt(m["current-snapshot-id"]))
    const files = []
    for (const mf of (await decodeAvroFile(local(snap["manifest-list"]))).records)
      for (const e of (await decodeAvroFile(local(mf.manifest_path))).records)
        if (Number(e.status) !== 2) files.push(local(e.data_file.file_path))
    const db = await DuckDBInstance.create(":memory:"); const c = await db.connect()
    const list = files.map(f => `'"'"'${f}'"'"'`).join(",")
    const r = await c.runAndReadAll(`select event_id, count(*)::bigint n from read_parquet([${list}]) group by event_id order by event_id`)
    console.log(`files ${files.length}`)
    for (const [id, n] of r.getRows()) console.log(`${id} ${n}`)
  ' "$SRC" "$META" >"$WORK/duck.out" 2>&1
  want=$(J recent --limit 1000 | jq -r '.event_id + " 1"' | sort)
  expect_eq "DuckDB: the current snapshot has the compacted files" \
    "files $(jq -r .files_out <<<"$C")" "$(head -1 "$WORK/duck.out")"
  expect_eq "DuckDB: every event of the journal once" "$want" "$(tail -n +2 "$WORK/duck.out" | sort)"
else
  echo "# DuckDB not installed (tests/node_modules): its check is skipped"
fi

# ---- a tarn serve holds the journal ----
H_F1=$(J history f-1)
R_LOCAL=$(J recent --limit 1000)
start_serve "$WORK/serve1.log" --lake "$LAKE" --listen 127.0.0.1:0 || exit 1
run J history o-1
expect_eq "on the lake while tarn serve runs: exit 69, nothing printed" "69 0" "$RC $(out | wc -l)"
expect_match "... the message says to use --url" 'in use by another process.*--url' "$(err)"
run U history o-1
expect_eq "--url: history, byte for byte what the lake gave" "0 $H_O1" "$RC $(out)"
expect_eq "--url: another entity too" "$H_F1" "$(U history f-1)"
expect_eq "--url: recent, the same as on the lake" "$R_LOCAL" "$(U recent --limit 1000)"
expect_eq "--url: the same filters give the same answer" \
  "$(sed -n 2p <<<"$H_O1")" "$(U history o-1 --since 2026-01-01T00:00:02Z --until 2026-01-01T00:00:02.5Z)"
expect_eq "TARN_URL works as --url" "$H_O1" "$(TARN_URL="http://$ADDR" "$BIN" journal history o-1)"
run U history o-1 --limit 0
expect_eq "--url: a bad --limit is refused before any request (exit 2)" 2 "$RC"
run U append update order o-1 qty --old 1 --new 2 --event-id c-1 --actor ana \
  --timestamp 2026-01-01T00:00:02Z --workspace ws-1
expect_eq "--url: the retried --event-id is a duplicate there too" \
  '0 {"event_id":"c-1","seq":2,"duplicate":true}' "$RC $(out)"
run U append update order o-1 qty --new 9 --event-id c-1
expect_match "--url: a conflicting id: exit 1, the message and the HTTP status" \
  '1 tarn journal: line 1: event_id "c-1".*\(HTTP 409\)' "$RC $(err)"
run U append insert order o-2 --new '{"qty":7}'
expect_eq "--url: append insert" "0 false" "$RC $(out | jq -r .duplicate)"
expect_eq "... visible at once, actor local (no tokens)" '{"qty":7} local' \
  "$(U history o-2 | jq -r -c '[(.new_value|tojson), .actor] | join(" ")')"
run U append --file "$WORK/bad.ndjson"
expect_match "--url: a bad line is refused naming the line and field, with the status" \
  '1 .*bad.ndjson: line 4: field "entity_id" is required \(HTTP 400\)' "$RC $(err)"
expect_eq "... nothing of it stored" 0 "$(U history f-2 | wc -l)"
run U append --file - <"$WORK/good.ndjson"
expect_eq "--url: the good file again: f-1-a a duplicate, the others new (as on the lake)" "true false false" \
  "$(out | jq -r .duplicate | tr '\n' ' ' | sed 's/ $//')"
run U stats
expect_eq "--url: stats (the daemon's, with the new fields)" "0 true" \
  "$RC $(out | jq -r 'has("inbox_taken_since_start") and has("table_files")')"

# ingest while the daemon runs: the daemon takes the event in within seconds
printf 'id,amount\n4,1.5\n5,2\n' >"$WORK/more.csv"
run "$BIN" ingest "$WORK/more.csv" --name sales --mode append --lake "$LAKE"
expect_eq "tarn ingest --mode append while tarn serve runs" 0 "$RC"
n=0
for _ in $(seq 1 200); do
  n=$(U history datasets.sales | wc -l)
  [ "$n" -ge 2 ] && break
  sleep 0.05
done
expect_eq "the daemon took the ingest event in (polled)" 2 "$n"
expect_eq "... an append of 2 rows" "appended 2 more.csv" \
  "$(U history datasets.sales | tail -1 | jq -r '[.new_value.outcome, .new_value.rows, .new_value.source] | join(" ")')"
expect_eq "... and the inbox is empty" 0 "$(ls "$INBOX" | wc -l)"
# compaction merges the newest runs while the next older one holds at most twice their
# events: 60 more events make the new flush's run big enough to take the older run along
for i in $(seq 1 60); do echo "{\"entity_type\":\"bulk\",\"entity_id\":\"b-$i\",\"action\":\"insert\"}"; done >"$WORK/bulk.ndjson"
run U append --file "$WORK/bulk.ndjson"
expect_eq "--url: 60 more events" "0 60" "$RC $(out | wc -l)"
run U flush
expect_eq "--url: flush" "0 0" "$RC $(out | jq -r .events_in_memory)"
run U compact
expect_eq "--url: compact (POST /journal/compact)" "0 true" \
  "$RC $(out | jq -r 'has("files_in") and has("files_out") and has("snapshot_id") and has("small_files_left")')"
check "--url: compact merged the new flush with the rest (files_in $(out | jq -r .files_in))" test "$(out | jq -r .files_in)" -gt 1
expect_eq "POST /journal/compact answers the same keys" \
  "bytes_in bytes_out events files_in files_out small_files_left snapshot_id" \
  "$(curl -s -XPOST "http://$ADDR/journal/compact" | jq -r 'keys | join(" ")')"
expect_eq "history of o-1 after the daemon's flush and compaction" "$H_O1" "$(U history o-1)"
run U append insert path "a/b c?d"
expect_eq "--url: an id with a slash, a space and a ?" '0 a/b c?d' \
  "$RC $(U history "a/b c?d" | jq -r .entity_id)"
kill -TERM "$SERVE_PID"; wait_exit "$SERVE_PID" 20
expect_eq "tarn serve stops (exit 0)" 0 "$EXIT_CODE"
expect_eq "after it stops, the lake gives what --url gave" "$(J history datasets.sales | wc -l) $H_O1" \
  "2 $(J history o-1)"
run U history o-1
expect_match "--url with no daemon there: exit 1, the address named" '1 .*cannot reach tarn serve at http://'"$ADDR" "$RC $(err)"

# ---- a daemon with tokens ----
for s in read write; do "$BIN" token new "t_$s" --scope "$s" >"$WORK/tok.$s"; done
TOK_R=$(head -1 "$WORK/tok.read"); TOK_W=$(head -1 "$WORK/tok.write")
for s in read write; do tail -n +2 "$WORK/tok.$s"; done >"$WORK/secrets.ini"
chmod 600 "$WORK/secrets.ini"
start_serve "$WORK/serve2.log" --lake "$LAKE" --listen 127.0.0.1:0 --secrets "$WORK/secrets.ini" || exit 1
run U history o-1
expect_match "no token: exit 1, the server's message and 401" \
  '^1 tarn journal: authentication required: send Authorization: Bearer <token> \(HTTP 401\)' "$RC $(err)"
expect_match "... and how to give one" 'TARN_TOKEN' "$(err)"
expect_eq "... nothing on stdout" 0 "$(out | wc -l)"
TARN_TOKEN=tarn_0000000000000000000000000000000000000000000000000000000000000000 run U history o-1
expect_match "a wrong token: 401, not valid" '^1 tarn journal: the bearer token is not valid \(HTTP 401\)' "$RC $(err)"
TARN_TOKEN=$TOK_R run U history o-1
expect_eq "a read token: history, the same as on the lake" "0 $H_O1" "$RC $(out)"
TARN_TOKEN=$TOK_R run U append insert order o-3
expect_match "a read token cannot append: 403 naming the scope" '^1 tarn journal: token "t_read" has scope read.*needs write \(HTTP 403\)' "$RC $(err)"
TARN_TOKEN=$TOK_W run U append insert order o-3 --new 1
expect_eq "a write token appends" 0 "$RC"
TARN_TOKEN=$TOK_W TARN_URL="http://$ADDR" run "$BIN" journal history o-3
expect_eq "TARN_URL and TARN_TOKEN: the actor is the token's name" "0 t_write" "$RC $(out | jq -r .actor)"
TARN_TOKEN=$TOK_R run U append insert order o-4 --url "http://$ADDR/"
expect_match "--url given twice is refused (exit 2)" '2 .*--url given more than once' "$RC $(err)"
all_output=$(cat "$WORK"/out "$WORK"/err; for s in read write; do TARN_TOKEN=$(head -1 "$WORK/tok.$s") U stats 2>&1; TARN_TOKEN=$(head -1 "$WORK/tok.$s") U history nope 2>&1; done)
check "no token value in any output" test -z "$(grep -F -e "$TOK_R" -e "$TOK_W" <<<"$all_output")"
check "no token value in the daemon's log" test -z "$(grep -F -e "$TOK_R" -e "$TOK_W" "$WORK/serve2.log")"
kill -TERM "$SERVE_PID"; wait_exit "$SERVE_PID" 20

finish
