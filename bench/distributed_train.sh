#!/usr/bin/env bash
# Training steps/s of two Gloo ranks against one process on the same global batch (6 examples, the tiny
# model of the distributed tests, one torch thread per rank so both sides use the machine's 2 cores at most).
# Uses the tests' rank helper: build it first (ninja -C build distributed_rank_helper).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
helper=${TAILOR_BUILD_DIR:-$root/build}/tests/distributed_rank_helper
steps=${STEPS:-300}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
[ -x "$helper" ] || { echo "no $helper: build distributed_rank_helper first" >&2; exit 1; }

calc() { awk "BEGIN { print $1 }"; }
seconds() { local t0 t1; t0=$(date +%s.%N); "$@"; t1=$(date +%s.%N); calc "$t1 - $t0"; }
one() { WORLD_SIZE=1 "$helper" "$out/one.txt" "$1" 2>/dev/null; }
two() {
  local port=$((30000 + RANDOM % 20000))
  WORLD_SIZE=2 RANK=1 MASTER_PORT=$port "$helper" "$out/b.txt" "$1" 2>/dev/null &
  WORLD_SIZE=2 RANK=0 MASTER_PORT=$port "$helper" "$out/a.txt" "$1" 2>/dev/null
  wait
}
# Per-step time: a run of $steps minus a run of 0 steps (process start, libtorch load, rendezvous), best of 3.
per_step() {
  local best=1000000 i full empty
  for i in 1 2 3; do
    full=$(seconds "$1" "$steps"); empty=$(seconds "$1" 0)
    best=$(calc "(($full - $empty) / $steps < $best) ? ($full - $empty) / $steps : $best")
  done
  echo "$best"
}
single=$(per_step one)
pair=$(per_step two)
single_rate=$(calc "1 / $single")
pair_rate=$(calc "1 / $pair")
ratio=$(calc "$pair_rate / $single_rate")
printf 'name  value  baseline  ratio\n'
printf 'train_steps_per_s_2_ranks  %.1f  %.1f  %.2f\n' "$pair_rate" "$single_rate" "$ratio"
mkdir -p "$root/bench/results"
printf '{"steps": %d, "one_process_steps_per_s": %.2f, "two_ranks_steps_per_s": %.2f, "ratio": %.3f}\n' \
  "$steps" "$single_rate" "$pair_rate" "$ratio" >"$root/bench/results/distributed_train.json"
