#!/bin/bash
# StatelessCounter: an entity without framework state, its value in an application table.
set -e
source "$(dirname "$0")/lib/helpers.sh"

test_start "Stateless counter"
C=$(uid stateless)
assert_eq "$(get "/stateless-counter/$C")" "0"
assert_eq "$(post "/stateless-counter/$C/increment" '5')" "5"
assert_eq "$(post "/stateless-counter/$C/increment" '3')" "8"
assert_eq "$(post "/stateless-counter/$C/decrement" '10')" "-2"
assert_eq "$(get "/stateless-counter/$C")" "-2"
test_pass "increment and decrement return the new value; get reads it; 0 for a new id"

assert_eq "$(post "/stateless-counter/$C/reset" 'null')" "null"
assert_eq "$(get "/stateless-counter/$C")" "0"
post "/stateless-counter/$C/increment" '4' >/dev/null
assert_eq "$(post "/stateless-counter/$C/reset" '{}')" "null"
assert_eq "$(get "/stateless-counter/$C")" "0"
test_pass "reset (body null or {}) returns null and the value is 0 again"

test_start "Stateless counter: concurrency"
P=$(uid stateless-par)
pids=()
for i in $(seq 1 20); do post "/stateless-counter/$P/increment" '1' >/dev/null & pids+=($!); done
for pid in "${pids[@]}"; do wait "$pid"; done
assert_eq "$(get "/stateless-counter/$P")" "20"
test_pass "20 concurrent increments count 20 (one turn at a time per id)"

test_start "Stateless counter: exact integers and bad input"
B=$(uid stateless-big)
assert_eq "$(post "/stateless-counter/$B/increment" '9007199254740991')" "9007199254740991"
req POST "/stateless-counter/$B/increment" '1'
assert_eq "$CODE" "400"
assert_json "$BODY" '.error | test("exact integer")'
assert_eq "$(post "/stateless-counter/$B/decrement" '9007199254740991')" "0"
assert_eq "$(post "/stateless-counter/$B/decrement" '9007199254740991')" "-9007199254740991"
assert_eq "$(status POST "/stateless-counter/$B/decrement" '1')" "400"
for body in '9007199254740992' '1.5' '"5"' '' 'null' '{"amount":1}' '1e400'; do
  req POST "/stateless-counter/$B/increment" "$body"
  assert_eq "$CODE" "400"
  assert_json "$BODY" '.error | type == "string"'
done
assert_eq "$(get "/stateless-counter/$B")" "-9007199254740991"
assert_eq "$(status GET "/stateless-counter/%00")" "400"
assert_eq "$(get "/stateless-counter/$(uid "%27%3B%20drop%20table%20stateless_counters%3B--")")" "0"
test_pass "results beyond ±(2^53−1), inexact or non-integer bodies and hostile ids are 4xx JSON and change nothing"

echo "All stateless counter tests passed"
