#!/usr/bin/env bash
# tailord with the real training loop: a micro run (tiny student, CPU, built-in teacher) submitted with the
# CLI, the daemon killed with SIGKILL after its first round, restarted, and the run resumed to its end with
# every round once; then two micro runs at once on one device slot, both progressing to their end.
# Usage: cli_tailord_loop_test.sh TAILOR TAILORD
set -euo pipefail

tailor=${1:?usage: cli_tailord_loop_test.sh TAILOR TAILORD}
tailord=${2:?usage: cli_tailord_loop_test.sh TAILOR TAILORD}
work=$(mktemp -d)
source "$(dirname "${BASH_SOURCE[0]}")/cli_support.sh"

cd "$work"
cat >micro.json <<'JSON'
{"rounds": 3, "steps_per_round": 30, "device": "cpu", "threads": 1,
 "data": {"generated_train_size": 40, "generated_test_size": 10},
 "student": {"dim": 64, "layers": 2, "heads": 4, "kv_heads": 2},
 "exam": {"samples": 1, "questions": 10, "eval_questions": 10, "max_new_tokens": 32, "batch_size": 10},
 "teacher": {"chain_of_thought_samples": 1, "initial_questions": 10, "requests_per_round": 5},
 "optimizer": {"batch_size": 4, "warmup_steps": 2}}
JSON
start_daemon --data-dir "$work/data"
"$tailor" submit micro.json --id micro >"$work/out" 2>&1 || fail "submit failed"
journal="$work/data/runs/micro/journal.jsonl"
for _ in $(seq 1200); do
  [[ -f $journal && $(wc -l <"$journal") -ge 1 ]] && break
  sleep 0.1
done
[[ -f $journal ]] || fail "the run finished no round in 120 s"
kill -KILL "$daemon_pid"
wait "$daemon_pid" 2>/dev/null || true
python3 -m json.tool "$work/data/runs/micro/state.json" >/dev/null || fail "state.json is corrupt after kill -9"

start_daemon --data-dir "$work/data"
"$tailor" watch micro >"$work/out" 2>&1 || fail "the resumed run did not finish"
"$tailor" results micro --json >"$work/out" 2>&1 || fail "no results"
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert [x['round'] for x in r['rounds']]==[1,2,3], r" \
  "$work/out" || fail "the resumed run's rounds are not 1, 2, 3, each once"
curl --silent "$TAILOR_SERVER/v1/runs/micro" | grep -q '"resumed":1' || fail "the run was not resumed once"
stop_daemon_cleanly

# Two runs, one device slot: they take turns at each training step and exam chunk, so both advance together
# rather than one after the other.
start_daemon --data-dir "$work/data" --device-slots 1
sed 's/"rounds": 3/"rounds": 1/' micro.json >one-round.json
"$tailor" submit one-round.json --id first >"$work/out" 2>&1 || fail "submit first failed"
"$tailor" submit one-round.json --id second >"$work/out" 2>&1 || fail "submit second failed"
steps() { [[ -f $work/data/runs/$1/metrics.jsonl ]] && wc -l <"$work/data/runs/$1/metrics.jsonl" || echo 0; }
for _ in $(seq 1200); do
  [[ $(steps first) -ge 10 && $(steps second) -ge 10 ]] && break
  sleep 0.1
done
[[ $(steps first) -ge 10 && $(steps second) -ge 10 ]] || fail "the two runs did not both train 10 steps in 120 s"
for id in first second; do
  curl --silent "$TAILOR_SERVER/v1/runs/$id" | grep -q '"phase":"finished"' &&
    fail "$id finished before the other had trained 10 steps: the runs went one after the other"
done
curl --silent "$TAILOR_SERVER/metrics" | grep -q 'tailor_device_slots{device="cpu"} 1' || fail "/metrics shows no device turns"
watch_runs first second
stop_daemon_cleanly
echo ok
