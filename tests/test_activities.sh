#!/bin/bash
set -e
source "$(dirname "$0")/lib/helpers.sh"

ONCE='(.step_runs | to_entries | all(.value == 1))'
ISO='test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z$")'

test_start "Activity journaling"
A=$(uid act)

RESULT=$(post "/activity/$A/run" '{"exec_id":"a1"}')
assert_json "$RESULT" 'length == 3 and .[0] == "start" and (.[1] | startswith("external_call: ")) and .[2] == "finish"'
LOG=$(get "/activity/$A/log")
assert_json "$LOG" "[.[].id] == [\"a1:start\",\"a1:finish\"] and [.[].action] == [\"start\",\"finish\"] and ([.[].timestamp] | all($ISO))"
test_pass "run executes the activities and returns their actions; log_activity recorded them"

AGAIN=$(post "/activity/$A/run" '{"exec_id":"a1"}')
assert_eq "$AGAIN" "$RESULT"
assert_eq "$(get "/activity/$A/log")" "$LOG"
EXEC=$(get "/activity/$A/execution/a1")
assert_json "$EXEC" '.steps_completed == ["log_activity:start","external_call","log_activity:finish"] and .attempts == 1'
assert_json "$EXEC" "$ONCE"
test_pass "running it again replays the journal: same actions, no new records, each activity ran once"

post "/activity/$A/run" '{"exec_id":"a2"}' >/dev/null
assert_json "$(get "/activity/$A/log")" '[.[].id] == ["a1:start","a1:finish","a2:start","a2:finish"]'
test_pass "another exec id runs its own activities"

test_start "Transactional activities"
req POST "/activity/$A/run" '{"exec_id":"t1","fail_once":true}'
assert_eq "$CODE" "422"
assert_json "$BODY" '.error | test("log_activity:finish failed")'
LOG=$(get "/activity/$A/log")
assert_json "$LOG" '([.[].id] | index("t1:start")) != null and ([.[].id] | index("t1:finish")) == null'
EXEC=$(get "/activity/$A/execution/t1")
assert_json "$EXEC" '.status == "failed" and .steps_completed == ["log_activity:start","external_call"]'
test_pass "an activity that throws after changing state leaves neither its change nor a journal entry"

RESULT=$(post "/activity/$A/run" '{"exec_id":"t1","fail_once":true}')
assert_json "$RESULT" '.[2] == "finish"'
LOG=$(get "/activity/$A/log")
assert_json "$LOG" '([.[] | select(.id == "t1:start")] | length) == 1 and ([.[] | select(.id == "t1:finish")] | length) == 1'
EXEC=$(get "/activity/$A/execution/t1")
assert_json "$EXEC" ".status == \"completed\" and .attempts == 2 and $ONCE"
test_pass "the retry commits the failed activity once; the ones before it do not run again"

test_start "Activity input checks"
assert_eq "$(status POST "/activity/$A/run" '{}')" "400"
assert_eq "$(status POST "/activity/$A/run" '{"exec_id":""}')" "400"
assert_eq "$(status POST "/activity/$A/run" '{"exec_id":"x","fail_once":"yes"}')" "400"
req GET "/activity/$A/execution/nope"
assert_eq "$CODE" "404"
assert_json "$BODY" '.error | type == "string"'
test_pass "bad input is 400, an unknown execution 404, with JSON errors"

echo "All activity tests passed"
