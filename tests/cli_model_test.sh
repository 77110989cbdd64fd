#!/usr/bin/env bash
# `tailor generate|eval` end to end on a tiny random checkpoint the test writes with transformers and
# sentencepiece. Usage: cli_model_test.sh TAILOR PYTHON
set -euo pipefail

tailor=$(realpath "${1:?usage: cli_model_test.sh PATH_TO_TAILOR PATH_TO_PYTHON}")
python=${2:?usage: cli_model_test.sh PATH_TO_TAILOR PATH_TO_PYTHON}
work=$(mktemp -d)
source "$(dirname "${BASH_SOURCE[0]}")/cli_support.sh"

cd "$work"

# A Hugging Face LLaMA directory with random weights and a SentencePiece model that keeps newlines, as the
# student's format needs them.
HF_HUB_DISABLE_PROGRESS_BARS=1 TRANSFORMERS_VERBOSITY=error "$python" - checkpoint <<'PY'
import io, sys
import sentencepiece as spm
import torch
from transformers import LlamaConfig, LlamaForCausalLM

out = sys.argv[1]
words = ("Question: Reasoning: Answer: Therefore, the answer is Tom has apples and buys more. "
         "How many does he have now? gives away eats each box holds").split()
lines = [" ".join(words[(i * 7 + j) % len(words)] for j in range(12)) + f" {i * 37 % 1000}.\nAnswer: {i}"
         for i in range(200)]
spm_model = io.BytesIO()
spm.SentencePieceTrainer.train(
    sentence_iterator=iter(lines), model_writer=spm_model, vocab_size=120, model_type="bpe",
    user_defined_symbols=["\n"], normalization_rule_name="identity", remove_extra_whitespaces=False,
    split_digits=True, unk_id=0, bos_id=1, eos_id=2, pad_id=-1, hard_vocab_limit=False, minloglevel=2)
vocab = spm.SentencePieceProcessor(model_proto=spm_model.getvalue()).get_piece_size()
torch.manual_seed(0)
config = LlamaConfig(vocab_size=vocab, hidden_size=64, intermediate_size=172, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                     bos_token_id=1, eos_token_id=2, tie_word_embeddings=False)
LlamaForCausalLM(config).save_pretrained(out)
with open(f"{out}/tokenizer.model", "wb") as f:
    f.write(spm_model.getvalue())
PY
[[ -f checkpoint/config.json && -f checkpoint/tokenizer.model ]] || fail "the test checkpoint was not written"

# generate: n samples, each with its header; the same seed gives the same samples.
expect_status 0 "$tailor" generate --checkpoint checkpoint --prompt "Question: Tom has 3 apples" --n 3 \
  --max-new-tokens 12 --seed 4 --top-k 50 --device cpu
[[ $(grep -c '^=== sample [1-3]/3: [0-9]* tokens, stopped at \(eos\|blank_line\|max_tokens\) ===$' out) -eq 3 ]] ||
  fail "generate did not print 3 samples: $(cat out)"
cp out first
expect_status 0 "$tailor" generate --checkpoint checkpoint --prompt "Question: Tom has 3 apples" --n 3 \
  --max-new-tokens 12 --seed 4 --top-k 50 --device cpu
cmp -s out first || fail "the same seed gave other samples"
expect_status 0 "$tailor" generate --checkpoint checkpoint --prompt "How many apples?" --task arith --greedy \
  --max-new-tokens 8
grep -q '^=== sample 1/1: ' out || fail "greedy generate: $(cat out)"

# eval: 5 questions graded, predictions written whole.
expect_status 0 "$tailor" data generate arith --n 5 --split test --out test.jsonl
expect_status 0 "$tailor" eval --checkpoint checkpoint --data test.jsonl --task arith --batch-size 2 \
  --max-new-tokens 24 --out predictions.json
grep -q '^accuracy [0-9.]* ([0-5]/5 questions)' out || fail "eval did not print its accuracy: $(cat out)"
grep -q 'eval: 5/5 questions' out || fail "eval printed no progress: $(cat out)"
"$python" - predictions.json <<'PY' || fail "predictions.json: $(head -c 2000 predictions.json)"
import json, sys
report = json.load(open(sys.argv[1]))
predictions = report["predictions"]
assert len(predictions) == 5, len(predictions)
assert 0.0 <= report["accuracy"] <= 1.0 and report["total"] == 5
assert report["correct"] == sum(p["correct"] for p in predictions)
for p in predictions:
    assert set(p) >= {"id", "question", "gold", "generated", "predicted", "correct"}, p
PY
if compgen -G '*.tmp-*' >/dev/null; then fail "a temporary file was left behind: $(ls)"; fi

# Errors: a message that names what is wrong, exit 1 (2 for a bad command line), and no crash.
expect_status 1 "$tailor" eval --checkpoint missing-checkpoint --data test.jsonl --task arith
grep -q "missing-checkpoint" out || fail "the missing checkpoint is not named: $(cat out)"
expect_status 1 "$tailor" generate --checkpoint missing-checkpoint --prompt hello
grep -q "missing-checkpoint" out || fail "the missing checkpoint is not named: $(cat out)"
expect_status 1 "$tailor" eval --checkpoint checkpoint --data missing.jsonl --task arith
grep -q "missing.jsonl" out || fail "the missing data file is not named: $(cat out)"
echo '{"question": oops' >broken.jsonl
expect_status 1 "$tailor" eval --checkpoint checkpoint --data broken.jsonl --task arith
grep -q "broken.jsonl:1" out || fail "the bad line is not named: $(cat out)"
expect_status 2 "$tailor" eval --checkpoint checkpoint --data test.jsonl --task nonsense
grep -q "gsm8k, svamp, multiarith, strategyqa, csqa, arith" out || fail "unknown task message: $(cat out)"
expect_status 2 "$tailor" eval --checkpoint checkpoint --data test.jsonl --task arith --device tpu
expect_status 1 "$tailor" eval --checkpoint checkpoint --data test.jsonl --task arith --out no-such-dir/p.json
grep -q "no-such-dir" out || fail "the unwritable output is not named: $(cat out)"
mkdir empty-checkpoint
expect_status 1 "$tailor" generate --checkpoint empty-checkpoint --prompt hello
grep -q "config.json" out || fail "an empty checkpoint directory: $(cat out)"

echo "cli model tests passed"
