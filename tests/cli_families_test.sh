#!/usr/bin/env bash
# The students people bring, end to end: for each family tailor loads (tests/families/make_checkpoints.py
# writes tiny random ones as transformers saves them), `tailor model inspect` describes it, a micro `tailor run`
# trains one round from it, and the round's checkpoint keeps its family and tokenizer files and loads in
# transformers. A family tailor does not implement is refused naming the field.
# Usage: cli_families_test.sh TAILOR PYTHON [FAMILY...]
set -euo pipefail

tailor=$(realpath "${1:?usage: cli_families_test.sh PATH_TO_TAILOR PATH_TO_PYTHON [FAMILY...]}")
python=${2:?usage: cli_families_test.sh PATH_TO_TAILOR PATH_TO_PYTHON [FAMILY...]}
shift 2
families=("$@")
[[ ${#families[@]} -gt 0 ]] || families=(llama3 qwen2 qwen3 smollm tinyllama mistral)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
source "$here/cli_support.sh"
expect_timeout=300
export TAILOR_TEACHER_CACHE="$work/teacher-cache.sqlite"
export HF_HUB_OFFLINE=1 HF_HUB_DISABLE_PROGRESS_BARS=1 TRANSFORMERS_VERBOSITY=error

cd "$work"
"$python" "$here/families/make_checkpoints.py" students "${families[@]}" >make.log 2>&1 ||
  { cat make.log >&2; fail "the family checkpoints were not written"; }

declare -A kind=([llama3]="byte-level BPE" [qwen2]="byte-level BPE" [qwen3]="byte-level BPE"
                 [smollm]="byte-level BPE" [tinyllama]="sentencepiece" [mistral]="sentencepiece")
declare -A model_type=([llama3]=llama [qwen2]=qwen2 [qwen3]=qwen3 [smollm]=llama [tinyllama]=llama
                       [mistral]=mistral)

for family in "${families[@]}"; do
  dir=students/$family
  expect_status 0 "$tailor" model inspect "$dir"
  expect_output "family       ${model_type[$family]}"
  expect_output "tokenizer    ${kind[$family]}"
  expect_output "can train it"
  expect_status 0 "$tailor" model inspect "$dir" --json
  "$python" - "$dir" "$work/out" <<'PY' || fail "inspect --json of $dir"
import json, math, sys
from safetensors import safe_open
facts = json.load(open(sys.argv[2]))
config = json.load(open(f"{sys.argv[1]}/config.json"))
with safe_open(f"{sys.argv[1]}/model.safetensors", "pt") as f:
    n = sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys()
            if not (k == "lm_head.weight" and config.get("tie_word_embeddings")))
assert facts["parameters"] == n, (facts["parameters"], n)
assert facts["vocab_size"] == config["vocab_size"], facts
assert facts["full_fine_tune_bytes"]["weights_grads_adamw"] == 16 * n, facts
PY

  # One round of the loop from the checkpoint (the micro run's data, teacher and budget).
  "$python" - "$here/micro_run.json" "$dir" "run-$family.json" <<'PY'
import json, re, sys
text = re.sub(r"^\s*//.*$", "", open(sys.argv[1]).read(), flags=re.M)
config = json.loads(text)
config["student"] = {"checkpoint_dir": sys.argv[2], "max_seq_len": 256}
config["rounds"] = 1
config["steps_per_round"] = 4
json.dump(config, open(sys.argv[3], "w"), indent=2)
PY
  expect_status 0 "$tailor" run "run-$family.json" --out "run-$family"
  expect_output "held-out accuracy"
  ckpt=run-$family/checkpoints/round-1
  [[ -f $ckpt/config.json ]] || fail "$family: the round left no checkpoint"
  for file in tokenizer.json tokenizer_config.json generation_config.json tokenizer.model; do
    if [[ -f $dir/$file ]]; then
      cmp -s "$dir/$file" "$ckpt/$file" || fail "$family: $file was not carried over unchanged"
    fi
  done
  "$python" - "$dir" "$ckpt" <<'PY' || fail "$family: the trained checkpoint does not load in transformers"
import json, sys
import torch
from transformers import AutoModelForCausalLM
source, trained = sys.argv[1], sys.argv[2]
a, b = json.load(open(f"{source}/config.json")), json.load(open(f"{trained}/config.json"))
for key in ("model_type", "architectures", "vocab_size", "tie_word_embeddings"):
    assert a.get(key) == b.get(key), (key, a.get(key), b.get(key))
head_dim = lambda c: c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
assert head_dim(a) == head_dim(b), (head_dim(a), head_dim(b))
before = AutoModelForCausalLM.from_pretrained(source).eval()
after = AutoModelForCausalLM.from_pretrained(trained).eval()
ids = torch.tensor([[1, 5, 9, 14, 3, 7]])
with torch.no_grad():
    x, y = before(ids).logits, after(ids).logits
assert torch.isfinite(y).all()
# Four steps of training moved the weights: the checkpoint holds the trained student, not the source.
assert (x - y).abs().max() > 1e-4, (x - y).abs().max()
PY
  echo "ok: $family"
done

# A family tailor does not implement: refused by inspect and by run, naming the field.
mkdir -p gemma && cp students/${families[0]}/model.safetensors gemma/
cp students/${families[0]}/tokenizer.* gemma/ 2>/dev/null || true
echo '{"model_type": "gemma2", "architectures": ["Gemma2ForCausalLM"], "hidden_size": 64, "vocab_size": 420,
       "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128,
       "attn_logit_softcapping": 50.0}' >gemma/config.json
expect_status 1 "$tailor" model inspect gemma
expect_output "cannot train it: gemma/config.json: field \`"
expect_output "tailor takes llama"
echo ok: refusals
