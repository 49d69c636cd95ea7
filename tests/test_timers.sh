#!/bin/bash
set -e
source "$(dirname "$0")/lib/helpers.sh"

# Fires are awaited by polling GET /timer/{id}/fires with a bounded wait, never by a fixed sleep.
# Timestamps are compared in milliseconds (jq's fromdateiso8601 ignores fractions, so they are
# added back).
JQ_MS='def ms: capture("^(?<s>[^.Z]+)(\\.(?<f>[0-9]+))?Z$") as $m
  | ((($m.s + "Z") | fromdateiso8601) * 1000) + ((($m.f // "") + "000")[0:3] | tonumber);'

# fires ID: the entity's fires.
fires() { get "/timer/$1/fires"; }
# fire_count ID TIMER: how often TIMER fired on ID.
fire_count() { fires "$1" | jq --arg t "$2" '[.[] | select(.timer_id == $t)] | length'; }
# has_fired ID TIMER: TIMER fired on ID.
has_fired() { [ "$(fire_count "$1" "$2")" -ge 1 ]; }
# wait_fired ID TIMER [TIMEOUT_S]
wait_fired() { wait_until "timer $2 of $1 to fire" "${3:-15}" has_fired "$1" "$2"; }
# waited_ms ID TIMER: fired_at − scheduled_at of TIMER's fire.
waited_ms() { fires "$1" | jq --arg t "$2" "$JQ_MS"' [.[] | select(.timer_id == $t)][0] | (.fired_at | ms) - (.scheduled_at | ms)'; }
# settle ID: a sentinel timer scheduled now fires after everything already due on ID; once it has,
# a duplicate fire of anything earlier would have been recorded.
settle() {
    local sentinel="sentinel-$RANDOM$RANDOM"
    post "/timer/$1/schedule" "{\"timer_id\":\"$sentinel\",\"delay_ms\":50}" > /dev/null
    wait_fired "$1" "$sentinel"
}

test_start "Timers"
T1=$(uid timer1)
T2=$(uid timer2)

START=$(date +%s%N)
RESULT=$(post "/timer/$T1/schedule" '{"timer_id":"long","delay_ms":30000}')
ELAPSED_MS=$(( ($(date +%s%N) - START) / 1000000 ))
assert_eq "$RESULT" "null"
[ "$ELAPSED_MS" -lt 5000 ] || test_fail "scheduling a 30 s timer took ${ELAPSED_MS} ms: it must return at once"
assert_eq "$(post "/timer/$T1/cancel" '{"timer_id":"long"}')" "true"
RESULT=$(post "/timer/$T1/schedule" '{"timer_id":"t1","delay_ms":700}')
assert_eq "$RESULT" "null"
PENDING=$(get "/timer/$T1/pending")
assert_eq "$(jq -c 'map(.timer_id)' <<<"$PENDING")" '["t1"]'
assert_eq "$(jq "$JQ_MS"' .[0] | (.fire_at | ms) - (.scheduled_at | ms)' <<<"$PENDING")" "700"
assert_eq "$(fires "$T1")" "[]"
test_pass "schedule returns at once (${ELAPSED_MS} ms for a 30 s timer); the timer is pending, due scheduled_at + delay"

wait_fired "$T1" t1
WAITED=$(waited_ms "$T1" t1)
[ "$WAITED" -ge 700 ] || test_fail "t1 fired after ${WAITED} ms, before its 700 ms delay"
FIRE=$(fires "$T1" | jq -c '.[0]')
assert_eq "$(jq -c 'keys' <<<"$FIRE")" '["fired_at","scheduled_at","timer_id"]'
assert_eq "$(jq -c '.[0].scheduled_at' <<<"$PENDING")" "$(jq -c '.scheduled_at' <<<"$FIRE")"
assert_eq "$(get "/timer/$T1/pending")" "[]"
test_pass "the timer fires after its delay, not before (fired_at − scheduled_at = ${WAITED} ms ≥ 700 ms)"

post "/timer/$T1/schedule" '{"timer_id":"doomed","delay_ms":300}' > /dev/null
post "/timer/$T1/schedule" '{"timer_id":"survivor","delay_ms":600}' > /dev/null
RESULT=$(post "/timer/$T1/cancel" '{"timer_id":"doomed"}')
assert_eq "$RESULT" "true"
RESULT=$(post "/timer/$T1/cancel" '{"timer_id":"doomed"}')
assert_eq "$RESULT" "false"
wait_fired "$T1" survivor
settle "$T1"
assert_eq "$(fire_count "$T1" doomed)" "0"
assert_eq "$(fire_count "$T1" survivor)" "1"
test_pass "a cancelled timer never fires (cancel → true once, then false); the others still do"

RESULT=$(post "/timer/$T1/cancel" '{"timer_id":"no-such-timer"}')
assert_eq "$RESULT" "false"
RESULT=$(post "/timer/$T1/cancel" '{"timer_id":"t1"}')
assert_eq "$RESULT" "false"
test_pass "cancelling an unknown or already fired timer → false"

post "/timer/$T2/schedule" '{"timer_id":"c","delay_ms":900}' > /dev/null
post "/timer/$T2/schedule" '{"timer_id":"a","delay_ms":300}' > /dev/null
post "/timer/$T2/schedule" '{"timer_id":"b","delay_ms":600}' > /dev/null
assert_eq "$(get "/timer/$T2/pending" | jq -c 'map(.timer_id)')" '["a","b","c"]'
wait_fired "$T2" c
settle "$T2"
FIRES=$(fires "$T2" | jq -c '[.[] | select(.timer_id | startswith("sentinel") | not)]')
assert_eq "$(jq -c 'map(.timer_id)' <<<"$FIRES")" '["a","b","c"]'
for t in a:300 b:600 c:900; do
    WAITED=$(waited_ms "$T2" "${t%%:*}")
    [ "$WAITED" -ge "${t##*:}" ] || test_fail "timer ${t%%:*} fired after ${WAITED} ms, before its ${t##*:} ms delay"
done
test_pass "several timers on one entity each fire once, in due order, none early"

assert_eq "$(fire_count "$T1" a)" "0"
assert_eq "$(fire_count "$T2" t1)" "0"
T3=$(uid timer3)
assert_eq "$(fires "$T3")" "[]"
assert_eq "$(post "/timer/$T3/cancel" '{"timer_id":"a"}')" "false"
test_pass "entity ids are independent: same timer ids, separate timers"

post "/timer/$T2/schedule" '{"timer_id":"again","delay_ms":60000}' > /dev/null
post "/timer/$T2/schedule" '{"timer_id":"again","delay_ms":200}' > /dev/null
assert_eq "$(get "/timer/$T2/pending" | jq length)" "1"
wait_fired "$T2" again
settle "$T2"
assert_eq "$(fire_count "$T2" again)" "1"
test_pass "scheduling a pending timer id again replaces it"

RESULT=$(post "/timer/$T2/clear-fires" "{}")
assert_eq "$RESULT" "null"
assert_eq "$(fires "$T2")" "[]"
test_pass "clear-fires empties the history"

assert_eq "$(status POST "/timer/$T1/schedule" '{"timer_id":"x","delay_ms":-5}')" "400"
assert_eq "$(status POST "/timer/$T1/schedule" '{"timer_id":"x","delay_ms":"soon"}')" "400"
assert_eq "$(status POST "/timer/$T1/schedule" '{"timer_id":"x","delay_ms":1e30}')" "400"
assert_eq "$(status POST "/timer/$T1/schedule" '{"timer_id":"","delay_ms":1}')" "400"
assert_eq "$(status POST "/timer/$T1/schedule" '{"delay_ms":1}')" "400"
assert_eq "$(status POST "/timer/$T1/cancel" '[]')" "400"
RESULT=$(curl -s -X POST "$BASE_URL/timer/$T1/schedule" -H "Content-Type: application/json" -d '{"timer_id":"x","delay_ms":-5}')
assert_contains "$RESULT" '"error"'
assert_eq "$(get "/timer/$T1/pending")" "[]"
test_pass "bad input gets a 4xx JSON error and schedules nothing"

if [ -n "${CLUSTER_RESTART_CMD:-}" ]; then
    T4=$(uid timer-restart)
    post "/timer/$T4/schedule" '{"timer_id":"t3s","delay_ms":3000}' > /dev/null
    bash -c "$CLUSTER_RESTART_CMD"
    wait_until "the target to be healthy again" 60 get "/health"
    wait_fired "$T4" t3s 30
    settle "$T4"
    assert_eq "$(fire_count "$T4" t3s)" "1"
    WAITED=$(waited_ms "$T4" t3s)
    [ "$WAITED" -ge 3000 ] || test_fail "t3s fired after ${WAITED} ms, before its 3000 ms delay"
    test_pass "a 3 s timer survives a runner restart and fires exactly once"
else
    test_skip "restart (set CLUSTER_RESTART_CMD to a command that restarts the target)"
fi

echo "All timer tests passed"
