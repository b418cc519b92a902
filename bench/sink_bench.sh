#!/usr/bin/env bash
# sink_bench.sh - `tarn sink` end to end on one core (librdkafka's mock cluster → decoded,
# sorted, Parquet-encoded, committed in default.action_log) against DuckDB turning the same
# events, as NDJSON, into Parquet at one thread:
#   COPY (SELECT <the 16 columns> FROM read_json(...)) TO ... (FORMAT parquet, zstd)
# Reports events/s and MB/s of JSON (medians of RUNS), the ratio tarn/DuckDB, the sink's
# peak RSS and CPU seconds, in the same run on the same machine.
#   bash bench/sink_bench.sh [EVENTS [RUNS]]        (defaults: 400000 events, 3 runs)
# Build first: bash scripts/build.sh release (build/tarn, build/kafka_mock, build/kafka_produce).
# Environment: BENCH_TARN, BENCH_TOOLS (directory of kafka_mock and kafka_produce; default
# build), BENCH_DIR (default /tmp/tarn-sink-bench), BENCH_CPU (the core the sink is pinned
# to; default 0), BENCH_SINK_ARGS (more `tarn sink` arguments, e.g. --kafka K=V), BENCH_PERF (a file: the first run is recorded with `perf record -g`).
# What each side does: tarn consumes over TCP from the mock broker (in another process, on
# the other core), validates every event, sorts each batch by applied_at_ms, writes zstd
# Parquet per day partition with statistics and fsyncs, and commits to the catalog (a
# commit per 100,000 events). DuckDB reads the NDJSON from the page cache. The mock keeps
# about 5 MiB per partition: events are spread round-robin over 48 partitions.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-400000}
RUNS=${2:-3}
TARN=${BENCH_TARN:-build/tarn}
TOOLS=${BENCH_TOOLS:-build}
DIR=${BENCH_DIR:-/tmp/tarn-sink-bench}
CPU=${BENCH_CPU:-0}
PARTS=48
TOPIC=ontology.actions.applied.v1
export BENCH_NODE_MODULES=${BENCH_NODE_MODULES:-$PWD/tests/node_modules}
for f in "$TARN" "$TOOLS/kafka_mock" "$TOOLS/kafka_produce"; do
  [ -x "$f" ] || { echo "missing $f: run 'bash scripts/build.sh release' first" >&2; exit 2; }
done
rm -rf "$DIR" && mkdir -p "$DIR"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done' EXIT

"$TOOLS/kafka_mock" --topic "$TOPIC:$PARTS" >"$DIR/mock.out" 2>"$DIR/mock.err" &
PIDS+=($!)
for _ in $(seq 1 100); do grep -q '^bootstrap=' "$DIR/mock.out" && break; sleep 0.05; done
BOOT=$(sed -n 's/^bootstrap=//p' "$DIR/mock.out")
[ -n "$BOOT" ] || { echo "kafka_mock did not start" >&2; cat "$DIR/mock.err" >&2; exit 1; }
"$TOOLS/kafka_produce" --bootstrap "$BOOT" --count "$N" --partitions-by roundrobin \
  --ndjson-out "$DIR/events.ndjson" >"$DIR/produce.out" 2>"$DIR/produce.err"
BYTES=$(stat -c %s "$DIR/events.ndjson")
echo "$(cat "$DIR/produce.out"); NDJSON $BYTES bytes; $RUNS runs each, interleaved" >&2

# metric ADDR SERIES
metric() { curl -s "http://$1/metrics" | awk -v k="$2" '$1 == k { print $2 }'; }

# One sink run in its own consumer group (so it reads the topic from the start) into a
# fresh lake, pinned to one core; appends "seconds cpu_seconds peak_rss_kb" to $DIR/tarn.
run_tarn() {
  local i=$1 lake=$DIR/lake-$1 log=$DIR/sink-$1.log addr="" pid t0 t1 cpu
  rm -rf "$lake"
  local perf=()
  if [ -n "${BENCH_PERF:-}" ] && [ "$i" == 1 ]; then perf=(perf record -g -o "$BENCH_PERF" --); fi
  taskset -c "$CPU" "${perf[@]}" "$TARN" sink --lake "$lake" --brokers "$BOOT" --group "bench-$i" \
    --listen 127.0.0.1:0 --batch-max-records 100000 --batch-max-age 2s --log-level info \
    --kafka session.timeout.ms=6000 --kafka heartbeat.interval.ms=500 ${BENCH_SINK_ARGS:-} 2>"$log" &
  pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 200); do
    addr=$(sed -n 's/.*msg="http server listening" addr=\([^ ]*\).*/\1/p' "$log")
    [ -n "$addr" ] && break
    sleep 0.05
  done
  # time from the assignment (the group join is Kafka's, not the sink's work) to the
  # commit that makes the last event durable, both read off the sink's own log
  for _ in $(seq 1 1200); do
    [ "$(metric "$addr" 'action_log_sink_records_total{outcome="committed"}')" == "$N" ] && break
    sleep 0.05
  done
  cpu=$(awk '{print ($14 + $15) / 100}' "/proc/$pid/stat")
  rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill -TERM "$pid"
  wait "$pid" || true
  t0=$(grep -m1 'msg="sink partition assigned"' "$log" | sed 's/^ts=\([^ ]*\).*/\1/')
  t1=$(grep 'msg="sink commit" table=default.action_log ' "$log" | tail -1 | sed 's/^ts=\([^ ]*\).*/\1/')
  [ "$(grep -c 'msg="sink commit" table=default.action_log ' "$log")" -ge 1 ] || {
    echo "sink run $i committed nothing:" >&2; tail "$log" >&2; exit 1; }
  echo "$(node -e 'console.log(((Date.parse(process.argv[2]) - Date.parse(process.argv[1])) / 1000).toFixed(3))' "$t0" "$t1") $cpu $rss" >>"$DIR/tarn"
}

run_duckdb() {
  node bench/duckdb_json.mjs "$DIR/events.ndjson" "$DIR/duck.parquet" 1 >>"$DIR/duckdb"
}

for i in $(seq 1 "$RUNS"); do
  echo "run $i/$RUNS ..." >&2
  run_tarn "$i"
  run_duckdb
done

median() { awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
TS=$(median "$DIR/tarn" 1)
TCPU=$(median "$DIR/tarn" 2)
TRSS=$(median "$DIR/tarn" 3)
DS=$(median "$DIR/duckdb" 2)
awk -v n="$N" -v b="$BYTES" -v ts="$TS" -v ds="$DS" -v cpu="$TCPU" -v rss="$TRSS" 'BEGIN {
  printf "%-34s %12s %10s %12s %12s\n", "", "events/s", "MB/s", "seconds", "peak RSS MB"
  printf "%-34s %12.0f %10.1f %12.3f %12.1f\n", "tarn sink (1 core, end to end)", n / ts, b / ts / 1e6, ts, rss / 1024
  printf "%-34s %12.0f %10.1f %12.3f %12s\n", "DuckDB read_json -> parquet (1 thr)", n / ds, b / ds / 1e6, ds, "-"
  printf "ratio tarn/DuckDB (events/s): %.2f; tarn CPU seconds: %.2f (%.0f%% of its wall time)\n", ds / ts, cpu, 100 * cpu / ts
}'
echo "raw: $DIR/tarn (seconds cpu rss_kb), $DIR/duckdb (rows seconds)" >&2
