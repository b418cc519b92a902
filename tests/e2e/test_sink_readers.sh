#!/usr/bin/env bash
# test_sink_readers.sh - what `tarn sink` commits, as others read it, and sinks scaled out:
#  1. one sink, ~5,000 events with poison: icebird, avsc and DuckDB (over the data files the
#     manifests list) read default.action_log and see exactly the events produced, each once,
#     every column equal; files sorted and partitioned as the metadata says; the dead-letter
#     table holds each poison record once with its bytes as Kafka has them.
#  2. three sinks in one group on a PostgreSQL catalog, 6 partitions, ~20,000 events while
#     one sink is killed -9 and restarted: every event once, every poison record once, every
#     sink's commits landed, the tables' offsets end at the topic's end.
# Needs E2E_TARN_BIN, E2E_BUILD_DIR, E2E_NODE_MODULES (ctest sets them), kcat, PostgreSQL 15.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_kafka.sh"
. "$(dirname "$0")/lib_pg.sh"
. "$(dirname "$0")/lib_sink.sh"

: "${E2E_NODE_MODULES:?set E2E_NODE_MODULES to tests/node_modules}"
READERS="$(dirname "$0")/action_log_readers.mjs"
TOPIC2=scale.actions
T0=$(date +%s)

trap 'pg_stop; cleanup' EXIT

kafka_start 1 "$TOPIC:4" "$TOPIC2:6" || exit 1

# ids FILE: the event ids of an NDJSON file, sorted.
ids() {
  node -e 'require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean)
    .forEach(l => console.log(JSON.parse(l).event_id));' "$1" | LC_ALL=C sort
}

# dump_topic TOPIC FILE: every record as kcat reads it (partition, offset, key and value
# lengths, then the raw key and value bytes), for action_log_readers.mjs.
dump_topic() {
  kcat -b "$KAFKA_BOOTSTRAP" -C -t "$1" -e -q -f '%p %o %K %S\n%k%s\n' >"$2"
}

# readers LOG ARGS...: action_log_readers.mjs; its ok/FAIL lines are summarised here.
readers() {
  local log=$1 start=$SECONDS; shift
  if E2E_TARN_BIN="$BIN" E2E_NODE_MODULES="$E2E_NODE_MODULES" node "$READERS" "$@" >"$log" 2>&1; then
    ok "icebird, avsc and DuckDB read what the sink wrote ($(tail -1 "$log"), $((SECONDS - start)) s)"
  else
    fail "independent readers (log below)"
    grep -v '^ok' "$log" | sed 's/^/    /'
  fi
  grep '^#' "$log" | sed 's/^/    /'
}

# ---- 1. one sink; independent readers ----
LAKE=$WORK/lake
kafka_produce --count 5000 --poison-every 40 --days 4 --ndjson-out "$WORK/good1.ndjson" \
  >"$WORK/prod1.out" 2>"$WORK/prod1.err"
check "producer wrote 5000 records" grep -q 'produced=5000' "$WORK/prod1.out"
GOOD1=$(wc -l <"$WORK/good1.ndjson")
POISON1=$((5000 - GOOD1))
expect_eq "poison every 40th" 125 "$POISON1"

# Small batches: several commits, several files per day, manifests of several snapshots.
start_sink "$WORK/sink1.log" --lake "$LAKE" --batch-max-records 1200 --batch-max-age 1s || exit 1
check "the sink commits every good event" \
  wait_metric 'action_log_sink_records_total{outcome="committed"}' "$GOOD1" 60
check "the sink commits every poison record" \
  wait_metric 'action_log_sink_records_total{outcome="poison"}' "$POISON1" 30
kill -TERM "$SINK_PID"
wait_exit "$SINK_PID" 30
expect_eq "SIGTERM exits 0" 0 "$EXIT_CODE"
echo "    part 1: sink done after $(($(date +%s) - T0)) s, $(grep -c 'msg="sink commit"' "$WORK/sink1.log") table commits"

dump_topic "$TOPIC" "$WORK/topic1.dump"
readers "$WORK/readers1.log" --lake "$LAKE" --good "$WORK/good1.ndjson" \
  --topic-dump "$WORK/topic1.dump" --poison-counts "$WORK/prod1.err" --topic "$TOPIC"
echo "    part 1: $(($(date +%s) - T0)) s"

# ---- 2. three sinks in one group on a PostgreSQL catalog; one killed -9 and restarted ----
pg_start "$WORK" >/dev/null || exit 1
LAKE2=$WORK/lake2
SINK_ENV=(TARN_CATALOG_TYPE=postgres "TARN_CATALOG_POSTGRES=$PG_CONNINFO")
SARGS=(--lake "$LAKE2" --topic "$TOPIC2" --batch-max-age 300ms --batch-max-records 500)
# tarn table with the PostgreSQL catalog
ptable() { "$BIN" table "$1" "${@:2}" --lake "$LAKE2" --catalog "$PG_CONNINFO" --log-level warn; }
prows() { ptable scan "default.$1" --columns "$2" --format csv 2>/dev/null | tail -n +2 | tr -d '\r'; }
# psnap TABLE WHAT: "count" of snapshots, or the current snapshot's offsets of TOPIC2 as
# "PARTITION NEXT" lines
psnap() {
  ptable snapshots "default.$1" --json | node -e '
    let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
      const j = JSON.parse(s);
      if (process.argv[1] === "count") return console.log(j.length);
      const cur = j.find(x => x.current);
      const o = JSON.parse(cur.summary["tarn.sink.offsets.tarn-action-log-sink"] || "{}")[process.argv[2]] || {};
      for (const [p, n] of Object.entries(o)) console.log(`${p} ${n}`); });' "$2" "$TOPIC2"
}
assigned() { metric_at "$1" action_log_sink_assigned_partitions; }
# shared ADDR...: waits until each sink holds some of the 6 partitions and all are held.
shared() {
  local a n sum
  for _ in $(seq 1 300); do
    sum=0 n=0
    for a in "$@"; do
      a=$(assigned "$a")
      sum=$((sum + a))
      [ "$a" -ge 1 ] && n=$((n + 1))
    done
    [ "$n" -eq $# ] && [ "$sum" -eq 6 ] && return 0
    sleep 0.1
  done
  echo "partitions held: $sum, by $n of $# sinks" >&2
  return 1
}
# wait_rows TABLE COLUMN WANT: waits (up to 60 s) until the table holds WANT rows.
wait_rows() {
  local n
  for _ in $(seq 1 120); do
    n=$(prows "$1" "$2" | wc -l)
    [ "$n" -ge "$3" ] && return 0
    sleep 0.5
  done
  echo "$1 holds $n rows, wanted $3" >&2
  return 1
}

P2=$(date +%s)
start_sink "$WORK/sinkA.log" "${SARGS[@]}" || exit 1
PA=$SINK_PID; AA=$SINK_ADDR
start_sink "$WORK/sinkB.log" "${SARGS[@]}" || exit 1
PB=$SINK_PID; AB=$SINK_ADDR
start_sink "$WORK/sinkC.log" "${SARGS[@]}" || exit 1
PC=$SINK_PID; AC=$SINK_ADDR
check "the three sinks share the 6 partitions" shared "$AA" "$AB" "$AC"
echo "    part 2: sinks assigned after $(($(date +%s) - P2)) s"

kafka_produce --topic "$TOPIC2" --count 20000 --id-prefix s --poison-every 97 --rate 2500 \
  --ndjson-out "$WORK/good2.ndjson" >"$WORK/prod2.out" 2>"$WORK/prod2.err" &
PROD=$!
sleep 3
kill -9 "$PB"
wait "$PB" 2>/dev/null
sleep 1
start_sink "$WORK/sinkB2.log" "${SARGS[@]}" || exit 1
PB2=$SINK_PID; AB2=$SINK_ADDR
wait "$PROD"
expect_eq "producer delivered 20000 records" 0 "$?"
GOOD2=$(wc -l <"$WORK/good2.ndjson")
POISON2=$((20000 - GOOD2))
check "every good event reaches the table" wait_rows action_log event_id "$GOOD2"
check "every poison record reaches the dead-letter table" wait_rows action_log_dlq offset "$POISON2"
for s in A:$AA B2:$AB2 C:$AC; do
  a=${s#*:}
  echo "    sink ${s%%:*}: $(assigned "$a") partitions; main commits ok=$(metric_at "$a" 'action_log_sink_commits_total{table="main",outcome="ok"}')" \
    "fenced=$(metric_at "$a" 'action_log_sink_commits_total{table="main",outcome="fenced"}')" \
    "already=$(metric_at "$a" 'action_log_sink_commits_total{table="main",outcome="already"}')" \
    "dlq fenced=$(metric_at "$a" 'action_log_sink_commits_total{table="dlq",outcome="fenced"}')" \
    "records dropped=$(metric_at "$a" 'action_log_sink_records_total{outcome="dropped"}')"
done
kill -TERM "$PA" "$PB2" "$PC"
for s in A:$PA B2:$PB2 C:$PC; do
  wait_exit "${s#*:}" 30
  expect_eq "sink ${s%%:*}: SIGTERM exits 0" 0 "$EXIT_CODE"
done
echo "    part 2: sinks stopped after $(($(date +%s) - P2)) s"

prows action_log event_id | LC_ALL=C sort >"$WORK/ids2"
ids "$WORK/good2.ndjson" >"$WORK/want2"
check "scale-out: the table holds exactly the good events ($GOOD2)" cmp -s "$WORK/ids2" "$WORK/want2"
expect_eq "scale-out: no event twice" 0 "$(uniq -d "$WORK/ids2" | wc -l)"
expect_eq "scale-out: each poison record once in the dead-letter table" "$POISON2" \
  "$(prows action_log_dlq partition,offset | sort -u | wc -l)"
expect_eq "scale-out: no dead-letter row twice" "$POISON2" "$(prows action_log_dlq offset | wc -l)"
for kind in not_json not_object missing_field wrong_type bad_value null_value; do
  want=$(sed -n "s/.*poison kind=$kind count=\([0-9]*\).*/\1/p" "$WORK/prod2.err")
  expect_eq "scale-out: dead-letter rows of reason $kind" "${want:-0}" "$(prows action_log_dlq reason | grep -cx "$kind")"
done

# Every sink's commits landed: each logged some, and the table has one snapshot per
# commit logged (the sink killed -9 may have committed one it did not live to log).
for s in A B B2 C; do
  n=$(grep 'msg="sink commit" table=default.action_log ' "$WORK/sink$s.log" | grep -c 'committed=1')
  echo "    sink $s: $n action-log commits"
  [ "$s" = B2 ] || check "sink $s committed to the action log" test "$n" -ge 1
done
for t in action_log action_log_dlq; do
  logged=$(cat "$WORK"/sink{A,B,B2,C}.log | grep "msg=\"sink commit\" table=default.$t " | grep -c 'committed=1')
  snaps=$(psnap "$t" count)
  check "$t: $snaps snapshots for $logged commits logged" test "$snaps" -ge "$logged" -a "$snaps" -le $((logged + 1))
done
# The offsets the tables hold end where the topic does: each partition's next offset is
# the topic's end in the action log, or in the dead-letter table when poison came last.
kcat -b "$KAFKA_BOOTSTRAP" -C -t "$TOPIC2" -e -q -f '%p %o\n' |
  awk '{ if ($2 + 1 > e[$1]) e[$1] = $2 + 1 } END { for (p in e) print p, e[p] }' | sort -n >"$WORK/end2"
join -a1 <(psnap action_log offsets | sort) <(psnap action_log_dlq offsets | sort) |
  awk '{ print $1, ($2 > $3 ? $2 : $3) }' | sort -n >"$WORK/held2"
check "the tables' offsets end at the topic's end on all 6 partitions" cmp -s "$WORK/end2" "$WORK/held2"
[ "$(wc -l <"$WORK/end2")" -eq 6 ] || fail "the topic has records in all 6 partitions"

dump_topic "$TOPIC2" "$WORK/topic2.dump"
readers "$WORK/readers2.log" --lake "$LAKE2" --catalog "$PG_CONNINFO" --good "$WORK/good2.ndjson" \
  --topic-dump "$WORK/topic2.dump" --poison-counts "$WORK/prod2.err" --topic "$TOPIC2"
echo "    total: $(($(date +%s) - T0)) s"

finish
