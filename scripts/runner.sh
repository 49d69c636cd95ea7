#!/usr/bin/env bash
# One runner process in the background, for tests and benchmarks.
#
#   scripts/runner.sh start STATE_DIR [node|deno]   start (configuration from the environment)
#   scripts/runner.sh stop STATE_DIR                SIGTERM, wait for a graceful exit
#   scripts/runner.sh kill STATE_DIR                SIGKILL
#   scripts/runner.sh restart STATE_DIR             stop, then start again with the same settings
#   scripts/runner.sh resume STATE_DIR              start again with the saved settings (after a stop
#                                                   or a kill; refuses if it is still running)
#
# `start` binds LISTEN_ADDR (default: a free port on 127.0.0.1), keeps DATA_DIR under STATE_DIR
# unless set, and writes STATE_DIR/env with RUNNER_URL, RUNNER_PID, RUNNER_LOG and the settings it
# used, so that `restart` brings the same runner back. It returns once /health answers.
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
REPO="$(cd -- "$SCRIPT_DIR/.." && pwd -P)"
STOP_TIMEOUT="${RUNNER_STOP_TIMEOUT:-20}"
START_TIMEOUT="${RUNNER_START_TIMEOUT:-60}"
LOG_NAME=runner
# shellcheck source=lib/proc.sh
source "$SCRIPT_DIR/lib/proc.sh"

# The runner's configuration variables (DESIGN.md), saved for restarts.
CONFIG_VARS=(LISTEN_ADDR CLUSTER_TLS_SERVER_NAME ETCD_TLS_SERVER_NAME POSTGRES_URL ETCD_ENDPOINTS RUNNER_ADDRESS GRPC_LISTEN_ADDR OWNERSHIP_LOG LOG_LEVEL RUST_LOG
  SHARD_COUNT LEASE_TTL_MS ENTITY_IDLE_MS DATA_DIR ETCD_PREFIX CLUSTER_SECRET MAX_BODY_BYTES METRICS ADMIN_TOKEN MAILBOX_LIMIT MAX_INFLIGHT
  CLUSTER_TLS_CERT CLUSTER_TLS_KEY CLUSTER_TLS_CA TLS_CERT TLS_KEY ETCD_CA ETCD_CERT ETCD_KEY ETCD_USERNAME ETCD_PASSWORD POSTGRES_CA CRON_TEST_SCHEDULE)

runtime_comm() { [[ "$1" == deno ]] && echo deno || echo node; }

launch() {
  local state="$1" runtime="$2"
  local log="$state/runner.log"
  cd "$REPO"
  if [[ "$runtime" == deno ]]; then
    node_modules/deno/deno run --allow-env --allow-net --allow-read --allow-write --allow-sys --allow-run src/main.ts \
      </dev/null >>"$log" 2>&1 &
  else
    # RUNNER_NODE_FLAGS: extra flags for node, e.g. --cpu-prof (NODE_OPTIONS refuses it).
    # shellcheck disable=SC2086
    node ${RUNNER_NODE_FLAGS:-} --import tsx src/main.ts </dev/null >>"$log" 2>&1 &
  fi
  echo $!
}

# starting PID COMM: PID is the runner, or still the shell forked to exec it (on a loaded machine
# the exec can come after the first health poll: its comm is then still bash).
starting() {
  alive "$1" "$2" || { alive "$1" bash && [[ "$(readlink "/proc/$1/exe" 2>/dev/null)" == */bash ]]; }
}

wait_healthy() {
  local url="$1" pid="$2" comm="$3" log="$4" dl
  dl="$(deadline_in "$START_TIMEOUT")"
  until curl -sf -o /dev/null --max-time 2 "$url/health"; do
    starting "$pid" "$comm" || { tail_log "$log"; die "runner (pid $pid) exited during start-up"; }
    before "$dl" || { tail_log "$log"; die "runner (pid $pid) not healthy after ${START_TIMEOUT}s"; }
    sleep 0.1
  done
}

cmd_start() {
  local state="$1" runtime="${2:-node}"
  mkdir -p "$state"
  state="$(cd "$state" && pwd -P)"
  if [[ -f "$state/env" ]]; then
    # shellcheck disable=SC1091
    (source "$state/env"; alive "$RUNNER_PID" "$(runtime_comm "$RUNNER_RUNTIME")") && die "runner in $state is already running"
  fi
  export LISTEN_ADDR="${LISTEN_ADDR:-127.0.0.1:$(free_ports 1)}"
  export DATA_DIR="${DATA_DIR:-$state/data}"
  local pid comm url
  pid="$(launch "$state" "$runtime")"
  comm="$(runtime_comm "$runtime")"
  # HTTPS when TLS_CERT is set (curl checks it against CURL_CA_BUNDLE, when the caller sets one).
  url="$([[ -n "${TLS_CERT:-}" ]] && echo https || echo http)://${LISTEN_ADDR/0.0.0.0/127.0.0.1}"
  {
    printf 'export RUNNER_RUNTIME=%q RUNNER_PID=%q RUNNER_URL=%q RUNNER_LOG=%q\n' "$runtime" "$pid" "$url" "$state/runner.log"
    for v in "${CONFIG_VARS[@]}"; do [[ -n "${!v:-}" ]] && printf 'export %s=%q\n' "$v" "${!v}"; done
  } >"$state/env"
  wait_healthy "$url" "$pid" "$comm" "$state/runner.log"
  log "$runtime runner up: $url (pid $pid)"
}

load_state() {
  [[ -f "$1/env" ]] || die "no runner state in $1"
  # shellcheck disable=SC1091
  source "$1/env"
}

cmd_stop() {
  local state="$1" signal="${2:-TERM}"
  load_state "$state"
  stop_pid "$RUNNER_PID" "$(runtime_comm "$RUNNER_RUNTIME")" "$signal" "runner $RUNNER_URL"
}

# Start with exactly the saved settings (same ports, same data, same runtime): the caller's
# configuration variables are dropped first so none of them leaks into the runner.
cmd_resume() {
  local state="$1"
  (
    for v in "${CONFIG_VARS[@]}"; do unset "$v"; done
    load_state "$state"
    alive "$RUNNER_PID" "$(runtime_comm "$RUNNER_RUNTIME")" && die "runner in $state is still running (pid $RUNNER_PID)"
    rm -f "$state/env"
    cmd_start "$state" "$RUNNER_RUNTIME"
  )
}

cmd_restart() {
  cmd_stop "$1"
  cmd_resume "$1"
}

case "${1:-}" in
  start) cmd_start "${2:?state dir}" "${3:-node}" ;;
  stop) cmd_stop "${2:?state dir}" TERM ;;
  kill) cmd_stop "${2:?state dir}" KILL ;;
  restart) cmd_restart "${2:?state dir}" ;;
  resume) cmd_resume "${2:?state dir}" ;;
  *) echo "usage: $0 {start STATE_DIR [node|deno]|stop STATE_DIR|kill STATE_DIR|restart STATE_DIR|resume STATE_DIR}" >&2; exit 2 ;;
esac
