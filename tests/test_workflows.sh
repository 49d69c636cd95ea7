#!/bin/bash
set -e
source "$(dirname "$0")/lib/helpers.sh"

# shard_of ID COUNT: the framework's shard of an (ASCII) id: djb2 over its characters, mod COUNT.
shard_of() {
    local s="$1" h=5381 i c
    for ((i = 0; i < ${#s}; i++)); do
        printf -v c '%d' "'${s:i:1}"
        h=$(((h * 33 + c) & 0xFFFFFFFF))
    done
    echo $((h % $2))
}

steps_upto() { jq -nc --argjson n "$1" '[range(1; $n + 1) | "step\(.)"]'; }
ONCE='(.step_runs | to_entries | all(.value == 1))'

test_start "Durable workflows"
W=$(uid wf)

RESULT=$(post "/workflow/$W/run-simple" '{"exec_id":"s1"}')
assert_contains "$RESULT" "completed"
EXEC=$(get "/workflow/$W/execution/s1")
assert_json "$EXEC" '.id == "s1" and .status == "completed" and .steps_completed == ["step1","step2","step3"]'
assert_json "$EXEC" "$ONCE and .attempts == 1 and .error == null and .finished_at != null"
test_pass "run-simple completes step1–step3, each once"

AGAIN=$(post "/workflow/$W/run-simple" '{"exec_id":"s1"}')
assert_eq "$AGAIN" "$RESULT"
EXEC=$(get "/workflow/$W/execution/s1")
assert_json "$EXEC" "$ONCE and .attempts == 1"
test_pass "running a completed exec id again returns its result; no step runs again"

req POST "/workflow/$W/run-failing" '{"exec_id":"f1","fail_at":2}'
assert_eq "$CODE" "422"
assert_json "$BODY" '.error | test("step2 failed")'
EXEC=$(get "/workflow/$W/execution/f1")
assert_json "$EXEC" '.status == "failed" and .steps_completed == ["step1"] and (.error | test("step2")) and .attempts == 1'
test_pass "a failing workflow answers 422 with a JSON error and is recorded as failed at its step"

RESULT=$(post "/workflow/$W/run-failing" '{"exec_id":"f1","fail_at":2}')
assert_contains "$RESULT" "completed"
EXEC=$(get "/workflow/$W/execution/f1")
assert_json "$EXEC" '.status == "completed" and .steps_completed == ["step1","step2","step3"] and .error == null'
assert_json "$EXEC" "$ONCE and .attempts == 2"
test_pass "the failed workflow is retried from its failed step; step1 does not run again"

RESULT=$(post "/workflow/$W/run-long" '{"exec_id":"l1","steps":25}')
assert_eq "$RESULT" '"completed 25 steps"'
EXEC=$(get "/workflow/$W/execution/l1")
assert_json "$EXEC" ".steps_completed == $(steps_upto 25) and $ONCE"
test_pass "run-long runs step1…step25 in order, each once"

req GET "/workflow/$W/execution/nope"
assert_eq "$CODE" "404"
assert_json "$BODY" '.error | type == "string"'
LIST=$(get "/workflow/$W/executions")
assert_json "$LIST" '[.[].id] == ["s1","f1","l1"] and ([.[].status] | all(. == "completed"))'
test_pass "execution of an unknown exec id is 404; executions lists this entity's runs"

OUT=$(mktemp -d)
seq 12 | xargs -P 12 -I{} curl -sf -X POST "$BASE_URL/workflow/$W/run-long" -H "Content-Type: application/json" \
    -d '{"exec_id":"dup","steps":10,"step_delay_ms":20}' -o "$OUT/{}" || test_fail "a concurrent duplicate run failed"
RESULTS=$(for f in "$OUT"/*; do cat "$f"; echo; done | sort | uniq -c | sed "s/^ *//")
rm -rf "$OUT"
assert_eq "$RESULTS" '12 "completed 10 steps"'
EXEC=$(get "/workflow/$W/execution/dup")
assert_json "$EXEC" "$ONCE and .attempts == 1 and (.steps_completed | length) == 10"
test_pass "12 concurrent runs of one exec id execute it once and all get its result"

test_start "Workflow input checks"
assert_eq "$(status POST "/workflow/$W/run-long" '{"exec_id":"b1","steps":0}')" "400"
assert_eq "$(status POST "/workflow/$W/run-long" '{"exec_id":"b1","steps":10001}')" "400"
assert_eq "$(status POST "/workflow/$W/run-long" '{"exec_id":"b1","steps":"x"}')" "400"
assert_eq "$(status POST "/workflow/$W/run-long" '{"exec_id":"b1","steps":2,"step_delay_ms":-1}')" "400"
assert_eq "$(status POST "/workflow/$W/run-failing" '{"exec_id":"b1","fail_at":0}')" "400"
assert_eq "$(status POST "/workflow/$W/run-simple" '{}')" "400"
assert_eq "$(status POST "/workflow/$W/run-simple" '{"exec_id":""}')" "400"
req POST "/workflow/$W/run-long" '{"exec_id":"s1","steps":3}'
assert_eq "$CODE" "409"
assert_json "$BODY" '.error | test("exec id s1 is taken")'
test_pass "bad input is 400; an exec id reused with other arguments is 409; errors are JSON"

if [ -n "${CLUSTER_RESTART_CMD:-}" ]; then
    test_start "Workflow replay after a runner restart"
    # An entity whose shard the restarted runner (the target) owns.
    TARGET=$(get "/health" | jq -r '.runner')
    SHARDS=$(get "/debug/shards")
    NSHARDS=$(jq 'length' <<<"$SHARDS")
    R=""
    for ((i = 1; i <= 500; i++)); do
        candidate=$(uid "wf-restart-$i")
        owner=$(jq -r --argjson s "$(shard_of "$candidate" "$NSHARDS")" '.[] | select(.shard_id == $s) | .owner' <<<"$SHARDS")
        if [ "$owner" = "$TARGET" ]; then R="$candidate"; break; fi
    done
    [ -n "$R" ] || test_fail "no entity id found on shards of $TARGET"
    curl -s -o /dev/null -X POST "$BASE_URL/workflow/$R/run-long" -H "Content-Type: application/json" \
        -d '{"exec_id":"r1","steps":40,"step_delay_ms":50}' &
    CALLER=$!
    some_steps() { [ "$(get "/workflow/$R/execution/r1" | jq '.steps_completed | length')" -ge 5 ]; }
    wait_until "the workflow to run a few steps" 30 some_steps
    # The caller would hold the runner's graceful stop open; it is ours to stop.
    kill "$CALLER" 2>/dev/null || true
    wait "$CALLER" 2>/dev/null || true
    bash -c "$CLUSTER_RESTART_CMD"
    wait_until "the target to be healthy again" 60 get "/health"
    completed() { get "/workflow/$R/execution/r1" | jq -e '.status == "completed"'; }
    wait_until "the workflow to complete" 60 completed
    EXEC=$(get "/workflow/$R/execution/r1")
    assert_json "$EXEC" ".steps_completed == $(steps_upto 40) and $ONCE and .attempts >= 2"
    test_pass "a workflow interrupted by a runner restart resumes and completes; every step ran once"
else
    test_skip "restart replay (set CLUSTER_RESTART_CMD to a command that restarts the target)"
fi

echo "All workflow tests passed"
