// Overview: the organization at a glance: what it is, how many of each
// kind of record it holds, and what happened last. Every card and table
// loads on its own, so a refusal or a failure of one shows in its place
// and the rest of the page goes on.
import { h, replace } from '../dom.js';
import { route, href } from '../router.js';
import { page, section, panel, table, kv, time, link, badge, ms, problem } from '../ui.js';
import { get } from '../api.js';

// The API's lists give no total, only has_more. A card counts by paging
// at the operation's largest page size until the list ends or CAP records
// are counted, and then shows "CAP+": a few requests at most per card.
const CAP = 100;

// The cards: what to count, through which list operation (its path, the
// key of its items and its largest limit; null for a list without paging)
// and which page the card links to (null: the console has no page for it).
const COUNTS = [
  { title: 'Tools', path: '/tool/', key: 'tools', max: 20, page: '#/tools' },
  { title: 'Conversations', path: '/conversation/', key: 'conversations', max: 150, page: '#/conversations' },
  {
    title: 'Context graphs',
    path: '/organization/service_hierarchical_state_machine',
    key: 'service_hierarchical_state_machines',
    max: 50,
    page: '#/context-graphs',
  },
  { title: 'Agents', path: '/organization/agent', key: 'agents', max: 20, page: null },
  { title: 'Services', path: '/service/', key: 'services', max: 20, page: null },
  { title: 'Simulation runs', path: '/simulation/unit_test_set_run/', key: 'simulation_unit_test_set_runs', max: 50, page: '#/simulations' },
  { title: 'Metrics', path: '/metric/', key: 'metrics', max: 50, page: '#/metrics' },
  { title: 'Users', path: '/user/', key: 'users', max: 100, page: '#/users' },
  { title: 'Webhook destinations', path: '/webhook_destination/', key: 'webhook_destinations', max: null, page: '#/webhooks' },
];

// How many recent records each activity table shows.
const RECENT = 5;

// count answers {n, more}: how many records the list holds, up to CAP.
async function count({ path, key, max }, signal) {
  if (max == null) {
    const body = await get(path, {}, { signal });
    return { n: (body[key] || []).length, more: false };
  }
  let n = 0;
  let token = null;
  for (;;) {
    const body = await get(path, { limit: max, continuation_token: token }, { signal });
    n += (body[key] || []).length;
    if (!body.has_more) return { n, more: false };
    if (n >= CAP) return { n: CAP, more: true };
    token = body.continuation_token;
  }
}

function card(c, signal, webhooks) {
  const n = h('span', { class: 'n' }, h('span', { class: 'loading', role: 'status', 'aria-label': 'Counting' }));
  const el = c.page
    ? h('a', { class: 'card', href: c.page, dataset: { count: c.key } }, n, c.title)
    : h('div', { class: 'card', dataset: { count: c.key } }, n, c.title);
  const counted = c.key === 'webhook_destinations' ? webhooks.then((ds) => ({ n: ds.length, more: false })) : count(c, signal);
  counted.then(
    ({ n: k, more }) => replace(n, more ? `${k}+` : String(k)),
    (err) => {
      // A refusal or a failure shows in this card only.
      replace(n, '—');
      const p = problem(err);
      if (p) el.append(p);
    },
  );
  return el;
}

function organization() {
  return panel(async () => {
    const org = await get('/organization/');
    const prefs = org.default_user_preferences || {};
    return kv([
      ['Name', org.org_name],
      ['ID', h('code', null, org.org_id)],
      ['Tenant', org.tenant_id],
      ['Default language', prefs.preferred_language],
      ['Default time zone', prefs.timezone],
    ]);
  });
}

function versionText(v) {
  return v ? `${v.major}.${v.minor}.${v.patch}` : '—';
}

function conversations(signal) {
  return panel(async () => {
    const body = await get('/conversation/', { limit: RECENT, sort_by: '-created_at' }, { signal });
    return table(
      [
        { title: 'Conversation', cell: (c) => link(href('/conversations', c.id), c.id) },
        { title: 'Started', cell: (c) => time(c.created_at) },
        { title: 'User', cell: (c) => link(href('/users', c.user_id), c.user_id) },
        { title: 'Messages', num: true, cell: (c) => String(c.num_messages) },
        { title: 'State', cell: (c) => (c.is_finished ? badge('finished') : badge('open', 'ok')) },
      ],
      body.conversations || [],
      { empty: 'No conversations yet.' },
    );
  });
}

function invocations(signal) {
  return panel(async () => {
    const body = await get('/tool/invocation', { limit: RECENT, sort_by: '-created_at' }, { signal });
    return table(
      [
        { title: 'Invocation', cell: (i) => link(href('/tools', i.tool_id, 'invocations', i.id), i.id) },
        { title: 'At', cell: (i) => time(i.created_at) },
        { title: 'Tool', cell: (i) => link(href('/tools', i.tool_id), i.tool_id) },
        { title: 'Version', cell: (i) => versionText(i.tool_version) },
        {
          title: 'Outcome',
          cell: (i) => (i.invocation_status && i.invocation_status.succeeded ? badge('succeeded', 'ok') : badge('failed', 'bad')),
        },
        { title: 'Duration', num: true, cell: (i) => ms(i.duration_ms) },
      ],
      body.tool_invocations || [],
      { empty: 'No tool invocations yet.' },
    );
  });
}

function runOutcome(r) {
  if (!r.is_completed) return badge('running', 'warn');
  if (r.errored) return badge('errored', 'bad');
  if (r.failed_metrics) return badge('failed metrics', 'bad');
  return badge('passed', 'ok');
}

function runs(signal) {
  return panel(async () => {
    const body = await get('/simulation/unit_test_set_run/', { limit: RECENT, sort_by: '-created_at' }, { signal });
    return table(
      [
        { title: 'Run', cell: (r) => link(href('/simulations/runs', r.id), r.id) },
        { title: 'Started', cell: (r) => time(r.created_at) },
        { title: 'Unit test set', cell: (r) => h('code', null, r.simulation_unit_test_set_id) },
        { title: 'Outcome', cell: runOutcome },
      ],
      body.simulation_unit_test_set_runs || [],
      { empty: 'No simulation runs yet.' },
    );
  });
}

// Deliveries are listed per destination, so the latest of them all takes
// one request per destination: done for the first few destinations only.
const DELIVERY_DESTINATIONS = 5;

function deliveries(signal, webhooks) {
  return panel(async () => {
    const ds = await webhooks;
    const some = ds.slice(0, DELIVERY_DESTINATIONS);
    const lists = await Promise.all(
      some.map((d) =>
        get(`/webhook_destination/${encodeURIComponent(d.id)}/delivery`, { limit: RECENT, sort_by: '-created_at' }, { signal }).then(
          (b) => (b.webhook_deliveries || []).map((x) => ({ ...x, destination: d })),
        ),
      ),
    );
    const latest = lists
      .flat()
      .sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at))
      .slice(0, RECENT);
    const statusKind = { success: 'ok', failed: 'bad' };
    return [
      table(
        [
          { title: 'Delivery', cell: (d) => h('code', null, d.id) },
          { title: 'At', cell: (d) => time(d.created_at) },
          { title: 'Type', cell: (d) => d.type },
          { title: 'Destination', cell: (d) => link(href('/webhooks', d.destination.id), d.destination.url) },
          { title: 'Status', cell: (d) => badge(d.status, statusKind[d.status] || 'warn') },
        ],
        latest,
        { empty: ds.length ? 'No deliveries yet.' : 'No webhook destinations.' },
      ),
      ds.length > DELIVERY_DESTINATIONS
        ? h('p', { class: 'count' }, `From the first ${DELIVERY_DESTINATIONS} of ${ds.length} destinations.`)
        : null,
    ];
  });
}

route('/', ({ main, signal }) => {
  // The destinations are listed once, for their card and for the deliveries.
  const webhooks = get('/webhook_destination/', {}, { signal }).then((b) => b.webhook_destinations || []);
  webhooks.catch(() => {}); // each user of the promise shows its failure
  main.append(
    page(
      'Overview',
      section('Organization', organization()),
      section(
        'Records',
        h('div', { class: 'cards' }, COUNTS.map((c) => card(c, signal, webhooks))),
        h(
          'p',
          { class: 'count' },
          `Counted up to ${CAP}. Lists hold only the records your role may read, so a count may leave some out.`,
        ),
      ),
      h(
        'div',
        { class: 'recent' },
        section('Latest conversations', conversations(signal)),
        section('Latest tool invocations', invocations(signal)),
        section('Latest simulation runs', runs(signal)),
        section('Latest webhook deliveries', deliveries(signal, webhooks)),
      ),
    ),
  );
});
