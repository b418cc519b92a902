# lib.sh - helpers for tarn's end-to-end tests (sourced, not run).
# Needs E2E_TARN_BIN (the tarn binary); ctest sets it.
set -uo pipefail

: "${E2E_TARN_BIN:?set E2E_TARN_BIN to the tarn binary}"
BIN=$E2E_TARN_BIN
PASS=0
FAIL=0
WORK=$(mktemp -d /tmp/tarn-e2e.XXXXXX)
PIDS=()

cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

ok()   { PASS=$((PASS + 1)); echo "ok   - $*"; }
fail() { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }

# check DESCRIPTION COMMAND...: passes when the command exits 0.
check() { local d=$1; shift; if "$@"; then ok "$d"; else fail "$d"; fi; }

# expect_eq DESCRIPTION WANT GOT
expect_eq() { if [ "$2" == "$3" ]; then ok "$1"; else fail "$1: want [$2] got [$3]"; fi; }

# expect_match DESCRIPTION REGEX TEXT
expect_match() { if [[ "$3" =~ $2 ]]; then ok "$1"; else fail "$1: [$3] does not match /$2/"; fi; }

# start_serve LOGFILE ARGS...: starts `tarn serve`, waits for its address; sets SERVE_PID, ADDR.
start_serve() {
  local log=$1; shift
  "$BIN" serve "$@" 2>"$log" &
  SERVE_PID=$!
  PIDS+=("$SERVE_PID")
  ADDR=""
  for _ in $(seq 1 200); do
    ADDR=$(sed -n 's/.*msg="http server listening" addr=\([^ ]*\).*/\1/p' "$log" | head -1)
    [ -n "$ADDR" ] && return 0
    kill -0 "$SERVE_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "tarn serve did not start; log:" >&2
  cat "$log" >&2
  return 1
}

# wait_exit PID SECONDS: waits for PID (a child of this shell) to exit and sets EXIT_CODE
# (124 when it is still running after SECONDS). Not in a $(...) subshell: only the
# parent shell can collect the exit status.
wait_exit() {
  local pid=$1 secs=$2 i
  EXIT_CODE=124
  for i in $(seq 1 $((secs * 20))); do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid"
      EXIT_CODE=$?
      return
    fi
    sleep 0.05
  done
}

finish() {
  echo "$PASS passed, $FAIL failed"
  [ "$FAIL" -eq 0 ]
}
