# lib_pg.sh - a throw-away PostgreSQL 15 (Debian, /usr/lib/postgresql/15/bin) on 127.0.0.1
# for tests (sourced).
#
#   pg_start DIR        initdb in DIR/pg (user tarn, a random password, SCRAM over TCP,
#                       trust on the unix socket in DIR/pg), start on a free loopback port,
#                       create database tarn_test. Sets PG_PORT, PG_PASSWORD and
#                       PG_CONNINFO ("host=127.0.0.1 port=... dbname=tarn_test user=tarn
#                       password=..."). Returns 1 (log on stderr) if it cannot.
#   pg_listen TIMEOUT   starts the cluster already in $PG_DIR on a free loopback port
#                       (pg_start does; a benchmark restarting a kept cluster too).
#   pg_stop             stops it (immediate shutdown; safe to call when not running).
#                       Call it from the test's EXIT trap.
#   pg_psql SQL         runs SQL as tarn on tarn_test through the socket; prints the rows.
#   pg_log_tail [N]     the server log's last N lines (default 30), for failure reports.
#
# PostgreSQL refuses to run as root: as root the server runs as `nobody`.

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PG_DIR=
PG_PORT=
PG_PASSWORD=
PG_CONNINFO=
PG_STARTED=0

if [ "$(id -u)" -eq 0 ]; then
  pg_as() { runuser -u nobody -- "$@"; }
else
  pg_as() { "$@"; }
fi

pg_start() {
  local dir=$1
  if [ ! -x "$PGBIN/postgres" ]; then
    echo "lib_pg: PostgreSQL 15 is not installed in $PGBIN (scripts/setup.sh installs it)" >&2
    return 1
  fi
  chmod 755 "$dir"
  PG_DIR=$dir/pg # data, socket and log; owned by the server's user
  mkdir -p "$PG_DIR"
  [ "$(id -u)" -eq 0 ] && chown nobody: "$PG_DIR"
  PG_PASSWORD=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
  printf '%s\n' "$PG_PASSWORD" >"$PG_DIR/pwfile"
  [ "$(id -u)" -eq 0 ] && chown nobody: "$PG_DIR/pwfile"
  if ! pg_as "$PGBIN/initdb" -D "$PG_DIR/data" -U tarn --pwfile="$PG_DIR/pwfile" -E UTF8 \
    --locale=C --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1; then
    echo "lib_pg: initdb failed:" >&2
    cat "$dir/initdb.log" >&2
    return 1
  fi
  rm -f "$PG_DIR/pwfile"
  pg_listen 30 || return 1
  if ! pg_as "$PGBIN/createdb" -h "$PG_DIR" -p "$PG_PORT" -U tarn tarn_test; then
    echo "lib_pg: createdb failed" >&2
    return 1
  fi
  PG_CONNINFO="host=127.0.0.1 port=$PG_PORT dbname=tarn_test user=tarn password=$PG_PASSWORD"
  echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT"
}

# pg_listen TIMEOUT: starts the cluster in $PG_DIR/data on loopback only, plus a unix
# socket in $PG_DIR, on a free port (retried when taken); sets PG_PORT and PG_STARTED.
pg_listen() {
  local p
  PG_PORT=
  for _ in 1 2 3 4 5 6 7 8; do
    p=$((20000 + RANDOM % 30000))
    if pg_as "$PGBIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t "$1" \
      -o "-c listen_addresses=127.0.0.1 -p $p -k $PG_DIR -c max_connections=60" start \
      >/dev/null 2>&1; then
      PG_PORT=$p
      PG_STARTED=1
      return 0
    fi
  done
  echo "lib_pg: PostgreSQL did not start; log:" >&2
  tail -30 "$PG_DIR/server.log" >&2
  return 1
}

pg_stop() {
  if [ "$PG_STARTED" -eq 1 ]; then
    pg_as "$PGBIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1
    PG_STARTED=0
  fi
}

pg_psql() {
  pg_as psql -h "$PG_DIR" -p "$PG_PORT" -U tarn -d tarn_test -Atc "$1"
}

pg_log_tail() {
  tail -"${1:-30}" "$PG_DIR/server.log"
}
