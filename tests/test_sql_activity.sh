#!/bin/bash
# SqlActivityTest: application SQL in the transaction of an activity's turn.
set -e
source "$(dirname "$0")/lib/helpers.sh"

test_start "SQL activity: state and application rows commit together"
A=$(uid sqlacct)
assert_eq "$(get "/sql-activity/$A/state")" "{\"account_id\":\"$A\",\"transfer_count\":0,\"total_transferred\":0}"
assert_eq "$(get "/sql-activity/$A/sql-count")" "0"
test_pass "a new account has zeros and no rows"

assert_eq "$(post "/sql-activity/$A/transfer" '{"to_entity":"bob","amount":5}')" "1"
assert_eq "$(post "/sql-activity/$A/transfer" '{"to_entity":"carol","amount":7}')" "2"
assert_json "$(get "/sql-activity/$A/state")" '.transfer_count == 2 and .total_transferred == 12'
assert_eq "$(get "/sql-activity/$A/sql-count")" "2"
test_pass "each transfer adds to the state and inserts one row"

assert_eq "$(post "/sql-activity/$A/transfer" '{"to_entity":"bob","amount":5}')" "1"
assert_json "$(get "/sql-activity/$A/state")" '.transfer_count == 2 and .total_transferred == 12'
assert_eq "$(get "/sql-activity/$A/sql-count")" "2"
test_pass "the same transfer sent again returns its stored result and applies nothing"

test_start "SQL activity: rollback"
req POST "/sql-activity/$A/failing-transfer" '{"to_entity":"dave","amount":9}'
[ "$CODE" -ge 400 ] || test_fail "failing-transfer answered $CODE"
assert_json "$BODY" '.error | type == "string"'
assert_json "$(get "/sql-activity/$A/state")" '.transfer_count == 2 and .total_transferred == 12'
assert_eq "$(get "/sql-activity/$A/sql-count")" "2"
test_pass "an activity that throws after its state change and its insert leaves neither (status $CODE)"

test_start "SQL activity: bad input"
BEFORE=$(get "/sql-activity/$A/state")
for body in '{"to_entity":"bob","amount":1.5}' '{"to_entity":"bob","amount":9007199254740992}' '{"to_entity":"bob","amount":0}' \
  '{"to_entity":"bob","amount":-3}' '{"to_entity":"bob"}' '{"amount":3}' '{"to_entity":"","amount":3}' '{"to_entity":"bob","amount":"3"}' 'null' '[1]'; do
  for route in transfer failing-transfer; do
    req POST "/sql-activity/$A/$route" "$body"
    assert_eq "$CODE" "400"
    assert_json "$BODY" '.error | type == "string"'
  done
done
assert_eq "$(get "/sql-activity/$A/state")" "$BEFORE"
assert_eq "$(get "/sql-activity/$A/sql-count")" "2"
HOSTILE=$(uid "x%27%3B%20drop%20table%20transfers%3B--")
assert_eq "$(get "/sql-activity/$HOSTILE/sql-count")" "0"
assert_eq "$(status GET "/sql-activity/%00/state")" "400"
assert_eq "$(status GET "/sql-activity/$A/sql-count")" "200"
test_pass "non-integer, inexact, non-positive or missing amounts and hostile ids are 4xx JSON and change nothing"

echo "All SQL activity tests passed"
