#!/usr/bin/env bash
# Every C source and header is formatted as .clang-format says (clang-format from Debian,
# installed by scripts/setup.sh). To fix: clang-format -i FILE... (or the loop below).
set -uo pipefail
root=${E2E_SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root" || exit 1
if ! command -v clang-format >/dev/null; then
  echo "FAIL - clang-format is not installed (run scripts/setup.sh)"
  exit 1
fi
bad=$(find src tests/unit tests/fuzz tests/tools bench -name '*.[ch]' -print0 |
  xargs -0 -n 40 clang-format --style=file --dry-run -Werror 2>&1 | grep -oE '^[^:]+\.[ch]' | sort -u)
if [ -n "$bad" ]; then
  echo "FAIL - not formatted as .clang-format says (clang-format -i these):"
  echo "$bad"
  exit 1
fi
echo "ok   - every C file is formatted as .clang-format says"
