#!/usr/bin/env bash
# test_action_log_api.sh - GET /action-log/events on the real `tarn serve`: default.action_log
# made with `tarn table create` and filled with `tarn table append` (copies of event ids
# included), paged through with curl and jq, every answer compared with DuckDB reading the
# table's Parquet files (action_log_duckdb.mjs). Needs E2E_NODE_MODULES; ctest sets it.
source "$(dirname "$0")/lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"
: "${E2E_NODE_MODULES:?set E2E_NODE_MODULES to tests/node_modules}"
cd "$WORK"
export TARN_LAKE="$WORK/lake"
DATA="$WORK/lake/warehouse/default/action_log/data"
T() { TARN_LOG_LEVEL=warn "$BIN" table "$@"; }

start_serve "$WORK/serve.log" --listen 127.0.0.1:0 --log-level debug || exit 1
BASE="http://$ADDR/action-log/events"

# before the sink has made the table
code=$(curl -s -o b.json -w '%{http_code}' "$BASE")
expect_eq "no table yet: 404" 404 "$code"
expect_eq "no table yet: code not_found" not_found "$(jq -r .error.code b.json)"
expect_match "no table yet: the message says who creates it" 'does not exist yet.*sink' \
  "$(jq -r .error.message b.json)"

T create default.action_log --schema "event_id string not null, action_type_id string not null, \
action_name string not null, object_type_id string not null, object_id string, \
tenant string not null, actor_sub string not null, actor_email string, organization_id string, \
status string not null, target_classification string, applied_at_ms long not null, \
applied_at timestamptz not null, parameters string, previous_state string, new_state string" \
  --partition "day(applied_at)" --sort "applied_at_ms asc nulls-last" >/dev/null
expect_eq "tarn table create default.action_log" 0 "$?"
code=$(curl -s -o b.json -w '%{http_code}' "$BASE?tenant=t1")
expect_eq "an empty table: 200" 200 "$code"
expect_eq "an empty table: no events, no cursor" '[]null' "$(jq -c '.events, .next_cursor' b.json | tr -d '\n')"

node "$HERE/action_log_duckdb.mjs" gen "$WORK"
T append default.action_log --jsonl a.jsonl >/dev/null &&
  T append default.action_log --jsonl b.jsonl >/dev/null &&
  T append default.action_log --jsonl copies.jsonl >/dev/null
expect_eq "three commits (the last one with copies of event ids)" 0 "$?"

# page QUERY LIMIT OUT: follows next_cursor to the end; every event a line in OUT.
page() {
  local qs=$1 limit=$2 out=$3 cursor="" n=0 url code
  : >"$out"
  while :; do
    url="$BASE?${qs:+$qs&}limit=$limit${cursor:+&cursor=$cursor}"
    code=$(curl -s -o p.json -w '%{http_code}' "$url")
    if [ "$code" != 200 ]; then
      echo "GET $url: $code $(cat p.json)" >&2
      return 1
    fi
    jq -c '.events[]' p.json >>"$out"
    [ "$(jq '.events | length' p.json)" -le "$limit" ] || return 1
    cursor=$(jq -r '.next_cursor // empty' p.json)
    [ -z "$cursor" ] && return 0
    [ "$(jq '.events | length' p.json)" -eq "$limit" ] || return 1 # short pages end
    n=$((n + 1))
    [ "$n" -le 1000 ] || return 1
  done
}

# compare DESCRIPTION QUERY_STRING LIMIT QUERY_JSON
compare() {
  if page "$2" "$3" got.jsonl &&
    node "$HERE/action_log_duckdb.mjs" check "$DATA" got.jsonl "$4" >cmp.txt; then
    ok "$1 (limit $3): $(cut -c8- cmp.txt)"
  else
    fail "$1 (limit $3): $(cat cmp.txt 2>/dev/null)"
  fi
}

D2=$(( $(date -u -d 2026-12-03 +%s) * 1000 ))
D5=$(( $(date -u -d 2026-12-06 +%s) * 1000 ))
compare "everything" "" 1000 '{}'
compare "everything" "" 7 '{}'
compare "everything" "" 1 '{}'
compare "one tenant" "tenant=t1" 7 '{"tenant":"t1"}'
compare "tenant and actor" "tenant=t2&actor_sub=u3" 3 '{"tenant":"t2","actor_sub":"u3"}'
compare "one object" "object_id=obj-2" 5 '{"object_id":"obj-2"}'
compare "since and until, RFC 3339 with an offset" \
  "since=2026-12-03T01:00:00%2B01:00&until=2026-12-06T00:00:00.000Z" 4 \
  "{\"since_ms\":$D2,\"until_ms\":$D5}"
compare "since and until, milliseconds" "since=$D2&until=$D5&tenant=t0" 2 \
  "{\"since_ms\":$D2,\"until_ms\":$D5,\"tenant\":\"t0\"}"
compare "since only" "since=2026-12-05T12:00:00Z" 6 \
  "{\"since_ms\":$(( $(date -u -d '2026-12-05 12:00' +%s) * 1000 ))}"

n=$(jq -s 'map(.event_id) | unique | length' got.jsonl)
expect_eq "one row per event_id" "$(wc -l <got.jsonl)" "$n"
curl -s "$BASE?limit=1000" >all.json
expect_eq "copies moved later win: their status shows" 6 \
  "$(jq '[.events[] | select(.status | startswith("copy-"))] | length' all.json)"
expect_eq "parameters is a JSON value, not text" object \
  "$(jq -r '[.events[] | select(.parameters != null)][0].parameters | type' all.json)"
expect_match "applied_at is RFC 3339 with milliseconds" '^2026-12-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z$' \
  "$(jq -r '.events[0].applied_at' all.json)"

# pruning: a query of one day reads that day's files only (the debug line of the query)
day=2026-12-04
nday=$(find "$DATA/applied_at_day=$day" -name '*.parquet' | wc -l)
nall=$(find "$DATA" -name '*.parquet' | wc -l)
before=$(grep -c 'msg="action log page"' "$WORK/serve.log")
curl -s -o b.json "$BASE?since=${day}T00:00:00Z&until=2026-12-05T00:00:00Z&limit=1000"
for _ in $(seq 1 50); do
  [ "$(grep -c 'msg="action log page"' "$WORK/serve.log")" -gt "$before" ] && break
  sleep 0.05
done
line=$(grep 'msg="action log page"' "$WORK/serve.log" | tail -1)
read_files=$(sed -n 's/.* files_read=\([0-9]*\).*/\1/p' <<<"$line")
expect_match "one day: the walk used one window" ' days=1 windows=1 ' "$line"
if [ -n "$read_files" ] && [ "$nday" -gt 0 ] && [ "$read_files" -le $((2 * nday)) ] &&
  [ "$nall" -gt $((2 * nday)) ]; then
  ok "one day: $read_files data files read (the day has $nday, the table $nall)"
else
  fail "one day: files_read=$read_files, the day has $nday files, the table $nall"
fi

# refusals
bad() { # DESCRIPTION QUERY_STRING STATUS CODE MESSAGE_REGEX
  local code
  code=$(curl -s -o b.json -w '%{http_code}' "$BASE?$2")
  if [ "$code" = "$3" ] && [ "$(jq -r .error.code b.json)" = "$4" ] &&
    [[ "$(jq -r .error.message b.json)" =~ $5 ]]; then
    ok "$1"
  else
    fail "$1: $code $(cat b.json)"
  fi
}
bad "limit=0 is 400 naming limit" "limit=0" 400 invalid_argument 'limit.*1 to 1000'
bad "limit=1001 is 400" "limit=1001" 400 invalid_argument 'limit'
bad "a bad since is 400 naming since and the forms" "since=last%20week" 400 invalid_argument \
  '^since: .*RFC 3339.*milliseconds'
bad "since after until is 400" "since=2026-12-02&until=2026-12-01" 400 invalid_argument \
  'since.*before until'
bad "an unknown parameter is 400" "tenant_id=t1" 400 invalid_argument 'tenant_id'
bad "a garbage cursor is 400 invalid_cursor" "cursor=xyz!" 400 invalid_cursor 'cursor'
cursor=$(curl -s "$BASE?limit=2&tenant=t1" | jq -r .next_cursor)
bad "a cursor of another query is 400 invalid_cursor" "limit=2&tenant=t2&cursor=$cursor" 400 \
  invalid_cursor 'another query'
code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE?limit=5&tenant=t1&cursor=$cursor")
expect_eq "the cursor continues its own query, with another limit" 200 "$code"

kill -TERM "$SERVE_PID"
wait_exit "$SERVE_PID" 10
expect_eq "tarn serve stops cleanly" 0 "$EXIT_CODE"
TARN_ACTION_LOG_TABLE=nodot "$BIN" serve --listen 127.0.0.1:0 2>err.txt
expect_eq "[action_log] table that is not NAMESPACE.NAME: exit 2" 2 "$?"
expect_match "... naming the setting and where it came from" \
  'action_log\] table \(env TARN_ACTION_LOG_TABLE\)' "$(cat err.txt)"
finish
