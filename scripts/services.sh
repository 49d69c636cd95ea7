#!/usr/bin/env bash
# Throw-away PostgreSQL + etcd servers for tests, on loopback only.
#
#   scripts/services.sh up [STATE_DIR]                start both (idempotent)
#   scripts/services.sh down [STATE_DIR]              stop both, remove data
#   scripts/services.sh restart-postgres [STATE_DIR]  stop+start, same port/data
#   scripts/services.sh restart-etcd [STATE_DIR]      stop+start, same port/data
#
# STATE_DIR defaults to $REPO/.run/services. `up` writes STATE_DIR/env, a
# sourceable file exporting POSTGRES_URL, ETCD_ENDPOINTS and SERVICES_* vars.
# Data and logs live in a fresh mktemp dir (SERVICES_TMP), removed by `down`.
# Processes are only ever stopped by their recorded PIDs.
#
# Tunables (env): SERVICES_START_TIMEOUT (s, default 30),
#                 SERVICES_STOP_TIMEOUT (s, default 15).
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
REPO="$(cd -- "$SCRIPT_DIR/.." && pwd -P)"
START_TIMEOUT="${SERVICES_START_TIMEOUT:-30}"
STOP_TIMEOUT="${SERVICES_STOP_TIMEOUT:-15}"
PORT_ATTEMPTS=5

log() { printf 'services: %s\n' "$*" >&2; }
die() { printf 'services: error: %s\n' "$*" >&2; exit 1; }

usage() {
  cat >&2 <<EOF
usage: $0 {up|down|restart-postgres|restart-etcd} [STATE_DIR]
  STATE_DIR defaults to $REPO/.run/services
EOF
  exit 2
}

# ---------------------------------------------------------------- helpers --

# now in tenths of a second (monotonic enough for bounded polling)
deadline_in() { echo $(( $(date +%s%N) / 100000000 + $1 * 10 )); }
before() { (( $(date +%s%N) / 100000000 < $1 )); }

# alive PID [COMM]: process exists, is not a zombie, and (optionally) has that comm.
alive() {
  local pid="$1" comm="${2:-}" stat state
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
  state="${stat##*) }"; state="${state%% *}"
  [[ "$state" != Z ]] || return 1
  if [[ -n "$comm" ]]; then
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$comm" ]] || return 1
  fi
}

# wait_gone PID SECONDS -> 0 once the process is gone, 1 on timeout
wait_gone() {
  local pid="$1" dl
  dl="$(deadline_in "$2")"
  while alive "$pid"; do
    before "$dl" || return 1
    sleep 0.1
  done
}

# stop_pid PID COMM SIGNAL NAME: signal, bounded wait, then SIGKILL.
stop_pid() {
  local pid="$1" comm="$2" sig="$3" name="$4"
  alive "$pid" "$comm" || return 0
  log "stopping $name (pid $pid, SIG$sig)"
  kill "-$sig" "$pid" 2>/dev/null || true
  if ! wait_gone "$pid" "$STOP_TIMEOUT"; then
    log "$name (pid $pid) did not exit within ${STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 5 || die "$name (pid $pid) survived SIGKILL"
  fi
}

# free_ports N: N distinct free TCP ports on 127.0.0.1 (held simultaneously
# while being chosen, so they differ from each other).
free_ports() {
  node -e '
    const net = require("net");
    const n = Number(process.argv[1]);
    const servers = [];
    for (let i = 0; i < n; i++) {
      const s = net.createServer();
      s.on("error", (e) => { console.error(e.message); process.exit(1); });
      s.listen(0, "127.0.0.1", () => {
        servers.push(s);
        if (servers.length === n) {
          console.log(servers.map((x) => x.address().port).join(" "));
          servers.forEach((x) => x.close());
        }
      });
    }' "$1"
}

tail_log() {
  local f="$1"
  if [[ -f "$f" ]]; then
    printf -- '----- last lines of %s -----\n' "$f" >&2
    tail -n 30 "$f" >&2 || true
    printf -- '-----\n' >&2
  fi
}

# as_postgres OUTFILE CMD...: run CMD as the postgres user, output to OUTFILE.
# Redirections happen inside the subshell so that a trap firing meanwhile in
# this shell still logs to the real stderr.
as_postgres() {
  local out="$1"; shift
  (cd / && exec runuser -u postgres -- "$@" </dev/null >"$out" 2>&1 9<&-)
}

pg_bin_dir() {
  local d
  d="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null | sort -V | tail -n 1)"
  [[ -n "$d" && -x "$d/postgres" ]] \
    || die "no PostgreSQL found under /usr/lib/postgresql/*/bin (apt-get install postgresql)"
  echo "$d"
}

ensure_etcd() {
  command -v etcd >/dev/null 2>&1 && return 0
  [[ "$(id -u)" -eq 0 ]] || die "etcd not installed and not root (apt-get install etcd-server)"
  log "etcd not found; installing etcd-server via apt-get"
  apt-get update -qq </dev/null >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server </dev/null >&2
  command -v etcd >/dev/null 2>&1 || die "etcd-server installed but etcd not on PATH"
}

# etcd 3.4 refuses to start on arches it does not officially support unless
# ETCD_UNSUPPORTED_ARCH names the (Go) arch.
etcd_arch_env() {
  local goarch
  case "$(uname -m)" in
    x86_64) return 0 ;;
    aarch64 | arm64) goarch=arm64 ;;
    armv*) goarch=arm ;;
    i?86) goarch=386 ;;
    *) goarch="$(uname -m)" ;;
  esac
  export ETCD_UNSUPPORTED_ARCH="$goarch"
}

# ---------------------------------------------------------------- state ----

load_env() {
  # shellcheck disable=SC1090
  source "$ENV_FILE"
}

write_env() {
  local tmp="$ENV_FILE.tmp.$$"
  {
    echo "# generated by scripts/services.sh - throw-away test services"
    printf 'export POSTGRES_URL=%q\n' "postgres://postgres@127.0.0.1:$SERVICES_PG_PORT/cluster"
    printf 'export ETCD_ENDPOINTS=%q\n' "http://127.0.0.1:$SERVICES_ETCD_PORT"
    printf 'export SERVICES_PG_PID=%q\n' "$SERVICES_PG_PID"
    printf 'export SERVICES_ETCD_PID=%q\n' "$SERVICES_ETCD_PID"
    printf 'export SERVICES_TMP=%q\n' "$SERVICES_TMP"
    printf 'export SERVICES_PG_BIN=%q\n' "$SERVICES_PG_BIN"
    printf 'export SERVICES_PG_DATA=%q\n' "$SERVICES_PG_DATA"
    printf 'export SERVICES_PG_PORT=%q\n' "$SERVICES_PG_PORT"
    printf 'export SERVICES_ETCD_PORT=%q\n' "$SERVICES_ETCD_PORT"
    printf 'export SERVICES_ETCD_PEER_PORT=%q\n' "$SERVICES_ETCD_PEER_PORT"
  } >"$tmp"
  mv -f "$tmp" "$ENV_FILE"
}

# ------------------------------------------------------------- postgres ----

pg_init() {
  local pgdir="$SERVICES_TMP/postgres"
  mkdir -p "$pgdir/sock"
  chown -R postgres:postgres "$pgdir"
  chmod 700 "$pgdir"
  log "initdb ($SERVICES_PG_BIN)"
  if ! as_postgres "$SERVICES_TMP/initdb.log" "$SERVICES_PG_BIN/initdb" -D "$SERVICES_PG_DATA" \
      -A trust -U postgres --encoding=UTF8 --no-locale --no-sync; then
    tail_log "$SERVICES_TMP/initdb.log"
    die "initdb failed"
  fi
  cat >>"$SERVICES_PG_DATA/postgresql.conf" <<EOF

# --- scripts/services.sh: throw-away test server, NOT durable ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$pgdir/sock'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300
shared_buffers = 128MB
EOF
}

# pg_start: start postmaster on $SERVICES_PG_PORT, wait until ready.
# Sets SERVICES_PG_PID. Returns 0 ok, 2 port in use, dies on other failure.
pg_start() {
  local pgdir="$SERVICES_TMP/postgres" logf="$SERVICES_TMP/postgres/postgres.log"
  local pidfile="$SERVICES_PG_DATA/postmaster.pid" dl pid="" off newlog
  touch "$logf"; chown postgres:postgres "$logf"
  off="$(stat -c %s "$logf")"   # only look at what this start appends
  newlog="$SERVICES_TMP/postgres/.startlog"
  log "starting postgres on 127.0.0.1:$SERVICES_PG_PORT"
  # pg_ctl detaches the postmaster into its own session; -W: we poll ourselves.
  if ! as_postgres "$SERVICES_TMP/pg_ctl.log" "$SERVICES_PG_BIN/pg_ctl" -D "$SERVICES_PG_DATA" \
      -l "$logf" -W -o "-p $SERVICES_PG_PORT" start; then
    tail_log "$SERVICES_TMP/pg_ctl.log"; tail_log "$logf"; die "pg_ctl start failed"
  fi
  dl="$(deadline_in "$START_TIMEOUT")"
  while :; do
    tail -c "+$((off + 1))" "$logf" >"$newlog" 2>/dev/null || true
    if grep -qE 'could not create any TCP/IP sockets|could not bind .*Address already in use' "$newlog"; then
      if [[ -n "$pid" ]]; then wait_gone "$pid" 10 || true; fi
      return 2
    fi
    if grep -q 'FATAL' "$newlog"; then
      tail_log "$logf"; die "postgres failed to start"
    fi
    if [[ -z "$pid" && -f "$pidfile" ]]; then pid="$(head -n 1 "$pidfile" 2>/dev/null || true)"; fi
    # Ready = our postmaster is alive, its pid file says "ready" for our port,
    # and pg_isready answers (guards against another server owning the port).
    if [[ -n "$pid" ]] && alive "$pid" postgres \
        && [[ "$(sed -n 4p "$pidfile" 2>/dev/null)" == "$SERVICES_PG_PORT" ]] \
        && [[ "$(sed -n 8p "$pidfile" 2>/dev/null | tr -d ' ')" == ready ]] \
        && "$SERVICES_PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$SERVICES_PG_PORT" -U postgres -t 1 </dev/null; then
      SERVICES_PG_PID="$pid"
      rm -f "$newlog"
      log "postgres ready (pid $pid)"
      return 0
    fi
    if [[ -n "$pid" ]] && ! alive "$pid"; then
      tail -c "+$((off + 1))" "$logf" >"$newlog" 2>/dev/null || true
      if grep -qE 'could not create any TCP/IP sockets|could not bind .*Address already in use' "$newlog"; then
        return 2
      fi
      tail_log "$logf"; die "postgres (pid $pid) exited during startup"
    fi
    if ! before "$dl"; then
      tail_log "$logf"
      if [[ -n "$pid" ]]; then stop_pid "$pid" postgres INT postgres || true; fi
      die "postgres not ready within ${START_TIMEOUT}s"
    fi
    sleep 0.1
  done
}

pg_stop() {
  local pid="${SERVICES_PG_PID:-}"
  alive "$pid" postgres || return 0
  # SIGINT to the postmaster == pg_ctl stop -m fast, addressed by PID.
  stop_pid "$pid" postgres INT postgres
}

# --------------------------------------------------------------- etcd ------

# etcd_start: start etcd on $SERVICES_ETCD_PORT/$SERVICES_ETCD_PEER_PORT, wait
# until healthy. Sets SERVICES_ETCD_PID. Returns 0 ok, 2 port in use.
etcd_start() {
  local logf="$SERVICES_TMP/etcd.log" pidf="$SERVICES_TMP/etcd.pid" dl pid="" off name
  local newlog="$SERVICES_TMP/.etcd.startlog"
  local client="http://127.0.0.1:$SERVICES_ETCD_PORT" peer="http://127.0.0.1:$SERVICES_ETCD_PEER_PORT"
  name="svc-$(basename "$SERVICES_TMP")"
  etcd_arch_env
  rm -f "$pidf"; touch "$logf"
  off="$(stat -c %s "$logf")"   # only look at what this start appends
  log "starting etcd on 127.0.0.1:$SERVICES_ETCD_PORT (peer $SERVICES_ETCD_PEER_PORT)"
  # Own session (survives the caller's process group); the inner shell records
  # its own PID and execs etcd, so the PID is etcd's even if setsid forks.
  # Caller's ETCD_* variables (e.g. ETCD_ENDPOINTS from the env file) would be
  # read by etcd as config; drop all but ETCD_UNSUPPORTED_ARCH.
  local -a unset_args=()
  local v
  for v in $(compgen -e); do
    if [[ "$v" == ETCD_* && "$v" != ETCD_UNSUPPORTED_ARCH ]]; then unset_args+=(-u "$v"); fi
  done
  # shellcheck disable=SC2016  # $$ / $1 are for the inner shell
  env "${unset_args[@]}" setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pidf" etcd \
    --name "$name" \
    --data-dir "$SERVICES_TMP/etcd" \
    --listen-client-urls "$client" --advertise-client-urls "$client" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
    --initial-cluster "$name=$peer" --initial-cluster-state new \
    --initial-cluster-token "$name" \
    --listen-metrics-urls "" \
    </dev/null >>"$logf" 2>&1 9<&- &
  dl="$(deadline_in "$START_TIMEOUT")"
  while :; do
    tail -c "+$((off + 1))" "$logf" >"$newlog" 2>/dev/null || true
    if [[ -z "$pid" && -s "$pidf" ]]; then pid="$(cat "$pidf")"; fi
    if [[ -n "$pid" ]] && ! alive "$pid"; then
      wait "$pid" 2>/dev/null || true
      tail -c "+$((off + 1))" "$logf" >"$newlog" 2>/dev/null || true
      if grep -q 'address already in use' "$newlog"; then return 2; fi
      tail_log "$logf"; die "etcd (pid $pid) exited during startup"
    fi
    # Healthy, our process alive, and its log says it serves on our port
    # (guards against another etcd owning the port).
    if [[ -n "$pid" ]] && alive "$pid" etcd \
        && grep -q "serving insecure client requests on 127.0.0.1:$SERVICES_ETCD_PORT" "$newlog" \
        && curl -sf -m 2 "$client/health" >/dev/null 2>&1 </dev/null; then
      SERVICES_ETCD_PID="$pid"
      rm -f "$newlog"
      log "etcd ready (pid $pid)"
      return 0
    fi
    if ! before "$dl"; then
      tail_log "$logf"
      if [[ -n "$pid" ]]; then stop_pid "$pid" etcd TERM etcd || true; fi
      die "etcd not healthy within ${START_TIMEOUT}s"
    fi
    sleep 0.1
  done
}

etcd_stop() {
  stop_pid "${SERVICES_ETCD_PID:-}" etcd TERM etcd
}

# -------------------------------------------------------------- commands ---

cmd_down() {
  [[ -f "$ENV_FILE" ]] || { log "nothing up in $STATE_DIR"; return 0; }
  load_env
  pg_stop
  etcd_stop
  if [[ -n "${SERVICES_TMP:-}" && -d "$SERVICES_TMP" && "$(basename "$SERVICES_TMP")" == services.* ]]; then
    rm -rf -- "$SERVICES_TMP"
  fi
  rm -f -- "$ENV_FILE"
  log "down ($STATE_DIR)"
}

UP_OK=0
up_cleanup() {
  [[ "$UP_OK" == 1 ]] && return 0
  log "startup failed; cleaning up"
  pg_stop || true
  etcd_stop || true
  if [[ -n "${SERVICES_TMP:-}" && -d "$SERVICES_TMP" ]]; then rm -rf -- "$SERVICES_TMP"; fi
}

cmd_up() {
  if [[ -f "$ENV_FILE" ]]; then
    (
      load_env
      alive "${SERVICES_PG_PID:-}" postgres && alive "${SERVICES_ETCD_PID:-}" etcd
    ) && { log "already up ($ENV_FILE)"; echo "$ENV_FILE"; return 0; }
    log "stale state in $STATE_DIR; tearing it down first"
    ( cmd_down )
  fi
  [[ "$(id -u)" -eq 0 ]] || die "must run as root (postgres runs as the postgres user via runuser)"
  id postgres >/dev/null 2>&1 || die "no 'postgres' OS user"
  command -v node >/dev/null 2>&1 || die "node is required (free-port selection)"
  command -v curl >/dev/null 2>&1 || die "curl is required"
  ensure_etcd

  SERVICES_PG_BIN="$(pg_bin_dir)"
  SERVICES_TMP="$(mktemp -d "${TMPDIR:-/tmp}/services.XXXXXXXX")"
  chmod 711 "$SERVICES_TMP"   # postgres user must traverse into its subdir
  SERVICES_PG_DATA="$SERVICES_TMP/postgres/data"
  SERVICES_PG_PID="" SERVICES_ETCD_PID=""
  trap up_cleanup EXIT
  trap 'exit 130' INT TERM HUP
  log "temp dir $SERVICES_TMP"

  pg_init
  local attempt rc ports
  for ((attempt = 1; ; attempt++)); do
    ports="$(free_ports 1)"
    SERVICES_PG_PORT="$ports"
    rc=0; pg_start || rc=$?
    [[ $rc == 0 ]] && break
    ((attempt < PORT_ATTEMPTS)) || { tail_log "$SERVICES_TMP/postgres/postgres.log"; die "postgres: no usable port after $attempt attempts"; }
    log "postgres port $SERVICES_PG_PORT taken; retrying"
  done
  log "creating database cluster"
  "$SERVICES_PG_BIN/createdb" -h 127.0.0.1 -p "$SERVICES_PG_PORT" -U postgres -O postgres cluster </dev/null \
    || die "createdb cluster failed"

  for ((attempt = 1; ; attempt++)); do
    read -r SERVICES_ETCD_PORT SERVICES_ETCD_PEER_PORT < <(free_ports 2)
    rm -rf -- "$SERVICES_TMP/etcd"
    rc=0; etcd_start || rc=$?
    [[ $rc == 0 ]] && break
    ((attempt < PORT_ATTEMPTS)) || { tail_log "$SERVICES_TMP/etcd.log"; die "etcd: no usable ports after $attempt attempts"; }
    log "etcd ports $SERVICES_ETCD_PORT/$SERVICES_ETCD_PEER_PORT taken; retrying"
  done

  write_env
  UP_OK=1
  trap - EXIT INT TERM HUP
  log "up: POSTGRES_URL=postgres://postgres@127.0.0.1:$SERVICES_PG_PORT/cluster ETCD_ENDPOINTS=http://127.0.0.1:$SERVICES_ETCD_PORT"
  echo "$ENV_FILE"
}

cmd_restart() {
  local which="$1" rc=0
  [[ -f "$ENV_FILE" ]] || die "not up ($ENV_FILE missing)"
  load_env
  case "$which" in
    postgres)
      pg_stop
      pg_start || rc=$?
      [[ $rc == 0 ]] || { tail_log "$SERVICES_TMP/postgres/postgres.log"; die "postgres: port $SERVICES_PG_PORT is now taken"; }
      ;;
    etcd)
      etcd_stop
      etcd_start || rc=$?
      [[ $rc == 0 ]] || { tail_log "$SERVICES_TMP/etcd.log"; die "etcd: port $SERVICES_ETCD_PORT/$SERVICES_ETCD_PEER_PORT is now taken"; }
      ;;
  esac
  write_env
  log "restarted $which"
}

# ------------------------------------------------------------------ main ---

[[ $# -ge 1 && $# -le 2 ]] || usage
CMD="$1"
STATE_DIR="${2:-$REPO/.run/services}"
case "$CMD" in
  up | down | restart-postgres | restart-etcd) ;;
  *) usage ;;
esac
mkdir -p "$STATE_DIR"
STATE_DIR="$(cd -- "$STATE_DIR" && pwd -P)"
ENV_FILE="$STATE_DIR/env"

# Serialize commands on the same STATE_DIR (fd 9 is closed for the daemons).
exec 9<"$STATE_DIR"
flock -w 120 9 || die "timed out waiting for lock on $STATE_DIR"

case "$CMD" in
  up) cmd_up ;;
  down) cmd_down ;;
  restart-postgres) cmd_restart postgres ;;
  restart-etcd) cmd_restart etcd ;;
esac
