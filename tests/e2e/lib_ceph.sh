# lib_ceph.sh - a throw-away Ceph RADOS Gateway on 127.0.0.1 for tests (sourced, not run).
#
# One monitor, one OSD keeping objects in RAM (memstore), no manager, no authentication
# between daemons, and radosgw answering S3 on a loopback port. Starts in a few seconds
# and uses about 250 MB. Needs Debian's ceph-mon, ceph-osd and radosgw
# (scripts/setup.sh installs them).
#
#   rgw_start DIR ACCESS_KEY SECRET_KEY BUCKET   sets RGW_PORT, RGW_ENDPOINT; 0 on success
#   rgw_stop_gateway / rgw_start_gateway        stop or restart radosgw alone
#   rgw_stop                                    stops every daemon (call it from a trap)

RGW_DIR=""
RGW_PORT=""
RGW_ENDPOINT=""

rgw_available() {
  command -v ceph-mon >/dev/null && command -v ceph-osd >/dev/null &&
    command -v radosgw >/dev/null && command -v monmaptool >/dev/null &&
    command -v radosgw-admin >/dev/null && command -v uuidgen >/dev/null
}

# A free TCP port on 127.0.0.1 (the kernel picks it; there is a small race until used).
rgw_free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Every ceph CLI call under a timeout: a wrong monitor address hangs clients for minutes.
rgw_ceph() { timeout 30 ceph -c "$RGW_DIR/ceph.conf" "$@"; }

rgw_kill_pidfile() {
  local f=$1 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f" 2>/dev/null)
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
  rm -f "$f"
}

rgw_stop_gateway() { [ -n "$RGW_DIR" ] && rgw_kill_pidfile "$RGW_DIR/run/client.rgw.tarn.pid"; }

rgw_start_gateway() {
  radosgw -c "$RGW_DIR/ceph.conf" -n client.rgw.tarn || return 1
  rgw_wait_http 30
}

rgw_stop() {
  [ -n "$RGW_DIR" ] || return 0
  rgw_stop_gateway
  rgw_kill_pidfile "$RGW_DIR/run/osd.0.pid"
  rgw_kill_pidfile "$RGW_DIR/run/mon.a.pid"
}

# Waits until radosgw answers HTTP on RGW_PORT.
rgw_wait_http() {
  local secs=$1
  for _ in $(seq 1 $((secs * 10))); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$RGW_PORT/" && return 0
    sleep 0.1
  done
  return 1
}

rgw_start() {
  local dir=$1 ak=$2 sk=$3 bucket=$4 fsid mon_port uuid id
  RGW_DIR=$dir
  mkdir -p "$dir/run" "$dir/log" "$dir/mon" "$dir/osd/ceph-0" "$dir/rgw"
  fsid=$(uuidgen)
  mon_port=$(rgw_free_port)
  RGW_PORT=$(rgw_free_port)
  RGW_ENDPOINT="http://127.0.0.1:$RGW_PORT"
  cat >"$dir/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$mon_port
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
public network = 127.0.0.0/8
cluster network = 127.0.0.0/8
ms bind msgr2 = false
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush update on start = false
osd class update on start = false
paxos propose interval = 0.05
run dir = $dir/run
log file = $dir/log/\$name.log
pid file = $dir/run/\$name.pid
admin socket = $dir/run/\$name.asok
mon data = $dir/mon/\$cluster-\$id
osd data = $dir/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = 1073741824
[client.rgw.tarn]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $dir/rgw
EOF
  monmaptool --create --fsid "$fsid" --addv a "[v1:127.0.0.1:$mon_port]" "$dir/monmap" >/dev/null || return 1
  ceph-mon -c "$dir/ceph.conf" --mkfs -i a --monmap "$dir/monmap" || return 1
  ceph-mon -c "$dir/ceph.conf" -i a || return 1
  uuid=$(uuidgen)
  id=$(rgw_ceph osd new "$uuid") || return 1
  [ "$id" = 0 ] || { echo "lib_ceph: unexpected osd id '$id'" >&2; return 1; }
  ceph-osd -c "$dir/ceph.conf" -i 0 --mkfs --osd-uuid "$uuid" >/dev/null 2>&1 || return 1
  # A start-up race can make the first start exit; one retry is enough.
  if ! ceph-osd -c "$dir/ceph.conf" -i 0 2>/dev/null; then
    sleep 0.5
    ceph-osd -c "$dir/ceph.conf" -i 0 || return 1
  fi
  rgw_ceph osd crush add osd.0 1.0 host=localhost root=default >/dev/null 2>&1 || return 1
  radosgw -c "$dir/ceph.conf" -n client.rgw.tarn || return 1
  rgw_wait_http 60 || { echo "lib_ceph: radosgw did not answer on $RGW_PORT" >&2; return 1; }
  timeout 30 radosgw-admin -c "$dir/ceph.conf" user create --uid=tarn --display-name=tarn \
    --access-key="$ak" --secret-key="$sk" >/dev/null || return 1
  # The bucket, with curl's own signer (RGW wants x-amz-content-sha256 with SigV4).
  curl -sf -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" --user "$ak:$sk" \
    -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
    "$RGW_ENDPOINT/$bucket" >/dev/null || { echo "lib_ceph: cannot create bucket $bucket" >&2; return 1; }
}
