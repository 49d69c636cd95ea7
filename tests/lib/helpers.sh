#!/bin/bash
# Shared helpers of the bash suites (the spec's, plus a few for status codes and polling).

BASE_URL="${CLUSTER_TESTS_URL:-http://localhost:8080}"
# A per-run suffix: ids are fresh on every run, so the suites pass again and again against a
# cluster that keeps its state.
RUN_ID="${RUN_ID:-$(date +%s)-$$}"

# HTTP helpers
post() { curl -sf -X POST "$BASE_URL$1" -H "Content-Type: application/json" -d "$2"; }
get() { curl -sf "$BASE_URL$1"; }
delete() { curl -sf -X DELETE "$BASE_URL$1"; }

# status METHOD PATH [BODY]: prints the HTTP status code only.
status() {
  local args=(-s -o /dev/null -w '%{http_code}' -X "$1" "$BASE_URL$2")
  [ $# -ge 3 ] && args+=(-H "Content-Type: application/json" --data-binary "$3")
  curl "${args[@]}"
}

# uid NAME: an entity id unique to this run.
uid() { echo "$1-$RUN_ID"; }

# Assertions
assert_eq() {
    if [ "$1" != "$2" ]; then
        echo "FAIL: expected '$2', got '$1'"
        exit 1
    fi
}

assert_contains() {
    if [[ "$1" != *"$2"* ]]; then
        echo "FAIL: expected '$1' to contain '$2'"
        exit 1
    fi
}

assert_not_contains() {
    if [[ "$1" == *"$2"* ]]; then
        echo "FAIL: expected '$1' not to contain '$2'"
        exit 1
    fi
}

# wait_until DESCRIPTION TIMEOUT_S COMMAND...: polls COMMAND until it succeeds, for conditions no
# event announces (eviction by a timer, a runner coming back).
wait_until() {
    local what="$1" timeout="$2"
    shift 2
    local deadline=$(( $(date +%s) + timeout ))
    until "$@" >/dev/null 2>&1; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "FAIL: timed out after ${timeout}s waiting for $what"
            exit 1
        fi
        sleep 0.1
    done
}

# shard_of ID [SHARD_COUNT]: the shard of an (ASCII) id, as the runners compute it (djb2 mod count).
shard_of() {
    local id="$1" count="${2:-${SHARD_COUNT:-300}}" h=5381 i c
    for ((i = 0; i < ${#id}; i++)); do
        printf -v c '%d' "'${id:i:1}"
        h=$(( (h * 33 + c) & 0xFFFFFFFF ))
    done
    echo $(( h % count ))
}

# owner_of ID: the runner that owns the id's shard, per /debug/shards.
owner_of() {
    local shard
    shard=$(shard_of "$1" "$(get /debug/shards | jq length)")
    get /debug/shards | jq -r --argjson s "$shard" '.[] | select(.shard_id == $s) | .owner'
}

# Test lifecycle
test_start() { echo "=== $1 ==="; }
test_pass() { echo "PASS: $1"; }
test_fail() { echo "FAIL: $1"; exit 1; }
# A check that cannot run against this target: reported, never counted as passed.
test_skip() { echo "SKIP: $1"; }
