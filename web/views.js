// tailor's dashboard, the views read from files rather than events: a compare's arms side by side, and a run's
// mistakes with the teacher's corrections. Uses app.js's helpers (api, cell, percent, dollars); loaded first.
'use strict';

const armColors = ['#2f6fdb', '#d9822b', '#2c8a4b', '#8e44ad', '#c4372f', '#16a2b8'];

// mean, min, max and sample standard deviation of numbers
function spread(values) {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { n, mean, min: Math.min(...values), max: Math.max(...values), sd };
}

// -- a compare: accuracy per round per arm over seeds, and each arm's teacher spend -----------------------

// By arm: per round the accuracies of its seeds, and per seed its total teacher tokens and cost.
function summarizeCompare(compare) {
  const arms = new Map();
  for (const [arm, seeds] of Object.entries(compare.arms)) {
    const rounds = new Map();
    const spend = [];
    let finished = 0;
    for (const run of Object.values(seeds)) {
      if (run.phase === 'finished') finished += 1;
      let tokens = 0, cost = 0;
      for (const r of run.rounds) {
        if (!rounds.has(r.round)) rounds.set(r.round, []);
        rounds.get(r.round).push(r.accuracy);
        tokens += r.teacher_tokens;
        cost += r.teacher_cost_usd;
      }
      spend.push({ tokens, cost });
    }
    arms.set(arm, { rounds, spend, runs: Object.keys(seeds).length, finished });
  }
  return arms;
}

function showCompare(name) {
  app.replaceChildren(document.getElementById('compare-view').content.cloneNode(true));
  setConnection('files');
  document.getElementById('compare-name').textContent = name;
  const canvas = document.getElementById('compare-chart');
  const chart = new Chart(canvas, {
    type: 'line',
    data: { datasets: [] },
    options: {
      animation: false, parsing: false, responsive: true, maintainAspectRatio: false,
      scales: { x: { type: 'linear', title: { display: true, text: 'round' }, ticks: { stepSize: 1 } },
                y: { min: 0, max: 1, title: { display: true, text: 'test accuracy' } } },
      plugins: { legend: { labels: { filter: (item) => !item.text.endsWith(' band') } } },
    },
  });

  function draw(compare) {
    const arms = summarizeCompare(compare);
    const datasets = [];
    const byRound = [];
    const spendRows = [];
    let index = 0;
    for (const [arm, data] of arms) {
      const color = armColors[index++ % armColors.length];
      const rounds = [...data.rounds.keys()].sort((a, b) => a - b);
      const stats = rounds.map((r) => [r, spread(data.rounds.get(r))]);
      // The band: a line at each round's lowest seed, filled up to the line at its highest.
      datasets.push({ label: arm + ' band', data: stats.map(([r, s]) => ({ x: r, y: s.min })),
                      borderWidth: 0, pointRadius: 0, fill: false });
      datasets.push({ label: arm + ' band', data: stats.map(([r, s]) => ({ x: r, y: s.max })),
                      borderWidth: 0, pointRadius: 0, fill: '-1', backgroundColor: color + '33' });
      datasets.push({ label: arm, data: stats.map(([r, s]) => ({ x: r, y: s.mean })), borderColor: color,
                      backgroundColor: color, borderWidth: 2, pointRadius: 3, fill: false });
      for (const [r, s] of stats) {
        const row = document.createElement('tr');
        row.dataset.arm = arm;
        row.dataset.round = String(r);
        row.dataset.mean = s.mean.toFixed(4);
        row.append(cell(r), cell(arm), cell(s.n), cell(percent(s.mean)), cell(percent(s.min)), cell(percent(s.max)),
                   cell((100 * s.sd).toFixed(1) + ' pts'));
        byRound.push([r, row]);
      }
      const tokens = spread(data.spend.map((x) => x.tokens));
      const cost = spread(data.spend.map((x) => x.cost));
      const row = document.createElement('tr');
      row.dataset.spendArm = arm;
      row.dataset.tokens = String(Math.round(tokens.mean));
      row.append(cell(arm), cell(data.spend.length), cell(Math.round(tokens.mean)), cell(dollars(cost.mean)),
                 cell(data.finished + '/' + data.runs + ' finished'));
      spendRows.push(row);
    }
    chart.data.datasets = datasets;
    chart.update('none');
    byRound.sort((a, b) => a[0] - b[0]);
    document.getElementById('compare-rows-by-round').replaceChildren(...byRound.map(([, row]) => row));
    document.getElementById('compare-spend').replaceChildren(...spendRows);
    canvas.dataset.points = String(byRound.length);
    canvas.dataset.arms = String(arms.size);
    return [...arms.values()].every((a) => a.finished === a.runs);
  }

  // The compare's runs go on for a while: refreshed every few seconds until they have all finished.
  function refresh() {
    api('GET', '/v1/compares/' + encodeURIComponent(name)).then((compare) => {
      if (!draw(compare)) viewTimer = setTimeout(refresh, 3000);
    }).catch((error) => {
      document.getElementById('compare-rows-by-round').replaceChildren(cell(error.message));
    });
  }
  refresh();
}

// -- a run's mistakes and corrections ---------------------------------------------------------------------

function textCell(text, placeholder) {
  const td = cell(text || placeholder || '');
  td.className = 'text';
  if (!text) td.classList.add('hint');
  return td;
}

function nextExamText(m) {
  if (m.fixed === null) return 'no later exam yet';
  const counts = m.next_exam ? ' (' + m.next_exam.right + '/' + m.next_exam.answers + ' right in round ' +
                               m.fixed_in_round + ')' : '';
  return (m.fixed ? 'fixed' : 'not fixed') + counts;
}

function mistakeRow(m) {
  const row = document.createElement('tr');
  row.dataset.mistake = m.example_id;
  row.dataset.task = m.task;
  row.dataset.round = String(m.round);
  row.dataset.fixed = String(m.fixed);
  const feedback = m.teacher_error ? '' : m.feedback;
  const missing = !m.teacher_asked ? 'ablation: the teacher was asked about a random question instead'
                : m.teacher_error ? 'the teacher failed: ' + m.teacher_error : 'no feedback section';
  const question = textCell(m.question + ' (gold: ' + m.gold_answer + ')');
  const next = cell(nextExamText(m));
  next.className = 'fixed';
  next.dataset.fixed = String(m.fixed);
  row.append(cell(m.round), cell(m.task), question,
             textCell(m.wrong_rationale + (m.wrong_answer ? ' → ' + m.wrong_answer : '')),
             textCell(feedback, missing), textCell(m.corrected_rationale, m.teacher_asked ? 'none kept' : '-'), next);
  return row;
}

function showMistakes(id) {
  app.replaceChildren(document.getElementById('mistakes-view').content.cloneNode(true));
  setConnection('files');
  const link = document.getElementById('mistakes-run-link');
  link.href = '#/runs/' + encodeURIComponent(id);
  link.textContent = id;
  const filters = { task: document.getElementById('filter-task'), round: document.getElementById('filter-round'),
                    fixed: document.getElementById('filter-fixed') };
  let mistakes = [];

  function options(select, values) {
    const chosen = select.value;
    select.replaceChildren(select.options[0]);
    for (const value of values) {
      const option = document.createElement('option');
      option.value = option.textContent = String(value);
      select.append(option);
    }
    select.value = values.map(String).includes(chosen) ? chosen : '';
  }

  function fixedKey(m) {
    return m.fixed === null ? 'unknown' : m.fixed ? 'fixed' : 'not-fixed';
  }

  function render() {
    const shown = mistakes.filter((m) => (!filters.task.value || m.task === filters.task.value) &&
                                         (!filters.round.value || String(m.round) === filters.round.value) &&
                                         (!filters.fixed.value || fixedKey(m) === filters.fixed.value));
    const tbody = document.getElementById('mistake-rows');
    tbody.replaceChildren(...shown.map(mistakeRow));
    tbody.dataset.shown = String(shown.length);
    tbody.dataset.total = String(mistakes.length);
    const fixedCount = mistakes.filter((m) => m.fixed === true).length;
    const judged = mistakes.filter((m) => m.fixed !== null).length;
    document.getElementById('mistake-count').textContent = shown.length + ' of ' + mistakes.length + ' shown; ' +
      fixedCount + ' of ' + judged + ' with a later exam fixed';
    document.getElementById('no-mistakes').hidden = mistakes.length > 0;
  }

  for (const select of Object.values(filters)) select.onchange = render;
  api('GET', '/v1/runs/' + encodeURIComponent(id) + '/mistakes').then((body) => {
    mistakes = body.mistakes;
    options(filters.task, [...new Set(mistakes.map((m) => m.task))].sort());
    options(filters.round, body.rounds);
    render();
  }).catch((error) => {
    const hint = document.getElementById('no-mistakes');
    hint.hidden = false;
    hint.textContent = error.message;
  });
}
