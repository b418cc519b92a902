# lib_kafka.sh - librdkafka's mock Kafka cluster (tests/tools/kafka_mock.c) and the
# action-audit event producer (tests/tools/kafka_produce.c) for tests (sourced after lib.sh).
#
#   kafka_start [BROKERS] [TOPIC:PARTS ...]
#                       starts kafka_mock (BROKERS defaults to 1) with those topics (partition
#                       p's leader is broker p % BROKERS + 1), waits for its bootstrap line
#                       and exports KAFKA_BOOTSTRAP ("127.0.0.1:PORT,...") and KAFKA_CONTROL
#                       (its control FIFO in $WORK); KAFKA_PID is added to PIDS. The cluster
#                       lives until kafka_stop or the end of the test shell, whatever the
#                       test kills meanwhile. Call it directly, not in $(...) or a pipeline:
#                       the mock exits with the shell that started it. Returns 1 (log on
#                       stderr) if it does not start.
#   kafka_ctl COMMAND   sends one control command ("down 2", "up 2", "rtt 1 200",
#                       "topic NAME PARTS", "leader TOPIC PART BROKER",
#                       "error Produce NOT_LEADER_FOR_PARTITION 3",
#                       "broker-error 2 Fetch 0 5 300", "clear Produce",
#                       "coordinator group GROUP BROKER", "quit"; see kafka_mock.c) and waits
#                       for its answer; sets KAFKA_CTL_REPLY to the answer line and returns
#                       0 for `control: ok ...`, 1 otherwise (answer on stderr).
#   kafka_produce ARGS...
#                       runs kafka_produce --bootstrap "$KAFKA_BOOTSTRAP" ARGS... (summary
#                       `produced=N good=G poison=P bytes=B` on stdout, per-kind poison
#                       counts on stderr; see kafka_produce.c).
#   kafka_consume TOPIC [KCAT_ARGS...]
#                       prints every value of TOPIC now in the cluster, one per line, with
#                       kcat (an independent client); a null value prints as NULL, an
#                       empty one as an empty line. KCAT_ARGS: e.g. -p PARTITION, -o OFFSET.
#   kafka_count TOPIC   prints how many records TOPIC holds now.
#   kafka_stop          SIGTERM, then waits (kill -9 after 10 s); returns the mock's exit code.
#   kafka_log_tail [N]  the mock's stderr (control answers, librdkafka logs), last N lines.
#
# The mock keeps at most 5 MiB (or 100,000 batches) per partition and drops the oldest
# batches past that: a consumer that falls behind loses them (see the top of kafka_mock.c).

: "${E2E_BUILD_DIR:?set E2E_BUILD_DIR to the build directory}"
KAFKA_MOCK_BIN=$E2E_BUILD_DIR/kafka_mock
KAFKA_PRODUCE_BIN=$E2E_BUILD_DIR/kafka_produce
KAFKA_BOOTSTRAP=
KAFKA_CONTROL=
KAFKA_PID=
KAFKA_DIR=
KAFKA_CTL_REPLY=

# The tools are built with every test build (tests/tools/*.c): missing ones are a broken
# build, not a reason to skip.
for _kafka_bin in "$KAFKA_MOCK_BIN" "$KAFKA_PRODUCE_BIN"; do
  if [ ! -x "$_kafka_bin" ]; then
    echo "FAIL - lib_kafka: $_kafka_bin is not built (tests/tools/*.c build with TARN_TESTS=ON)"
    exit 1
  fi
done
unset _kafka_bin

kafka_start() {
  local brokers=1 t i
  if [[ "${1:-}" =~ ^[0-9]+$ ]]; then
    brokers=$1
    shift
  fi
  KAFKA_DIR=$WORK/kafka
  mkdir -p "$KAFKA_DIR"
  KAFKA_CONTROL=$KAFKA_DIR/control
  rm -f "$KAFKA_CONTROL"
  : >"$KAFKA_DIR/mock.out" # exists before the mock's redirection does: sed below reads it
  local args=(--brokers "$brokers" --control "$KAFKA_CONTROL" --exit-with-parent)
  for t in "$@"; do args+=(--topic "$t"); done
  "$KAFKA_MOCK_BIN" "${args[@]}" >"$KAFKA_DIR/mock.out" 2>>"$KAFKA_DIR/mock.log" </dev/null &
  KAFKA_PID=$!
  PIDS+=("$KAFKA_PID")
  KAFKA_BOOTSTRAP=
  for i in $(seq 1 200); do
    KAFKA_BOOTSTRAP=$(sed -n 's/^bootstrap=//p' "$KAFKA_DIR/mock.out")
    [ -n "$KAFKA_BOOTSTRAP" ] && break
    kill -0 "$KAFKA_PID" 2>/dev/null || break
    sleep 0.05
  done
  if [ -z "$KAFKA_BOOTSTRAP" ]; then
    echo "lib_kafka: kafka_mock did not start; its stderr:" >&2
    cat "$KAFKA_DIR/mock.log" >&2
    return 1
  fi
  export KAFKA_BOOTSTRAP KAFKA_CONTROL
}

kafka_ctl() {
  local cmd="$*" before n i
  KAFKA_CTL_REPLY=
  if [ -z "$KAFKA_PID" ] || ! kill -0 "$KAFKA_PID" 2>/dev/null; then
    echo "lib_kafka: kafka_ctl '$cmd': kafka_mock is not running" >&2
    return 1
  fi
  before=$(grep -c '^control: ' "$KAFKA_DIR/mock.log")
  # The mock holds the FIFO open, so this open does not block; timeout guards a mock
  # that died in between.
  if ! timeout 5 bash -c 'printf "%s\n" "$1" >"$2"' _ "$cmd" "$KAFKA_CONTROL"; then
    echo "lib_kafka: kafka_ctl '$cmd': cannot write to $KAFKA_CONTROL" >&2
    return 1
  fi
  for i in $(seq 1 200); do
    n=$(grep -c '^control: ' "$KAFKA_DIR/mock.log")
    if [ "$n" -gt "$before" ]; then
      KAFKA_CTL_REPLY=$(grep '^control: ' "$KAFKA_DIR/mock.log" | sed -n "$((before + 1))p")
      [[ "$KAFKA_CTL_REPLY" == "control: ok "* ]] && return 0
      echo "lib_kafka: $KAFKA_CTL_REPLY" >&2
      return 1
    fi
    sleep 0.05
  done
  echo "lib_kafka: kafka_ctl '$cmd': no answer in 10 s" >&2
  return 1
}

kafka_produce() {
  "$KAFKA_PRODUCE_BIN" --bootstrap "$KAFKA_BOOTSTRAP" "$@"
}

kafka_consume() {
  local topic=$1
  shift
  if ! command -v kcat >/dev/null; then
    echo "lib_kafka: kcat is not installed (scripts/setup.sh installs it)" >&2
    return 1
  fi
  # Not kcat -Z: it prints an empty (zero-byte) value as NULL too. %S is -1 for null only.
  kcat -b "$KAFKA_BOOTSTRAP" -C -t "$topic" -e -q -f '%S %s\n' "$@" |
    LC_ALL=C sed -e 's/^-1 $/NULL/' -e 's/^[0-9]* //'
}

kafka_count() {
  local topic=$1
  if ! command -v kcat >/dev/null; then
    echo "lib_kafka: kcat is not installed (scripts/setup.sh installs it)" >&2
    return 1
  fi
  kcat -b "$KAFKA_BOOTSTRAP" -C -t "$topic" -e -q -f 'x\n' | wc -l
}

kafka_stop() {
  local pid=$KAFKA_PID
  [ -n "$pid" ] || return 0
  KAFKA_PID=
  kill -TERM "$pid" 2>/dev/null || return 0
  wait_exit "$pid" 10
  if [ "$EXIT_CODE" -eq 124 ]; then
    echo "lib_kafka: kafka_mock ignored SIGTERM for 10 s; killing it" >&2
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  return "$EXIT_CODE"
}

kafka_log_tail() {
  tail -"${1:-30}" "$KAFKA_DIR/mock.log"
}
