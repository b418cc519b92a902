#!/usr/bin/env bash
# End-to-end: the real `tarn serve` on a free loopback port, driven with curl.
source "$(dirname "$0")/lib.sh"

LOG=$WORK/serve.log
start_serve "$LOG" --lake "$WORK/lake" --listen 127.0.0.1:0 --max-body 1KiB || exit 1
BASE="http://$ADDR"
expect_match "port 0 picked a real port and logged it" '^127\.0\.0\.1:[1-9][0-9]*$' "$ADDR"
check "the lake directory was created" test -d "$WORK/lake"

# /healthz
body=$(curl -sS -D "$WORK/h" "$BASE/healthz")
expect_match "GET /healthz is 200" '^HTTP/1\.1 200' "$(head -1 "$WORK/h")"
expect_match "GET /healthz is JSON" 'Content-Type: application/json' "$(cat "$WORK/h")"
expect_eq "healthz status" ok "$(jq -r .status <<<"$body")"
expect_eq "healthz service" tarn "$(jq -r .service <<<"$body")"
expect_match "healthz version" '^[0-9]+\.[0-9]+\.[0-9]+$' "$(jq -r .version <<<"$body")"
expect_match "healthz timestamp is ISO 8601 UTC" '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$' \
  "$(jq -r .timestamp <<<"$body")"
expect_eq "HEAD /healthz is 200" 200 "$(curl -s -o /dev/null -w '%{http_code}' -I "$BASE/healthz")"

# errors
code=$(curl -s -o "$WORK/b" -w '%{http_code}' "$BASE/no/such/route")
expect_eq "unknown route is 404" 404 "$code"
expect_eq "404 body has error.code not_found" not_found "$(jq -r .error.code "$WORK/b")"
expect_match "404 body names the path" '/no/such/route' "$(jq -r .error.message "$WORK/b")"

code=$(curl -s -D "$WORK/h" -o "$WORK/b" -w '%{http_code}' -X POST "$BASE/healthz")
expect_eq "POST /healthz is 405" 405 "$code"
expect_match "405 carries an Allow header" $'Allow: GET, HEAD\r' "$(cat "$WORK/h")"
expect_eq "405 body code" method_not_allowed "$(jq -r .error.code "$WORK/b")"
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$BASE/metrics")
expect_eq "DELETE /metrics is 405" 405 "$code"

head -c 2048 /dev/zero >"$WORK/big"
code=$(curl -s -o "$WORK/b" -w '%{http_code}' -X POST --data-binary @"$WORK/big" "$BASE/healthz")
expect_eq "a 2 KiB body over a 1 KiB cap is 413" 413 "$code"
expect_eq "413 body code" payload_too_large "$(jq -r .error.code "$WORK/b")"
expect_match "413 message names the limit" '1024 bytes' "$(jq -r .error.message "$WORK/b")"
# A chunked body has no length up front; on a route that takes no POST the 405 comes
# first, before any of it is read. (Chunked bodies over the cap on routes that take a
# body are answered 413: tests/unit/test_http.c.)
code=$(curl -s -o "$WORK/b" -w '%{http_code}' -X POST -H 'Transfer-Encoding: chunked' \
  --data-binary @"$WORK/big" "$BASE/healthz")
expect_eq "a chunked body on a GET-only route is 405 without reading it" 405 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary 'small' "$BASE/healthz")
expect_eq "a small body on a GET-only route is still 405" 405 "$code"

# /metrics
curl -sS -D "$WORK/h" "$BASE/metrics" >"$WORK/m"
expect_match "metrics content type" 'Content-Type: text/plain; version=0.0.4' "$(cat "$WORK/h")"
m=$(cat "$WORK/m")
expect_match "request counter by route and status" \
  'tarn_http_requests_total\{route="/healthz",method="GET",status="200"\} 1' "$m"
expect_match "404s counted under route=unmatched" \
  'tarn_http_requests_total\{route="unmatched",method="GET",status="404"\} 1' "$m"
expect_match "413s counted by route" 'tarn_http_request_body_rejected_total\{route="/healthz"\} 1' "$m"
expect_match "405s labelled with the route pattern" \
  'tarn_http_requests_total\{route="/healthz",method="POST",status="405"\} 3' "$m"
expect_match "latency histogram has TYPE" '# TYPE tarn_http_request_duration_seconds histogram' "$m"
expect_match "latency histogram +Inf bucket" \
  'tarn_http_request_duration_seconds_bucket\{route="/healthz",method="GET",le="\+Inf"\} 1' "$m"
expect_match "build info" 'tarn_build_info\{version="[0-9.]+"\} 1' "$m"
bad=$(grep -vE '^(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? [-+0-9.eEInfNa]+)$' "$WORK/m" | head -3)
expect_eq "every metrics line is valid exposition format" "" "$bad"

# logs: one line per event, logfmt
bad=$(grep -vE '^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z level=(debug|info|warn|error) msg=' "$LOG" | head -3)
expect_eq "every log line is ts=... level=... msg=..." "" "$bad"
expect_match "startup is logged with the lake and address" \
  "msg=\"tarn serve started\" version=[0-9.]+ lake=$WORK/lake addr=$ADDR" "$(cat "$LOG")"

# a second server on the same port fails clearly
"$BIN" serve --lake "$WORK/lake2" --listen "$ADDR" 2>"$WORK/dup.log" # a lake of its own: one journal per lake
rc=$?
expect_eq "a busy port exits 1" 1 "$rc"
expect_match "a busy port names the address" "cannot listen on $ADDR" "$(cat "$WORK/dup.log")"

# SIGTERM: clean exit 0
kill -TERM "$SERVE_PID"
wait_exit "$SERVE_PID" 20
expect_eq "SIGTERM exits 0" 0 "$EXIT_CODE"
expect_match "shutdown is logged" 'msg="shutting down" signal=SIGTERM' "$(cat "$LOG")"
expect_match "stop is logged" 'msg="tarn serve stopped" abandoned_requests=0' "$(cat "$LOG")"
code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz")
expect_eq "nothing listens after exit" 000 "$code"

# SIGINT too
start_serve "$WORK/serve2.log" --lake "$WORK/lake" --listen 127.0.0.1:0 || exit 1
expect_eq "second server answers" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://$ADDR/healthz")"
kill -INT "$SERVE_PID"
wait_exit "$SERVE_PID" 20
expect_eq "SIGINT exits 0" 0 "$EXIT_CODE"

# ---- connections that hold slots without using them ----
# 40 connections that never send a byte and 8 that trickle a head, against 16 slots:
# /healthz and ordinary requests are still answered at once, and the idle ones go.
TARN_MAX_CONNECTIONS=16 start_serve "$WORK/serve3.log" --lake "$WORK/lake" \
  --listen 127.0.0.1:0 || exit 1
PORT=${ADDR##*:}
idle=()
for _ in $(seq 1 40); do exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" && idle+=("$fd"); done
trickle=()
for _ in $(seq 1 8); do exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" && trickle+=("$fd"); done
trap '' PIPE # a connection the server refused must fail the write, not kill the test
for fd in "${trickle[@]}"; do printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: a' >&"$fd" 2>/dev/null; done
expect_eq "48 idle or trickling connections on 16 slots: /healthz answers" 200 \
  "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 3 "http://$ADDR/healthz")"
expect_eq "... and so does an ordinary route" 200 \
  "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 3 "http://$ADDR/storage/buckets")"
expect_match "the server counted the connections it closed" \
  'tarn_http_connections_closed_total\{reason="evicted"\} [1-9]' \
  "$(curl -sS --max-time 3 "http://$ADDR/metrics")"
for fd in "${idle[@]}" "${trickle[@]}"; do exec {fd}>&-; done

# A burst past libmicrohttpd's own cap (2 x 16 + 64 = 96): it may turn some of the burst
# away while evicted connections wind down, but once the burst is in, the server serves.
before=$(wc -l <"$WORK/serve3.log")
burst=()
for _ in $(seq 1 300); do exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" 2>/dev/null && burst+=("$fd"); done
settled=0
for _ in $(seq 1 400); do # each one is evicted or turned away, but for the 16 kept
  n=$(tail -n +$((before + 1)) "$WORK/serve3.log" | grep -cE 'reason=evicted|connection limit')
  [ "$n" -ge $((300 - 16)) ] && settled=1 && break
  sleep 0.05
done
expect_eq "a burst of 300 idle connections is taken in (evicted or turned away)" 1 "$settled"
expect_eq "... and then /healthz answers" 200 \
  "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 3 "http://$ADDR/healthz")"
expect_eq "... and an ordinary route too" 200 \
  "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 3 "http://$ADDR/storage/buckets")"
for fd in "${burst[@]}"; do exec {fd}>&-; done
kill -TERM "$SERVE_PID"
wait_exit "$SERVE_PID" 20
expect_eq "it still stops cleanly" 0 "$EXIT_CODE"

finish
