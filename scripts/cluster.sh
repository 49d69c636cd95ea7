#!/usr/bin/env bash
# A local cluster: throw-away Postgres + etcd (scripts/services.sh) and N runners
# (scripts/runner.sh) in cluster mode, in the background, on loopback only.
#
#   scripts/cluster.sh up [--runners N] [--deno K] [--state DIR] [--proxied]
#                                                                  start; returns once all are healthy
#   scripts/cluster.sh down [--state DIR]                          stop the runners, then the services
#   scripts/cluster.sh kill I [--state DIR]                        SIGKILL runner I
#   scripts/cluster.sh term I [--state DIR]                        SIGTERM runner I, wait for its exit
#   scripts/cluster.sh start I [--state DIR]                       start runner I again, same settings
#   scripts/cluster.sh restart I [--state DIR]                     term, then start
#   scripts/cluster.sh status [--state DIR]                        one line per runner
#   scripts/cluster.sh env [--state DIR]                           print the env file's path
#
# Defaults: N=3 runners, the last K=0 of them on Deno, DIR=$REPO/.run/cluster. Services live in
# DIR/services (reused when already up there), runner I in DIR/runner-I (scripts/runner.sh state).
# Every runner gets POSTGRES_URL and ETCD_ENDPOINTS of those services, RUNNER_ADDRESS and
# LISTEN_ADDR on free 127.0.0.1 ports, OWNERSHIP_LOG=DIR/runner-I/ownership.jsonl (its shard
# ownership intervals) and an ETCD_PREFIX unique to this cluster; LEASE_TTL_MS,
# SHARD_COUNT, ENTITY_IDLE_MS, LOG_LEVEL, RUST_LOG, CLUSTER_SECRET, MAX_BODY_BYTES, METRICS, MAILBOX_LIMIT,
# MAX_INFLIGHT and CRON_TEST_SCHEDULE are passed through from the caller's environment; ADMIN_TOKEN too, and it is kept in
# DIR/env for runners started later. `up` writes DIR/env, sourceable:
#   CLUSTER_STATE CLUSTER_SIZE CLUSTER_URLS ("url1 url2 …") CLUSTER_TESTS_URL (url1)
#   CLUSTER_RESTART_CMD (restarts runner 1, for tests/test_persistence.sh) CLUSTER_ETCD_PREFIX
#   POSTGRES_URL ETCD_ENDPOINTS ADMIN_TOKEN RUNNER_<I>_URL RUNNER_<I>_GRPC RUNNER_<I>_PID RUNNER_<I>_RUNTIME
#   RUNNER_<I>_LOG RUNNER_<I>_GRPC_LISTEN
# RUNNER_<I>_PID is empty while runner I is down. With --proxied each runner binds its gRPC server
# on RUNNER_<I>_GRPC_LISTEN (GRPC_LISTEN_ADDR) but is reached by its peers at RUNNER_<I>_GRPC: the
# caller runs something there that forwards to it (scripts/chaos/ runs delaying proxies). Processes are only ever signalled by their
# recorded PIDs, and only after checking that the PID still is that runner.
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
REPO="$(cd -- "$SCRIPT_DIR/.." && pwd -P)"
STOP_TIMEOUT="${RUNNER_STOP_TIMEOUT:-20}"
LOG_NAME=cluster
# shellcheck source=lib/proc.sh
source "$SCRIPT_DIR/lib/proc.sh"

RUNNER_SH="$SCRIPT_DIR/runner.sh"
SERVICES_SH="$SCRIPT_DIR/services.sh"
PORT_ATTEMPTS=3

usage() {
  cat >&2 <<EOF
usage: $0 up [--runners N] [--deno K] [--state DIR] [--proxied]
       $0 down|status|env [--state DIR]
       $0 kill|term|start|restart I [--state DIR]
  DIR defaults to $REPO/.run/cluster
EOF
  exit 2
}

# ---------------------------------------------------------------- state ----

runtime_comm() { [[ "$1" == deno ]] && echo deno || echo node; }

# load_runner I: R_PID R_RUNTIME R_URL R_GRPC R_BIND R_LOG from DIR/runner-I/env (scripts/runner.sh's).
load_runner() {
  local f="$STATE/runner-$1/env" vars
  R_PID="" R_RUNTIME="" R_URL="" R_GRPC="" R_BIND="" R_LOG=""
  [[ -f "$f" ]] || return 1
  vars="$(
    unset RUNNER_PID RUNNER_RUNTIME RUNNER_URL RUNNER_ADDRESS GRPC_LISTEN_ADDR RUNNER_LOG
    # shellcheck disable=SC1090
    source "$f"
    printf 'R_PID=%q R_RUNTIME=%q R_URL=%q R_GRPC=%q R_BIND=%q R_LOG=%q\n' "${RUNNER_PID:-}" "${RUNNER_RUNTIME:-node}" \
      "${RUNNER_URL:-}" "${RUNNER_ADDRESS:-}" "${GRPC_LISTEN_ADDR:-${RUNNER_ADDRESS:-}}" "${RUNNER_LOG:-}"
  )"
  eval "$vars"
}

# is_runner PID RUNTIME GRPC: PID is alive and is the runner serving GRPC (its environment says
# so), so a recycled PID is never taken for, or signalled as, one of ours.
is_runner() {
  local pid="$1" runtime="$2" grpc="$3" environ
  alive "$pid" "$(runtime_comm "$runtime")" || return 1
  environ="$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null)" || return 1
  [[ $'\n'"$environ"$'\n' == *$'\n'"RUNNER_ADDRESS=$grpc"$'\n'* ]]
}

# runner_running I: runner I is up (by its recorded PID).
runner_running() {
  load_runner "$1" || return 1
  is_runner "$R_PID" "$R_RUNTIME" "$R_GRPC"
}

# load_cluster: the cluster's settings from DIR/env; dies if there is no cluster in DIR.
load_cluster() {
  [[ -f "$ENV_FILE" ]] || die "no cluster up in $STATE"
  local vars
  vars="$(
    unset CLUSTER_SIZE CLUSTER_ETCD_PREFIX POSTGRES_URL ETCD_ENDPOINTS ADMIN_TOKEN
    # shellcheck disable=SC1090
    source "$ENV_FILE"
    printf 'C_SIZE=%q C_PREFIX=%q C_PG=%q C_ETCD=%q C_ADMIN=%q\n' "${CLUSTER_SIZE:-}" "${CLUSTER_ETCD_PREFIX:-}" \
      "${POSTGRES_URL:-}" "${ETCD_ENDPOINTS:-}" "${ADMIN_TOKEN:-}"
  )"
  eval "$vars"
  [[ "$C_SIZE" =~ ^[1-9][0-9]*$ ]] || die "$ENV_FILE has no valid CLUSTER_SIZE"
}

# q VALUE: VALUE quoted for the shell, readably ("url1 url2") when that is safe.
q() {
  if [[ "$1" =~ ^[A-Za-z0-9_./:@,+=\ -]*$ ]]; then printf '"%s"' "$1"; else printf '%q' "$1"; fi
}

# write_env: DIR/env from the cluster settings (C_*) and each runner's own state.
write_env() {
  local tmp="$ENV_FILE.tmp.$$" i urls=() pid
  for ((i = 1; i <= C_SIZE; i++)); do
    load_runner "$i" || die "runner $i has no state in $STATE/runner-$i"
    urls+=("$R_URL")
  done
  {
    echo "# generated by scripts/cluster.sh - a throw-away local cluster"
    printf 'export CLUSTER_STATE=%s\n' "$(q "$STATE")"
    printf 'export CLUSTER_SIZE=%s\n' "$(q "$C_SIZE")"
    printf 'export CLUSTER_URLS=%s\n' "$(q "${urls[*]}")"
    printf 'export CLUSTER_TESTS_URL=%s\n' "$(q "${urls[0]}")"
    printf 'export CLUSTER_RESTART_CMD=%s\n' "$(q "$(printf '%q restart 1 --state %q' "$SCRIPT_DIR/cluster.sh" "$STATE")")"
    printf 'export CLUSTER_ETCD_PREFIX=%s\n' "$(q "$C_PREFIX")"
    printf 'export POSTGRES_URL=%s\n' "$(q "$C_PG")"
    printf 'export ETCD_ENDPOINTS=%s\n' "$(q "$C_ETCD")"
    # The operator API's token (empty: the /admin routes are open), kept for restarted runners.
    printf 'export ADMIN_TOKEN=%s\n' "$(q "$C_ADMIN")"
    for ((i = 1; i <= C_SIZE; i++)); do
      load_runner "$i"
      pid=""
      if is_runner "$R_PID" "$R_RUNTIME" "$R_GRPC"; then pid="$R_PID"; fi
      printf 'export RUNNER_%d_URL=%s RUNNER_%d_GRPC=%s RUNNER_%d_PID=%s RUNNER_%d_RUNTIME=%s RUNNER_%d_LOG=%s\n' \
        "$i" "$(q "$R_URL")" "$i" "$(q "$R_GRPC")" "$i" "$(q "$pid")" "$i" "$(q "$R_RUNTIME")" "$i" "$(q "$R_LOG")"
      printf 'export RUNNER_%d_GRPC_LISTEN=%s\n' "$i" "$(q "$R_BIND")"
    done
  } >"$tmp"
  mv -f "$tmp" "$ENV_FILE"
}

# check_identity I: runner I's /health names it (runner id = its RUNNER_ADDRESS, cluster mode),
# i.e. the URL is served by our process and not by whatever else might hold the port.
check_identity() {
  local health
  load_runner "$1"
  health="$(curl -sf --max-time 5 "$R_URL/health")" || die "runner $1 ($R_URL) does not answer /health"
  jq -e --arg id "$R_GRPC" '.status == "ok" and .runner == $id and .mode == "cluster"' >/dev/null <<<"$health" \
    || die "runner $1 ($R_URL) is not the cluster runner $R_GRPC: /health says $health"
}

# ------------------------------------------------------------- runners -----

# launch_runner I RUNTIME HTTP_PORT GRPC_PORT [BIND_PORT]: a fresh runner I via scripts/runner.sh
# start, in its own session (it outlives this script and the caller's process group) and with the
# lock fd closed; its gRPC server binds BIND_PORT when given (--proxied), GRPC_PORT otherwise.
# Retries on fresh ports if the chosen ones were taken meanwhile. Output goes to
# DIR/runner-I/start.out.
launch_runner() {
  local i="$1" runtime="$2" http="$3" grpc="$4" bind="${5:-}" dir attempt rc
  dir="$STATE/runner-$i"
  mkdir -p "$dir"
  : >"$dir/start.out"
  for ((attempt = 1; ; attempt++)); do
    rc=0
    (
      unset DATA_DIR
      # The services' TLS material (scripts/services.sh with SERVICES_TLS_DIR), when they use TLS.
      if [[ -f "$STATE/services/env" ]]; then eval "$(grep -E '^export (POSTGRES_CA|ETCD_CA|ETCD_CERT|ETCD_KEY)=' "$STATE/services/env")"; fi
      export POSTGRES_URL="$C_PG" ETCD_ENDPOINTS="$C_ETCD" ETCD_PREFIX="$C_PREFIX" ADMIN_TOKEN="$C_ADMIN"
      export RUNNER_ADDRESS="127.0.0.1:$grpc" LISTEN_ADDR="127.0.0.1:$http" OWNERSHIP_LOG="$dir/ownership.jsonl"
      if [[ -n "$bind" ]]; then export GRPC_LISTEN_ADDR="127.0.0.1:$bind"; else unset GRPC_LISTEN_ADDR; fi
      exec setsid -w bash "$RUNNER_SH" start "$dir" "$runtime"
    ) 9<&- </dev/null >"$dir/start.attempt" 2>&1 || rc=$?
    cat "$dir/start.attempt" >>"$dir/start.out"
    [[ $rc == 0 ]] && { rm -f "$dir/start.attempt"; return 0; }
    if ((attempt < PORT_ATTEMPTS)) && grep -qiE 'EADDRINUSE|address already in use' "$dir/start.attempt" \
        && ! runner_running "$i"; then
      echo "cluster: ports $http/$grpc${bind:+/$bind} of runner $i were taken; retrying on fresh ones" >>"$dir/start.out"
      read -r http grpc bind < <(free_ports "$((bind ? 3 : 2))")
      continue
    fi
    return "$rc"
  done
}

# stop_runner I SIGNAL: signal runner I by its recorded PID (through scripts/runner.sh) and wait
# for it to exit; nothing to do if it is not running.
stop_runner() {
  local i="$1" sig="$2"
  if ! runner_running "$i"; then
    log "runner $i is not running"
    return 0
  fi
  if [[ "$sig" == KILL ]]; then
    bash "$RUNNER_SH" kill "$STATE/runner-$i" 9<&-
  else
    bash "$RUNNER_SH" stop "$STATE/runner-$i" 9<&-
  fi
}

# start_runner I: runner I again with exactly its saved settings (same ports, same runtime).
start_runner() {
  local i="$1"
  load_runner "$i" || die "runner $i has no state in $STATE/runner-$i"
  if is_runner "$R_PID" "$R_RUNTIME" "$R_GRPC"; then
    log "runner $i is already running (pid $R_PID)"
    return 0
  fi
  setsid -w bash "$RUNNER_SH" resume "$STATE/runner-$i" 9<&- </dev/null
  check_identity "$i"
}

# stop_all: stop every runner recorded in DIR (whatever CLUSTER_SIZE says) and forget them.
stop_all() {
  local d i
  for d in "$STATE"/runner-*; do
    i="${d##*/runner-}"
    [[ "$i" =~ ^[0-9]+$ && -d "$d" ]] || continue
    [[ -f "$d/env" ]] || continue
    stop_runner "$i" TERM
    rm -f "$d/env"
  done
}

services_alive() {
  [[ -f "$STATE/services/env" ]] || return 1
  (
    # shellcheck disable=SC1091
    source "$STATE/services/env"
    alive "${SERVICES_PG_PID:-}" postgres && alive "${SERVICES_ETCD_PID:-}" etcd
  )
}

# ------------------------------------------------------------ commands -----

UP_OK=0 UP_SERVICES_STARTED=0 UP_JOBS=()
up_cleanup() {
  [[ "$UP_OK" == 1 ]] && return 0
  log "start-up failed; stopping what it started"
  local j
  for j in "${UP_JOBS[@]}"; do wait "$j" 2>/dev/null || true; done
  stop_all || true
  rm -f "$ENV_FILE"
  if [[ "$UP_SERVICES_STARTED" == 1 ]]; then bash "$SERVICES_SH" down "$STATE/services" 9<&- || true; fi
}

cmd_up() {
  local i
  for i in "$STATE"/runner-*; do
    i="${i##*/runner-}"
    [[ "$i" =~ ^[0-9]+$ ]] || continue
    runner_running "$i" && die "a cluster is already up in $STATE (runner $i, pid $R_PID); run: $0 down --state $STATE"
  done
  # Stale state of an earlier cluster (killed, or a failed start): start from scratch.
  rm -rf -- "$STATE"/runner-[0-9]*
  rm -f -- "$ENV_FILE"

  trap up_cleanup EXIT
  trap 'exit 130' INT TERM HUP
  services_alive || UP_SERVICES_STARTED=1
  bash "$SERVICES_SH" up "$STATE/services" 9<&- >/dev/null
  local vars
  vars="$(
    # shellcheck disable=SC1091
    source "$STATE/services/env"
    printf 'C_PG=%q C_ETCD=%q\n' "$POSTGRES_URL" "$ETCD_ENDPOINTS"
  )"
  eval "$vars"
  C_SIZE="$N"
  C_ADMIN="${ADMIN_TOKEN:-}"
  C_PREFIX="/cluster-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')/"

  local ports runtime per=2
  ((PROXIED)) && per=3
  read -r -a ports < <(free_ports $((per * N)))
  log "starting $N runners ($((N - K)) node, $K deno$( ((PROXIED)) && echo ", gRPC behind proxies")), ETCD_PREFIX=$C_PREFIX"
  # Concurrently: migrations are serialized by an advisory lock in the runner, the ports are
  # distinct, and every runner has its own state dir.
  for ((i = 1; i <= N; i++)); do
    runtime=node
    ((i > N - K)) && runtime=deno
    launch_runner "$i" "$runtime" "${ports[@]:per * (i - 1):per}" &
    UP_JOBS+=("$!")
  done
  local failed=() rc
  for ((i = 1; i <= N; i++)); do
    rc=0
    wait "${UP_JOBS[i - 1]}" || rc=$?
    sed "s/^/[runner-$i] /" "$STATE/runner-$i/start.out" >&2
    ((rc == 0)) || failed+=("$i")
  done
  UP_JOBS=()
  ((${#failed[@]} == 0)) || die "runner(s) ${failed[*]} failed to start (logs: $STATE/runner-<I>/runner.log)"
  for ((i = 1; i <= N; i++)); do check_identity "$i"; done
  write_env
  UP_OK=1
  trap - EXIT INT TERM HUP
  log "up: $N runners healthy; source $ENV_FILE"
  echo "$ENV_FILE"
}

cmd_down() {
  if [[ ! -d "$STATE" ]]; then return 0; fi
  stop_all
  if [[ -f "$STATE/services/env" ]]; then bash "$SERVICES_SH" down "$STATE/services" 9<&- >/dev/null; fi
  rm -f -- "$ENV_FILE"
}

check_index() {
  [[ "$IDX" =~ ^[1-9][0-9]*$ ]] || usage
  ((IDX <= C_SIZE)) || die "no runner $IDX: the cluster in $STATE has $C_SIZE"
}

cmd_status() {
  load_cluster
  local i pid state
  for ((i = 1; i <= C_SIZE; i++)); do
    load_runner "$i" || true
    state=dead
    if is_runner "$R_PID" "$R_RUNTIME" "$R_GRPC"; then state=alive; fi
    pid="${R_PID:--}"
    printf '%s %s %s %s %s\n' "$i" "${R_RUNTIME:-?}" "$pid" "$state" "${R_URL:-?}"
  done
}

# ---------------------------------------------------------------- main -----

CMD="${1:-}"
[[ $# -gt 0 ]] && shift
N=3 K=0 STATE="$REPO/.run/cluster" IDX="" PROXIED=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runners) N="${2:?--runners needs a value}"; shift 2 ;;
    --runners=*) N="${1#*=}"; shift ;;
    --deno) K="${2:?--deno needs a value}"; shift 2 ;;
    --deno=*) K="${1#*=}"; shift ;;
    --state) STATE="${2:?--state needs a value}"; shift 2 ;;
    --state=*) STATE="${1#*=}"; shift ;;
    --proxied) PROXIED=1; shift ;;
    -h | --help) usage ;;
    -*) echo "unknown option: $1" >&2; usage ;;
    *) [[ -z "$IDX" ]] || usage; IDX="$1"; shift ;;
  esac
done
case "$CMD" in
  up | down | status | env) [[ -z "$IDX" ]] || usage ;;
  kill | term | start | restart) [[ -n "$IDX" ]] || usage ;;
  *) usage ;;
esac
if [[ "$CMD" == up ]]; then
  [[ "$N" =~ ^[1-9][0-9]*$ ]] || die "--runners must be a positive integer (got '$N')"
  if ! [[ "$K" =~ ^[0-9]+$ ]] || ((K > N)); then die "--deno must be an integer from 0 to --runners (got '$K')"; fi
fi
command -v jq >/dev/null 2>&1 || die "jq is required"

if [[ ! -d "$STATE" ]]; then
  case "$CMD" in
    up) mkdir -p "$STATE" ;;
    down) exit 0 ;; # nothing is up
    *) die "no cluster up in $STATE" ;;
  esac
fi
STATE="$(cd -- "$STATE" && pwd -P)"
ENV_FILE="$STATE/env"

case "$CMD" in
  env) [[ -f "$ENV_FILE" ]] || die "no cluster up in $STATE"; echo "$ENV_FILE"; exit 0 ;;
  status) cmd_status; exit 0 ;;
esac

# Serialize the commands that change a cluster (fd 9 is closed for everything started from here).
exec 9<"$STATE"
flock -w 300 9 || die "timed out waiting for the lock on $STATE"

case "$CMD" in
  up) cmd_up ;;
  down) cmd_down ;;
  kill | term | start | restart)
    load_cluster
    check_index
    # In a subshell outside any `||` (where `set -e` would be ignored), so that DIR/env gets
    # RUNNER_<I>_PID as it is now whatever happened.
    set +e
    (
      set -e
      case "$CMD" in
        kill) stop_runner "$IDX" KILL ;;
        term) stop_runner "$IDX" TERM ;;
        start) start_runner "$IDX" ;;
        restart) stop_runner "$IDX" TERM; start_runner "$IDX" ;;
      esac
    )
    rc=$?
    set -e
    write_env
    exit "$rc"
    ;;
esac
