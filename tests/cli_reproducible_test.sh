#!/usr/bin/env bash
# The same seed and config give the same run on one machine, alone or beside other work: a small continuous
# run alone, again with both cores kept busy by other processes, and again inside tailord beside a run with
# other threads and another seed, must write byte-equal round checkpoints and the same results.json (wall
# times aside).
# Usage: cli_reproducible_test.sh TAILOR TAILORD
set -euo pipefail

work=$(mktemp -d)
source "$(dirname "${BASH_SOURCE[0]}")/cli_support.sh"
tailor=$(realpath "${1:?usage: cli_reproducible_test.sh TAILOR TAILORD}")
tailord=$(realpath "${2:?usage: cli_reproducible_test.sh TAILOR TAILORD}")
expect_timeout=300 # seconds a run may take
export TAILOR_TEACHER_CACHE="$work/teacher-cache.sqlite"

hogs=()
stop_hogs() {
  # TERM, which `timeout` passes on to its busy loop (KILL would leave the loop running).
  for pid in "${hogs[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  hogs=()
}
trap 'stop_hogs; cleanup_work' EXIT

cd "$work"
# Large enough that the matrix products and the sampler's batches are real work (a few seconds a round),
# small enough for CI; continuous mode, so the exam, the teacher and the trainer run side by side.
cat >repro.json <<'JSON'
{
  "data": {"task": "arith", "generated_train_size": 300, "generated_test_size": 60, "arith_max_operations": 2},
  "prompts": {"demos": "none"},
  "student": {"dim": 96, "layers": 2, "heads": 4, "kv_heads": 4, "vocab_size": 256, "max_seq_len": 256},
  "teacher": {"kind": "builtin", "initial_questions": 100, "requests_per_round": 40},
  "exam": {"samples": 2, "questions": 60, "max_new_tokens": 60, "eval_max_new_tokens": 60, "batch_size": 32},
  "optimizer": {"learning_rate": 0.003, "warmup_steps": 5, "batch_size": 16},
  "rounds": 2, "steps_per_round": 40, "checkpoint_every_steps": 20, "mode": "continuous", "device": "cpu",
  "threads": 1
}
JSON

expect_status 0 "$tailor" run repro.json --out alone

# Two busy loops for the two cores (bounded: killed on exit, and by the test's own timeout).
for _ in 1 2; do
  timeout 600 bash -c 'while :; do :; done' &
  hogs+=($!)
done
expect_status 0 "$tailor" run repro.json --out loaded
stop_hogs

# In one daemon process beside another run, which trains with two threads and another seed at the same time
# (runs in one process share LibTorch's thread settings unless each actor pins its own).
sed 's/"threads": 1/"threads": 2, "seed": 11/' repro.json >neighbour.json
start_daemon --data-dir "$work/data"
# The neighbour starts second, so that its trainer sets its thread count after this run's trainer did.
"$tailor" submit repro.json --id same >"$work/out" 2>&1 || fail "submit same failed"
"$tailor" submit neighbour.json --id neighbour >"$work/out" 2>&1 || fail "submit neighbour failed"
watch_runs same neighbour
stop_daemon_cleanly

same_as_alone() {
  local dir=$1 what=$2
  for round in 1 2; do
    cmp -s "alone/checkpoints/round-$round/model.safetensors" "$dir/checkpoints/round-$round/model.safetensors" ||
      fail "round $round's weights differ between the run alone and the run $what"
  done
  python3 - "$dir" <<'PY' || fail "results.json differs between the run alone and the run $what"
import json, sys
def without_times(path):
    r = json.load(open(path))
    for key in ("run_id",):
        r.pop(key, None)
    for x in r["rounds"]:
        x.pop("wall_seconds", None)
        x.pop("checkpoint", None)
    return r
a, b = without_times("alone/results.json"), without_times(sys.argv[1] + "/results.json")
assert a == b, (a, b)
PY
}
same_as_alone loaded "beside two busy processes"
same_as_alone data/runs/same "in tailord beside another run"
echo "reproducible: round checkpoints and results.json equal alone, under load and beside another run"
