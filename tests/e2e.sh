#!/bin/bash
# Runs every bash suite against CLUSTER_TESTS_URL and ends with `N passed, N failed`:
# passed counts PASS checks, failed counts suites that failed (a suite stops at its first failure).
SCRIPT_DIR="$(dirname "$0")"
TARGET="${CLUSTER_TESTS_URL:-http://localhost:8080}"
export RUN_ID="${RUN_ID:-$(date +%s)-$$}"

echo "========================================="
echo "Cluster E2E Tests"
echo "========================================="
echo "Target: $TARGET"
echo ""

# Health check
echo "Checking cluster health..."
if ! curl -sf "$TARGET/health" > /dev/null; then
    echo "FAIL: cluster not healthy"
    echo "0 passed, 1 failed"
    exit 1
fi
echo "Cluster healthy"
echo ""

SUITES=(basic persistence workflows activities traits timers cross_entity singletons sharding sql_activity stateless activity_groups ticker topology durable)
passed=0
failed=0
skipped=0
failed_suites=()
for suite in "${SUITES[@]}"; do
    script="$SCRIPT_DIR/test_$suite.sh"
    [ -f "$script" ] || continue
    output=$(mktemp)
    if bash "$script" 2>&1 | tee "$output"; [ "${PIPESTATUS[0]}" -eq 0 ]; then :; else
        failed=$((failed + 1))
        failed_suites+=("$suite")
    fi
    passed=$((passed + $(grep -c '^PASS:' "$output" || true)))
    skipped=$((skipped + $(grep -c '^SKIP:' "$output" || true)))
    rm -f "$output"
    echo ""
done

echo "========================================="
if [ "$failed" -eq 0 ]; then
    echo "All E2E tests passed!"
else
    echo "FAILED suites: ${failed_suites[*]}"
fi
echo "========================================="
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
