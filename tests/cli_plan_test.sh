#!/usr/bin/env bash
# `tailor plan` end to end, and the check `tailor run` makes with it: the plan of a priced micro config (its
# table, totals and JSON), a run whose budget is below the plan's bound refused before it sends anything, the
# same run started with --over-budget-ok, and a missing or malformed config named as `tailor run` names it.
# The teacher is teacher-serve, logging each request, so that "sends nothing" is seen where it would arrive.
# Usage: cli_plan_test.sh TAILOR
set -euo pipefail

tailor=$(realpath "${1:?usage: cli_plan_test.sh PATH_TO_TAILOR}")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
source "$here/cli_support.sh"
expect_timeout=120
export TAILOR_TEACHER_CACHE="$work/teacher-cache.sqlite"
cd "$work"

# The chat completions teacher-serve has answered so far.
served() { grep -c 'chat/completions' server.err || true; }

expect_status 0 "$tailor" data generate arith --n 30 --seed 3 --max-operations 2 --out train.jsonl
expect_status 0 "$tailor" data generate arith --n 10 --seed 4 --max-operations 2 --split test --out test.jsonl
start_teacher_serve train.jsonl --verbose

# The micro run of tests/micro_run.json, one round, its teacher at teacher-serve with (steep) prices.
write_config() {
  local budget=$1
  cat >"$2" <<JSON
{
  "data": {"task": "arith", "train_file": "train.jsonl", "test_file": "test.jsonl"},
  "prompts": {"demos": "none"},
  "student": {"dim": 32, "layers": 1, "heads": 2, "kv_heads": 2, "vocab_size": 128, "max_seq_len": 256},
  "teacher": {"kind": "openai_compatible", "base_url": "$url", "model": "builtin", "api_key_env": "",
              "usd_per_million_prompt_tokens": 1000, "usd_per_million_completion_tokens": 1000,
              "budget_usd": $budget, "chain_of_thought_samples": 2, "initial_questions": 10,
              "sampling": {"max_tokens": 256}},
  "exam": {"samples": 2, "questions": 10, "max_new_tokens": 40, "eval_max_new_tokens": 40, "batch_size": 16},
  "optimizer": {"learning_rate": 0.003, "warmup_steps": 2, "batch_size": 8},
  "rounds": 1, "steps_per_round": 10, "mode": "round", "device": "cpu", "threads": 1
}
JSON
}

# 1. The plan: one row a round, the totals, the bounds against the budget; nothing is sent.
write_config 1000 roomy.json
expect_status 0 "$tailor" plan roomy.json
expect_output "round  *asks  *requests  *n  *prompt tok  *compl. tok  *USD"
expect_output "^    1  *chain_of_thought  *10  *2 "
expect_output "^total  *10 "
expect_output "estimated"
expect_output "completion tokens: n x teacher.sampling.max_tokens (256) a request"
expect_output "a round that asks about some of the 30 training questions"
expect_output 'of teacher.budget_usd \$1000\.0000: within the budget'
expect_status 0 "$tailor" plan roomy.json --json
python3 - "$work/out" <<'PY' || fail "the JSON plan does not add up"
import json, sys
p = json.load(open(sys.argv[1]))
[r] = p["rounds"]
assert r["round"] == 1 and r["asks"] == "chain_of_thought", r
assert r["requests"] == 10 and r["samples"] == 2, r
assert r["completion_tokens"] == 10 * 2 * 256, r
# The built-in prompts hold about a thousand characters: far more than 100 tokens, far fewer than 1000.
assert 100 * 10 < r["prompt_tokens"] < 1000 * 10, r
usd = (r["prompt_tokens"] + r["completion_tokens"]) * 1000 / 1e6
assert abs(r["usd"] - usd) < 1e-9 and abs(p["total"]["usd"] - usd) < 1e-9, (r, usd)
assert p["prompt_tokens_estimated"] is True and p["over_budget_usd"] is False, p
PY
# The ablation's plan on the embedded default asks random questions after round 1.
expect_status 0 "$tailor" plan --ablation
expect_output "^    2  *random_questions  *400 "
expect_output "no prices set"
[[ $(served) -eq 0 ]] || fail "tailor plan sent requests to the teacher"

# 2. A budget below the bound: the run refuses, says by how much and how out, and sends nothing.
write_config 1 tight.json
expect_status 0 "$tailor" plan tight.json
expect_output "OVER the budget"
expect_status 2 "$tailor" run tight.json --out refused
expect_output 'tailor run: the teacher may cost up to \$[0-9]'
expect_output 'more than teacher.budget_usd \$1\.0000'
expect_output "raise teacher.budget_usd"
expect_output "teacher.initial_questions, teacher.requests_per_round"
expect_output "pass --over-budget-ok"
[[ ! -e refused ]] || fail "the refused run wrote its run directory"
[[ $(served) -eq 0 ]] || fail "the refused run sent requests to the teacher"

# 3. With --over-budget-ok it runs; it sends no more than the plan said and spends less than its bound
# (teacher-serve counts a token every four characters; the budget, $6, sits between).
write_config 6 over.json
expect_status 0 "$tailor" plan over.json --json
cp out plan.json
expect_status 2 "$tailor" run over.json --out over
expect_status 0 "$tailor" run over.json --out over --over-budget-ok
expect_output "held-out accuracy"
sent=$(served)
[[ $sent -ge 1 ]] || fail "the run with --over-budget-ok sent nothing"
python3 - plan.json over/results.json "$sent" <<'PY' || fail "the run sent or spent more than its plan"
import json, sys
plan, results, sent = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3])
assert plan["over_budget_usd"] is True, plan
assert sent <= plan["total"]["requests"], (sent, plan["total"])
spent = sum(r["teacher_tokens"] for r in results["rounds"])
assert 0 < spent <= plan["total"]["prompt_tokens"] + plan["total"]["completion_tokens"], (spent, plan["total"])
PY

# 4. A missing or malformed config: the errors `tailor run` gives, and exit status 2.
for config in missing.json bad.json; do
  [[ $config == bad.json ]] && echo '{"teacher": {"initial_qestions": 3}, "rounds": "two"}' >bad.json
  expect_status 2 "$tailor" run "$config"
  sed 's/^tailor run: //' out >run.err
  expect_status 2 "$tailor" plan "$config"
  sed 's/^tailor plan: //' out >plan.err
  cmp -s run.err plan.err || fail "tailor plan $config said $(cat plan.err), tailor run $(cat run.err)"
done
expect_output "initial_qestions: unknown key"
echo "cli plan: all passed"
