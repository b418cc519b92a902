#!/usr/bin/env bash
# End-to-end: `tarn parquet schema|meta|head|cat` on the DuckDB fixtures and on files of
# other writers hand-built by test_parquet_read, output formats, and error messages for
# missing, truncated and non-Parquet files. Needs E2E_BUILD_DIR (ctest sets it).
source "$(dirname "$0")/lib.sh"
: "${E2E_BUILD_DIR:?set E2E_BUILD_DIR to the build directory (holding test_parquet_read)}"
cd "$WORK"
D="${E2E_SRC_DIR:-$(dirname "$0")/../..}/tests/data/parquet"

out=$("$BIN" parquet schema "$D/all_snappy_v1.parquet"); rc=$?
expect_eq "schema exits 0" 0 "$rc"
expect_eq "schema: one line per column" 26 "$(printf '%s\n' "$out" | wc -l)"
expect_match "schema: decimal of 16 bytes" $'dec38\tid=-\tFIXED_LEN_BYTE_ARRAY\\(16\\) DECIMAL\\(38,10\\)\tOPTIONAL' "$out"
expect_match "schema: timestamp with time zone" $'tstz\tid=-\tINT64 TIMESTAMP\\(MICROS,utc\\)' "$out"
out=$("$BIN" parquet schema "$D/hyparquet_required.parquet")
expect_match "schema: REQUIRED columns" $'id\tid=-\tINT32\tREQUIRED' "$out"
out=$("$BIN" parquet schema --json "$D/small_gzip.parquet")
expect_eq "schema --json is JSON" "7" "$(printf '%s' "$out" | jq length)"

out=$("$BIN" parquet meta "$D/all_zstd_v2.parquet"); rc=$?
expect_eq "meta exits 0" 0 "$rc"
expect_match "meta: rows" 'rows: 3000' "$out"
expect_match "meta: row groups" 'row groups: 2' "$out"
expect_match "meta: codec and encodings" 'id \(INT64 INTEGER\(64,signed\)\): ZSTD, encodings DELTA_BINARY_PACKED' "$out"
expect_match "meta: decoded statistics" 'stats: min 0, max 2047; nulls 0' "$out"
expect_match "meta: bloom filter presence" 'bloom filter: yes' "$out"
out=$("$BIN" parquet meta --json "$D/all_zstd_v2.parquet")
expect_eq "meta --json: rows" 3000 "$(printf '%s' "$out" | jq .num_rows)"
expect_eq "meta --json: decimal bound" '"-9999999999999999999999999999.9999999999"' \
  "$(printf '%s' "$out" | jq '.row_groups[0].columns[] | select(.column=="dec38") | .min')"

out=$("$BIN" parquet head "$D/all_snappy_v1.parquet"); rc=$?
expect_eq "head exits 0" 0 "$rc"
expect_eq "head: 10 rows by default" 10 "$(printf '%s\n' "$out" | wc -l)"
row1=$(printf '%s\n' "$out" | sed -n 2p)
expect_eq "head: every line is JSON" 10 "$(printf '%s\n' "$out" | jq -c . | wc -l)"
expect_match "jsonl: int64 as an exact number" '"i64":-9223372036854775808,' "$row1"
expect_match "jsonl: uint64 exact" '"u64":11400714819323198485' "$row1"
expect_match "jsonl: timestamp" '"ts":"2024-02-29T13:34:57.789013"' "$row1"
expect_match "jsonl: timestamptz" '"tstz":"1960-05-07T00:08:09.123459Z"' "$row1"
expect_match "jsonl: nanoseconds" '"tsns":"2001-01-01T00:00:01.000000007"' "$row1"
expect_match "jsonl: date before 1970" '"dt":"1860-08-02"' "$row1"
expect_match "jsonl: decimal as exact string" '"dec18":"-99876543.210"' "$row1"
expect_match "jsonl: uuid" '"u":"c4ca4238-a0b9-2382-0dcc-509a6f75849b"' "$row1"
expect_match "jsonl: empty string" '"s":""' "$row1"
out=$("$BIN" parquet head --rows 7 --columns f,d "$D/all_snappy_v1.parquet")
expect_match "jsonl: NaN as a string" '"f":"NaN","d":"NaN"' "$out"
expect_match "jsonl: infinity as a string" '"f":"-Infinity","d":"-Infinity"' "$out"
expect_match "jsonl: projection keeps order" '^\{"f":-100,"d":-15000000000\}' "$out"
out=$("$BIN" parquet head --rows 3 --format csv --columns id,s,bl "$D/all_zstd_v2.parquet")
expect_eq "csv: header and rows" 4 "$(printf '%s\n' "$out" | wc -l)"
expect_match "csv: header" '^id,s,bl' "$out"
expect_match "csv: base64 blob" '2,long-2long-2.*,AP8y' "$out"

out=$("$BIN" parquet cat "$D/small_lz4_raw_v2.parquet" | wc -l)
expect_eq "cat: every row" 1500 "$(echo $out)"
n=$("$BIN" parquet cat --format csv "$D/nodict_v2.parquet" | wc -l)
expect_eq "cat csv: header plus rows" 3001 "$(echo $n)"

# Files other writers make and tarn's writer cannot, hand-built by test_parquet_read
# (TARN_PQR_DUMP): zero.parquet, 0 rows as arrow-cpp writes them (parquet-testing's
# column_chunk_key_value_metadata.parquet: chunks with data_page_offset 0, 14 bytes, 0
# values); others.parquet, a STRING column with field id 0 and statistics "a,b".."q\"z", a
# FLOAT16 column (1.5, -0.1, NaN) and an INT96 column (2500-01-01, ...).
if ! TARN_PQR_DUMP="$WORK" "$E2E_BUILD_DIR/test_parquet_read" >"$WORK/gen.log" 2>&1; then
  fail "test_parquet_read with TARN_PQR_DUMP (log below)"
  cat "$WORK/gen.log"
fi
out=$("$BIN" parquet schema "$WORK/zero.parquet"); rc=$?
expect_eq "0-row file: schema exits 0" 0 "$rc"
expect_eq "0-row file: schema lists both columns" $'a\tid=1\tINT32\tOPTIONAL\nb\tid=2\tBYTE_ARRAY STRING\tOPTIONAL' "$out"
out=$("$BIN" parquet meta "$WORK/zero.parquet"); rc=$?
expect_eq "0-row file: meta exits 0" 0 "$rc"
expect_match "0-row file: meta says 0 rows" $'rows: 0\ncolumns: 2\nrow groups: 1' "$out"
expect_eq "0-row file: meta --json num_rows" "0 0" "$("$BIN" parquet meta --json "$WORK/zero.parquet" | jq -r '"\(.num_rows) \(.row_groups[0].num_rows)"')"
out=$("$BIN" parquet cat "$WORK/zero.parquet"); rc=$?
expect_eq "0-row file: cat exits 0 and prints no rows" "0 []" "$rc [$out]"
expect_eq "0-row file: cat csv prints the header only" "a,b" "$("$BIN" parquet cat --format csv "$WORK/zero.parquet" | tr -d '\r')"

O="$WORK/others.parquet"
out=$("$BIN" parquet schema "$O")
expect_eq "schema: field id 0 is an id, FLOAT16 named, an absent id shown as -" \
  $'s\tid=0\tBYTE_ARRAY STRING\tREQUIRED\nh\tid=-\tFIXED_LEN_BYTE_ARRAY(2) FLOAT16\tREQUIRED\nt\tid=7\tINT96\tREQUIRED' "$out"
expect_eq "schema --json: field_id 0, null when absent" "0 null 7" \
  "$("$BIN" parquet schema --json "$O" | jq -r 'map(.field_id | tostring) | join(" ")')"
expect_eq "schema --json: FLOAT16 described" "FIXED_LEN_BYTE_ARRAY(2) FLOAT16" \
  "$("$BIN" parquet schema --json "$O" | jq -r '.[1].description')"
out=$("$BIN" parquet meta --json "$O")
expect_eq "meta --json: string statistics carry the plain value" '["a,b","q\"z"]' \
  "$(jq -c '[.row_groups[0].columns[0] | .min, .max]' <<<"$out")"
expect_eq "meta --json: FLOAT16 statistics as numbers" '["-0.1","1.5"]' \
  "$(jq -c '[.row_groups[0].columns[1] | .min, .max]' <<<"$out")"
out=$("$BIN" parquet cat "$O")
expect_eq "cat: FLOAT16 as numbers, INT96 past 2262 as a timestamp" \
  '{"s":"a,b","h":1.5,"t":"2500-01-01T00:00:00.000000000"}
{"s":"q\"z","h":-0.1,"t":"2000-01-01T12:00:00.000000001"}
{"s":"b","h":"NaN","t":"1999-12-31T23:59:59.999999999"}' "$out"
expect_eq "cat csv: the same values" $'s,h,t\n"a,b",1.5,2500-01-01T00:00:00.000000000\n"q""z",-0.1,2000-01-01T12:00:00.000000001\nb,NaN,1999-12-31T23:59:59.999999999' \
  "$("$BIN" parquet cat --format csv "$O" | tr -d '\r')"

# errors: exit 1 with "tarn parquet: FILE: offset N: message"; usage errors exit 2
"$BIN" parquet schema "$WORK/nope.parquet" 2>"$WORK/e"; rc=$?
expect_eq "missing file exits 1" 1 "$rc"
expect_match "missing file is named" "tarn parquet: $WORK/nope.parquet: No such file" "$(cat "$WORK/e")"
head -c 5000 "$D/small_gzip.parquet" >"$WORK/trunc.parquet"
"$BIN" parquet meta "$WORK/trunc.parquet" 2>"$WORK/e"; rc=$?
expect_eq "truncated file exits 1" 1 "$rc"
expect_match "truncated file: offset named" "^tarn parquet: $WORK/trunc.parquet: offset [0-9]+: " "$(cat "$WORK/e")"
echo "a,b" >"$WORK/x.csv"
"$BIN" parquet head "$WORK/x.csv" 2>"$WORK/e"; expect_eq "not parquet exits 1" 1 "$?"
"$BIN" parquet head --format xml "$D/small_gzip.parquet" 2>/dev/null; expect_eq "bad --format exits 2" 2 "$?"
"$BIN" parquet head --columns nope "$D/small_gzip.parquet" 2>"$WORK/e"; expect_eq "unknown column exits 2" 2 "$?"
expect_match "unknown column named" 'no column "nope"' "$(cat "$WORK/e")"
"$BIN" parquet frob "$D/small_gzip.parquet" 2>/dev/null; expect_eq "unknown subcommand exits 2" 2 "$?"
"$BIN" parquet 2>/dev/null; expect_eq "no arguments exits 2" 2 "$?"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
