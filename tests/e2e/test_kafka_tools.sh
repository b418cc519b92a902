#!/usr/bin/env bash
# End-to-end: the Kafka test tools the sink's tests stand on (kafka_mock, kafka_produce,
# lib_kafka.sh), checked with kcat and jq, which share no code with them: every record
# produced is in the cluster, the good ones byte for byte as in the --ndjson-out copy, each
# poison record is of the kind announced, and the control commands (down/up, error
# injection, bad commands) do what they say.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_kafka.sh"

TOPIC=ontology.actions.applied.v1
for tool in kcat jq; do
  if ! command -v "$tool" >/dev/null; then
    fail "$tool is installed (scripts/setup.sh installs it)"
    finish
    exit 1
  fi
done

# classify: each input line (a value as kafka_consume prints it) to the poison kind a sink
# must give it, or "good". The rules of tarn's action_log layout: 8 required fields
# (strings, applied_at_ms an integer > 0; required strings non-empty).
classify() {
  jq -R -r '
    def req_str: ["event_id","tenant","status","actor_sub","action_name","action_type_id",
                  "object_type_id"];
    if . == "NULL" then "null_value"
    else (try fromjson catch "\u0000") as $v
      | if ($v | type) == "string" and $v == "\u0000" then "not_json"
        elif ($v | type) != "object" then "not_object"
        elif ((req_str + ["applied_at_ms"]) | map(. as $k | $v | has($k)) | all | not)
          then "missing_field"
        elif (req_str | map(. as $k | $v[$k] | type == "string") | all | not)
             or ($v.applied_at_ms | type) != "number"
             or ($v.applied_at_ms != ($v.applied_at_ms | floor)) then "wrong_type"
        elif $v.applied_at_ms <= 0 or (req_str | map(. as $k | $v[$k] == "") | any)
          then "bad_value"
        else "good" end
    end'
}

# --- bad arguments fail with exit 2 and say why
"$KAFKA_MOCK_BIN" --brokers 0 >/dev/null 2>"$WORK/bad.err"
expect_eq "kafka_mock --brokers 0 exits 2" 2 $?
"$KAFKA_MOCK_BIN" --topic nocolon >/dev/null 2>>"$WORK/bad.err"
expect_eq "kafka_mock --topic without :PARTS exits 2" 2 $?
"$KAFKA_PRODUCE_BIN" --count 5 >/dev/null 2>>"$WORK/bad.err"
expect_eq "kafka_produce without --bootstrap exits 2" 2 $?
"$KAFKA_PRODUCE_BIN" --bootstrap 127.0.0.1:1 --count 5 --partitions-by x >/dev/null \
  2>>"$WORK/bad.err"
expect_eq "kafka_produce --partitions-by x exits 2" 2 $?
expect_eq "each bad argument is explained" 4 "$(grep -c 'kafka_' "$WORK/bad.err")"

# --- 3 brokers, the sink's topic with 4 partitions (leaders 1, 2, 3, 1)
if ! kafka_start 3 "$TOPIC:4"; then
  fail "kafka_mock starts"
  finish
  exit 1
fi
expect_match "bootstrap lists 3 brokers" '^127\.0\.0\.1:[0-9]+,127\.0\.0\.1:[0-9]+,127\.0\.0\.1:[0-9]+$' \
  "$KAFKA_BOOTSTRAP"
meta=$(kcat -b "$KAFKA_BOOTSTRAP" -L -t "$TOPIC" 2>&1)
expect_eq "partition leaders are p % 3 + 1" "1 2 3 1" \
  "$(echo "$meta" | sed -n 's/.*partition [0-9]*, leader \([0-9]*\),.*/\1/p' | tr '\n' ' ' | sed 's/ $//')"

# 20,000 events, every 100th poison: poison p = i / 100 (p = 0..199) has kind p % 6.
summary=$(kafka_produce --count 20000 --poison-every 100 --ndjson-out "$WORK/good.ndjson" \
  2>"$WORK/produce.err")
rc=$?
expect_eq "kafka_produce exits 0" 0 "$rc"
expect_match "summary line" '^produced=20000 good=19800 poison=200 bytes=[0-9]+$' "$summary"
expect_eq "poison counts on stderr" \
  "not_json=34 not_object=34 missing_field=33 wrong_type=33 bad_value=33 null_value=33" \
  "$(sed -n 's/^poison kind=\([a-z_]*\) count=\([0-9]*\)$/\1=\2/p' "$WORK/produce.err" |
    tr '\n' ' ' | sed 's/ $//')"
expect_eq "the NDJSON copy holds the good events" 19800 "$(wc -l <"$WORK/good.ndjson")"
expect_eq "bytes= is the size of all values" "${summary##*bytes=}" \
  "$(kcat -b "$KAFKA_BOOTSTRAP" -C -t "$TOPIC" -e -q -f '%S\n' |
    awk '$1 > 0 { n += $1 } END { print n + 0 }')"

kafka_consume "$TOPIC" >"$WORK/all.txt"
expect_eq "kcat reads 20,000 records" 20000 "$(wc -l <"$WORK/all.txt")"
LC_ALL=C sort "$WORK/all.txt" >"$WORK/all.sorted"
LC_ALL=C sort "$WORK/good.ndjson" >"$WORK/good.sorted"
expect_eq "every good event is in the topic, byte for byte" 0 \
  "$(LC_ALL=C comm -23 "$WORK/good.sorted" "$WORK/all.sorted" | wc -l)"
LC_ALL=C comm -13 "$WORK/good.sorted" "$WORK/all.sorted" >"$WORK/poison.txt"
expect_eq "the rest are 200 poison records" 200 "$(wc -l <"$WORK/poison.txt")"
expect_eq "poison kinds by jq's reading" \
  "bad_value=33 missing_field=33 not_json=34 not_object=34 null_value=33 wrong_type=33" \
  "$(classify <"$WORK/poison.txt" | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}' |
    sed 's/ $//')"
expect_eq "every good event reads as good" "19800 good" \
  "$(classify <"$WORK/good.ndjson" | sort | uniq -c | awk '{print $1, $2}')"
expect_eq "event ids are ev-i for the good i < 20000, each once" "19800 0" \
  "$(jq -r .event_id "$WORK/good.ndjson" | sort -u |
    awk '{ i = substr($0, 4) + 0; if ($0 != "ev-" i || i >= 20000 || i % 100 == 99) bad++ }
         END { print NR, bad + 0 }')"
expect_eq "applied_at_ms spread over 3 UTC days" 3 \
  "$(jq -r '.applied_at_ms / 86400000 | floor' "$WORK/good.ndjson" | sort -u | wc -l)"
expect_eq "4 tenants t0..t3" "t0 t1 t2 t3" \
  "$(jq -r .tenant "$WORK/good.ndjson" | sort -u | tr '\n' ' ' | sed 's/ $//')"
expect_eq "good records are keyed by object_id, else action_type_id" "19800 0" \
  "$(kcat -b "$KAFKA_BOOTSTRAP" -C -t "$TOPIC" -e -q -f '%k\t%s\n' |
    awk -F'\t' 'NR == FNR { good[$0] = 1; next }
      ($2 in good) { n++; v = $2; o = ""; a = "";
        if (match(v, /"object_id":"[^"]*"/)) o = substr(v, RSTART + 13, RLENGTH - 14);
        if (match(v, /"action_type_id":"[^"]*"/)) a = substr(v, RSTART + 18, RLENGTH - 19);
        if ($1 != (o != "" ? o : a)) bad++ }
      END { print n + 0, bad + 0 }' "$WORK/good.ndjson" -)"

# Same seed and index, same bytes: events 19900..19999 again (19999 is poison) equal the
# copy's last 99 lines.
kafka_produce --topic kt.again --count 100 --start 19900 --poison-every 100 \
  --ndjson-out "$WORK/again.ndjson" >/dev/null 2>&1
expect_eq "--start reproduces the same events" "" \
  "$(tail -99 "$WORK/good.ndjson" | cmp - "$WORK/again.ndjson" 2>&1)"

# --from-ndjson replays a file's lines as they are.
kafka_produce --topic kt.replay --from-ndjson "$WORK/good.ndjson" --count 500 >"$WORK/replay.out" \
  2>/dev/null
expect_eq "--from-ndjson produces the file's lines" "produced=500 good=500 poison=0" \
  "$(sed 's/ bytes=.*//' "$WORK/replay.out")"
expect_eq "the replayed records are the first 500 lines" "" \
  "$(kafka_consume kt.replay | LC_ALL=C sort | cmp - <(head -500 "$WORK/good.ndjson" |
    LC_ALL=C sort) 2>&1)"

# --- control commands
check "kafka_ctl topic creates a topic" kafka_ctl "topic kt.down 3"
kafka_ctl "down 9" 2>/dev/null
expect_match "an unknown broker is refused" '^control: error down 9: no broker 9' \
  "$KAFKA_CTL_REPLY"
kafka_ctl "frobnicate" 2>/dev/null
expect_match "an unknown command is refused" '^control: error frobnicate: unknown command' \
  "$KAFKA_CTL_REPLY"

# Broker 2 down: partition 1 of kt.down (leader 2) takes nothing until it is up again; the
# producer retries and delivers everything once it is. reconnect.backoff.max.ms keeps the
# reconnection quick (librdkafka's default backs off up to 10 s).
check "kafka_ctl down 2" kafka_ctl "down 2"
kafka_produce --topic kt.down --count 3000 --partitions-by roundrobin \
  -X reconnect.backoff.max.ms=500 >"$WORK/down.out" 2>"$WORK/down.err" &
prod=$!
sleep 2
if kill -0 "$prod" 2>/dev/null; then
  ok "the producer waits while partition 1's leader is down"
else
  fail "the producer waits while partition 1's leader is down (it exited; $(cat "$WORK/down.out"))"
fi
expect_eq "partition 0 has its records meanwhile" 1000 \
  "$(kcat -b "$KAFKA_BOOTSTRAP" -C -t kt.down -p 0 -e -q -f 'x\n' 2>/dev/null | wc -l)"
check "kafka_ctl up 2" kafka_ctl "up 2"
wait_exit "$prod" 20
expect_eq "the producer delivers everything after up" 0 "$EXIT_CODE"
expect_match "its summary" '^produced=3000 good=3000 ' "$(cat "$WORK/down.out")"
expect_eq "partition 1 has its 1,000 records" 1000 \
  "$(kcat -b "$KAFKA_BOOTSTRAP" -C -t kt.down -p 1 -e -q -f 'x\n' | wc -l)"

# Injected errors: retriable ones are retried, a fatal one fails the records it hits.
check "kafka_ctl error (retriable)" kafka_ctl "error Produce NOT_LEADER_FOR_PARTITION 3"
summary=$(kafka_produce --topic kt.err --count 1000 2>/dev/null)
expect_eq "retriable Produce errors: exit 0" 0 $?
expect_eq "all 1,000 delivered after retries" 1000 "$(kafka_count kt.err)"
check "kafka_ctl error (not retriable)" kafka_ctl "error Produce MSG_SIZE_TOO_LARGE 1"
kafka_produce --topic kt.err2 --count 1000 -X linger.ms=0 >/dev/null 2>"$WORK/err2.err"
expect_eq "a failed delivery makes kafka_produce exit 1" 1 $?
expect_match "and it says which error" 'deliveries failed; first: kt\.err2 \[[0-9]+\]: Broker: Message size too large' \
  "$(cat "$WORK/err2.err")"
check "kafka_ctl clear" kafka_ctl "clear Produce"
check "kafka_ctl rtt" kafka_ctl "rtt 1 0"
check "kafka_ctl coordinator" kafka_ctl "coordinator group tarn-sink 2"

# --- stop: SIGTERM ends it cleanly
kafka_stop
expect_eq "kafka_mock exits 0 on SIGTERM" 0 $?
expect_eq "and leaves no control FIFO" "no" "$([ -p "$KAFKA_CONTROL" ] && echo yes || echo no)"

finish
