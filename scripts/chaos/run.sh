#!/usr/bin/env bash
# A chaos run from scratch: a throw-away 3-runner cluster whose gRPC links pass through delaying
# proxies (scripts/cluster.sh up --proxied, own Postgres and etcd), the harness (main.ts) against
# it, and everything taken down afterwards. Ends with `N passed, N failed`.
#
#   scripts/chaos/run.sh [--duration S] [--out FILE] [--runners N] [--deno K] [--state DIR] [HARNESS FLAGS…]
#
# Defaults: 60 s, bench-results/chaos.json, 3 runners all on Node, a fresh /tmp/f6-chaos.* state
# dir (removed afterwards unless it was given). LEASE_TTL_MS (default 2000), ENTITY_IDLE_MS (default
# 2000) and LOG_LEVEL (default warn) go to the runners. Other flags go to main.ts (--seed,
# --fault-every, --faults, --kinds).
set -uo pipefail
REPO="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)"
cd "$REPO"
DURATION=60 OUT="$REPO/bench-results/chaos.json" RUNNERS=3 DENO=0 STATE="" PASS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) DURATION="${2:?}"; shift 2 ;;
    --out) OUT="${2:?}"; shift 2 ;;
    --runners) RUNNERS="${2:?}"; shift 2 ;;
    --deno) DENO="${2:?}"; shift 2 ;;
    --state) STATE="${2:?}"; shift 2 ;;
    *) PASS+=("$1"); shift ;;
  esac
done
OWN_STATE=0
if [[ -z "$STATE" ]]; then
  STATE="$(mktemp -d /tmp/f6-chaos.XXXXXX)"
  OWN_STATE=1
fi
export LEASE_TTL_MS="${LEASE_TTL_MS:-2000}" ENTITY_IDLE_MS="${ENTITY_IDLE_MS:-2000}" LOG_LEVEL="${LOG_LEVEL:-warn}"

cleanup() {
  scripts/cluster.sh down --state "$STATE" >/dev/null 2>&1
  if [[ "$OWN_STATE" == 1 ]]; then rm -rf -- "$STATE"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! scripts/cluster.sh up --runners "$RUNNERS" --deno "$DENO" --state "$STATE" --proxied >/dev/null; then
  echo "chaos: the cluster did not start"
  echo "0 passed, 1 failed"
  exit 1
fi
CLUSTER_STATE="$STATE" node --import tsx scripts/chaos/main.ts --duration "$DURATION" --out "$OUT" "${PASS[@]}" 2>&1 | tee "$STATE/harness.log"
rc=${PIPESTATUS[0]}
if [[ $rc -ne 0 ]]; then
  for log in "$STATE"/runner-*/runner.log; do
    [[ -f "$log" ]] && { echo "----- warnings and errors in $log -----"; grep -v '"level":"info"' "$log" | tail -n 30; }
  done
  # Last, where a reader of a long log's tail looks first: what failed, and the count.
  echo "----- the harness's failures (in full above) -----"
  grep -E '^(FAIL: |Error|    at )' "$STATE/harness.log" | head -n 40
  grep -E '^[0-9]+ passed, [0-9]+ failed' "$STATE/harness.log" | tail -n 1
fi
exit "$rc"
