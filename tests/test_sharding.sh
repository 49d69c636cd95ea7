#!/bin/bash
set -e
source "$(dirname "$0")/lib/helpers.sh"

# Success criterion 9: requests route to the correct shard owner.
# Talks to every runner in CLUSTER_URLS (space-separated, as written by scripts/cluster.sh), or to
# BASE_URL alone. SHARD_COUNT, if set, is checked against the table's size.

read -r -a URLS <<<"${CLUSTER_URLS:-}"
[ ${#URLS[@]} -gt 0 ] || URLS=("$BASE_URL")
NR=${#URLS[@]}
N_IDS="${SHARDING_IDS:-60}"
SETTLE_S="${SHARDING_SETTLE_S:-5}"

# Runner ids, from each runner's /health: the names /debug/shards and /debug/entities use.
RIDS=()
for url in "${URLS[@]}"; do
    rid=$(curl -sf "$url/health" | jq -r '.runner') || test_fail "$url/health does not answer"
    RIDS+=("$rid")
done
[ "$(printf '%s\n' "${RIDS[@]}" | sort -u | wc -l)" -eq "$NR" ] || test_fail "runners share an id: ${RIDS[*]}"
RIDS_JSON=$(printf '%s\n' "${RIDS[@]}" | jq -R . | jq -sc .)

test_start "Sharding: requests route to the correct shard owner ($NR runner(s))"

# Each id enters through one runner, then through the next one.
IDS=()
for ((i = 1; i <= N_IDS; i++)); do
    id=$(uid "shard-$i")
    IDS+=("$id")
    RESULT=$(curl -sf -X POST "${URLS[i % NR]}/counter/$id/increment" -H "Content-Type: application/json" -d "$i") \
        || test_fail "increment of $id through ${URLS[i % NR]} failed"
    assert_eq "$RESULT" "$i"
    RESULT=$(curl -sf -X POST "${URLS[(i + 1) % NR]}/counter/$id/increment" -H "Content-Type: application/json" -d 1000) \
        || test_fail "increment of $id through ${URLS[(i + 1) % NR]} failed"
    assert_eq "$RESULT" "$((i + 1000))"
done
IDS_JSON=$(printf '%s\n' "${IDS[@]}" | jq -R . | jq -sc .)
test_pass "$N_IDS counters incremented through runners round-robin return the right values"

# The shard table of every runner, as [[shard_id, owner, local], …] sorted by shard, and the
# shards_owned its /health reports.
fetch_tables() {
    TABLES=() HEALTH_OWNED=()
    local j t h
    for ((j = 0; j < NR; j++)); do
        t=$(curl -sf "${URLS[j]}/debug/shards" | jq -c 'sort_by(.shard_id) | map([.shard_id, .owner, .local])') || return 1
        h=$(curl -sf "${URLS[j]}/health" | jq '.shards_owned') || return 1
        TABLES+=("$t") HEALTH_OWNED+=("$h")
    done
}
owners() { jq -c 'map(.[0:2])' <<<"$1"; }
# What is wrong with the tables, one line per problem; nothing once the topology has settled.
table_problems() {
    local first j
    first=$(owners "${TABLES[0]}")
    jq -r --arg n "${SHARD_COUNT:-}" '
        if length == 0 then "GET /debug/shards returned no shards"
        elif $n != "" and length != ($n | tonumber) then "\(length) shards listed, SHARD_COUNT is \($n)"
        elif [.[][0]] != [range(0; length)] then "shard ids are not 0..\(length - 1) exactly once each"
        else empty end,
        ([.[] | select(.[1] == null or .[1] == "")] | if length > 0 then "\(length) shards have no owner, e.g. shard \(.[0][0])" else empty end)
        ' <<<"${TABLES[0]}"
    for ((j = 1; j < NR; j++)); do
        jq -rn --argjson a "$first" --argjson b "$(owners "${TABLES[j]}")" --arg u0 "${URLS[0]}" --arg uj "${URLS[j]}" '
            [range(0; [$a, $b] | map(length) | max) | select($a[.] != $b[.])] as $d
            | if ($d | length) == 0 then empty
              else "runners \($u0) and \($uj) disagree on shard owners: \($d | length) shards differ, e.g. shard \($a[$d[0]][0] // $b[$d[0]][0]): \($a[$d[0]][1]) vs \($b[$d[0]][1])" end'
    done
    for ((j = 0; j < NR; j++)); do
        # Every runner marks as local exactly the shards the table says it owns, and says so in /health.
        jq -r --arg me "${RIDS[j]}" --arg u "${URLS[j]}" --argjson h "${HEALTH_OWNED[j]}" '
            ([.[] | select((.[1] == $me) != .[2])] | if length > 0 then "\($u) (runner \($me)): local does not match owner on \(length) shards, e.g. \(.[0] | tojson)" else empty end),
            ([.[] | select(.[1] == $me)] | length | if . != $h then "\($u): /health says shards_owned=\($h), /debug/shards gives it \(.)" else empty end)
            ' <<<"${TABLES[j]}"
    done
    if [ -n "${CLUSTER_URLS:-}" ]; then
        jq -r --argjson rids "$RIDS_JSON" '[.[][1] | select(. != null)] | unique - $rids
            | if length > 0 then "shards owned by runners not in CLUSTER_URLS: \(join(", "))" else empty end' <<<"${TABLES[0]}"
    fi
}
# A topology change (a runner joined, left or restarted just before) may still be settling: poll,
# bounded, until every runner's view is complete and consistent.
deadline=$(($(date +%s) + SETTLE_S))
while :; do
    if fetch_tables; then
        PROBLEMS=$(table_problems)
        [ -n "$PROBLEMS" ] || break
    else
        PROBLEMS="GET /debug/shards or /health failed on a runner"
    fi
    [ "$(date +%s)" -lt "$deadline" ] || test_fail "shard table not settled after ${SETTLE_S}s: $(awk 'NR > 1 { printf "; " } { printf "%s", $0 }' <<<"$PROBLEMS")"
    sleep 0.2
done
TABLE="${TABLES[0]}"
COUNT=$(jq 'length' <<<"$TABLE")
test_pass "/debug/shards lists every shard 0..$((COUNT - 1)) exactly once"
test_pass "every shard has an owner"
if [ -n "${CLUSTER_URLS:-}" ]; then test_pass "every owner is one of the $NR runners"; fi
test_pass "all $NR runner(s) agree on the shard table, and each marks as local exactly the shards it owns"
test_pass "/health shards_owned matches the table on every runner"

# Where each test id is active: one cluster-wide view and every runner's local view, checked
# against the shard table. An id that is not active at all (evicted under a short ENTITY_IDLE_MS)
# is reported as MISSING: then it is called again and the check repeats. Any positive evidence of
# misplacement fails at once.
check_placement() {
    local all l j locals="[]"
    all=$(curl -sf "${URLS[0]}/debug/entities") || { echo "GET ${URLS[0]}/debug/entities failed"; return; }
    for ((j = 0; j < NR; j++)); do
        l=$(curl -sf "${URLS[j]}/debug/entities?local=true") || { echo "GET ${URLS[j]}/debug/entities?local=true failed"; return; }
        locals=$(jq -c --argjson l "$l" '. + [$l]' <<<"$locals")
    done
    jq -rn --argjson ids "$IDS_JSON" --argjson table "$TABLE" --argjson all "$all" --argjson locals "$locals" \
        --argjson rids "$RIDS_JSON" '
        def counter($id): .entity_type == "Counter" and .entity_id == $id;
        ($table | map({key: (.[0] | tostring), value: .[1]}) | from_entries) as $owner
        | $ids[] as $id
        | [$all[] | select(counter($id))] as $m
        | [range(0; $locals | length) as $j | $locals[$j][] | select(counter($id)) | {runner: $rids[$j], shard_id}] as $l
        | if ($m | length) > 1 then
            "\($id) is active \($m | length) times in /debug/entities: on \($m | map(.runner) | join(", "))"
          elif ($l | length) > 1 then
            "\($id) is in the local entity lists of \($l | length) runners: \($l | map(.runner) | join(", "))"
          elif ($m | length) == 1 and $m[0].runner != $owner[$m[0].shard_id | tostring] then
            "\($id) (shard \($m[0].shard_id)) is active on \($m[0].runner) per /debug/entities, but /debug/shards says \($owner[$m[0].shard_id | tostring]) owns it"
          elif ($l | length) == 1 and $l[0].runner != $owner[$l[0].shard_id | tostring] then
            "\($id) (shard \($l[0].shard_id)) is in the local list of \($l[0].runner), but /debug/shards says \($owner[$l[0].shard_id | tostring]) owns it"
          elif ($m | length) == 0 or ($l | length) == 0 then "MISSING \($id)"
          elif $m[0].shard_id != $l[0].shard_id then
            "\($id): /debug/entities says shard \($m[0].shard_id), the local list of \($l[0].runner) says \($l[0].shard_id)"
          else empty end'
}
# An id counts once a check has found it in place; only the ids not found yet are called again
# (few calls, so they are still active when the next check runs, even on a loaded machine).
declare -A FOUND=()
for attempt in 1 2 3 4 5; do
    PROBLEMS=$(check_placement)
    OTHER=$(grep -v '^MISSING ' <<<"$PROBLEMS" || true)
    if [ -n "$OTHER" ]; then
        n=$(wc -l <<<"$OTHER")
        test_fail "$n test counter(s) misplaced, e.g. $(head -n 3 <<<"$OTHER" | awk 'NR > 1 { printf "; " } { printf "%s", $0 }')"
    fi
    declare -A MISSING=()
    while read -r id; do [ -n "$id" ] && MISSING[$id]=1; done < <(grep '^MISSING ' <<<"$PROBLEMS" | cut -d' ' -f2- || true)
    NOT_FOUND=()
    for id in "${IDS[@]}"; do
        if [ -z "${MISSING[$id]:-}" ]; then FOUND[$id]=1; fi
        if [ -z "${FOUND[$id]:-}" ]; then NOT_FOUND+=("$id"); fi
    done
    unset MISSING
    [ ${#NOT_FOUND[@]} -gt 0 ] || break
    [ "$attempt" -lt 5 ] || test_fail "not active even right after a call: ${NOT_FOUND[*]:0:3}"
    printf '%s\n' "${NOT_FOUND[@]}" | xargs -P 16 -I{} curl -sf -o /dev/null "${URLS[0]}/counter/{}" || true
done
test_pass "each counter is active exactly once cluster-wide, on the owner of its shard"
test_pass "each counter is in its owner's local entity list and in no other runner's"

# Reads through every runner agree.
for ((i = 1; i <= N_IDS; i++)); do
    for url in "${URLS[@]}"; do
        RESULT=$(curl -sf "$url/counter/${IDS[i - 1]}") || test_fail "GET /counter/${IDS[i - 1]} through $url failed"
        [ "$RESULT" = "$((i + 1000))" ] || test_fail "GET /counter/${IDS[i - 1]} through $url: expected $((i + 1000)), got '$RESULT'"
    done
done
test_pass "reads through every runner return the same value"

echo "All sharding tests passed"
