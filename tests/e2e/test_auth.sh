#!/usr/bin/env bash
# End-to-end: who may do what on `tarn serve`. Loopback-only without tokens; bearer tokens
# with scopes from the secrets file; the auth matrix (every route x no token, wrong token,
# each scope); the lake's own files are not objects; TLS; %00 in URIs; two "file" parts;
# error bodies without file-system paths; the secrets file's owner; a file in the way of
# the spool.
source "$(dirname "$0")/lib.sh"

LAKE=$WORK/lake
mkdir -p "$LAKE"
SEC=$WORK/secrets.ini

# ---- without tokens: loopback only ----
"$BIN" serve --lake "$LAKE" --listen 0.0.0.0:0 2>"$WORK/refused.log" &
wait_exit $! 10
expect_eq "beyond loopback without tokens: refused (exit 2)" 2 "$EXIT_CODE"
expect_match "the refusal says how to add a token" 'tarn token new NAME --scope write.*--insecure' \
  "$(cat "$WORK/refused.log")"
"$BIN" serve --lake "$LAKE" --listen '[::]:0' 2>"$WORK/refused6.log" &
wait_exit $! 10
expect_eq "the IPv6 wildcard is refused too" 2 "$EXIT_CODE"
start_serve "$WORK/insecure.log" --lake "$LAKE" --listen 0.0.0.0:0 --insecure || exit 1
PORT=${ADDR##*:}
expect_match "--insecure: a warning at start-up" 'level=warn.*WITHOUT authentication' \
  "$(cat "$WORK/insecure.log")"
expect_match "--insecure: /healthz carries the warning" '"warnings":\["listening beyond loopback' \
  "$(curl -sS "http://127.0.0.1:$PORT/healthz")"
kill "$SERVE_PID"; wait_exit "$SERVE_PID" 10

# ---- tokens ----
for s in read write admin; do
  "$BIN" token new "t_$s" --scope "$s" >"$WORK/tok.$s"
  check "tarn token new $s: a token of tarn_ and 64 hex digits" \
    grep -qE '^tarn_[0-9a-f]{64}$' <(head -1 "$WORK/tok.$s")
done
TOK_read=$(head -1 "$WORK/tok.read"); TOK_write=$(head -1 "$WORK/tok.write")
TOK_admin=$(head -1 "$WORK/tok.admin")
# the lines after the token are the secrets-file section, as printed
for s in read write admin; do tail -n +2 "$WORK/tok.$s"; done >"$SEC"
chmod 600 "$SEC"
expect_eq "tarn token hash gives the same sha256 line" \
  "$(grep -A1 '^\[token.t_read\]' "$SEC" | tail -1)" "$(echo "$TOK_read" | "$BIN" token hash)"
check "the secrets file holds no token, only hashes" \
  test -z "$(grep -F -e "$TOK_read" -e "$TOK_write" -e "$TOK_admin" "$SEC")"

# a secrets file owned by someone else is refused (root may own it)
cp "$SEC" "$WORK/other.ini"; chmod 600 "$WORK/other.ini"; chown 65534 "$WORK/other.ini"
"$BIN" serve --lake "$LAKE" --listen 127.0.0.1:0 --secrets "$WORK/other.ini" 2>"$WORK/owner.log" &
wait_exit $! 10
expect_eq "a secrets file owned by another user: refused (exit 2)" 2 "$EXIT_CODE"
expect_match "the message names the owner" 'owned by uid 65534' "$(cat "$WORK/owner.log")"
printf '[token.bad]\nsha256 = 1234\n' >"$WORK/bad.ini"; chmod 600 "$WORK/bad.ini"
"$BIN" serve --lake "$LAKE" --listen 127.0.0.1:0 --secrets "$WORK/bad.ini" 2>"$WORK/bad.log" &
wait_exit $! 10
expect_eq "a malformed token hash: refused (exit 2)" 2 "$EXIT_CODE"
expect_match "the message names the section" '\[token.bad\] sha256 must be' "$(cat "$WORK/bad.log")"

mkdir -p "$WORK/scratch"
printf '[bucket.lake]\nrole = primary\npath = %s\n[bucket.scratch]\nrole = extra\npath = %s\n' \
  "$LAKE" "$WORK/scratch" >"$WORK/tarn.ini"
start_serve "$WORK/serve.log" --config "$WORK/tarn.ini" --lake "$LAKE" --listen 127.0.0.1:0 \
  --secrets "$SEC" || exit 1
BASE="http://$ADDR"
auth_for() { # who -> curl arguments
  case $1 in
    none) ;;
    wrong) printf '%s\n' -H "Authorization: Bearer tarn_0000000000000000000000000000000000000000000000000000000000000000" ;;
    basic) printf '%s\n' -H "Authorization: Basic dXNlcjpwYXNz" ;;
    *) local v="TOK_$1"; printf '%s\n' -H "Authorization: Bearer ${!v}" ;;
  esac
}
# status WHO METHOD PATH [curl args...]
status() {
  local who=$1 m=$2 p=$3; shift 3
  local a=(); mapfile -t a < <(auth_for "$who")
  rm -f "$WORK/body"
  if [ "$m" = HEAD ]; then
    curl -sS -o "$WORK/body" -D "$WORK/hdr" -w '%{http_code}' --head "${a[@]}" "$@" "$BASE$p"
  else
    curl -sS -o "$WORK/body" -D "$WORK/hdr" -w '%{http_code}' -X "$m" "${a[@]}" "$@" "$BASE$p"
  fi
}
printf 'a,b\n1,2\n' >"$WORK/s.csv"
# route, least scope; the probe path exists or not, what matters is 401/403 or not
ROUTES=(
  "GET /healthz public" "GET /metrics public"
  "GET /storage/buckets read" "GET /storage/buckets/lake/objects read"
  "GET /storage/buckets/lake/objects/some/key read" "HEAD /storage/buckets/lake/objects/some/key read"
  "GET /storage/errors read" "GET /storage/bucket-health read"
  "GET /catalog/datasets read" "GET /catalog/datasets/nope read"
  "PUT /storage/buckets/lake/objects/up/x write" "DELETE /storage/buckets/scratch/objects/up/x write"
  "POST /ingest?name=m write" "POST /catalog/datasets/nope/resync write"
  "POST /catalog/resync-missing write"
  "POST /storage/errors/flush admin" "POST /storage/errors/compact admin"
  "GET /no/such/route read"
)
rank() { case $1 in public) echo 0 ;; read) echo 1 ;; write) echo 2 ;; admin) echo 3 ;; *) echo -1 ;; esac; }
bad=0; cells=0
for r in "${ROUTES[@]}"; do
  read -r m p need <<<"$r"
  for who in none wrong basic read write admin; do
    extra=()
    [ "$m" = PUT ] && extra=(--data-binary "x")
    [ "$m" = POST ] && [ "${p%%\?*}" = /ingest ] && extra=(--data-binary "@$WORK/s.csv" -H 'Content-Type: text/csv')
    code=$(status "$who" "$m" "$p" "${extra[@]}")
    cells=$((cells + 1))
    if [ "$need" = public ]; then want=ok
    elif [ "$who" = none ] || [ "$who" = wrong ] || [ "$who" = basic ]; then want=401
    elif [ "$(rank "$who")" -lt "$(rank "$need")" ]; then want=403
    else want=ok; fi
    got=$code
    [ "$code" != 401 ] && [ "$code" != 403 ] && got=ok
    if [ "$want" != "$got" ]; then
      bad=$((bad + 1)); echo "  auth matrix: $who $m $p: want $want, got $code $(cat "$WORK/body")"
    elif [ "$want" = 401 ] && ! grep -qi '^WWW-Authenticate: Bearer' "$WORK/hdr"; then
      bad=$((bad + 1)); echo "  auth matrix: $who $m $p: 401 without WWW-Authenticate"
    elif [ "$want" != ok ] && [ "$m" != HEAD ] && [ "$(jq -r '.error.code' "$WORK/body")" != "$([ "$want" = 401 ] && echo unauthorized || echo forbidden)" ]; then
      bad=$((bad + 1)); echo "  auth matrix: $who $m $p: error body $(cat "$WORK/body")"
    fi
  done
done
expect_eq "auth matrix: ${#ROUTES[@]} routes x 6 callers ($cells cells) as their scopes say" 0 "$bad"
expect_match "401 and 403 are counted by reason" 'tarn_http_auth_failures_total\{reason="missing"\} [1-9]' \
  "$(curl -sS "$BASE/metrics")"
check "the log names the token, never its value" \
  grep -q 'token=t_admin' "$WORK/serve.log"
check "no token value in the log" test -z "$(grep -F -e "$TOK_read" -e "$TOK_write" -e "$TOK_admin" "$WORK/serve.log")"

# ---- the lake's own files are not objects ----
code=$(status write POST '/ingest?name=d1' --data-binary "@$WORK/s.csv" -H 'Content-Type: text/csv')
expect_eq "an ingest with the write token works" 200 "$code"
for k in catalog.db catalog.db-wal .spool .spool/x _errors/bucket_errors/1.jsonl \
         warehouse/datasets/d1/metadata/v9.metadata.json warehouse journal/wal/1 warehouse/x; do
  for who in write admin; do
    code=$(status "$who" PUT "/storage/buckets/lake/objects/$k" --data-binary junk)
    expect_eq "PUT $k ($who): 403" 403 "$code"
  done
done
expect_match "the refusal says why" "one of tarn's own files" "$(cat "$WORK/body")"
code=$(status read GET /storage/buckets/lake/objects/catalog.db)
expect_eq "GET catalog.db with a read token: 403" 403 "$code"
code=$(status admin GET /storage/buckets/lake/objects/catalog.db)
expect_eq "GET catalog.db with the admin token: 200" 200 "$code"
expect_eq "a listing for read hides tarn's own files" "" \
  "$(status read GET '/storage/buckets/lake/objects' >/dev/null; jq -r '.objects[].key' "$WORK/body" | grep -E '^(catalog|warehouse|_errors)')"
check "a listing for admin shows them" \
  grep -q '"key":"catalog.db"' <(status admin GET '/storage/buckets/lake/objects' >/dev/null; cat "$WORK/body")
code=$(status write POST '/ingest?name=d1&mode=append' --data-binary "@$WORK/s.csv" -H 'Content-Type: text/csv')
expect_eq "the catalog still works after the refused writes" 200 "$code"
code=$(status write PUT /storage/buckets/lake/objects/data/ok.bin --data-binary hello)
expect_eq "an ordinary key is still an object (201)" 201 "$code"

# a file in the way of the spool (put there behind tarn's back) never blocks an ingest
rm -rf "$LAKE/.spool"; echo junk >"$LAKE/.spool"
code=$(status write POST '/ingest?name=d2' --data-binary "@$WORK/s.csv" -H 'Content-Type: text/csv')
expect_eq "a file at .spool: the ingest still works" 200 "$code"
check "the obstacle was moved aside, not deleted" test -n "$(ls -A "$LAKE" | grep '^.spool.blocked-')"
check ".spool is a folder again" test -d "$LAKE/.spool"

# ---- NUL bytes, two files, error bodies ----
code=$(status write PUT '/storage/buckets/lake/objects/x%00y' --data-binary junk)
expect_eq "a key with %00: 400" 400 "$code"
expect_eq "... invalid_uri" invalid_uri "$(jq -r .error.code "$WORK/body")"
check "... and nothing was stored under the cut key" test ! -e "$LAKE/x"
code=$(status write POST '/ingest?name=x%00y' --data-binary "@$WORK/s.csv" -H 'Content-Type: text/csv')
expect_eq "a dataset name with %00: 400" 400 "$code"
check "... and no dataset x" test ! -e "$LAKE/warehouse/datasets/x"
: >"$WORK/empty.csv"
code=$(status write POST '/ingest?name=two' -F "file=@$WORK/empty.csv" -F "file=@$WORK/s.csv")
expect_eq "two parts named file (the first empty): 400" 400 "$code"
expect_match "... naming the rule" 'more than one part named' "$(cat "$WORK/body")"
code=$(status write POST '/ingest?name=two' -F "file=@$WORK/s.csv" -F "other=x" -F "file=@$WORK/s.csv")
expect_eq "two file parts around another field: 400" 400 "$code"
check "no dataset two" test ! -e "$LAKE/warehouse/datasets/two"
# an error that involves the lake's files: the catalog folder in the way of a table
mkdir -p "$LAKE/warehouse/datasets/blk"; echo x >"$LAKE/warehouse/datasets/blk/data"
code=$(status write POST '/ingest?name=blk' --data-binary "@$WORK/s.csv" -H 'Content-Type: text/csv')
expect_match "a storage failure is a 5xx" '^5' "$code"
check "its body names lake keys, not where the lake is ($LAKE)" \
  test -z "$(grep -F "$LAKE" "$WORK/body")"
expect_match "... and still says what failed" 'warehouse/datasets/blk' "$(cat "$WORK/body")"
kill "$SERVE_PID"; wait_exit "$SERVE_PID" 10

# ---- TLS ----
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
  -days 2 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
chmod 600 "$WORK/key.pem"
start_serve "$WORK/tls.log" --lake "$LAKE" --listen 127.0.0.1:0 --secrets "$SEC" \
  --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem" || exit 1
expect_match "the start-up line says tls=on" 'tls=on' "$(grep 'http server listening' "$WORK/tls.log")"
expect_eq "HTTPS: /healthz with the certificate checked" 200 \
  "$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$WORK/cert.pem" "https://$ADDR/healthz")"
expect_eq "HTTPS: a token works" 200 \
  "$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$WORK/cert.pem" -H "Authorization: Bearer $TOK_read" "https://$ADDR/catalog/datasets")"
expect_eq "HTTPS: no token, 401" 401 \
  "$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$WORK/cert.pem" "https://$ADDR/catalog/datasets")"
check "plain HTTP to the TLS port fails" \
  test "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "http://$ADDR/healthz" 2>/dev/null)" != 200
kill "$SERVE_PID"; wait_exit "$SERVE_PID" 10
"$BIN" serve --lake "$LAKE" --listen 127.0.0.1:0 --tls-cert "$WORK/cert.pem" 2>"$WORK/half.log" &
wait_exit $! 10
expect_eq "a certificate without a key: refused (exit 2)" 2 "$EXIT_CODE"

finish
