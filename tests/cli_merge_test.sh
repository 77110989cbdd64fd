#!/usr/bin/env bash
# `tailor model merge` end to end: a tiny Qwen2 student (q/k/v biases, tied embeddings, tokenizer.json) with a
# LoRA adapter PEFT trained on every projection, beside its base (as tailor's checkpoints hold it) or alone
# naming its base, and the round checkpoint of a micro `tailor run` with student.lora; each merged checkpoint
# loads in transformers with PEFT's base + adapter logits, and carries no adapter files. Bad inputs are refused
# naming what is wrong.
# Usage: cli_merge_test.sh TAILOR PYTHON
set -euo pipefail

tailor=$(realpath "${1:?usage: cli_merge_test.sh PATH_TO_TAILOR PATH_TO_PYTHON}")
python=${2:?usage: cli_merge_test.sh PATH_TO_TAILOR PATH_TO_PYTHON}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
source "$here/cli_support.sh"
source "$here/cli_student_support.sh"

cd "$work"
make_spread_student students

# An adapter PEFT trained (B non-zero) on the base: in `ckpt` beside the base, in `adapter_only` alone.
# expected.safetensors: PEFT's logits of base + adapter.
"$python" - students/qwen2 <<'PY' >peft.log 2>&1 || { cat peft.log >&2; fail "PEFT"; }
import json, os, shutil, sys
import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM

base_dir = os.path.abspath(sys.argv[1])
torch.manual_seed(1)
base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
shutil.copytree(base_dir, "ckpt")
model = get_peft_model(base, LoraConfig(
    r=4, lora_alpha=8, lora_dropout=0.1, init_lora_weights=False, task_type="CAUSAL_LM",
    target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]))
with torch.no_grad():
    for name, p in model.named_parameters():
        if ".lora_" in name:
            p.normal_(0.0, 0.2)
model.eval()
input_ids = torch.randint(0, base.config.vocab_size, (2, 11))
with torch.no_grad():
    adapted = model(input_ids).logits
    with model.disable_adapter():
        plain = model(input_ids).logits
assert (adapted - plain).abs().max() > 0.05, "the adapter barely changes the logits"
model.save_pretrained("ckpt")
model.save_pretrained("adapter_only")
config = json.load(open("adapter_only/adapter_config.json"))
assert config["base_model_name_or_path"] == base_dir, config["base_model_name_or_path"]
save_file({"input_ids": input_ids, "logits": adapted.contiguous()}, "expected.safetensors")
PY

check_merged() { # DIR: loads in transformers as PEFT's base + adapter, with the base's tokenizer, no adapter
  local dir=$1
  for file in config.json model.safetensors tokenizer.json tokenizer_config.json; do
    [[ -f $dir/$file ]] || fail "$dir lacks $file: $(ls "$dir")"
  done
  for file in adapter_config.json adapter_model.safetensors optimizer.pt trainer_state.json; do
    [[ ! -e $dir/$file ]] || fail "$dir holds $file"
  done
  cmp -s "$dir/tokenizer.json" students/qwen2/tokenizer.json || fail "$dir: tokenizer.json differs from the base's"
  "$python" - "$dir" <<'PY' || fail "$dir does not compute base + adapter in transformers"
import sys
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM
model, info = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32, output_loading_info=True)
for kind in ("missing_keys", "unexpected_keys", "mismatched_keys"):
    assert not info.get(kind), (kind, info[kind])
assert not any(".lora_" in name for name, _ in model.named_parameters())
expected = load_file("expected.safetensors")
with torch.no_grad():
    logits = model.eval()(expected["input_ids"]).logits
difference = (logits - expected["logits"]).abs().max().item()
print(f"{sys.argv[1]}: max |merged - PEFT base + adapter| = {difference:.3g}")
assert difference < 1e-4, difference
PY
}

# A checkpoint with its adapter beside the base.
expect_status 0 "$tailor" model merge ckpt --out merged
expect_output "merged the rank-4 adapters (alpha 8) on q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj"
check_merged merged
expect_status 0 "$tailor" generate --checkpoint merged --prompt "Tom has 3 apples" --greedy --max-new-tokens 4 \
  --device cpu
grep -q '^=== sample 1/1: ' out || fail "tailor does not decode with the merged checkpoint: $(cat out)"
# Merging again over the earlier result replaces it.
expect_status 0 "$tailor" model merge ckpt --out merged
check_merged merged

# An adapter directory alone, its base named by base_model_name_or_path.
expect_status 0 "$tailor" model merge adapter_only --out merged-from-adapter
check_merged merged-from-adapter

# A LoRA run's round checkpoint (tailor's own adapter files), merged: the same logits as PEFT's base + adapter.
export TAILOR_TEACHER_CACHE="$work/teacher-cache.sqlite"
micro_run_config run.json '{"student": {"checkpoint_dir": "students/qwen2", "max_seq_len": 256,
  "lora": {"rank": 4, "alpha": 8, "targets": ["q_proj", "v_proj", "down_proj"]}}, "rounds": 1, "steps_per_round": 4}'
expect_timeout=300 expect_status 0 "$tailor" run run.json --out lora-run
round=lora-run/checkpoints/round-1
[[ -f $round/adapter_config.json && -f $round/adapter_model.safetensors ]] || fail "$round has no adapter: $(ls "$round")"
expect_status 0 "$tailor" model merge "$round" --out merged-run
expect_output "merged the rank-4 adapters (alpha 8) on q_proj, v_proj, down_proj"
"$python" - students/qwen2 "$round" merged-run <<'PY' || fail "the merged round does not compute PEFT's base + adapter"
import sys
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM
base, round_dir, merged_dir = sys.argv[1:]
peft = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32), round_dir).eval()
merged = AutoModelForCausalLM.from_pretrained(merged_dir, dtype=torch.float32).eval()
plain = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32).eval()
input_ids = torch.randint(0, plain.config.vocab_size, (2, 9), generator=torch.Generator().manual_seed(0))
with torch.no_grad():
    want, got, before = peft(input_ids).logits, merged(input_ids).logits, plain(input_ids).logits
difference = (got - want).abs().max().item()
print(f"round-1 merged: max |merged - PEFT| = {difference:.3g}, the adapter moved logits by {(want - before).abs().max():.3g}")
assert difference < 1e-4, difference
assert (want - before).abs().max() > 0, "four steps left the adapter at zero"
PY

# Errors: a message that names what is wrong, exit 1 (2 for a bad command line), and nothing written.
expect_status 1 "$tailor" model merge students/qwen2 --out nowhere
expect_output "students/qwen2: no adapter_config.json"
expect_status 1 "$tailor" model merge missing-dir --out nowhere
expect_output "missing-dir does not exist"
expect_status 2 "$tailor" model merge ckpt --out ckpt
expect_output "another directory than ADAPTER_DIR"
expect_status 2 "$tailor" model merge ckpt
cp -r ckpt dora
"$python" -c 'import json; p = "dora/adapter_config.json"; c = json.load(open(p)); c["use_dora"] = True; json.dump(c, open(p, "w"))'
expect_status 1 "$tailor" model merge dora --out nowhere
expect_output "dora/adapter_config.json: \`use_dora\` is true"
cp -r adapter_only hub_adapter
"$python" -c 'import json; p = "hub_adapter/adapter_config.json"; c = json.load(open(p)); c["base_model_name_or_path"] = "Qwen/Qwen2-0.5B"; json.dump(c, open(p, "w"))'
expect_status 1 "$tailor" model merge hub_adapter --out nowhere
expect_output "\`Qwen/Qwen2-0.5B\` is not a local directory"
[[ ! -e nowhere ]] || fail "a refused merge wrote its output"
mkdir notes && echo "keep me" >notes/notes.txt
expect_status 1 "$tailor" model merge ckpt --out notes
expect_output "refusing to replace it"
[[ -f notes/notes.txt ]] || fail "a directory that is no checkpoint was replaced"

echo "cli merge tests passed"
