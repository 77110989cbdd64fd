// tailor's dashboard: a run list and a run page, both fed by tailord's websockets; charts by Chart.js. The
// compare page and a run's mistakes view are in views.js.
'use strict';

const token = new URLSearchParams(location.search).get('access_token') || '';
const app = document.getElementById('app');
const connection = document.getElementById('connection');
let socket = null;      // the one open websocket of the current view
let redraw = null;      // pending chart redraw
let eventCount = 0;     // messages received by the current view; tests read it from the page
let viewTimer = null;   // the current view's pending refresh (views.js), cleared when the view changes

// -- talking to the daemon --------------------------------------------------------------------------------

function api(method, path) {
  const headers = token ? { Authorization: 'Bearer ' + token } : {};
  return fetch(path, { method, headers }).then(async (response) => {
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new Error((body && body.error && body.error.message) || response.statusText);
    return body;
  });
}

// Opens a websocket on `path` and hands each JSON message to `onMessage`; reconnects after a drop, and the
// daemon's first message on the new socket (the current state) puts the view right again.
function listen(path, onMessage) {
  if (socket) socket.close();
  const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + path +
              (token ? '?access_token=' + encodeURIComponent(token) : '');
  const ws = new WebSocket(url);
  socket = ws;
  setConnection('connecting');
  ws.onopen = () => setConnection('open');
  ws.onmessage = (message) => {
    eventCount += 1;
    document.body.dataset.events = String(eventCount);
    onMessage(JSON.parse(message.data));
  };
  ws.onclose = () => {
    if (socket !== ws) return;
    setConnection('closed');
    setTimeout(() => { if (socket === ws) listen(path, onMessage); }, 2000);
  };
}

function setConnection(state) {
  connection.dataset.state = state;
  connection.textContent = { connecting: 'connecting…', open: 'live', closed: 'disconnected, retrying',
                             files: 'read from the run files' }[state];
}

// -- formatting -------------------------------------------------------------------------------------------

const isFinal = (phase) => phase === 'finished' || phase === 'failed' || phase === 'cancelled';
const fixed = (value, digits) => (typeof value === 'number' ? value.toFixed(digits) : '-');
const percent = (value) => (typeof value === 'number' ? (100 * value).toFixed(1) + '%' : '-');
const dollars = (value) => (typeof value === 'number' ? '$' + value.toFixed(4) : '-');
const steps = (e) => (e.total_steps > 0 ? e.step + '/' + e.total_steps : String(e.step));
const clock = (ms) => (ms ? new Date(ms).toLocaleTimeString() : '-');

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

// -- the run list -----------------------------------------------------------------------------------------

function showList() {
  app.replaceChildren(document.getElementById('list-view').content.cloneNode(true));
  const rows = new Map();
  const tbody = document.getElementById('run-rows');

  function update(e) {
    let row = rows.get(e.run_id);
    if (!row) {
      row = document.createElement('tr');
      row.dataset.run = e.run_id;
      rows.set(e.run_id, row);
      tbody.prepend(row);
      document.getElementById('no-runs').hidden = true;
    }
    const link = document.createElement('a');
    link.href = '#/runs/' + encodeURIComponent(e.run_id);
    link.textContent = e.run_id;
    const id = document.createElement('td');
    id.append(link);
    const phase = document.createElement('span');
    phase.className = 'phase';
    phase.dataset.phase = e.phase;
    phase.textContent = e.phase;
    const phaseCell = document.createElement('td');
    phaseCell.append(phase);
    row.replaceChildren(id, phaseCell, cell(e.round), cell(steps(e)), cell(fixed(e.lm_loss, 3)),
                        cell(percent(e.accuracy)), cell(dollars(e.teacher_cost_usd)), cell(clock(e.timestamp_ms)));
  }

  api('GET', '/v1/runs').then((body) => {
    for (const run of body.runs) if (run.progress) update(run.progress);
  }).catch((error) => { document.getElementById('no-runs').textContent = error.message; });
  api('GET', '/v1/compares').then((body) => {
    document.getElementById('compare-rows').replaceChildren(...body.compares.map((c) => {
      const row = document.createElement('tr');
      row.dataset.compare = c.name;
      const link = document.createElement('a');
      link.href = '#/compares/' + encodeURIComponent(c.name);
      link.textContent = c.name;
      const name = document.createElement('td');
      name.append(link);
      row.append(name, cell(c.arms.join(', ')), cell(c.seeds.join(', ')), cell(c.finished + '/' + c.runs));
      return row;
    }));
    document.getElementById('no-compares').hidden = body.compares.length > 0;
  }).catch(() => {});
  listen('/v1/events', (m) => {
    if (m.type === 'state') update(m.event);
    else if (m.type === 'progress') update(m);
  });
}

// -- a run's page -----------------------------------------------------------------------------------------

function lineChart(canvas, datasets, xTitle) {
  return new Chart(canvas, {
    type: 'line',
    data: { datasets },
    options: {
      animation: false,
      parsing: false,
      normalized: true,
      responsive: true,
      maintainAspectRatio: false,
      elements: { point: { radius: 0 } },
      scales: { x: { type: 'linear', title: { display: true, text: xTitle } }, y: { beginAtZero: true } },
      plugins: { legend: { display: datasets.length > 1 } },
    },
  });
}

function showRun(id) {
  app.replaceChildren(document.getElementById('run-view').content.cloneNode(true));
  document.getElementById('run-id').textContent = id;
  document.getElementById('run-mistakes-link').href = '#/runs/' + encodeURIComponent(id) + '/mistakes';
  const lossChart = lineChart(document.getElementById('loss-chart'), [
    { label: 'LM loss', data: [], borderColor: '#2f6fdb', borderWidth: 1.5 },
    { label: 'triplet loss', data: [], borderColor: '#d9822b', borderWidth: 1.5 },
  ], 'training step');
  const spendChart = lineChart(document.getElementById('spend-chart'), [
    { label: 'teacher $', data: [], borderColor: '#2c8a4b', borderWidth: 1.5, stepped: true },
  ], 'seconds since start');
  const accuracyChart = new Chart(document.getElementById('accuracy-chart'), {
    type: 'bar',
    data: { labels: [], datasets: [{ label: 'accuracy', data: [], backgroundColor: '#2f6fdb' }] },
    options: { animation: false, responsive: true, maintainAspectRatio: false,
               scales: { y: { min: 0, max: 1 } }, plugins: { legend: { display: false } } },
  });

  // The charts' series, as the daemon's hub keeps them (actors/progress_hub.cpp).
  let series = { loss: [], spend: [], accuracy: new Map(), start: 0, last: null };

  function addEvent(e) {
    const last = series.last;
    if (!series.start) series.start = e.timestamp_ms;
    const training = e.phase === 'training' || e.phase === 'pipeline';
    if (training && e.step > 0 && (!last || e.step !== last.step || e.round !== last.round))
      series.loss.push([e.timestamp_ms, e.round, e.step, e.lm_loss, e.triplet_loss]);
    if (!last || e.teacher_tokens !== last.teacher_tokens || e.teacher_cost_usd !== last.teacher_cost_usd)
      series.spend.push([e.timestamp_ms, e.teacher_cost_usd, e.teacher_tokens]);
    if (typeof e.accuracy === 'number' && (e.phase === 'evaluating' || !last || e.accuracy !== last.accuracy))
      series.accuracy.set(e.round, e.accuracy);
    series.last = e;
  }

  // The phase's time left at the pace of its steps so far.
  let phaseStart = null;
  function eta(e) {
    if (!phaseStart || phaseStart.phase !== e.phase || phaseStart.round !== e.round) phaseStart = e;
    const done = e.step - phaseStart.step;
    const elapsed = e.timestamp_ms - phaseStart.timestamp_ms;
    if (!e.total_steps || done <= 0 || elapsed <= 0 || e.step >= e.total_steps) return '-';
    const left = Math.round((elapsed / done) * (e.total_steps - e.step) / 1000);
    return Math.floor(left / 60) + 'm' + String(left % 60).padStart(2, '0') + 's';
  }

  function showNumbers(e) {
    const phase = document.getElementById('run-phase');
    phase.textContent = e.phase;
    phase.dataset.phase = e.phase;
    document.getElementById('run-message').textContent = e.message || '';
    const text = {
      round: String(e.round), step: steps(e), eta: eta(e), lm_loss: fixed(e.lm_loss, 4), triplet_loss: fixed(e.triplet_loss, 4),
      accuracy: percent(e.accuracy), mistakes: String(e.mistakes), teacher_done: String(e.teacher_done),
      teacher_in_flight: String(e.teacher_in_flight), teacher_failed: String(e.teacher_failed ?? 0),
      teacher_tokens: String(e.teacher_tokens),
      teacher_cost_usd: dollars(e.teacher_cost_usd),
    };
    for (const [field, value] of Object.entries(text))
      document.querySelector('[data-field="' + field + '"]').textContent = value;
    document.getElementById('cancel').disabled = isFinal(e.phase);
  }

  // Charts redraw at most every 250 ms, however fast events come.
  function scheduleRedraw() {
    if (redraw) return;
    redraw = setTimeout(() => {
      redraw = null;
      lossChart.data.datasets[0].data = series.loss.map((p, i) => ({ x: i + 1, y: p[3] }));
      lossChart.data.datasets[1].data = series.loss.map((p, i) => ({ x: i + 1, y: p[4] }));
      spendChart.data.datasets[0].data = series.spend.map((p) => ({ x: (p[0] - series.start) / 1000, y: p[1] }));
      const rounds = [...series.accuracy.keys()].sort((a, b) => a - b);
      accuracyChart.data.labels = rounds.map((r) => 'round ' + r);
      accuracyChart.data.datasets[0].data = rounds.map((r) => series.accuracy.get(r));
      for (const chart of [lossChart, spendChart, accuracyChart]) chart.update('none');
      document.getElementById('loss-chart').dataset.points = String(series.loss.length);
      document.getElementById('accuracy-chart').dataset.points = String(rounds.length);
    }, 250);
  }

  function showResults() {
    api('GET', '/v1/runs/' + encodeURIComponent(id)).then((run) => {
      const rounds = (run.results && run.results.rounds) || [];
      const tbody = document.getElementById('result-rows');
      if (!tbody) return;
      tbody.replaceChildren(...rounds.map((r) => {
        const row = document.createElement('tr');
        row.append(cell(r.round), cell(percent(r.accuracy)), cell(r.exam_questions), cell(r.mistakes),
                   cell(r.teacher_requests), cell(r.teacher_tokens), cell(dollars(r.teacher_cost_usd)),
                   cell(fixed(r.loss, 4)), cell(r.steps));
        return row;
      }));
      document.getElementById('no-results').hidden = rounds.length > 0;
    }).catch(() => {});
  }

  document.getElementById('cancel').onclick = () => {
    if (confirm('Cancel run ' + id + '?'))
      api('DELETE', '/v1/runs/' + encodeURIComponent(id)).catch((error) => alert(error.message));
  };

  showResults();
  listen('/v1/runs/' + encodeURIComponent(id) + '/events', (m) => {
    if (m.type === 'state') {
      const h = m.history || { loss: [], spend: [], accuracy: [] };
      series = { loss: h.loss, spend: h.spend, accuracy: new Map(h.accuracy), start: 0, last: m.event };
      series.start = (h.spend[0] && h.spend[0][0]) || m.event.timestamp_ms;
      showNumbers(m.event);
    } else if (m.type === 'progress') {
      const before = series.last && series.last.phase;
      addEvent(m);
      showNumbers(m);
      if (m.phase !== before && (m.phase === 'checkpointing' || isFinal(m.phase))) showResults();
    } else {
      return; // a drop marker: the next event brings the numbers up to date
    }
    scheduleRedraw();
  });
}

// -- routing ----------------------------------------------------------------------------------------------

function route() {
  // The last view's socket and refresh stop with it: their handlers write into elements that are gone.
  if (socket) {
    const old = socket;
    socket = null;
    old.close();
  }
  clearTimeout(viewTimer);
  const run = location.hash.match(/^#\/runs\/([^/]+)$/);
  const mistakes = location.hash.match(/^#\/runs\/([^/]+)\/mistakes$/);
  const compare = location.hash.match(/^#\/compares\/([^/]+)$/);
  if (run) showRun(decodeURIComponent(run[1]));
  else if (mistakes) showMistakes(decodeURIComponent(mistakes[1]));
  else if (compare) showCompare(decodeURIComponent(compare[1]));
  else showList();
}

window.addEventListener('hashchange', route);
route();
