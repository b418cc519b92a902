#!/usr/bin/env bash
# test_sink.sh - `tarn sink` against librdkafka's mock cluster (in its own process, so it
# outlives sinks killed with -9): happy path with every kind of poison, no empty commits,
# SIGTERM final flush, a writer failure that keeps the batch, injected broker errors, two
# sinks in one group with a rebalance, the JSONL writer and start-up errors. The kill -9
# loop is test_sink_kill.sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_kafka.sh"
. "$(dirname "$0")/lib_sink.sh"


kafka_start 1 "$TOPIC:4"

# ---- 1. happy path and every kind of poison ----
kafka_produce --count 6000 --poison-every 50 --ndjson-out "$WORK/good1.ndjson" \
  >"$WORK/prod1.out" 2>"$WORK/prod1.err"
check "producer wrote 6000 events" grep -q 'produced=6000' "$WORK/prod1.out"
GOOD1=$(wc -l <"$WORK/good1.ndjson")
POISON1=$((6000 - GOOD1))
expect_eq "poison every 50th" 120 "$POISON1"

start_sink "$WORK/sink1.log" --batch-max-age 1s
check "sink commits the good events" wait_metric 'action_log_sink_records_total{outcome="committed"}' "$GOOD1" 60
check "sink commits the poison records" wait_metric 'action_log_sink_records_total{outcome="poison"}' "$POISON1" 30
HEALTH=$(curl -s -o /dev/null -w '%{http_code}' "http://$SINK_ADDR/healthz")
expect_eq "/healthz 200 while assigned" 200 "$HEALTH"
METRICS=$(curl -s "http://$SINK_ADDR/metrics")
for s in action_log_sink_lag_seconds_bucket action_log_sink_batch_size_records_count \
  'action_log_sink_commits_total{table="main",outcome="ok"}' action_log_sink_commit_duration_seconds_count \
  'action_log_sink_consumer_lag_records{topic="ontology.actions.applied.v1",partition="0"}' \
  action_log_sink_last_commit_age_seconds; do
  check "metrics has $s" grep -qF "$s" <<<"$METRICS"
done
for kind in not_json not_object missing_field wrong_type bad_value null_value; do
  want=$(sed -n "s/.*poison kind=$kind count=\([0-9]*\).*/\1/p" "$WORK/prod1.err")
  got=$(metric "action_log_sink_poison_records_total{reason=\"$kind\"}")
  expect_eq "poison reason $kind counted" "${want:-0}" "$got"
done
kill -TERM "$SINK_PID"
wait_exit "$SINK_PID" 30
expect_eq "SIGTERM exits 0" 0 "$EXIT_CODE"
check "one log line per commit" grep -q 'msg="sink commit" table=default.action_log records=.* offsets=' "$WORK/sink1.log"

rows action_log event_id | sort >"$WORK/ids1"
jq_ids "$WORK/good1.ndjson" >"$WORK/want1"
check "the table holds exactly the good events" cmp -s "$WORK/ids1" "$WORK/want1"
expect_eq "no event_id twice" 0 "$(uniq -d "$WORK/ids1" | wc -l)"
expect_eq "dead-letter table holds each poison record once" "$POISON1" \
  "$(rows action_log_dlq partition,offset | sort -u | wc -l)"
expect_eq "dead-letter rows are not repeated" "$POISON1" "$(rows action_log_dlq offset | wc -l)"

# data files carry bloom filters on the looked-up columns (table properties set at create)
F1=$(find "$LAKE/warehouse/default/action_log/data" -name '*.parquet' | head -1)
check "event_id has a bloom filter" bash -c "'$BIN' parquet meta '$F1' | grep -A1 '^  event_id (' | grep -q 'bloom filter: yes'"
"$BIN" table set-properties default.action_log --lake "$LAKE" \
  --property write.parquet.bloom-filter-enabled.column.tenant=maybe >/dev/null 2>&1
OUT=$(printf '{"event_id":"x","action_type_id":"a","action_name":"n","object_type_id":"o","tenant":"t","actor_sub":"s","status":"ok","applied_at_ms":1,"applied_at":1000}\n' |
  "$BIN" table append default.action_log --lake "$LAKE" --jsonl - 2>&1)
expect_match "a bad bloom-filter property is an error naming it" 'bloom-filter-enabled.column.tenant' "$OUT"
"$BIN" table set-properties default.action_log --lake "$LAKE" \
  --property write.parquet.bloom-filter-enabled.column.tenant=false >/dev/null 2>&1

# the summary holds the offsets under the group
SUMMARY=$("$BIN" table snapshots default.action_log --lake "$LAKE" --json)
check "snapshot summary has tarn.sink.offsets.<group>" grep -q 'tarn.sink.offsets.tarn-action-log-sink' <<<"$SUMMARY"

# ---- 2. a restart with nothing new commits nothing ----
N_SNAP=$(snapshots action_log)
start_sink "$WORK/sink2.log" --batch-max-age 1s
sleep 6
kill -TERM "$SINK_PID"
wait_exit "$SINK_PID" 30
expect_eq "idle restart exits 0" 0 "$EXIT_CODE"
expect_eq "no empty commits" "$N_SNAP" "$(snapshots action_log)"
check "a restart re-reads nothing" bash -c "! grep -q 'msg=\"sink commit\"' '$WORK/sink2.log'"

# ---- 3. SIGTERM commits what the batch holds ----
start_sink "$WORK/sink3.log" --batch-max-age 10m
kafka_produce --count 1000 --start 6000 --id-prefix ev >/dev/null 2>&1
check "the long batch is read" wait_metric 'action_log_sink_consumer_lag_records{topic="ontology.actions.applied.v1",partition="0"}' 0 5
sleep 3
expect_eq "nothing committed before the age" "$GOOD1" "$(rows action_log event_id | wc -l)"
kill -TERM "$SINK_PID"
wait_exit "$SINK_PID" 30
expect_eq "SIGTERM with a full batch exits 0" 0 "$EXIT_CODE"
expect_eq "SIGTERM flushed the batch" $((GOOD1 + 1000)) "$(rows action_log event_id | wc -l)"

# ---- 4. a writer failure keeps the batch: the table's data directory is a file for a while
# (permissions would not stop root) ----
DATA=$LAKE/warehouse/default/action_log/data
start_sink "$WORK/sink4.log" --batch-max-age 1s
mv "$DATA" "$DATA.away" && : >"$DATA"
kafka_produce --count 500 --start 7000 >/dev/null 2>&1
check "the failing commit is retried with the batch kept" bash -c "for i in \$(seq 1 200); do grep -q 'commit failed; batch kept' '$WORK/sink4.log' && exit 0; sleep 0.1; done; exit 1"
H=$(curl -s "http://$SINK_ADDR/healthz")
# more records while the kept batch waits: the next batch is held back until it lands
kafka_produce --count 300 --start 20000 >/dev/null 2>&1
sleep 1.5
rm -f "$DATA" && mv "$DATA.away" "$DATA"
check "the kept batch, then the next one, land once the disk is back" \
  wait_metric 'action_log_sink_records_total{outcome="committed"}' 800 60
kill -TERM "$SINK_PID"; wait_exit "$SINK_PID" 30
expect_eq "exit 0 after the writer failure" 0 "$EXIT_CODE"
expect_eq "after the writer failure: no event twice" 0 "$(rows action_log event_id | sort | uniq -d | wc -l)"

# ---- 5. injected broker errors: fetch and offset-commit errors are survived ----
start_sink "$WORK/sink5.log" --batch-max-age 1s
kafka_ctl "error Fetch 6 5"
kafka_ctl "error OffsetCommit 16 5"
kafka_produce --count 800 --start 7500 >/dev/null 2>&1
check "events land through injected errors" wait_metric 'action_log_sink_records_total{outcome="committed"}' 800 60
kill -TERM "$SINK_PID"; wait_exit "$SINK_PID" 30
expect_eq "error run exits 0" 0 "$EXIT_CODE"

# ---- 6. two sinks in one group share the partitions; a rebalance when one leaves ----
start_sink "$WORK/sinkA.log" --batch-max-age 1s
PA=$SINK_PID; AA=$SINK_ADDR
start_sink "$WORK/sinkB.log" --batch-max-age 1s
PB=$SINK_PID; AB=$SINK_ADDR
sleep 8
SINK_ADDR=$AA; NA=$(metric action_log_sink_assigned_partitions)
SINK_ADDR=$AB; NB=$(metric action_log_sink_assigned_partitions)
expect_eq "two sinks share the 4 partitions" 4 "$((NA + NB))"
check "each sink has some" test "$NA" -ge 1 -a "$NB" -ge 1
kafka_produce --count 3000 --start 8300 >/dev/null 2>&1 &
PROD=$!
sleep 1
kill -TERM "$PA"; wait_exit "$PA" 30
expect_eq "the leaving sink exits 0" 0 "$EXIT_CODE"
wait "$PROD"
SINK_ADDR=$AB
check "the other sink takes over all partitions" wait_metric action_log_sink_assigned_partitions 4 30
sleep 4
kill -TERM "$PB"; wait_exit "$PB" 30
TOTAL=$((GOOD1 + 1000 + 500 + 300 + 800 + 3000))
expect_eq "after the rebalance every event is there" "$TOTAL" "$(rows action_log event_id | wc -l)"
expect_eq "after the rebalance no event twice" 0 "$(rows action_log event_id | sort | uniq -d | wc -l)"

# ---- 8. independent readers: DuckDB over the data files sees the same rows ----
if [ -d "${E2E_NODE_MODULES:-}/@duckdb" ]; then
  NODE_PATH=$E2E_NODE_MODULES node -e '
    const { DuckDBInstance } = require("@duckdb/node-api");
    (async () => {
      const db = await DuckDBInstance.create(":memory:"); const c = await db.connect();
      const r = await c.runAndReadAll(`select count(*)::bigint n, count(distinct event_id)::bigint d,
        min(applied_at_ms = epoch_ms(applied_at))::int ok
        from read_parquet("${process.argv[1]}/warehouse/default/action_log/data/**/*.parquet")`);
      const [n, d, ok] = r.getRows()[0]; console.log(`${n} ${d} ${ok}`);
    })();' "$LAKE" >"$WORK/duck.out" 2>&1
  DUCK=$(cat "$WORK/duck.out")
  N_TABLE=$(rows action_log event_id | wc -l)
  # data files of batches that never committed are orphans; count committed ones only
  "$BIN" table remove-orphans default.action_log --lake "$LAKE" --older-than 0s >/dev/null 2>&1
  NODE_PATH=$E2E_NODE_MODULES node -e '
    const { DuckDBInstance } = require("@duckdb/node-api");
    (async () => {
      const db = await DuckDBInstance.create(":memory:"); const c = await db.connect();
      const r = await c.runAndReadAll(`select count(*)::bigint n, count(distinct event_id)::bigint d,
        min(applied_at_ms = epoch_ms(applied_at))::int ok
        from read_parquet("${process.argv[1]}/warehouse/default/action_log/data/**/*.parquet")`);
      const [n, d, ok] = r.getRows()[0]; console.log(`${n} ${d} ${ok}`);
    })();' "$LAKE" >"$WORK/duck.out" 2>&1
  expect_eq "DuckDB reads the committed data files: same rows, distinct ids, applied_at agrees" \
    "$N_TABLE $N_TABLE 1" "$(cat "$WORK/duck.out")"
fi

# ---- 9. JSONL writer ----
kafka_start 1 "jsonl.topic:2"
"$BIN" sink --jsonl "$WORK/out.jsonl" --brokers "$KAFKA_BOOTSTRAP" --topic jsonl.topic \
  --group g-jsonl --listen 127.0.0.1:0 "${KOPTS[@]}" --batch-max-age 500ms 2>"$WORK/sinkj.log" &
SJ=$!; PIDS+=("$SJ")
kafka_produce --topic jsonl.topic --count 300 --poison-every 30 >/dev/null 2>&1
for _ in $(seq 1 100); do [ "$(cat "$WORK/out.jsonl" 2>/dev/null | wc -l)" -ge 290 ] && break; sleep 0.2; done
kill -9 "$SJ"; wait "$SJ" 2>/dev/null
"$BIN" sink --jsonl "$WORK/out.jsonl" --brokers "$KAFKA_BOOTSTRAP" --topic jsonl.topic \
  --group g-jsonl --listen 127.0.0.1:0 "${KOPTS[@]}" --batch-max-age 500ms 2>>"$WORK/sinkj.log" &
SJ=$!; PIDS+=("$SJ")
sleep 6
kill -TERM "$SJ"; wait_exit "$SJ" 30
expect_eq "JSONL: rows once across kill -9 and restart" 290 "$(wc -l <"$WORK/out.jsonl")"
expect_eq "JSONL: poison records once" 10 "$(wc -l <"$WORK/out.jsonl.dlq")"
check "JSONL: an offsets sidecar" test -s "$WORK/out.jsonl.offsets"

# ---- 10. start-up errors name what is wrong ----
OUT=$("$BIN" sink --lake "$LAKE" --kafka no.such.property=1 --listen 127.0.0.1:0 2>&1); RC=$?
expect_eq "unknown librdkafka property: usage exit" 2 "$RC"
expect_match "it names the property" 'no.such.property' "$OUT"
OUT=$(ACTION_LOG_SINK_BATCH_MAX_RECORDS=lots "$BIN" sink --lake "$LAKE" 2>&1); RC=$?
expect_eq "bad ACTION_LOG_SINK_BATCH_MAX_RECORDS: usage exit" 2 "$RC"
expect_match "it names the variable" 'ACTION_LOG_SINK_BATCH_MAX_RECORDS' "$OUT"
OUT=$(ACTION_LOG_SINK_BATCH_MAX_WAIT_SECONDS=7 KAFKA_BOOTSTRAP_SERVERS=h1:9092 "$BIN" sink --lake "$LAKE" --print-config 2>&1)
expect_match "KAFKA_BOOTSTRAP_SERVERS sets brokers" 'brokers = h1:9092 +; env KAFKA_BOOTSTRAP_SERVERS' "$OUT"
expect_match "..._WAIT_SECONDS=7 is 7 s" 'batch_max_age = 7s' "$OUT"
OUT=$("$BIN" sink --lake "$LAKE" --kafka sasl.password=hunter2 --print-config 2>&1)
check "print-config shows no Kafka password" bash -c "! grep -q hunter2 <<<'$OUT'"
OUT=$("$BIN" sink --lake "$LAKE" --kafka enable.auto.commit=true --listen 127.0.0.1:0 2>&1); RC=$?
expect_eq "enable.auto.commit=true is refused" 2 "$RC"
"$BIN" table create other.action_log --lake "$LAKE" --schema 'event_id string not null, tenant long' >/dev/null 2>&1
OUT=$("$BIN" sink --lake "$LAKE" --table other.action_log --brokers "$KAFKA_BOOTSTRAP" --listen 127.0.0.1:0 2>&1); RC=$?
expect_eq "a table of another layout stops start-up" 2 "$RC"
expect_match "it names the column" 'column "action_type_id"' "$OUT"

finish
