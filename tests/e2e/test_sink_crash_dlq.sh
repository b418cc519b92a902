#!/usr/bin/env bash
# test_sink_crash_dlq.sh - a sink killed between its dead-letter commit and its action-log
# commit (the action log's data folder is a file for a while, so that commit fails and the
# batch is kept), then restarted with batches that cut the re-read range differently:
# the dead-letter table may be ahead of the action log. Nothing may be written twice
# (its offsets must never move back) and the sink must not fence itself forever
# (a partition without new poison is no "already committed" part of the batch).
# Two rounds: a long partition with much poison (batches of 500), and a short one.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_kafka.sh"
. "$(dirname "$0")/lib_sink.sh"

kafka_start 1 "r:2" "rb:2" "dummy:1"

waitlog() { for _ in $(seq 1 200); do grep -q "$2" "$1" && return 0; sleep 0.1; done; return 1; }

# round TOPIC FILLER_COUNT POISON_EVENTS RECS: one crash-and-restart round on TOPIC into a
# lake of its own.
round() {
  local t=$1 filler=$2 n=$3 recs=$4 w=$WORK/$1 data good poison
  LAKE=$w/lake
  mkdir -p "$w"
  kafka_produce --topic "$t" --count 2 --partitions-by roundrobin --id-prefix "$t-a" \
    --ndjson-out "$w/a.ndjson" >/dev/null 2>&1
  start_sink "$w/s1.log" --topic "$t" --batch-max-age 300ms
  wait_metric 'action_log_sink_records_total{outcome="committed"}' 2 20
  kill -TERM "$SINK_PID"; wait_exit "$SINK_PID" 30
  # the action log's commits fail from here: its data folder is a file
  data=$LAKE/warehouse/default/action_log/data
  mv "$data" "$data.away" && : >"$data"
  kafka_produce --topic dummy --count "$((filler + 2))" --start "$((RANDOM * 10))" \
    --id-prefix "$t-x" --ndjson-out "$w/x.ndjson" >/dev/null 2>&1
  head -"$filler" "$w/x.ndjson" | kcat -b "$KAFKA_BOOTSTRAP" -P -t "$t" -p 0 -T >/dev/null
  kafka_produce --topic "$t" --count "$n" --partitions-by roundrobin --id-prefix "$t-b" \
    --poison-every 5 --ndjson-out "$w/b.ndjson" >/dev/null 2>&1
  start_sink "$w/s2.log" --topic "$t" --batch-max-age 1s
  check "$t: the dead-letter part commits, the action log's fails" waitlog "$w/s2.log" 'commit failed; batch kept'
  check "$t: ... after the dead-letter commit" grep -q 'msg="sink commit" table=default.action_log_dlq' "$w/s2.log"
  kill -9 "$SINK_PID"; wait "$SINK_PID" 2>/dev/null
  rm -f "$data" && mv "$data.away" "$data"
  # new poison on the other partition only, and two good events
  { echo "this is not json"; tail -2 "$w/x.ndjson"; } | kcat -b "$KAFKA_BOOTSTRAP" -P -t "$t" -p 1 >/dev/null
  head -"$filler" "$w/x.ndjson" >"$w/x1.ndjson"
  tail -2 "$w/x.ndjson" >"$w/c.ndjson"
  good=$(cat "$w/a.ndjson" "$w/b.ndjson" "$w/c.ndjson" "$w/x1.ndjson" | wc -l)
  poison=$((2 + filler + n + 3 - good))
  start_sink "$w/s3.log" --topic "$t" --batch-max-age 300ms --batch-max-records "$recs"
  check "$t: every good event lands after the restart" \
    wait_metric 'action_log_sink_records_total{outcome="committed"}' "$((good - 2))" 60
  sleep 1
  expect_eq "$t: the restarted sink is never fenced" 0 \
    "$(metric 'action_log_sink_commits_total{table="dlq",outcome="fenced"}')"
  kill -TERM "$SINK_PID"; wait_exit "$SINK_PID" 30
  expect_eq "$t: it stops cleanly" 0 "$EXIT_CODE"
  expect_eq "$t: each good event once" "$good $good" \
    "$(rows action_log event_id | wc -l) $(rows action_log event_id | sort -u | wc -l)"
  expect_eq "$t: each poison record once in the dead-letter table" "$poison $poison" \
    "$(rows action_log_dlq partition,offset | wc -l) $(rows action_log_dlq partition,offset | sort -u | wc -l)"
}

round r 3000 2000 500
round rb 0 20 100000

finish
