// Tools: the organization's tools, one tool's versions and invocations
// (with latency charts, invoke and publish forms), and one invocation.
import { route, href } from '../router.js';
import { h, replace } from '../dom.js';
import { page, section, panel, pagedTable, time, link, code, kv, badge, ms, field, form, empty, problem } from '../ui.js';
import { get, post, pager } from '../api.js';
import { timeScatter, barChart, seriesClass, percentile } from '../chart.js';

// The API's page size bounds (see the served document).
const TOOLS_PAGE = 20;
const VERSIONS_PAGE = 50;
const INVOCATIONS_MAX = 100;
const INVOCATIONS_DEFAULT = 50;
const NEWEST_VERSION_FIRST = ['-version.major', '-version.minor', '-version.patch'];

const versionText = (v) => (v ? `${v.major}.${v.minor}.${v.patch}` : '');

// compareVersions orders "1.2.3" strings numerically.
function compareVersions(a, b) {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
}

const pct = (n, d) => (d ? `${((100 * n) / d).toFixed(1)}%` : '—');

function statusBadge(inv) {
  return inv.invocation_status.succeeded ? badge('succeeded', 'ok') : badge('failed', 'bad');
}

// excerpt is the first line of an invocation's output or error, cut short.
function excerpt(inv) {
  const st = inv.invocation_status;
  const text = st.succeeded ? st.output || '' : `${st.exception_type}: ${st.exception_message}`;
  const line = text.split('\n')[0];
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}

// invocationHref links to an invocation's page. The version and outcome
// ride along in the query: there is no operation to get one invocation,
// so its page lists the tool's invocations, narrowed by these, to find it.
function invocationHref(toolId, inv) {
  const q = new URLSearchParams({ version: versionText(inv.tool_version), succeeded: String(inv.invocation_status.succeeded) });
  return `${href('/tools', toolId, 'invocations', inv.id)}?${q}`;
}

// ---------------------------------------------------------------- list

route('/tools', ({ main, signal }) => {
  main.append(
    page(
      'Tools',
      section(
        'Tools',
        pagedTable({
          columns: [
            { title: 'Name', cell: (t) => link(href('/tools', t.id), t.name) },
            { title: 'Description', cell: (t) => t.description },
            { title: 'Latest version', cell: (t) => latestVersion(t.id, signal) },
            { title: 'Deprecated', cell: (t) => (t.deprecated ? badge('deprecated', 'warn') : h('span', { class: 'muted' }, 'no')) },
            { title: 'Created', cell: (t) => time(t.created_at) },
          ],
          load: pager('/tool/', 'tools', { limit: TOOLS_PAGE }),
          emptyText: 'No tools yet. Create one with create-tool and publish a version (see the README, “Tools”).',
          signal,
        }),
      ),
    ),
  );
});

// latestVersion fills in a tool's newest version once get-tool-versions
// answers (one small request per row; a refusal leaves a dash).
function latestVersion(toolId, signal) {
  const el = h('span', { class: 'muted' }, '…');
  get(`/tool/${encodeURIComponent(toolId)}/version`, { limit: 1, sort_by: NEWEST_VERSION_FIRST }, { signal }).then(
    (body) => {
      const v = body.tool_versions[0];
      if (!v) return replace(el, 'none');
      el.className = '';
      replace(el, versionText(v.version), v.deprecated ? [' ', badge('deprecated', 'warn')] : null);
    },
    (err) => {
      if (err.name === 'AbortError') return;
      el.title = err.message;
      replace(el, '—');
    },
  );
  return el;
}

// ---------------------------------------------------------------- one tool

route('/tools/:id', async ({ main, params, query, signal }) => {
  const id = params.id;
  const toolPath = `/tool/${encodeURIComponent(id)}`;
  let tool = null;
  let toolErr = null;
  try {
    tool = (await get('/tool/', { id: [id] }, { signal })).tools[0] || null;
  } catch (err) {
    toolErr = err;
  }

  // Filters come from the fragment's query, so a filtered view is a link.
  const filters = {
    version: query.get('version') || '',
    succeeded: ['true', 'false'].includes(query.get('succeeded')) ? query.get('succeeded') : '',
  };
  const limit = Math.min(INVOCATIONS_MAX, Math.max(1, parseInt(query.get('limit'), 10) || INVOCATIONS_DEFAULT));

  // Versions are loaded once for the filter, the invoke form and colours;
  // each of them copes with a refusal its own way (the Versions panel
  // shows it).
  const versionsLoad = get(`${toolPath}/version`, { limit: VERSIONS_PAGE, sort_by: NEWEST_VERSION_FIRST }, { signal }).then(
    (b) => b.tool_versions,
  );
  const ignore = () => {};

  const charts = new Charts();
  signal.addEventListener('abort', () => charts.stop());
  versionsLoad.then((vs) => charts.knowVersions(vs.map((v) => versionText(v.version))), ignore);

  const invocationsBox = h('div');
  const showInvocations = () => replace(invocationsBox, invocationsTable(id, filters, limit, charts, signal));
  showInvocations();

  const versionsBox = h('div');
  const showVersions = () => replace(versionsBox, versionsTable(toolPath, signal));
  showVersions();

  main.append(
    page(
      tool ? tool.name : 'Tool',
      h('p', { class: 'crumbs' }, link(href('/tools'), 'Tools'), ' / ', tool ? tool.name : id),
      section('Tool', toolErr ? problem(toolErr) : tool ? toolDetails(tool) : empty('No tool with this ID.')),
      section('Latency', charts.el),
      section('Invocations', filterForm(id, filters, limit, versionsLoad), invocationsBox),
      section('Invoke', invokeForm(id, versionsLoad, showInvocations)),
      section('Versions', versionsBox),
      section('Publish a version', publishForm(toolPath, versionsLoad, showVersions)),
    ),
  );
});

function toolDetails(t) {
  const tags = (t.tags || []).map((tag) => h('span', { class: 'badge' }, tag.value == null ? tag.key : `${tag.key}: ${tag.value}`));
  return kv([
    ['ID', h('code', null, t.id)],
    ['Description', t.description],
    ['Deprecated', t.deprecated ? badge('deprecated', 'warn') : 'no'],
    ['Tags', tags.length ? h('span', { class: 'tags' }, tags) : null],
    ['Variables', t.envvars.join(', ')],
    ['Secret variables', t.secret_envvars.join(', ')],
    ['Created', time(t.created_at)],
    ['Updated', time(t.updated_at)],
  ]);
}

function filterForm(toolId, filters, limit, versionsLoad) {
  const version = h('select', { name: 'version' }, h('option', { value: '' }, 'All versions'));
  const addOption = (v) => version.append(h('option', { value: v, selected: v === filters.version }, v));
  versionsLoad
    .then((vs) => vs.map((v) => versionText(v.version)), () => [])
    .then((names) => {
      if (filters.version && !names.includes(filters.version)) names.unshift(filters.version);
      names.forEach(addOption);
    });
  const succeeded = h(
    'select',
    { name: 'succeeded' },
    h('option', { value: '' }, 'Any outcome'),
    h('option', { value: 'true', selected: filters.succeeded === 'true' }, 'Succeeded'),
    h('option', { value: 'false', selected: filters.succeeded === 'false' }, 'Failed'),
  );
  const el = h(
    'form',
    { class: 'toolbar filters', role: 'search', 'aria-label': 'Filter invocations' },
    field('Version', version),
    field('Outcome', succeeded),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Filter')),
  );
  el.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    if (version.value) q.set('version', version.value);
    if (succeeded.value) q.set('succeeded', succeeded.value);
    if (limit !== INVOCATIONS_DEFAULT) q.set('limit', String(limit));
    const qs = q.toString();
    location.hash = href('/tools', toolId) + (qs ? `?${qs}` : '');
  });
  return el;
}

// versionConstraint turns the filter's "1.2.3" into the API's PEP 440
// "==1.2.3"; a constraint typed in the fragment ("<2") is passed as it is.
function versionConstraint(v) {
  if (!v) return '';
  return /^[0-9]/.test(v) ? `==${v}` : v;
}

function invocationsTable(toolId, filters, limit, charts, signal) {
  const apiQuery = {
    tool_id: [toolId],
    version: [versionConstraint(filters.version)],
    succeeded: filters.succeeded,
    sort_by: ['-created_at'],
    limit,
  };
  const base = pager('/tool/invocation', 'tool_invocations', apiQuery);
  // The time each page's answer arrived, for the render time below.
  let arrived = 0;
  const load = async (token, opts) => {
    try {
      const page = await base(token, opts);
      arrived = performance.now();
      return page;
    } catch (err) {
      // The table shows why; the charts, which wait for it, too.
      if (!token && charts.owner === box) charts.fail(err);
      throw err;
    }
  };
  const box = h('div', { class: 'invocations' });
  charts.owner = box;
  box.append(
    pagedTable({
      columns: [
        { title: 'Invoked', cell: (inv) => link(invocationHref(toolId, inv), time(inv.created_at)) },
        { title: 'Version', cell: (inv) => versionText(inv.tool_version) },
        { title: 'Outcome', cell: statusBadge },
        { title: 'Duration', num: true, cell: (inv) => ms(inv.duration_ms) },
        { title: 'Output or error', cell: (inv) => h('span', { class: 'excerpt' }, excerpt(inv)) },
      ],
      load,
      emptyText: filters.version || filters.succeeded ? 'No invocations match these filters.' : 'This tool has not been invoked yet.',
      caption: 'Newest first.',
      signal,
      onItems: (all) => {
        // A table replaced (after an invoke) no longer draws the charts.
        if (charts.owner !== box) return;
        const t0 = arrived;
        charts.update(all);
        // Rows and charts are in the document now; the next frame shows
        // them. data-render-ms is the time from the page's answer to after
        // that frame (the benchmark reads it).
        requestAnimationFrame(() =>
          setTimeout(() => {
            box.dataset.renderMs = (performance.now() - t0).toFixed(1);
            box.dataset.loaded = String(all.length);
          }, 0),
        );
      },
    }),
  );
  return box;
}

// Charts shows what the loaded invocations say about latency: failure
// rate, a scatter of durations over time per version, and per-version
// statistics as a bar chart and a table. update() redraws it from all
// loaded invocations each time a page arrives.
class Charts {
  constructor() {
    this.el = h('div', { class: 'charts' }, h('p', { class: 'loading', role: 'status' }, 'Waiting for invocations…'));
    this.order = [];
    this.items = null;
    // owner is the invocations table whose items are charted.
    this.owner = null;
    // Charts are drawn at the width they are shown at, so their text is
    // the page's size; a new width redraws them.
    // The observer reports the width without forcing a layout, which
    // reading clientWidth during an update would (of the whole page, with
    // the rows just added).
    this.width = 0;
    this.drawnWidth = 0;
    this.resize = new ResizeObserver((entries) => {
      this.width = entries[entries.length - 1].contentRect.width;
      if (this.items && Math.abs(this.width - this.drawnWidth) > 24) this.update(this.items);
    });
    this.resize.observe(this.el);
  }

  stop() {
    this.resize.disconnect();
  }

  // knowVersions fixes each version's colour by its place among all the
  // tool's versions (oldest first), so colours do not shift as pages load.
  knowVersions(names) {
    this.order = [...names].sort(compareVersions);
    if (this.items) this.update(this.items);
  }

  colour(name) {
    let i = this.order.indexOf(name);
    if (i < 0) {
      this.order.push(name);
      i = this.order.length - 1;
    }
    return seriesClass(i);
  }

  fail(err) {
    replace(this.el, problem(err));
  }

  update(items) {
    this.items = items;
    if (!items.length) {
      replace(this.el, empty('No invocations loaded, so nothing to chart.'));
      return;
    }
    const byVersion = new Map();
    for (const inv of items) {
      const v = versionText(inv.tool_version);
      if (!byVersion.has(v)) byVersion.set(v, []);
      byVersion.get(v).push(inv);
    }
    const names = [...byVersion.keys()].sort(compareVersions);
    const stats = names.map((name) => {
      const invs = byVersion.get(name);
      const d = invs.map((i) => i.duration_ms).sort((a, b) => a - b);
      const failed = invs.filter((i) => !i.invocation_status.succeeded).length;
      return { name, className: this.colour(name), count: invs.length, failed, p50: percentile(d, 50), p95: percentile(d, 95) };
    });
    const failed = items.filter((i) => !i.invocation_status.succeeded).length;
    this.drawnWidth = this.width;
    const width = Math.max(300, this.width || 760);
    // Bars and their table sit side by side when there is room for both.
    const pair = width >= 900;
    const all = items.map((i) => i.duration_ms).sort((a, b) => a - b);

    const figures = h(
      'div',
      { class: 'cards figures' },
      figureCard('Failure rate', pct(failed, items.length), `${failed} of ${items.length} loaded failed`, 'failure-rate'),
      figureCard('Loaded', String(items.length), 'invocations', 'loaded'),
      figureCard('p50 latency', ms(percentile(all, 50)), 'over what is loaded'),
      figureCard('p95 latency', ms(percentile(all, 95)), 'over what is loaded'),
    );
    const t = items.map((i) => Date.parse(i.created_at));
    const scatter = timeScatter({
      series: stats.map((st) => ({
        name: st.name,
        className: st.className,
        points: byVersion.get(st.name).map((inv) => ({
          t: Date.parse(inv.created_at),
          y: inv.duration_ms,
          failed: !inv.invocation_status.succeeded,
        })),
      })),
      seriesKey: 'version',
      width,
      height: pair ? 260 : 220,
      yLabel: 'duration',
      yFormat: ms,
      label:
        `Duration of ${items.length} invocations over time, ${names.length} version${names.length === 1 ? '' : 's'}, ` +
        `from ${new Date(Math.min(...t)).toLocaleString()} to ${new Date(Math.max(...t)).toLocaleString()}; ` +
        `${failed} failed (ringed in red).`,
      caption: `Duration of each loaded invocation by the time it was invoked (your time zone), one colour per version; failed invocations are ringed.`,
    });
    const bars = barChart({
      rows: stats.map((st) => ({ label: st.name, className: st.className, values: [st.p50, st.p95] })),
      keys: [{ name: 'p50' }, { name: 'p95' }],
      format: ms,
      width: pair ? Math.floor((width - 16) / 2) : width,
      label: 'Latency by version: ' + stats.map((st) => `${st.name} p50 ${ms(st.p50)}, p95 ${ms(st.p95)}`).join('; '),
      caption: 'p50 and p95 latency by version, over what is loaded.',
    });
    const tableEl = h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'by-version' },
        h('caption', null, 'By version, over what is loaded'),
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            ['Version', 'Invocations', 'p50', 'p95', 'Failed', 'Failure rate'].map((c, i) => h('th', { scope: 'col', class: i ? 'num' : null }, c)),
          ),
        ),
        h(
          'tbody',
          null,
          stats.map((st) =>
            h(
              'tr',
              { dataset: { version: st.name } },
              h('th', { scope: 'row' }, h('i', { class: ['swatch', st.className], 'aria-hidden': 'true' }), st.name),
              h('td', { class: 'num' }, String(st.count)),
              h('td', { class: 'num' }, ms(st.p50)),
              h('td', { class: 'num' }, ms(st.p95)),
              h('td', { class: 'num' }, String(st.failed)),
              h('td', { class: 'num' }, pct(st.failed, st.count)),
            ),
          ),
        ),
      ),
    );
    replace(this.el, figures, scatter, h('div', { class: ['by-version-pair', pair && 'wide'] }, bars, tableEl));
  }
}

function figureCard(label, value, note, name) {
  return h(
    'div',
    { class: 'card figure', dataset: name ? { figure: name } : null },
    h('span', { class: 'muted' }, label),
    h('span', { class: 'n' }, value),
    h('small', { class: 'muted' }, note),
  );
}

function versionsTable(toolPath, signal) {
  return pagedTable({
    columns: [
      { title: 'Version', cell: (v) => versionText(v.version) },
      { title: 'Published', cell: (v) => time(v.created_at) },
      { title: 'Deprecated', cell: (v) => (v.deprecated ? badge('deprecated', 'warn') : h('span', { class: 'muted' }, 'no')) },
      { title: 'Project', cell: (v) => h('code', null, v.project_directory) },
      { title: 'Branch', cell: (v) => v.tool_repo },
      { title: 'Commit', cell: (v) => h('code', { title: v.tool_commit_hash }, v.tool_commit_hash.slice(0, 10)) },
      { title: 'Inputs', cell: (v) => inputsSummary(v.input_schema) },
    ],
    load: pager(`${toolPath}/version`, 'tool_versions', { limit: VERSIONS_PAGE, sort_by: NEWEST_VERSION_FIRST }),
    emptyText: 'No versions published yet.',
    signal,
  });
}

// inputsSummary names a schema's parameters and their types.
function inputsSummary(schema) {
  const props = (schema && schema.properties) || {};
  const req = new Set((schema && schema.required) || []);
  const names = Object.keys(props);
  if (!names.length) return h('span', { class: 'muted' }, 'none');
  return h(
    'code',
    null,
    names.map((n) => `${n}${req.has(n) ? '' : '?'}: ${props[n].type || 'any'}`).join(', '),
  );
}

// skeleton is example parameters for a schema: each property with an
// empty value of its type, so the JSON box starts as something to edit.
function skeleton(schema) {
  const out = {};
  const props = (schema && schema.properties) || {};
  const req = new Set((schema && schema.required) || []);
  for (const [name, p] of Object.entries(props)) {
    if (!req.has(name)) continue;
    const type = Array.isArray(p.type) ? p.type[0] : p.type;
    out[name] = { string: '', integer: 0, number: 0, boolean: false, array: [], object: {} }[type] ?? null;
  }
  return out;
}

function invokeForm(toolId, versionsLoad, refresh) {
  const version = h('select', { name: 'version', required: true });
  const params = h('textarea', { name: 'params', rows: 5, spellcheck: 'false' }, '{}');
  const mode = h(
    'select',
    { name: 'mode' },
    h('option', { value: 'regular' }, 'regular'),
    h('option', { value: 'conversation-simulation' }, 'conversation-simulation'),
  );
  const schemas = new Map();
  versionsLoad.then((vs) => {
    const live = vs.filter((v) => !v.deprecated);
    if (!live.length) version.append(h('option', { value: '' }, 'No live version'));
    for (const v of live) {
      schemas.set(versionText(v.version), v.input_schema);
      version.append(h('option', { value: versionText(v.version) }, versionText(v.version)));
    }
    if (live.length) params.value = JSON.stringify(skeleton(live[0].input_schema), null, 2);
  }, (err) => {
    version.append(h('option', { value: '' }, 'Versions could not be loaded'));
    const p = problem(err);
    if (p) version.closest('form')?.prepend(p);
  });
  // A new version's schema replaces the parameters only while they are
  // still the untouched example of the previous one.
  let touched = false;
  params.addEventListener('input', () => (touched = true));
  version.addEventListener('change', () => {
    if (!touched && schemas.has(version.value)) params.value = JSON.stringify(skeleton(schemas.get(version.value)), null, 2);
  });

  return form(
    [
      h('div', { class: 'toolbar' }, field('Version', version), field('Mode', mode)),
      field('Parameters (JSON)', params, 'The keyword arguments of the tool’s function, as a JSON object.'),
    ],
    async (data) => {
      const v = String(data.get('version') || '');
      if (!v) throw new Error('Choose a version to invoke.');
      let input;
      try {
        input = JSON.parse(String(data.get('params')));
      } catch (err) {
        throw new Error(`The parameters are not JSON: ${err.message}`);
      }
      if (!input || typeof input !== 'object' || Array.isArray(input)) throw new Error('The parameters must be a JSON object.');
      const body = await post(`/tool/${encodeURIComponent(toolId)}/version/${encodeURIComponent(v)}/invoke`, {
        inputs: [{ input_parameters: input, invocation_mode: String(data.get('mode')) }],
      });
      const r = body.invocation_results[0];
      refresh();
      return h(
        'div',
        { class: 'invoke-result' },
        h('p', null, r.succeeded ? badge('succeeded', 'ok') : badge('failed', 'bad'), ` in ${ms(r.duration_ms)} · version ${v} · `, newInvocationLink(toolId, v, r)),
        r.succeeded
          ? [h('h3', null, 'Output'), code(r.output)]
          : [
              h('h3', null, 'Error ', h('code', null, r.exception_type)),
              code(r.exception_message),
              h('h3', null, 'Stack trace'),
              code(r.exception_stack_trace.join('\n')),
            ],
      );
    },
    { label: 'Invoke' },
  );
}

// newInvocationLink finds the invocation a run just recorded (invoke
// answers results, not IDs): the newest of this version with the same
// outcome and duration.
function newInvocationLink(toolId, version, result) {
  const el = h('span', { class: 'muted' }, 'finding its record…');
  get('/tool/invocation', { tool_id: [toolId], version: [`==${version}`], succeeded: String(result.succeeded), limit: 10 }).then(
    (body) => {
      const inv =
        body.tool_invocations.find((i) => i.duration_ms === result.duration_ms) || body.tool_invocations[0];
      el.className = '';
      replace(el, inv ? link(invocationHref(toolId, inv), 'open the invocation') : 'not found in the history');
    },
    (err) => replace(el, problem(err)),
  );
  return el;
}

function publishForm(toolPath, versionsLoad, refresh) {
  const path = h('input', { name: 'project_path', required: true, pattern: '[-A-Za-z0-9_/]+', spellcheck: 'false', autocomplete: 'off' });
  versionsLoad.then((vs) => {
    if (vs[0] && !path.value) path.value = vs[0].project_directory;
  }, () => {});
  const bump = h('select', { name: 'bump_type' }, ['patch', 'minor', 'major'].map((b) => h('option', { value: b }, b)));
  const repo = h('select', { name: 'repo' }, h('option', { value: 'team' }, 'team (releases/<organization>)'), h('option', { value: 'main' }, 'main'));
  return form(
    [
      h('p', { class: 'muted' }, 'Publishes the tip of a branch of the tools repository: the project is checked and built in the sandbox. The first version is 1.0.0 whatever the bump.'),
      field('Project directory', path, 'The folder of the repository holding the tool’s pyproject.toml.'),
      h('div', { class: 'toolbar' }, field('Bump', bump), field('Branch', repo)),
    ],
    async (data) => {
      const body = await post(`${toolPath}/version`, {
        project_path: String(data.get('project_path')).trim(),
        bump_type: String(data.get('bump_type')),
        repo: String(data.get('repo')),
      });
      refresh();
      return h('p', { class: 'published' }, 'Published version ', h('strong', null, body.new_version), '.');
    },
    { label: 'Publish' },
  );
}

// ---------------------------------------------------------------- one invocation

route('/tools/:id/invocations/:invocation', async ({ main, params, query, signal }) => {
  const { id, invocation } = params;
  const toolName = h('span', null, 'Tool');
  get('/tool/', { id: [id] }, { signal }).then(
    (b) => b.tools[0] && replace(toolName, b.tools[0].name),
    () => {},
  );
  const body = panel(async () => {
    const inv = await findInvocation(id, invocation, query, signal);
    if (!inv) return empty('No invocation with this ID among the tool’s invocations.');
    return invocationDetails(inv);
  }, { what: 'Looking for the invocation…' });
  main.append(
    page(
      'Invocation',
      h('p', { class: 'crumbs' }, link(href('/tools'), 'Tools'), ' / ', link(href('/tools', id), toolName), ' / ', h('code', null, invocation)),
      body,
    ),
  );
});

const FIND_PAGES = 50;

// findInvocation pages through the tool's invocations, newest first, until
// it meets the ID: first narrowed by the version and outcome the link
// carried, then, if that misses (a hand-made link), without them.
async function findInvocation(toolId, id, query, signal) {
  const hinted = { version: query.get('version') || '', succeeded: query.get('succeeded') || '' };
  const attempts = [hinted];
  if (hinted.version || hinted.succeeded) attempts.push({ version: '', succeeded: '' });
  for (const f of attempts) {
    let token = null;
    for (let i = 0; i < FIND_PAGES; i++) {
      const body = await get(
        '/tool/invocation',
        { tool_id: [toolId], version: [versionConstraint(f.version)], succeeded: f.succeeded, limit: INVOCATIONS_MAX, continuation_token: token },
        { signal },
      );
      const inv = body.tool_invocations.find((x) => x.id === id);
      if (inv) return inv;
      if (!body.has_more) break;
      token = body.continuation_token;
    }
  }
  return null;
}

function invocationDetails(inv) {
  const st = inv.invocation_status;
  const src = inv.invocation_source || {};
  const source = [['Source', src.type]];
  if (src.type === 'regular-conversation') {
    source.push(['Conversation', src.conversation_id ? link(href('/conversations', src.conversation_id), src.conversation_id) : 'none (invoked directly)']);
    if (src.interaction_id) source.push(['Interaction', h('code', null, src.interaction_id)]);
    if (src.user_id) source.push(['User', h('code', null, src.user_id)]);
  } else if (src.type === 'simulation-conversation') {
    source.push(['Simulation run', src.simulation_unit_test_set_run_id ? h('code', null, src.simulation_unit_test_set_run_id) : 'none (invoked directly)']);
    if (src.unit_test_id) source.push(['Unit test', h('code', null, src.unit_test_id)]);
    if (src.run_index != null) source.push(['Run index', String(src.run_index)]);
  }
  const logs = inv.logs || [];
  return h(
    'div',
    { class: 'invocation' },
    section(
      'Summary',
      kv([
        ['ID', h('code', null, inv.id)],
        ['Tool', link(href('/tools', inv.tool_id), inv.tool_id)],
        ['Version', versionText(inv.tool_version)],
        ['Outcome', statusBadge(inv)],
        ['Duration', ms(inv.duration_ms)],
        ['Invoked', time(inv.created_at)],
        ['Updated', time(inv.updated_at)],
        ...source,
      ]),
    ),
    section('Input', code(inv.inputs)),
    st.succeeded
      ? section('Output', h('pre', { class: 'code output' }, st.output))
      : section(
          'Error',
          kv([['Type', h('code', null, st.exception_type)]]),
          h('h3', null, 'Message'),
          h('pre', { class: 'code exception-message' }, st.exception_message),
          h('h3', null, 'Stack trace'),
          h('pre', { class: 'code stack-trace' }, (st.exception_stack_trace || []).join('\n')),
        ),
    section('Logs', logs.length ? h('pre', { class: 'code logs' }, logs.join('\n')) : empty('Nothing was logged.')),
  );
}
