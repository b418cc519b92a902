#!/usr/bin/env bash
# Installs everything tarn needs to build and test, from Debian packages only.
# Idempotent: re-running it installs nothing new. Needs root (or sudo).
set -euo pipefail

PKGS=(
  # build (gcc brings the ASan, UBSan and TSan runtimes the test builds link)
  build-essential cmake pkg-config git ca-certificates
  libmicrohttpd-dev libjansson-dev libinih-dev libssl-dev libxxhash-dev
  libcurl4-openssl-dev libsqlite3-dev libpq-dev librdkafka-dev
  libsnappy-dev libzstd-dev liblz4-dev zlib1g-dev
  libcmocka-dev
  # commands the end-to-end tests run (tests/e2e/*.sh), and the formatter tests/lint checks with
  curl jq openssl sqlite3 uuid-runtime clang-format
  # a Kafka client independent of ours, to read what the tests produce (tests/e2e/lib_kafka.sh)
  kcat
  # peers the tests start on loopback: PostgreSQL 15 (lib_pg.sh) and a Ceph RADOS
  # Gateway that checks S3 signatures (lib_ceph.sh: ceph-mon, ceph-osd, radosgw, and
  # the ceph, monmaptool and radosgw-admin commands)
  postgresql ceph-mon ceph-osd radosgw ceph-common
)

# Test tools from npm (tests/package.json) need Node.js; Debian's will do when none is
# installed already.
command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
command -v npm >/dev/null 2>&1 || PKGS+=(npm)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PKGS[@]} Debian packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: run as root (missing: ${missing[*]})" >&2; exit 1; }
  SUDO=sudo
fi

export DEBIAN_FRONTEND=noninteractive
# The package lists may be empty on a fresh machine; apt-get cannot find anything then.
if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1 || ! apt-cache show "${missing[0]}" >/dev/null 2>&1; then
  $SUDO apt-get update
fi
echo "setup: installing ${missing[*]}"
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
