#!/usr/bin/env bash
# End-to-end: CSV ingest through `tarn serve` (POST /ingest, multipart and raw bodies) and
# `tarn ingest`: create, identical, replace, append, drift, caps, bad CSV, a storage
# failure, the /catalog/ routes, metrics; then DuckDB and icebird read what was written.
# Needs E2E_NODE_MODULES (DuckDB, icebird); ctest sets it.
source "$(dirname "$0")/lib.sh"

: "${E2E_NODE_MODULES:?set E2E_NODE_MODULES to tests/node_modules}"
export E2E_NODE_MODULES
HERE=$(cd "$(dirname "$0")" && pwd)
CHECK="$HERE/ingest_check.mjs"
LAKE=$WORK/lake
gen() { node "$CHECK" gen "$@"; }

# Everything in the lake but the catalog database, with sizes: what "nothing was written"
# is checked against.
listing() { (cd "$LAKE" && find . -type f ! -name 'catalog.db*' -printf '%P %s\n' | sort); }
# The catalog's pointer to a dataset's current metadata.
metadata_of() {
  sqlite3 "$LAKE/catalog.db" \
    "SELECT metadata_location FROM iceberg_tables WHERE table_namespace='datasets' AND table_name='$1'"
}
# post QUERY CURL-ARGS...: POST /ingest?QUERY; the body goes to $WORK/r, the status is echoed.
# curl's own Expect: 100-continue for large bodies stays on: a body refused for its declared
# length is answered before the client sends it.
post() {
  local q=$1; shift
  curl -sS -o "$WORK/r" -w '%{http_code}' "$@" "$BASE/ingest?$q"
}
j() { jq -r "$1" "$WORK/r"; }

gen 1 3000 "$WORK/t1.csv"
gen 5001 2000 "$WORK/t2.csv"
gen 9001 1500 "$WORK/t3.csv"
gen 20001 100 "$WORK/drift.csv" extra
gen 30001 40000 "$WORK/big.csv"       # about 4 MB: over the 1 MiB upload cap
gen 50001 500 "$WORK/cli.csv"
sed 's/,/;/g' "$WORK/t1.csv" >"$WORK/semi.csv"

start_serve "$WORK/serve.log" --lake "$LAKE" --listen 127.0.0.1:0 --max-upload 1MiB || exit 1
BASE="http://$ADDR"

# ---- first ingests: multipart and raw ----
code=$(post 'name=trips' -F "file=@$WORK/t1.csv")
expect_eq "multipart upload: 200" 200 "$code"
expect_eq "multipart upload: created, 3000 rows, not existing" "created 3000 false" \
  "$(j '"\(.outcome) \(.row_count) \(.existing)"')"
expect_eq "the manifest names the dataset and the uploaded file" "trips t1.csv 3000 1" \
  "$(j '.manifest | "\(.name) \(.source) \(.row_count) \(.objects | length)"')"
expect_eq "inferred types" "int64 timestamptz float64 string string boolean int64 date int64 string timestamp" \
  "$(j '[.manifest.columns[].type] | join(" ")')"
expect_match "parquet_key is content-addressed under the table" \
  '^warehouse/datasets/trips/data/[0-9a-f]{64}\.parquet [1-9][0-9]*$' "$(j '"\(.parquet_key) \(.parquet_size)"')"
KEY1=$(j .parquet_key)
check "the data file is in the lake" test -f "$LAKE/$KEY1"
check "the upload's spool file is gone" test -z "$(ls -A "$LAKE/.spool")"

code=$(post 'name=semi&delimiter=%3B' --data-binary "@$WORK/semi.csv" -H 'Content-Type: text/csv')
expect_eq "raw text/csv body with ';': 200 created" "200 created 3000" "$code $(j .outcome) $(j .row_count)"
KEY_SEMI=$(j .parquet_key)

# ---- the delimiter is detected when not given; a given one that splits nothing is refused ----
code=$(post 'name=semi' --data-binary "@$WORK/semi.csv" -H 'Content-Type: text/csv')
expect_eq "';' detected without delimiter=: 200, 3000 rows, 11 columns, the same data" \
  "200 ; true 3000 11 existing" \
  "$code $(j .delimiter) $(j .delimiter_detected) $(j .row_count) $(j '.columns | length') $(j .outcome)"
expect_eq "... the same data file as with delimiter=%3B" "$KEY_SEMI" "$(j .parquet_key)"
code=$(post 'name=semi3&delimiter=%2C' --data-binary "@$WORK/semi.csv" -H 'Content-Type: text/csv')
expect_eq "delimiter=, on a ';' file: 400" 400 "$code"
expect_match "... saying what to try" "the delimiter ',' splits nothing in the header, while ';' splits it into 11 columns: try --delimiter ';'" "$(j .error.message)"
expect_match "tarn ingest --infer-only shows the detected delimiter" "delimiter ';' \(detected" \
  "$("$BIN" ingest "$WORK/semi.csv" --infer-only --lake "$LAKE")"
expect_eq "the dataset records its delimiter" ";" \
  "$("$BIN" table show datasets.semi --lake "$LAKE" --json | jq -r '.metadata.properties["tarn.delimiter"]')"

# ---- identical: nothing new anywhere ----
before=$(listing)
meta=$(metadata_of trips)
code=$(post 'name=trips' --data-binary "@$WORK/t1.csv" -H 'Content-Type: application/octet-stream')
expect_eq "identical re-ingest (raw octet-stream): 200, existing" "200 true existing" \
  "$code $(j .existing) $(j .outcome)"
expect_eq "identical: the same key" "$KEY1" "$(j .parquet_key)"
expect_eq "identical: no new file in the lake" "$before" "$(listing)"
expect_eq "identical: the catalog still points at the same metadata" "$meta" "$(metadata_of trips)"

# ---- replace, append ----
code=$(post 'name=trips' -F "file=@$WORK/t2.csv")
expect_eq "replace: 200 replaced, 2000 rows, one object" "200 replaced 2000 1" \
  "$code $(j .outcome) $(j .manifest.row_count) $(j '.manifest.objects | length')"
KEY2=$(j .parquet_key)
code=$(post 'name=trips&mode=append' -F "file=@$WORK/t3.csv")
expect_eq "append: 200 appended, 3500 rows, two objects" "200 appended 3500 2" \
  "$code $(j .outcome) $(j .manifest.row_count) $(j '.manifest.objects | length')"
KEY3=$(j .parquet_key)
expect_eq "append: the objects are the replaced file and the appended one" \
  "$(printf '%s\n' "$KEY2" "$KEY3" | sort | tr '\n' ' ')" \
  "$(j '[.manifest.objects[].key] | sort | join(" ")') "

# ---- drift: 409 with the diff, nothing written anywhere ----
before=$(listing)
meta=$(metadata_of trips)
code=$(post 'name=trips' -F "file=@$WORK/drift.csv")
expect_eq "drift: 409 schema_mismatch" "409 schema_mismatch" "$code $(j .error.code)"
expect_eq "drift: the added column" "more:string" "$(j '[.error.drift.added[] | "\(.name):\(.type)"] | join(",")')"
expect_eq "drift: the retyped column" "qty:int64->float64" \
  "$(j '[.error.drift.retyped[] | "\(.name):\(.from)->\(.to)"] | join(",")')"
expect_eq "drift: nothing removed" 0 "$(j '.error.drift.removed | length')"
expect_eq "drift: no new file anywhere in the lake" "$before" "$(listing)"
expect_eq "drift: the catalog is unchanged" "$meta" "$(metadata_of trips)"

# ---- over the cap: 413, declared and chunked ----
code=$(post 'name=big' --data-binary "@$WORK/big.csv" -H 'Content-Type: text/csv')
expect_eq "oversize with Content-Length: 413 payload_too_large" "413 payload_too_large" "$code $(j .error.code)"
code=$(post 'name=big' --data-binary "@$WORK/big.csv" -H 'Content-Type: text/csv' -H 'Transfer-Encoding: chunked')
expect_eq "oversize chunked: 413" 413 "$code"
code=$(post 'name=big' -F "file=@$WORK/big.csv")
expect_eq "oversize multipart: 413" 413 "$code"
expect_eq "oversize: no dataset" 404 "$(curl -sS -o /dev/null -w '%{http_code}' "$BASE/catalog/datasets/big")"

# ---- bad input: 400 with the line, or the rule ----
printf 'id,v\n1,a\n2,"b\n' >"$WORK/bad.csv"
code=$(post 'name=bad' -F "file=@$WORK/bad.csv")
expect_eq "bad CSV: 400 invalid_csv" "400 invalid_csv" "$code $(j .error.code)"
expect_match "bad CSV: the message has line and column" 'line 3, column 3' "$(j .error.message)"
printf 'id,v\n1,a\n2,b,c\n' >"$WORK/bad2.csv"
code=$(post 'name=bad' --data-binary "@$WORK/bad2.csv" -H 'Content-Type: text/csv')
expect_match "wrong field count: 400 naming line 3" '^400 .*line 3' "$code $(j .error.message)"
code=$(post 'name=Bad.Name' -F "file=@$WORK/t1.csv")
expect_match "bad name: 400 naming the rule" '^400 invalid_name .*\[a-z0-9_\]' "$code $(j .error.code) $(j .error.message)"
code=$(post 'name=x&mode=merge' -F "file=@$WORK/t1.csv")
expect_eq "bad mode: 400" "400 invalid_argument" "$code $(j .error.code)"
code=$(post 'name=x&delimiter=%3A' -F "file=@$WORK/t1.csv")
expect_eq "bad delimiter: 400" "400 invalid_argument" "$code $(j .error.code)"
code=$(post 'name=x' --data-binary '{}' -H 'Content-Type: application/json')
expect_eq "other media types: 415" "415 unsupported_media_type" "$code $(j .error.code)"
code=$(post 'name=x' -F "upload=@$WORK/t1.csv")
expect_match "multipart without a file part: 400 saying so" '^400 .*no part named "file"' "$code $(j .error.message)"

# ---- a storage failure: 502, the catalog unchanged ----
# Tests run as root, and chmod does not stop root. So the dataset's data folder is replaced
# by a regular file: the store cannot create the new Parquet object under it (ENOTDIR),
# whoever we are. The data file is written before anything is committed, so the commit
# never starts.
T=$LAKE/warehouse/datasets/trips
meta=$(metadata_of trips)
before=$(listing)
mv "$T/data" "$T/data.keep" && : >"$T/data"
gen 60001 50 "$WORK/t4.csv"
code=$(post 'name=trips' -F "file=@$WORK/t4.csv")
expect_eq "storage failure: 502" 502 "$code"
expect_match "storage failure: the message names the object" 'warehouse/datasets/trips/data' "$(j .error.message)"
expect_eq "storage failure: the catalog still points at the same metadata" "$meta" "$(metadata_of trips)"
rm "$T/data" && mv "$T/data.keep" "$T/data"
expect_eq "storage failure: nothing new in the lake" "$before" "$(listing)"
expect_eq "storage failure: the dataset still has its 3500 rows" 3500 \
  "$(curl -sS "$BASE/catalog/datasets/trips" | jq .row_count)"

# ---- the catalog routes ----
curl -sS -o "$WORK/r" "$BASE/catalog/datasets"
expect_eq "GET /catalog/datasets: two datasets, sorted" "2 semi trips" "$(j '"\(.count) \([.datasets[].name] | join(" "))"')"
expect_eq "the list has summaries: rows, columns, files, size" "3500 11 2 true" \
  "$(j '.datasets[1] | "\(.row_count) \(.column_count) \(.data_files) \(.total_size > 0)"')"
curl -sS -o "$WORK/r" -w '%{http_code}' "$BASE/catalog/datasets/trips" >"$WORK/code"
expect_eq "GET /catalog/datasets/trips: 200 with the manifest view" "200 trips 3500 2" \
  "$(cat "$WORK/code") $(j '"\(.name) \(.row_count) \(.objects | length)"')"
expect_match "the manifest has a dataset id and a fingerprint" '^[0-9a-f-]{36} sha256:[0-9a-f]{64}$' \
  "$(j '"\(.dataset_id) \(.fingerprint)"')"
expect_eq "GET a missing dataset: 404" 404 "$(curl -sS -o /dev/null -w '%{http_code}' "$BASE/catalog/datasets/nope")"
code=$(curl -sS -o "$WORK/r" -w '%{http_code}' -X POST "$BASE/catalog/datasets/trips/resync")
expect_eq "resync: 200, nothing to change" "200 false 3500" "$code $(j .changed) $(j .manifest.row_count)"
expect_eq "resync of a missing dataset: 404" 404 \
  "$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$BASE/catalog/datasets/nope/resync")"
code=$(curl -sS -o "$WORK/r" -w '%{http_code}' -X POST "$BASE/catalog/resync-missing")
expect_eq "resync-missing: 200, nothing missing" "200 0 0" "$code $(j '.resynced | length') $(j '.failed | length')"

m=$(curl -sS "$BASE/metrics")
expect_match "metrics: created" 'tarn_ingest_total\{outcome="created"\} 2' "$m"
expect_match "metrics: existing (2: trips, and semi with its delimiter detected), replaced, appended" \
  'outcome="existing"\} 2.*' "$(grep -E 'tarn_ingest_total\{outcome="(existing|replaced|appended)"\} [12]' <<<"$m" | tr '\n' ' ')"
expect_match "metrics: drift, failures" 'schema_mismatch"\} 1' "$(grep 'tarn_ingest_total' <<<"$m" | tr '\n' ' ')"
expect_match "metrics: failed storage" 'outcome="failed"\} 1' "$m"
expect_match "metrics: rows ingested" 'tarn_ingest_rows_total 9500' "$m"
expect_match "metrics: duration histogram" 'tarn_ingest_duration_seconds_count [0-9]+' "$m"
expect_match "metrics: oversize bodies refused" 'tarn_http_request_body_rejected_total\{route="/ingest"\} 3' "$m"

# ---- independent readers ----
cat >"$WORK/spec_trips.json" <<EOF
{"label": "datasets.trips", "key": "id", "table_url": "file://$(realpath "$T")",
 "columns": {"id": "BIGINT", "ts": "TIMESTAMPTZ", "amount": "DOUBLE", "category": "VARCHAR",
             "code": "VARCHAR", "flag": "BOOLEAN", "qty": "BIGINT", "day": "DATE", "n": "BIGINT",
             "note": "VARCHAR", "seen": "TIMESTAMP"},
 "pairs": [{"csv": "$WORK/t2.csv", "parquet": "$LAKE/$KEY2"},
           {"csv": "$WORK/t3.csv", "parquet": "$LAKE/$KEY3"}]}
EOF
jq '.label = "datasets.semi" | .delimiter = ";" | .table_url = "file://'"$(realpath "$LAKE")"'/warehouse/datasets/semi"
    | .pairs = [{"csv": "'"$WORK/semi.csv"'", "parquet": "'"$LAKE/$KEY_SEMI"'"}]' \
  "$WORK/spec_trips.json" >"$WORK/spec_semi.json"
for s in trips semi; do
  if node "$CHECK" "$WORK/spec_$s.json" >"$WORK/check_$s.log" 2>&1; then
    ok "DuckDB and icebird read datasets.$s as the CSV says ($(tail -1 "$WORK/check_$s.log"))"
  else
    fail "DuckDB and icebird checks of datasets.$s (log below)"
  fi
  grep -E '^(ok|FAIL)|Error' "$WORK/check_$s.log" | sed 's/^/    /'
done

# ---- the command line, on the same lake while the daemon runs ----
before=$(listing)
out=$("$BIN" ingest "$WORK/cli.csv" --infer-only --lake "$LAKE" 2>"$WORK/err")
expect_eq "ingest --infer-only exits 0" 0 $?
expect_match "--infer-only prints each column with the reason" \
  'qty +int64 +yes +int64: [0-9]+ values, all integers; [0-9]+ empty' "$out"
expect_match "--infer-only prints the fingerprint" 'fingerprint sha256:[0-9a-f]{64}' "$out"
expect_eq "--infer-only writes nothing" "$before" "$(listing)"
out=$("$BIN" ingest "$WORK/cli.csv" --name cli --threads 2 --lake "$LAKE" 2>"$WORK/err")
expect_eq "tarn ingest (--threads 2) exits 0" 0 $?
expect_match "the summary line" '^datasets\.cli: created; 500 rows, 11 columns, parquet [0-9.]+ [kM]?B at warehouse/datasets/cli/data/[0-9a-f]{64}\.parquet; [0-9.]+ s, [0-9.]+ MB/s$' "$out"
check "no progress bar when stderr is not a terminal" test -z "$(grep -a 'pass 1/2' "$WORK/err")"
out=$("$BIN" ingest "$WORK/cli.csv" --name cli --lake "$LAKE" 2>/dev/null)
expect_match "the same file again: unchanged" '^datasets\.cli: unchanged' "$out"
"$BIN" ingest "$WORK/drift.csv" --name cli --lake "$LAKE" >/dev/null 2>"$WORK/err"
expect_eq "drift exits 3" 3 $?
expect_match "drift prints the columns" 'added: +more \(string\).*retyped: qty: int64 -> float64' "$(tr '\n' ' ' <"$WORK/err")"
"$BIN" ingest "$WORK/bad.csv" --name cli2 --lake "$LAKE" >/dev/null 2>"$WORK/err"
expect_eq "bad CSV exits 1" 1 $?
expect_match "bad CSV: line and column" 'line 3, column 3' "$(cat "$WORK/err")"
"$BIN" ingest "$WORK/cli.csv" --lake "$LAKE" >/dev/null 2>&1
expect_eq "missing --name exits 2" 2 $?
"$BIN" ingest "$WORK/cli.csv" --name cli --mode sideways --lake "$LAKE" >/dev/null 2>&1
expect_eq "bad --mode exits 2" 2 $?
script -qfc "$BIN ingest $WORK/t1.csv --name tty --lake $LAKE" /dev/null >"$WORK/tty.out" 2>&1
expect_match "on a terminal: a progress bar for both passes" 'pass 1/2 infer .*100%.*rows.*MB/s.*pass 2/2 convert .*100%' \
  "$(tr '\r\n' '  ' <"$WORK/tty.out")"
expect_match "on a terminal: then the summary" 'datasets\.tty: created; 3000 rows' "$(cat "$WORK/tty.out")"
out=$("$BIN" datasets list --lake "$LAKE")
expect_match "datasets list: a header and one line per dataset" \
  'NAME .*ROWS .*cli +500 +11 +1 .*semi +3000 .*trips +3500 +11 +2 .*tty +3000' "$(tr '\n' ' ' <<<"$out")"
expect_eq "datasets list --json" "cli semi trips tty" \
  "$("$BIN" datasets list --json --lake "$LAKE" | jq -r '[.datasets[].name] | join(" ")')"
out=$("$BIN" datasets show trips --lake "$LAKE")
expect_match "datasets show: fingerprint, rows, columns, objects" \
  'fingerprint +sha256:.*rows +3500.*columns \(11\):.*id +int64 +optional, no nulls so far.*qty +int64 +optional, has nulls.*objects \(2\):' "$(tr '\n' ' ' <<<"$out")"
expect_eq "datasets show --json is the HTTP manifest view" \
  "$(curl -sS "$BASE/catalog/datasets/trips" | jq -S 'del(.updated_at)')" \
  "$("$BIN" datasets show trips --json --lake "$LAKE" | jq -S 'del(.updated_at)')"
KEY_CLI=$("$BIN" datasets show cli --json --lake "$LAKE" | jq -r '.objects[0].key')
jq '.label = "datasets.cli (two threads)" | .table_url = "file://'"$(realpath "$LAKE")"'/warehouse/datasets/cli"
    | .pairs = [{"csv": "'"$WORK/cli.csv"'", "parquet": "'"$LAKE/$KEY_CLI"'"}]' \
  "$WORK/spec_trips.json" >"$WORK/spec_cli.json"
if node "$CHECK" "$WORK/spec_cli.json" >"$WORK/check_cli.log" 2>&1; then
  ok "DuckDB and icebird read datasets.cli as the CSV says ($(tail -1 "$WORK/check_cli.log"))"
else
  fail "DuckDB and icebird checks of datasets.cli (log below)"
  grep -E '^(ok|FAIL)|Error' "$WORK/check_cli.log" | sed 's/^/    /'
fi
"$BIN" datasets show nope --lake "$LAKE" >/dev/null 2>&1
expect_eq "datasets show of a missing dataset exits 1" 1 $?
expect_match "datasets resync" 'datasets\.trips: row count and columns recomputed' \
  "$("$BIN" datasets resync trips --lake "$LAKE")"
expect_match "datasets resync-missing" '0 resynced, 0 failed' "$("$BIN" datasets resync-missing --lake "$LAKE")"
expect_eq "the daemon sees what the command line ingested" "200 500" \
  "$(curl -sS -o "$WORK/r" -w '%{http_code}' "$BASE/catalog/datasets/cli") $(j .row_count)"

kill -TERM "$SERVE_PID"
wait_exit "$SERVE_PID" 20
expect_eq "tarn serve exits 0 on SIGTERM" 0 "$EXIT_CODE"
finish
