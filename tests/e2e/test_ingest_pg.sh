#!/usr/bin/env bash
# End-to-end: PostgreSQL tables and queries as datasets (`tarn ingest --pg`, POST /ingest/db)
# against a real PostgreSQL 15 on loopback (lib_pg.sh), as src/ingest/README.md "Postgres
# ingest" says:
#   1. types: one column of every mapped type, extremes and nulls, read back exactly by
#      DuckDB, by hyparquet on the files the Iceberg manifests list, and by icebird;
#   2. consistency: 1,000,000 accounts whose balances keep one sum while transfers run,
#      ingested with one reader and with two (exported snapshot, ctid ranges);
#   3. parallel == single: --readers 1 and --readers 3 give the same bytes;
#   4. incremental: a kill -9 mid-stream, the rerun, no new rows, a timestamptz column;
#   5. errors: unreachable, credentials, database, table, query, usage, drift,
#      infinity, numeric NaN;
#   6. HTTP: POST /ingest/db, its refusals (DSN keywords, unix sockets, db_hosts), drift;
#      the daemon never lends its own PG* environment or ~/.pgpass to a client's DSN;
#   7. the server killed mid-stream: a non-zero exit naming the lost connection, the
#      dataset unchanged;
#   8. the password appears nowhere: outputs, the server log, /metrics, the lake.
# The library's suite against a server: test_ingest_pg_lib.sh.
# Needs E2E_NODE_MODULES (DuckDB, icebird, hyparquet); ctest sets it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_pg.sh"

: "${E2E_NODE_MODULES:?set E2E_NODE_MODULES to tests/node_modules}"
export E2E_NODE_MODULES
HERE=$(cd "$(dirname "$0")" && pwd)
CHECK="$HERE/pg_ingest_check.mjs"
LAKE=$WORK/lake
OUT=$WORK/out # every stdout and stderr of tarn: the secrets scan reads them all
mkdir -p "$OUT"
UPDATER_PID=
trap 'pg_stop; cleanup' EXIT
START=$SECONDS

pg_start "$WORK" || exit 1
# psql -f FILE as tarn on tarn_test (ON_ERROR_STOP), for scripts too long for pg_psql.
pg_file() { pg_as psql -h "$PG_DIR" -p "$PG_PORT" -U tarn -d tarn_test -v ON_ERROR_STOP=1 -qAt -f "$1"; }
# A server whose defaults are not UTC and ISO: the values tarn reads (binary) must not
# care, and a high-water mark written as text must still read back as the same instant.
pg_psql "ALTER DATABASE tarn_test SET timezone TO 'America/St_Johns'; ALTER DATABASE tarn_test SET datestyle TO 'SQL, DMY'" >/dev/null
BADPW="wrongpw_$(head -c 9 /dev/urandom | od -An -tx1 | tr -d ' \n')"
DSN_NOPW="host=127.0.0.1 port=$PG_PORT dbname=tarn_test user=tarn"
PWENC=$(printf '%s' "$PG_PASSWORD" | od -An -tx1 | tr -d ' \n' | sed 's/../%&/g') # percent-encoded

# ing TAG ARGS...: `tarn ingest ARGS --lake LAKE --json`; stdout in $OUT/TAG.out, stderr in
# $OUT/TAG.err, the exit code in RC; jo FILTER reads the answer.
ing() {
  local tag=$1; shift
  LAST=$tag
  "$BIN" ingest "$@" --lake "$LAKE" --json >"$OUT/$tag.out" 2>"$OUT/$tag.err"
  RC=$?
}
jo() { jq -r "$1" "$OUT/$LAST.out" 2>/dev/null; }
errtext() { echo "$(head -c 600 "$OUT/$LAST.out") / $(head -c 600 "$OUT/$LAST.err")"; }
# The catalog's pointer to a dataset's current metadata, and that metadata's file.
meta_loc() {
  sqlite3 "$LAKE/catalog.db" \
    "SELECT metadata_location FROM iceberg_tables WHERE table_namespace='datasets' AND table_name='$1'"
}
meta_file() { local m; m=$(meta_loc "$1"); echo "${m#file://}"; }
snapshots() { jq '.snapshots | length' "$(meta_file "$1")"; }
prop() { jq -r --arg k "$2" '.properties[$k] // "(none)"' "$(meta_file "$1")"; }
# tq NAME SQL: DuckDB runs SQL with {t} = read_parquet(the live data files of datasets.NAME,
# as icebird finds them through the catalog's metadata and its manifests).
tq() {
  local files
  files=$(node "$CHECK" files "file://$LAKE/warehouse/datasets/$1" "$(basename "$(meta_file "$1")")" |
    sed "s/.*/'&'/" | paste -sd, -)
  [ -n "$files" ] || { echo "no live data files"; return; }
  node "$CHECK" sql "${2//\{t\}/read_parquet([$files])}" 2>&1
}
warehouse_listing() { (cd "$LAKE/warehouse" && find . -type f -printf '%P %s\n' | sort); }
# expect_listing DESCRIPTION BEFORE: the warehouse holds exactly BEFORE (else the difference).
expect_listing() {
  local d
  d=$(diff <(echo "$2") <(warehouse_listing) | grep '^[<>]' | head -8)
  if [ -z "$d" ]; then ok "$1"; else fail "$1: $(echo "$d" | tr '\n' ' ')"; fi
}
is_running() { local s; s=$(ps -o stat= -p "$1" 2>/dev/null); [ -n "$s" ] && [[ $s != Z* ]]; }
copy_active() {
  [ "$(pg_psql "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query ILIKE 'copy%' AND pid <> pg_backend_pid()")" != 0 ]
}
# stop_mid_copy PID: waits until a COPY streams on the server while PID runs, stops PID
# (SIGSTOP) and checks the COPY still runs (it cannot finish: nobody reads it). 0 when PID
# is stopped mid-stream; 1 when PID ended first or the COPY had finished (PID then runs on).
stop_mid_copy() {
  local _
  for _ in $(seq 1 3000); do
    is_running "$1" || return 1
    if copy_active; then
      kill -STOP "$1"
      copy_active && return 0
      kill -CONT "$1"
      return 1
    fi
    sleep 0.01
  done
  return 1
}

if ! "$BIN" ingest --help 2>&1 | grep -q -- '--pg'; then
  fail "tarn ingest --help does not mention --pg: this binary has no Postgres ingest"
  finish
  exit 1
fi

# ======================================================================================
# 1. Types
# ======================================================================================
echo "# 1. Types (at $((SECONDS - START)) s)"
cat >"$WORK/types.sql" <<'EOF'
CREATE TYPE mood AS ENUM ('sad', 'ok', 'très "heureux"');
CREATE DOMAIN posint AS int4 CHECK (VALUE > 0);
CREATE TABLE public.t (
  id int4 NOT NULL PRIMARY KEY,
  c_int2 int2, c_int4 int4, c_int8 int8, c_float4 float4, c_float8 float8,
  c_num10_2 numeric(10,2), c_num38_10 numeric(38,10), c_numeric numeric, c_num40 numeric(40,2),
  c_text text, c_varchar varchar(5), c_char char(3), c_name name, c_bool bool,
  c_date date, c_time time, c_ts timestamp, c_tstz timestamptz, c_uuid uuid, c_bytea bytea,
  c_json json, c_jsonb jsonb, c_enum mood, c_arr int4[], c_interval interval, c_domain posint,
  r_text text NOT NULL, r_bool bool NOT NULL, r_tstz timestamptz NOT NULL, r_date date NOT NULL);
-- Inserted out of id order, and row 5 updated (moved to the end): the file keeps the
-- table's physical order, not the key's.
INSERT INTO t VALUES
 (3, -32768, -2147483648, -9223372036854775808, '-Infinity', '-Infinity', -99999999.99,
  -9999999999999999999999999999.9999999999, -0.000000000000000000000000000000000000000000001,
  -99999999999999999999999999999999999999.99, '', '', 'a', '', false, '4713-01-01 BC', '00:00:00',
  '4713-01-01 00:00:00 BC', '4713-01-01 00:00:00+00 BC', '00000000-0000-0000-0000-000000000000', '\x',
  '[]', '{}', 'sad', '{}', '-178000000 years', 1, E'line1\nline2', true, '1969-12-31 23:59:59.999999+00',
  '0001-01-01'),
 (1, 12, 123456, 1234567890123, 1.5, 0.1, 1234.56, 12345.6789,
  3.14159265358979323846264338327950288419716939937510, 12.30, 'plain', 'abc', 'ab', 'a_name', true,
  '2024-02-29', '04:05:06.789', '2024-02-29 12:34:56.123456', '2024-02-29 12:34:56.654321+05:30',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\x0102', '{"k": "v"}', '{"k": "v"}', 'ok', '{1,2,3}',
  '1 year 2 mons 3 days 04:05:06.789', 7, 'r1', true, '2024-01-01 00:00:00+00', '2024-01-01'),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '', false, '1970-01-01 00:00:00+00',
  '1970-01-01'),
 (4, 32767, 2147483647, 9223372036854775807, 'Infinity', 'Infinity', 99999999.99,
  9999999999999999999999999999.9999999999, 'NaN', 99999999999999999999999999999999999999.99,
  E'γάμμα ✓ "quoted" ''single'' back\\slash\ttab\nnew\r\nline 😀 \u0001', 'ωxyz✓', 'ééé',
  repeat('n', 63), true, '5874897-12-31', '23:59:59.999999', '100000-01-01 00:00:00.000001',
  '9999-12-31 23:59:59.999999+00', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '\x00ff0000fe00',
  E' {"b": 2,  "a": [1, 2.50e0, "\\u00e9"]} ', E'{"b": 2,  "a": [1, 2.50e0, "\\u00e9"]}',
  'très "heureux"', '{1,NULL,-3}', '-1 days +02:03:04.000005', 2147483647, E'\u00e9', false,
  '294000-12-31 23:59:59.999999+00', '9999-12-31'),
 (5, 0, 0, 0, 'NaN', 'NaN', 0, 0.0000000001, 'Infinity', 0, ' ', 'a b', '   ', 'Name With Spaces',
  false, '1969-12-31', '00:00:00.000001', '1969-12-31 23:59:59.999999', '1969-12-31 23:59:59.999999+00',
  '123e4567-e89b-12d3-a456-426614174000', '\x00', 'null', 'null', 'ok', '{{1,2},{3,4}}', '00:00:00',
  3, 'x', true, '1900-02-28 13:14:15.000001-08', '1900-01-01'),
 (6, -1, -1, -1, '-0', '-0', -0.01, -0.0000000001, '-Infinity', -0.01, E'\\x00 not bytes', 'x',
  'xyz', 'n', true, '0001-01-01', '12:00:00', '0001-01-01 00:00:00', '0001-01-01 00:00:00+00',
  '00000000-0000-0000-0000-000000000001', '\x5c0a0d22', '"s"', '"s"', 'sad',
  '{-2147483648,2147483647}', '1 mon -2 days', 4, 'y', false, '2000-01-01 00:00:00+00', '2000-02-29'),
 (7, 1, 1, 1, 1.4e-45, 4.9e-324, 0.01, 1.5, 0, 0.01, 'z', 'yy', 'q', 'q', NULL, '9999-12-31',
  '13:00:00.5', '9999-12-31 23:59:59.999999', '2262-04-11 23:47:16.854775+00', NULL, '\xffffffff',
  '{"deep": {"x": [null, true, false]}}', '{"deep": {"x": [null, true, false]}}', NULL, '{NULL}',
  '1 day', NULL, 'z', true, '1999-12-31 23:59:59.999999+00', '1999-12-31'),
 (8, 2, 2, 2, 3.4028235e38, 1.7976931348623157e308, 12345678.9, -12345.678901234, 1e-20, 1,
  repeat('long ', 2000), 'longe', 'lon', 'long', true, '2000-01-01', '23:59:59', '1582-10-10 10:00:00',
  '1582-10-10 10:00:00+00', '7b3e4c1a-0000-4000-8000-000000000000', decode(repeat('00', 300), 'hex'),
  '1.0e10', '1.0e10', 'sad', NULL, '3 years', 5, 'w', false, '2024-06-30 23:59:59.5+00', '2024-06-30');
UPDATE t SET c_text = c_text || '!' WHERE id = 5;
EOF
# What PostgreSQL prints, in one canonical text per value (see pg_ingest_check.mjs).
cat >"$WORK/expect.sql" <<'EOF'
SELECT json_agg(json_build_object(
  'id', id::text, 'c_int2', c_int2::text, 'c_int4', c_int4::text, 'c_int8', c_int8::text,
  'c_float4', encode(float4send(c_float4), 'hex'), 'c_float8', encode(float8send(c_float8), 'hex'),
  'c_num10_2', c_num10_2::text, 'c_num38_10', c_num38_10::text, 'c_numeric', c_numeric::text,
  'c_num40', c_num40::text, 'c_text', c_text, 'c_varchar', c_varchar::text, 'c_char', c_char,
  'c_name', c_name::text, 'c_bool', c_bool, 'c_date', (c_date - DATE '1970-01-01')::text,
  'c_time', (extract(epoch FROM c_time) * 1000000)::bigint::text,
  'c_ts', (extract(epoch FROM c_ts) * 1000000)::bigint::text,
  'c_tstz', (extract(epoch FROM c_tstz) * 1000000)::bigint::text,
  'c_uuid', c_uuid::text, 'c_bytea', encode(c_bytea, 'hex'), 'c_json', c_json::text,
  'c_jsonb', c_jsonb::text, 'c_enum', c_enum::text, 'c_arr', c_arr::text,
  'c_interval', c_interval::text, 'c_domain', c_domain::text, 'r_text', r_text, 'r_bool', r_bool,
  'r_tstz', (extract(epoch FROM r_tstz) * 1000000)::bigint::text,
  'r_date', (r_date - DATE '1970-01-01')::text) ORDER BY id) FROM t
EOF
# The text forms: with the session settings the README's text form means (ISO, postgres).
if ! pg_file "$WORK/types.sql" >"$WORK/types.log" 2>&1; then
  fail "creating the types table: $(cat "$WORK/types.log")"
fi
pg_psql "SET IntervalStyle = postgres; $(cat "$WORK/expect.sql")" | tail -1 >"$WORK/types_expected.json"
PHYS=$(pg_psql "SELECT json_agg(id::text ORDER BY ctid) FROM t")
expect_eq "test data: 8 rows, physical order is not key order" '["3", "1", "2", "4", "6", "7", "8", "5"]' "$PHYS"

ing types --pg "$PG_CONNINFO" --table public.t --name types
expect_eq "types: exit 0, created, 8 rows, not existing, one reader" "0 created 8 false 1" \
  "$RC $(jo .outcome) $(jo .row_count) $(jo .existing) $(jo .readers)"
[ "$RC" -eq 0 ] || echo "    $(errtext)"
KEY_TYPES=$(jo .parquet_key)
expect_match "types: parquet_key is content-addressed under the dataset" \
  '^warehouse/datasets/types/data/[0-9a-f]{64}\.parquet$' "$KEY_TYPES"
# (decimal(10,2): "decimal(10, 2)", as Iceberg's JSON spells it, is taken as the same name)
expect_eq "types: answer columns and their types (CSV names where CSV has the type, else Iceberg's)" \
  "id:int:false c_int2:int:true c_int4:int:true c_int8:int64:true c_float4:float:true c_float8:float64:true c_num10_2:decimal(10,2):true c_num38_10:decimal(38,10):true c_numeric:string:true c_num40:string:true c_text:string:true c_varchar:string:true c_char:string:true c_name:string:true c_bool:boolean:true c_date:date:true c_time:time:true c_ts:timestamp:true c_tstz:timestamptz:true c_uuid:uuid:true c_bytea:binary:true c_json:string:true c_jsonb:string:true c_enum:string:true c_arr:string:true c_interval:string:true c_domain:int:true r_text:string:false r_bool:boolean:false r_tstz:timestamptz:false r_date:date:false" \
  "$(jo '[.columns[] | "\(.name):\(.type | gsub(", "; ",")):\(.nullable)"] | join(" ")')"
expect_eq "types: every answer column has its pg_type" 0 "$(jo '[.columns[] | select((.pg_type // "") == "")] | length')"
echo "    pg_type: $(jo '[.columns[] | "\(.name)=\(.pg_type)"] | join(" ")')"
# one warning per column stored as text (and none for the others)
warned=$(jo '.warnings[]?' | grep -oE '\b(c_[a-z0-9_]+|r_[a-z_]+|id)\b' | sort -u | paste -sd' ')
expect_eq "types: warnings name exactly the columns stored as their text form" \
  "c_arr c_interval c_num40 c_numeric" "$warned"
echo "    warnings: $(jo '.warnings | join(" | ")')"
expect_eq "types: source in the answer, without the password" \
  "127.0.0.1 $PG_PORT tarn_test tarn public.t true false" \
  "$(jo '.source | "\(.host) \(.port) \(.database) \(.user) \(.table) \((.snapshot_time // "") | test("^[0-9]{4}-")) \(has("password"))"')"
expect_eq "types: lineage properties" \
  "postgres:public.t 127.0.0.1 $PG_PORT tarn_test tarn public.t 8" \
  "$(for k in tarn.source tarn.pg.host tarn.pg.port tarn.pg.database tarn.pg.user tarn.pg.table tarn.pg.row-count; do prop types "$k"; done | paste -sd' ')"
expect_match "types: tarn.pg.snapshot-time is a UTC time" '^[0-9]{4}-[0-9]{2}-[0-9]{2}.*(Z|\+00(:?00)?)$' \
  "$(prop types tarn.pg.snapshot-time)"
expect_eq "types: tarn.source-sha256 is the data file's SHA-256" \
  "$(sha256sum "$LAKE/$KEY_TYPES" 2>/dev/null | cut -c1-64)" "$(prop types tarn.source-sha256)"
# the metadata JSON itself: required exactly for the NOT NULL columns
expect_eq "types: metadata JSON: \"required\": true exactly for id, r_text, r_bool, r_tstz, r_date" \
  "id r_text r_bool r_tstz r_date" \
  "$(jq -r '.schemas[] | select(."schema-id" == 0) | [.fields[] | select(.required == true) | .name] | join(" ")' "$(meta_file types)")"

cols=(id:int c_int2:int c_int4:int c_int8:long c_float4:float c_float8:double
  "c_num10_2:decimal(10, 2)" "c_num38_10:decimal(38, 10)" c_numeric:string c_num40:string
  c_text:string c_varchar:string c_char:string c_name:string c_bool:boolean c_date:date c_time:time
  c_ts:timestamp c_tstz:timestamptz c_uuid:uuid c_bytea:binary c_json:string c_jsonb:string
  c_enum:string c_arr:string c_interval:string c_domain:int r_text:string r_bool:boolean
  r_tstz:timestamptz r_date:date)
duck() {
  case $1 in
    int) echo INTEGER ;; long) echo BIGINT ;; float) echo FLOAT ;; double) echo DOUBLE ;;
    decimal*) echo "DECIMAL${1#decimal}" | tr -d ' ' ;; string) echo VARCHAR ;; boolean) echo BOOLEAN ;;
    date) echo DATE ;; time) echo TIME ;; timestamp) echo TIMESTAMP ;;
    timestamptz) echo 'TIMESTAMP WITH TIME ZONE' ;; uuid) echo UUID ;; binary) echo BLOB ;;
  esac
}
{
  printf '{"label": "datasets.types", "key": "id", "table_url": "file://%s", "metadata_file": "%s",\n' \
    "$LAKE/warehouse/datasets/types" "$(basename "$(meta_file types)")"
  printf ' "parquet": "%s", "expected": "%s", "physical_order": %s, "columns": [\n' \
    "$LAKE/$KEY_TYPES" "$WORK/types_expected.json" "$PHYS"
  sep=
  for c in "${cols[@]}"; do
    n=${c%%:*}; t=${c#*:}
    req=false; [[ $n == id || $n == r_* ]] && req=true
    printf '%s  {"name": "%s", "iceberg": "%s", "required": %s, "duckdb": "%s"}' "$sep" "$n" "${t// /}" "$req" "$(duck "$t")"
    sep=$',\n'
  done
  printf '\n]}\n'
} >"$WORK/spec_types.json"
if node "$CHECK" types "$WORK/spec_types.json" >"$WORK/check_types.log" 2>&1; then
  ok "types: DuckDB, hyparquet (raw) and icebird read every value exactly as PostgreSQL has it ($(tail -1 "$WORK/check_types.log"))"
else
  fail "types: independent readers disagree with PostgreSQL (log below)"
fi
grep -vE '^ok ' "$WORK/check_types.log" | head -60 | sed 's/^/    /'

# The fingerprint is the CSV one: a query with a CSV's column names and types is the same
# dataset schema as that CSV.
printf 'id,v\n1,a\n' >"$WORK/mixed.csv"
"$BIN" ingest "$WORK/mixed.csv" --name mixed --lake "$LAKE" >"$OUT/mixed_csv.out" 2>"$OUT/mixed_csv.err"
ing mixed --pg "$PG_CONNINFO" --query "SELECT 2::int8 AS id, 'b'::text AS v" --name mixed --mode append
expect_eq "a query shaped as a CSV file (int64, string) appends to the CSV's dataset: same fingerprint" \
  "0 appended $(prop mixed tarn.fingerprint)" "$RC $(jo .outcome) $(jo .fingerprint)"
expect_eq "... lineage of a query: tarn.source postgres:query, tarn.pg.query, source.query" \
  "postgres:query SELECT 2::int8 AS id, 'b'::text AS v|SELECT 2::int8 AS id, 'b'::text AS v" \
  "$(prop mixed tarn.source) $(prop mixed tarn.pg.query)|$(jo .source.query)"
expect_eq "... both rows, read back by DuckDB" "1|a 2|b" "$(tq mixed 'SELECT id, v FROM {t} ORDER BY id' | paste -sd' ')"

# ======================================================================================
# 2. Consistency under concurrent transfers: one reader, then two
# ======================================================================================
echo "# 2. Consistency under concurrent transfers: one reader, then two (at $((SECONDS - START)) s)"
cat >"$WORK/accounts.sql" <<'EOF'
CREATE TABLE accounts (id int4 NOT NULL, balance int8 NOT NULL) WITH (autovacuum_enabled = off);
INSERT INTO accounts SELECT g, 1000 FROM generate_series(1, 1000000) g;
ALTER TABLE accounts ADD PRIMARY KEY (id);
ANALYZE accounts;
CREATE TABLE ctl (stop bool NOT NULL, n int8 NOT NULL);
INSERT INTO ctl VALUES (false, 0);
EOF
# Transfers in their own transactions (fixed seed): a = a - x, b = b + x. The table is full
# (fillfactor 100), so new row versions land on other pages, beyond what ANALYZE counted.
cat >"$WORK/updater.sql" <<'EOF'
SET synchronous_commit = off;
DO $$
DECLARE a int4; b int4; x int8; i int8 := 0;
BEGIN
  PERFORM setseed(0.42);
  LOOP
    a := 1 + floor(random() * 1000000)::int4;
    b := 1 + floor(random() * 1000000)::int4;
    x := floor(random() * 100)::int8;
    UPDATE accounts SET balance = balance - x WHERE id = a;
    UPDATE accounts SET balance = balance + x WHERE id = b;
    i := i + 1;
    UPDATE ctl SET n = i;
    COMMIT;
    EXIT WHEN i % 64 = 0 AND (SELECT stop FROM ctl);
  END LOOP;
END $$;
EOF
pg_file "$WORK/accounts.sql" >"$WORK/accounts.log" 2>&1 || fail "creating accounts: $(cat "$WORK/accounts.log")"
pg_file "$WORK/updater.sql" >"$WORK/updater.log" 2>&1 &
UPDATER_PID=$!
PIDS+=("$UPDATER_PID")
for _ in $(seq 1 600); do
  [ "$(pg_psql 'SELECT n >= 3000 FROM ctl')" = t ] && break
  sleep 0.05
done
for r in 1 2; do
  n0=$(pg_psql 'SELECT n FROM ctl')
  ing "acc$r" --pg "$PG_CONNINFO" --table public.accounts --name "acc$r" --readers "$r"
  n1=$(pg_psql 'SELECT n FROM ctl')
  expect_eq "accounts, --readers $r, while transfers commit: exit 0, created, 1000000 rows, $r reader(s)" \
    "0 created 1000000 $r" "$RC $(jo .outcome) $(jo .row_count) $(jo .readers)"
  [ "$RC" -eq 0 ] || echo "    $(errtext)"
  echo "    transfers committed during the ingest: $((n1 - n0))"
  expect_eq "accounts, --readers $r: DuckDB: 1000000 rows, ids unique 1..1000000, balances sum to 1000000000" \
    "1000000|1000000|1|1000000|1000000000" \
    "$(tq "acc$r" 'SELECT count(*), count(DISTINCT id), min(id), max(id), sum(balance) FROM {t}')"
done
pg_psql 'UPDATE ctl SET stop = true' >/dev/null
wait_exit "$UPDATER_PID" 60
expect_eq "the transfers ran (test check): updater exit 0" 0 "$EXIT_CODE"
expect_eq "the transfers kept the sum and moved money (test check)" "1000000000 t" \
  "$(pg_psql 'SELECT sum(balance), count(*) FILTER (WHERE balance <> 1000) > 1000 FROM accounts' | tr '|' ' ')"
echo "    transfers: $(pg_psql 'SELECT n FROM ctl'); table pages: $(pg_psql "SELECT pg_relation_size('accounts') / 8192") (ANALYZE counted $(pg_psql "SELECT relpages FROM pg_class WHERE relname = 'accounts'"))"

# ======================================================================================
# 3. Parallel == single on a quiescent table
# ======================================================================================
echo "# 3. Parallel == single on a quiescent table (at $((SECONDS - START)) s)"
ing par1 --pg "$PG_CONNINFO" --table public.accounts --name par --readers 1
KEY_PAR=$(jo .parquet_key)
expect_eq "quiescent accounts, --readers 1: created" "0 created 1000000" "$RC $(jo .outcome) $(jo .row_count)"
snaps=$(snapshots par)
meta=$(meta_loc par)
ing par3 --pg "$PG_CONNINFO" --table public.accounts --name par --readers 3
expect_eq "--readers 3 on the same table: the same parquet_key, existing:true, outcome existing, 3 readers" \
  "0 $KEY_PAR true existing 3" "$RC $(jo .parquet_key) $(jo .existing) $(jo .outcome) $(jo .readers)"
expect_eq "... no snapshot added, the catalog unchanged" "$snaps $meta" "$(snapshots par) $(meta_loc par)"
ing par2 --pg "$PG_CONNINFO" --table public.accounts --name par2 --readers 2
expect_eq "--readers 2 into a new dataset: byte-identical too" "0 ${KEY_PAR##*/}" \
  "$RC $(basename "$(jo .parquet_key)")"
check "... cmp of the two files" cmp -s "$LAKE/$KEY_PAR" "$LAKE/$(jo .parquet_key)"
expect_eq "the quiescent file holds PostgreSQL's rows: count, sum, and a checksum of (id, balance)" \
  "$(pg_psql 'SELECT count(*), sum(balance), sum(id::int8 * balance % 1000003) FROM accounts')" \
  "$(tq par 'SELECT count(*), sum(balance), sum(id::BIGINT * balance % 1000003) FROM {t}')"
# the commits are journal events (left in the inbox by the CLI, taken in by the journal's
# opener); the existing answer added none
expect_eq "the journal: one ingest event for datasets.par, from postgres:public.accounts" \
  '1 "postgres:public.accounts" 1000000 "created"' \
  "$("$BIN" journal recent --lake "$LAKE" --limit 1000 2>/dev/null |
    jq -s -r '[.[] | select(.action == "ingest" and .entity_type == "par")] | "\(length) \(.[0].new_value.source | tojson) \(.[0].new_value.rows) \(.[0].new_value.outcome | tojson)"')"

# ======================================================================================
# 4. Incremental: crash, rerun, nothing new, a timestamptz column
# ======================================================================================
echo "# 4. Incremental: crash, rerun, nothing new, a timestamptz column (at $((SECONDS - START)) s)"
cat >"$WORK/events.sql" <<'EOF'
CREATE TABLE events (id bigserial PRIMARY KEY, at timestamptz, payload text);
-- at: distinct instants a few microseconds apart, so a mark that lost its microseconds
-- would read rows twice; one row has no at (never read by an incremental run on at).
INSERT INTO events (at, payload)
  SELECT '2024-01-13 10:00:00.000003+00'::timestamptz + g * 7 * interval '1 microsecond', 'event ' || g
  FROM generate_series(1, 1000) g;
UPDATE events SET at = NULL WHERE id = 500;
EOF
pg_file "$WORK/events.sql" >"$WORK/events.log" 2>&1 || fail "creating events: $(cat "$WORK/events.log")"
more_events() {
  pg_psql "INSERT INTO events (at, payload) SELECT (SELECT max(at) FROM events) + g * 7 * interval '1 microsecond', 'event ' || g || repeat(' payload', 12) FROM generate_series(1, $1) g" >/dev/null
}
ing ev1 --pg "$PG_CONNINFO" --table public.events --name events --incremental-column id --mode append
expect_eq "incremental on id, first run: created, 1000 rows, from null to 1000" "0 created 1000 id null 1000" \
  "$RC $(jo .outcome) $(jo .row_count) $(jo .incremental.column) $(jo .incremental.from) $(jo .incremental.to)"
[ "$RC" -eq 0 ] || echo "    $(errtext)"
expect_eq "... the snapshot summary carries the column and the mark" "id 1000" \
  "$(jq -r '.snapshots[-1].summary | "\(.["tarn.pg.incremental-column"]) \(.["tarn.pg.high-water-mark"])"' "$(meta_file events)")"
# kill -9 mid-stream: stopped while its COPY runs on the server, then killed
caught=0
for attempt in 1 2 3 4; do
  more_events $((attempt * 100000))
  meta=$(meta_loc events)
  "$BIN" ingest --pg "$PG_CONNINFO" --table public.events --name events --incremental-column id \
    --mode append --lake "$LAKE" --json >"$OUT/ev_crash$attempt.out" 2>"$OUT/ev_crash$attempt.err" &
  pid=$!
  PIDS+=("$pid")
  if stop_mid_copy "$pid"; then
    kill -9 "$pid"
    wait "$pid" 2>/dev/null
    caught=1
    expect_eq "kill -9 mid-stream (attempt $attempt): the catalog unchanged" "$meta" "$(meta_loc events)"
    break
  fi
  wait "$pid" 2>/dev/null
  echo "    attempt $attempt: the ingest ended before its COPY was seen; more rows, again"
done
expect_eq "an ingest was caught streaming and killed" 1 "$caught"
maxid=$(pg_psql 'SELECT max(id) FROM events')
from=$(jq -r '.snapshots[-1].summary["tarn.pg.high-water-mark"]' "$(meta_file events)")
ing ev2 --pg "$PG_CONNINFO" --table public.events --name events --incremental-column id --mode append
expect_eq "the rerun: appended every row above the mark, from the last mark to max(id)" \
  "0 appended $((maxid - from)) $from $maxid" \
  "$RC $(jo .outcome) $(jo .row_count) $(jo .incremental.from) $(jo .incremental.to)"
[ "$RC" -eq 0 ] || echo "    $(errtext)"
expect_eq "every id exactly once: count = count distinct = max id = $maxid" "$maxid|$maxid|$maxid" \
  "$(tq events 'SELECT count(*), count(DISTINCT id), max(id) FROM {t}')"
expect_eq "every snapshot carries tarn.pg.high-water-mark; the last is max(id)" "true $maxid" \
  "$(jq -r '[.snapshots[].summary | has("tarn.pg.high-water-mark")] | all' "$(meta_file events)") $(jq -r '.snapshots[-1].summary["tarn.pg.high-water-mark"]' "$(meta_file events)")"
snaps=$(snapshots events)
meta=$(meta_loc events)
ing ev3 --pg "$PG_CONNINFO" --table public.events --name events --incremental-column id --mode append
expect_eq "no new rows: exit 0, outcome existing, no snapshot added, the catalog unchanged" \
  "0 existing $snaps $meta" "$RC $(jo .outcome) $(snapshots events) $(meta_loc events)"
# Two clients at once. Three incremental runs over the same new rows: whichever commits
# first appends them; the others either conflict (409, exit 1: the mark moved inside the
# compare-and-swap) or, started after it, find nothing new. Never a row twice.
more_events 20000
pids=()
for k in 1 2 3; do
  "$BIN" ingest --pg "$PG_CONNINFO" --table public.events --name events --incremental-column id \
    --mode append --lake "$LAKE" --json >"$OUT/ev_race$k.out" 2>"$OUT/ev_race$k.err" &
  pids+=($!)
done
outs=""
for k in 1 2 3; do
  wait "${pids[$((k - 1))]}"
  rc=$?
  outs+="$rc:$(jq -r '.outcome // .error.code' "$OUT/ev_race$k.out") "
done
maxid=$(pg_psql 'SELECT max(id) FROM events')
expect_eq "three incremental runs at once: one appended, the others conflict or existing [$outs]" \
  "1 2" "$(grep -o '0:appended' <<<"$outs" | wc -l) $(grep -oE '1:conflict|0:existing' <<<"$outs" | wc -l)"
expect_eq "... every id still exactly once: count = count distinct = max id = $maxid" \
  "$maxid|$maxid|$maxid" "$(tq events 'SELECT count(*), count(DISTINCT id), max(id) FROM {t}')"
# Three identical replaces at once into a new dataset: one commits, the others answer
# existing (the content check runs inside the compare-and-swap)
pids=()
for k in 1 2 3; do
  "$BIN" ingest --pg "$PG_CONNINFO" --table public.events --name ev_same --lake "$LAKE" --json \
    >"$OUT/ev_same$k.out" 2>"$OUT/ev_same$k.err" &
  pids+=($!)
done
outs=""
for k in 1 2 3; do
  wait "${pids[$((k - 1))]}"
  outs+="$?:$(jq -r '.outcome // .error.code' "$OUT/ev_same$k.out")"$'\n'
done
expect_eq "three identical ingests at once: one created, two existing; one snapshot" \
  "0:created 0:existing 0:existing 1" "$(sort <<<"$outs" | grep . | tr '\n' ' ')$(snapshots ev_same)"
snaps=$(snapshots events)
meta=$(meta_loc events)
# --incremental-column without --mode appends (README): nothing is new. Never a re-read of
# everything that replaces.
ing ev4 --pg "$PG_CONNINFO" --table public.events --name events --incremental-column id
expect_eq "--incremental-column without --mode: appends, so nothing new (existing)" "0 existing" \
  "$RC $(jo .outcome)"
expect_eq "... the dataset unchanged" "$snaps $meta" "$(snapshots events) $(meta_loc events)"
# the same table, incremental on the timestamptz column
ing at1 --pg "$PG_CONNINFO" --table public.events --name events_at --incremental-column at --mode append
nat=$(pg_psql 'SELECT count(at) FROM events')
expect_eq "incremental on at (timestamptz): created, every row with an at" "0 created $nat" "$RC $(jo .outcome) $(jo .row_count)"
[ "$RC" -eq 0 ] || echo "    $(errtext)"
mark=$(jq -r '.snapshots[-1].summary["tarn.pg.high-water-mark"]' "$(meta_file events_at)")
expect_eq "... the mark is max(at) to the microsecond, as PostgreSQL reads it back [$mark]" t \
  "$(pg_psql "SELECT '${mark//\'/\'\'}'::timestamptz = max(at) FROM events" 2>&1)"
more_events 1000
ing at2 --pg "$PG_CONNINFO" --table public.events --name events_at --incremental-column at --mode append
expect_eq "... 1000 rows more, microseconds apart: appended exactly those" "0 appended 1000" "$RC $(jo .outcome) $(jo .row_count)"
nat=$(pg_psql 'SELECT count(at) FROM events')
expect_eq "... each row with an at exactly once, the row without none" "$nat|$nat|0" \
  "$(tq events_at 'SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE id = 500) FROM {t}')"
snaps=$(snapshots events_at)
ing at3 --pg "$PG_CONNINFO" --table public.events --name events_at --incremental-column at --mode append
expect_eq "... nothing new: existing, no snapshot" "0 existing $snaps" "$RC $(jo .outcome) $(snapshots events_at)"
ing at4 --pg "$PG_CONNINFO" --table public.events --name events_p --incremental-column payload --mode append
expect_eq "a text column is no incremental column: exit 1, invalid_argument" "1 invalid_argument" "$RC $(jo .error.code)"
ing at5 --pg "$PG_CONNINFO" --table public.events --name events_p --incremental-column nope --mode append
expect_eq "a missing incremental column: exit 1, invalid_argument" "1 invalid_argument" "$RC $(jo .error.code)"

# ======================================================================================
# 5. Errors
# ======================================================================================
echo "# 5. Errors (at $((SECONDS - START)) s)"
# err TAG WANT-EXIT WANT-CODE WANT-SQLSTATE ARGS...
err() {
  local tag=$1 rc=$2 code=$3 st=$4; shift 4
  ing "$tag" "$@"
  expect_eq "$tag: exit $rc, $code${st:+, SQLSTATE $st}" "$rc $code ${st:-null}" "$RC $(jo .error.code) $(jo .error.sqlstate)"
  [ -n "$(jo '.error.message // empty')" ] || fail "$tag: no error message: $(errtext)"
}
ing both --pg "$PG_CONNINFO" --table public.t --query 'SELECT 1' --name e1
expect_eq "--table and --query: usage, exit 2" 2 "$RC"
ing neither --pg "$PG_CONNINFO" --name e1
expect_eq "neither --table nor --query: usage, exit 2" 2 "$RC"
ing qreaders --pg "$PG_CONNINFO" --query 'SELECT 1 AS x' --readers 2 --name e1
expect_eq "a query with --readers 2: usage, exit 2" 2 "$RC"
# incremental with --mode replace starts again (README): every row, and a mark
ing increplace --pg "$PG_CONNINFO" --table public.events --incremental-column id --mode replace --name e_inc
expect_eq "--incremental-column with --mode replace: reads every row, sets the mark" \
  "0 created $(pg_psql 'SELECT count(*) FROM events') $(pg_psql 'SELECT max(id) FROM events')" \
  "$RC $(jo .outcome) $(jo .row_count) $(jo .incremental.to)"
ing badinf --pg "$PG_CONNINFO" --table public.t --infinity maybe --name e1
expect_eq "--infinity maybe: usage, exit 2" 2 "$RC"
ing badreaders --pg "$PG_CONNINFO" --table public.t --readers 0 --name e1
expect_eq "--readers 0: usage, exit 2" 2 "$RC"
before=$(warehouse_listing)
err unreachable 1 postgres_unavailable 08001 --pg "host=127.0.0.1 port=1 dbname=tarn_test user=tarn password=$PG_PASSWORD connect_timeout=5" --table public.t --name e1
err bad_password 1 postgres_error 28P01 --pg "$DSN_NOPW password=$BADPW" --table public.t --name e1
err bad_password_uri 1 postgres_error 28P01 --pg "postgresql://tarn:$BADPW@127.0.0.1:$PG_PORT/tarn_test" --table public.t --name e1
err no_database 1 postgres_error 3D000 --pg "host=127.0.0.1 port=$PG_PORT dbname=nope user=tarn password=$PG_PASSWORD" --table public.t --name e1
err no_table 1 postgres_error 42P01 --pg "$PG_CONNINFO" --table public.nope --name e1
err bad_query 1 postgres_error 42601 --pg "$PG_CONNINFO" --query 'SELEC 1' --name e1
err query_error 1 postgres_error 22012 --pg "$PG_CONNINFO" --query 'SELECT 1 / (id - id) AS x FROM t' --name e1
ing badkw --pg "host=127.0.0.1 port=$PG_PORT password=$PG_PASSWORD nosuchkeyword=1" --table public.t --name e1
expect_eq "a malformed DSN: exit 1 or 2" 1 "$((RC == 1 || RC == 2))"
# libpq quotes a URI it cannot parse whole, password included: tarn must not pass that on
n=0
for d in "postgresql://tarn:$PG_PASSWORD@[127.0.0.1:$PG_PORT/tarn_test" \
  "postgresql://tarn:$PWENC@[127.0.0.1:$PG_PORT/tarn_test" \
  "postgresql://tarn@127.0.0.1:$PG_PORT/tarn_test?password=$PWENC&bogus" \
  "$PG_CONNINFO nosuch='x" "host=127.0.0.1 password='$PG_PASSWORD"; do
  n=$((n + 1))
  ing "baddsn$n" --pg "$d" --table public.t --name e1
  expect_eq "malformed DSN $n: exit 1, invalid_argument or postgres_error, with a message" "1 yes" \
    "$RC $([[ $(jo .error.code) =~ ^(invalid_argument|postgres_error)$ && -n $(jo '.error.message // empty') ]] && echo yes)"
done
expect_listing "errors wrote nothing in the warehouse" "$before"
expect_eq "... no dataset e1" "" "$(meta_loc e1)"

# drift: a column added and one retyped
pg_psql "CREATE TABLE d (id int4, v text); INSERT INTO d VALUES (1, 'a'), (2, 'b')" >/dev/null
ing drift1 --pg "$PG_CONNINFO" --table public.d --name drift
expect_eq "drift: the first ingest" "0 created" "$RC $(jo .outcome)"
pg_psql "ALTER TABLE d ADD COLUMN extra int4; ALTER TABLE d ALTER COLUMN id TYPE int8" >/dev/null
meta=$(meta_loc drift)
ing drift2 --pg "$PG_CONNINFO" --table public.d --name drift
expect_eq "drift: exit 3, schema_mismatch" "3 schema_mismatch" "$RC $(jo .error.code)"
expect_eq "drift: added extra:int, retyped id int -> int64, nothing removed" "extra:int|id:int->int64|0" \
  "$(jo '"\([.error.drift.added[] | "\(.name):\(.type)"] | join(","))|\([.error.drift.retyped[] | "\(.name):\(.from)->\(.to)"] | join(","))|\(.error.drift.removed | length)"')"
expect_eq "drift: the catalog unchanged" "$meta" "$(meta_loc drift)"

# infinity: an error naming column and row, or null with --infinity null
pg_psql "CREATE TABLE inf (id int4 NOT NULL, born date NOT NULL, seen timestamptz, at timestamp);
  INSERT INTO inf VALUES (1, '2024-01-01', '2024-01-01 00:00:00+00', '2024-01-01'),
    (2, '2024-01-02', NULL, NULL), (3, 'infinity', '-infinity', 'infinity'),
    (4, '-infinity', 'infinity', '-infinity')" >/dev/null
ing inf1 --pg "$PG_CONNINFO" --table public.inf --name inf
expect_eq "an infinite date: exit 1, invalid_data" "1 invalid_data" "$RC $(jo .error.code)"
expect_match "... the message names the column and the row" '(born.*row|row.*born)' "$(jo .error.message)"
echo "    message: $(jo .error.message)"
expect_eq "... no dataset" "" "$(meta_loc inf)"
ing inf2 --pg "$PG_CONNINFO" --table public.inf --name inf --infinity null
expect_eq "--infinity null: created, 4 rows" "0 created 4" "$RC $(jo .outcome) $(jo .row_count)"
expect_eq "... the infinities are null" "1|t|t|t 2|t|f|f 3|f|f|f 4|f|f|f" \
  "$(tq inf 'SELECT id, "born" IS NOT NULL, "seen" IS NOT NULL, "at" IS NOT NULL FROM {t} ORDER BY id' | sed 's/true/t/g; s/false/f/g' | paste -sd' ')"
expect_eq "... born (NOT NULL date) becomes optional" "id born seen at|true false false false" \
  "$(jq -r '.schemas[-1].fields | "\([.[].name] | join(" "))|\([.[].required | tostring] | join(" "))"' "$(meta_file inf)")"
pg_psql "CREATE TABLE nanx (id int4, amount numeric(10,2)); INSERT INTO nanx VALUES (1, 1.5), (2, 'NaN')" >/dev/null
ing nan1 --pg "$PG_CONNINFO" --table public.nanx --name nanx
expect_eq "numeric(10,2) NaN: exit 1, invalid_data" "1 invalid_data" "$RC $(jo .error.code)"
expect_match "... naming the column" 'amount' "$(jo .error.message)"

# the password from PGPASSWORD or ~/.pgpass on the command line
pg_psql "CREATE TABLE small (id int4 NOT NULL, name text); INSERT INTO small VALUES (1, 'one'), (2, 'two'), (3, NULL)" >/dev/null
LAST=envpw
PGPASSWORD=$PG_PASSWORD "$BIN" ingest --pg "$DSN_NOPW" --table public.small --name small_env --lake "$LAKE" --json \
  >"$OUT/envpw.out" 2>"$OUT/envpw.err"
expect_eq "the command line takes the password from PGPASSWORD" "0 created" "$? $(jo .outcome)"
mkdir -p "$WORK/home"
printf '127.0.0.1:%s:tarn_test:tarn:%s\n' "$PG_PORT" "$PG_PASSWORD" >"$WORK/home/.pgpass"
chmod 600 "$WORK/home/.pgpass"
LAST=pgpass
HOME=$WORK/home "$BIN" ingest --pg "$DSN_NOPW" --table public.small --name small_env --lake "$LAKE" --json \
  >"$OUT/pgpass.out" 2>"$OUT/pgpass.err"
expect_eq "... and from ~/.pgpass: the same rows, existing" "0 existing" "$? $(jo .outcome)"

# ======================================================================================
# 6. HTTP: POST /ingest/db
# ======================================================================================
echo "# 6. HTTP: POST /ingest/db (at $((SECONDS - START)) s)"
"$BIN" token new t_w --scope write >"$WORK/tok.w"
"$BIN" token new t_r --scope read >"$WORK/tok.r"
TOKW=$(head -1 "$WORK/tok.w"); TOKR=$(head -1 "$WORK/tok.r")
{ tail -n +2 "$WORK/tok.w"; tail -n +2 "$WORK/tok.r"; } >"$WORK/secrets.ini"
chmod 600 "$WORK/secrets.ini"
# The daemon's own environment and ~/.pgpass hold the password: a client's DSN must not get it.
# No [ingest] db_hosts here (any host): nothing but the DSN rules stands in the way.
if ! HOME=$WORK/home PGPASSWORD=$PG_PASSWORD PGPASSFILE=$WORK/home/.pgpass PGHOST=127.0.0.1 PGPORT=$PG_PORT \
  PGUSER=tarn PGDATABASE=tarn_test start_serve "$WORK/serve.log" --lake "$LAKE" --listen 127.0.0.1:0 \
  --secrets "$WORK/secrets.ini"; then
  fail "tarn serve did not start"
  finish
  exit 1
fi
BASE="http://$ADDR"
# postdb TAG JSON [CURL-ARGS...]: POST /ingest/db with the write token; body in $OUT/TAG.out.
postdb() {
  local tag=$1 body=$2; shift 2
  LAST=$tag
  printf '%s' "$body" >"$WORK/body.json"
  CODE=$(curl -sS -o "$OUT/$tag.out" -w '%{http_code}' -H "Authorization: Bearer $TOKW" \
    -H "Content-Type: ${CT:-application/json}" "$@" --data-binary "@$WORK/body.json" "$BASE/ingest/db" 2>"$OUT/$tag.err")
}
body() { jq -cn --arg dsn "$1" "$2"; }
postdb h_ok "$(body "$PG_CONNINFO" '{dsn: $dsn, table: "public.small", name: "web"}')"
expect_eq "POST /ingest/db: 200 created, 3 rows" "200 created 3 false" "$CODE $(jo .outcome) $(jo .row_count) $(jo .existing)"
[ "$CODE" = 200 ] || echo "    $(errtext)"
expect_eq "... every field of the answer" \
  "object string number string string number array array number 127.0.0.1 $PG_PORT tarn_test tarn public.small" \
  "$(jo '"\(.manifest | type) \(.fingerprint | type) \(.parquet_size | type) \(.parquet_key | type) \(.outcome | type) \(.snapshot_id | type) \(.columns | type) \(.warnings | type) \(.readers | type) \(.source.host) \(.source.port) \(.source.database) \(.source.user) \(.source.table)"')"
expect_eq "... columns with name, type, nullable, pg_type" "id:int:false:true name:string:true:true" \
  "$(jo '[.columns[] | "\(.name):\(.type):\(.nullable):\(.pg_type | type == "string")"] | join(" ")')"
expect_eq "... the manifest view: datasets.web, 3 rows, one object" "web 3 1" \
  "$(jo '.manifest | "\(.name) \(.row_count) \(.objects | length)"')"
WEBKEY=$(jo .parquet_key)
WEBSNAP=$(jo .snapshot_id)
# the journal records the commit (an `ingest` event for the dataset, naming its source)
jev=$(curl -sS -H "Authorization: Bearer $TOKR" "$BASE/journal/recent?limit=50" |
  jq -c --arg s "$WEBSNAP" '[.events[] | select(.action == "ingest" and .entity_type == "web" and (.new_value.snapshot_id | tostring) == $s)] | .[0] | [.new_value.rows, .new_value.source, .new_value.outcome, .actor]')
expect_eq "... recorded in the journal: rows, source, outcome, the token's name" \
  '[3,"postgres:public.small","created","t_w"]' "$jev"
postdb h_uri "$(body "postgresql://tarn:$PG_PASSWORD@127.0.0.1:$PG_PORT/tarn_test" '{dsn: $dsn, table: "public.small", name: "web"}')"
expect_eq "a postgresql:// DSN, same table again: 200 existing, the same key" "200 existing true $WEBKEY" \
  "$CODE $(jo .outcome) $(jo .existing) $(jo .parquet_key)"
postdb h_query "$(body "$PG_CONNINFO" '{dsn: $dsn, query: "SELECT id, upper(name) AS name FROM small WHERE id < 3", name: "webq", mode: "append"}')"
expect_eq "a query: 200 created, 2 rows, source.query" "200 created 2 SELECT id, upper(name) AS name FROM small WHERE id < 3" \
  "$CODE $(jo .outcome) $(jo .row_count) $(jo .source.query)"
expect_eq "... a query's columns are optional" "true true" "$(jo '[.columns[].nullable | tostring] | join(" ")')"
postdb h_inc "$(body "$PG_CONNINFO" '{dsn: $dsn, table: "public.events", name: "events_web", mode: "append", incremental_column: "id", readers: 2}')"
expect_eq "incremental over HTTP, two readers: 200, every row, incremental.to = max(id)" \
  "200 created $(pg_psql 'SELECT count(*) FROM events') $(pg_psql 'SELECT max(id) FROM events') 2" \
  "$CODE $(jo .outcome) $(jo .row_count) $(jo .incremental.to) $(jo .readers)"
postdb h_incnomode "$(body "$PG_CONNINFO" '{dsn: $dsn, table: "public.events", name: "events_web", incremental_column: "id"}')"
expect_eq "incremental_column without mode: 400 invalid_argument, or nothing new (existing); never a replace" "ok" \
  "$({ [ "$CODE $(jo .error.code)" = "400 invalid_argument" ] || [ "$CODE $(jo .outcome)" = "200 existing" ]; } && echo ok || echo "$CODE $(jo .outcome) $(jo .row_count) rows")"
# refusals
CT=text/plain postdb h_415 "$(body "$PG_CONNINFO" '{dsn: $dsn, table: "public.small", name: "web"}')"
expect_eq "a body that is not application/json: 415" 415 "$CODE"
bad() { # TAG JQ-BODY [DSN] [MESSAGE-REGEX]
  postdb "$1" "$(body "${3:-$PG_CONNINFO}" "$2")"
  expect_eq "$1: 400 invalid_argument" "400 invalid_argument" "$CODE $(jo .error.code)"
  [ -z "${4:-}" ] || expect_match "$1: the message names it" "$4" "$(jo .error.message)"
}
bad h_both '{dsn: $dsn, table: "public.small", query: "SELECT 1", name: "web"}'
bad h_neither '{dsn: $dsn, name: "web"}'
bad h_socket '{dsn: $dsn, table: "public.small", name: "web"}' "host=/tmp port=$PG_PORT dbname=tarn_test user=tarn" 'host|socket'
bad h_socket_real '{dsn: $dsn, table: "public.small", name: "web"}' "host=$PG_DIR port=$PG_PORT dbname=tarn_test user=tarn" 'host|socket'
bad h_socket_list '{dsn: $dsn, table: "public.small", name: "web"}' "host=127.0.0.1,$PG_DIR port=$PG_PORT,$PG_PORT dbname=tarn_test user=tarn password=$PG_PASSWORD" 'host|socket'
bad h_socket_uri '{dsn: $dsn, table: "public.small", name: "web"}' "postgresql://tarn@/tarn_test?host=$PG_DIR&port=$PG_PORT" 'host|socket'
bad h_passfile '{dsn: $dsn, table: "public.small", name: "web"}' "$DSN_NOPW passfile=$WORK/home/.pgpass" 'passfile'
bad h_passfile_uri '{dsn: $dsn, table: "public.small", name: "web"}' "postgresql://tarn@127.0.0.1:$PG_PORT/tarn_test?passfile=$WORK/home/.pgpass" 'passfile'
bad h_service '{dsn: $dsn, table: "public.small", name: "web"}' "service=foo" 'service'
bad h_sslkey '{dsn: $dsn, table: "public.small", name: "web"}' "$PG_CONNINFO sslkey=/etc/ssl/private/x.key" 'sslkey'
bad h_mode '{dsn: $dsn, table: "public.small", name: "web", mode: "sideways"}'
bad h_readers '{dsn: $dsn, table: "public.small", name: "web", readers: 0}'
bad h_infinity '{dsn: $dsn, table: "public.small", name: "web", infinity: "maybe"}'
bad h_qreaders '{dsn: $dsn, query: "SELECT 1 AS x", name: "web2", readers: 2}'
postdb h_baddsn "$(body "postgresql://tarn:$PG_PASSWORD@[127.0.0.1:$PG_PORT/tarn_test" '{dsn: $dsn, table: "public.small", name: "web"}')"
expect_eq "a DSN libpq cannot parse: 400 invalid_argument" "400 invalid_argument" "$CODE $(jo .error.code)"
# a table is a name, never SQL: spliced in, this would read a subquery
postdb h_inject "$(body "$PG_CONNINFO" '{dsn: $dsn, table: "(SELECT 1 AS id, current_user::text AS name) s", name: "web_inject"}')"
expect_eq "a table that is SQL, not a name: refused (400), no dataset" "400 " "$CODE $(meta_loc web_inject)"
echo "    answered $CODE $(jo .error.code) $(jo .error.sqlstate): $(jo .error.message)"
LAST=h_badjson
CODE=$(curl -sS -o "$OUT/h_badjson.out" -w '%{http_code}' -H "Authorization: Bearer $TOKW" \
  -H 'Content-Type: application/json' --data-binary '{"dsn": ' "$BASE/ingest/db")
expect_eq "malformed JSON: 400 invalid_argument" "400 invalid_argument" "$CODE $(jo .error.code)"
# The daemon's PGPASSWORD, PGPASSFILE and ~/.pgpass are not the client's
postdb h_envpw "$(body "$DSN_NOPW" '{dsn: $dsn, table: "public.small", name: "web_nopw"}')"
expect_eq "a DSN without a password, the daemon's PGPASSWORD and ~/.pgpass set: refused (not 200), no dataset" \
  "no " "$([ "$CODE" = 200 ] && echo yes || echo no) $(meta_loc web_nopw)"
echo "    answered $CODE $(jo .error.code) $(jo .error.sqlstate): $(jo .error.message)"
postdb h_envdb "$(body "password=$PG_PASSWORD" '{dsn: $dsn, table: "public.small", name: "web_env"}')"
expect_eq "a DSN of only a password: the daemon's PGHOST/PGPORT/PGUSER/PGDATABASE are not used (not 200)" \
  "no " "$([ "$CODE" = 200 ] && echo yes || echo no) $(meta_loc web_env)"
echo "    answered $CODE $(jo .error.code): $(jo .error.message)"
# credentials, reachability, db_hosts
postdb h_badpw "$(body "$DSN_NOPW password=$BADPW" '{dsn: $dsn, table: "public.small", name: "web"}')"
expect_eq "a wrong password: 400 postgres_error 28P01" "400 postgres_error 28P01" "$CODE $(jo .error.code) $(jo .error.sqlstate)"
postdb h_notable "$(body "$PG_CONNINFO" '{dsn: $dsn, table: "public.nope", name: "web"}')"
expect_eq "a missing table: 400 postgres_error 42P01" "400 postgres_error 42P01" "$CODE $(jo .error.code) $(jo .error.sqlstate)"
postdb h_unreach "$(body "host=127.0.0.1 port=1 dbname=tarn_test user=tarn password=$PG_PASSWORD" '{dsn: $dsn, table: "public.small", name: "web"}')"
expect_eq "unreachable: 502 postgres_unavailable 08001" "502 postgres_unavailable 08001" \
  "$CODE $(jo .error.code) $(jo .error.sqlstate)"
# drift: the table d has changed since datasets.drift was made
meta=$(meta_loc drift)
postdb h_drift "$(body "$PG_CONNINFO" '{dsn: $dsn, table: "public.d", name: "drift"}')"
expect_eq "drift over HTTP: 409 schema_mismatch with the drift" "409 schema_mismatch extra" \
  "$CODE $(jo .error.code) $(jo '[.error.drift.added[].name] | join(",")')"
expect_eq "... the catalog unchanged" "$meta" "$(meta_loc drift)"
postdb h_inf "$(body "$PG_CONNINFO" '{dsn: $dsn, table: "public.inf", name: "inf_web"}')"
expect_eq "infinity over HTTP: 400 invalid_data" "400 invalid_data" "$CODE $(jo .error.code)"
# who may
LAST=h_401
CODE=$(curl -sS -o "$OUT/h_401.out" -w '%{http_code}' -H 'Content-Type: application/json' \
  --data-binary "$(body "$PG_CONNINFO" '{dsn: $dsn, table: "public.small", name: "web"}')" "$BASE/ingest/db")
expect_eq "without a token: 401" 401 "$CODE"
LAST=h_403
CODE=$(curl -sS -o "$OUT/h_403.out" -w '%{http_code}' -H "Authorization: Bearer $TOKR" -H 'Content-Type: application/json' \
  --data-binary "$(body "$PG_CONNINFO" '{dsn: $dsn, table: "public.small", name: "web"}')" "$BASE/ingest/db")
expect_eq "with a read token: 403" 403 "$CODE"
curl -sS -H "Authorization: Bearer $TOKR" "$BASE/metrics" >"$OUT/metrics.txt"
totals=$(grep -aE '^tarn_ingest_total' "$OUT/metrics.txt" | cat -v | tr '\n' ' ')
expect_match "metrics: the committed postgres ingests are counted by outcome" \
  'tarn_ingest_total\{[^}]*outcome="created"[^}]*\} [1-9]' "$totals"
kill -TERM "$SERVE_PID"
wait_exit "$SERVE_PID" 20
expect_eq "tarn serve exits 0 on SIGTERM" 0 "$EXIT_CODE"
cp "$WORK/serve.log" "$OUT/serve.log"
grep -a -A14 'ERROR: AddressSanitizer\|runtime error:' "$WORK/serve.log" | sed 's/^/    serve: /' | head -30

# [ingest] db_hosts: where the daemon may connect for clients. The server itself is not
# listed: every way of reaching it must be refused before connecting.
printf '[ingest]\ndb_hosts = 127.0.0.1:1, localhost:1, example.invalid:%s\n' "$PG_PORT" >"$WORK/tarn.ini"
if start_serve "$WORK/serve2.log" --lake "$LAKE" --listen 127.0.0.1:0 --secrets "$WORK/secrets.ini" --config "$WORK/tarn.ini"; then
  BASE="http://$ADDR"
  h2() { # TAG DSN WANT-STATUS-AND-CODE
    postdb "$1" "$(body "$2" '{dsn: $dsn, table: "public.small", name: "web_hosts"}')"
    expect_eq "db_hosts: $1" "$3" "$CODE $(jo .error.code)"
  }
  h2 listed_unreachable "host=127.0.0.1 port=1 dbname=tarn_test user=tarn password=$PG_PASSWORD" "502 postgres_unavailable"
  h2 server_not_listed "$PG_CONNINFO" "403 forbidden"
  h2 server_not_listed_uri "postgresql://tarn:$PG_PASSWORD@127.0.0.1:$PG_PORT/tarn_test" "403 forbidden"
  h2 host_not_listed "host=127.0.0.2 port=1 dbname=tarn_test user=tarn password=$PG_PASSWORD" "403 forbidden"
  h2 listed_host_other_port "host=localhost port=$PG_PORT dbname=tarn_test user=tarn password=$PG_PASSWORD" "403 forbidden"
  h2 host_list_one_not_listed "host=127.0.0.1,127.0.0.1 port=1,$PG_PORT dbname=tarn_test user=tarn password=$PG_PASSWORD" "403 forbidden"
  # hostaddr is where libpq connects (no name lookup): a listed name does not cover it
  postdb h2_hostaddr "$(body "host=example.invalid hostaddr=127.0.0.1 port=$PG_PORT dbname=tarn_test user=tarn password=$PG_PASSWORD" '{dsn: $dsn, table: "public.small", name: "web_hosts"}')"
  expect_eq "db_hosts: a listed host name with hostaddr= an unlisted address: refused (403 or 400), no dataset" \
    "yes " "$([[ $CODE == 403 || $CODE == 400 ]] && echo yes || echo "no: $CODE") $(meta_loc web_hosts)"
  kill -TERM "$SERVE_PID"
  wait_exit "$SERVE_PID" 20
  expect_eq "tarn serve (db_hosts) exits 0 on SIGTERM" 0 "$EXIT_CODE"
else
  fail "tarn serve with [ingest] db_hosts did not start"
fi
cp "$WORK/serve2.log" "$OUT/serve2.log"
grep -a -A14 'ERROR: AddressSanitizer\|runtime error:' "$WORK/serve2.log" | sed 's/^/    serve: /' | head -30

# ======================================================================================
# 7. The server killed while tarn streams (replace on an existing dataset)
# ======================================================================================
echo "# 7. The server killed while tarn streams (replace on an existing dataset) (at $((SECONDS - START)) s)"
caught=0
for attempt in 1 2 3; do
  # a changed table: a replace that finished would commit a new snapshot
  pg_psql "UPDATE accounts SET balance = balance + 1 WHERE id = $attempt; UPDATE accounts SET balance = balance - 1 WHERE id = $((attempt + 1))" >/dev/null
  meta=$(meta_loc acc1)
  wbefore=$(warehouse_listing)
  "$BIN" ingest --pg "$PG_CONNINFO" --table public.accounts --name acc1 --lake "$LAKE" --json \
    >"$OUT/kill_pg$attempt.out" 2>"$OUT/kill_pg$attempt.err" &
  pid=$!
  PIDS+=("$pid")
  LAST=kill_pg$attempt
  if stop_mid_copy "$pid"; then
    caught=1
    pg_stop
    kill -CONT "$pid"
    wait_exit "$pid" 60
    expect_eq "PostgreSQL stopped (immediate) mid-stream: tarn exits 1, postgres_unavailable" "1 postgres_unavailable" \
      "$EXIT_CODE $(jo .error.code)"
    expect_match "... the error names the lost connection (SQLSTATE 08006, 08003, 08000 or 57P01)" \
      '^(08006|08003|08000|57P01) .*(connection|terminat|shut)' "$(jo .error.sqlstate) $(jo .error.message)"
    echo "    error: $(jo .error.sqlstate) $(jo .error.message)"
    expect_eq "... the dataset's current metadata unchanged" "$meta" "$(meta_loc acc1)"
    expect_listing "... nothing new in the warehouse" "$wbefore"
    expect_eq "... the data still the one-reader ingest's: 1000000 rows, the constant sum" "1000000|1000000000" \
      "$(tq acc1 'SELECT count(*), sum(balance) FROM {t}')"
    break
  fi
  wait "$pid" 2>/dev/null
  echo "    attempt $attempt: the ingest ended before it was caught streaming; again"
done
expect_eq "an ingest was caught streaming when PostgreSQL stopped" 1 "$caught"
pg_stop
err pg_down 1 postgres_unavailable 08001 --pg "$PG_CONNINFO connect_timeout=5" --table public.t --name e1

# ======================================================================================
# 8. The password, right or wrong, appears nowhere
# ======================================================================================
echo "# 8. The password, right or wrong, appears nowhere (at $((SECONDS - START)) s)"
check "(test check) the scan finds a password where there is one" grep -qaF -- "$PG_PASSWORD" "$WORK/home/.pgpass"
for pw in "$PG_PASSWORD" "$PWENC" "$BADPW"; do
  leaks=$( { grep -rlaF -- "$pw" "$OUT" "$LAKE"; } 2>/dev/null)
  expect_eq "password ${pw:0:6}…: in no output, server log, /metrics or lake file ($(find "$OUT" "$LAKE" -type f | wc -l) files)" "" "$leaks"
done
echo "    $(find "$OUT" -type f | wc -l) output files; $((SECONDS - START)) s"
finish
