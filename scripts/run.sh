#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and starts `tarn serve` on the
# embedded defaults: the lake directory ./lake, listening on 127.0.0.1:8080.
# Extra arguments go to `tarn serve` (e.g. --listen 127.0.0.1:9090). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh release
cat <<'MSG'

tarn serve is starting on the embedded defaults (lake ./lake, 127.0.0.1:8080).
From another terminal:
  curl -s http://127.0.0.1:8080/healthz
  curl -s http://127.0.0.1:8080/metrics
Stop it with Ctrl-C (or SIGTERM): in-flight requests finish, then it exits 0.

MSG
exec ./build/tarn serve "$@"
