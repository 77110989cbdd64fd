#!/usr/bin/env bash
# The checks that need a CUDA GPU, in one go (CI has none; run this wherever a GPU is):
#   1. the [cuda] test cases of the torch suites (CPU vs GPU logits and losses, bf16 autocast training,
#      batched generation, resume onto the GPU) and the runtime's device detection;
#   2. a micro run of the real actors on the GPU, round and continuous mode;
#   3. the student benchmark with --device cuda (tailor vs PyTorch eager and transformers, bf16 autocast);
#   4. the embedded default on the GPU (`tailor run --device cuda`), its results table;
#   5. the exam benchmark on the GPU: continuous against static batches and transformers, at the student's
#      size and Qwen2.5-0.5B's (bf16 autocast; the goal there is 5x transformers at the 0.5B size);
#   6. a 7B-size student (Mistral-7B's published config, random weights) trained with LoRA r=16 and
#      activation checkpointing in bf16: peak GPU memory (nvidia-smi, sampled) and tokens/s; the goal is
#      that it fits in 80 GB and trains.
# Usage: bench/gpu_check.sh BUILD_DIR PYTHON [WORK_DIR]
#   BUILD_DIR holds tests/gpu_*_tests, apps/tailor and bench/student_bench; PYTHON has torch and transformers.
set -uo pipefail

build=$(realpath "${1:?usage: gpu_check.sh BUILD_DIR PYTHON [WORK_DIR]}")
python=${2:?usage: gpu_check.sh BUILD_DIR PYTHON [WORK_DIR]}
work=${3:-$(mktemp -d)}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$work"
failures=0

step() { echo; echo "== $* ($(date +%T))"; }
check() { # check NAME COMMAND...: runs it, counts a failure
  local name=$1
  shift
  if "$@"; then echo "-- $name: ok"; else echo "-- $name: FAILED (status $?)"; failures=$((failures + 1)); fi
}

step "1. [cuda] test cases"
nvidia-smi -L || echo "nvidia-smi cannot list a GPU"
for suite in gpu_model_tests gpu_train_tests gpu_generation_tests gpu_checkpoint_tests; do
  check "$suite [cuda]" "$build/tests/$suite" "[cuda]" --reporter compact
done
check "gpu_tests (device detection)" "$build/tests/gpu_tests" "~[parity]" --reporter compact

step "2. micro run on the GPU"
export TAILOR_TEACHER_CACHE="$work/teacher-cache.sqlite"
for mode in round continuous; do
  check "micro run, $mode mode" timeout 300 "$build/apps/tailor" run "$here/../tests/micro_run.json" \
    --device cuda --mode "$mode" --out "$work/micro-$mode" --quiet
done

step "3. student benchmark on the GPU"
check "student benchmark" "$python" "$here/student_bench.py" --binary "$build/bench/student_bench" \
  --device cuda --threads 1 --results "$work/student_bench_cuda.json"

step "4. the embedded default on the GPU"
check "embedded default, --device cuda" timeout "${GPU_CHECK_DEFAULT_TIMEOUT:-600}" \
  "$build/apps/tailor" run --device cuda --out "$work/default-gpu" --quiet

step "5. exam benchmark on the GPU"
check "exam benchmark" "$build/bench/exam_bench" --device cuda --scenarios student-size,qwen0.5b-size \
  --python "$python" --results "$work/exam_bench_cuda"

step "6. a 7B-size student with LoRA and activation checkpointing on the GPU"
peak_file="$work/train_7b_gpu_peak_mib"
echo 0 >"$peak_file"
( while sleep 0.5; do
    used=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0 2>/dev/null | head -1)
    [ -n "$used" ] && [ "$used" -gt "$(cat "$peak_file")" ] && echo "$used" >"$peak_file"
  done ) &
sampler=$!
check "7B LoRA + checkpointing step" timeout 900 "$build/bench/train_memory_bench" \
  --config "$here/configs/mistral-7b-v0.1.json" --device cuda --threads 8 --batch 4 --seq 512 --steps 3 \
  --lora-rank 16 --checkpointing >"$work/train_7b_gpu.json"
kill "$sampler" 2>/dev/null
cat "$work/train_7b_gpu.json"
echo "peak GPU memory used (nvidia-smi, MiB): $(cat "$peak_file")"

step "done: $failures failed"
exit $((failures > 0))
