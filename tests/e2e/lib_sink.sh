# lib_sink.sh - helpers for the end-to-end tests of `tarn sink` (sourced after lib.sh and
# lib_kafka.sh, not run).
TOPIC=ontology.actions.applied.v1
LAKE=$WORK/lake
# Short sessions so a killed sink's partitions move on quickly (PEERS.md: heartbeat 500;
# below 3 s the mock's rejoins stall for about 20 s).
KOPTS=(--kafka session.timeout.ms=3000 --kafka heartbeat.interval.ms=500)

# start_sink LOG ARGS...: starts a sink on the test lake (ARGS may name another with
# --lake; the variables in SINK_ENV are set for it); sets SINK_PID and SINK_ADDR.
SINK_ENV=()
start_sink() {
  local log=$1; shift
  env "${SINK_ENV[@]}" "$BIN" sink --lake "$LAKE" --brokers "$KAFKA_BOOTSTRAP" --listen 127.0.0.1:0 "${KOPTS[@]}" \
    "$@" 2>>"$log" &
  SINK_PID=$!
  PIDS+=("$SINK_PID")
  SINK_ADDR=""
  for _ in $(seq 1 200); do
    SINK_ADDR=$(sed -n 's/.*msg="http server listening" addr=\([^ ]*\).*/\1/p' "$log" | tail -1)
    [ -n "$SINK_ADDR" ] && return 0
    kill -0 "$SINK_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "tarn sink did not start; log:" >&2
  tail -20 "$log" >&2
  return 1
}

# metric_at ADDR SERIES: the value of one series (name with labels) on the sink at ADDR
# (0 when absent); metric SERIES: on the last sink started.
metric_at() {
  curl -s "http://$1/metrics" | awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }'
}
metric() { metric_at "$SINK_ADDR" "$1"; }

# wait_metric_at ADDR SERIES WANT SECONDS: waits until the series reaches WANT
# (numerically); wait_metric SERIES WANT SECONDS: on the last sink started.
wait_metric_at() {
  local v
  for _ in $(seq 1 $(($4 * 10))); do
    v=$(metric_at "$1" "$2")
    awk -v v="$v" -v w="$3" 'BEGIN { exit !(v + 0 >= w + 0) }' && return 0
    sleep 0.1
  done
  echo "metric $2 is $v, wanted $3" >&2
  return 1
}
wait_metric() { wait_metric_at "$SINK_ADDR" "$@"; }

# rows TABLE COLUMNS: the rows as CSV without the header (RFC 4180's CRLF made LF)
rows() { "$BIN" table scan "default.$1" --lake "$LAKE" --columns "$2" --format csv 2>/dev/null | tail -n +2 | tr -d '\r'; }
snapshots() { "$BIN" table snapshots "default.$1" --lake "$LAKE" --json 2>/dev/null | node -e '
  let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
    const j = JSON.parse(s); console.log(j.length); });'; }

jq_ids() { node -e 'require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean)
  .forEach(l => console.log(JSON.parse(l).event_id));' "$1" | sort; }
