#!/bin/bash
set -e
source "$(dirname "$0")/lib/helpers.sh"

# Restarting the target needs a way to do it: CLUSTER_RESTART_CMD, set by the test harness
# (scripts/test.sh, scripts/cluster.sh). Without it, the restart check is reported as skipped.

test_start "State Persistence"
C=$(uid persist)
KV=$(uid persist-kv)

post "/counter/$C/increment" "42" > /dev/null
post "/kv/$KV/set" '{"key":"k","value":{"z":1,"a":[true,null]}}' > /dev/null
RESULT=$(get "/counter/$C")
assert_eq "$RESULT" "42"
test_pass "state persists across calls"

IDLE_MS=$(get "/health" | jq -r '.entity_idle_ms')
if [ "$IDLE_MS" -le 10000 ]; then
    RESULT=$(get "/debug/entities")
    assert_contains "$RESULT" "\"entity_id\":\"$C\""
    not_active() { ! get "/debug/entities" | grep -qF "\"entity_id\":\"$C\""; }
    wait_until "Counter $C to be evicted" $(( IDLE_MS / 1000 + 15 )) not_active
    RESULT=$(get "/counter/$C")
    assert_eq "$RESULT" "42"
    RESULT=$(get "/kv/$KV/get/k")
    assert_eq "$RESULT" '{"z":1,"a":[true,null]}'
    test_pass "state survives eviction and reload"
else
    test_skip "eviction (ENTITY_IDLE_MS=$IDLE_MS is too long to wait for; run the target with ≤ 10000)"
fi

if [ -n "${CLUSTER_RESTART_CMD:-}" ]; then
    bash -c "$CLUSTER_RESTART_CMD"
    wait_until "the target to be healthy again" 60 get "/health"
    RESULT=$(get "/counter/$C")
    assert_eq "$RESULT" "42"
    RESULT=$(get "/kv/$KV/get/k")
    assert_eq "$RESULT" '{"z":1,"a":[true,null]}'
    test_pass "state survives a runner restart"
else
    test_skip "restart (set CLUSTER_RESTART_CMD to a command that restarts the target)"
fi

echo "All persistence tests passed"
