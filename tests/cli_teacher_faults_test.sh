#!/usr/bin/env bash
# The teacher on a bad day, end to end: `tailor run` on GSM8K-format files against `tailor teacher-serve`
# injecting faults (429 with Retry-After, 500, stalls past the request timeout, truncated bodies). Runs finish
# and count what failed; the budget holds; a run killed with -9 pays again at most what was in flight; an
# endpoint that fails systematically (401, 404, most requests) stops the run within seconds, saying what to fix.
# Usage: cli_teacher_faults_test.sh TAILOR [RUNS]   (RUNS: how many faulty runs in a row, default 10)
set -euo pipefail

tailor=$(realpath "${1:?usage: cli_teacher_faults_test.sh PATH_TO_TAILOR [RUNS]}")
runs=${2:-10}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
source "$here/cli_support.sh"
expect_timeout=180
cd "$work"

# GSM8K-format files ("question", "answer" ending in "#### N") that the built-in teacher behind teacher-serve
# can answer.
"$tailor" data generate arith --n 60 --seed 5 --max-operations 2 --out train.jsonl >/dev/null ||
  fail "data generate failed"
"$tailor" data generate arith --n 20 --seed 6 --max-operations 2 --out test.jsonl >/dev/null ||
  fail "data generate failed"
grep -q '####' train.jsonl || fail "the generated data is not in GSM8K format"

# Stops teacher-serve; sets `completions` to how many it answered (its own accounting, in its summary).
stop_teacher_serve() {
  kill -TERM "$server_pid"
  wait "$server_pid" || true
  server_pid=""
  completions=$(grep -o '[0-9]* completions' server.err | cut -d' ' -f1)
  [[ -n $completions ]] || fail "teacher-serve printed no summary"
}

# A micro config against $url; extra teacher keys as a JSON object in $1.
write_config() {
  local extra=${1:-'{}'}
  python3 - "$url" "$extra" <<'PY'
import json, sys
c = json.load(open("micro.json"))
c["data"].update({"task": "gsm8k", "train_file": "train.jsonl", "test_file": "test.jsonl"})
c["teacher"].update({"kind": "openai_compatible", "base_url": sys.argv[1], "model": "builtin", "api_key_env": "",
                     "request_timeout_ms": 1000, "failed_request_retry_ms": 300, "concurrency": 4})
c["teacher"].update(json.loads(sys.argv[2]))
json.dump(c, open("faulty.json", "w"))
PY
}
grep -v '^ *//' "$here/micro_run.json" >micro.json

# One run, in directory $1 with its own answer cache, against teacher-serve faulting 30% of the requests
# (seed $2), with the extra teacher keys $3; it must finish. The server's summary is in server.err after.
run_against_faults() {
  export TAILOR_TEACHER_CACHE="$work/cache-$1.sqlite"
  start_teacher_serve train.jsonl --fault-rate 0.3 --stall-ms 3000 --seed "$2"
  write_config "${3:-}"
  expect_status 0 "$tailor" run faulty.json --out "$1"
  stop_teacher_serve
}

# 1. 30% faults, a quarter of them stalls past the 1 s request timeout: every run finishes, round after round.
for i in $(seq "$runs"); do
  run_against_faults "faulty-$i" "$i"
  grep -Eq "[1-9][0-9]* injected faults" server.err || fail "run $i: the server injected no fault"
  python3 - "faulty-$i" "$completions" <<'PY' || fail "run $i's results"
import json, sys
r = json.load(open(sys.argv[1] + "/results.json"))
assert r["finished"] is True and len(r["rounds"]) == 2, r
for x in r["rounds"]:
    assert x["teacher_requests"] > 0 and x["teacher_rationales"] > 0, x
    assert "teacher_failed" in x and "teacher_replies" in x, x
    assert 0 < x["teacher_replies_kept"] <= x["teacher_replies"], x
# Each reply the run read was one completion the server answered (none was paid twice).
assert sum(x["teacher_replies"] for x in r["rounds"]) <= 2 * int(sys.argv[2]), (r["rounds"], sys.argv[2])
print(f"faulty run {sys.argv[1][7:]}: finished; {sum(x['teacher_requests'] for x in r['rounds'])} requests, "
      f"{sum(x['teacher_failed'] for x in r['rounds'])} failed after all tries")
PY
  grep -o '[0-9]* injected faults' server.err
done
expect_output "teacher replies kept:"

# 2. Failed requests are counted, asked again once, and the run goes on: no retries, faults on a third of the
# tries, and a failure share the run may bear.
run_against_faults counted 42 '{"max_retries": 0, "max_failed_share": 1.0}'
expect_output "asking again later"
python3 - <<'PY' || fail "the failed requests were not counted"
import json
r = json.load(open("counted/results.json"))
assert r["finished"] is True, r
assert sum(x["teacher_failed"] for x in r["rounds"]) > 0, r["rounds"]
PY
grep -E "^ +1 " "$work/out" | head -n1 | grep -Eq " [1-9][0-9]* +[0-9]+% " ||
  fail "the results table shows no failed requests and kept share"

# 3. The budget holds under faults: each request reserves its bound (prompt + max_tokens x n) before it leaves,
# so the spend stops short of the cap, never past it.
run_against_faults budget 7 '{"budget_tokens": 3000}'
expect_output "teacher budget exhausted"
python3 - <<'PY' || fail "the budget was exceeded"
import json
r = json.load(open("budget/results.json"))
spent = sum(x["teacher_tokens"] for x in r["rounds"])
assert 1000 < spent <= 3000, spent
print(f"budget of 3000 tokens under faults: spent {spent}")
PY

# 4. kill -9 in the middle of round 1, then the same command again: the resumed run asks only what was never
# answered, so the two together pay at most the requests in flight (4) more than one uninterrupted run.
export TAILOR_TEACHER_CACHE="$work/cache-clean.sqlite"
start_teacher_serve train.jsonl --latency-ms 150
write_config
expect_status 0 "$tailor" run faulty.json --out clean
stop_teacher_serve
clean=$completions
export TAILOR_TEACHER_CACHE="$work/cache-killed.sqlite"
start_teacher_serve train.jsonl --latency-ms 150 --verbose
write_config
"$tailor" run faulty.json --out killed >killed.log 2>&1 &
pid=$!
for _ in $(seq 300); do
  [[ $(grep -c -- '-> 200' server.err || true) -ge 12 ]] && break
  sleep 0.05
done
kill -9 $pid
wait $pid 2>/dev/null || true
[[ ! -s killed/journal.jsonl ]] || fail "the run finished a round before it was killed; kill it earlier"
expect_status 0 "$tailor" run faulty.json --out killed
stop_teacher_serve
paid=$completions
python3 -c 'import sys; clean, paid = int(sys.argv[1]), int(sys.argv[2]); sys.exit(0 if clean <= paid <= clean + 4 else 1)' \
  "$clean" "$paid" || fail "killed and resumed, the run paid $paid completions against $clean uninterrupted"
echo "kill -9 and resume: $paid completions paid against $clean uninterrupted"

# 5. Systematic failures stop the run within seconds, with what to fix.
export TAILOR_TEACHER_CACHE="$work/cache-systematic.sqlite"
export TAILOR_TEST_FAULTS_KEY=sk-faults-test
start_teacher_serve train.jsonl --api-key-env TAILOR_TEST_FAULTS_KEY
write_config '{"api_key_env": "TAILOR_TEST_NO_SUCH_KEY"}'
expect_timeout=30 expect_status 1 "$tailor" run faulty.json --out unauthorized
expect_output "HTTP 401"
expect_output "check the API key"
write_config '{"api_key_env": ""}'
sed -i "s#$url#${url%/v1}/v9#" faulty.json
expect_timeout=30 expect_status 1 "$tailor" run faulty.json --out not-found
expect_output "HTTP 404"
expect_output "check teacher.base_url and teacher.model"
stop_teacher_serve
# Most requests failing (90% faults, no retries) is systematic too.
start_teacher_serve train.jsonl --fault-rate 0.9 --seed 3
write_config '{"max_retries": 0}'
expect_timeout=60 expect_status 1 "$tailor" run faulty.json --out broken
expect_output "more than teacher.max_failed_share (20%) allows"
stop_teacher_serve

# 6. Several teachers: the `teacher` section's endpoint fails every request (no retries); the one named
# `spare` answers the mistakes (its route) and takes over what the first one fails (the fallback).
export TAILOR_TEACHER_CACHE="$work/cache-several.sqlite"
"$tailor" teacher-serve --port 0 --data train.jsonl >spare.out 2>spare.err &
spare_pid=$!
for _ in $(seq 100); do [[ -s spare.out ]] && break; sleep 0.1; done
spare_url=$(head -n1 spare.out)
[[ $spare_url =~ ^http:// ]] || { kill $spare_pid; fail "the spare teacher-serve printed no URL"; }
start_teacher_serve train.jsonl --fault-rate 1.0 --seed 5
write_config '{"max_retries": 0, "feedback_teacher": "spare", "fallback_teacher": "spare"}'
python3 - "$spare_url" <<'PY'
import json, sys
c = json.load(open("faulty.json"))
c["teachers"] = {"spare": {"kind": "openai_compatible", "base_url": sys.argv[1], "model": "builtin", "api_key_env": "",
                           "request_timeout_ms": 1000}}
json.dump(c, open("faulty.json", "w"))
PY
expect_status 0 "$tailor" run faulty.json --out several
stop_teacher_serve
kill -TERM $spare_pid
wait $spare_pid || true
expect_output "teacher spare: "
python3 - <<'PY' || fail "the requests did not go where the routes say"
import json
r = json.load(open("several/results.json"))
assert r["finished"] is True, r
first, second = r["rounds"]
assert first["teachers"]["spare"]["requests"] == first["teacher_requests"] > 0, first   # all taken over
assert first["teacher_failed"] == 0, first
assert "teacher" not in second["teachers"] and second["teachers"]["spare"]["requests"] > 0, second  # routed
PY
echo "several teachers: the fallback took round 1's $(python3 -c 'import json; print(json.load(open("several/results.json"))["rounds"][0]["teacher_requests"])') requests; round 2 went to its route"

# 7. Work that can wait, through the Batch API (round mode: every request can wait): at the batch price, no
# chat completion at all; killed while round 1's batch runs, the resumed run polls that batch again instead
# of paying for a second one.
prices='"usd_per_million_prompt_tokens": 1.0, "usd_per_million_completion_tokens": 2.0'
export TAILOR_TEACHER_CACHE="$work/cache-chat.sqlite"
start_teacher_serve train.jsonl
write_config "{$prices}"
expect_status 0 "$tailor" run faulty.json --out chat
stop_teacher_serve
chat_completions=$completions
export TAILOR_TEACHER_CACHE="$work/cache-batch.sqlite"
start_teacher_serve train.jsonl --batch-delay-ms 300
write_config "{$prices, \"batch\": true, \"batch_flush_ms\": 200, \"batch_poll_ms\": 100}"
expect_status 0 "$tailor" run faulty.json --out batch
stop_teacher_serve
batches=$(grep -o '[0-9]* batches)' server.err | cut -d' ' -f1)
[[ $completions == 0 && $batches -ge 2 ]] || fail "the batch run made $completions chat completions and $batches batches"
python3 - "$chat_completions" "$batches" <<'PY' || fail "the batch path did not cost half of the chat path"
import json, sys
chat = json.load(open("chat/results.json"))["rounds"]
batch = json.load(open("batch/results.json"))["rounds"]
for c, b in zip(chat, batch):
    assert c["teacher_requests"] == b["teacher_requests"], (c, b)
    assert abs(b["teacher_cost_usd"] - 0.5 * c["teacher_cost_usd"]) <= 1e-9 + 0.01 * c["teacher_cost_usd"], (c, b)
print(f"batch path: round 1 {batch[0]['teacher_requests']} requests in batches ({sys.argv[2]} batches over the run) "
      f"for ${batch[0]['teacher_cost_usd']:.6f}; chat path: {chat[0]['teacher_requests']} requests "
      f"({sys.argv[1]} completions over the run) for ${chat[0]['teacher_cost_usd']:.6f}")
PY
export TAILOR_TEACHER_CACHE="$work/cache-batch-killed.sqlite"
start_teacher_serve train.jsonl --batch-delay-ms 4000 --verbose
write_config "{$prices, \"batch\": true, \"batch_flush_ms\": 200, \"batch_poll_ms\": 100}"
"$tailor" run faulty.json --out batch-killed >batch-killed.log 2>&1 &
pid=$!
for _ in $(seq 200); do
  grep -q 'POST /v1/batches -> 200' server.err && break
  sleep 0.05
done
grep -q 'POST /v1/batches -> 200' server.err || { kill -9 $pid; fail "round 1's batch was never created"; }
sleep 0.3
kill -9 $pid
wait $pid 2>/dev/null || true
[[ -s batch-killed/teacher_batches.jsonl ]] || fail "the batch was not journaled before polling"
expect_status 0 "$tailor" run faulty.json --out batch-killed
stop_teacher_serve
killed_batches=$(grep -o '[0-9]* batches)' server.err | cut -d' ' -f1)
[[ $killed_batches == "$batches" ]] ||
  fail "killed during round 1's batch and resumed, the run created $killed_batches batches against $batches"
echo "batch path, kill -9 during round 1's batch and resume: $killed_batches batches, as uninterrupted"

echo "cli teacher faults: all checks passed"
