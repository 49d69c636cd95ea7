#!/usr/bin/env bash
# The multi-host test: a 3-runner cluster on separate (throw-away) network hosts.
#
#   scripts/hosts.sh            run it (as root: it needs CAP_NET_ADMIN); ends with `N passed, N failed`
#   scripts/hosts.sh clean      only remove what a previous run may have left behind
#
# Builds a private network of Linux network namespaces, all named $HOSTS_PREFIX-* (default echt-*):
#
#   echt-hub   the "switch" (bridge br0) and the test client, 10.231.66.1 (client.cluster.test)
#   echt-svc   etcd + Postgres (scripts/services.sh), 10.231.66.10 (etcd/postgres.cluster.test)
#   echt-r1…3  one runner each, 10.231.66.11–13 (runner-1…3.cluster.test)
#
# joined by veth pairs (the hub end named after the host's namespace, `eth0` inside it). The subnet
# 10.231.66.0/24 exists only inside these namespaces: no interface of the root namespace is touched,
# nothing has a default route, nothing is forwarded or NATed. Each host resolves the others by name
# through /etc/netns/<ns>/hosts, which `ip netns exec` bind-mounts over /etc/hosts for everything it
# starts. Every runner binds 0.0.0.0 (HTTP :8080, gRPC :9000: the same ports on every host) and
# reaches etcd and Postgres by name; runners 1 and 2 advertise a host name as RUNNER_ADDRESS
# (runner-1.cluster.test:9000), runner 3 its IP (10.231.66.13:9000). ENTITY_IDLE_MS is 3 s: short
# enough for the suites' eviction checks, long enough that the sharding suite still finds the
# entities it just called active on a loaded machine (with 500 ms it did not, at load 13).
#
# Checks: every runner answers by name from the client host and names itself as advertised; the
# shard topology in etcd (every shard locked by exactly one live runner, each runner's /health
# agreeing); the bash e2e suite through runner 1 (all suites, the persistence suite restarting
# runner 1 on its host) and a subset through runners 2 and 3 (HOSTS_E2E=full: every suite but the
# singleton suite through them too, each restarting its own runner); then runner 2's link is cut
# (`ip link set … down` on the hub end) for longer than LEASE_TTL_MS: it must stop serving (its
# /health, asked on its own loopback, owns nothing) before the others own its shards, and it must
# rejoin once the link is back; finally the runners' ownership journals (OWNERSHIP_LOG) must show
# no shard with two owners at once (scripts/hosts/ownership-check.ts, reusing scripts/chaos/).
#
# Where namespaces with links cannot be made (no CAP_NET_ADMIN: `ip netns add`, or adding a veth
# in it, fails) it prints SKIP and the reason, and counts nothing.
# Everything it created is removed on exit, whatever happened; a run first removes what an earlier
# one left (namespaces named $HOSTS_PREFIX-*, the processes inside them — ours, started by that
# run —, /etc/netns/$HOSTS_PREFIX-*, its state directory). Runs are serialized (a PID file).
#
# Tunables (env): LEASE_TTL_MS (default 2000), HOSTS_CUT_S (link down, seconds, default 3 × TTL),
# HOSTS_E2E (subset|full, default subset), HOSTS_PREFIX (default echt), HOSTS_SUBNET (the first
# three octets, default 10.231.66), HOSTS_KEEP=1 (leave the state directory for inspection).
set -uo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
REPO="$(cd -- "$SCRIPT_DIR/.." && pwd -P)"
P="${HOSTS_PREFIX:-echt}"
NET="${HOSTS_SUBNET:-10.231.66}"
N=3
LEASE_TTL_MS="${LEASE_TTL_MS:-2000}"
CUT_S="${HOSTS_CUT_S:-$(((LEASE_TTL_MS * 3 + 999) / 1000))}"
E2E_MODE="${HOSTS_E2E:-subset}"
SHARDS="${SHARD_COUNT:-300}"
HTTP_PORT=8080
GRPC_PORT=9000
DOMAIN=cluster.test
RUN_DIR="${TMPDIR:-/tmp}/$P-hosts"
LOCK="${TMPDIR:-/tmp}/$P-hosts.run.lock"
HUB="$P-hub" SVC="$P-svc"
STOP_TIMEOUT=20
LOG_NAME=hosts
# shellcheck source=lib/proc.sh
source "$SCRIPT_DIR/lib/proc.sh"

passed=0 failed=0
pass() { passed=$((passed + 1)); printf 'PASS: %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL: %s\n' "$*"; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

runner_ns() { echo "$P-r$1"; }
runner_ip() { echo "$NET.$((10 + $1))"; }
runner_host() { echo "runner-$1.$DOMAIN"; }
# What runner I advertises as RUNNER_ADDRESS: a host name for 1 and 2, an IP for 3.
runner_addr() { if (($1 < 3)); then echo "$(runner_host "$1"):$GRPC_PORT"; else echo "$(runner_ip "$1"):$GRPC_PORT"; fi; }
runner_url() { echo "http://$(runner_host "$1"):$HTTP_PORT"; }
runner_dir() { echo "$RUN_DIR/runner-$1"; }
all_ns() { echo "$HUB" "$SVC"; for ((i = 1; i <= N; i++)); do runner_ns "$i"; done; }

# in_ns NS CMD...: CMD on host NS (its network, its /etc/hosts).
in_ns() { local ns="$1"; shift; ip netns exec "$ns" "$@"; }
# on_client CMD...: CMD on the client host.
on_client() { ip netns exec "$HUB" "$@"; }

# ------------------------------------------------------------- clean-up ----

# our_namespaces: the namespaces of this test that exist now (ours by their prefix).
our_namespaces() { ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$P-(hub|svc|r[0-9]+)\$" || true; }

# stop_ns_processes NS: every process still inside namespace NS (started there by a run of this
# script): SIGTERM, a bounded wait, then SIGKILL, each by its PID.
stop_ns_processes() {
  local ns="$1" pids pid
  pids="$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"
  [ -n "${pids// /}" ] || return 0
  log "stopping leftover processes in $ns: $pids"
  for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in $pids; do wait_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true; done
  for pid in $pids; do wait_gone "$pid" 5 || log "pid $pid survived SIGKILL"; done
}

# teardown: stop what runs (runners first, by their recorded PIDs, then the services), then remove
# the namespaces (their veths and the bridge go with them) and the hosts files.
teardown() {
  local i ns
  for ((i = 1; i <= N; i++)); do
    [ -f "$(runner_dir "$i")/env" ] && bash "$SCRIPT_DIR/runner.sh" stop "$(runner_dir "$i")" >/dev/null 2>&1
  done
  [ -f "$RUN_DIR/services/env" ] && bash "$SCRIPT_DIR/services.sh" down "$RUN_DIR/services" >/dev/null 2>&1
  for ns in $(our_namespaces); do
    stop_ns_processes "$ns"
    ip netns del "$ns" 2>/dev/null || log "cannot delete namespace $ns"
  done
  rm -rf -- /etc/netns/"$P"-hub /etc/netns/"$P"-svc /etc/netns/"$P"-r[0-9]*
  rmdir /etc/netns 2>/dev/null || true
  if [ "${HOSTS_KEEP:-0}" != 1 ]; then rm -rf -- "$RUN_DIR"; fi
}

# ----------------------------------------------------------------- lock ----

# One run at a time. The lock is a file naming the running script's PID, written under a brief
# flock: a held flock would be inherited by everything the run starts (a run killed with SIGKILL
# would leave its runners holding it), and the next run, which removes them, could never start.
is_hosts_run() { alive "$1" bash && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q 'hosts\.sh'; }
acquire_lock() {
  local dl holder
  dl="$(deadline_in 600)"
  while :; do
    exec 8>"$LOCK"
    flock -w 30 8 || { exec 8>&-; log "cannot lock $LOCK"; return 1; }
    holder="$(cat "$LOCK.pid" 2>/dev/null)"
    if [ -z "$holder" ] || [ "$holder" = $$ ] || ! is_hosts_run "$holder"; then
      echo $$ >"$LOCK.pid"
      exec 8>&-
      return 0
    fi
    exec 8>&-
    before "$dl" || { log "another multi-host test (pid $holder) still runs"; return 1; }
    sleep 1
  done
}
release_lock() { [ "$(cat "$LOCK.pid" 2>/dev/null)" = $$ ] && rm -f "$LOCK.pid" "$LOCK"; }

# ---------------------------------------------------------------- network --

hosts_file() {
  local i
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'
  printf '%s\tclient.%s\n' "$NET.1" "$DOMAIN"
  printf '%s\tservices.%s etcd.%s postgres.%s\n' "$NET.10" "$DOMAIN" "$DOMAIN" "$DOMAIN"
  for ((i = 1; i <= N; i++)); do printf '%s\t%s\n' "$(runner_ip "$i")" "$(runner_host "$i")"; done
}

# add_host NS IP: namespace NS with loopback and eth0 (IP/24), its other veth end on the bridge.
add_host() {
  local ns="$1" ip="$2"
  ip netns add "$ns" || return 1
  ip -n "$HUB" link add "$ns" type veth peer name eth0 netns "$ns" || return 1
  ip -n "$HUB" link set "$ns" master br0 up || return 1
  ip -n "$ns" link set lo up || return 1
  ip -n "$ns" addr add "$ip/24" dev eth0 || return 1
  ip -n "$ns" link set eth0 up || return 1
  mkdir -p "/etc/netns/$ns" && hosts_file >"/etc/netns/$ns/hosts"
}

build_network() {
  ip netns add "$HUB" || return 1
  ip -n "$HUB" link set lo up || return 1
  ip -n "$HUB" link add br0 type bridge || return 1
  ip -n "$HUB" addr add "$NET.1/24" dev br0 || return 1
  ip -n "$HUB" link set br0 up || return 1
  mkdir -p "/etc/netns/$HUB" && hosts_file >"/etc/netns/$HUB/hosts"
  add_host "$SVC" "$NET.10" || return 1
  local i
  for ((i = 1; i <= N; i++)); do add_host "$(runner_ns "$i")" "$(runner_ip "$i")" || return 1; done
  # No routes but the subnet's own, anywhere.
  local ns routes
  for ns in $(all_ns); do
    routes="$(ip -n "$ns" route show default)"
    [ -z "$routes" ] || { log "$ns has a default route: $routes"; return 1; }
  done
}

# ---------------------------------------------------------------- cluster --

start_services() {
  env SERVICES_HOST="$NET.10" SERVICES_TRUST_CIDR="$NET.0/24" TMPDIR="$RUN_DIR" \
    ip netns exec "$SVC" bash "$SCRIPT_DIR/services.sh" up "$RUN_DIR/services" >"$RUN_DIR/services.out" 2>&1 || {
    cat "$RUN_DIR/services.out"
    return 1
  }
  local vars
  vars="$(
    # shellcheck disable=SC1091
    source "$RUN_DIR/services/env"
    printf 'PG_PORT=%q ETCD_PORT=%q\n' "$SERVICES_PG_PORT" "$SERVICES_ETCD_PORT"
  )"
  eval "$vars"
  PG_URL="postgres://postgres@postgres.$DOMAIN:$PG_PORT/cluster"
  ETCD_URL="http://etcd.$DOMAIN:$ETCD_PORT"
}

# runner_cmd I ACTION: the command (as one string) that runs scripts/runner.sh ACTION for runner I
# on its host, in a session of its own (the runner outlives the caller).
runner_cmd() {
  printf 'ip netns exec %q setsid -w bash %q %s %q' "$(runner_ns "$1")" "$SCRIPT_DIR/runner.sh" "$2" "$(runner_dir "$1")"
}

start_runner() {
  local i="$1" dir
  dir="$(runner_dir "$i")"
  mkdir -p "$dir"
  (
    cd "$REPO" || exit 1
    for v in DATA_DIR GRPC_LISTEN_ADDR RUNNER_ADDRESS LISTEN_ADDR RUST_LOG CLUSTER_SECRET; do unset "$v"; done
    export POSTGRES_URL="$PG_URL" ETCD_ENDPOINTS="$ETCD_URL" ETCD_PREFIX="$PREFIX" \
      RUNNER_ADDRESS="$(runner_addr "$i")" LISTEN_ADDR="0.0.0.0:$HTTP_PORT" GRPC_LISTEN_ADDR="0.0.0.0:$GRPC_PORT" \
      OWNERSHIP_LOG="$dir/ownership.jsonl" LEASE_TTL_MS="$LEASE_TTL_MS" SHARD_COUNT="$SHARDS" \
      ENTITY_IDLE_MS=3000 LOG_LEVEL="${LOG_LEVEL:-warn}"
    eval "$(runner_cmd "$i" start)"
  ) 9<&- </dev/null >"$dir/start.out" 2>&1
}

# etcd_keys: the cluster's keys under its prefix, as JSON {runners: [address…], shards: {s: owner}},
# read by etcdctl on the client host.
etcd_keys() {
  on_client etcdctl --endpoints "$ETCD_URL" --dial-timeout 2s --command-timeout 5s get --prefix "$PREFIX" -w json </dev/null \
    | jq -c --arg p "$PREFIX" '
        [.kvs[]? | {k: (.key | @base64d), v: (.value | @base64d)}] as $kv
        | { runners: [$kv[] | select(.k | startswith($p + "runners/")) | .k | ltrimstr($p + "runners/")] | sort,
            shards: ([$kv[] | select(.k | startswith($p + "shards/")) | {key: (.k | ltrimstr($p + "shards/")), value: .v}] | from_entries) }'
}

# topology_problem EXPECTED_RUNNERS_JSON: empty when etcd shows exactly these live runners and
# every shard 0…SHARDS-1 locked by one of them (a key has one value: one owner), and each
# runner's own /health counts the shards etcd gives it; otherwise what is wrong.
topology_problem() {
  local expected="$1" keys i health counts="{}"
  keys="$(etcd_keys)" || { echo "etcdctl failed"; return 0; }
  for i in $(jq -r '.[]' <<<"$expected"); do
    health="$(on_client curl -sf --max-time 3 "$(runner_url "$i")/health")" || { echo "runner $i does not answer /health"; return 0; }
    counts="$(jq -c --argjson h "$health" '. + {($h.runner): $h.shards_owned}' <<<"$counts")"
  done
  jq -r --argjson want "$(jq -c '[.[] | tostring]' <<<"$expected")" --argjson names "$(runner_names_json)" \
    --argjson counts "$counts" --argjson n "$SHARDS" '
      ([$want[] | $names[.]] | sort) as $live
      | if .runners != $live then "live runners in etcd: \(.runners), expected \($live)"
        else
          ([range(0; $n) | tostring] - (.shards | keys)) as $unowned
          | ([.shards | to_entries[] | select(.value as $o | $live | index($o) | not) | "\(.key)→\(.value)"]) as $stray
          | ([.shards | to_entries[] | .value] | group_by(.) | map({key: .[0], value: length}) | from_entries) as $per
          | if ($unowned | length) > 0 then "\($unowned | length) shard(s) without an owner, e.g. \($unowned[:5])"
            elif ($stray | length) > 0 then "shards held by runners that are not live: \($stray[:5])"
            elif ($live | map(($per[.] // 0) == ($counts[.] // -1)) | all | not) then "etcd gives \($per), the runners report \($counts)"
            else empty end
        end' <<<"$keys"
}

runner_names_json() {
  local i out="{}"
  for ((i = 1; i <= N; i++)); do out="$(jq -c --arg i "$i" --arg a "$(runner_addr "$i")" '. + {($i): $a}' <<<"$out")"; done
  echo "$out"
}

# wait_topology EXPECTED_JSON SECONDS: polls until topology_problem is empty; sets TOPO_PROBLEM.
wait_topology() {
  local dl
  dl="$(deadline_in "$2")"
  while :; do
    TOPO_PROBLEM="$(topology_problem "$1")"
    [ -z "$TOPO_PROBLEM" ] && return 0
    before "$dl" || return 1
    sleep 0.25
  done
}

# --------------------------------------------------------------- the test --

# e2e_through I MODE: the bash suite through runner I, run on the client host, with CLUSTER_URLS
# naming every runner by host name and a restart command for runner I (on its own host). Through
# runner 1 in MODE full: tests/e2e.sh itself. Otherwise its suites one by one, in MODE full all but
# the singleton suite, in MODE subset basic, traits, cross_entity and sharding. The singleton suite
# runs once per cluster: it ends with clear-history, and its first check (the history ends with
# the current leader) then fails on the same cluster until the leader changes.
e2e_through() {
  local i="$1" mode="$2" urls="" j out rc=0 suites suite
  for ((j = 1; j <= N; j++)); do urls+="${urls:+ }$(runner_url "$j")"; done
  out="$RUN_DIR/e2e-$i.log"
  local -a env=(CLUSTER_TESTS_URL="$(runner_url "$i")" CLUSTER_URLS="$urls" SHARDING_SETTLE_S=2
    CLUSTER_RESTART_CMD="$(runner_cmd "$i" restart)" RUN_ID="hosts-$i-$(date +%s)-$$")
  if [ "$mode" = full ] && ((i == 1)); then
    on_client env "${env[@]}" bash "$REPO/tests/e2e.sh" >"$out" 2>&1 </dev/null || rc=$?
  else
    suites=(basic traits cross_entity sharding)
    [ "$mode" = full ] && suites=(basic persistence workflows activities traits timers cross_entity sharding)
    for suite in "${suites[@]}"; do
      on_client env "${env[@]}" bash "$REPO/tests/test_$suite.sh" >>"$out" 2>&1 </dev/null || { rc=1; echo "suite $suite failed" >>"$out"; }
    done
  fi
  local passes skips
  passes="$(grep -c '^PASS:' "$out")"
  skips="$(grep -c '^SKIP:' "$out")"
  if [ "$rc" -eq 0 ] && [ "$passes" -gt 0 ]; then
    pass "e2e ($mode) through runner $i ($(runner_url "$i")): $passes checks passed, $skips skipped"
  else
    fail "e2e ($mode) through runner $i: exit $rc, $passes checks passed; last lines:"
    grep -E '^(FAIL|suite)' "$out" | head -n 5
    tail -n 15 "$out"
  fi
}

# health_on_own_loopback I: runner I's /health, asked on its own host (works while its link is cut).
health_on_own_loopback() { in_ns "$(runner_ns "$1")" curl -sf --max-time 2 "http://127.0.0.1:$HTTP_PORT/health"; }

cut_and_restore() {
  local i=2 ns hubend t0 t_fenced="" t_taken="" t_back t_rejoined="" dl h owned before_owned
  ns="$(runner_ns "$i")" hubend="$(runner_ns "$i")"
  before_owned="$(health_on_own_loopback "$i" | jq -r '.shards_owned')"
  t0="$(now_ms)"
  ip -n "$HUB" link set "$hubend" down || { fail "cannot cut runner $i's link"; return; }
  log "runner $i's link is down (owned $before_owned shards); keeping it down ${CUT_S}s (LEASE_TTL_MS=$LEASE_TTL_MS)"
  # The link stays down for CUT_S, and longer if need be (a loaded machine) until the runner has
  # stopped serving and the others own every shard, at most CUT_S + 30 s.
  dl="$(deadline_in "$CUT_S")"
  local dl_max others='[1,3]'
  dl_max="$(deadline_in "$((CUT_S + 30))")"
  while before "$dl_max"; do
    if [ -z "$t_fenced" ]; then
      h="$(health_on_own_loopback "$i")" && owned="$(jq -r '.shards_owned' <<<"$h")" && [ "$owned" = 0 ] && t_fenced="$(now_ms)"
    fi
    if [ -z "$t_taken" ] && [ -z "$(topology_problem "$others")" ]; then t_taken="$(now_ms)"; fi
    [ -n "$t_fenced" ] && [ -n "$t_taken" ] && ! before "$dl" && break
    sleep 0.1
  done
  # Still nothing served on the cut-off host at the end of the cut.
  h="$(health_on_own_loopback "$i")" && owned="$(jq -r '.shards_owned' <<<"$h")" || owned="?"
  ip -n "$HUB" link set "$hubend" up
  t_back="$(now_ms)"
  if [ -n "$t_fenced" ] && [ "$owned" = 0 ]; then
    pass "runner $i stopped serving $(((t_fenced - t0)))ms after its link was cut (owned $before_owned shards before, 0 until the link came back $(((t_back - t0)))ms after the cut)"
  else
    fail "runner $i still owned ${owned} shard(s) at the end of a $(((t_back - t0)))ms cut (fenced at: ${t_fenced:-never})"
  fi
  if [ -n "$t_taken" ]; then
    pass "runners 1 and 3 owned all $SHARDS shards $(((t_taken - t0)))ms after the cut (etcd and their /health agree)"
  else
    fail "runners 1 and 3 did not take over within the $(((t_back - t0)))ms cut: $(topology_problem "$others")"
  fi
  if [ -n "$t_fenced" ] && [ -n "$t_taken" ] && ((t_fenced > t_taken)); then
    fail "runner $i still served $((t_fenced - t_taken))ms after the others owned all shards (by the polls)"
  fi
  if wait_topology '[1,2,3]' 30; then
    t_rejoined="$(now_ms)"
    h="$(on_client curl -sf --max-time 2 "$(runner_url "$i")/health")"
    pass "runner $i rejoined $(((t_rejoined - t_back)))ms after its link came back: owns $(jq -r '.shards_owned' <<<"$h") shards, topology consistent"
  else
    fail "runner $i did not rejoin within 30s of its link coming back: $TOPO_PROBLEM"
  fi
}

main() {
  local reason i
  command -v ip >/dev/null 2>&1 || { echo "SKIP: multi-host test: no 'ip' command (iproute2)"; echo "0 passed, 0 failed"; return 0; }
  # A namespace alone needs CAP_SYS_ADMIN only; links in it need CAP_NET_ADMIN: probe both.
  ip netns del "$P-probe" 2>/dev/null
  if ! reason="$({ ip netns add "$P-probe" && ip -n "$P-probe" link add p0 type veth peer name p1 && ip -n "$P-probe" link add b0 type bridge; } 2>&1)"; then
    ip netns del "$P-probe" 2>/dev/null
    echo "SKIP: multi-host test: cannot create network namespaces with links in them (needs CAP_SYS_ADMIN and CAP_NET_ADMIN): ${reason:-failed}"
    echo "0 passed, 0 failed"
    return 0
  fi
  ip netns del "$P-probe"
  for tool in jq curl etcdctl setsid flock; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      if [ "$tool" = etcdctl ] && [ "$(id -u)" -eq 0 ]; then
        log "etcdctl not found; installing etcd-client via apt-get"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-client; } </dev/null >&2
      fi
      command -v "$tool" >/dev/null 2>&1 || { fail "the multi-host test needs $tool"; finish; return; }
    fi
  done

  acquire_lock || { fail "another multi-host test is running (pid $(cat "$LOCK.pid" 2>/dev/null))"; finish; return; }
  teardown # what an earlier run left behind
  trap 'teardown; release_lock' EXIT
  trap 'exit 130' INT TERM HUP
  mkdir -p "$RUN_DIR" && chmod 711 "$RUN_DIR"
  PREFIX="/hosts-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')/"
  local t0
  t0=$(date +%s)

  if build_network; then
    pass "network: 5 hosts on $NET.0/24 (bridge in $HUB), no default route anywhere"
  else
    fail "cannot build the test network"
    finish
    return
  fi
  if start_services; then
    pass "etcd ($ETCD_URL) and Postgres ($PG_URL) up on $SVC"
  else
    fail "cannot start etcd and Postgres on $SVC"
    finish
    return
  fi
  local pids=() rc bad=0
  for ((i = 1; i <= N; i++)); do
    start_runner "$i" &
    pids+=("$!")
  done
  for ((i = 1; i <= N; i++)); do
    rc=0
    wait "${pids[i - 1]}" || rc=$?
    if ((rc != 0)); then
      bad=1
      fail "runner $i did not start on $(runner_ns "$i"):"
      sed "s/^/  [runner-$i] /" "$(runner_dir "$i")/start.out"
      tail -n 20 "$(runner_dir "$i")/runner.log" 2>/dev/null | sed "s/^/  [runner-$i] /"
    fi
  done
  ((bad == 0)) || { finish; return; }
  log "network, services and runners up in $(($(date +%s) - t0))s"

  local h ok
  for ((i = 1; i <= N; i++)); do
    ok=0
    h="$(on_client curl -sf --max-time 3 "$(runner_url "$i")/health")" \
      && jq -e --arg a "$(runner_addr "$i")" '.runner == $a and .mode == "cluster"' >/dev/null <<<"$h" && ok=1
    if ((ok)); then pass "runner $i answers at $(runner_url "$i") from the client host as $(runner_addr "$i")"; else fail "runner $i at $(runner_url "$i"): ${h:-no answer}"; fi
  done
  # The runners joined one after another: the first rebalance may still be moving shards.
  local t_topo
  t_topo="$(now_ms)"
  if wait_topology '[1,2,3]' 30; then
    pass "topology: $SHARDS shards, each locked in etcd by exactly one of the 3 live runners, as their /health counts say (settled in $(($(now_ms) - t_topo))ms)"
  else
    fail "topology not consistent after 30s: $TOPO_PROBLEM"
  fi

  local t
  t=$(date +%s)
  e2e_through 1 full
  log "e2e through runner 1: $(($(date +%s) - t))s"
  for ((i = 2; i <= N; i++)); do
    t=$(date +%s)
    e2e_through "$i" "$([ "$E2E_MODE" = full ] && echo full || echo subset)"
    log "e2e through runner $i: $(($(date +%s) - t))s"
  done
  if wait_topology '[1,2,3]' 20; then
    pass "topology consistent after the e2e suites"
  else
    fail "topology after the e2e suites: $TOPO_PROBLEM"
  fi

  cut_and_restore

  # Graceful stops (SIGTERM): their releases end the journals' intervals.
  for ((i = 1; i <= N; i++)); do bash "$SCRIPT_DIR/runner.sh" stop "$(runner_dir "$i")" >/dev/null 2>&1 || fail "runner $i did not stop gracefully"; done
  local journals=()
  for ((i = 1; i <= N; i++)); do journals+=("$(runner_dir "$i")/ownership.jsonl"); done
  local check
  if check="$(cd "$REPO" && node --import tsx scripts/hosts/ownership-check.ts --runner "$(runner_addr 2)" "${journals[@]}" 2>&1)"; then
    pass "ownership journals: $check"
  else
    fail "ownership journals: $check"
  fi
  log "multi-host test took $(($(date +%s) - t0))s"
  finish
}

case "${1:-}" in
  "") main ;;
  clean)
    acquire_lock || die "another multi-host test is running (pid $(cat "$LOCK.pid" 2>/dev/null))"
    teardown
    release_lock
    ;;
  *) echo "usage: $0 [clean]" >&2; exit 2 ;;
esac
