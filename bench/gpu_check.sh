#!/usr/bin/env bash
# The checks that need a CUDA GPU, in one go (CI has none; run this wherever a GPU is):
#   1. the [cuda] test cases of the torch suites (CPU vs GPU logits and losses, bf16 autocast training,
#      batched generation, resume onto the GPU) and the runtime's device detection;
#   2. a micro run of the real actors on the GPU, round and continuous mode;
#   3. the student benchmark with --device cuda (tailor vs PyTorch eager and transformers, bf16 autocast);
#   4. the embedded default on the GPU (`tailor run --device cuda`), its results table;
#   5. the exam benchmark on the GPU: continuous against static batches and transformers, at the student's
#      size and Qwen2.5-0.5B's (bf16 autocast; the goal there is 5x transformers at the 0.5B size).
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

step "done: $failures failed"
exit $((failures > 0))
