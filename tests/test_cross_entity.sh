#!/bin/bash
set -e
source "$(dirname "$0")/lib/helpers.sh"

test_start "Cross-Entity Communication"
A=$(uid cross-a)
B=$(uid cross-b)

RESULT=$(post "/cross/$A/send" "{\"target_type\":\"CrossEntity\",\"target_id\":\"$B\",\"message\":\"hello\"}")
assert_eq "$RESULT" "null"
RESULT=$(get "/cross/$B/messages")
assert_eq "$(jq -r 'length' <<<"$RESULT")" "1"
assert_eq "$(jq -r '.[0].from_entity' <<<"$RESULT")" "$A"
assert_eq "$(jq -r '.[0].content' <<<"$RESULT")" "hello"
assert_contains "$(jq -r '.[0].timestamp' <<<"$RESULT")" "T"
test_pass "an entity can call another entity (send delivers to receive, from = sender)"

post "/cross/$B/receive" "{\"from\":\"outside\",\"message\":\"direct\"}" > /dev/null
RESULT=$(get "/cross/$B/messages" | jq -c '[.[].content]')
assert_eq "$RESULT" '["hello","direct"]'
test_pass "receive can be called directly; messages keep their order"

post "/cross/$B/clear" "{}" > /dev/null
assert_eq "$(get "/cross/$B/messages")" "[]"
test_pass "clear empties the messages"

RESULT=$(post "/cross/$A/ping-pong" "{\"partner_id\":\"$B\",\"count\":5}")
assert_eq "$RESULT" "10"
assert_eq "$(get "/cross/$B/messages" | jq -c '[.[].content]')" '["ping 1","ping 2","ping 3","ping 4","ping 5"]'
assert_eq "$(get "/cross/$A/messages" | jq -c '[.[] | select(.from_entity == "'"$B"'") | .content]')" '["pong 1","pong 2","pong 3","pong 4","pong 5"]'
test_pass "circular calls A -> B -> A complete (ping-pong: the partner calls back into the running initiator)"

SELF=$(uid cross-self)
post "/cross/$SELF/send" "{\"target_type\":\"CrossEntity\",\"target_id\":\"$SELF\",\"message\":\"to myself\"}" > /dev/null
assert_eq "$(get "/cross/$SELF/messages" | jq -r '.[0].content')" "to myself"
assert_eq "$(post "/cross/$SELF/ping-pong" "{\"partner_id\":\"$SELF\",\"count\":2}")" "4"
test_pass "an entity can call itself (A -> A) without deadlock"

assert_eq "$(status POST "/cross/$A/send" '{"target_type":"Counter","target_id":"x","message":"m"}')" "400"
assert_eq "$(status POST "/cross/$A/ping-pong" '{"partner_id":"x","count":-1}')" "400"
assert_eq "$(status POST "/cross/$A/send" '{"target_type":"CrossEntity","message":"m"}')" "400"
test_pass "bad targets and counts are rejected with 400"

# Cross-runner: two entities whose shards live on different runners.
RUNNERS=$(get /debug/shards | jq '[.[].owner] | unique | length')
if [ "$RUNNERS" -ge 2 ]; then
    P=$(uid pp-a)
    OWNER_P=$(owner_of "$P")
    for n in $(seq 1 200); do
        Q="$(uid pp-b)-$n"
        [ "$(owner_of "$Q")" != "$OWNER_P" ] && break
    done
    assert_eq "$(post "/cross/$P/ping-pong" "{\"partner_id\":\"$Q\",\"count\":20}")" "40"
    ENTITIES=$(get /debug/entities)
    RP=$(jq -r --arg id "$P" '.[] | select(.entity_id == $id) | .runner' <<<"$ENTITIES")
    RQ=$(jq -r --arg id "$Q" '.[] | select(.entity_id == $id) | .runner' <<<"$ENTITIES")
    assert_eq "$RP" "$OWNER_P"
    [ "$RP" != "$RQ" ] || test_fail "ping-pong partners ended up on one runner ($RP)"
    assert_eq "$(get "/cross/$Q/messages" | jq 'length')" "20"
    assert_eq "$(get "/cross/$P/messages" | jq 'length')" "20"
    test_pass "cross-runner ping-pong ($RP <-> $RQ) completes with 40 messages"
else
    test_skip "cross-runner ping-pong (the target is a single runner)"
fi

echo "All cross-entity tests passed"
