#!/bin/bash
# The ticker singleton: durable ticks, reset, and its lifecycle across a SIGTERM (graceful marker)
# and a SIGKILL (no marker). The failover checks need the cluster's state dir (CLUSTER_STATE).
set -e
source "$(dirname "$0")/lib/helpers.sh"
CLUSTER_SH="$(dirname "$0")/../scripts/cluster.sh"
ISO='test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$")'

tick_count_above() { [ "$(get /singleton/tick-count)" -gt "$1" ]; }

test_start "Ticker singleton"
wait_until "the ticker's first tick" 20 tick_count_above 0
STATE=$(get /singleton/state)
assert_json "$STATE" "(.runner_id | type == \"string\") and .tick_count >= 1 and (.last_tick_at | $ISO) and .graceful_shutdown_at == null"
N=$(get /singleton/tick-count)
wait_until "two more ticks" 10 tick_count_above $((N + 1))
test_pass "it ticks every second; state has runner_id, tick_count, last_tick_at and graceful_shutdown_at null"

assert_eq "$(post /singleton/reset '{}')" "null"
[ "$(get /singleton/tick-count)" -le 1 ] || test_fail "reset did not bring the tick count back to 0"
wait_until "a tick after the reset" 10 tick_count_above 1
test_pass "reset brings the tick count back to 0 and the ticker goes on from there"
assert_eq "$(status POST /singleton/reset '{"x":1}')" "400"
assert_eq "$(status POST /singleton/state '{}')" "405"
test_pass "bad input on the ticker's routes is 4xx"

test_start "Ticker lifecycle across failover"
if [ -z "${CLUSTER_STATE:-}" ]; then
  test_skip "SIGTERM and SIGKILL hand-offs (no cluster: CLUSTER_STATE is not set)"
  echo "All ticker tests passed"
  exit 0
fi
source "$CLUSTER_STATE/env"
# index_of RUNNER_ID: the cluster index of the runner with that gRPC address.
index_of() { local i v; for ((i = 1; i <= CLUSTER_SIZE; i++)); do v="RUNNER_${i}_GRPC"; [ "${!v}" = "$1" ] && echo "$i"; done; return 0; }
# handoff SIGNAL: stops the ticker's host with SIGNAL, waits for the next host, checks continuity.
# settled: the ticker runs on the owner of its shard, and every runner owns shards (no move pending).
settled() {
  [ "$(get /singleton/state | jq -r .runner_id)" = "$(owner_of SingletonTicker)" ] &&
    [ "$(get /debug/shards | jq '[.[].owner] | unique | length')" = "$CLUSTER_SIZE" ]
}
handoff() {
  local host victim survivor url before
  wait_until "the ticker on its shard's owner" 30 settled
  host=$(get /singleton/state | jq -r .runner_id)
  victim=$(index_of "$host")
  [ -n "$victim" ] || test_fail "host $host is not one of the cluster's runners"
  survivor=$((victim % CLUSTER_SIZE + 1))
  url="RUNNER_${survivor}_URL"
  BASE_URL="${!url}"
  before=$(get /singleton/tick-count)
  bash "$CLUSTER_SH" "$1" "$victim" --state "$CLUSTER_STATE" >/dev/null
  moved() { [ "$(get /singleton/state | jq -r .runner_id)" != "$host" ]; }
  wait_until "a new ticker host after $1 of $host" $(( ${LEASE_TTL_MS:-5000} / 1000 + 10 )) moved
  wait_until "a tick on the new host" 10 tick_count_above "$before"
  HANDED=$(get /singleton/state)
  assert_json "$HANDED" ".graceful_shutdown_at == null and .previous_host.runner_id == \"$host\" and .tick_count > $before"
  bash "$CLUSTER_SH" start "$victim" --state "$CLUSTER_STATE" >/dev/null
}
handoff term
assert_json "$HANDED" ".previous_host.graceful_shutdown_at | $ISO"
test_pass "SIGTERM: the old host set graceful_shutdown_at before the hand-off; the new host cleared it; the tick count went on"
handoff kill
assert_json "$HANDED" '.previous_host.graceful_shutdown_at == null'
test_pass "SIGKILL: no marker; the new host's tick count continues, never going back"

echo "All ticker tests passed"
