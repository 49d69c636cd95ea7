#!/bin/bash
set -e
source "$(dirname "$0")/lib/helpers.sh"

test_start "Entity Traits (Auditable, Versioned)"
T1=$(uid trait1)
T2=$(uid trait2)

RESULT=$(get "/trait/$T1")
assert_eq "$RESULT" '""'
RESULT=$(get "/trait/$T1/version")
assert_eq "$RESULT" "0"
RESULT=$(get "/trait/$T1/audit-log")
assert_eq "$RESULT" "[]"
test_pass "a new entity: empty data, version 0, empty audit log"

RESULT=$(post "/trait/$T1/update" '{"data":"first"}')
assert_eq "$RESULT" "null"
RESULT=$(get "/trait/$T1")
assert_eq "$RESULT" '"first"'
test_pass "update then get returns the data"

post "/trait/$T1/update" '{"data":"second"}' > /dev/null
RESULT=$(get "/trait/$T1/version")
assert_eq "$RESULT" "2"
get "/trait/$T1" > /dev/null
get "/trait/$T1/audit-log" > /dev/null
RESULT=$(get "/trait/$T1/version")
assert_eq "$RESULT" "2"
test_pass "version is bumped once per update, never by reads (Versioned)"

LOG=$(get "/trait/$T1/audit-log")
assert_eq "$(jq -c 'map(.action)' <<<"$LOG")" '["update","update"]'
assert_eq "$(jq -c 'map(.details)' <<<"$LOG")" '["{\"data\":\"first\"}","{\"data\":\"second\"}"]'
assert_eq "$(jq '[.[] | select(.timestamp | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$"))] | length' <<<"$LOG")" "2"
assert_eq "$(jq '.[0].timestamp <= .[1].timestamp' <<<"$LOG")" "true"
test_pass "audit log: one entry per update, naming the action, with details and a timestamp (Auditable)"

post "/trait/$T2/update" '{"data":"other"}' > /dev/null
RESULT=$(get "/trait/$T2/version")
assert_eq "$RESULT" "1"
RESULT=$(get "/trait/$T1/version")
assert_eq "$RESULT" "2"
assert_eq "$(get "/trait/$T2/audit-log" | jq length)" "1"
test_pass "entity ids are independent, trait state included"

assert_eq "$(status POST "/trait/$T1/update" '{"data":5}')" "400"
assert_eq "$(status POST "/trait/$T1/update" '{}')" "400"
assert_eq "$(status POST "/trait/$T1/update" 'nope')" "400"
assert_eq "$(get "/trait/$T1/version")" "2"
test_pass "bad input gets a 400 and leaves the traits' state alone"

T3=$(uid trait-concurrent)
seq 50 | xargs -P 25 -I{} curl -sf -o /dev/null -X POST "$BASE_URL/trait/$T3/update" -H "Content-Type: application/json" -d '{"data":"d{}"}'
assert_eq "$(get "/trait/$T3/version")" "50"
assert_eq "$(get "/trait/$T3/audit-log" | jq 'map(.details) | unique | length')" "50"
test_pass "50 concurrent updates: version 50 and 50 distinct audit entries (traits commit with the update)"

IDLE_MS=$(get "/health" | jq -r '.entity_idle_ms')
if [ "$IDLE_MS" -le 10000 ]; then
    not_active() { ! get "/debug/entities" | grep -qF "\"entity_id\":\"$T1\""; }
    wait_until "TraitTest $T1 to be evicted" $(( IDLE_MS / 1000 + 15 )) not_active
    assert_eq "$(get "/trait/$T1")" '"second"'
    assert_eq "$(get "/trait/$T1/version")" "2"
    assert_eq "$(get "/trait/$T1/audit-log")" "$LOG"
    test_pass "trait state is persisted alongside the entity's: all of it survives eviction"
else
    test_skip "eviction (ENTITY_IDLE_MS=$IDLE_MS is too long to wait for; run the target with ≤ 10000)"
fi

echo "All trait tests passed"
