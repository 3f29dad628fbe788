// Developer: the control API (/_compadre/), served when the server runs
// with --control-api on, to super administrators: the request log, fault
// rules, the server's clock and snapshots. Every panel loads on its own;
// another role sees the control API's refusal in each, in its words.
import { h, replace } from '../dom.js';
import { route } from '../router.js';
import { page, section, table, time, badge, code, field, form, empty, loading, problem, kv, ms } from '../ui.js';
import { control } from '../api.js';
import { confirmButton } from '../confirm.js';

// box is a panel body that load() fills, and fills again on refresh().
function box(load) {
  const el = h('div', { class: 'panel-body' });
  const refresh = async () => {
    replace(el, loading());
    try {
      replace(el, await load());
    } catch (err) {
      replace(el, problem(err) ?? '');
    }
  };
  refresh();
  return { el, refresh };
}

const num = (d, k) => {
  const v = String(d.get(k) ?? '').trim();
  return v === '' ? undefined : Number(v);
};
const str = (d, k) => {
  const v = String(d.get(k) ?? '').trim();
  return v === '' ? undefined : v;
};

// ---- Request log ----

function bodyView(title, b) {
  if (!b) return null;
  let content;
  if (b.json !== undefined) content = code(b.json);
  else if (b.text !== undefined) content = code(b.text);
  else if (b.parts) content = code(b.parts);
  else content = h('p', { class: 'muted' }, 'Binary body, not kept.');
  return [
    h('h4', null, title, ' ', h('span', { class: 'muted' }, `${b.content_type || 'no type'}, ${b.size} bytes${b.truncated ? ', truncated' : ''}`)),
    content,
  ];
}

function headerView(title, hs) {
  const names = Object.keys(hs || {}).sort();
  if (!names.length) return null;
  return [h('h4', null, title), code(names.map((n) => `${n}: ${hs[n].join(', ')}`).join('\n'))];
}

function statusBadge(status) {
  if (status === 0) return badge('dropped', 'bad');
  return badge(String(status), status >= 500 ? 'bad' : status >= 400 ? 'warn' : 'ok');
}

function requestEntry(r) {
  return h(
    'li',
    null,
    h(
      'details',
      { class: 'logged', dataset: { operation: r.operation } },
      h(
        'summary',
        null,
        h('span', { class: 'muted' }, `#${r.id}`),
        ' ',
        h('strong', { class: 'op' }, r.operation),
        ' ',
        statusBadge(r.status),
        ' ',
        h('code', null, `${r.method} ${r.path}${r.query ? '?' + r.query : ''}`),
        ' ',
        h('span', { class: 'muted' }, ms(r.latency_ms)),
        r.fault ? [' ', badge(`fault ${r.fault.source}: ${r.fault.actions.join(', ')}`, 'warn')] : null,
      ),
      kv([
        ['Arrived', time(r.time)],
        ['Request ID', h('code', null, r.request_id)],
        ['Organization', r.organization],
        ['User', r.user],
      ]),
      headerView('Request headers', r.request_headers),
      bodyView('Request body', r.request_body),
      headerView('Response headers', r.response_headers),
      bodyView('Response body', r.response_body),
      r.events ? [h('h4', null, `Events (${r.events.length})`), code(r.events)] : null,
    ),
  );
}

function requestLog(signal) {
  const operation = h('input', { name: 'operation', placeholder: 'get-* or an operationId', autocomplete: 'off', spellcheck: 'false' });
  const organization = h('input', { name: 'organization', autocomplete: 'off', spellcheck: 'false' });
  const limit = h('input', { name: 'limit', type: 'number', min: 1, max: 1000, value: '50' });
  // Entries come oldest first; "Load newer" asks for those after the last one shown.
  let last = 0;
  let ol = null;
  const newer = h('button', { type: 'button', class: 'more' }, 'Load newer');
  const status = h('p', { class: 'count', role: 'status' });

  const filters = () => ({
    operation: operation.value.trim(),
    organization: organization.value.trim(),
    limit: limit.value.trim(),
  });

  async function fetchAfter(after) {
    const body = await control('GET', '/requests', { query: { ...filters(), after: after || undefined }, signal });
    return body.requests || [];
  }

  const { el, refresh } = box(async () => {
    const rs = await fetchAfter(0);
    if (!rs.length) {
      last = 0;
      return empty('No requests logged (with these filters).');
    }
    last = rs[rs.length - 1].id;
    ol = h('ol', { class: 'reqlog' }, rs.map(requestEntry));
    status.textContent = `${rs.length} shown, oldest first.`;
    return [ol, status, newer];
  });

  newer.addEventListener('click', async () => {
    newer.disabled = true;
    try {
      const rs = await fetchAfter(last);
      if (rs.length) {
        last = rs[rs.length - 1].id;
        ol.append(...rs.map(requestEntry));
      }
      status.textContent = `${ol.children.length} shown, oldest first${rs.length ? '' : '; nothing newer'}.`;
    } catch (err) {
      status.replaceChildren(problem(err) ?? '');
    } finally {
      newer.disabled = false;
    }
  });

  const filterForm = h(
    'form',
    { class: 'toolbar' },
    field('Operation', operation),
    field('Organization', organization),
    field('At most', limit),
    h('button', { type: 'submit' }, 'Refresh'),
    confirmButton('Clear', 'Forget every logged request?', async () => {
      await control('DELETE', '/requests');
      refresh();
    }, { yes: 'Clear the log' }),
  );
  filterForm.addEventListener('submit', (e) => {
    e.preventDefault();
    refresh();
  });
  return section('Request log', filterForm, el);
}

// ---- Fault rules ----

function faultAction(f) {
  const parts = [];
  if (f.latency) {
    const l = f.latency;
    const d = l.distribution || 'fixed';
    if (d === 'uniform') parts.push(`latency ${l.min_ms ?? 0}–${l.max_ms} ms`);
    else if (d === 'normal') parts.push(`latency ~${l.mean_ms} ± ${l.stddev_ms} ms`);
    else parts.push(`latency ${l.ms ?? 0} ms`);
  }
  if (f.status) parts.push(`status ${f.status}${f.retry_after != null ? `, Retry-After ${f.retry_after}s` : ''}`);
  if (f.drop) parts.push('drop');
  if (f.cut_stream_after) parts.push(`cut stream after ${f.cut_stream_after}`);
  return parts.join(', then ');
}

function faultRules() {
  const { el, refresh } = box(async () => {
    const body = await control('GET', '/faults');
    const faults = body.faults || [];
    return [
      table(
        [
          { title: 'Rule', cell: (f) => h('code', null, f.id) },
          { title: 'Operation', cell: (f) => h('code', null, f.operation) },
          { title: 'Only', cell: (f) => [f.organization ? `organization ${f.organization}` : '', f.user ? ` user ${f.user}` : ''].join('') || '—' },
          { title: 'Does', cell: faultAction },
          { title: 'Chance', num: true, cell: (f) => (f.probability != null ? `${Math.round(f.probability * 100)}%` : '100%') },
          { title: 'Applied', num: true, cell: (f) => String(f.applied) },
          { title: 'Remaining', num: true, cell: (f) => (f.remaining == null ? '∞' : String(f.remaining)) },
          {
            title: 'Delete',
            cell: (f) =>
              confirmButton('Delete', `Delete rule ${f.id}?`, async () => {
                await control('DELETE', `/faults/${encodeURIComponent(f.id)}`);
                refresh();
              }),
          },
        ],
        faults,
        { empty: 'No fault rules in force.' },
      ),
      faults.length
        ? h(
            'div',
            { class: 'actions' },
            confirmButton('Clear all', 'Take every fault rule out of force?', async () => {
              await control('DELETE', '/faults');
              refresh();
            }, { yes: 'Clear all rules' }),
          )
        : null,
    ];
  });

  // The rule's form: what it matches, what it does (one answer: a status,
  // a dropped connection or a cut stream, and/or a latency), how often.
  const answer = h(
    'select',
    { name: 'answer' },
    h('option', { value: 'status' }, 'Answer with a status'),
    h('option', { value: 'drop' }, 'Drop the connection'),
    h('option', { value: 'cut' }, 'Cut the NDJSON stream'),
    h('option', { value: 'none' }, 'Nothing else (latency only)'),
  );
  const dist = h(
    'select',
    { name: 'distribution' },
    h('option', { value: '' }, 'None'),
    h('option', { value: 'fixed' }, 'Fixed'),
    h('option', { value: 'uniform' }, 'Uniform'),
    h('option', { value: 'normal' }, 'Normal'),
  );
  const number = (name, attrs = {}) => h('input', { name, type: 'number', autocomplete: 'off', ...attrs });
  const statusFields = h(
    'div',
    { class: 'field-row' },
    field('Status', number('status', { min: 400, max: 599, value: '503' })),
    field('Retry-After (s)', number('retry_after', { min: 0, max: 3600 }), 'With 429 or 503 only.'),
  );
  const cutFields = h('div', { class: 'field-row' }, field('Events let through', number('cut_stream_after', { min: 1, max: 10000, value: '1' })));
  const latencyFixed = h('div', { class: 'field-row' }, field('Delay (ms)', number('ms', { min: 0, max: 300000 })));
  const latencyUniform = h(
    'div',
    { class: 'field-row' },
    field('From (ms)', number('min_ms', { min: 0, max: 300000 })),
    field('To (ms)', number('max_ms', { min: 0, max: 300000 })),
  );
  const latencyNormal = h(
    'div',
    { class: 'field-row' },
    field('Mean (ms)', number('mean_ms', { min: 0, max: 300000 })),
    field('Deviation (ms)', number('stddev_ms', { min: 0, max: 300000 })),
    field('At most (ms)', number('max_ms_normal', { min: 0, max: 300000 })),
  );
  // Only the fields of the chosen answer and distribution are shown (and sent).
  const sync = () => {
    statusFields.hidden = answer.value !== 'status';
    cutFields.hidden = answer.value !== 'cut';
    latencyFixed.hidden = dist.value !== 'fixed';
    latencyUniform.hidden = dist.value !== 'uniform';
    latencyNormal.hidden = dist.value !== 'normal';
  };
  answer.addEventListener('change', sync);
  dist.addEventListener('change', sync);
  sync();

  const add = form(
    [
      field('Operation', h('input', { name: 'operation', required: true, placeholder: 'get-users, get-*, *', autocomplete: 'off', spellcheck: 'false' }), 'An operationId or a glob of them.'),
      h(
        'div',
        { class: 'field-row' },
        field('Organization', h('input', { name: 'organization', autocomplete: 'off', spellcheck: 'false' }), 'Optional.'),
        field('User ID', h('input', { name: 'user', autocomplete: 'off', spellcheck: 'false' }), 'Optional.'),
      ),
      field('Then', answer),
      statusFields,
      cutFields,
      field('Latency', dist),
      latencyFixed,
      latencyUniform,
      latencyNormal,
      h(
        'div',
        { class: 'field-row' },
        field('Probability', number('probability', { min: 0, max: 1, step: 'any' }), '0 to 1; 1 if empty.'),
        field('Count', number('count', { min: 0, max: 1000000 }), 'Requests it applies to; empty for no end.'),
      ),
    ],
    async (d) => {
      const rule = { operation: str(d, 'operation'), organization: str(d, 'organization'), user: str(d, 'user') };
      if (answer.value === 'status') {
        rule.status = num(d, 'status');
        rule.retry_after = num(d, 'retry_after');
      } else if (answer.value === 'drop') {
        rule.drop = true;
      } else if (answer.value === 'cut') {
        rule.cut_stream_after = num(d, 'cut_stream_after');
      }
      if (dist.value === 'fixed') rule.latency = { distribution: 'fixed', ms: num(d, 'ms') };
      if (dist.value === 'uniform') rule.latency = { distribution: 'uniform', min_ms: num(d, 'min_ms'), max_ms: num(d, 'max_ms') };
      if (dist.value === 'normal') {
        rule.latency = { distribution: 'normal', mean_ms: num(d, 'mean_ms'), stddev_ms: num(d, 'stddev_ms'), max_ms: num(d, 'max_ms_normal') };
      }
      rule.probability = num(d, 'probability');
      rule.count = num(d, 'count');
      const f = await control('POST', '/faults', { body: rule });
      refresh();
      return h('p', null, 'Rule ', h('code', null, f.id), ' is in force: ', faultAction(f) || 'no action', '.');
    },
    { label: 'Add rule' },
  );
  return section('Fault rules', el, h('details', { class: 'add-rule' }, h('summary', null, 'Add a rule'), add));
}

// ---- Clock ----

function clock() {
  const { el, refresh } = box(async () => {
    const c = await control('GET', '/clock');
    return kv([
      ['Server time', time(c.now)],
      ['Ahead of real time by', h('code', null, c.offset)],
    ]);
  });
  const advance = form(
    [field('Move forward by', h('input', { name: 'duration', required: true, placeholder: 'PT15M, P1D', autocomplete: 'off', spellcheck: 'false' }), 'An ISO 8601 duration. Past an hour, your own sign-in expires too.')],
    async (d) => {
      const c = await control('POST', '/clock/advance', { body: { duration: str(d, 'duration') } });
      refresh();
      return h('p', null, 'The server’s time is now ', time(c.now), '.');
    },
    { label: 'Advance' },
  );
  return section('Clock', el, advance);
}

// ---- Snapshots ----

function snapshots() {
  const { el, refresh } = box(async () => {
    const body = await control('GET', '/snapshots');
    return table(
      [
        { title: 'Name', cell: (s) => h('code', null, s.name) },
        { title: 'Saved', cell: (s) => time(s.created_at) },
        { title: 'Database', num: true, cell: (s) => `${Math.round(s.bytes / 1024)} KiB` },
        { title: 'Tool refs', num: true, cell: (s) => String(s.refs) },
        {
          title: 'Restore',
          cell: (s) =>
            confirmButton('Restore', `Put the server back as ${s.name} saved it? Everything since is lost.`, async () => {
              await control('POST', `/snapshots/${encodeURIComponent(s.name)}/restore`);
              return h('span', { class: 'muted' }, 'Restored.');
            }),
        },
        {
          title: 'Delete',
          cell: (s) =>
            confirmButton('Delete', `Delete snapshot ${s.name}?`, async () => {
              await control('DELETE', `/snapshots/${encodeURIComponent(s.name)}`);
              refresh();
            }),
        },
      ],
      body.snapshots || [],
      { empty: 'No snapshots.' },
    );
  });
  const create = form(
    [field('Name', h('input', { name: 'name', required: true, pattern: '[A-Za-z0-9][A-Za-z0-9_\\-]{0,63}', autocomplete: 'off', spellcheck: 'false' }), '1 to 64 letters, digits, - and _; a snapshot of the same name is replaced.')],
    async (d, formEl) => {
      const s = await control('POST', '/snapshots', { body: { name: str(d, 'name') } });
      formEl.reset();
      refresh();
      return h('p', null, 'Saved ', h('code', null, s.name), '.');
    },
    { label: 'Save snapshot' },
  );
  return section('Snapshots', el, create);
}

route('/developer', ({ main, signal, config }) => {
  if (!config.control_api) {
    main.append(page('Developer', h('p', { class: 'empty' }, 'The control API is off on this server; start it with --control-api on.')));
    return;
  }
  const p = page(
    'Developer',
    h('p', { class: 'muted' }, 'The control API of this server, for tests: what it answered, the faults it injects, its clock and its saved states.'),
    requestLog(signal),
    faultRules(),
    clock(),
    snapshots(),
  );
  p.classList.add('developer');
  main.append(p);
});
