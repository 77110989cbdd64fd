# Helpers of the shell tests, sourced after each sets `work` (its scratch directory, removed on exit) and,
# where it starts them, `tailord`. Processes started with start_daemon or recorded in `server_pid` are
# killed on exit.
# shellcheck shell=bash

daemon_pid=""
server_pid=""
cleanup_work() {
  if [[ -n $daemon_pid ]]; then kill -KILL "$daemon_pid" 2>/dev/null || true; fi
  if [[ -n $server_pid ]]; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup_work EXIT

# Stops the test: the message, then the last command's output and the logs of a daemon or server it ran.
fail() {
  echo "FAILED: $*" >&2
  [[ -f $work/out ]] && sed 's/^/  output: /' "$work/out" >&2
  [[ -f $work/daemon.err ]] && sed 's/^/  daemon: /' "$work/daemon.err" >&2
  [[ -f $work/server.err ]] && sed 's/^/  server: /' "$work/server.err" >&2
  exit 1
}

# Runs a command that must exit with status $1, keeping its stdout and stderr in $work/out. A command that
# runs past $expect_timeout seconds (default: no limit) counts as exiting 124.
expect_status() {
  local expected=$1
  shift
  local status=0
  if [[ -n ${expect_timeout:-} ]]; then
    timeout "$expect_timeout" "$@" >"$work/out" 2>&1 || status=$?
  else
    "$@" >"$work/out" 2>&1 || status=$?
  fi
  [[ $status -eq $expected ]] || fail "\`$*\` exited $status, expected $expected"
}

expect_output() { grep -q -- "$1" "$work/out" || fail "the output lacks \`$1\`"; }

# Starts "$tailord" on a free loopback port with the given arguments; sets daemon_pid and TAILOR_SERVER. Its
# stderr accumulates in $work/daemon.err over restarts.
start_daemon() {
  : >"$work/daemon.out"
  "$tailord" --listen 127.0.0.1:0 "$@" >"$work/daemon.out" 2>>"$work/daemon.err" &
  daemon_pid=$!
  local port=""
  for _ in $(seq 200); do
    port=$(grep -o '127.0.0.1:[0-9]*' "$work/daemon.out" 2>/dev/null | cut -d: -f2 || true)
    [[ -n $port ]] && break
    kill -0 "$daemon_pid" 2>/dev/null || fail "tailord exited before listening"
    sleep 0.05
  done
  [[ -n $port ]] || fail "tailord did not start"
  export TAILOR_SERVER="http://127.0.0.1:$port"
}

# Stops the daemon start_daemon started with SIGTERM; it must exit cleanly.
stop_daemon_cleanly() {
  kill -TERM "$daemon_pid"
  wait "$daemon_pid" || fail "tailord did not stop cleanly on SIGTERM"
  daemon_pid=""
}

# Waits for each run ID in the daemon to finish (`tailor watch`).
watch_runs() {
  local id
  for id in "$@"; do
    "$tailor" watch "$id" >"$work/out" 2>&1 || fail "$id did not finish"
  done
}

# Starts `"$tailor" teacher-serve` on a free port for the arith file $1 with the further options given; sets
# server_pid and url (its base URL). Its stdout and stderr go to $work/server.out and $work/server.err.
start_teacher_serve() {
  local data=$1
  shift
  # Emptied here, not by the redirection below: a background job opens its files after the fork, so the
  # loop could otherwise read the URL of the server started before this one.
  : >"$work/server.out"
  "$tailor" teacher-serve --port 0 --data "$data" "$@" >"$work/server.out" 2>"$work/server.err" &
  server_pid=$!
  url=""
  for _ in $(seq 100); do
    url=$(head -n1 "$work/server.out")
    [[ -n $url ]] && break
    kill -0 "$server_pid" 2>/dev/null || fail "teacher-serve exited before listening"
    sleep 0.1
  done
  [[ $url =~ ^http://127\.0\.0\.1:[0-9]+/v1$ ]] || fail "teacher-serve printed \`$url\`, not its URL"
}
