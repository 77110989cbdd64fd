#!/usr/bin/env bash
# The dashboard in a real browser: starts tailord-simulated and a micro run, loads the run list and the run's
# page in headless Chromium while the run goes, and checks that the run and its live numbers appear; keeps
# screenshots; then the run's mistakes view (and its filter), and a compare made by `tailor compare --server`
# on its page and in the run list. Usage: dashboard_browser_test.sh TAILORD_SIMULATED ARTIFACT_DIR [TAILOR]
# Exits 77 (skipped) when Chromium is not installed (Debian: apt-get install chromium).
set -euo pipefail

tailord=${1:?usage: dashboard_browser_test.sh TAILORD_SIMULATED ARTIFACT_DIR}
artifacts=${2:?usage: dashboard_browser_test.sh TAILORD_SIMULATED ARTIFACT_DIR}
tailor=${3:-}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [[ -z $browser ]]; then
  echo "SKIPPED: no chromium on PATH (Debian: apt-get install chromium)"
  exit 77
fi
work=$(mktemp -d)
daemon_pid=""
cleanup() {
  if [[ -n $daemon_pid ]]; then kill -TERM "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAILED: $*" >&2
  [[ -f $work/daemon.err ]] && sed 's/^/  daemon: /' "$work/daemon.err" >&2
  exit 1
}
mkdir -p "$artifacts"

"$tailord" --data-dir "$work/data" --listen 127.0.0.1:0 --simulate-step-ms 50 >"$work/daemon.out" 2>"$work/daemon.err" &
daemon_pid=$!
port=""
for _ in $(seq 100); do
  port=$(grep -o '127.0.0.1:[0-9]*' "$work/daemon.out" 2>/dev/null | cut -d: -f2 || true)
  [[ -n $port ]] && break
  sleep 0.05
done
[[ -n $port ]] || fail "tailord did not start"
base="http://127.0.0.1:$port"
curl --silent --fail --max-time 5 -X POST "$base/v1/runs?id=browser-run" \
  --data-binary '{"rounds": 3, "steps_per_round": 60}' >/dev/null || fail "cannot submit"
sleep 1
export DBUS_SESSION_BUS_ADDRESS=disabled: # no session bus here: saves Chromium seconds of retries

# Loads URL in headless Chromium and waits (real time, 20 s at most) until the JavaScript condition holds.
here=$(dirname "$(realpath "$0")")
render() { # URL OUTPUT.html SCREENSHOT.png CONDITION
  local status=0
  timeout 90 python3 "$here/headless_page.py" "$browser" "$1" "$2" "$3" --until "$4" --timeout 20 \
    2>>"$work/browser.err" || status=$?
  [[ $status -eq 0 || $status -eq 2 ]] || { cat "$work/browser.err" >&2; fail "chromium failed on $1"; }
}
attribute() { grep -o "$1=\"[^\"]*\"" "$2" | head -n1 | cut -d'"' -f2; }

render "$base/" "$work/list.html" "$artifacts/dashboard_runs.png" "document.querySelector('[data-run=\"browser-run\"]')"
grep -q 'data-run="browser-run"' "$work/list.html" || fail "the run list does not show the run"

points_of() { echo "Number(document.getElementById('loss-chart').dataset.points || 0)"; }
render "$base/#/runs/browser-run" "$work/run.html" "$artifacts/dashboard_run.png" \
  "Number(document.body.dataset.events || 0) >= 2 && $(points_of) >= 1"
grep -q '<span id="run-id">browser-run</span>' "$work/run.html" || fail "the run page does not name the run"
events=$(attribute data-events "$work/run.html")
points=$(attribute data-points "$work/run.html")
step=$(grep -o 'data-field="step">[^<]*' "$work/run.html" | head -n1 | cut -d'>' -f2)
phase=$(grep -o 'id="run-phase"[^>]*>[^<]*' "$work/run.html" | head -n1 | sed 's/.*>//')
echo "run page: phase $phase, step $step, $events websocket messages, $points loss points"
[[ ${events:-0} -ge 2 ]] || fail "the run page got no live update after the state (messages: ${events:-none})"
[[ ${points:-0} -ge 1 ]] || fail "the loss chart has no points"
[[ $step != "-" && -n $step ]] || fail "the step is not shown"
[[ -s $artifacts/dashboard_run.png ]] || fail "no screenshot"

# Later, the run has moved on and the page shows its newer numbers, then its results.
render "$base/#/runs/browser-run" "$work/run2.html" "$artifacts/dashboard_run_later.png" "$(points_of) > ${points:-0}"
points2=$(attribute data-points "$work/run2.html")
echo "later: $points2 loss points"
[[ ${points2:-0} -gt ${points:-0} ]] || fail "the loss chart did not grow ($points -> $points2)"
for _ in $(seq 600); do
  curl --silent "$base/v1/runs/browser-run" | grep -q '"phase":"finished"' && break
  sleep 0.1
done
render "$base/#/runs/browser-run" "$work/run3.html" "$artifacts/dashboard_run_finished.png" \
  "document.querySelector('[data-phase=\"finished\"]') && document.querySelectorAll('#result-rows tr').length == 3"
grep -q 'data-phase="finished"' "$work/run3.html" || fail "the finished run is not shown as finished"
rows=$(grep -o '<tbody id="result-rows">.*</tbody>' "$work/run3.html" | grep -o '<tr>' | wc -l)
[[ $rows -eq 3 ]] || fail "the results table has $rows rows, not 3"

# The run's mistakes and corrections: rounds 2 and 3, round 2's judged by round 3's exam, round 3's not yet.
rows_of() { echo "document.querySelectorAll('#mistake-rows tr$1').length"; }
render "$base/#/runs/browser-run/mistakes" "$work/mistakes.html" "$artifacts/dashboard_mistakes.png" \
  "Number(document.getElementById('mistake-rows')?.dataset.total || 0) == 8"
total=$(attribute data-total "$work/mistakes.html")
[[ ${total:-0} -eq 8 ]] || fail "the mistakes view shows ${total:-no} mistakes, not 8"
for state in true false null; do
  grep -q "data-fixed=\"$state\"" "$work/mistakes.html" || fail "no mistake with fixed=$state"
done
grep -q 'multiplied wrong' "$work/mistakes.html" || fail "the teacher's feedback is not shown"
# The filter: only the mistakes the next exam found not fixed.
render "$base/#/runs/browser-run/mistakes" "$work/mistakes_not_fixed.html" "$artifacts/dashboard_mistakes_not_fixed.png" \
  "(() => { const f = document.getElementById('filter-fixed'); if (!f || $(rows_of '') == 0) return false;
            if (f.value !== 'not-fixed') { f.value = 'not-fixed'; f.onchange(); }
            return $(rows_of '') > 0 && $(rows_of ':not([data-fixed=\"false\"])') == 0; })()"
shown=$(grep -o '<tr data-mistake' "$work/mistakes_not_fixed.html" | wc -l)
echo "mistakes: $total in all, $shown shown when filtered to not fixed"
[[ $shown -gt 0 && $shown -lt $total ]] || fail "the fixed filter shows $shown of $total"

# A compare on the daemon: 2 arms x 2 seeds of a micro config, then its page and its line in the run list.
if [[ -n $tailor ]]; then
  echo '{"rounds": 2, "steps_per_round": 5}' >"$work/micro.json"
  timeout 120 "$tailor" compare "$work/micro.json" --server "$base" --seeds 1-2 --out "$work/browser-compare" \
    --resamples 200 >"$work/compare.out" 2>"$work/compare.err" || { cat "$work/compare.err" >&2; fail "tailor compare --server failed"; }
  grep -q '^2 *tailored' "$work/compare.out" || fail "the compare printed no table"
  [[ -s $work/browser-compare/compare.json ]] || fail "the compare wrote no compare.json"
  render "$base/#/compares/browser-compare" "$work/compare.html" "$artifacts/dashboard_compare.png" \
    "Number(document.getElementById('compare-chart')?.dataset.points || 0) == 4 && document.querySelectorAll('#compare-spend tr').length == 2"
  for arm in tailored random; do
    grep -q "data-arm=\"$arm\" data-round=\"2\"" "$work/compare.html" || fail "the compare page has no round 2 of $arm"
    grep -q "data-spend-arm=\"$arm\"" "$work/compare.html" || fail "the compare page has no spend of $arm"
  done
  render "$base/" "$work/list2.html" "$artifacts/dashboard_runs_compares.png" "document.querySelector('[data-compare=\"browser-compare\"]')"
  grep -q 'href="#/compares/browser-compare"' "$work/list2.html" || fail "the run list does not link the compare"
  echo "compare page: $(grep -o 'data-arm="[^"]*" data-round="2" data-mean="[^"]*"' "$work/compare.html" | tr '\n' ' ')"
fi
echo "ok: screenshots in $artifacts"
