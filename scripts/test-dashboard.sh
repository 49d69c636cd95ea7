#!/usr/bin/env bash
# The dashboard's browser test (tests/browser/): a 3-runner cluster of its own (one runner on
# Deno, LEASE_TTL_MS=2000, ADMIN_TOKEN set) driven through Debian's headless Chromium, which is
# installed here when missing (apt-get; no browser download). Screenshots go to bench-results/.
# Ends with `N passed, N failed`.
set -uo pipefail
REPO="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$REPO"
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  echo "installing Debian's chromium"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null ||
    { echo "could not install chromium"; echo "0 passed, 1 failed"; exit 1; }
fi
STATE="$(mktemp -d "${TMPDIR:-/tmp}/dashboard-test.XXXXXX")"
cleanup() {
  scripts/cluster.sh down --state "$STATE" >/dev/null 2>&1
  rm -rf "$STATE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export LEASE_TTL_MS=2000 ADMIN_TOKEN="dashboard-test-$RANDOM$RANDOM" LOG_LEVEL="${LOG_LEVEL:-warn}"
scripts/cluster.sh up --runners 3 --deno 1 --state "$STATE" || { echo "0 passed, 1 failed"; exit 1; }
CLUSTER_STATE="$STATE" CHROMIUM_PATH="$CHROMIUM" scripts/uvu.sh tests/browser
