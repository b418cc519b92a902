#!/usr/bin/env bash
# ingest_bench.sh - `tarn ingest` against DuckDB's CSV → Parquet (snappy) on the same
# generated file, in the same run, each at 1 and 2 threads (tarn: --threads 1|2): MB/s,
# rows/s, CPU seconds, peak RSS and output size, medians of RUNS runs each, and the ratio
# tarn/DuckDB at the same thread count.
#   bash bench/ingest_bench.sh [MEGABYTES [RUNS]]     (defaults: 64 MB, 3 runs; 1000 = 1 GB)
# Build first: bash scripts/build.sh release (build/tarn and build/ingest_gen).
# Environment: BENCH_TARN (tarn binary), BENCH_GEN (ingest_gen), BENCH_DIR (work directory,
# default /tmp/tarn-bench; the CSV is kept there between runs of the same size).
# Rates count CSV bytes (MB = 10^6 bytes) over wall time. tarn's time includes what a
# DuckDB COPY does not do: fsync of the data file and its folders, SHA-256 of the CSV and
# of the Parquet file, the copy of the Parquet file from the spool into the store, and the
# Iceberg commit. DuckDB runs inside node; its RSS includes node's own (printed apart).
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-64}
RUNS=${2:-3}
TARN=${BENCH_TARN:-build/tarn}
GEN=${BENCH_GEN:-build/ingest_gen}
DIR=${BENCH_DIR:-/tmp/tarn-bench}
export BENCH_NODE_MODULES=${BENCH_NODE_MODULES:-$PWD/tests/node_modules}
for f in "$TARN" "$GEN"; do
  [ -x "$f" ] || { echo "missing $f: run 'bash scripts/build.sh release' first" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
mkdir -p "$DIR"
CSV=$DIR/bench-${MB}MB.csv
if [ ! -s "$CSV" ]; then
  echo "generating $CSV ..." >&2
  "$GEN" "$MB" "$CSV.tmp" && mv "$CSV.tmp" "$CSV"
fi
BYTES=$(stat -c %s "$CSV")
cat "$CSV" >/dev/null # warm the page cache: every engine reads the file from memory

# run NAME CMD...: one timed run; appends "wall user sys maxrss_kb out_bytes rows" to $DIR/NAME.
run() {
  local name=$1 out=$DIR/out-$1; shift
  rm -rf "$out" && mkdir -p "$out"
  /usr/bin/time -f '%e %U %S %M' -o "$DIR/time" "$@" >"$DIR/stdout" 2>"$DIR/stderr" || {
    echo "$name failed:" >&2; cat "$DIR/stderr" >&2; exit 1; }
  local size rows
  size=$(find "$out" -name '*.parquet' -printf '%s\n' | awk '{s += $1} END {print s + 0}')
  rows=$(sed -n 's/.*; \([0-9]*\) rows,.*/\1/p' "$DIR/stdout" | head -1)
  [ -n "$rows" ] || rows=$(awk '{print $1}' "$DIR/stdout")
  echo "$(cat "$DIR/time") $size $rows" >>"$DIR/$name"
}

rm -f "$DIR"/tarn1 "$DIR"/tarn2 "$DIR"/duckdb1 "$DIR"/duckdb2
echo "file: $CSV ($BYTES bytes, $(($(wc -l <"$CSV") - 1)) rows), $RUNS runs each, interleaved" >&2
for i in $(seq 1 "$RUNS"); do
  echo "run $i/$RUNS ..." >&2
  run tarn1 "$TARN" ingest "$CSV" --name bench --lake "$DIR/out-tarn1" --log-level warn --threads 1
  run tarn2 "$TARN" ingest "$CSV" --name bench --lake "$DIR/out-tarn2" --log-level warn --threads 2
  run duckdb1 node bench/duckdb_copy.mjs "$CSV" "$DIR/out-duckdb1/bench.parquet" 1
  run duckdb2 node bench/duckdb_copy.mjs "$CSV" "$DIR/out-duckdb2/bench.parquet" 2
done
NODE_RSS=$(/usr/bin/time -f '%M' node -e 'null' 2>&1 | tail -1)

# median of column $2 of file $1
median() { awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
printf '\n%-10s %7s %9s %11s %8s %12s %11s %9s\n' engine threads "MB/s" "rows/s" "CPU s" "peak RSS MiB" "output MB" "wall s"
declare -A RATE
for e in tarn1 duckdb1 tarn2 duckdb2; do
  wall=$(median "$DIR/$e" 1)
  cpu=$(awk '{print $2 + $3}' "$DIR/$e" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
  rss=$(median "$DIR/$e" 4)
  out=$(median "$DIR/$e" 5)
  rows=$(median "$DIR/$e" 6)
  threads=${e: -1}
  RATE[$e]=$(awk -v b="$BYTES" -v w="$wall" 'BEGIN {printf "%.1f", b / 1e6 / w}')
  printf '%-10s %7s %9s %11s %8s %12s %11s %9s\n' "${e%[12]}" "$threads" "${RATE[$e]}" \
    "$(awk -v r="$rows" -v w="$wall" 'BEGIN {printf "%.0f", r / w}')" "$cpu" \
    "$(awk -v k="$rss" 'BEGIN {printf "%.1f", k / 1024}')" \
    "$(awk -v o="$out" 'BEGIN {printf "%.1f", o / 1e6}')" "$wall"
done
printf '\ntarn/DuckDB throughput: %s at 1 thread, %s at 2 threads (tarn at 1 thread vs DuckDB at 2: %s)\n' \
  "$(awk -v a="${RATE[tarn1]}" -v b="${RATE[duckdb1]}" 'BEGIN {printf "%.2f", a / b}')" \
  "$(awk -v a="${RATE[tarn2]}" -v b="${RATE[duckdb2]}" 'BEGIN {printf "%.2f", a / b}')" \
  "$(awk -v a="${RATE[tarn1]}" -v b="${RATE[duckdb2]}" 'BEGIN {printf "%.2f", a / b}')"
printf 'node alone: %.1f MiB RSS (part of the DuckDB figures); load average now: %s\n' \
  "$(awk -v k="$NODE_RSS" 'BEGIN {print k / 1024}')" "$(cut -d' ' -f1-3 /proc/loadavg)"
