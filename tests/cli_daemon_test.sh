#!/usr/bin/env bash
# The daemon from the command line: `tailor submit|ls|watch|cancel|results` against tailord-simulated, the
# token, usage errors, and kill -9 of the daemon at several points of a run followed by a restart that
# resumes it with no corrupt file and no round done twice.
# Usage: cli_daemon_test.sh TAILOR TAILORD_SIMULATED
set -euo pipefail

tailor=${1:?usage: cli_daemon_test.sh TAILOR TAILORD_SIMULATED}
tailord=${2:?usage: cli_daemon_test.sh TAILOR TAILORD_SIMULATED}
work=$(mktemp -d)
source "$(dirname "${BASH_SOURCE[0]}")/cli_support.sh"

stop_daemon() {
  kill -"${1:-TERM}" "$daemon_pid" 2>/dev/null || true
  wait "$daemon_pid" 2>/dev/null || true
  daemon_pid=""
  # A sanitizer build (-DTAILOR_SANITIZE=ON) reports here.
  if grep -qE "Sanitizer|runtime error" "$work/daemon.err"; then fail "the daemon reported a sanitizer error"; fi
}
json_field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

cd "$work"
printf '{"rounds": 2, "steps_per_round": 10}\n' >small.json
printf '{"rounds": 3, "steps_per_round": 100000}\n' >long.json
printf '{"rounds": "two", "exam": {"smaples": 4}}\n' >invalid.json

# -- the happy path --
start_daemon --data-dir "$work/data" --simulate-step-ms 5
expect_status 0 "$tailor" ls
expect_output "no runs"
expect_status 0 "$tailor" submit small.json
id=$(cat "$work/out")
[[ $id =~ ^[0-9]{8}-[0-9]{6}-[0-9a-f]{4}$ ]] || fail "submit printed \`$id\`, not a run id"
expect_status 0 "$tailor" watch "$id"
expect_output "$id: finished"
expect_output "accuracy"
expect_status 0 "$tailor" results "$id"
expect_output "run $id: finished, 2 round(s)"
[[ $(grep -c '%' "$work/out") -eq 2 ]] || fail "the results table does not have 2 rounds"
expect_status 0 "$tailor" results "$id" --json
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert [x['round'] for x in r['rounds']]==[1,2]" "$work/out" ||
  fail "results --json is not the run's results.json"
expect_status 0 "$tailor" submit small.json --id named-run --watch
expect_output "named-run: finished"
expect_status 0 "$tailor" ls
expect_output "$id"
expect_output "named-run"
[[ $(grep -c finished "$work/out") -eq 2 ]] || fail "ls does not show both runs finished"

# -- cancel --
expect_status 0 "$tailor" submit long.json --id long-run
expect_status 0 "$tailor" cancel long-run
expect_output "cancelling long-run"
expect_status 1 "$tailor" watch long-run
expect_output "long-run: cancelled"
expect_status 1 "$tailor" cancel long-run
expect_output "already ended"

# -- errors a user can act on --
expect_status 1 "$tailor" submit invalid.json
expect_output "exam.smaples"
expect_output "rounds"
expect_status 2 "$tailor" submit missing.json
expect_status 1 "$tailor" submit small.json --id named-run
expect_output "already exists"
expect_status 1 "$tailor" submit small.json --id ../escape
expect_output "invalid run id"
expect_status 1 "$tailor" watch no-such-run
expect_output "no run with id"
expect_status 1 "$tailor" results long-run-nope
expect_status 2 "$tailor" ls --server not-a-url
expect_status 1 "$tailor" ls --server http://127.0.0.1:1
expect_output "connection refused"
stop_daemon

# -- the token --
expect_status 1 "$tailord" --data-dir "$work/public" --listen 0.0.0.0:0
expect_output "needs a bearer token"
printf 'short\n' >short.token
expect_status 2 "$tailord" --data-dir "$work/public" --listen 127.0.0.1:0 --token-file short.token
printf '0123456789abcdef0123456789abcdef\n' >daemon.token
start_daemon --data-dir "$work/tokened" --token-file daemon.token
expect_status 1 "$tailor" ls
expect_output "token"
expect_status 0 "$tailor" ls --token-file daemon.token
TAILOR_TOKEN=0123456789abcdef0123456789abcdef expect_status 0 "$tailor" ls
stop_daemon

# -- kill -9 at several points of a run, then restart: it resumes and finishes, every file whole --
data="$work/crash"
start_daemon --data-dir "$data" --simulate-step-ms 15
expect_status 0 "$tailor" submit small.json --id crash-run
printf '{"rounds": 5, "steps_per_round": 25}\n' >crash.json
expect_status 0 "$tailor" submit crash.json --id crash-run-2
for pause in 0.2 0.7 1.1 0.4 1.6; do
  sleep "$pause"
  stop_daemon KILL
  for file in "$data"/runs/*/state.json "$data"/runs/*/results.json; do
    [[ -f $file ]] || continue
    python3 -m json.tool "$file" >/dev/null || fail "$file is corrupt after kill -9"
  done
  start_daemon --data-dir "$data" --simulate-step-ms 15
done
expect_status 0 "$tailor" watch crash-run-2
expect_output "crash-run-2: finished"
expect_status 0 "$tailor" results crash-run-2 --json
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert [x['round'] for x in r['rounds']]==[1,2,3,4,5], r" \
  "$work/out" || fail "the resumed run's rounds are not 1..5, each once"
[[ $(wc -l <"$data/runs/crash-run-2/journal.jsonl") -eq 5 ]] || fail "the journal does not have 5 rounds"
curl --silent "$TAILOR_SERVER/v1/runs/crash-run-2" >"$work/run.json"
resumed=$(json_field "$work/run.json" "d['resumed']")
[[ $resumed -ge 1 ]] || fail "the run was never resumed (resumed: $resumed)"
expect_status 0 "$tailor" watch crash-run
expect_output "crash-run: finished"
stop_daemon
echo "ok (crash-run-2 resumed $resumed times)"
