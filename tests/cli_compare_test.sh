#!/usr/bin/env bash
# `tailor compare` end to end on the micro config: 2 seeds x 2 arms, statistics recomputed by hand from the
# per-question evaluation files, a compare killed with -9 that resumes only what is unfinished, bad input.
# Usage: cli_compare_test.sh TAILOR
set -euo pipefail

tailor=$(realpath "${1:?usage: cli_compare_test.sh PATH_TO_TAILOR}")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
source "$here/cli_support.sh"
expect_timeout=600
export TAILOR_TEACHER_CACHE="$work/teacher-cache.sqlite"
cd "$work"
cp "$here/micro_run.json" micro.json

# Bad input: clear errors, exit 2, nothing run.
expect_status 2 "$tailor" compare micro.json --seeds 1-x --out bad
expect_output "\-\-seeds: \`1-x\` is not a seed"
expect_status 2 "$tailor" compare micro.json --arms tailored,nonsense --out bad
expect_output "unknown arm \`nonsense\`"
expect_status 2 "$tailor" compare micro.json --arms tailored --out bad
expect_output "at least two arms"

# A compare killed with -9 while its second run trains: the first run stays finished, the second's child
# dies with it, and the same command finishes the rest.
"$tailor" compare micro.json --seeds 1-2 --arms tailored,random --out cmp >first.out 2>&1 &
compare_pid=$!
for _ in $(seq 1 600); do
  grep -q "random seed 1: running" first.out 2>/dev/null && break
  sleep 0.2
done
grep -q "tailored seed 1: done" first.out || fail "the first run did not finish: $(cat first.out)"
kill -KILL "$compare_pid"
wait "$compare_pid" 2>/dev/null || true
sleep 1
if pgrep -f "cmp/configs/random-seed1.json" >/dev/null; then
  fail "the killed compare left its run behind"
fi

expect_status 0 "$tailor" compare micro.json --seeds 1-2 --arms tailored,random --out cmp
expect_output "tailored seed 1: finished before"
expect_output "random seed 1: running"
expect_output "vs random, points"
expect_output "round 1: every seed's arms answered every question alike"
[[ -f cmp/compare.json ]] || fail "no compare.json"

# The statistics, recomputed from the written per-question results.
python3 - <<'PY' || fail "compare.json disagrees with the per-question results"
import json, math
report = json.load(open("cmp/compare.json"))
assert report["seeds"] == [1, 2] and report["baseline"] == "random", report
def evaluation(arm, seed, rnd):
    lines = [json.loads(l) for l in open(f"cmp/runs/{arm}-seed{seed}/evaluations/round_{rnd}.jsonl")]
    return {l["id"]: l["correct"] for l in lines}
for block in report["rounds"]:
    rnd = block["round"]
    diffs = []
    for seed in (1, 2):
        t, r = evaluation("tailored", seed, rnd), evaluation("random", seed, rnd)
        assert set(t) == set(r)
        results_t = json.load(open(f"cmp/runs/tailored-seed{seed}/results.json"))["rounds"][rnd - 1]
        # The run's accuracy is the fraction of its evaluation file's questions answered right.
        assert abs(results_t["accuracy"] - sum(t.values()) / len(t)) < 1e-12, (results_t["accuracy"], t)
        assert abs(block["arms"]["tailored"]["accuracy_by_seed"][str(seed)] - results_t["accuracy"]) < 1e-12
        diffs.append(sum(t.values()) / len(t) - sum(r.values()) / len(r))
    d = block["differences"]["tailored"]
    mean = sum(diffs) / 2
    se = math.sqrt(sum((x - mean) ** 2 for x in diffs) / 1 / 2)
    assert abs(d["mean"] - mean) < 1e-12, (d, diffs)
    assert abs(d["standard_error"] - se) < 1e-12, (d, se)
    assert d["low"] <= mean + 1e-12 and d["high"] >= mean - 1e-12, d
    assert d["clear"] == (d["low"] > 0 or d["high"] < 0), d
    if rnd == 1:
        assert diffs == [0.0, 0.0], diffs  # round 1 is shared by the arms of a seed
tokens = [sum(x["teacher_tokens"] for x in json.load(open(f"cmp/runs/tailored-seed{s}/results.json"))["rounds"])
          for s in (1, 2)]
last = report["rounds"][-1]["arms"]["tailored"]
assert abs(last["teacher_tokens"] - sum(tokens) / 2) < 1e-9, (last, tokens)
PY

# Everything finished: a second call runs nothing and prints the same table.
expect_status 0 "$tailor" compare micro.json --seeds 1-2 --arms tailored,random --out cmp
[[ $(grep -c "finished before" "$work/out") -eq 4 ]] || fail "a finished compare ran again"
echo "ok"
