#!/usr/bin/env bash
# pg_ingest_bench.sh - `tarn ingest --pg` against what bounds it and what it replaces, in the
# same run, on one generated 11-column PostgreSQL table (bigint id NOT NULL primary key, int,
# two doubles, numeric(12,2), text of 15-25 characters, a 6-value status text, bool, date,
# timestamptz, uuid; a few nulls) in a throw-away PostgreSQL 15 on 127.0.0.1
# (tests/e2e/lib_pg.sh), all clients over TCP as tarn connects:
#   drain   psql -c "COPY t TO STDOUT (FORMAT binary)" >/dev/null: the server's own rate,
#           the ceiling of any client of the binary COPY stream
#   duckdb  psql -c "COPY t TO STDOUT (FORMAT csv, HEADER)" | DuckDB read_csv('/dev/stdin')
#           → Parquet (snappy), DuckDB's default threads (bench/duckdb_pg_pipe.mjs)
#   tarn1/2 tarn ingest --pg DSN --table public.T --name bench --readers 1|2 --json, a fresh
#           lake each run
# Wall time (end to end, process start to exit), rows/s, MB/s, CPU seconds of the client
# side, peak RSS; medians of RUNS runs each, interleaved; then tarn's peak RSS on a 1M-row
# table of the same shape against ROWS (flat if tarn streams).
#   bash bench/pg_ingest_bench.sh [ROWS [RUNS]]       (defaults: 10000000 rows, 3 runs)
# Build first: bash scripts/build.sh release (build/tarn). Needs PostgreSQL 15, psql, jq,
# node and tests/node_modules (scripts/test.sh installs them), /usr/bin/time.
# Environment: BENCH_TARN (tarn binary, default build/tarn), BENCH_DIR (work directory, default
# /tmp/tarn-pg-bench), BENCH_REUSE=1 (restart the cluster kept in BENCH_DIR and keep its
# tables instead of initdb and generating them again; a table is rebuilt only when missing).
# MB = 10^6 bytes of the table's binary COPY stream (measured once, untimed), the same
# yardstick for every line. "CPU s" is user+sys of the client processes (psql, node, tarn);
# "PG CPU s" the server's during the run (its backends; both share the machine's cores).
# tarn's time includes what the others do not do: fsync of the data file and its folders,
# SHA-256 of the Parquet file, the Iceberg commit and the journal event. DuckDB's sniffer types
# the CSV columns itself (its choice is printed): qty BIGINT, amount DOUBLE (not an exact
# decimal), ref VARCHAR (not a uuid), where tarn keeps the PostgreSQL types exactly.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-10000000}
RUNS=${2:-3}
TARN=${BENCH_TARN:-build/tarn}
DIR=${BENCH_DIR:-/tmp/tarn-pg-bench}
SMALL=1000000 # the RSS comparison's small table
export BENCH_NODE_MODULES=${BENCH_NODE_MODULES:-$PWD/tests/node_modules}
case $ROWS in '' | *[!0-9]*) echo "ROWS must be a number" >&2; exit 2 ;; esac
case $RUNS in '' | *[!0-9]* | 0) echo "RUNS must be a number > 0" >&2; exit 2 ;; esac
NO_TARN=${BENCH_NO_TARN:-0}
if [ "$NO_TARN" = 0 ]; then
  [ -x "$TARN" ] || { echo "missing $TARN: run 'bash scripts/build.sh release' first" >&2; exit 2; }
  "$TARN" ingest --help 2>&1 | grep -q -- '--pg' ||
    { echo "$TARN ingest has no --pg (a tarn with the Postgres ingest; BENCH_NO_TARN=1 runs the others only)" >&2; exit 2; }
fi
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
for c in psql jq node; do
  command -v "$c" >/dev/null || { echo "needs $c (bash scripts/setup.sh)" >&2; exit 2; }
done
[ -d "$BENCH_NODE_MODULES/@duckdb/node-api" ] ||
  { echo "needs DuckDB in $BENCH_NODE_MODULES (npm ci --prefix tests)" >&2; exit 2; }

# shellcheck source=tests/e2e/lib_pg.sh
. tests/e2e/lib_pg.sh
mkdir -p "$DIR"

# A clean stop (not lib_pg's immediate one), so that BENCH_REUSE starts without recovery.
pg_stop_clean() {
  if [ "$PG_STARTED" -eq 1 ]; then
    pg_as "$PGBIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop >/dev/null 2>&1 || pg_stop
    PG_STARTED=0
  fi
}
trap pg_stop_clean EXIT
trap 'exit 130' INT TERM

# pg_restart DIR: start the cluster a previous run left in DIR/pg (BENCH_REUSE) as pg_start
# would have, with a new password (set through the trusted unix socket).
pg_restart() {
  PG_DIR=$1/pg
  PG_PASSWORD=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
  pg_listen 300 || return 1
  pg_psql "ALTER ROLE tarn PASSWORD '$PG_PASSWORD'" >/dev/null
  echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT (reused)"
}

if [ "${BENCH_REUSE:-0}" = 1 ] && [ -f "$DIR/pg/data/PG_VERSION" ]; then
  pg_restart "$DIR" >&2
else
  if [ -d "$DIR/pg" ]; then
    pg_as "$PGBIN/pg_ctl" -D "$DIR/pg/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$DIR/pg"
  fi
  pg_start "$DIR" >&2
fi

GEN_VERSION=1 # bump when the generating SQL below changes: reused tables are rebuilt
# make_table N: the table t_N of N rows (skipped when a complete one of this version is there).
make_table() {
  local n=$1 t=t_$1 t0
  if [ "$(pg_psql "SELECT obj_description('public.$t'::regclass, 'pg_class')" 2>/dev/null)" \
    = "pg_ingest_bench v$GEN_VERSION rows=$n" ]; then
    return 0
  fi
  echo "creating table $t ($n rows) ..." >&2
  t0=$(date +%s)
  pg_psql "
SET synchronous_commit = off;
SET client_min_messages = warning;
DROP TABLE IF EXISTS public.$t;
CREATE TABLE public.$t (
  id bigint NOT NULL,
  qty integer,
  price double precision,
  score double precision,
  amount numeric(12,2),
  customer text,
  status text,
  active boolean,
  day date,
  created_at timestamptz,
  ref uuid
);
INSERT INTO public.$t
SELECT i,
  ((i * 7919) % 100000)::int,
  (((i * 2654435761) % 1000003) / 100.0)::float8,
  CASE WHEN i % 50 = 0 THEN NULL ELSE (((i * 48271) % 2147483647) / 2147483.647)::float8 END,
  (((i * 69069) % 10000000000) / 100.0)::numeric(12,2),
  'cust_' || substr(md5(i::text), 1, 10 + (i % 11)::int),
  CASE WHEN i % 97 = 0 THEN NULL
       ELSE (ARRAY['new','paid','shipped','delivered','returned','cancelled'])[1 + ((i * 31) % 6)::int] END,
  i % 3 <> 0,
  date '2020-01-01' + (i % 2192)::int,
  timestamptz '2020-01-01 00:00:00+00' + i * interval '3 seconds' + (i % 1000) * interval '1 millisecond',
  md5('ref' || i)::uuid
FROM generate_series(1::bigint, $n::bigint) AS i;
ALTER TABLE public.$t ADD PRIMARY KEY (id);
" >/dev/null
  pg_psql "VACUUM ANALYZE public.$t" >/dev/null
  pg_psql "CHECKPOINT" >/dev/null
  pg_psql "COMMENT ON TABLE public.$t IS 'pg_ingest_bench v$GEN_VERSION rows=$n'" >/dev/null
  echo "  created in $(($(date +%s) - t0)) s (not measured)" >&2
}
make_table "$ROWS"
[ "$ROWS" -ne "$SMALL" ] && make_table "$SMALL"
TABLE=t_$ROWS
# Every client gets the password from PGPASSWORD (not on its command line, seen by ps).
export PGCONNECT_TIMEOUT=10 PGPASSWORD=$PG_PASSWORD
PG_DSN="host=127.0.0.1 port=$PG_PORT dbname=tarn_test user=tarn"
PSQL=(psql "$PG_DSN" -X -q -v ON_ERROR_STOP=1)

# Sizes of what crosses the socket (untimed; also warms the page cache and the buffers).
BIN_BYTES=$("${PSQL[@]}" -c "COPY public.$TABLE TO STDOUT (FORMAT binary)" | wc -c)
CSV_BYTES=$("${PSQL[@]}" -c "COPY public.$TABLE TO STDOUT (FORMAT csv, HEADER)" | wc -c)
REL_BYTES=$(pg_psql "SELECT pg_table_size('public.$TABLE')")

# pg_cpu: CPU seconds PostgreSQL has used so far: the postmaster's own and its reaped
# children's (every backend that has exited, so the runs' sessions once they are over).
TICKS=$(getconf CLK_TCK)
pg_cpu() {
  local pid
  pid=$(head -1 "$PG_DIR/data/postmaster.pid")
  awk -v t="$TICKS" '{sub(/^.*\) /, ""); print ($12 + $13 + $14 + $15) / t}' "/proc/$pid/stat"
}

# run NAME CMD...: one timed run; appends "wall user sys maxrss_kb rows out_bytes pg_cpu" to
# $DIR/NAME. Each command prints its row count on stdout (tarn: --json's row_count).
run() {
  local name=$1 out=$DIR/out-$1 rows size cpu0 cpu1
  shift
  rm -rf "$out" && mkdir -p "$out"
  cpu0=$(pg_cpu)
  /usr/bin/time -f '%e %U %S %M' -o "$DIR/time" "$@" >"$DIR/stdout" 2>"$DIR/stderr" || {
    echo "$name failed:" >&2
    cat "$DIR/stderr" "$DIR/stdout" >&2
    exit 1
  }
  if [ "$(head -c 1 "$DIR/stdout")" = "{" ]; then
    rows=$(jq -r '.row_count' "$DIR/stdout")
    cp "$DIR/stdout" "$DIR/last-$name.json"
  else
    rows=$(awk 'NR == 1 {print $1}' "$DIR/stdout")
  fi
  [ "$name" = duckdb ] && DUCK_THREADS=$(awk 'NR == 1 {print $3}' "$DIR/stdout") &&
    DUCK_TYPES=$(grep 'duckdb parquet columns' "$DIR/stderr" || true)
  size=$(find "$out" -name '*.parquet' -printf '%s\n' | awk '{s += $1} END {print s + 0}')
  sleep 0.5 # the postmaster reaps the run's backends
  cpu1=$(pg_cpu)
  echo "$(cat "$DIR/time") $rows $size $(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN {print b - a}')" >>"$DIR/$name"
  if [ "$rows" != "$EXPECT" ]; then
    echo "$name: $rows rows, expected $EXPECT" >&2
    exit 1
  fi
}
# The clients, as functions so that /usr/bin/time measures the whole pipeline (bash -c).
drain() { psql "$PG_DSN" -X -q -v ON_ERROR_STOP=1 -c "COPY public.$1 TO STDOUT (FORMAT binary)" >/dev/null && echo "$2"; }
duck() {
  set -o pipefail
  psql "$PG_DSN" -X -q -v ON_ERROR_STOP=1 -c "COPY public.$1 TO STDOUT (FORMAT csv, HEADER)" |
    node bench/duckdb_pg_pipe.mjs /dev/stdin "$2"
}
export -f drain duck
export PG_DSN
tarn_pg() { # NAME TABLE READERS: tarn ingest into a fresh lake $DIR/out-NAME
  run "$1" "$TARN" ingest --pg "$PG_DSN" --table "public.$2" --name bench --readers "$3" --json \
    --lake "$DIR/out-$1" --log-level warn
}

rm -f "$DIR"/drain "$DIR"/duckdb "$DIR"/tarn1 "$DIR"/tarn2 "$DIR"/small1 "$DIR"/small2
echo "load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "table public.$TABLE: $ROWS rows, $REL_BYTES bytes on disk; binary COPY $BIN_BYTES bytes," \
  "CSV COPY $CSV_BYTES bytes; $RUNS runs each, interleaved" >&2
EXPECT=$ROWS
for i in $(seq 1 "$RUNS"); do
  echo "run $i/$RUNS ..." >&2
  run drain bash -c 'drain "$@"' _ "$TABLE" "$ROWS"
  run duckdb bash -c 'duck "$@"' _ "$TABLE" "$DIR/out-duckdb/bench.parquet"
  if [ "$NO_TARN" = 0 ]; then
    tarn_pg tarn1 "$TABLE" 1
    tarn_pg tarn2 "$TABLE" 2
  fi
done
# Peak RSS against table size: the same ingest of SMALL rows, then ROWS (the tarn1/tarn2 runs).
if [ "$NO_TARN" = 0 ] && [ "$ROWS" -ne "$SMALL" ]; then
  EXPECT=$SMALL
  for i in $(seq 1 "$RUNS"); do
    tarn_pg small1 "t_$SMALL" 1
    tarn_pg small2 "t_$SMALL" 2
  done
fi
NODE_RSS=$(/usr/bin/time -f '%M' node -e 'null' 2>&1 | tail -1)

# median of column $2 of file $1
median() { awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
printf '\n%-22s %8s %11s %8s %8s %8s %12s %10s\n' pipeline "wall s" "rows/s" "MB/s" "CPU s" "PG CPU s" "peak RSS MiB" "Parquet MB"
declare -A WALL RATE RSS
ENGINES="drain duckdb"
[ "$NO_TARN" = 0 ] && ENGINES="$ENGINES tarn1 tarn2"
for e in $ENGINES; do
  WALL[$e]=$(median "$DIR/$e" 1)
  cpu=$(awk '{print $2 + $3}' "$DIR/$e" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
  RSS[$e]=$(median "$DIR/$e" 4)
  out=$(median "$DIR/$e" 6)
  RATE[$e]=$(awk -v r="$ROWS" -v w="${WALL[$e]}" 'BEGIN {printf "%.0f", r / w}')
  case $e in
    drain) label="PG COPY binary >null" ;;
    duckdb) label="PG CSV | DuckDB (${DUCK_THREADS}t)" ;;
    tarn1) label="tarn --readers 1" ;;
    tarn2) label="tarn --readers 2" ;;
  esac
  printf '%-22s %8s %11s %8s %8s %8s %12s %10s\n' "$label" "${WALL[$e]}" "${RATE[$e]}" \
    "$(awk -v b="$BIN_BYTES" -v w="${WALL[$e]}" 'BEGIN {printf "%.1f", b / 1e6 / w}')" "$cpu" "$(median "$DIR/$e" 7)" \
    "$(awk -v k="${RSS[$e]}" 'BEGIN {printf "%.1f", k / 1024}')" \
    "$(if [ "$e" = drain ]; then echo -; else awk -v o="$out" 'BEGIN {printf "%.1f", o / 1e6}'; fi)"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k / 1024}'; }
if [ "$NO_TARN" = 0 ]; then
  printf '\ntarn/drain (rows/s):  %s at 1 reader (target >= 0.5), %s at 2 readers\n' \
    "$(ratio "${RATE[tarn1]}" "${RATE[drain]}")" "$(ratio "${RATE[tarn2]}" "${RATE[drain]}")"
  printf 'tarn/DuckDB pipeline: %s at 1 reader (target > 1), %s at 2 readers\n' \
    "$(ratio "${RATE[tarn1]}" "${RATE[duckdb]}")" "$(ratio "${RATE[tarn2]}" "${RATE[duckdb]}")"
  if [ "$ROWS" -ne "$SMALL" ]; then
    printf 'tarn peak RSS, %s rows -> %s rows: %s -> %s at 1 reader (x%s), %s -> %s at 2 readers (x%s)\n' \
      "$SMALL" "$ROWS" "$(mib "$(median "$DIR/small1" 4)")" "$(mib "${RSS[tarn1]}")" \
      "$(ratio "${RSS[tarn1]}" "$(median "$DIR/small1" 4)")" \
      "$(mib "$(median "$DIR/small2" 4)")" "$(mib "${RSS[tarn2]}")" \
      "$(ratio "${RSS[tarn2]}" "$(median "$DIR/small2" 4)")"
  fi
  printf 'tarn readers used (its answer): %s / %s\n' \
    "$(jq -r '.readers // "?"' "$DIR/last-tarn1.json")" "$(jq -r '.readers // "?"' "$DIR/last-tarn2.json")"
fi
printf '\nDuckDB threads: %s (its default, one per core); node alone: %s RSS (part of the DuckDB figure)\n' \
  "$DUCK_THREADS" "$(mib "$NODE_RSS")"
echo "$DUCK_TYPES"
printf 'bytes: table %s on disk, binary COPY %s, CSV COPY %s; load average now: %s\n' \
  "$REL_BYTES" "$BIN_BYTES" "$CSV_BYTES" "$(cut -d' ' -f1-3 /proc/loadavg)"
