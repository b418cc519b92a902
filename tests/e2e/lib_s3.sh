# lib_s3.sh - s3rver (npm, pinned in tests/package.json) on 127.0.0.1 for tests (sourced).
#
#   s3rver_start DIR PORT BUCKET [KEY CERT]   starts it (TLS with KEY and CERT), waits
#                                             until it answers; pid in DIR/s3rver.pid
#   s3rver_stop DIR                           stops it (safe to call when not running)
#
# s3rver keeps objects under DIR/data, so a restart on the same DIR and PORT serves the
# same objects. Its credentials are S3RVER/S3RVER; it does not check SigV4 signatures and
# ignores If-None-Match (see shared PEERS.md), so it tests the protocol flow only.

: "${E2E_NODE_MODULES:?set E2E_NODE_MODULES to tests/node_modules}"
S3RVER_BIN=$E2E_NODE_MODULES/.bin/s3rver

s3rver_start() {
  local dir=$1 port=$2 bucket=$3 key=${4:-} cert=${5:-} scheme=http
  local tls=()
  if [ -n "$key" ]; then
    tls=(--key "$key" --cert "$cert")
    scheme=https
  fi
  mkdir -p "$dir/data"
  # setsid: its own session, so the test's process group signals do not reach it and it
  # outlives the shell that started it (the stop/start commands run in short shells).
  # --openssl-legacy-provider: s3rver encrypts ListObjectsV2 continuation tokens with DES,
  # which Node 20's OpenSSL 3 refuses otherwise (500 InternalError on the second page).
  NODE_OPTIONS=--openssl-legacy-provider setsid "$S3RVER_BIN" -d "$dir/data" -a 127.0.0.1 -p "$port" --silent \
    --configure-bucket "$bucket" "${tls[@]}" >>"$dir/s3rver.log" 2>&1 </dev/null &
  echo $! >"$dir/s3rver.pid"
  for _ in $(seq 1 200); do
    kill -0 "$(cat "$dir/s3rver.pid")" 2>/dev/null || break # e.g. the port was taken
    curl -sk -o /dev/null --max-time 1 "$scheme://127.0.0.1:$port/" && return 0
    sleep 0.05
  done
  echo "lib_s3: s3rver did not start on port $port; log:" >&2
  cat "$dir/s3rver.log" >&2
  return 1
}

s3rver_stop() {
  local dir=$1 pid
  [ -f "$dir/s3rver.pid" ] || return 0
  pid=$(cat "$dir/s3rver.pid")
  rm -f "$dir/s3rver.pid"
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
  return 0
}
