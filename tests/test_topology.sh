#!/bin/bash
# Shard topology as etcd holds it ({prefix}runners/{address}, {prefix}shards/{s}): every shard has
# one owner, a live runner; a SIGTERMed runner's shards move within 5 s, a SIGKILLed one's within
# LEASE_TTL_MS + 5 s; a restarted runner takes shards again. Needs the cluster (CLUSTER_STATE).
set -e
source "$(dirname "$0")/lib/helpers.sh"
CLUSTER_SH="$(dirname "$0")/../scripts/cluster.sh"

test_start "Shard topology in etcd"
if [ -z "${CLUSTER_STATE:-}" ]; then
  test_skip "shard topology (no cluster: CLUSTER_STATE is not set)"
  exit 0
fi
source "$CLUSTER_STATE/env"
command -v etcdctl >/dev/null || test_fail "etcdctl is not installed (scripts/services.sh installs etcd-client)"
# etcd speaking TLS (npm test's TLS stage): the client certificate the runners use.
ETCD_TLS=()
if [[ -n "${ETCD_CA:-}" ]]; then ETCD_TLS=(--cacert "$ETCD_CA" --cert "$ETCD_CERT" --key "$ETCD_KEY"); fi
SHARDS=$(get /debug/shards | jq length)
LEASE_MS=${LEASE_TTL_MS:-5000}

# etcd_list SUFFIX: the keys under {prefix}SUFFIX as [{key, value}].
etcd_list() {
  ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" "${ETCD_TLS[@]}" get --prefix "$CLUSTER_ETCD_PREFIX$1" -w json |
    jq -c '[.kvs // [] | .[] | {key: (.key | @base64d), value: (.value | @base64d)}]'
}
# topology_ok [GONE]: all shards held, each by a registered runner, none by GONE (nor GONE registered).
topology_ok() {
  local shards runners
  shards=$(etcd_list shards/) runners=$(etcd_list runners/)
  jq -e --argjson n "$SHARDS" --argjson runners "$runners" --arg gone "${1:-}" --arg p "${CLUSTER_ETCD_PREFIX}shards/" '
    ([$runners[].value]) as $live
    | length == $n
      and ([.[].key | ltrimstr($p) | tonumber] | sort) == [range(0; $n)]
      and all(.[]; .value as $o | $live | index($o) != null)
      and ($gone == "" or (all(.[]; .value != $gone) and ($live | index($gone)) == null))' <<<"$shards" >/dev/null
}
owns_shards() { [ "$(etcd_list shards/ | jq --arg r "$1" '[.[] | select(.value == $r)] | length')" -gt 0 ]; }
within() { # within SECONDS DESCRIPTION COMMAND...: COMMAND holds within SECONDS of now.
  local limit="$1" what="$2" t0
  shift 2
  t0=$(date +%s%N)
  wait_until "$what" "$limit" "$@"
  echo "    ($what after $(( ($(date +%s%N) - t0) / 1000000 )) ms)"
}

# The suites before this one stop and restart runners: shards may still be moving when it starts.
within $((LEASE_MS / 1000 + 10)) "a complete topology (every shard held by a live runner)" topology_ok
test_pass "every one of the $SHARDS shards has exactly one owner in etcd, and each owner is a live runner"

# stop_and_check SIGNAL INDEX LIMIT_S
stop_and_check() {
  local grpc="RUNNER_$2_GRPC" url="RUNNER_$(($2 % CLUSTER_SIZE + 1))_URL"
  local victim="${!grpc}"
  BASE_URL="${!url}"
  owns_shards "$victim" || test_fail "runner $2 ($victim) owns no shard before the $1"
  bash "$CLUSTER_SH" "$1" "$2" --state "$CLUSTER_STATE" >/dev/null
  within "$3" "every shard owned by the others after $1 of $victim" topology_ok "$victim"
  bash "$CLUSTER_SH" start "$2" --state "$CLUSTER_STATE" >/dev/null
  within 30 "the restarted runner $victim holding shards again" owns_shards "$victim"
  within 30 "a complete topology after the restart" topology_ok
}
stop_and_check term 3 5
test_pass "SIGTERM: the runner's shards left etcd and were all owned again within 5 s; restarted, it took shards again"
stop_and_check kill 2 $((LEASE_MS / 1000 + 5))
test_pass "SIGKILL: the same within LEASE_TTL_MS + 5 s; restarted, it took shards again"

echo "All topology tests passed"
