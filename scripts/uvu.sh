#!/usr/bin/env bash
# Runs the uvu suites under DIR (TypeScript through tsx) and closes with `N passed, N failed`.
#   scripts/uvu.sh tests/unit [PATTERN]
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dir="${1:?directory}"
pattern="${2:-\.test\.ts$}"
out="$(mktemp)"
FORCE_COLOR=0 node --import tsx node_modules/uvu/bin.js "$dir" "$pattern" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
plain="$(sed 's/\x1b\[[0-9;]*m//g' "$out")"
rm -f "$out"
total=$(grep -oE 'Total:[[:space:]]+[0-9]+' <<<"$plain" | grep -oE '[0-9]+$' || echo 0)
passed=$(grep -oE 'Passed:[[:space:]]+[0-9]+' <<<"$plain" | grep -oE '[0-9]+$' || echo 0)
skipped=$(grep -oE 'Skipped:[[:space:]]+[0-9]+' <<<"$plain" | grep -oE '[0-9]+$' || echo 0)
failed=$((total - passed - skipped))
# A crash before uvu's summary is a failure too.
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
if [ "$total" -eq 0 ] && [ "$rc" -eq 0 ]; then echo "no tests ran in $dir"; failed=1; rc=1; fi
echo "$passed passed, $failed failed, $skipped skipped"
exit "$rc"
