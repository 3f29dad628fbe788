// Simulations: the runs of unit test sets, newest first, and what the runs
// are made of (sets, unit tests, personas, scenarios); and one run, unit
// test by unit test, with each success criterion's metric result and the
// judge's justification, watched while it goes on.
import { route, href } from '../router.js';
import { h, replace } from '../dom.js';
import { page, section, pagedTable, time, link, kv, badge, empty, problem, loading, field } from '../ui.js';
import { get, del, pager } from '../api.js';
import { confirmAction } from '../confirm.js';

const RUNS = '/simulation/unit_test_set_run/';
// How often a run in progress is asked for again.
const POLL_MS = 1500;

const TABS = [
  ['runs', 'Runs'],
  ['sets', 'Unit test sets'],
  ['unit-tests', 'Unit tests'],
  ['personas', 'Personas'],
  ['scenarios', 'Scenarios'],
];

// names looks up the names of records by ID, in batches the list
// operation allows, and answers a Map. A refusal or failure answers what
// it has: a name is a nicety, the ID is shown without it.
async function names(path, itemsKey, ids, { batch = 20, signal } = {}) {
  const out = new Map();
  const want = [...new Set(ids.filter(Boolean))];
  for (let i = 0; i < want.length; i += batch) {
    const chunk = want.slice(i, i + batch);
    try {
      const body = await get(path, { id: chunk, limit: batch }, { signal });
      for (const r of body[itemsKey] || []) out.set(r.id, r.name);
    } catch (err) {
      if (err.name === 'AbortError') throw err;
      return out;
    }
  }
  return out;
}

// named shows a record's name with its ID beneath, or the ID alone.
function named(name, id, to) {
  const label = name || id;
  return h('span', { class: 'named' }, to ? link(to, label) : label, name ? h('small', { class: 'id' }, id) : null);
}

function idText(id) {
  return h('code', { class: 'id' }, id);
}

// runStatus is how a run stands: running, or how it ended.
function runStatus(run) {
  if (!run.is_completed) return badge('running', 'warn');
  if (run.errored) return badge('errored', 'bad');
  if (run.failed_metrics) return badge('failed', 'bad');
  return badge('passed', 'ok');
}

// tally counts the criteria results of a run that passed and failed, and
// the runs of unit tests that met an error.
function tally(run) {
  let passed = 0;
  let failed = 0;
  let errors = 0;
  let expected = 0;
  for (const spec of run.unit_test_run_specs || []) expected += spec.run_count * (spec.metrics_to_evaluate || []).length;
  for (const r of run.unit_test_run_results || []) {
    if (!r) continue;
    for (const m of r.metric_evaluation_results || []) {
      for (const [, ok] of m.results || []) ok ? passed++ : failed++;
    }
    errors += (r.run_errors || []).filter(Boolean).length;
  }
  return { passed, failed, errors, expected };
}

function summary(run) {
  const t = tally(run);
  const pending = Math.max(0, t.expected - t.passed - t.failed);
  return h(
    'span',
    { class: 'tally' },
    h('span', { class: 'pass' }, `${t.passed} passed`),
    ', ',
    h('span', { class: t.failed ? 'fail' : null }, `${t.failed} failed`),
    pending && !run.is_completed ? `, ${pending} to judge` : null,
    t.errors ? [', ', h('span', { class: 'fail' }, `${t.errors} ${t.errors === 1 ? 'error' : 'errors'}`)] : null,
  );
}

// tabs are links to the parts of the page. A div with the navigation role
// rather than a <nav>: the frame takes every "nav a" for its own menu.
function tabs(current) {
  return h(
    'div',
    { class: 'tabs', role: 'navigation', 'aria-label': 'Simulations' },
    h(
      'ul',
      null,
      TABS.map(([key, text]) =>
        h('li', null, h('a', { href: key === 'runs' ? '#/simulations' : `#/simulations?tab=${key}`, 'aria-current': key === current ? 'page' : null }, text)),
      ),
    ),
  );
}

route('/simulations', ({ main, query, signal }) => {
  const tab = TABS.some(([k]) => k === query.get('tab')) ? query.get('tab') : 'runs';
  const content = {
    runs: () => runsSection(signal),
    sets: () => setsSection(signal),
    'unit-tests': () => unitTestsSection(signal),
    personas: () => personasSection(signal),
    scenarios: () => scenariosSection(signal),
  }[tab]();
  main.append(page('Simulations', tabs(tab), content));
});

// runsSection lists the runs, newest first, filtered by whether they have
// completed.
function runsSection(signal) {
  const setNames = new Map();
  const filter = h(
    'select',
    { name: 'is_completed' },
    h('option', { value: '' }, 'All runs'),
    h('option', { value: 'false' }, 'Running'),
    h('option', { value: 'true' }, 'Completed'),
  );
  const holder = h('div');
  const show = () => {
    const base = pager(RUNS, 'simulation_unit_test_set_runs', {
      sort_by: '-created_at',
      limit: 20,
      is_completed: filter.value || null,
    });
    const load = async (token, opts) => {
      const got = await base(token, opts);
      const missing = got.items.map((r) => r.simulation_unit_test_set_id).filter((id) => !setNames.has(id));
      for (const [id, name] of await names('/simulation/unit_test_set/', 'simulation_unit_test_sets', missing, opts)) setNames.set(id, name);
      return got;
    };
    replace(
      holder,
      pagedTable({
        columns: [
          { title: 'Run', cell: (r) => h('a', { href: href('/simulations/runs', r.id), class: 'mono' }, r.id) },
          { title: 'Unit test set', cell: (r) => named(setNames.get(r.simulation_unit_test_set_id), r.simulation_unit_test_set_id) },
          { title: 'Status', cell: (r) => runStatus(r) },
          { title: 'Results', cell: (r) => summary(r) },
          { title: 'Created', cell: (r) => time(r.created_at) },
          { title: 'Created by', cell: (r) => r.creator && r.creator.user_id },
        ],
        load,
        emptyText: filter.value === 'false' ? 'No run is going on.' : 'No simulation has been run yet.',
        signal,
      }),
    );
  };
  filter.addEventListener('change', show);
  show();
  return section('Runs', h('div', { class: 'toolbar' }, field('Show', filter)), holder);
}

function setsSection(signal) {
  return section(
    'Unit test sets',
    pagedTable({
      columns: [
        { title: 'Name', cell: (s) => named(s.name, s.id) },
        { title: 'Description', cell: (s) => s.description || h('span', { class: 'muted' }, '—') },
        { title: 'Unit tests', num: true, cell: (s) => String((s.unit_test_runs || []).length) },
        { title: 'Runs each', cell: (s) => (s.unit_test_runs || []).map((u) => u.run_count).join(', ') },
        { title: 'Last run', cell: (s) => (s.last_triggered_run_id ? link(href('/simulations/runs', s.last_triggered_run_id), 'Open') : '—') },
        { title: 'Updated', cell: (s) => time(s.updated_at) },
      ],
      load: pager('/simulation/unit_test_set/', 'simulation_unit_test_sets', { is_deleted: false, sort_by: '-updated_at', limit: 20 }),
      emptyText: 'No unit test set yet.',
      signal,
    }),
  );
}

function unitTestsSection(signal) {
  return section(
    'Unit tests',
    pagedTable({
      columns: [
        { title: 'Name', cell: (u) => named(u.name, u.id) },
        { title: 'Service', cell: (u) => [idText(u.service_id), h('small', { class: 'muted block' }, u.service_version_set_name)] },
        { title: 'Persona', cell: (u) => idText(u.persona_id) },
        { title: 'Scenario', cell: (u) => idText(u.scenario_id) },
        {
          title: 'Success criteria',
          cell: (u) => h('ul', { class: 'plain' }, (u.success_criterions || []).map((c) => h('li', null, c.name, ': ', link(href('/metrics', c.metric_id), 'metric'), ' ', criterionText(c.criterion)))),
        },
        { title: 'Max interactions', num: true, cell: (u) => String(u.max_interactions) },
        { title: 'Updated', cell: (u) => time(u.updated_at) },
      ],
      load: pager('/simulation/unit_test/', 'simulation_unit_tests', { is_deleted: false, sort_by: '-updated_at', limit: 20 }),
      emptyText: 'No unit test yet.',
      signal,
    }),
  );
}

function tagsText(tags) {
  const list = Array.isArray(tags) ? tags.map((t) => [t.key, t.value]) : Object.entries(tags || {});
  if (!list.length) return h('span', { class: 'muted' }, '—');
  return list.map(([k, v]) => h('span', { class: 'badge' }, v == null ? k : `${k}: ${v}`));
}

function personasSection(signal) {
  return section(
    'Personas',
    pagedTable({
      columns: [
        { title: 'Name', cell: (p) => named(p.name, p.id) },
        { title: 'Role', cell: (p) => p.role },
        { title: 'Tags', cell: (p) => tagsText(p.tags) },
        { title: 'Updated', cell: (p) => time(p.updated_at) },
      ],
      load: pager('/simulation/persona/', 'simulation_personas', { is_deleted: false, sort_by: '-updated_at', limit: 20 }),
      emptyText: 'No persona yet.',
      signal,
    }),
  );
}

function scenariosSection(signal) {
  return section(
    'Scenarios',
    pagedTable({
      columns: [
        { title: 'Name', cell: (s) => named(s.name, s.id) },
        { title: 'Tags', cell: (s) => tagsText(s.tags) },
        { title: 'Updated', cell: (s) => time(s.updated_at) },
      ],
      load: pager('/simulation/scenario/', 'simulation_scenarios', { is_deleted: false, sort_by: '-updated_at', limit: 20 }),
      emptyText: 'No scenario yet.',
      signal,
    }),
  );
}

// criterionText says what a success criterion asks of its metric.
function criterionText(c) {
  if (!c) return '—';
  if (c.type === 'boolean') return `must be ${c.expected_value}`;
  if (c.type === 'numerical') return `must be ${c.verb} ${c.threshold}`;
  if (c.type === 'categorical') return `must be one of ${(c.expected_values || []).join(', ')}`;
  return JSON.stringify(c);
}

// resultText shows a metric result: null is "not applicable".
export function resultText(v) {
  if (v === null || v === undefined) return h('span', { class: 'muted' }, 'not applicable');
  return String(v);
}

// ---- One run ---------------------------------------------------------

async function fetchRun(id, signal) {
  const body = await get(RUNS, { id }, { signal });
  return (body.simulation_unit_test_set_runs || [])[0] || null;
}

// evaluations loads every metric result of the run (the API pages them by
// up to 500) into a Map by ID.
async function evaluations(id, signal) {
  const out = new Map();
  let token = null;
  for (let i = 0; i < 20; i++) {
    const body = await get(
      '/metric/metric_evaluation_result',
      { simulation_unit_test_set_run_id: id, limit: 500, continuation_token: token },
      { signal },
    );
    for (const r of body.metric_evaluation_results || []) out.set(r.id, r);
    if (!body.has_more) break;
    token = body.continuation_token;
  }
  return out;
}

// artifacts fetches the completed run's artifacts document, which alone
// names each run's simulated conversation (get-conversations does not
// list them). The server serves it at a short-lived URL of its own.
async function artifacts(id, signal) {
  const answer = await get(`${RUNS}${encodeURIComponent(id)}/artifacts/`, null, { signal });
  const url = new URL(answer.presigned_url, location.href);
  if (url.origin !== location.origin) throw new Error('The artifacts are served from another origin; the console cannot fetch them.');
  const res = await fetch(url, { credentials: 'omit', cache: 'no-store', signal });
  if (!res.ok) throw new Error(`The artifacts could not be fetched: ${res.status}`);
  return res.json();
}

route('/simulations/runs/:id', ({ main, params, signal }) => {
  const id = params.id;
  const head = h('div', { class: 'panel-body' }, loading());
  const body = h('div', { class: 'sim-units' }, loading());
  const note = h('div', { class: 'muted sim-status', role: 'status' });
  main.append(
    page(
      'Simulation run',
      h('p', { class: 'crumbs' }, link('#/simulations', 'Simulations'), ' / ', h('span', { class: 'mono' }, id)),
      section('Run', head, note),
      h('section', { class: 'panel' }, h('h2', null, 'Unit tests'), body),
    ),
  );

  let timer = null;
  let busy = false;
  let lookups = null;
  let art = null;
  signal.addEventListener('abort', () => clearTimeout(timer));

  const tick = async () => {
    if (busy || signal.aborted) return;
    busy = true;
    clearTimeout(timer);
    try {
      let run;
      try {
        run = await fetchRun(id, signal);
      } catch (err) {
        // A moment's trouble (rate limit, server error) is tried again,
        // leaving what was shown; anything else ends the page.
        if (err.status === 429 || err.status >= 500) {
          replace(note, problem(err));
          timer = setTimeout(tick, POLL_MS * 4);
        } else {
          replace(head, problem(err));
          replace(body);
        }
        return;
      }
      if (!run) {
        replace(head, empty('There is no such run, or your role does not let you see it.'));
        replace(body);
        return;
      }
      if (!lookups) lookups = await lookupNames(run, signal);
      // The metric results say value and justification; a refusal still
      // leaves the pass/fail flags of the run.
      let evals = new Map();
      let evalsErr = null;
      try {
        evals = await evaluations(id, signal);
      } catch (err) {
        if (err.name === 'AbortError') return;
        evalsErr = err;
      }
      if (run.is_completed && run.artifacts_generated && !art) {
        try {
          art = { doc: await artifacts(id, signal) };
        } catch (err) {
          if (err.name === 'AbortError') return;
          art = { err };
        }
      }
      if (signal.aborted) return;
      replace(head, runHead(run, lookups, art && art.doc, tick));
      replace(body, unitTests(run, lookups, evals, evalsErr, art));
      if (run.is_completed) {
        replace(note);
      } else {
        note.textContent = 'Running: this page follows the run as it goes on.';
        timer = setTimeout(tick, POLL_MS);
      }
    } catch (err) {
      // Leaving the page aborts the requests: nothing to show then.
      const p = problem(err);
      if (p) replace(body, p);
    } finally {
      busy = false;
    }
  };
  tick();
});

async function lookupNames(run, signal) {
  const specs = run.unit_test_run_specs || [];
  const metricIDs = specs.flatMap((s) => (s.metrics_to_evaluate || []).map((m) => m.metric_id));
  const [sets, tests, metrics] = await Promise.all([
    names('/simulation/unit_test_set/', 'simulation_unit_test_sets', [run.simulation_unit_test_set_id], { signal }),
    names('/simulation/unit_test/', 'simulation_unit_tests', specs.map((s) => s.unit_test_id), { batch: 100, signal }),
    names('/metric/', 'metrics', metricIDs, { batch: 50, signal }),
  ]);
  return { sets, tests, metrics };
}

function runHead(run, lookups, doc, refresh) {
  const t = tally(run);
  const cancel = run.is_completed
    ? null
    : confirmAction({
        label: 'Cancel run',
        question: 'Cancel this run? Runs not yet finished stop and are recorded as errors.',
        yes: 'Yes, cancel the run',
        no: 'No, let it run',
        danger: true,
        act: async () => {
          await del(`${RUNS}${encodeURIComponent(run.id)}/`);
          refresh();
          return 'Cancelled.';
        },
      });
  return [
    kv([
      // Only the artifacts tell a cancelled run from one that failed.
      ['Status', doc && doc.cancelled ? badge('cancelled', 'bad') : runStatus(run)],
      ['Results', summary(run)],
      ['Unit test set', named(lookups.sets.get(run.simulation_unit_test_set_id), run.simulation_unit_test_set_id)],
      ['Unit tests', `${(run.unit_test_run_specs || []).length} (${t.expected} criteria to judge in all)`],
      ['Created', time(run.created_at)],
      ['Created by', run.creator && run.creator.user_id],
      ['Completed', run.is_completed ? (run.errored ? 'yes, with errors' : 'yes') : 'not yet'],
      ['Artifacts', run.artifacts_generated ? 'generated' : 'not yet'],
    ]),
    cancel,
  ];
}

// unitTests shows, for each unit test of the run, each of its runs: the
// simulated conversation, any error, and each success criterion's result
// with the judge's justification.
function unitTests(run, lookups, evals, evalsErr, art) {
  const specs = run.unit_test_run_specs || [];
  if (!specs.length) {
    return empty('No unit test of this run is shown: reading them needs the run’s unit test set (Simulation:GetSimulationUnitTestSet).');
  }
  const results = run.unit_test_run_results || [];
  const doc = art && art.doc;
  const notes = [];
  if (evalsErr) notes.push(h('div', { class: 'sim-note' }, 'Metric values and justifications: ', problem(evalsErr)));
  if (art && art.err) notes.push(h('div', { class: 'sim-note' }, 'Links to the simulated conversations come from the run’s artifacts: ', problem(art.err)));
  // The list of metric results leaves out those of metrics the caller may
  // not read, without a refusal: say so when the run names results that
  // neither the list nor the artifacts gave.
  const artResults = new Map();
  for (const u of (doc && doc.unit_tests) || []) for (const r of u.runs || []) for (const m of r.metric_results || []) artResults.set(m.metric_evaluation_result_id, m);
  const hidden = results.some((r) => r && (r.metric_evaluation_results || []).some((m) => (m.results || []).some(([id]) => !evals.has(id) && !artResults.has(id))));
  if (hidden && !evalsErr) {
    notes.push(
      h('p', { class: 'denied sim-note', role: 'note' }, 'Some results are shown without their value and justification, which your role does not allow reading: it needs ', h('code', null, 'Metric:GetMetricEvaluationResult'), '.'),
    );
  }
  return [notes, specs.map((spec, i) => unitTest(spec, i, resultFor(results, spec, i), run, lookups, evals, artResults, doc))];
}

function resultFor(results, spec, i) {
  const r = results[i];
  if (r && r.unit_test_id === spec.unit_test_id) return r;
  return results.find((x) => x && x.unit_test_id === spec.unit_test_id) || null;
}

// unitTest places each result the run names ([metric result ID, passed],
// per criterion, in the order of the runs judged) in its run: by the run
// index the metric result or the artifacts give, or, when neither can be
// read, by position if every run was judged.
function unitTest(spec, index, result, run, lookups, evals, artResults, doc) {
  const name = lookups.tests.get(spec.unit_test_id);
  const criteria = spec.metrics_to_evaluate || [];
  const errors = (result && result.run_errors) || [];
  const perCriterion = (result && result.metric_evaluation_results) || [];
  const unitDoc = doc && doc.unit_tests && doc.unit_tests[index];
  const runOf = new Map();
  for (const e of evals.values()) if (e.source && e.source.unit_test_id === spec.unit_test_id) runOf.set(e.id, e.source.run_index);
  for (const r of (unitDoc && unitDoc.runs) || []) for (const m of r.metric_results || []) runOf.set(m.metric_evaluation_result_id, r.run_index);
  const pairFor = (j, k) => {
    const pairs = (perCriterion[j] && perCriterion[j].results) || [];
    const placed = pairs.find(([id]) => runOf.get(id) === k);
    if (placed) return placed;
    if (pairs.length === spec.run_count && !pairs.some(([id]) => runOf.has(id))) return pairs[k];
    return null;
  };
  const judgedFailures = perCriterion.some((m) => (m.results || []).some(([, ok]) => !ok));
  const judgedCount = perCriterion.reduce((n, m) => n + (m.results || []).length, 0);

  const runs = [];
  let failedRuns = 0;
  for (let k = 0; k < spec.run_count; k++) {
    const art = unitDoc && (unitDoc.runs || []).find((r) => r.run_index === k);
    const ended = run.is_completed || Boolean(errors[k]) || Boolean(art);
    let judged = 0;
    const rows = criteria.map((c, j) => {
      const pair = pairFor(j, k);
      if (pair) judged++;
      const detail = pair ? evals.get(pair[0]) || artResults.get(pair[0]) || null : null;
      return criterionResult(c, pair, detail, lookups, ended);
    });
    const failed = rows.some((r) => r.failed) || Boolean(errors[k]);
    if (failed) failedRuns++;
    const done = judged > 0 || ended;
    const conv = art && art.conversation_id;
    let state = badge(run.is_completed ? 'not run' : 'pending', 'warn');
    if (failed) state = badge('failed', 'bad');
    else if (judged === criteria.length && judged > 0) state = badge('passed', 'ok');
    else if (done) state = badge('ended');
    runs.push(
      h(
        'li',
        { class: ['sim-run', failed ? 'failed' : done ? null : 'pending'] },
        h('div', { class: 'sim-run-head' }, h('strong', null, `Run ${k + 1}`), state, conv ? link(href('/conversations', conv), 'Simulated conversation') : null),
        errors[k] ? h('p', { class: 'error' }, errors[k]) : null,
        h('ul', { class: 'sim-results' }, rows.map((r) => r.node)),
        art && art.transcript && art.transcript.length ? transcript(art.transcript) : null,
      ),
    );
  }
  let verdict = null;
  if (failedRuns) verdict = badge(`${failedRuns} of ${spec.run_count} failed`, 'bad');
  else if (judgedFailures || errors.some(Boolean)) verdict = badge('failed', 'bad');
  else if (run.is_completed && judgedCount === spec.run_count * criteria.length && judgedCount > 0) verdict = badge('all passed', 'ok');
  return h(
    'section',
    { class: 'sim-unit' },
    h('h3', null, name || spec.unit_test_id, ' ', verdict),
    h(
      'p',
      { class: 'muted sim-spec' },
      name ? [h('code', { class: 'id' }, spec.unit_test_id), ' · '] : null,
      `${spec.run_count} ${spec.run_count === 1 ? 'run' : 'runs'}, at most ${spec.max_interactions} interactions each`,
      spec.persona_version_info ? ` · persona ${spec.persona_version_info[0]} v${spec.persona_version_info[1]}` : null,
      spec.scenario_version_info ? ` · scenario ${spec.scenario_version_info[0]} v${spec.scenario_version_info[1]}` : null,
    ),
    h('ol', { class: 'sim-runs' }, runs),
  );
}

// criterionResult shows one criterion in one run: pair is [metric result
// ID, passed] once judged, detail the metric result (value and
// justification) if the caller may read it; ended says the run of the
// unit test is over, judged or not.
function criterionResult(c, pair, detail, lookups, ended) {
  const metric = lookups.metrics.get(c.metric_id) || c.metric_id;
  const failed = Boolean(pair) && pair[1] === false;
  let verdict = badge(ended ? 'not judged' : 'not judged yet', ended ? 'bad' : 'warn');
  if (pair) verdict = pair[1] ? badge('pass', 'ok') : badge('fail', 'bad');
  return {
    failed,
    node: h(
      'li',
      { class: ['sim-result', failed ? 'failed' : null] },
      h('div', { class: 'sim-result-head' }, verdict, h('strong', null, c.success_criterion_name)),
      h('div', { class: 'sim-criterion' }, link(href('/metrics', c.metric_id), metric), ' ', h('span', { class: 'muted' }, criterionText(c.success_criterion))),
      detail
        ? [
            h('div', { class: 'sim-value' }, h('span', { class: 'muted' }, `Result (v${detail.metric_version}): `), h('strong', null, resultText(detail.result))),
            h('p', { class: 'justification' }, detail.justification),
          ]
        : null,
    ),
  };
}

function transcript(messages) {
  return h(
    'details',
    { class: 'sim-transcript' },
    h('summary', null, `Transcript (${messages.length} messages)`),
    h(
      'ol',
      { class: 'transcript' },
      messages.map((m) =>
        h(
          'li',
          { class: ['msg', /agent/.test(m.message_type) ? 'agent' : 'user'] },
          h('div', { class: 'meta' }, h('span', null, m.sender || m.message_type), time(m.created_at)),
          h('p', { class: 'text' }, m.message),
        ),
      ),
    ),
  );
}
