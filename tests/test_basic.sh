#!/bin/bash
set -e
source "$(dirname "$0")/lib/helpers.sh"

test_start "Basic Counter Operations"
C1=$(uid test1)
C2=$(uid test2)

# Increment
RESULT=$(post "/counter/$C1/increment" "5")
assert_eq "$RESULT" "5"
test_pass "increment returns new value"

# Get
RESULT=$(get "/counter/$C1")
assert_eq "$RESULT" "5"
test_pass "get returns current value"

# Multiple increments
post "/counter/$C1/increment" "3" > /dev/null
RESULT=$(get "/counter/$C1")
assert_eq "$RESULT" "8"
test_pass "multiple increments accumulate"

# Decrement
RESULT=$(post "/counter/$C1/decrement" "2")
assert_eq "$RESULT" "6"
test_pass "decrement works"

# Reset
post "/counter/$C1/reset" "{}" > /dev/null
RESULT=$(get "/counter/$C1")
assert_eq "$RESULT" "0"
test_pass "reset works"

# Different entity IDs are independent
post "/counter/$C2/increment" "100" > /dev/null
RESULT=$(get "/counter/$C1")
assert_eq "$RESULT" "0"
RESULT=$(get "/counter/$C2")
assert_eq "$RESULT" "100"
test_pass "entity IDs are independent"

# Concurrent increments are serialized: 200 × +1 from 50 parallel clients
C3=$(uid concurrent)
seq 200 | xargs -P 50 -I{} curl -sf -o /dev/null -X POST "$BASE_URL/counter/$C3/increment" -H "Content-Type: application/json" -d 1
RESULT=$(get "/counter/$C3")
assert_eq "$RESULT" "200"
test_pass "200 concurrent increments give exactly 200"

test_start "KVStore Operations"
KV=$(uid kv)
RESULT=$(post "/kv/$KV/set" '{"key":"name","value":{"first":"Ada","tags":["x",1,null,true]}}')
assert_eq "$RESULT" "null"
RESULT=$(get "/kv/$KV/get/name")
assert_eq "$RESULT" '{"first":"Ada","tags":["x",1,null,true]}'
test_pass "set then get returns the value"

RESULT=$(get "/kv/$KV/get/missing")
assert_eq "$RESULT" "null"
test_pass "get of a missing key returns null"

post "/kv/$KV/set" '{"key":"a/b c","value":42}' > /dev/null
RESULT=$(get "/kv/$KV/get/a%2Fb%20c")
assert_eq "$RESULT" "42"
RESULT=$(get "/kv/$KV/keys")
assert_eq "$RESULT" '["a/b c","name"]'
test_pass "percent-encoded keys round-trip; keys lists them"

RESULT=$(delete "/kv/$KV/delete/name")
assert_eq "$RESULT" "true"
RESULT=$(delete "/kv/$KV/delete/name")
assert_eq "$RESULT" "false"
test_pass "delete reports whether the key existed"

post "/kv/$KV/clear" "{}" > /dev/null
RESULT=$(get "/kv/$KV/keys")
assert_eq "$RESULT" "[]"
test_pass "clear empties the store"

UNI=$(uid "ключ 🔑")
ENC=$(printf '%s' "$UNI" | jq -sRr @uri)
post "/counter/$ENC/increment" "7" > /dev/null
RESULT=$(get "/counter/$ENC")
assert_eq "$RESULT" "7"
RESULT=$(get "/debug/entities")
assert_contains "$RESULT" "\"entity_id\":\"$UNI\""
test_pass "unicode ids with spaces round-trip exactly"

test_start "Bad input"
assert_eq "$(status POST "/counter/$C1/increment" '"abc"')" "400"
assert_eq "$(status POST "/counter/$C1/increment" '{oops')" "400"
assert_eq "$(status POST "/counter/$C1/increment" '9007199254740993')" "400"
assert_eq "$(status POST "/kv/$KV/set" '{"value":1}')" "400"
assert_eq "$(status GET "/no/such/route")" "404"
assert_eq "$(status DELETE "/counter/$C1")" "405"
RESULT=$(curl -s -X POST "$BASE_URL/counter/$C1/increment" -d '"abc"')
assert_contains "$RESULT" '"error"'
RESULT=$(get "/counter/$C1")
assert_eq "$RESULT" "0"
test_pass "bad input gets a 4xx JSON error and changes nothing"

echo "All basic tests passed"
