#!/bin/bash
# ActivityGroupTest: a workflow mixing in the Inventory and Payments activity groups.
set -e
source "$(dirname "$0")/lib/helpers.sh"
ISO='test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$")'

test_start "Activity groups"
O=$(uid order)
assert_eq "$(get "/activity-group/$O/order-steps")" "[]"
RESULT=$(post "/activity-group/$O/process-order" '{"item_count":3,"amount":250}')
EXPECTED="{\"order_id\":\"$O\",\"reservation_id\":\"res-$O-3\",\"transaction_id\":\"tx-$O-250\",\"confirmation\":\"confirmed-res-$O-3\",\"summary\":\"order=$O,res=res-$O-3,tx=tx-$O-250\"}"
assert_eq "$RESULT" "$EXPECTED"
test_pass "process-order runs reserve_items, charge_payment (groups), confirm_reservation and summarize"

STEPS=$(get "/activity-group/$O/order-steps")
assert_json "$STEPS" "[.[].step] == [\"reserve\",\"charge\",\"confirm\",\"summary\"] and .[0].detail == \"res-$O-3\" and .[3].detail == \"order=$O,res=res-$O-3,tx=tx-$O-250\" and ([.[].created_at] | all($ISO))"
test_pass "each activity recorded its step, in order"

assert_eq "$(post "/activity-group/$O/process-order" '{"item_count":3,"amount":250}')" "$EXPECTED"
assert_eq "$(get "/activity-group/$O/order-steps")" "$STEPS"
test_pass "the same order again returns the stored result and records nothing new"

O2=$(uid order-other)
post "/activity-group/$O2/process-order" '{"item_count":1,"amount":0}' >/dev/null
assert_json "$(get "/activity-group/$O2/order-steps")" "length == 4 and .[0].detail == \"res-$O2-1\""
assert_eq "$(get "/activity-group/$O/order-steps")" "$STEPS"
test_pass "order-steps lists that order's steps only"

test_start "Activity groups: bad input"
B=$(uid order-bad)
for body in '{"item_count":1.5,"amount":1}' '{"item_count":0,"amount":1}' '{"item_count":1,"amount":-1}' '{"item_count":1,"amount":9007199254740993}' \
  '{"item_count":1}' '{"amount":1}' '{"item_count":"1","amount":1}' 'null' '[]'; do
  req POST "/activity-group/$B/process-order" "$body"
  assert_eq "$CODE" "400"
  assert_json "$BODY" '.error | type == "string"'
done
assert_eq "$(get "/activity-group/$B/order-steps")" "[]"
assert_eq "$(status GET "/activity-group/%00/order-steps")" "400"
assert_eq "$(get "/activity-group/$(uid "%27%3B%20drop%20table%20order_steps%3B--")/order-steps")" "[]"
test_pass "bad amounts or item counts, missing fields and hostile ids are 4xx JSON and record nothing"

echo "All activity group tests passed"
