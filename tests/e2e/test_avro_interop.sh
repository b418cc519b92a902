#!/usr/bin/env bash
# test_avro_interop.sh - tarn's Avro files read by avsc and icebird; avsc's files read by tarn.
# Needs E2E_BUILD_DIR (holding test_avro) and E2E_NODE_MODULES (avsc, icebird); ctest sets both.
source "$(dirname "$0")/lib.sh"

: "${E2E_BUILD_DIR:?set E2E_BUILD_DIR to the build directory}"
: "${E2E_NODE_MODULES:?set E2E_NODE_MODULES to tests/node_modules}"
SCRIPT="$(dirname "$0")/avro_interop.mjs"
DIR="$WORK/avro"
mkdir -p "$DIR"

# 1. avsc writes files (null and deflate codecs, 64-bit extremes) for tarn to read.
check "avsc writes its files" \
  env E2E_NODE_MODULES="$E2E_NODE_MODULES" node "$SCRIPT" write "$DIR"

# 2. test_avro reads them and writes its own (manifest list, manifest, every type).
if AVRO_INTEROP_DIR="$DIR" "$E2E_BUILD_DIR/test_avro" >"$WORK/test_avro.log" 2>&1; then
  ok "test_avro reads avsc's files and writes tarn's"
else
  fail "test_avro with AVRO_INTEROP_DIR (log below)"
  cat "$WORK/test_avro.log"
fi
expect_match "tarn read every record avsc wrote" "read 300 \+ 300 \+ 4 records written by avsc" \
  "$(cat "$WORK/test_avro.log")"

# 3. avsc and icebird check tarn's files: values, header schema attributes, metadata.
if E2E_NODE_MODULES="$E2E_NODE_MODULES" node "$SCRIPT" check "$DIR" >"$WORK/check.log" 2>&1; then
  ok "avsc and icebird read tarn's files ($(tail -1 "$WORK/check.log"))"
else
  fail "avsc and icebird checks (log below)"
fi
grep -E '^(ok|FAIL)' "$WORK/check.log" | sed 's/^/    /'

finish
