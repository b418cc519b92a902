#!/usr/bin/env bash
# End-to-end: tarn's command line, configuration layering and error messages.
source "$(dirname "$0")/lib.sh"
cd "$WORK"

out=$("$BIN" --help); rc=$?
expect_eq "tarn --help exits 0" 0 "$rc"
for c in serve sink ingest journal table parquet datasets version; do
  expect_match "tarn --help lists $c" "  $c " "$out"
done
"$BIN" >/dev/null 2>&1; expect_eq "tarn with no command exits 2" 2 "$?"
out=$("$BIN" version); expect_eq "tarn version exits 0" 0 "$?"
expect_match "tarn version prints the version" '^tarn [0-9]+\.[0-9]+\.[0-9]+ \(commit ' "$out"
expect_match "tarn version prints library versions" 'libmicrohttpd [0-9.]+' "$out"
expect_eq "tarn --version" "$out" "$("$BIN" --version)"
"$BIN" frobnicate 2>"$WORK/e"; expect_eq "unknown command exits 2" 2 "$?"
expect_match "unknown command is named" "unknown command 'frobnicate'" "$(cat "$WORK/e")"

for c in serve sink ingest journal table parquet datasets; do
  out=$("$BIN" "$c" --help); rc=$?
  expect_eq "tarn $c --help exits 0" 0 "$rc"
  expect_match "tarn $c --help shows usage" "Usage: tarn $c" "$out"
  expect_match "tarn $c --help documents --lake" '--lake VALUE' "$out"
  expect_eq "tarn help $c equals tarn $c --help" "$out" "$("$BIN" help "$c")"
done
# each command's own tests: sink test_sink.sh, parquet test_parquet_cli.sh, table
# test_table_cli.sh, ingest and datasets test_ingest.sh, journal test_journal_cli.sh
"$BIN" journal 2>"$WORK/e"; rc=$?
expect_eq "tarn journal without a subcommand exits 2" 2 "$rc"
expect_match "... naming the subcommands" "expected a subcommand: append, history" "$(cat "$WORK/e")"

# configuration: defaults < file < env < flags, and print-config shows the sources
out=$("$BIN" serve --print-config)
expect_match "default lake" 'path = \./lake  ; default' "$out"
expect_match "default listen" 'listen = 127\.0\.0\.1:8080  ; default' "$out"
cat >"$WORK/t.ini" <<'INI'
# a comment
[lake]
path = /srv/lake

[server]
listen = 127.0.0.1:9000
max_body = 2MiB
INI
out=$("$BIN" serve --config "$WORK/t.ini" --print-config)
expect_match "file sets lake" "path = /srv/lake  ; file $WORK/t.ini line 3" "$out"
expect_match "file sets max_body" "max_body = 2MiB  ; file $WORK/t.ini line 7" "$out"
out=$(TARN_CONFIG="$WORK/t.ini" TARN_LISTEN=127.0.0.1:9100 "$BIN" serve --print-config)
expect_match "TARN_CONFIG is read" "path = /srv/lake  ; file $WORK/t.ini" "$out"
expect_match "env beats file" 'listen = 127\.0\.0\.1:9100  ; env TARN_LISTEN' "$out"
out=$(TARN_LISTEN=127.0.0.1:9100 "$BIN" serve --config "$WORK/t.ini" --listen 127.0.0.1:9200 \
  --lake=/x --print-config)
expect_match "flag beats env" 'listen = 127\.0\.0\.1:9200  ; flag --listen' "$out"
expect_match "--flag=value form" 'path = /x  ; flag --lake' "$out"

printf '[server]\nlisten = 127.0.0.1:1\nlisen = oops\n' >"$WORK/bad.ini"
"$BIN" serve --config "$WORK/bad.ini" 2>"$WORK/e"; rc=$?
expect_eq "unknown config key exits 2" 2 "$rc"
expect_match "unknown key named with file and line" \
  "unknown key \"lisen\" in section \[server\] \(file $WORK/bad.ini line 3\)" "$(cat "$WORK/e")"
printf '[sever]\nlisten = 1\n' >"$WORK/bad2.ini"
"$BIN" serve --config "$WORK/bad2.ini" 2>"$WORK/e"
expect_match "unknown section named" 'unknown section \[sever\]' "$(cat "$WORK/e")"
"$BIN" serve --config "$WORK/missing.ini" 2>"$WORK/e"; rc=$?
expect_eq "missing config file exits 2" 2 "$rc"
expect_match "missing config file named" "missing.ini" "$(cat "$WORK/e")"
"$BIN" serve --max-body 100GiB 2>"$WORK/e"; rc=$?
expect_eq "out-of-range flag exits 2" 2 "$rc"
expect_match "out-of-range names key and source" \
  '\[server\] max_body = "100GiB" \(flag --max-body\): out of range' "$(cat "$WORK/e")"
TARN_MAX_CONNECTIONS=0 "$BIN" serve 2>"$WORK/e"; rc=$?
expect_eq "out-of-range env exits 2" 2 "$rc"
expect_match "out-of-range env named" 'max_connections = "0" \(env TARN_MAX_CONNECTIONS\)' \
  "$(cat "$WORK/e")"
TARN_LISTN=x "$BIN" serve 2>"$WORK/e"; rc=$?
expect_eq "unknown TARN_ variable exits 2" 2 "$rc"
expect_match "unknown TARN_ variable named" 'unknown environment variable TARN_LISTN' "$(cat "$WORK/e")"
"$BIN" serve --listen nonsense 2>"$WORK/e"; rc=$?
expect_eq "bad listen address exits 2" 2 "$rc"
expect_match "bad listen address explained" 'must be HOST:PORT' "$(cat "$WORK/e")"
"$BIN" serve --bogus 2>"$WORK/e"; rc=$?
expect_eq "unknown flag exits 2" 2 "$rc"
expect_match "unknown flag named" 'unknown option --bogus' "$(cat "$WORK/e")"
"$BIN" ingest --listen 127.0.0.1:1 2>"$WORK/e"; rc=$?
expect_eq "serve-only flag on another command exits 2" 2 "$rc"
"$BIN" serve --log-level chatty 2>"$WORK/e"
expect_match "bad enum lists the choices" 'must be one of debug\|info\|warn\|error' "$(cat "$WORK/e")"

finish
