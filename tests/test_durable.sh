#!/bin/bash
set -e
source "$(dirname "$0")/lib/helpers.sh"

# The durable workflow suite (ApprovalTest): sleeps and signal waits suspend the execution, signals
# are exactly-once, compensations run on rejection or timeout, the charge is retried by policy.
# Executions are awaited by polling their status with a bounded wait, never by a fixed sleep.

# execution ID EXEC: the execution's view.
execution() { get "/approval/$1/execution/$2"; }
# has_status ID EXEC STATUS
has_status() { [ "$(execution "$1" "$2" | jq -r .status)" = "$3" ]; }
# wait_status ID EXEC STATUS [TIMEOUT_S]
wait_status() { wait_until "$2 of $1 to be $3" "${4:-20}" has_status "$1" "$2" "$3"; }
# start ID EXEC DELAY_MS TIMEOUT_MS FAIL_TIMES: sets CODE and BODY.
start() { req POST "/approval/$1/start" "{\"exec_id\":\"$2\",\"delay_ms\":$3,\"timeout_ms\":$4,\"fail_times\":$5}"; }
signal() { req POST "/approval/$1/signal" "{\"exec_id\":\"$2\",\"approve\":$3}"; }
idle() { [ "$(get /health | jq .active_executions)" = "0" ]; }

test_start "Durable workflows"
A=$(uid approval)

T0=$(date +%s%N)
start "$A" ok 1000 30000 2
ELAPSED_MS=$(( ($(date +%s%N) - T0) / 1000000 ))
assert_eq "$CODE" "202"
assert_json "$BODY" '.accepted | test("suspended")'
[ "$ELAPSED_MS" -lt 5000 ] || test_fail "start took ${ELAPSED_MS} ms: it must return at once"
assert_eq "$(execution "$A" ok | jq -r .status)" "suspended"
assert_json "$(execution "$A" ok)" '.journal[0].name == "reserve" and .reserved == 1'
wait_until "no execution held in memory" 10 idle
test_pass "start returns at once (202, ${ELAPSED_MS} ms); the sleeping execution is suspended, held in no runner's memory"

signal "$A" ok true
assert_eq "$CODE" "200"
signal "$A" ok false
assert_eq "$CODE" "409"
assert_json "$BODY" '.error | test("delivered already")'
test_pass "a signal delivered before the wait is kept; a second delivery → 409 (the first payload stands)"

wait_status "$A" ok completed
V=$(execution "$A" ok)
assert_eq "$(jq -r .result <<<"$V")" "charged"
assert_eq "$(jq -c '.journal | map(.name)' <<<"$V")" '["reserve","delay","approve","charge#1","charge#1.backoff","charge#2","charge#2.backoff","charge"]'
assert_json "$V" '.journal[3].result | fromjson | .error | test("charge attempt 1 refused")'
assert_json "$V" '.journal[5].result | fromjson | .error | test("charge attempt 2 refused")'
assert_eq "$(jq -c '[.reserved, .charged, .released, (.compensations | length)]' <<<"$V")" '[1,1,0,0]'
assert_json "$V" 'all(.journal[]; .runs == 1)'
test_pass "after the sleep and the approval, the charge is retried by policy: each failed attempt journaled with its error, charged once"

start "$A" late 200 30000 0
assert_eq "$CODE" "202"
wait_status "$A" late suspended
wait_until "late to wait for its signal" 20 bash -c "curl -sf '$BASE_URL/approval/$A/execution/late' | jq -e '.journal | map(.name) | index(\"delay\")' >/dev/null"
signal "$A" late true
assert_eq "$CODE" "200"
wait_status "$A" late completed
assert_eq "$(execution "$A" late | jq -c '[.reserved, .charged, .released]')" '[1,1,0]'
test_pass "a signal delivered while the execution waits for it resumes it, once"

start "$A" rejected 100 30000 0
signal "$A" rejected false
wait_status "$A" rejected compensated
V=$(execution "$A" rejected)
assert_json "$V" '.error | test("rejected")'
assert_eq "$(jq -c '[.reserved, .charged, .released, .compensations]' <<<"$V")" '[1,0,1,["reserve"]]'
test_pass "a rejection fails the workflow: the reservation is compensated (released once), status compensated"

start "$A" timeout 0 300 0
wait_status "$A" timeout compensated
V=$(execution "$A" timeout)
assert_json "$V" '.error | test("timed out")'
assert_eq "$(jq -c '[.reserved, .charged, .released]' <<<"$V")" '[1,0,1]'
signal "$A" timeout true
assert_eq "$CODE" "409"
test_pass "a signal timeout triggers the compensation; a signal after the timeout → 409"

start "$A" broke 0 30000 9
signal "$A" broke true
wait_status "$A" broke compensated 30
V=$(execution "$A" broke)
assert_eq "$(jq -c '[.reserved, .charged, .released]' <<<"$V")" '[1,0,1]'
assert_eq "$(jq '[.journal[] | select(.name | test("^charge#[0-9]+$"))] | length' <<<"$V")" "5"
test_pass "a charge that keeps failing exhausts its policy (5 attempts, all journaled), then the reservation is compensated"

req POST "/signals/ApprovalTest/$A/broke/approve" '{"payload":{"approve":true}}'
assert_eq "$CODE" "409"
req POST "/signals/ApprovalTest/$A/early/approve" '{"payload":{"approve":true}}'
assert_eq "$CODE" "200"
start "$A" early 0 30000 0
[ "$CODE" = "200" ] || [ "$CODE" = "202" ] || test_fail "start of early → $CODE"
wait_status "$A" early completed
test_pass "POST /signals/{type}/{id}/{exec}/{name} delivers a signal (even before the execution starts); a duplicate → 409"

assert_eq "$(status POST "/approval/$A/start" '{"exec_id":"bad","delay_ms":-1,"timeout_ms":0,"fail_times":0}')" "400"
assert_eq "$(status POST "/approval/$A/signal" '{"exec_id":"ok","approve":"yes"}')" "400"
assert_eq "$(status GET "/approval/$A/execution/nope")" "404"
assert_eq "$(status POST "/signals/NoSuchType/x/e/n" '{"payload":1}')" "501"
test_pass "bad input → 400, an unknown execution → 404, an unknown entity type → 501"

# The cron test job ticks every minute, or on the test-only CRON_TEST_SCHEDULE (npm test: every 2 s).
cron_runs() { get /cron/runs | jq length; }
BEFORE=$(cron_runs)
more_runs() { [ "$(cron_runs)" -ge $((BEFORE + 2)) ]; }
wait_until "two more cron runs" 150 more_runs
RUNS=$(get /cron/runs)
assert_eq "$(jq '[.[].due] | length == (unique | length)' <<<"$RUNS")" "true"
assert_json "$RUNS" 'all(.[]; (.at >= .due) and (.runner | length > 0))'
test_pass "the cron job runs once per due time ($(jq length <<<"$RUNS") runs, no due time twice), never before it"

echo "All durable workflow tests passed"
