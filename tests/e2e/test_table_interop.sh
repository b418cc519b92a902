#!/usr/bin/env bash
# test_table_interop.sh - Iceberg tables built with the tarn binary (unpartitioned with every
# type, day-partitioned with an overwrite and an added column, several transforms), read by
# icebird, avsc (manifests and manifest lists), DuckDB (data files) and tarn table scan.
# Needs E2E_TARN_BIN and E2E_NODE_MODULES (icebird, avsc, @duckdb/node-api); ctest sets both.
source "$(dirname "$0")/lib.sh"

: "${E2E_NODE_MODULES:?set E2E_NODE_MODULES to tests/node_modules}"
SCRIPT="$(dirname "$0")/table_interop.mjs"

start=$(date +%s)
if E2E_TARN_BIN="$BIN" E2E_NODE_MODULES="$E2E_NODE_MODULES" node "$SCRIPT" "$WORK" \
  >"$WORK/interop.log" 2>&1; then
  ok "icebird, avsc and DuckDB read tarn's tables ($(tail -1 "$WORK/interop.log"), $(($(date +%s) - start)) s)"
else
  fail "table interop (log below)"
  grep -v '^ok' "$WORK/interop.log" | sed 's/^/    /'
fi
grep -c '^ok' "$WORK/interop.log" | sed 's/^/    checks passed: /'
finish
