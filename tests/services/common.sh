# Shell functions shared by the scripts in tests/services and by
# scripts/cluster. Sourced by bash, not run.

# Prints COUNT distinct TCP ports that are free on 127.0.0.1, separated by
# spaces. The kernel picks them (bind to port 0), so two scripts running at
# once are unlikely to get the same ones. The ports are released before the
# caller binds them, so another program may still take one in between.
free_ports() {
  python3 - "$1" <<'PY'
import socket
import sys

sockets = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    sockets.append(s)
print(" ".join(str(s.getsockname()[1]) for s in sockets))
PY
}

# Succeeds while process PID exists and has not exited. A daemon started by
# these scripts is re-parented to PID 1 and stays a zombie until PID 1 reaps
# it, so a zombie counts as stopped.
is_alive() {
  grep -qs '^State:[[:space:]]*[^Z]' "/proc/$1/status"
}

# Succeeds if the command line of process PID contains TEXT. The scripts
# signal a PID from a pid file only when its command line names their own
# directory, because after a crash that PID may belong to another program.
runs_with() {
  grep -qsF -- "$2" "/proc/$1/cmdline"
}

# stop_processes SIGNAL TEXT PID...
# Sends SIGNAL to each PID whose command line contains TEXT, waits up to
# 5 s for them to exit, and sends SIGKILL to those still running.
stop_processes() {
  local signal=$1 text=$2 pid pids='' alive=''
  shift 2

  for pid in "$@"; do
    if runs_with "$pid" "$text" && kill "-$signal" "$pid" 2>/dev/null; then pids="$pids $pid"; fi
  done

  for _ in $(seq 1 50); do
    alive=''
    for pid in $pids; do
      if is_alive "$pid"; then alive="$alive $pid"; fi
    done
    [ -z "$alive" ] && return 0
    sleep 0.1
  done

  for pid in $alive; do
    if runs_with "$pid" "$text"; then
      echo "${0##*/}: process $pid did not exit within 5 s after SIG$signal, sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done

  # Give the kernel a moment to tear the killed processes down, so that the
  # caller does not delete files they still have open.
  for _ in $(seq 1 20); do
    alive=''
    for pid in $pids; do
      if is_alive "$pid"; then alive="$alive $pid"; fi
    done
    [ -z "$alive" ] && return 0
    sleep 0.1
  done
  return 0
}

# Prints the PID in each of the given pid files, one per line, and skips
# files that do not exist.
read_pid_files() {
  local file
  for file in "$@"; do
    [ -f "$file" ] && head -n 1 "$file"
  done
  return 0
}

# Stops the PostgreSQL server whose data directory is PG_DIR/data, by the
# PID in its postmaster.pid. SIGQUIT is PostgreSQL's immediate shutdown,
# which skips the final checkpoint because the data is thrown away anyway.
stop_postgres() {
  local pids
  mapfile -t pids < <(read_pid_files "$1/data/postmaster.pid")
  stop_processes QUIT "$1/data" "${pids[@]}"
}
