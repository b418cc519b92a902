#!/usr/bin/env bash
# End-to-end: `tarn serve` with named buckets (primary, rescue, extra on local disk, and an
# s3 bucket on s3rver): streamed objects, caps, rescue fallback, the error journal across
# a restart, probes, and the secrets file rules.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_s3.sh"

S3DIR=$WORK/s3rver
storage_cleanup() {
  s3rver_stop "$S3DIR"
  cleanup
}
trap storage_cleanup EXIT

mkdir -p "$WORK/main" "$WORK/spare" "$WORK/misc"
CFG=$WORK/tarn.ini
cat >"$CFG" <<EOF
[bucket.main]
role = primary
path = $WORK/main

[bucket.spare]
role = rescue
path = $WORK/spare

[bucket.misc]
backend = local
path = $WORK/misc

[storage]
max_object_size = 64MiB
probe_interval = 300ms
journal_flush_age = 200ms
EOF

start_serve "$WORK/serve.log" --config "$CFG" --lake "$WORK/lake" --listen 127.0.0.1:0 || exit 1
BASE="http://$ADDR"
OBJ="$BASE/storage/buckets"
expect_match "start-up names the buckets" 'msg="tarn serve started" .* buckets=3 primary=main' \
  "$(cat "$WORK/serve.log")"

# ---- buckets and probes ----
for _ in $(seq 1 100); do
  body=$(curl -sS "$OBJ")
  [ "$(jq '[.[] | select(.reachable == true)] | length' <<<"$body")" = 3 ] && break
  sleep 0.05
done
expect_eq "GET /storage/buckets lists three buckets in order" "main spare misc" \
  "$(jq -r '[.[].name] | join(" ")' <<<"$body")"
expect_eq "roles" "primary rescue extra" "$(jq -r '[.[].role] | join(" ")' <<<"$body")"
expect_eq "backends" "local local local" "$(jq -r '[.[].backend] | join(" ")' <<<"$body")"
expect_eq "the periodic probe found all reachable" "true true true" \
  "$(jq -r '[.[].reachable] | map(tostring) | join(" ")' <<<"$body")"
expect_match "latency_ms and last_probe are set" '^[0-9.e-]+ 20[0-9-]+T' \
  "$(jq -r '.[0] | "\(.latency_ms) \(.last_probe)"' <<<"$body")"
expect_eq "no error on a healthy bucket" null "$(jq -r '.[0].last_error' <<<"$body")"
first=$(jq -r '.[0].last_probe' <<<"$body")
sleep 0.8
expect_match "probes repeat on their interval" . \
  "$( [ "$(curl -sS "$OBJ" | jq -r '.[0].last_probe')" != "$first" ] && echo yes)"
# A probe object exists for the instant of its put/head/delete: look until none is there.
probe_files() { find "$WORK/main" "$WORK/spare" "$WORK/misc" -path '*_tarn_probe*' -type f; }
# (The verdict is what the loop saw: a second look could catch the next probe in flight.)
left=yes
for _ in $(seq 1 300); do [ -z "$(probe_files)" ] && { left=; break; }; sleep 0.01; done
check "probes leave nothing behind" test -z "$left"
m=$(curl -sS "$BASE/metrics")
expect_match "reachable gauge" 'tarn_storage_bucket_reachable\{bucket="main"\} 1' "$m"
expect_match "probe latency gauge" 'tarn_storage_probe_latency_seconds\{bucket="misc"\} [0-9]' "$m"

# ---- objects ----
code=$(curl -sS -o "$WORK/b" -w '%{http_code}' -X PUT --data-binary 'hello, bucket' \
  "$OBJ/misc/objects/greetings/hello.txt")
expect_eq "PUT is 201" 201 "$code"
expect_eq "PUT answers the size" 13 "$(jq -r .size "$WORK/b")"
curl -sS -D "$WORK/h" -o "$WORK/b" "$OBJ/misc/objects/greetings/hello.txt"
expect_eq "GET returns the bytes" "hello, bucket" "$(cat "$WORK/b")"
expect_match "GET has Content-Length" $'Content-Length: 13\r' "$(cat "$WORK/h")"
expect_match "GET is application/octet-stream" 'Content-Type: application/octet-stream' "$(cat "$WORK/h")"
curl -sS -I -o /dev/null -D "$WORK/h" "$OBJ/misc/objects/greetings/hello.txt"
expect_match "HEAD is 200 with the length" $'200.*Content-Length: 13\r' "$(tr -d '\n' <"$WORK/h")"
check "the object is a file in the bucket's directory" test -f "$WORK/misc/greetings/hello.txt"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$OBJ/misc/objects?prefix=greetings/")
expect_eq "listing answers" 200 "$code"
code=$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE "$OBJ/misc/objects/greetings/hello.txt")
expect_eq "DELETE on an extra bucket is 204" 204 "$code"
code=$(curl -sS -o "$WORK/b" -w '%{http_code}' "$OBJ/misc/objects/greetings/hello.txt")
expect_eq "GET after DELETE is 404" 404 "$code"
expect_eq "404 body" not_found "$(jq -r .error.code "$WORK/b")"

# ---- a big streamed PUT and GET: byte-exact, memory bounded ----
head -c $((50 * 1024 * 1024)) /dev/urandom >"$WORK/big.bin"
hwm() { awk '/VmHWM/ {print $2}' "/proc/$SERVE_PID/status"; }
before=$(hwm)
code=$(curl -sS -o "$WORK/b" -w '%{http_code}' -T "$WORK/big.bin" "$OBJ/main/objects/big/50mb.bin")
expect_eq "50 MiB PUT (declared length) is 201" 201 "$code"
code=$(curl -sS -o "$WORK/b" -w '%{http_code}' -T - -H 'Transfer-Encoding: chunked' \
  "$OBJ/misc/objects/big/50mb-chunked.bin" <"$WORK/big.bin")
expect_eq "50 MiB PUT (chunked) is 201" 201 "$code"
curl -sS -o "$WORK/back.bin" "$OBJ/main/objects/big/50mb.bin"
check "50 MiB GET is byte-exact" cmp -s "$WORK/big.bin" "$WORK/back.bin"
curl -sS -o "$WORK/back2.bin" "$OBJ/misc/objects/big/50mb-chunked.bin"
check "the chunked upload is byte-exact" cmp -s "$WORK/big.bin" "$WORK/back2.bin"
after=$(hwm)
grew=$(( (after - before) / 1024 ))
echo "     (peak RSS grew by ${grew} MiB over 200 MiB of uploads and downloads)"
check "peak RSS grew by less than 25 MiB (bodies are streamed, not buffered)" test "$grew" -lt 25

# ---- refusals ----
head -c $((65 * 1024 * 1024)) /dev/zero >"$WORK/huge.bin"
code=$(curl -sS -o "$WORK/b" -w '%{http_code}' -T "$WORK/huge.bin" "$OBJ/misc/objects/huge.bin")
expect_eq "over max_object_size is 413" 413 "$code"
expect_eq "413 body" payload_too_large "$(jq -r .error.code "$WORK/b")"
code=$(curl -sS -o "$WORK/b" -w '%{http_code}' -T - -H 'Transfer-Encoding: chunked' \
  "$OBJ/misc/objects/huge.bin" <"$WORK/huge.bin")
expect_eq "chunked over max_object_size is 413" 413 "$code"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$OBJ/misc/objects/huge.bin")
expect_eq "nothing stored after 413" 404 "$code"
check "no temp file left after 413" test -z "$(find "$WORK/misc" -name '.tarn-tmp-*')"
code=$(curl -sS --path-as-is -o "$WORK/b" -w '%{http_code}' -X PUT --data-binary x "$OBJ/misc/objects/a//b")
expect_eq "bad key is 400" 400 "$code"
expect_eq "bad key code" invalid_key "$(jq -r .error.code "$WORK/b")"
expect_match "bad key message names the rule" 'empty path segment at byte offset 2' \
  "$(jq -r .error.message "$WORK/b")"
code=$(curl -sS -o "$WORK/b" -w '%{http_code}' -X DELETE "$OBJ/main/objects/big/50mb.bin")
expect_eq "DELETE on the primary is 403" 403 "$code"
expect_eq "403 code" permission_denied "$(jq -r .error.code "$WORK/b")"
code=$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE "$OBJ/spare/objects/x")
expect_eq "DELETE on the rescue is 403" 403 "$code"
check "the primary's object survived" test -f "$WORK/main/big/50mb.bin"
code=$(curl -sS -o "$WORK/b" -w '%{http_code}' "$OBJ/nope/objects/x")
expect_eq "unknown bucket is 404" 404 "$code"
expect_match "unknown bucket named" 'no bucket named "nope"' "$(jq -r .error.message "$WORK/b")"

# ---- rescue fallback ----
mkdir -p "$WORK/spare/reports"
printf 'kept safe' >"$WORK/spare/reports/q3.csv"
curl -sS -D "$WORK/h" -o "$WORK/b" "$OBJ/main/objects/reports/q3.csv"
expect_eq "an object only in the rescue bucket is served" "kept safe" "$(cat "$WORK/b")"
expect_match "with X-Tarn-Rescue-Used: true" $'X-Tarn-Rescue-Used: true\r' "$(cat "$WORK/h")"
curl -sS -I -o /dev/null -D "$WORK/h" "$OBJ/main/objects/reports/q3.csv"
expect_match "HEAD too" $'X-Tarn-Rescue-Used: true\r' "$(cat "$WORK/h")"
curl -sS -D "$WORK/h" -o /dev/null "$OBJ/main/objects/big/50mb.bin"
expect_eq "an object on the primary is not a rescue" "" "$(grep -i rescue "$WORK/h")"
curl -sS -o /dev/null "$OBJ/main/objects/reports/q3.csv"
expect_eq "the journal of a bucket that does not exist: 404" 404 \
  "$(curl -sS -o /dev/null -w '%{http_code}' "$BASE/storage/errors?bucket=nosuch")"
expect_eq "a misspelt query parameter: 400, not ignored" 400 \
  "$(curl -sS -o /dev/null -w '%{http_code}' "$BASE/storage/errors?buckets=main")"
body=$(curl -sS "$BASE/storage/errors?bucket=main")
expect_eq "the fallbacks are journaled" 3 "$(jq -r .count <<<"$body")"
expect_eq "as rescued events on the primary" "true main get reports/q3.csv fatal" \
  "$(jq -r '.events[0] | "\(.rescued) \(.bucket) \(.op) \(.key) \(.error_class)"' <<<"$body")"
expect_match "with a timestamp and a message" '^20[0-9-]+T[0-9:.]+Z .*served from rescue bucket spare' \
  "$(jq -r '.events[0] | "\(.ts) \(.message)"' <<<"$body")"
expect_eq "limit keeps the newest" 1 "$(curl -sS "$BASE/storage/errors?limit=1" | jq '.events | length')"
expect_eq "since in the future finds nothing" 0 \
  "$(curl -sS "$BASE/storage/errors?since=2999-01-01T00:00:00Z" | jq .count)"
body=$(curl -sS "$BASE/storage/bucket-health?minutes=5")
expect_eq "bucket-health: not ok" false "$(jq -r .ok <<<"$body")"
expect_eq "bucket-health: total" 3 "$(jq -r .total_errors <<<"$body")"
expect_eq "bucket-health: main is unhealthy (3 in the window)" main "$(jq -r '.unhealthy | join(",")' <<<"$body")"
expect_eq "bucket-health: per bucket" "main=3 spare=0 misc=0" \
  "$(jq -r '[.buckets[] | "\(.name)=\(.errors)"] | join(" ")' <<<"$body")"
m=$(curl -sS "$BASE/metrics")
expect_match "rescue metric (GET)" 'tarn_storage_rescue_fallbacks_total\{bucket="main",op="get"\} 2' "$m"
expect_match "rescue metric (HEAD)" 'tarn_storage_rescue_fallbacks_total\{bucket="main",op="head"\} 1' "$m"
expect_match "operations metric" 'tarn_storage_operations_total\{bucket="misc",op="put"\} [0-9]' "$m"

# ---- flush and compact ----
# The journal flushes by age (200ms): wait until its batch files hold the 3 events, on a
# loaded machine that can take longer than the age.
for _ in $(seq 1 200); do
  [ "$(cat "$WORK/lake/_errors/bucket_errors/"* 2>/dev/null | wc -l)" -ge 3 ] && break
  sleep 0.05
done
body=$(curl -sS -X POST "$BASE/storage/errors/flush")
expect_eq "flush answers" 0 "$(jq -r .flushed <<<"$body")"
curl -sS -o /dev/null "$OBJ/main/objects/reports/q3.csv"
body=$(curl -sS -X POST "$BASE/storage/errors/flush")
expect_eq "flush writes what is buffered" 1 "$(jq -r .flushed <<<"$body")"
nfiles=$(ls "$WORK/lake/_errors/bucket_errors/" | wc -l)
check "the journal has several batch files" test "$nfiles" -ge 2
body=$(curl -sS -X POST "$BASE/storage/errors/compact")
expect_eq "compact merged them all" "$nfiles" "$(jq -r .files_merged <<<"$body")"
expect_eq "compact kept every record" 4 "$(jq -r .records <<<"$body")"
expect_eq "one file remains, named for the range" \
  "$(jq -r .file <<<"$body" | sed 's|.*/||')" "$(ls "$WORK/lake/_errors/bucket_errors/")"
code=$(curl -sS -o /dev/null -w '%{http_code}' -X GET "$BASE/storage/errors/flush")
expect_eq "flush takes POST only" 405 "$code"

# ---- restart: the journal is reloaded ----
before=$(curl -sS "$BASE/storage/errors" | jq -c '[.events[].id]')
kill -TERM "$SERVE_PID"
wait_exit "$SERVE_PID" 30
expect_eq "SIGTERM exits 0" 0 "$EXIT_CODE"
expect_match "the prober stopped and the server exited cleanly" 'msg="tarn serve stopped"' "$(cat "$WORK/serve.log")"
check "no probe object remains after shutdown" test -z "$(probe_files)"
start_serve "$WORK/serve2.log" --config "$CFG" --lake "$WORK/lake" --listen 127.0.0.1:0 || exit 1
BASE="http://$ADDR"
OBJ="$BASE/storage/buckets"
after=$(curl -sS "$BASE/storage/errors" | jq -c '[.events[].id]')
expect_eq "after a restart the journal holds the same events" "$before" "$after"
expect_eq "and bucket-health still sees them" 4 \
  "$(curl -sS "$BASE/storage/bucket-health?minutes=60" | jq .total_errors)"
curl -sS -o "$WORK/back.bin" "$OBJ/main/objects/big/50mb.bin"
check "objects survive the restart" cmp -s "$WORK/big.bin" "$WORK/back.bin"
kill -TERM "$SERVE_PID"
wait_exit "$SERVE_PID" 30

# ---- secrets ----
printf '[bucket.cloud]\naccess_key_id = S3RVER\nsecret_access_key = TOPSECRET-do-not-print\n' \
  >"$WORK/secrets.ini"
chmod 644 "$WORK/secrets.ini"
S3PORT=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
CFG3=$WORK/tarn-s3.ini
cat >"$CFG3" <<EOF
[bucket.main]
role = primary
path = $WORK/main

[bucket.cloud]
backend = s3
endpoint = http://127.0.0.1:$S3PORT
region = us-east-1
bucket = tarn-e2e
prefix = lake/
addressing = path

[storage]
probe_interval = 0
EOF
"$BIN" serve --config "$CFG3" --lake "$WORK/lake" --listen 127.0.0.1:0 --secrets "$WORK/secrets.ini" \
  >"$WORK/out" 2>"$WORK/err"
expect_eq "a secrets file readable by others stops start-up (exit 2)" 2 "$?"
expect_eq "naming the file and its mode" \
  "tarn serve: secrets file $WORK/secrets.ini has mode 0644; it must not be readable by group or others (chmod 600)" \
  "$(head -1 "$WORK/err")"
chmod 640 "$WORK/secrets.ini"
"$BIN" serve --config "$CFG3" --lake "$WORK/lake" --print-config --secrets "$WORK/secrets.ini" \
  >/dev/null 2>"$WORK/err"
expect_match "group-readable too (also for --print-config)" 'has mode 0640' "$(cat "$WORK/err")"
chmod 600 "$WORK/secrets.ini"
out=$("$BIN" serve --config "$CFG3" --lake "$WORK/lake" --print-config --secrets "$WORK/secrets.ini" 2>&1)
expect_match "print-config shows the bucket sections" '\[bucket\.cloud\]' "$out"
expect_match "print-config shows the credential source, redacted" \
  "\[bucket.cloud\] credentials: secrets file $WORK/secrets.ini \(access_key_id = <redacted>" "$out"
expect_eq "print-config shows no secret" "" "$(grep -e TOPSECRET -e S3RVER <<<"$out")"
out=$(AWS_ACCESS_KEY_ID=AKIAENV AWS_SECRET_ACCESS_KEY=ENVSECRET "$BIN" serve --config "$CFG3" \
  --lake "$WORK/lake" --print-config 2>&1)
expect_match "without a secrets file, the environment" 'credentials: environment' "$out"
expect_eq "environment secrets are not printed either" "" "$(grep -e ENVSECRET -e AKIAENV <<<"$out")"
TARN_SECRETS=$WORK/secrets.ini "$BIN" serve --config "$CFG3" --lake "$WORK/lake" --print-config \
  >"$WORK/out" 2>&1
expect_match "TARN_SECRETS names the file too" "secrets file $WORK/secrets.ini" "$(cat "$WORK/out")"
"$BIN" serve --config "$CFG3" --lake "$WORK/lake" --listen 127.0.0.1:0 2>"$WORK/err" </dev/null &
pid=$!
PIDS+=("$pid")
wait_exit "$pid" 20
expect_eq "an s3 bucket without credentials stops start-up (exit 2)" 2 "$EXIT_CODE"
expect_match "naming the section and where credentials go" \
  '\[bucket.cloud\]: no credentials: put access_key_id and secret_access_key' "$(cat "$WORK/err")"
printf '[bucket.main]\nrole = primary\n' >"$WORK/bad.ini"
"$BIN" serve --config "$WORK/bad.ini" --lake "$WORK/lake" --listen 127.0.0.1:0 2>"$WORK/err"
expect_eq "a bad bucket config exits 2" 2 "$?"
expect_match "naming the section and key" '\[bucket.main\] path: required for backend = local' \
  "$(cat "$WORK/err")"
printf '[bucket.a]\nrole = primary\npath = %s/pa\n[bucket.b]\nrole = primary\npath = %s/pb\n' \
  "$WORK" "$WORK" >"$WORK/bad.ini"
"$BIN" serve --config "$WORK/bad.ini" --lake "$WORK/lake" --listen 127.0.0.1:0 2>"$WORK/err"
expect_match "two primaries are refused" '\[bucket.b\] role = primary: \[bucket.a\] has that role' \
  "$(cat "$WORK/err")"

# ---- an s3 bucket on s3rver ----
if s3rver_start "$S3DIR" "$S3PORT" tarn-e2e; then
  ok "s3rver started"
  sed -i 's/^probe_interval = 0/probe_interval = 1h/' "$CFG3"
  start_serve "$WORK/serve3.log" --config "$CFG3" --lake "$WORK/lake" --listen 127.0.0.1:0 \
    --secrets "$WORK/secrets.ini" || exit 1
  OBJ="http://$ADDR/storage/buckets"
  for _ in $(seq 1 100); do
    body=$(curl -sS "$OBJ")
    [ "$(jq -r '.[1].reachable' <<<"$body")" != null ] && break
    sleep 0.1
  done
  expect_eq "the s3 bucket is listed and reachable" "cloud s3 extra true" \
    "$(jq -r '.[1] | "\(.name) \(.backend) \(.role) \(.reachable)"' <<<"$body")"
  expect_eq "GET /storage/buckets shows no credential" "" "$(grep -e TOPSECRET -e S3RVER <<<"$body")"
  head -c $((20 * 1024 * 1024)) /dev/urandom >"$WORK/s3.bin"
  code=$(curl -sS -o "$WORK/b" -w '%{http_code}' -T "$WORK/s3.bin" "$OBJ/cloud/objects/data/s3.bin")
  expect_eq "PUT to the s3 bucket (20 MiB: multipart) is 201" 201 "$code"
  check "s3rver holds it under the prefix" test -n "$(find "$S3DIR/data" -path '*lake/data/s3.bin*' | head -1)"
  curl -sS -o "$WORK/s3back.bin" "$OBJ/cloud/objects/data/s3.bin"
  check "GET from the s3 bucket is byte-exact" cmp -s "$WORK/s3.bin" "$WORK/s3back.bin"
  curl -sS -I -o /dev/null -D "$WORK/h" "$OBJ/cloud/objects/data/s3.bin"
  expect_match "HEAD on the s3 bucket" $'Content-Length: 20971520\r' "$(cat "$WORK/h")"
  code=$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE "$OBJ/cloud/objects/data/s3.bin")
  expect_eq "DELETE on the extra s3 bucket is 204" 204 "$code"
  code=$(curl -sS -o /dev/null -w '%{http_code}' "$OBJ/cloud/objects/data/s3.bin")
  expect_eq "then GET is 404" 404 "$code"
  # s3rver going away: the probe says so and the journal records it
  s3rver_stop "$S3DIR"
  body=$(curl -sS "$OBJ?probe=true")
  expect_eq "a stopped s3rver is unreachable" false "$(jq -r '.[1].reachable' <<<"$body")"
  expect_match "with the failing step" '^put: ' "$(jq -r '.[1].last_error' <<<"$body")"
  body=$(curl -sS "http://$ADDR/storage/errors?bucket=cloud")
  expect_eq "the failed probe is journaled" "probe retriable" \
    "$(jq -r '.events[-1] | "\(.op) \(.error_class)"' <<<"$body")"
  body=$(curl -sS "http://$ADDR/storage/bucket-health")
  expect_eq "bucket-health lists it unreachable" cloud "$(jq -r '.unreachable | join(",")' <<<"$body")"
  check "the secret never reached the log" test -z "$(grep TOPSECRET "$WORK/serve3.log")"
  kill -TERM "$SERVE_PID"
  wait_exit "$SERVE_PID" 30
  expect_eq "SIGTERM exits 0 (s3)" 0 "$EXIT_CODE"
else
  fail "s3rver started"
fi

finish
