#!/usr/bin/env bash
# test_journal.sh - the mutation journal through `tarn serve`: appends acknowledged once
# fsynced, idempotent client event_ids (also across restarts and kill -9), conflicts and
# bad events refused whole with the line and field named, history in time order, a kill
# -9 loop under concurrent appenders after which every acknowledged event is there exactly
# once, a torn WAL tail cut at start-up, a corrupt middle record refused naming the segment
# and offset.
source "$(dirname "$0")/lib.sh"

LAKE=$WORK/lake
WAL=$LAKE/journal/wal
post() { curl -s -o "$WORK/b" -w '%{http_code}' -XPOST "http://$ADDR/journal/events" --data-binary "$1"; }
body() { cat "$WORK/b"; }

TARN_JOURNAL_MAX_REQUEST_EVENTS=50 start_serve "$WORK/serve1.log" --lake "$LAKE" \
  --listen 127.0.0.1:0 || exit 1

# ---- appends ----
code=$(post '{"entity_type":"order","entity_id":"o-1","action":"insert","new_value":{"qty":1},"timestamp":"2026-01-01T00:00:02Z"}')
expect_eq "an event is appended" 200 "$code"
expect_eq "its sequence number" 1 "$(jq -r '.events[0].seq' "$WORK/b")"
expect_match "it gets a UUIDv7" '^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' \
  "$(jq -r '.events[0].event_id' "$WORK/b")"
code=$(post $'{"entity_type":"order","entity_id":"o-1","action":"update","field":"qty","old_value":1,"new_value":2,"event_id":"c-1","timestamp":"2026-01-01T00:00:01Z"}\n\n{"entity_type":"order","entity_id":"o-2","action":"delete","actor":"ana","source":"agent"}\n')
expect_eq "NDJSON: two events" "200 2" "$code $(jq -r .stored "$WORK/b")"
expect_eq "the client's event_id is kept" c-1 "$(jq -r '.events[0].event_id' "$WORK/b")"

code=$(post '{"entity_type":"order","entity_id":"o-1","action":"update","field":"qty","old_value":1,"new_value":2,"event_id":"c-1","timestamp":"2026-01-01T00:00:01Z"}')
expect_eq "a retry is answered as the first append" "200 c-1 2 true 0" \
  "$code $(jq -r '[.events[0].event_id, .events[0].seq, .events[0].duplicate, .stored] | join(" ")' "$WORK/b")"
code=$(post $'{"entity_type":"x","entity_id":"new","action":"insert"}\n{"entity_type":"order","entity_id":"o-1","action":"update","field":"qty","new_value":3,"event_id":"c-1"}')
expect_eq "the same event_id for another event is 409" "409 conflict" "$code $(jq -r .error.code "$WORK/b")"
expect_match "409 names the line and the id" 'line 2: event_id "c-1"' "$(jq -r .error.message "$WORK/b")"
code=$(post $'{"entity_type":"x","entity_id":"new","action":"insert"}\n{"entity_type":"x","action":"insert"}')
expect_eq "a bad event is 400" 400 "$code"
expect_match "400 names the line and the field" 'line 2: field "entity_id" is required' \
  "$(jq -r .error.message "$WORK/b")"
code=$(post '{"entity_type":"x","entity_id":"new","action":"insert","colour":"red"}')
expect_match "an unknown field is refused" '"colour" is not an event field' "$code $(jq -r .error.message "$WORK/b")"
code=$(post 'not json at all')
expect_eq "not JSON is 400" 400 "$code"
many=$(for i in $(seq 1 51); do echo '{"entity_type":"x","entity_id":"new","action":"insert"}'; done)
code=$(post "$many")
expect_eq "more events than max_request_events is 413" 413 "$code"
expect_eq "nothing of the refused requests was stored" 0 \
  "$(curl -s "http://$ADDR/journal/history/new" | jq -r .count)"

# ---- reading ----
H=$(curl -s "http://$ADDR/journal/history/o-1")
expect_eq "history in time order" "c-1 insert" "$(jq -r '[.events[0].event_id, .events[1].action] | join(" ")' <<<"$H")"
expect_eq "values come back as JSON" '2 {"qty":1}' \
  "$(jq -c -r '[.events[0].new_value, .events[1].new_value] | map(tojson) | join(" ")' <<<"$H" | tr -d '\\' | sed 's/^"//; s/"$//; s/" "/ /')"
expect_eq "the default actor (no tokens: local)" local "$(jq -r '.events[0].actor' <<<"$H")"
expect_eq "since is inclusive" 1 \
  "$(curl -s "http://$ADDR/journal/history/o-1?since=2026-01-01T00:00:02Z" | jq -r .count)"
expect_eq "until is exclusive, in microseconds too" 1 \
  "$(curl -s "http://$ADDR/journal/history/o-1?until=1767225602000000" | jq -r .count)"
expect_eq "entity_type filters" 0 \
  "$(curl -s "http://$ADDR/journal/history/o-1?entity_type=user" | jq -r .count)"
expect_eq "a bad since is 400" 400 \
  "$(curl -s -o /dev/null -w '%{http_code}' "http://$ADDR/journal/history/o-1?since=soon")"
expect_eq "recent: newest first" "ana" "$(curl -s "http://$ADDR/journal/recent?limit=1" | jq -r '.events[0].actor')"
S=$(curl -s "http://$ADDR/journal/stats")
expect_eq "stats" "3 4" "$(jq -r '[.events_in_memory, .wal.next_seq] | join(" ")' <<<"$S")"
M=$(curl -s "http://$ADDR/metrics")
expect_match "metrics count stored and duplicate events" \
  'tarn_journal_events_total\{outcome="duplicate"\} 1' "$M"
expect_match "metrics expose the WAL fsyncs" 'tarn_journal_wal_fsyncs [0-9]' "$M"
# an entity id with slashes (a path, a URL): its history, percent-encoded or not
post '{"entity_type":"path","entity_id":"orders/7/lines","action":"insert"}' >/dev/null
expect_eq "history of an id with slashes, as %2F" "1 orders/7/lines" \
  "$(curl -s "http://$ADDR/journal/history/orders%2F7%2Flines" | jq -r '[.count, .events[0].entity_id] | join(" ")')"
expect_eq "... and as it is" "1 orders/7/lines" \
  "$(curl -s "http://$ADDR/journal/history/orders/7/lines" | jq -r '[.count, .events[0].entity_id] | join(" ")')"

# ---- one process per journal ----
"$BIN" serve --lake "$LAKE" --listen 127.0.0.1:0 2>"$WORK/second.log" &
p=$!
PIDS+=("$p")
wait_exit "$p" 20
expect_eq "a second tarn serve on the same lake exits 1" 1 "$EXIT_CODE"
expect_match "... saying the journal is in use" "is in use by another process" "$(cat "$WORK/second.log")"

# ---- a restart replays the WAL ----
kill -TERM "$SERVE_PID"; wait_exit "$SERVE_PID" 20
expect_eq "SIGTERM exits 0" 0 "$EXIT_CODE"
start_serve "$WORK/serve2.log" --lake "$LAKE" --listen "$ADDR" || exit 1
expect_eq "after a restart the history is the same" "$(jq -c .events <<<"$H")" \
  "$(curl -s "http://$ADDR/journal/history/o-1" | jq -c .events)"
code=$(post '{"entity_type":"order","entity_id":"o-1","action":"update","field":"qty","old_value":1,"new_value":2,"event_id":"c-1","timestamp":"2026-01-01T00:00:01Z"}')
expect_eq "a retry after a restart is still a duplicate" "200 2 true" \
  "$code $(jq -r '[.events[0].seq, .events[0].duplicate] | join(" ")' "$WORK/b")"
code=$(post '{"entity_type":"order","entity_id":"o-3","action":"insert"}')
check "numbering goes on after a restart (numbers are never given twice)" \
  test "$code" == 200 -a "$(jq -r '.events[0].seq' "$WORK/b")" -gt 3

# ---- every committed ingest is an `ingest` event ----
printf 'id,amount\n1,2.5\n2,3.5\n3,4\n' >"$WORK/sales.csv"
code=$(curl -s -o "$WORK/ing" -w '%{http_code}' -F "file=@$WORK/sales.csv" "http://$ADDR/ingest?name=sales")
expect_eq "an ingest" 200 "$code"
I=$(curl -s "http://$ADDR/journal/history/datasets.sales")
expect_eq "it is in the journal" "1 ingest sales ingest 3 sales.csv" \
  "$(jq -r '[.count, .events[0].action, .events[0].entity_type, .events[0].source, .events[0].new_value.rows, .events[0].new_value.source] | join(" ")' <<<"$I")"
curl -s -o /dev/null -F "file=@$WORK/sales.csv" "http://$ADDR/ingest?name=sales"
expect_eq "the same file again (nothing committed) is no new event" 1 \
  "$(curl -s "http://$ADDR/journal/history/datasets.sales" | jq -r .count)"
printf 'id,amount\n4,1.5\n' >"$WORK/more.csv"
curl -s -o /dev/null -F "file=@$WORK/more.csv" "http://$ADDR/ingest?name=sales&mode=append"
expect_eq "an append is another event" "2 appended" \
  "$(curl -s "http://$ADDR/journal/history/datasets.sales" | jq -r '[.count, .events[1].new_value.outcome] | join(" ")')"

# ---- kill -9 under concurrent appenders ----
# Each appender sends events with its own ids (w<W>-<i>) to its own entity, one or three
# per request, and retries a request until it is acknowledged; it writes an id down only
# once acknowledged. The server is killed at random moments and restarted.
WRITERS=6
ROUNDS=${JOURNAL_KILL_ROUNDS:-25}
STOP=$WORK/stop
appender() {
  local w=$1 i=1 n b code
  while [ ! -e "$STOP" ]; do
    n=$(( (i % 3 == 0) ? 3 : 1 ))
    b=""
    for k in $(seq "$i" $((i + n - 1))); do
      b+="{\"entity_type\":\"bench\",\"entity_id\":\"w$w\",\"action\":\"update\",\"field\":\"f\",\"new_value\":$k,\"event_id\":\"w$w-$k\"}"$'\n'
    done
    while [ ! -e "$STOP" ]; do
      code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -XPOST \
        "http://$ADDR/journal/events" --data-binary "$b" 2>/dev/null)
      if [ "$code" == 200 ]; then
        for k in $(seq "$i" $((i + n - 1))); do echo "w$w-$k"; done >>"$WORK/acked.$w"
        i=$((i + n))
        break
      fi
      sleep 0.05
    done
  done
}
APP=()
for w in $(seq 1 $WRITERS); do appender "$w" & APP+=($!); done
torn=0
for r in $(seq 1 "$ROUNDS"); do
  sleep "0.$(( (RANDOM % 8) + 2 ))"
  if [ $((r % 5)) -eq 0 ]; then # a full compaction on demand, the kill right behind it
    curl -s -o /dev/null --max-time 10 -XPOST "http://$ADDR/journal/flush"
    curl -s -o /dev/null --max-time 10 -XPOST "http://$ADDR/journal/compact" &
    sleep "0.0$((RANDOM % 10))"
  fi
  kill -9 "$SERVE_PID" 2>/dev/null
  wait "$SERVE_PID" 2>/dev/null
  TARN_JOURNAL_FLUSH_EVENTS=150 TARN_JOURNAL_FLUSH_AGE=300ms TARN_JOURNAL_COMPACT_EVERY=1s \
    TARN_JOURNAL_COMPACT_MIN_FILES=2 \
    start_serve "$WORK/kill$r.log" --lake "$LAKE" --listen "$ADDR" || { fail "restart $r"; break; }
  grep -q 'wal torn tail cut off' "$WORK/kill$r.log" && torn=$((torn + 1))
done
sleep 1
: >"$STOP"
for p in "${APP[@]}"; do wait "$p"; done
echo "# $ROUNDS kills; $torn restarts cut a torn WAL tail"
bad=0 acked=0 dups=0
for w in $(seq 1 $WRITERS); do
  curl -s "http://$ADDR/journal/history/w$w?limit=10000" | jq -r '.events[].event_id' | sort >"$WORK/stored.$w"
  sort "$WORK/acked.$w" >"$WORK/acked.sorted.$w"
  acked=$((acked + $(wc -l <"$WORK/acked.sorted.$w")))
  bad=$((bad + $(comm -23 "$WORK/acked.sorted.$w" "$WORK/stored.$w" | wc -l)))
  dups=$((dups + $(uniq -d "$WORK/stored.$w" | wc -l)))
done
echo "# $acked events acknowledged by $WRITERS appenders"
check "the appenders got events acknowledged" test "$acked" -gt 50
expect_eq "after $ROUNDS kills every acknowledged event is there" 0 "$bad"
expect_eq "... and no event is there twice" 0 "$dups"
flushes=$(cat "$WORK"/kill*.log | grep -c 'msg="journal flushed"')
echo "# $flushes flushes to system.journal during the kill loop"
check "flushes to system.journal happened during the kills" test "$flushes" -gt 0
compactions=$(cat "$WORK"/kill*.log | grep -c 'msg="journal compacted"')
echo "# $compactions compactions of system.journal committed during the kill loop (the" \
  "thread's at each start-up, and a full one asked for every 5th round, killed right after)"
# whatever the kills left (runs, orphans of killed compactions): one more event, a flush,
# and a full compaction merges it into one sorted run
post '{"entity_type":"extra","entity_id":"x-after","action":"insert"}' >/dev/null
curl -s -o /dev/null -XPOST "http://$ADDR/journal/flush"
expect_eq "after the kills, POST /journal/compact" 200 \
  "$(curl -s -o "$WORK/c" -w '%{http_code}' -XPOST "http://$ADDR/journal/compact")"
check "... merges the runs the kill loop left ($(tr -d '\n' <"$WORK/c"))" \
  test "$(jq -r .files_in "$WORK/c")" -gt 1
# the background's work, current at every scrape
M=$(curl -s "http://$ADDR/metrics")
mval() { awk -v k="$1" '$1 == k { print $2 }' <<<"$M"; }
expect_eq "/metrics: tarn_journal_compactions counts it" 1 "$(awk -v v="$(mval tarn_journal_compactions)" 'BEGIN { print (v >= 1) }')"
expect_eq "/metrics: tarn_journal_table_files as /journal/stats says" \
  "$(curl -s "http://$ADDR/journal/stats" | jq -r .table_files)" "$(mval tarn_journal_table_files)"
expect_eq "/metrics: the last compaction's time" 1 \
  "$(awk -v v="$(mval tarn_journal_last_compaction_timestamp_seconds)" 'BEGIN { print (v > 1.7e9) }')"
expect_eq "/metrics: no flush failing" 0 "$(mval tarn_journal_flush_failing)"

# ---- system.journal, read by DuckDB ----
expect_eq "POST /journal/flush" 200 "$(curl -s -o "$WORK/f" -w '%{http_code}' -XPOST "http://$ADDR/journal/flush")"
expect_eq "... leaves nothing in memory" 0 "$(jq -r .events_in_memory "$WORK/f")"
kill -TERM "$SERVE_PID"; wait_exit "$SERVE_PID" 20
# data files of flushes killed before their commit are orphans: counted are committed ones
"$BIN" table remove-orphans system.journal --lake "$LAKE" --older-than 0s >/dev/null 2>&1
# two independent readers: icebird through the table's metadata, DuckDB over the live
# files the manifests list (avsc); each sees every stored event once
E2E_NODE_MODULES=$E2E_NODE_MODULES node "$(dirname "$0")/journal_readers.mjs" "$BIN" "$LAKE" bench \
  >"$WORK/readers.out" 2>&1
for reader in icebird duckdb; do
  want=$(for w in $(seq 1 $WRITERS); do n=$(wc -l <"$WORK/stored.$w"); echo "$reader w$w $n $n $n"; done)
  expect_eq "$reader reads system.journal: every stored event once, per writer" "$want" \
    "$(grep "^$reader " "$WORK/readers.out" || cat "$WORK/readers.out")"
done
start_serve "$WORK/after.log" --lake "$LAKE" --listen "$ADDR" || exit 1
expect_eq "after the restart, history comes from the table" "$(wc -l <"$WORK/stored.1")" \
  "$(curl -s "http://$ADDR/journal/history/w1?limit=10000" | jq -r .count)"
k=$(head -1 "$WORK/acked.sorted.1")
code=$(post "{\"entity_type\":\"bench\",\"entity_id\":\"w1\",\"action\":\"update\",\"field\":\"f\",\"new_value\":${k#w1-},\"event_id\":\"$k\"}")
expect_eq "a retry of a flushed event is still a duplicate" "200 true" \
  "$code $(jq -r '.events[0].duplicate' "$WORK/b")"

# ---- a torn tail is cut; a corrupt middle stops start-up naming segment and offset ----
kill -TERM "$SERVE_PID"; wait_exit "$SERVE_PID" 20
SEG=$(ls "$WAL" | grep '\.wal$' | sort | tail -1)
printf '\x40\x00\x00\x00garbage' >>"$WAL/$SEG"
start_serve "$WORK/torn.log" --lake "$LAKE" --listen "$ADDR" || exit 1
expect_match "a torn tail is cut at start-up" "msg=\"wal torn tail cut off\" segment=.*$SEG" "$(cat "$WORK/torn.log")"
expect_eq "... and nothing acknowledged is lost" "$(cat "$WORK/stored.1" | wc -l)" \
  "$(curl -s "http://$ADDR/journal/history/w1?limit=10000" | jq -r .count)"
kill -TERM "$SERVE_PID"; wait_exit "$SERVE_PID" 20
SEG=$(ls "$WAL" | grep '\.wal$' | sort | head -1)
size=$(stat -c %s "$WAL/$SEG")
# byte 40: inside the first record (the segment header is 16 bytes, a record's 16 more)
printf 'X' | dd of="$WAL/$SEG" bs=1 seek=40 conv=notrunc status=none
"$BIN" serve --lake "$LAKE" --listen "$ADDR" 2>"$WORK/corrupt.log" &
p=$!
PIDS+=("$p")
wait_exit "$p" 20
expect_eq "a corrupt middle record stops start-up" 1 "$EXIT_CODE"
expect_match "... naming the segment and the offset" "wal segment .*$SEG offset 16: checksum mismatch" \
  "$(cat "$WORK/corrupt.log")"
expect_eq "... and the segment is left as it was" "$size" "$(stat -c %s "$WAL/$SEG")"

finish
