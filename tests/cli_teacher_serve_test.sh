#!/usr/bin/env bash
# `tailor teacher-serve` end to end: serve a generated arith file, ask it over HTTP with curl, stop it with
# SIGTERM, and check its usage errors. Usage: cli_teacher_serve_test.sh TAILOR
set -euo pipefail

tailor=${1:?usage: cli_teacher_serve_test.sh PATH_TO_TAILOR}
work=$(mktemp -d)
source "$(dirname "${BASH_SOURCE[0]}")/cli_support.sh"

# POSTs request.json (or GETs when $2 is empty) to $1 with extra curl arguments; prints the HTTP status.
http_status() {
  local target=$1 body=$2
  shift 2
  local args=(--silent --show-error --max-time 10 --output "$work/reply" --write-out '%{http_code}')
  if [[ -n $body ]]; then args+=(--header 'Content-Type: application/json' --data-binary "@$body"); fi
  curl "${args[@]}" "$@" "$target"
}

command -v curl >/dev/null || fail "curl is not installed (Debian: apt-get install curl)"
cd "$work"

expect_status 0 "$tailor" data generate arith --n 20 --seed 1 --out train.jsonl
"$tailor" teacher-serve --port 0 --data train.jsonl --example-request >request.json ||
  fail "--example-request failed"
gold=$(head -n1 train.jsonl | grep -o '#### [0-9]*' | cut -c6-)
[[ -n $gold ]] || fail "no answer on the first line of train.jsonl"

export TAILOR_TEST_TEACHER_KEY=sk-cli-test-key
"$tailor" teacher-serve --port 0 --data train.jsonl --api-key-env TAILOR_TEST_TEACHER_KEY --verbose \
  >server.out 2>server.err &
server_pid=$!

url=""
for _ in $(seq 100); do
  url=$(head -n1 server.out)
  [[ -n $url ]] && break
  kill -0 "$server_pid" 2>/dev/null || fail "teacher-serve exited before listening"
  sleep 0.1
done
[[ $url =~ ^http://127\.0\.0\.1:([0-9]+)/v1$ ]] || fail "teacher-serve printed \`$url\`, not its URL"
port=${BASH_REMATCH[1]}

status=$(http_status "$url/chat/completions" request.json)
[[ $status == 401 ]] || fail "a request without the key got $status, expected 401"
status=$(http_status "$url/chat/completions" request.json --header "Authorization: Bearer $TAILOR_TEST_TEACHER_KEY")
[[ $status == 200 ]] || fail "a chat completion got $status: $(cat reply)"
python3 - "$work/reply" "$gold" <<'PY' || fail "the reply is not a completion answering $gold: $(cat reply)"
import json, sys
reply = json.load(open(sys.argv[1]))
content = reply["choices"][0]["message"]["content"]
assert reply["object"] == "chat.completion" and reply["usage"]["total_tokens"] > 0
assert content.startswith("Reasoning: ") and content.endswith("Answer: " + sys.argv[2]), content
PY
status=$(http_status "$url/models" "" --header "Authorization: Bearer $TAILOR_TEST_TEACHER_KEY")
[[ $status == 200 ]] || fail "GET /v1/models got $status"

# A second server on the same port says so and exits 1.
expect_status 1 "$tailor" teacher-serve --port "$port" --data train.jsonl
grep -q "in use" out || fail "a taken port was not reported: $(cat out)"

# SIGTERM ends it cleanly and soon; a watchdog turns a hang into a failure rather than a stuck test.
kill -TERM "$server_pid"
(sleep 5 && kill -KILL "$server_pid" 2>/dev/null) &
watchdog=$!
status=0
wait "$server_pid" || status=$?
server_pid=""
kill "$watchdog" 2>/dev/null || true
[[ $status -eq 0 ]] || fail "teacher-serve exited $status after SIGTERM, expected 0"
grep -q "stopped by SIGTERM after 2 requests (1 completions" server.err || fail "no summary on stop"
grep -q "POST /v1/chat/completions -> 200" server.err || fail "--verbose logged no request line"
if grep -q "$TAILOR_TEST_TEACHER_KEY" server.out server.err; then fail "the API key was logged"; fi

# Usage errors exit 2 with a message.
expect_status 2 "$tailor" teacher-serve --data train.jsonl
expect_status 2 "$tailor" teacher-serve --port 0 --fault-rate 2
expect_status 2 "$tailor" teacher-serve --port 0 --data missing.jsonl
expect_status 2 env -u TAILOR_TEST_TEACHER_KEY "$tailor" teacher-serve --port 0 --api-key-env TAILOR_TEST_TEACHER_KEY
grep -q "TAILOR_TEST_TEACHER_KEY" out || fail "an unset key variable was not named: $(cat out)"

echo "cli teacher-serve: all checks passed"
