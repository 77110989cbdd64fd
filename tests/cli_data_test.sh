#!/usr/bin/env bash
# `tailor data generate|check` end to end, on files the test writes itself. Usage: cli_data_test.sh TAILOR
set -euo pipefail

tailor=${1:?usage: cli_data_test.sh PATH_TO_TAILOR}
work=$(mktemp -d)
source "$(dirname "${BASH_SOURCE[0]}")/cli_support.sh"

cd "$work"

expect_status 0 "$tailor" data generate arith --n 300 --seed 1 --out train.jsonl
grep -q "wrote 300 train problems" out || fail "generate did not say what it wrote: $(cat out)"
grep -q "operations: 1: [0-9]* 2: [0-9]* 3: [0-9]* 4: [0-9]*" out || fail "generate did not print the mix: $(cat out)"
expect_status 0 "$tailor" data generate arith --n 100 --seed 1 --split test --out test.jsonl \
  --min-operations 1 --max-operations 3 --max-operand 5 --max-factor 3
[[ $(wc -l <train.jsonl) -eq 300 ]] || fail "train.jsonl has $(wc -l <train.jsonl) lines, expected 300"
[[ $(wc -l <test.jsonl) -eq 100 ]] || fail "test.jsonl has $(wc -l <test.jsonl) lines, expected 100"
if compgen -G '*.tmp-*' >/dev/null; then fail "a temporary file was left behind: $(ls)"; fi

for file in train.jsonl test.jsonl; do
  expect_status 0 "$tailor" data check "$file" --task arith
  grep -q "0 problems" out || fail "check of $file: $(cat out)"
  expect_status 0 "$tailor" data check "$file" --task gsm8k
done

# The splits share no question, even with the same seed.
questions() { grep -o '"question":"[^"]*"' "$1" | sort -u; }
shared=$(comm -12 <(questions train.jsonl) <(questions test.jsonl) | wc -l)
[[ $shared -eq 0 ]] || fail "train and test share $shared questions"

# Same seed, same bytes; another seed, another file.
expect_status 0 "$tailor" data generate arith --n 300 --seed 1 --out again.jsonl
cmp -s train.jsonl again.jsonl || fail "the same seed wrote a different file"
expect_status 0 "$tailor" data generate arith --n 300 --seed 2 --out other.jsonl
cmp -s train.jsonl other.jsonl && fail "seeds 1 and 2 wrote the same file"

# A bad line is found, named by file and line, and makes the check fail.
sed '7s/.*/{"question": not json/' train.jsonl >broken.jsonl
expect_status 1 "$tailor" data check broken.jsonl --task arith
grep -q "broken.jsonl:7:" out || fail "check did not point at broken.jsonl:7: $(cat out)"
grep -q "300 lines, 299 examples, 1 problem" out || fail "check summary: $(cat out)"

# A step whose arithmetic is wrong passes as gsm8k but not as arith.
sed '5s/"value":\([0-9]*\)}\]}$/"value":1\1}]}/' train.jsonl >wrong_step.jsonl
cmp -s train.jsonl wrong_step.jsonl && fail "could not corrupt a step in line 5"
expect_status 1 "$tailor" data check wrong_step.jsonl --task arith
grep -q "wrong_step.jsonl:5: steps\[" out || fail "check did not find the wrong step: $(cat out)"

# Usage errors exit 2 and say what is valid.
expect_status 2 "$tailor" data check train.jsonl --task nonsense
grep -q "gsm8k, svamp, multiarith, strategyqa, csqa, arith" out || fail "unknown task message: $(cat out)"
expect_status 2 "$tailor" data check missing.jsonl --task arith
expect_status 2 "$tailor" data generate arith --n 10 --out bad.jsonl --max-factor 1
expect_status 2 "$tailor" data generate gsm8k --n 10 --out bad.jsonl
[[ -e bad.jsonl ]] && fail "a refused generate wrote bad.jsonl"

# Options too narrow for the count: an error, and no file.
expect_status 1 "$tailor" data generate arith --n 50 --split test --out small.jsonl \
  --max-operations 1 --max-operand 1 --max-factor 2
[[ -e small.jsonl ]] && fail "a failed generate wrote small.jsonl"

echo "cli data tests passed"
