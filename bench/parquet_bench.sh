#!/usr/bin/env bash
# parquet_bench.sh - tarn's Parquet writer and reader against DuckDB at one thread, on the
# same rows, in the same run: rows/s, MB/s of Parquet file and of raw data, peak RSS,
# medians of RUNS runs each (interleaved), and the ratio tarn/DuckDB.
#   bash bench/parquet_bench.sh [ROWS [RUNS]]        (defaults: 10000000 rows, 3 runs)
# Build first: bash scripts/build.sh release (build/parquet_bench), or set BENCH_BUILD to
# another build directory without sanitizers. BENCH_DIR: work directory (default
# /tmp/tarn-pq-bench; about 2 GB for 10 million rows).
#
# Write: tarn generates the table (bench/parquet_bench.c: 13 columns - ids, timestamps,
# floats, decimals, low- and high-cardinality strings, booleans, nullable columns) and times
# its writer calls only; DuckDB loads tarn's file of the same codec into an in-memory table
# first and times only COPY ... TO (FORMAT parquet, COMPRESSION codec). Read: each engine
# reads each engine's file fully (tarn: tarn_pq_scan over every column into Arrow batches;
# DuckDB: one aggregate per column that needs every value, see bench/parquet_bench.mjs).
# Raw MB are the values' bytes in memory (fixed-width values, bit-packed booleans, string
# bytes). MB = 10^6 bytes. Peak RSS is getrusage's ru_maxrss of the process doing just that
# operation; DuckDB runs inside node, whose RSS before the timed statement is shown apart.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-10000000}
RUNS=${2:-3}
BUILD=${BENCH_BUILD:-build}
BIN=$BUILD/parquet_bench
DIR=${BENCH_DIR:-/tmp/tarn-pq-bench}
export BENCH_NODE_MODULES=${BENCH_NODE_MODULES:-$PWD/tests/node_modules}
[ -x "$BIN" ] || { echo "missing $BIN: run 'bash scripts/build.sh release' first" >&2; exit 2; }
mkdir -p "$DIR"
RES=$DIR/results
: >"$RES"

# run LABEL CMD...: appends "LABEL op=... secs=..." to $RES.
run() {
  local label=$1 line; shift
  line=$("$@") || { echo "$label failed" >&2; exit 1; }
  echo "$label $line" >>"$RES"
}

echo "parquet_bench: $ROWS rows, $RUNS runs each, interleaved; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for codec in snappy zstd; do
  for i in $(seq 1 "$RUNS"); do
    echo "$codec write run $i/$RUNS ..." >&2
    run "write.$codec.tarn" "$BIN" write "$DIR/tarn_$codec.parquet" "$ROWS" "$codec"
    run "write.$codec.duckdb" node bench/parquet_bench.mjs write "$DIR/tarn_$codec.parquet" "$DIR/duck_$codec.parquet" "$codec"
  done
  for i in $(seq 1 "$RUNS"); do
    echo "$codec read run $i/$RUNS ..." >&2
    for f in tarn duck; do
      run "read.$codec.$f-file.tarn" "$BIN" read "$DIR/${f}_$codec.parquet"
      run "read.$codec.$f-file.duckdb" node bench/parquet_bench.mjs read "$DIR/${f}_$codec.parquet"
    done
  done
done

# Medians per label, one line per (operation, engine); for DuckDB's lines the ratio
# tarn/DuckDB of rates (> 1: tarn is faster), by wall time and by CPU time.
RAW=$(awk '$1 == "write.snappy.tarn" { for (i = 2; i <= NF; i++) if ($i ~ /^raw_bytes=/) { sub(/raw_bytes=/, "", $i); print $i; exit } }' "$RES")
awk -v raw="$RAW" -v rows="$ROWS" '
  function field(name,   i, kv) { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == name) return kv[2] } return "" }
  function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  {
    l = $1
    if (!(l in secs)) order[++nl] = l
    secs[l] = secs[l] " " field("secs")
    cpu[l] = cpu[l] " " field("cpu")
    rss[l] = rss[l] " " field("maxrss_kb")
    base[l] = base[l] " " field("base_rss_kb")
    bytes[l] = field("file_bytes")
  }
  END {
    printf "%-28s %8s %8s %10s %9s %9s %8s %16s  %s\n", "operation (medians)", "wall s", "CPU s",
      "rows/s", "file MB/s", "raw MB/s", "file MB", "peak RSS MB", "tarn vs DuckDB (wall, CPU)"
    for (k = 1; k <= nl; k++) {
      l = order[k]
      w[l] = median(secs[l])
      c[l] = median(cpu[l])
      b = base[l] ~ /[0-9]/ ? sprintf(" (%.0f before)", median(base[l]) / 1024) : ""
      printf "%-28s %8.3f %8.3f %10.0f %9.1f %9.1f %8.1f %16s", l, w[l], c[l], rows / w[l],
        bytes[l] / w[l] / 1e6, raw / w[l] / 1e6, bytes[l] / 1e6, sprintf("%.0f%s", median(rss[l]) / 1024, b)
      t = l
      if (sub(/\.duckdb$/, ".tarn", t) && (t in w))
        printf "  %.2fx, %.2fx", w[l] / w[t], c[l] / c[t]
      printf "\n"
    }
  }' "$RES"
echo "raw data: $RAW bytes ($(awk -v r="$RAW" -v n="$ROWS" 'BEGIN { printf "%.1f", r / n }') per row); every run in $RES"
