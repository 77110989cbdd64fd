#!/usr/bin/env bash
# The overlap of the continuous loop: the same work (model, data, rounds, seed) in round mode and in continuous
# mode, with the teacher behind `tailor teacher-serve` at 1-3 s per request and 8 requests in flight.
# Prints the wall time of each, their ratio, and the trainer's busy fraction (the optimizer steps' own time,
# from metrics.jsonl, over the wall time). Continuous mode runs once per exam lead in LEADS (checkpoints
# before a round's end at which the next round's exam starts; 0: when the round ends).
# Usage: bench/loop_overlap.sh [TAILOR] (default build/apps/tailor/tailor)
# Workload, from the environment: WORKLOAD=even (default: a round's exam, its teacher work and its training
# each ~15 s, six rounds, round 1 spread: reflection.spread_first_pass), WORKLOAD=teacher (the teacher's part
# of a round is most of it), WORKLOAD=balanced (training as long as a round's teacher work) or
# WORKLOAD=pipeline (like even, with shorter stages and four rounds); LEADS (default "1 2"); WAITS (default
# "false true"): continuous mode's `wait_for_corrections` for each lead (false: a round trains from the moment
# it opens, lines named ..._leadN; true, the default of a run config: it trains once its exam is graded and
# answered, lines named ..._leadN_wait).
set -euo pipefail
tailor=$(realpath "${1:-build/apps/tailor/tailor}")
workload=${WORKLOAD:-even}
leads=${LEADS:-1 2}
waits=${WAITS:-false true}
work=$(mktemp -d)
[[ -z ${KEEP:-} ]] || echo "runs kept in $work" >&2
trap 'kill $server 2>/dev/null || true; [[ -n ${KEEP:-} ]] || rm -rf "$work"' EXIT
cd "$work"
"$tailor" data generate arith --n 400 --seed 3 --out train.jsonl --split train >/dev/null
"$tailor" data generate arith --n 100 --seed 3 --out test.jsonl --split test >/dev/null
"$tailor" teacher-serve --port 0 --data train.jsonl --latency-ms 2000 --latency-jitter-ms 1000 >server.out 2>/dev/null &
server=$!
for _ in $(seq 100); do [[ -s server.out ]] && break; sleep 0.1; done
url=$(head -n1 server.out)
run() { # name mode exam_lead wait_for_corrections -> wall seconds, busy fraction, last round's accuracy
  python3 - "$url" "$1" "$2" "$3" "$workload" "$4" <<'PY'
import json, sys
url, name, mode, lead, workload = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
wait = sys.argv[6] == "true"
# teacher: 64 chain-of-thought requests (~16 s at 8 in flight), then 32 a round (~8 s) against 120 steps (~6 s).
# balanced: 64 and 64 a round (~16 s) against 400 steps (~20 s), four rounds.
# pipeline: an exam of every training question, 8 samples of up to 128 tokens (~10 s), 48 requests (~12 s)
# and 200 steps (~11 s) a round, four rounds; round 1 asks for 48 rationales too, and trains while they are
# written.
# even: the stages of a round as long as each other on a 2-core CPU (step ~30 ms): an exam of every training
# question, 16 samples of up to 128 tokens (~16 s), 64 requests (~16 s) and 450 steps (~14 s), six rounds
# (round 1, with no exam, is the one that cannot overlap three ways; more rounds weigh it less).
shape = {"teacher": dict(initial=64, requests=32, exam=64, samples=2, tokens=48, rounds=3, steps=120, every=40,
                        spread=False),
         "balanced": dict(initial=64, requests=64, exam=96, samples=2, tokens=48, rounds=4, steps=400, every=100,
                         spread=False),
         "pipeline": dict(initial=48, requests=48, exam=400, samples=8, tokens=128, rounds=4, steps=200, every=50,
                          spread=True),
         "even": dict(initial=48, requests=64, exam=400, samples=16, tokens=128, rounds=6, steps=450, every=50,
                      spread=True)}[workload]
c = {"data": {"task": "arith", "train_file": "train.jsonl", "test_file": "test.jsonl"},
     "prompts": {"demos": "none"},
     "student": {"dim": 64, "layers": 2, "heads": 2, "kv_heads": 2, "vocab_size": 192, "max_seq_len": 256},
     "teacher": {"kind": "openai_compatible", "base_url": url, "model": "builtin", "api_key_env": "",
                 "concurrency": 8, "initial_questions": shape["initial"], "requests_per_round": shape["requests"]},
     "exam": {"samples": shape["samples"], "questions": shape["exam"], "max_new_tokens": shape["tokens"],
              "eval_max_new_tokens": 48, "batch_size": 32},
     "reflection": {"spread_first_pass": shape["spread"]},
     "optimizer": {"learning_rate": 0.003, "warmup_steps": 10, "batch_size": 8},
     "rounds": shape["rounds"], "steps_per_round": shape["steps"], "checkpoint_every_steps": shape["every"],
     "mode": mode, "max_staleness": max(1, lead), "exam_lead_checkpoints": lead, "wait_for_corrections": wait,
     "device": "cpu", "threads": 1, "seed": 5}
json.dump(c, open(name + ".json", "w"))
PY
  local start=$(date +%s.%N)
  # A fresh cache for each run: every request really waits (a shared one would answer the second run's
  # round 1 from the first run's).
  TAILOR_TEACHER_CACHE="$work/cache-$1.sqlite" "$tailor" run "$1.json" --out "$1" --quiet >/dev/null 2>&1
  local end=$(date +%s.%N)
  python3 - "$1" "$start" "$end" <<'PY'
import json, sys
d, start, end = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
m = [json.loads(l) for l in open(d + "/metrics.jsonl")]
# A step's own time: the gap to the step before, unless the trainer was waiting (gaps over 5x the median).
gaps = sorted(b["seconds"] - a["seconds"] for a, b in zip(m, m[1:]))
median = gaps[len(gaps) // 2]
busy = sum(g for g in gaps if g < 5 * median) + median
r = json.load(open(d + "/results.json"))["rounds"]
print(f"{end - start:.1f} {busy / (end - start):.3f} {100 * r[-1]['accuracy']:.1f}")
PY
}
ratio() { python3 -c "print($1 / $2)"; }
read round_wall round_busy round_acc < <(run round round 0 true)
echo "workload $workload"
printf '%-40s %10s %10s %8s\n' name value baseline ratio
printf '%-40s %10.1f %10s %8s\n' wall_seconds_round "$round_wall" - -
printf '%-40s %10.3f %10.3f %8.3f\n' trainer_busy_round "$round_busy" 0.9 "$(ratio "$round_busy" 0.9)"
printf '%-40s %10.1f %10s %8s\n' accuracy_last_round_round "$round_acc" - -
for wait in $waits; do for lead in $leads; do
  suffix=lead$lead; [[ $wait == true ]] && suffix=${suffix}_wait
  read wall busy acc < <(run "continuous-$suffix" continuous "$lead" "$wait")
  printf '%-40s %10.1f %10.1f %8.3f\n' "wall_seconds_continuous_$suffix" "$wall" "$round_wall" "$(ratio "$wall" "$round_wall")"
  printf '%-40s %10.3f %10.3f %8.3f\n' "trainer_busy_continuous_$suffix" "$busy" 0.9 "$(ratio "$busy" 0.9)"
  printf '%-40s %10.3f %10.3f %8.3f\n' "speedup_round_over_continuous_$suffix" "$(ratio "$round_wall" "$wall")" 2.5 \
    "$(ratio "$round_wall" "$wall" | xargs -I{} python3 -c "print({} / 2.5)")"
  printf '%-40s %10.1f %10s %8s\n' "accuracy_last_round_$suffix" "$acc" - -
done; done
