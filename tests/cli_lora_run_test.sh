#!/usr/bin/env bash
# A micro `tailor run` with student.lora learns: on a tiny Qwen2 student, rank-8 adapters on every projection
# bring the loss of 100 steps down by a large factor, while the base weights of the round checkpoint stay the
# student's own and its adapters are trained (lora_B non-zero). A run from that checkpoint whose student.lora
# asks for other adapters goes on with the checkpoint's, and says so.
# Usage: cli_lora_run_test.sh TAILOR PYTHON
set -euo pipefail

tailor=$(realpath "${1:?usage: cli_lora_run_test.sh PATH_TO_TAILOR PATH_TO_PYTHON}")
python=${2:?usage: cli_lora_run_test.sh PATH_TO_TAILOR PATH_TO_PYTHON}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
source "$here/cli_support.sh"
source "$here/cli_student_support.sh"
export TAILOR_TEACHER_CACHE="$work/teacher-cache.sqlite"

cd "$work"
make_spread_student students

# The rationales of 8 questions (16 with 2 samples each) over 100 steps of 8: what adapters on a frozen random
# base can learn in seconds. Over seeds 1-3 the last steps' loss was 12-17 times below the first steps'
# (docs/experiments.md, "LoRA micro run"); 5 leaves a wide margin.
min_factor=5
micro_run_config run.json '{"student": {"checkpoint_dir": "students/qwen2", "max_seq_len": 256,
  "lora": {"rank": 8, "alpha": 16,
           "targets": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]}},
  "teacher": {"initial_questions": 8}, "optimizer": {"learning_rate": 0.02},
  "rounds": 1, "steps_per_round": 100, "seed": 1}'
expect_timeout=120 expect_status 0 "$tailor" run run.json --out lora-run
[[ -f lora-run/metrics.jsonl ]] || fail "the run wrote no metrics.jsonl"

"$python" - lora-run/metrics.jsonl "$min_factor" <<'PY' || fail "the LoRA run did not learn"
import json, sys
losses = [json.loads(line)["lm_loss"] for line in open(sys.argv[1]) if line.strip()]
assert len(losses) == 100, f"{len(losses)} steps in metrics.jsonl, expected 100"
first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
print(f"lm_loss: first 5 steps {first:.3f}, last 5 steps {last:.3f}, {first / last:.1f} times lower")
assert last * float(sys.argv[2]) <= first, f"the loss fell only {first / last:.2f} times, expected {sys.argv[2]}"
PY

round=lora-run/checkpoints/round-1
for file in model.safetensors adapter_config.json adapter_model.safetensors; do
  [[ -f $round/$file ]] || fail "$round lacks $file: $(ls "$round")"
done
"$python" - students/qwen2 "$round" <<'PY' || fail "the round checkpoint is not the base with trained adapters"
import sys
import torch
from safetensors.torch import load_file
student, round_dir = sys.argv[1:]
base, kept = load_file(f"{student}/model.safetensors"), load_file(f"{round_dir}/model.safetensors")
assert sorted(base) == sorted(kept), sorted(set(base) ^ set(kept))
moved = [name for name in base if not torch.equal(base[name], kept[name])]
assert not moved, f"base weights moved: {moved}"
adapters = load_file(f"{round_dir}/adapter_model.safetensors")
lora_b = {name: t for name, t in adapters.items() if ".lora_B." in name}
assert len(lora_b) == 2 * 7, f"{len(lora_b)} lora_B tensors, expected 7 projections x 2 layers"
zero = [name for name, t in lora_b.items() if not t.abs().max() > 0]
assert not zero, f"untrained adapters: {zero}"
print(f"{len(base)} base tensors as the student's, {len(lora_b)} lora_B tensors trained")
PY

# The round checkpoint as the student of a new run that asks for other adapters: the checkpoint's are kept.
micro_run_config from-round.json '{"student": {"checkpoint_dir": "'"$round"'", "max_seq_len": 256,
  "lora": {"rank": 4, "alpha": 8, "targets": ["q_proj", "v_proj"]}}, "rounds": 1, "steps_per_round": 2}'
expect_timeout=120 expect_status 0 "$tailor" run from-round.json --out from-round
expect_output "$round: the checkpoint's LoRA adapters (rank 8, alpha 16 on q_proj, k_proj, v_proj, o_proj, \
gate_proj, up_proj, down_proj) are kept; student.lora now asks for rank 4, alpha 8 on q_proj, v_proj"
grep -q '"r": 8' from-round/checkpoints/round-1/adapter_config.json ||
  fail "the new run did not keep the rank-8 adapters: $(cat from-round/checkpoints/round-1/adapter_config.json)"

echo "cli lora run tests passed"
