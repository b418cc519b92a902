#!/usr/bin/env bash
# The calls STYLE.md bans, kept out of src/, bench/ and tests/tools/ by a test: sprintf, vsprintf, strcpy,
# strcat, gets (unbounded writes) and atoi, atol, atoll (silent 0 on bad input). Use
# snprintf, memcpy with a known length, a tarn_buf, or strtol/strtoll with end checks.
# Comments are skipped: a call is a name followed by '(' in code.
set -uo pipefail
root=${E2E_SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
hits=$(cd "$root" && grep -rnE --include='*.c' --include='*.h' \
  '(^|[^A-Za-z0-9_])(sprintf|vsprintf|strcpy|strcat|gets|atoi|atol|atoll)[[:space:]]*\(' src bench tests/tools |
  grep -vE '^[^:]+:[0-9]+:[[:space:]]*(/?\*|//)' || true)
if [ -n "$hits" ]; then
  echo "FAIL - banned calls (use snprintf, memcpy with a length, tarn_buf, strtoll with checks):"
  echo "$hits"
  exit 1
fi
echo "ok   - no sprintf, vsprintf, strcpy, strcat, gets, atoi, atol or atoll in src/, bench/ and tests/tools/"
