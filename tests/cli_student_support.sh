# Helpers of the shell tests that train or merge adapters on a tiny Hugging Face student, sourced after
# cli_support.sh once `here` (tests/), `python` (the venv's) and `work` are set.
# shellcheck shell=bash

# Every model is a local directory; transformers and PEFT say nothing unless something fails.
export HF_HUB_OFFLINE=1 HF_HUB_DISABLE_PROGRESS_BARS=1 TRANSFORMERS_VERBOSITY=error PYTHONWARNINGS=ignore

# Writes DIR/qwen2: tests/families/make_checkpoints.py's tiny Qwen2 student (q/k/v biases, tied embeddings,
# tokenizer.json), its weights redrawn far from transformers' 0.02 init (random_weights.spread_weights, seed
# 1). With frozen embeddings that small, adapters could barely move the logits, and a comparison of logits
# would see little.
make_spread_student() {
  local dir=$1
  "$python" "$here/families/make_checkpoints.py" "$dir" qwen2 >"$work/make.log" 2>&1 ||
    { cat "$work/make.log" >&2; fail "the qwen2 checkpoint was not written"; }
  PYTHONPATH="$here/parity" "$python" - "$dir/qwen2" <<'PY' >"$work/spread.log" 2>&1 ||
import sys
import torch
from random_weights import spread_weights
from transformers import AutoModelForCausalLM

torch.manual_seed(1)
model = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32)
spread_weights(model, norm_std=0.1, weight_std=0.2)
model.save_pretrained(sys.argv[1])
PY
    { cat "$work/spread.log" >&2; fail "the qwen2 student's weights were not spread"; }
}

# Writes OUT: tests/micro_run.json with the JSON object OVERRIDES merged in (an object into an object key by
# key, anything else replacing what was there).
micro_run_config() {
  "$python" - "$here/micro_run.json" "$2" "$1" <<'PY' || fail "the run config $1 was not written"
import json, re, sys

def merged(base, overrides):
    out = dict(base)
    for key, value in overrides.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out

config = json.loads(re.sub(r"^\s*//.*$", "", open(sys.argv[1]).read(), flags=re.M))
json.dump(merged(config, json.loads(sys.argv[2])), open(sys.argv[3], "w"), indent=2)
PY
}
