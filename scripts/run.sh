#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and starts `tarn serve` on the
# embedded defaults: the lake directory ./lake, listening on 127.0.0.1:8080.
# Extra arguments go to `tarn serve` (e.g. --listen 127.0.0.1:9090). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh release
# Installed, so that the README's `tarn ...` commands work as typed from any directory.
prefix=${TARN_PREFIX:-/usr/local}
if [ -w "$prefix" ] || [ "$(id -u)" -eq 0 ]; then
  cmake --install build --prefix "$prefix" >/dev/null
  echo "run.sh: installed $prefix/bin/tarn (and each command's --help in $prefix/share/doc/tarn)"
else
  echo "run.sh: $prefix is not writable: the binary is $(pwd)/build/tarn"
fi
cat <<'MSG'

tarn serve is starting on the embedded defaults (lake ./lake, 127.0.0.1:8080).
From another terminal:
  curl -s http://127.0.0.1:8080/healthz
  curl -s http://127.0.0.1:8080/metrics
Stop it with Ctrl-C (or SIGTERM): in-flight requests finish, then it exits 0.

MSG
# TARN_PREFIX is this script's, not a tarn setting: tarn refuses unknown TARN_* variables
unset TARN_PREFIX
exec ./build/tarn serve "$@"
