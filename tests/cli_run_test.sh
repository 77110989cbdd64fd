#!/usr/bin/env bash
# `tailor run` end to end with a micro config: the real actors in round and continuous mode, the ablation,
# resume after a crash (kill -9), two data-parallel ranks (one killed), and the clear failures (bad config, unreachable teacher, broken student).
# Usage: cli_run_test.sh TAILOR
set -euo pipefail

tailor=$(realpath "${1:?usage: cli_run_test.sh PATH_TO_TAILOR}")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
source "$here/cli_support.sh"
expect_timeout=120
export TAILOR_TEACHER_CACHE="$work/teacher-cache.sqlite"

# results.json: N rounds, each accuracy a fraction, rounds numbered 1..N, the given mode and strategy.
check_results() {
  local dir=$1 rounds=$2 mode=$3 strategy=$4
  python3 - "$dir" "$rounds" "$mode" "$strategy" <<'PY' || fail "results of $1"
import json, os, sys
d, n, mode, strategy = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
r = json.load(open(os.path.join(d, "results.json")))
assert r["finished"] is True, r
assert r["mode"] == mode and r["strategy"] == strategy, (r["mode"], r["strategy"])
assert [x["round"] for x in r["rounds"]] == list(range(1, n + 1)), r["rounds"]
for x in r["rounds"]:
    assert 0.0 <= x["accuracy"] <= 1.0, x
    assert x["steps"] > 0, x
    # Every round asks the teacher, in continuous mode too: a round ends only once its teacher work is answered.
    assert x["teacher_requests"] > 0, x
    assert os.path.isfile(os.path.join(x["checkpoint"], "config.json")), x["checkpoint"]
    assert os.path.isfile(os.path.join(x["checkpoint"], "pools.json")), x["checkpoint"]
journal = [json.loads(l) for l in open(os.path.join(d, "journal.jsonl")) if l.strip()]
assert [x["round"] for x in journal] == list(range(1, n + 1)), journal
if n > 1:
    assert sum(x["teacher_requests"] for x in r["rounds"][1:]) > 0, r["rounds"]
metrics = [json.loads(l) for l in open(os.path.join(d, "metrics.jsonl")) if l.strip()]
assert len(metrics) == sum(x["steps"] for x in r["rounds"]), (len(metrics), r["rounds"])
assert [m["step"] for m in metrics] == list(range(1, len(metrics) + 1)), [m["step"] for m in metrics]
PY
}

cd "$work"
cp "$here/micro_run.json" micro.json

# 1. Round mode: the paper's barriers. The second round's exam finds mistakes and the teacher answers them.
expect_status 0 "$tailor" run micro.json --out round
expect_output "round 2: exam on 20 training questions"
expect_output "held-out accuracy"
check_results round 2 round tailored
python3 -c 'import json,sys; r=json.load(open("round/results.json"))["rounds"][1]; sys.exit(0 if r["mistakes"] > 0 and r["exam_questions"] == 20 else 1)' ||
  fail "round 2 of round mode examined nothing"
[[ -f round/config.json && -f round/checkpoints/round-2/model.safetensors ]] || fail "round mode left no checkpoint"
# `tailor eval` of a round's checkpoint with the run's demos ("none") agrees with the run's own evaluation
# (within a question: its batches are padded otherwise).
expect_status 0 "$tailor" eval --checkpoint round/checkpoints/round-2 --data round/test.jsonl --task arith \
  --demos none --max-new-tokens 40 --batch-size 16 --threads 1
python3 - "$(grep -o '^accuracy [0-9.]*' "$work/out" | cut -d' ' -f2)" <<'PY' || fail "eval disagrees with the run"
import json, sys
run = json.load(open("round/results.json"))["rounds"][1]["accuracy"]
assert abs(float(sys.argv[1]) - run) <= 0.05 + 1e-9, (sys.argv[1], run)
PY

# 2. Continuous mode: the same actors as a pipeline.
# Its later rounds wait for their corrections by default: round 2 starts training once its exam is graded and
# the teacher has answered, so with no exam lead it trains the weights round mode trains, bit for bit.
expect_status 0 "$tailor" run micro.json --mode continuous --out lockstep
python3 - "$work/out" <<'PY' || fail "continuous mode's round 2 trained before its corrections were in"
import sys
out = open(sys.argv[1]).read()
assert out.index("round 2: training starts once") < out.index(" mistakes; "), out
PY
check_results lockstep 2 continuous tailored
for r in 1 2; do
  cmp -s round/checkpoints/round-$r/model.safetensors lockstep/checkpoints/round-$r/model.safetensors ||
    fail "continuous mode waiting for its corrections trained other round-$r weights than round mode"
done
python3 -c '
import json, sys
a = [x["accuracy"] for x in json.load(open("round/results.json"))["rounds"]]
b = [x["accuracy"] for x in json.load(open("lockstep/results.json"))["rounds"]]
sys.exit(0 if a == b else 1)' || fail "continuous mode waiting for its corrections evaluated otherwise than round mode"
# With wait_for_corrections false, round 2 trains from the moment it opens, while its exam runs: its first
# steps (milliseconds each for this student) go over round 1's rationales before any correction is in, so it
# ends with other weights than round mode, from the same round 1.
sed 's/"threads": 1/"threads": 1, "wait_for_corrections": false/' micro.json >eager.json
expect_status 0 "$tailor" run eager.json --mode continuous --out eager
grep -q "training starts once" "$work/out" && fail "continuous mode with wait_for_corrections false waited"
check_results eager 2 continuous tailored
cmp -s round/checkpoints/round-1/model.safetensors eager/checkpoints/round-1/model.safetensors ||
  fail "continuous mode's round 1 trained other weights than round mode's"
cmp -s round/checkpoints/round-2/model.safetensors eager/checkpoints/round-2/model.safetensors &&
  fail "continuous mode with wait_for_corrections false trained round 2 as round mode does"
# Round 1 trains for its own number of steps (first_round_steps), the later rounds for steps_per_round.
sed -e 's/"steps_per_round": 10/"steps_per_round": 60, "first_round_steps": 40/' \
  -e 's/"threads": 1/"threads": 1, "exam_lead_checkpoints": 1/' micro.json >pipeline.json
expect_status 0 "$tailor" run pipeline.json --mode continuous --rounds 3 --out continuous
check_results continuous 3 continuous tailored
python3 -c 'import json,sys; r=json.load(open("continuous/results.json"))["rounds"]; sys.exit(0 if [x["steps"] for x in r] == [40, 60, 60] else 1)' ||
  fail "round 1 did not train first_round_steps steps, or a later round not steps_per_round"
# With exam_lead_checkpoints 1 the next round's exam starts one checkpoint before a round ends, so round 2's
# exam begins before round 1 is trained; its mistakes and corrections (the built-in teacher answers at once,
# while round 1's last steps run) wait for round 2's training: round 1's checkpoint holds none of them. Round
# mode (section 1) examines each round's last weights.
python3 - "$work/out" <<'PY' || fail "continuous mode's next exam did not overlap the round, or its corrections entered it"
import json, sys
out = open(sys.argv[1]).read()
assert out.index("round 2: exam on") < out.index("round 1: trained; evaluating"), out
assert out.index("round 3: exam on") < out.index("round 2: trained; evaluating"), out
def pools(run, round):
    return json.load(open(f"{run}/checkpoints/round-{round}/pools.json"))
def corrections(run, round):
    return sorted(v for q in pools(run, round)["questions"] for v in q["positive_versions"] if v > 0)
def last_version(run, round):
    return json.load(open(f"{run}/results.json"))["rounds"][round - 1]["weights_version"]
assert corrections("continuous", 1) == [] and pools("continuous", 1)["fresh"] == [], pools("continuous", 1)
assert all(q["negatives"] == [] for q in pools("continuous", 1)["questions"]), pools("continuous", 1)
# The exam's weights lag the trainer's by one checkpoint at most.
got = corrections("continuous", 2)
assert got and min(got) >= last_version("continuous", 1) - 1, (got, last_version("continuous", 1))
assert set(corrections("round", 2)) == {last_version("round", 1)}, (corrections("round", 2), last_version("round", 1))
PY

# 3. The ablation: random questions, plain distillation, the same number of teacher requests per round. It
# sits the same exams (so that its answers come when the method's do) but asks about none of its mistakes.
expect_status 0 "$tailor" run micro.json --ablation --out ablation
check_results ablation 2 round random
python3 - <<'PY' || fail "the ablation spent another budget than the method"
import json
a = json.load(open("ablation/results.json"))["rounds"]
m = json.load(open("round/results.json"))["rounds"]
assert [x["teacher_requests"] for x in a] == [x["teacher_requests"] for x in m], (a, m)
assert a[1]["exam_questions"] == m[1]["exam_questions"] == 20 and a[1]["mistakes"] > 0, (a, m)
assert all(x["triplet_loss"] == 0 for x in a), a
PY
# It asks about a random question wherever the method asks about a mistake: with no quota (every mistaken
# question), as many as the method found, not one per training question.
sed 's/"requests_per_round": 10/"requests_per_round": 0/' micro.json >unlimited.json
expect_status 0 "$tailor" run unlimited.json --out unlimited
expect_status 0 "$tailor" run unlimited.json --ablation --out unlimited-ablation
python3 - <<'PY' || fail "without a quota the ablation asked another number of questions than the method"
import json
m = json.load(open("unlimited/results.json"))["rounds"]
a = json.load(open("unlimited-ablation/results.json"))["rounds"]
assert 0 < m[1]["teacher_requests"] <= 20, m[1]
assert [x["teacher_requests"] for x in a] == [x["teacher_requests"] for x in m], (a, m)
PY

# 4. Resume: a finished round survives; a second call on the same directory goes on from there.
expect_status 0 "$tailor" run micro.json --rounds 1 --out resumed
expect_status 0 "$tailor" run micro.json --rounds 3 --out resumed
expect_output "resumed after round 1"
check_results resumed 3 round tailored
# Another config in a run directory would mix two runs: refused, naming what differs; the run is untouched.
cp resumed/results.json resumed-results.json
expect_status 2 "$tailor" run micro.json --mode continuous --out resumed
expect_output "holds a run of another config"
expect_output 'mode: "round" there, "continuous" here'
cmp -s resumed/results.json resumed-results.json || fail "a refused resume changed the run's results"
# How the teacher is reached and what it may cost may change between a run and its resume (a run stopped by
# a failing endpoint or a spent budget goes on with more retries or a larger budget); what it asks may not.
python3 - <<'PY'
import json
c = json.loads("".join(l for l in open("micro.json") if not l.strip().startswith("//")))
c["teacher"].update({"max_retries": 9, "concurrency": 3, "max_failed_share": 0.5, "budget_usd": 20})
json.dump(c, open("micro-patient.json", "w"))
c["teacher"]["chain_of_thought_samples"] = 3
json.dump(c, open("micro-more-samples.json", "w"))
PY
expect_status 0 "$tailor" run micro-patient.json --rounds 4 --out resumed
expect_output "resumed after round 3"
expect_status 2 "$tailor" run micro-more-samples.json --rounds 5 --out resumed
expect_output "teacher.chain_of_thought_samples: 2 there, 3 here"
# A resumed run asks the teacher about the questions the uninterrupted one would have (the ablation's are
# chosen by the seed alone), not about round 1's again.
expect_status 0 "$tailor" run micro.json --ablation --rounds 1 --out ablation-resumed
expect_status 0 "$tailor" run micro.json --ablation --out ablation-resumed
python3 - <<'PY' || fail "the resumed ablation asked about other questions than the uninterrupted one"
import json
def asked(d):
    return sorted(q["id"] for q in json.load(open(d + "/checkpoints/round-2/pools.json"))["questions"])
assert asked("ablation-resumed") == asked("ablation"), (len(asked("ablation-resumed")), len(asked("ablation")))
assert len(asked("ablation")) > len(json.load(open("ablation/checkpoints/round-1/pools.json"))["questions"])
PY

# Resumed after round 2, round 3's exam samples what the uninterrupted run's did (its seed is the round's, not
# a count of the passes one process started): the same wrong answers, so the same feedback requests, which the
# interrupted run had already paid for; and round mode goes on bit for bit.
expect_status 0 "$tailor" run micro.json --rounds 3 --out three
expect_status 0 "$tailor" run micro.json --rounds 2 --out resumed-after-2
expect_status 0 "$tailor" run micro.json --rounds 3 --out resumed-after-2
expect_output "resumed after round 2"
python3 - <<'PY' || fail "the run resumed after round 2 went on otherwise than the uninterrupted one"
import json
def round3(d):
    return json.load(open(d + "/results.json"))["rounds"][2]
def negatives(d):
    pools = json.load(open(d + "/checkpoints/round-3/pools.json"))
    return sorted((q["id"], n) for q in pools["questions"] for n in q["negatives"])
got, want = round3("resumed-after-2"), round3("three")
assert want["wrong_answers"] > 0, want
for key in ("exam_questions", "wrong_answers", "mistakes", "teacher_requests"):
    assert got[key] == want[key], (key, got, want)
assert negatives("resumed-after-2") == negatives("three")
# The batch draws go on from where they stood (saved with the pools): round 3 trains on the same batches.
assert got["accuracy"] == want["accuracy"] and got["loss"] == want["loss"], (got, want)
same = open("three/checkpoints/round-3/model.safetensors", "rb").read() == \
    open("resumed-after-2/checkpoints/round-3/model.safetensors", "rb").read()
assert same, "round 3's weights differ"
PY
# Saved pools whose draws cannot be read stop the resumed run with a clear error; its finished rounds stay.
expect_status 0 "$tailor" run micro.json --rounds 2 --out torn-draws
python3 - <<'PY'
import json
p = "torn-draws/checkpoints/round-2/pools.json"
pools = json.load(open(p))
pools["draws"] = "not a generator state"
json.dump(pools, open(p, "w"))
PY
expect_status 1 "$tailor" run micro.json --rounds 3 --out torn-draws
expect_output "resume: the pools saved with"
[[ $(grep -c . torn-draws/journal.jsonl) == 2 ]] || fail "a failed resume changed the journal"

# 5. kill -9 in the middle of a longer run, then a restart: it resumes from its last round, no file is torn.
sed 's/"steps_per_round": 10/"steps_per_round": 150/' micro.json >longer.json
"$tailor" run longer.json --rounds 3 --out killed >killed.log 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  [[ -s killed/journal.jsonl ]] && break
  sleep 0.1
done
[[ -s killed/journal.jsonl ]] || { kill -9 $pid; cat killed.log >&2; fail "the longer run never finished a round"; }
kill -9 $pid
wait $pid 2>/dev/null || true
expect_status 0 "$tailor" run longer.json --rounds 3 --out killed
expect_output "resumed after round"
check_results killed 3 round tailored

# 5b. Data parallel: `--nproc 2` starts a second trainer rank (`tailor rank-worker`) that takes half of each
# step's micro-batches and answers its share of the exam (the second chunk of 16 questions) and of the
# evaluation (the second half); the two ranks take the one-process step and give the one-process answers,
# so the results are round mode's (section 1) within fp32 rounding. Continuous mode finishes too.
expect_status 0 "$tailor" run micro.json --out parallel --nproc 2
check_results parallel 2 round tailored
[[ -s parallel/ranks/rank-1.log ]] || fail "rank 1 left no log"
grep -q "rank 1: answered 4 exam questions" parallel/ranks/rank-1.log ||
  fail "rank 1 sat no exam chunk: $(cat parallel/ranks/rank-1.log)"
[[ $(grep -c "rank 1: answered 10 evaluation questions" parallel/ranks/rank-1.log) == 2 ]] ||
  fail "rank 1 did not answer half of each evaluation: $(cat parallel/ranks/rank-1.log)"
python3 - <<'PY' || fail "two ranks trained other losses, or answered otherwise, than one process"
import json
one = [json.loads(l) for l in open("round/metrics.jsonl") if l.strip()]
two = [json.loads(l) for l in open("parallel/metrics.jsonl") if l.strip()]
assert len(one) == len(two), (len(one), len(two))
for a, b in zip(one, two):
    assert abs(a["lm_loss"] - b["lm_loss"]) <= 1e-5 * max(1.0, abs(a["lm_loss"])), (a, b)
rounds = lambda run: json.load(open(f"{run}/results.json"))["rounds"]
for a, b in zip(rounds("round"), rounds("parallel")):
    for key in ("accuracy", "exam_questions", "mistakes", "teacher_requests"):
        assert a[key] == b[key], (key, a, b)
PY
expect_status 0 "$tailor" run micro.json --out parallel-continuous --nproc 2 --mode continuous
check_results parallel-continuous 2 continuous tailored
# A rank killed mid-run ends the run with a message naming it, not a hang; the run then resumes.
"$tailor" run micro.json --rounds 40 --nproc 2 --out parallel-killed >parallel-killed.log 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  follower=$(pgrep -f "rank-worker $work/parallel-killed" | head -1 || true)
  [[ -n $follower && -s parallel-killed/journal.jsonl ]] && break
  sleep 0.1
done
[[ -n $follower ]] || { kill -9 $pid; cat parallel-killed.log >&2; fail "rank 1 never started"; }
kill -9 "$follower"
status=0
timeout 120 tail --pid=$pid -f /dev/null || status=$?
wait $pid || status=$?
[[ $status -eq 1 ]] || { cat parallel-killed.log >&2; fail "the run with a killed rank exited $status, expected 1"; }
grep -q "data parallel: rank 1 (pid $follower) was killed by signal 9" parallel-killed.log ||
  { cat parallel-killed.log >&2; fail "the run did not name the killed rank"; }
expect_status 0 "$tailor" run micro.json --rounds 6 --nproc 2 --out parallel-killed
expect_output "resumed after round"
check_results parallel-killed 6 round tailored
# One rank is what --nproc takes at the least.
expect_status 2 "$tailor" run micro.json --nproc 0 --out parallel-none

# 6. The real HTTP path: the teacher behind `tailor teacher-serve`, its answers in the answer cache. A second
# run of the same work pays nothing for what the first one was answered, and `tailor cache stats` says so.
start_teacher_serve round/train.jsonl
python3 - "$url" <<'PY'
import json, sys
c = json.loads("".join(l for l in open("micro.json") if not l.strip().startswith("//")))
c["data"].update({"train_file": "round/train.jsonl", "test_file": "round/test.jsonl"})
c["teacher"].update({"kind": "openai_compatible", "base_url": sys.argv[1], "model": "builtin", "api_key_env": ""})
json.dump(c, open("http.json", "w"))
PY
expect_status 0 "$tailor" run http.json --out http-first
check_results http-first 2 round tailored
expect_status 0 "$tailor" run http.json --out http-second
check_results http-second 2 round tailored
python3 - <<'PY' || fail "the second run paid again for answers it had"
import json
first = json.load(open("http-first/results.json"))["rounds"]
second = json.load(open("http-second/results.json"))["rounds"]
assert first[0]["teacher_tokens"] > 0, first
assert second[0]["teacher_tokens"] == 0 and second[0]["teacher_requests"] == first[0]["teacher_requests"], second
PY
expect_status 0 "$tailor" cache stats --cache "$TAILOR_TEACHER_CACHE"
grep -Eq "^entries +[1-9]" "$work/out" || { cat "$work/out"; fail "cache stats shows no entries"; }
grep -Eq "^hits recorded +[1-9]" "$work/out" || { cat "$work/out"; fail "cache stats shows no hits"; }
kill $server_pid

# A teacher slower than the trainer in continuous mode (as on a fast GPU): each round waits for the answers to
# the teacher work it started, so every round trains on its own answers and saves them with its checkpoint,
# and the ablation's answers come no earlier than the method's.
start_teacher_serve round/train.jsonl --latency-ms 1500
python3 - "$url" <<'PY'
import json, sys
c = json.load(open("http.json"))
c["teacher"]["base_url"] = sys.argv[1]
json.dump(c, open("slow.json", "w"))
PY
export TAILOR_TEACHER_CACHE="$work/slow-cache.sqlite" # nothing answered before: every answer takes its time
expect_status 0 "$tailor" run slow.json --mode continuous --out slow-tailored
check_results slow-tailored 2 continuous tailored
# With no exam lead (the default), round 2's exam starts once round 1 is trained.
python3 -c 'import sys; o = open(sys.argv[1]).read(); sys.exit(o.index("round 1: trained") > o.index("round 2: exam on"))' \
  "$work/out" || fail "round 2's exam started before round 1 was trained, with no exam lead"
expect_status 0 "$tailor" run slow.json --mode continuous --ablation --out slow-ablation
check_results slow-ablation 2 continuous random
python3 - <<'PY' || fail "a continuous round ended before its teacher answers came"
import json
m = json.load(open("slow-tailored/results.json"))["rounds"]
a = json.load(open("slow-ablation/results.json"))["rounds"]
for r in (m[1], a[1]):
    assert r["teacher_requests"] > 0 and r["teacher_rationales"] == r["teacher_requests"], r
assert m[1]["teacher_requests"] == a[1]["teacher_requests"], (m[1], a[1])
def positives(run, round):
    return sum(len(q["positives"]) for q in json.load(open(f"{run}/checkpoints/round-{round}/pools.json"))["questions"])
for run in ("slow-tailored", "slow-ablation"):
    assert positives(run, 2) > positives(run, 1), (run, positives(run, 1), positives(run, 2))
PY
# Round 1 trains on the first rationales in the order they were asked, however late they come: continuous
# mode, which trained while they trickled in, ends round 1 with the very weights of round mode (section 6),
# which waited for all of them.
cmp -s slow-tailored/checkpoints/round-1/model.safetensors http-first/checkpoints/round-1/model.safetensors ||
  fail "continuous mode's round 1 trained on other data than round mode's"
# The same with the pass spread over round 1 (draws from the questions it has served between its batches, so
# the trainer does not wait for the last answer): other batches than without, but still the same in both
# modes. Round mode's answers come from the first HTTP run's cache; continuous mode's trickle in anew.
python3 - <<'PY'
import json
for name in ("http", "slow"):
    c = json.load(open(name + ".json"))
    c["reflection"] = {"spread_first_pass": True}
    json.dump(c, open(name + "-spread.json", "w"))
PY
TAILOR_TEACHER_CACHE="$work/teacher-cache.sqlite" expect_status 0 "$tailor" run http-spread.json --rounds 1 --out http-spread
TAILOR_TEACHER_CACHE="$work/spread-cache.sqlite" expect_status 0 "$tailor" run slow-spread.json --mode continuous \
  --rounds 1 --out slow-spread
cmp -s slow-spread/checkpoints/round-1/model.safetensors http-spread/checkpoints/round-1/model.safetensors ||
  fail "with the first pass spread, continuous mode's round 1 trained on other data than round mode's"
! cmp -s http-spread/checkpoints/round-1/model.safetensors http-first/checkpoints/round-1/model.safetensors ||
  fail "spreading the first pass changed nothing"
kill $server_pid

# 7. Clear failures, never a hang.
echo '{"exam": {"smaples": 4}}' >typo.json
expect_status 2 "$tailor" run typo.json --out typo
expect_output 'exam.smaples: unknown key; did you mean "samples"?'

# The teacher is unreachable: a closed port, no retries.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$port" <<'PY'
import json, sys
c = json.loads("".join(l for l in open("micro.json") if not l.strip().startswith("//")))
c["teacher"].update({"kind": "openai_compatible", "base_url": f"http://127.0.0.1:{sys.argv[1]}/v1",
                     "model": "m", "api_key_env": "", "max_retries": 0, "request_timeout_ms": 2000})
json.dump(c, open("unreachable.json", "w"))
PY
expect_status 1 "$tailor" run unreachable.json --out unreachable
expect_output "failed: teacher:"
expect_output "127.0.0.1:$port"

# A GPU asked for (`--device` overrides the config) where none is visible: the run says so and stops.
if ! nvidia-smi -L >/dev/null 2>&1; then
  expect_status 1 "$tailor" run micro.json --device cuda --out no-gpu
  expect_output 'device `cuda` requested but no CUDA GPU is visible'
fi

# A student checkpoint that cannot be loaded: the trainer stops and the run says why.
mkdir -p broken && echo '{"model_type": "llama"}' >broken/config.json && echo garbage >broken/tokenizer.model
python3 -c '
import json; c = json.loads("".join(l for l in open("micro.json") if not l.strip().startswith("//")))
c["student"] = {"checkpoint_dir": "broken"}; json.dump(c, open("broken.json", "w"))'
expect_status 1 "$tailor" run broken.json --out broken-run
expect_output "failed: trainer:"
echo "cli run: all checks passed"
