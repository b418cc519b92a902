#!/usr/bin/env bash
# test_parquet_interop.sh - tarn's Parquet files read by DuckDB and hyparquet (values, types,
# field ids, statistics, page indexes, key-value metadata equal what tarn wrote); DuckDB's
# files (default and V2 writer, every codec) read by `tarn parquet` with equal values.
# Needs E2E_BUILD_DIR (holding test_parquet_write) and E2E_NODE_MODULES (@duckdb/node-api,
# hyparquet, hyparquet-compressors); ctest sets both.
source "$(dirname "$0")/lib.sh"

: "${E2E_BUILD_DIR:?set E2E_BUILD_DIR to the build directory}"
: "${E2E_NODE_MODULES:?set E2E_NODE_MODULES to tests/node_modules}"
export E2E_NODE_MODULES
SCRIPT="$(dirname "$0")/parquet_interop.mjs"
TARN_DIR="$WORK/tarn"
DUCK_DIR="$WORK/duck"
mkdir -p "$TARN_DIR" "$DUCK_DIR"

# The tarn binary rejects unknown TARN_* variables: keep the generator's out of its way.
tarn() { env -u TARN_PQW_DUMP "$BIN" "$@"; }

# 1. DuckDB writes its files (in the background while tarn writes its own).
node "$SCRIPT" duckdb-write "$DUCK_DIR" >"$WORK/duckdb-write.log" 2>&1 &
duck_write=$!
PIDS+=("$duck_write")

# 2. tarn's writer writes every type x REQUIRED/OPTIONAL x dictionary on/off x page v1/v2 x
#    codec, and edge cases, each with the values it wrote (test_parquet_write's generator).
if TARN_PQW_DUMP="$TARN_DIR" "$E2E_BUILD_DIR/test_parquet_write" >"$WORK/gen.log" 2>&1; then
  ok "tarn writes $(ls "$TARN_DIR"/*.parquet | wc -l) files with their expected values"
else
  fail "test_parquet_write with TARN_PQW_DUMP (log below)"
  cat "$WORK/gen.log"
fi

# 3. DuckDB and hyparquet read them (in parallel).
node "$SCRIPT" duckdb-read "$TARN_DIR" >"$WORK/duckdb-read.log" 2>&1 &
duck_read=$!
PIDS+=("$duck_read")
node "$SCRIPT" hyparquet-read "$TARN_DIR" >"$WORK/hyparquet-read.log" 2>&1 &
hyp_read=$!
PIDS+=("$hyp_read")

# 4. tarn reads DuckDB's files; the checker compares with DuckDB's own reading.
if wait "$duck_write"; then
  ok "DuckDB writes $(ls "$DUCK_DIR"/*.parquet | wc -l) files (default and V2 writer, every codec)"
else
  fail "DuckDB writes its files (log below)"
  cat "$WORK/duckdb-write.log"
fi
cat_ok=1
for f in "$DUCK_DIR"/*.parquet; do
  base=${f%.parquet}
  if ! tarn parquet cat --format jsonl "$f" >"$base.tarn.jsonl" 2>"$base.err" ||
     ! tarn parquet schema --json "$f" >"$base.schema.json" 2>>"$base.err"; then
    cat_ok=0
    fail "tarn parquet cat/schema $(basename "$f"): $(cat "$base.err")"
  fi
done
[ "$cat_ok" -eq 1 ] && ok "tarn parquet cat and schema read every DuckDB file"
if node "$SCRIPT" tarn-read "$DUCK_DIR" >"$WORK/tarn-read.log" 2>&1; then
  ok "tarn's reading of DuckDB's files equals DuckDB's ($(tail -1 "$WORK/tarn-read.log"))"
else
  fail "tarn's reading of DuckDB's files (details below)"
fi
grep -E '^(ok|FAIL)' "$WORK/tarn-read.log" | sed 's/^/    /'
grep -vE '^(ok|FAIL)|passed, .* failed$' "$WORK/tarn-read.log" | head -20

# 5. The readers' verdicts on tarn's files.
for r in duck_read:duckdb-read:DuckDB hyp_read:hyparquet-read:hyparquet; do
  IFS=: read -r var log who <<<"$r"
  if wait "${!var}"; then
    ok "$who reads tarn's files as written ($(tail -1 "$WORK/$log.log"))"
  else
    fail "$who reads tarn's files (details below)"
  fi
  grep -E '^(ok|FAIL)' "$WORK/$log.log" | sed 's/^/    /'
  grep -vE '^(ok|FAIL)|passed, .* failed$' "$WORK/$log.log" | head -20
done

finish
