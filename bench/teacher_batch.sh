#!/usr/bin/env bash
# The Batch API path against the chat path: the same run (a micro config in round mode on arith in GSM8K
# format, priced at $1 / $2 per million prompt / completion tokens) twice, each against its own fresh
# `tailor teacher-serve` and answer cache, once with teacher.batch. Prints per round the requests and the cost
# of each path (from the run's results.json), and the stand-in's own accounting of what it was sent (chat
# completions; batch API requests, files and batches), as `name value baseline ratio` lines.
# Usage: bench/teacher_batch.sh [TAILOR] (default build/apps/tailor/tailor); ~1 min on 2 cores.
set -euo pipefail
tailor=$(realpath "${1:-build/apps/tailor/tailor}")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
server=""
trap 'if [[ -n $server ]]; then kill $server 2>/dev/null || true; fi; rm -rf "$work"' EXIT
cd "$work"
"$tailor" data generate arith --n 200 --seed 5 --max-operations 3 --out train.jsonl >/dev/null
"$tailor" data generate arith --n 50 --seed 6 --max-operations 3 --out test.jsonl >/dev/null
grep -v '^ *//' "$here/../tests/micro_run.json" >micro.json

# path NAME EXTRA_TEACHER_JSON: one run; leaves NAME/results.json and NAME.server (the server's summary).
path() {
  "$tailor" teacher-serve --port 0 --data train.jsonl --batch-delay-ms 500 >server.out 2>"$1.server" &
  server=$!
  for _ in $(seq 100); do [[ -s server.out ]] && break; sleep 0.1; done
  python3 - "$(head -n1 server.out)" "$2" <<'PY'
import json, sys
c = json.load(open("micro.json"))
c["data"].update({"task": "gsm8k", "train_file": "train.jsonl", "test_file": "test.jsonl"})
c["teacher"].update({"kind": "openai_compatible", "base_url": sys.argv[1], "model": "builtin", "api_key_env": "",
                     "initial_questions": 150, "requests_per_round": 60,
                     "usd_per_million_prompt_tokens": 1.0, "usd_per_million_completion_tokens": 2.0})
c["teacher"].update(json.loads(sys.argv[2]))
c["exam"]["questions"] = 100
c["rounds"] = 3
json.dump(c, open("bench.json", "w"))
PY
  TAILOR_TEACHER_CACHE="$work/$1.sqlite" "$tailor" run bench.json --out "$1" --quiet >"$1.log" 2>&1 ||
    { cat "$1.log" >&2; exit 1; }
  kill -TERM $server
  wait $server || true
  server=""
}
path chat '{}'
path batch '{"batch": true, "batch_flush_ms": 300, "batch_poll_ms": 200}'

python3 - <<'PY'
import json, re
def rounds(name):
    return json.load(open(f"{name}/results.json"))["rounds"]
def served(name):
    text = open(f"{name}.server").read()
    number = lambda pattern: int(re.search(pattern, text).group(1))
    return {"completions": number(r"(\d+) completions"), "batch_requests": number(r"(\d+) batch API requests"),
            "files": number(r"(\d+) files uploaded"), "batches": number(r"(\d+) batches\)")}
chat, batch = rounds("chat"), rounds("batch")
def line(name, value, baseline):
    ratio = value / baseline if baseline else float("nan")
    print(f"{name} {value:.6g} {baseline:.6g} {ratio:.3f}")
for c, b in zip(chat, batch):
    r = c["round"]
    line(f"teacher_batch_round{r}_requests", b["teacher_requests"], c["teacher_requests"])
    line(f"teacher_batch_round{r}_cost_usd", b["teacher_cost_usd"], c["teacher_cost_usd"])
line("teacher_batch_total_cost_usd", sum(x["teacher_cost_usd"] for x in batch), sum(x["teacher_cost_usd"] for x in chat))
s_chat, s_batch = served("chat"), served("batch")
line("teacher_batch_http_requests_vs_chat_completions", s_batch["batch_requests"], s_chat["completions"])
print(f"# stand-in, chat path: {s_chat}")
print(f"# stand-in, batch path: {s_batch}")
PY
