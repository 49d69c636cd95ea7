# Process and port helpers shared by the scripts. Source it after setting LOG_NAME and STOP_TIMEOUT.
# Processes are only ever signalled by PIDs these scripts recorded themselves.

log() { printf '%s: %s\n' "${LOG_NAME:-scripts}" "$*" >&2; }
die() { printf '%s: error: %s\n' "${LOG_NAME:-scripts}" "$*" >&2; exit 1; }

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

