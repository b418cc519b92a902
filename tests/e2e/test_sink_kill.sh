#!/usr/bin/env bash
# test_sink_kill.sh - the kill -9 loop: a producer writes 20,000 events with unique ids
# (every 97th poison) while `tarn sink` is killed at a random moment after it has its
# partitions and started again, SINK_KILL_LOOPS (50) times; afterwards the table holds
# every good event exactly once and the dead-letter table every poison record once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_kafka.sh"
. "$(dirname "$0")/lib_sink.sh"

KILL_LOOPS=${SINK_KILL_LOOPS:-50}
kafka_start 1 "$TOPIC:4"

# ---- 7. kill -9 loop ----
# production spread over the whole loop, so that sinks die while events keep coming
RATE=$((20000 / (KILL_LOOPS * 5) + 1))
kafka_produce --count 20000 --start 20000 --id-prefix k --poison-every 97 --rate "$RATE" \
  --ndjson-out "$WORK/goodk.ndjson" >"$WORK/prodk.out" 2>"$WORK/prodk.err" &
PROD=$!
KILLED_AFTER_COMMIT=0
for i in $(seq 1 "$KILL_LOOPS"); do
  : >"$WORK/sinkk.log"
  start_sink "$WORK/sinkk.log" --batch-max-age 300ms --batch-max-records 700 || break
  # killed at a random moment once it consumes: before, during or after a commit
  for _ in $(seq 1 300); do grep -q 'sink partition assigned' "$WORK/sinkk.log" && break; sleep 0.05; done
  sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.05 + (r % 150) / 100 }')"
  kill -9 "$SINK_PID" 2>/dev/null
  wait "$SINK_PID" 2>/dev/null
  grep -q 'msg="sink commit"' "$WORK/sinkk.log" && KILLED_AFTER_COMMIT=$((KILLED_AFTER_COMMIT + 1))
  cat "$WORK/sinkk.log" >>"$WORK/sinkk.all"
done
wait "$PROD"
start_sink "$WORK/sinkk.log" --batch-max-age 300ms
GOODK=$(wc -l <"$WORK/goodk.ndjson")
# the loop must have killed sinks that were committing, many times, not only joining ones
check "kill -9 loop: most of the $KILL_LOOPS sinks committed before their kill ($KILLED_AFTER_COMMIT)" \
  test "$KILLED_AFTER_COMMIT" -ge $((KILL_LOOPS / 2))
check "after $KILL_LOOPS kills the last sink catches up" bash -c '
  for i in $(seq 1 600); do
    n=$("'"$BIN"'" table scan default.action_log --lake "'"$LAKE"'" --columns event_id --format csv --where "event_id >= '"'"'k'"'"'" 2>/dev/null | tail -n +2 | wc -l)
    [ "$n" -ge '"$GOODK"' ] && exit 0; sleep 0.5; done; exit 1'
kill -TERM "$SINK_PID"; wait_exit "$SINK_PID" 30
rows action_log event_id | grep '^k-' | sort >"$WORK/idsk"
jq_ids "$WORK/goodk.ndjson" >"$WORK/wantk"
check "kill -9 loop: exactly the good events, each once" cmp -s "$WORK/idsk" "$WORK/wantk"
expect_eq "kill -9 loop: no event twice in the whole table" 0 "$(rows action_log event_id | sort | uniq -d | wc -l)"
POISONK=$((20000 - GOODK))
expect_eq "kill -9 loop: each poison record once in the dead-letter table" \
  "$POISONK" "$(rows action_log_dlq partition,offset | sort | uniq | wc -l)"
expect_eq "kill -9 loop: no poison record twice" 0 "$(rows action_log_dlq partition,offset | sort | uniq -d | wc -l)"


finish
