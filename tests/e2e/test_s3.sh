#!/usr/bin/env bash
# End-to-end: the S3 backend against real servers on loopback. The signatures tarn sends
# are re-signed by the reference signer @smithy/signature-v4; then test_store_s3_live runs
# against s3rver (protocol flow, TLS, virtual-hosted names, server restarts) and against a
# throw-away Ceph RADOS Gateway (signatures checked, atomic If-None-Match, restarts).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_s3.sh"
source "$(dirname "$0")/lib_ceph.sh"

: "${E2E_BUILD_DIR:?set E2E_BUILD_DIR to the build directory}"
: "${E2E_SRC_DIR:?set E2E_SRC_DIR to the source directory}"
LIB_DIR=$E2E_SRC_DIR/tests/e2e
UNIT=$E2E_BUILD_DIR/test_store_s3
LIVE=$E2E_BUILD_DIR/test_store_s3_live
BUCKET=tarn-e2e

s3_cleanup() {
  rgw_stop
  s3rver_stop "$WORK/s3rver"
  s3rver_stop "$WORK/s3rver-tls"
  cleanup
}
trap s3_cleanup EXIT

for b in "$UNIT" "$LIVE"; do
  [ -x "$b" ] || { fail "test program $b is built"; finish; exit 1; }
done

# run_live NAME LOG: runs the live tests with the S3_TEST_* environment already exported;
# passes when cmocka reports no failure, and shows the log otherwise.
run_live() {
  local name=$1 log=$2 rc
  "$LIVE" >"$log" 2>&1
  rc=$?
  if [ $rc -eq 0 ] && grep -q '^\[  PASSED  \]' "$log" && ! grep -q '^\[  FAILED  \]' "$log"; then
    ok "$name: $(grep '^\[  PASSED  \]' "$log" | sed 's/.*PASSED  \] //')"
  else
    fail "$name (exit $rc); log:"
    sed 's/^/    /' "$log"
  fi
}

# ---- 1. tarn's signatures against the reference signer ----
S3_SIGN_DUMP=$WORK/sigs.jsonl "$UNIT" >"$WORK/unit.log" 2>&1
check "unit tests pass while capturing signed requests" grep -q '^\[  PASSED  \]' "$WORK/unit.log"
out=$(cd "$E2E_SRC_DIR/tests" && node e2e/s3_resign.mjs "$WORK/sigs.jsonl" 2>&1)
expect_match "captured requests re-signed by @smithy/signature-v4 match" \
  '^[1-9][0-9]* signatures match @smithy/signature-v4, 0 differ$' "$(tail -1 <<<"$out")"
echo "     ($(tail -1 <<<"$out"))"

# ---- 2. s3rver ----
S3RVER_PORT=$(rgw_free_port)
S3RVER_DIR=$WORK/s3rver
if s3rver_start "$S3RVER_DIR" "$S3RVER_PORT" "$BUCKET"; then
  ok "s3rver started on 127.0.0.1:$S3RVER_PORT"
  S3_TEST_ENDPOINT=http://127.0.0.1:$S3RVER_PORT S3_TEST_BUCKET=$BUCKET \
    S3_TEST_ACCESS_KEY=S3RVER S3_TEST_SECRET_KEY=S3RVER S3_TEST_FLAVOR=s3rver \
    S3_TEST_VHOST_ENDPOINT=http://s3.amazonaws.com:$S3RVER_PORT \
    S3_TEST_STOP_CMD="bash -c 'source $LIB_DIR/lib_s3.sh && s3rver_stop $S3RVER_DIR'" \
    S3_TEST_START_CMD="bash -c 'source $LIB_DIR/lib_s3.sh && s3rver_start $S3RVER_DIR $S3RVER_PORT $BUCKET'" \
    run_live "live tests against s3rver" "$WORK/live-s3rver.log"
  log=$(cat "$WORK/live-s3rver.log")
  expect_match "s3rver: a server that went away is retried 3 times, then a retriable error" \
    'server down: (network_error|timed_out)' "$log"
  expect_eq "s3rver: one warn line per retry (2 per failed call, 2 calls)" 4 \
    "$(grep -c 'level=warn msg="s3 request failed; retrying".*attempt=[12] max_attempts=3' "$WORK/live-s3rver.log")"
  expect_match "s3rver: virtual-hosted addressing ran (not skipped)" '\[       OK \] test_virtual_hosted' "$log"
  if grep -q 'Authorization' "$WORK/live-s3rver.log"; then
    fail "no Authorization header in the logs"
  else
    ok "no Authorization header in the logs"
  fi
else
  fail "s3rver started"
fi

# ---- 3. s3rver over TLS: ca_file, verification failure, insecure_skip_tls_verify ----
TLS_DIR=$WORK/s3rver-tls
mkdir -p "$TLS_DIR"
if openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TLS_DIR/key.pem" -out "$TLS_DIR/cert.pem" \
  -days 2 -subj /CN=127.0.0.1 -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1; then
  TLS_PORT=$(rgw_free_port)
  if s3rver_start "$TLS_DIR" "$TLS_PORT" "$BUCKET" "$TLS_DIR/key.pem" "$TLS_DIR/cert.pem"; then
    S3_TEST_ENDPOINT=https://127.0.0.1:$TLS_PORT S3_TEST_BUCKET=$BUCKET \
      S3_TEST_ACCESS_KEY=S3RVER S3_TEST_SECRET_KEY=S3RVER S3_TEST_FLAVOR=s3rver \
      S3_TEST_CA_FILE=$TLS_DIR/cert.pem S3_TEST_FILTER='test_tls' \
      run_live "TLS against s3rver (https)" "$WORK/live-tls.log"
    expect_match "TLS test ran (not skipped)" '\[       OK \] test_tls' "$(cat "$WORK/live-tls.log")"
    s3rver_stop "$TLS_DIR"
  else
    fail "s3rver started with TLS"
  fi
else
  fail "openssl made a self-signed certificate"
fi

# ---- 4. Ceph RADOS Gateway: real signature checks and conditional writes ----
RGW_AK=TARNE2EACCESSKEY0001
RGW_SK=tarn/e2e+Secret=Key0123456789abcdefGHIJ
# A loaded machine can make the throw-away cluster miss a start-up deadline: try again
# from scratch (a new directory, new ports) before calling it a failure.
rgw_try_start() {
  local attempt
  for attempt in 1 2 3; do
    CEPH_DIR=$WORK/ceph$attempt
    rgw_start "$CEPH_DIR" "$RGW_AK" "$RGW_SK" "$BUCKET" && return 0
    echo "Ceph RGW start attempt $attempt failed; retrying" >&2
    rgw_stop
    sleep 1
  done
  return 1
}
CEPH_DIR=$WORK/ceph1
if ! rgw_available; then
  fail "Ceph RGW is installed (ceph-mon ceph-osd radosgw: run scripts/setup.sh)"
elif rgw_try_start; then
  ok "Ceph RGW started on 127.0.0.1:$RGW_PORT"
  S3_TEST_ENDPOINT=$RGW_ENDPOINT S3_TEST_BUCKET=$BUCKET S3_TEST_ACCESS_KEY=$RGW_AK \
    S3_TEST_SECRET_KEY=$RGW_SK S3_TEST_FLAVOR=rgw \
    S3_TEST_STOP_CMD="bash -c 'source $LIB_DIR/lib_ceph.sh && RGW_DIR=$CEPH_DIR && rgw_stop_gateway'" \
    S3_TEST_START_CMD="bash -c 'source $LIB_DIR/lib_ceph.sh && RGW_DIR=$CEPH_DIR RGW_PORT=$RGW_PORT && rgw_start_gateway'" \
    run_live "live tests against Ceph RGW" "$WORK/live-rgw.log"
  log=$(cat "$WORK/live-rgw.log")
  expect_match "RGW: a wrong secret is 403 SignatureDoesNotMatch with the request id" \
    '403 SignatureDoesNotMatch \(request id [^)]+\)' "$log"
  expect_match "RGW: put-if-absent race lost with EEXIST (no NOTE about ignoring If-None-Match)" \
    '\[       OK \] test_put_if_absent' "$log"
  expect_match "RGW: a server that went away is retried 3 times, then a retriable error" \
    'server down: (network_error|timed_out)' "$log"
  if grep -qF "$RGW_SK" "$WORK/live-rgw.log"; then
    fail "the RGW secret appears nowhere in the output"
  else
    ok "the RGW secret appears nowhere in the output"
  fi
else
  fail "Ceph RGW started (logs in $CEPH_DIR/log)"
  tail -20 "$CEPH_DIR"/log/*.log 2>/dev/null | sed 's/^/    /'
fi

finish
