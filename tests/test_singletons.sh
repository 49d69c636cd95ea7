#!/bin/bash
set -e
source "$(dirname "$0")/lib/helpers.sh"

read -r -a URLS <<<"${CLUSTER_URLS:-$BASE_URL}"

test_start "Cluster Singleton"

RUNNER=$(get "/singleton/current-runner" | jq -r .)
[ -n "$RUNNER" ] || test_fail "no current runner"
OWNERS=$(get /debug/shards | jq -r '[.[].owner] | unique | .[]')
assert_contains "$OWNERS" "$RUNNER"
test_pass "the singleton runs on a runner of the cluster ($RUNNER)"

for url in "${URLS[@]}"; do
    assert_eq "$(curl -sf "$url/singleton/current-runner" | jq -r .)" "$RUNNER"
done
test_pass "every runner reaches the same singleton (${#URLS[@]} runner(s) asked)"

HISTORY=$(get "/singleton/leader-history")
assert_eq "$(jq -r '.[-1].runner_id' <<<"$HISTORY")" "$RUNNER"
assert_eq "$(jq -r '.[-1].lost_leadership_at' <<<"$HISTORY")" "null"
test_pass "leader history ends with the current leader, still leading"

post "/singleton/reset-sequence" "" > /dev/null
assert_eq "$(post "/singleton/next-sequence" "")" "1"
assert_eq "$(post "/singleton/next-sequence" "")" "2"
assert_eq "$(post "/singleton/next-sequence" "")" "3"
test_pass "next-sequence counts 1, 2, 3 after reset-sequence"

# 100 concurrent calls through every runner: all distinct, exactly 4..103. (Each value is echoed
# in one write, so parallel outputs cannot interleave.)
VALUES=$(for i in $(seq 1 100); do echo "${URLS[i % ${#URLS[@]}]}"; done \
    | xargs -P 25 -I{} sh -c 'v=$(curl -sf -X POST "$1/singleton/next-sequence") && echo "$v"' _ {} | sort -n)
assert_eq "$(sort -nu <<<"$VALUES" | wc -l)" "100"
assert_eq "$(head -1 <<<"$VALUES")" "4"
assert_eq "$(tail -1 <<<"$VALUES")" "103"
test_pass "concurrent next-sequence calls through every runner never repeat"

post "/singleton/clear-history" "" > /dev/null
assert_eq "$(get "/singleton/leader-history")" "[]"
assert_eq "$(get "/singleton/current-runner" | jq -r .)" "$RUNNER"
test_pass "clear-history empties the history; the leader stays"

echo "All singleton tests passed"
