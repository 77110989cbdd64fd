#!/usr/bin/env bash
# The overlap of the continuous loop: the same work (model, data, rounds, seed) in round mode and in continuous
# mode, with the teacher behind `tailor teacher-serve` at 1-3 s per request and 8 requests in flight.
# Prints the wall time of each, their ratio, and the trainer's busy fraction (the optimizer steps' own time,
# from metrics.jsonl, over the wall time). Usage: bench/loop_overlap.sh [TAILOR] (default build/apps/tailor/tailor)
set -euo pipefail
tailor=$(realpath "${1:-build/apps/tailor/tailor}")
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"
"$tailor" data generate arith --n 400 --seed 3 --out train.jsonl --split train >/dev/null
"$tailor" data generate arith --n 100 --seed 3 --out test.jsonl --split test >/dev/null
"$tailor" teacher-serve --port 0 --data train.jsonl --latency-ms 2000 --latency-jitter-ms 1000 >server.out 2>/dev/null &
server=$!
for _ in $(seq 100); do [[ -s server.out ]] && break; sleep 0.1; done
url=$(head -n1 server.out)
run() { # mode -> wall seconds, busy fraction
  python3 - "$url" "$1" <<'PY'
import json, sys
c = {"data": {"task": "arith", "train_file": "train.jsonl", "test_file": "test.jsonl"},
     "prompts": {"demos": "none"},
     "student": {"dim": 64, "layers": 2, "heads": 2, "kv_heads": 2, "vocab_size": 192, "max_seq_len": 256},
     "teacher": {"kind": "openai_compatible", "base_url": sys.argv[1], "model": "builtin", "api_key_env": "",
                 "concurrency": 8, "initial_questions": 64, "requests_per_round": 32},
     "exam": {"samples": 2, "questions": 64, "max_new_tokens": 48, "eval_max_new_tokens": 48, "batch_size": 32},
     "optimizer": {"learning_rate": 0.003, "warmup_steps": 10, "batch_size": 8},
     "rounds": 3, "steps_per_round": 120, "checkpoint_every_steps": 40, "mode": sys.argv[2],
     "device": "cpu", "threads": 1, "seed": 5}
json.dump(c, open(sys.argv[2] + ".json", "w"))
PY
  local start=$(date +%s.%N)
  # A fresh cache for each mode: every request really waits (a shared one would answer the second run's
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
print(f"{end - start:.1f} {busy / (end - start):.3f}")
PY
}
read round_wall round_busy < <(run round)
read cont_wall cont_busy < <(run continuous)
printf '%-28s %10s %10s %8s\n' name value baseline ratio
printf '%-28s %10.1f %10.1f %8.3f\n' wall_seconds_continuous "$cont_wall" "$round_wall" "$(python3 -c "print($cont_wall/$round_wall)")"
printf '%-28s %10.3f %10.3f %8.3f\n' trainer_busy_continuous "$cont_busy" 0.9 "$(python3 -c "print($cont_busy/0.9)")"
printf '%-28s %10.3f %10.3f %8.3f\n' trainer_busy_round "$round_busy" 0.9 "$(python3 -c "print($round_busy/0.9)")"
printf '%-28s %10.3f %10.3f %8.3f\n' speedup_round_over_continuous "$(python3 -c "print($round_wall/$cont_wall)")" 2.5 "$(python3 -c "print($round_wall/$cont_wall/2.5)")"
