// Webhooks: the destinations the organization's events are sent to, and
// for each its deliveries, attempt by attempt. A destination's secret is
// shown once, when it is made or rotated; the API never shows it again, so
// neither does the console (it is kept nowhere but in the page shown).
import { route, href } from '../router.js';
import { h, replace } from '../dom.js';
import { page, section, panel, pagedTable, table, time, link, kv, badge, empty, field, form, code } from '../ui.js';
import { get, post, del, pager } from '../api.js';
import { confirmAction } from '../confirm.js';

const DESTINATIONS = '/webhook_destination/';

// The event types (WebhookType in the API's document).
const TYPES = [
  ['conversation-post-processing-complete', 'Conversation post-processing complete'],
  ['agent-framework-resource-updated', 'Agent, context graph, service or dynamic behavior changed'],
  ['api-key-expiration-soon', 'API key expires soon'],
];

function destinationPath(id, ...more) {
  return [DESTINATIONS + encodeURIComponent(id), ...more].join('/');
}

// typeChoices is a group of checkboxes, one an event type.
function typeChoices(checked = []) {
  return h(
    'fieldset',
    { class: 'choices' },
    h('legend', null, 'Event types'),
    TYPES.map(([value, text]) =>
      h(
        'label',
        { class: 'choice' },
        h('input', { type: 'checkbox', name: 'accepted_types', value, checked: checked.includes(value) }),
        ' ',
        text,
        ' ',
        h('code', { class: 'id' }, value),
      ),
    ),
  );
}

function retriesInput(value = 3) {
  return field(
    'Retries',
    h('input', { name: 'retry_attempts', type: 'number', min: '1', max: '5', step: '1', value: String(value), required: true }),
    'Retries after a failed first attempt, 1 to 5: waited for 5, 10, 20 and 20 seconds.',
  );
}

// secretShown shows a secret the API answers only once.
function secretShown(heading, secret, more) {
  return h(
    'div',
    { class: 'secret', role: 'status' },
    h('strong', null, heading),
    h('p', null, 'Copy it now: it is shown here only this once, and it is not kept by the console. Use it to verify the signature of every delivery.'),
    h('code', { class: 'secret-value' }, secret),
    more,
  );
}

function typeList(types) {
  if (!types || !types.length) return h('span', { class: 'muted' }, 'none');
  return h('ul', { class: 'plain' }, types.map((t) => h('li', null, h('code', null, t))));
}

route('/webhooks', ({ main, signal }) => {
  const list = h('div');
  const showList = () =>
    replace(
      list,
      panel(async () => {
        const body = await get(DESTINATIONS, null, { signal });
        return table(
          [
            { title: 'URL', cell: (d) => link(href('/webhooks', d.id), d.url) },
            { title: 'Event types', cell: (d) => typeList(d.accepted_types) },
            { title: 'Retries', num: true, cell: (d) => String(d.retry_attempts) },
            { title: 'Secret issued', cell: (d) => time(d.secret_generated_at) },
          ],
          body.webhook_destinations || [],
          { empty: 'No webhook destination yet.' },
        );
      }),
    );
  showList();

  const create = form(
    [
      field(
        'URL',
        h('input', { name: 'url', type: 'url', required: true, placeholder: 'https://example.com/webhooks', autocomplete: 'off', spellcheck: 'false' }),
        'HTTPS; plain http only to this machine when the server runs with --webhook-loopback on.',
      ),
      typeChoices(['conversation-post-processing-complete']),
      retriesInput(),
    ],
    async (data, el) => {
      const made = await post(DESTINATIONS, {
        url: String(data.get('url')).trim(),
        accepted_types: data.getAll('accepted_types'),
        retry_attempts: Number(data.get('retry_attempts')),
      });
      // Only the URL is cleared: reset() would empty the other fields,
      // whose values are properties rather than default attributes.
      el.elements.url.value = '';
      showList();
      return secretShown('Destination created. Its signing secret:', made.secret, h('p', null, link(href('/webhooks', made.webhook_destination_id), 'Open the destination')));
    },
    { label: 'Create destination' },
  );

  main.append(page('Webhooks', section('Destinations', list), section('New destination', create)));
});

route('/webhooks/:id', ({ main, params, signal }) => {
  const id = params.id;
  const deliveries = h('div');
  main.append(
    page(
      'Webhook destination',
      h('p', { class: 'crumbs' }, link('#/webhooks', 'Webhooks'), ' / ', h('span', { class: 'mono' }, id)),
      section('Destination', panel(() => destination(id, signal))),
      section('Deliveries', deliveries),
    ),
  );
  deliveryList(id, deliveries, signal);
});

async function fetchDestination(id, signal) {
  const body = await get(DESTINATIONS, { id }, { signal });
  return (body.webhook_destinations || [])[0] || null;
}

function facts(d) {
  return kv([
    ['URL', h('code', null, d.url)],
    ['ID', h('code', null, d.id)],
    ['Event types', typeList(d.accepted_types)],
    ['Retries', String(d.retry_attempts)],
    ['Secret issued', time(d.secret_generated_at)],
  ]);
}

// destination shows what the destination is and what may be done to it.
// After a change only its facts are loaded again, so what the change
// answered (such as a new secret) stays in view.
async function destination(id, signal) {
  const d = await fetchDestination(id, signal);
  if (!d) return empty('There is no such destination, or your role does not let you see it.');
  const info = h('div', null, facts(d));
  const refresh = async () => {
    const now = await fetchDestination(id, signal);
    if (now) replace(info, facts(now));
  };
  return [
    info,
    h('h3', null, 'Change'),
    form(
      [typeChoices(d.accepted_types), retriesInput(d.retry_attempts)],
      async (data) => {
        await post(destinationPath(id), { accepted_types: data.getAll('accepted_types'), retry_attempts: Number(data.get('retry_attempts')) });
        await refresh();
        return 'Saved.';
      },
      { label: 'Save changes' },
    ),
    h('h3', null, 'Secret'),
    confirmAction({
      label: 'Rotate secret',
      question: 'Issue a new secret? For 30 minutes each delivery is sent twice, signed with each secret; then only the new one signs.',
      yes: 'Yes, rotate',
      act: async () => {
        const r = await post(destinationPath(id, 'rotate-secret'));
        await refresh();
        return secretShown('New signing secret:', r.secret, h('p', null, 'The old secret stops signing at ', time(r.dual_signing_stops_at), '.'));
      },
    }),
    h('h3', null, 'Delete'),
    confirmAction({
      label: 'Delete destination',
      question: 'Delete this destination? No event is sent to it any more.',
      yes: 'Yes, delete it',
      danger: true,
      act: async () => {
        await del(destinationPath(id));
        location.hash = '#/webhooks';
      },
    }),
  ];
}

// deliveryList shows the destination's deliveries, newest first, filtered
// by status and type, each with its attempts.
function deliveryList(id, el, signal) {
  const status = h('select', { name: 'status' }, h('option', { value: '' }, 'Any'), h('option', { value: 'success' }, 'Succeeded'), h('option', { value: 'failed' }, 'Failed'));
  const type = h('select', { name: 'type' }, h('option', { value: '' }, 'Any'), TYPES.map(([v]) => h('option', { value: v }, v)));
  const holder = h('div');
  const show = () =>
    replace(
      holder,
      pagedTable({
        columns: [
          { title: 'Queued', cell: (d) => time(d.created_at) },
          { title: 'Type', cell: (d) => h('code', null, d.type) },
          { title: 'Status', cell: (d) => (d.status === 'success' ? badge('success', 'ok') : badge('failed', 'bad')) },
          { title: 'Attempts', cell: (d) => attempts(d) },
          { title: 'Body', cell: (d) => h('details', null, h('summary', null, 'Body sent'), code(d.webhook_content), h('small', { class: 'muted' }, 'Idempotency key ', h('code', null, d.id))) },
        ],
        load: pager(destinationPath(id, 'delivery'), 'webhook_deliveries', {
          sort_by: '-created_at',
          limit: 20,
          status: status.value || null,
          type: type.value || null,
        }),
        emptyText: status.value || type.value ? 'No delivery matches.' : 'Nothing has been sent to this destination in the last 30 days.',
        signal,
      }),
    );
  status.addEventListener('change', show);
  type.addEventListener('change', show);
  show();
  replace(el, h('div', { class: 'toolbar' }, field('Status', status), field('Event type', type)), h('div', { class: 'stack-narrow' }, holder));
}

// attempts lists a delivery's attempts, oldest first, with each one's
// status code (0: no answer came) and the wait since the one before.
function attempts(d) {
  const list = d.delivery_attempts || [];
  if (!list.length) return h('span', { class: 'muted' }, 'none yet');
  let prev = Date.parse(d.created_at);
  const items = list.map((a, i) => {
    const at = Date.parse(a.delivery_time);
    const wait = Number.isNaN(at) || Number.isNaN(prev) ? null : Math.max(0, at - prev);
    prev = at;
    const ok = a.status_code >= 200 && a.status_code < 300;
    return h(
      'li',
      { class: ['attempt', ok ? null : 'failed'] },
      h('span', { class: 'attempt-n' }, `#${i + 1}`),
      badge(a.status_code === 0 ? 'no answer' : String(a.status_code), ok ? 'ok' : 'bad'),
      time(a.delivery_time),
      wait == null ? null : h('small', { class: 'muted' }, i === 0 ? `${seconds(wait)} after queued` : `${seconds(wait)} after #${i}`),
    );
  });
  const last = list[list.length - 1];
  return h(
    'details',
    { class: 'attempts' },
    h('summary', null, `${list.length} ${list.length === 1 ? 'attempt' : 'attempts'}, last `, last.status_code === 0 ? 'no answer' : String(last.status_code)),
    h('ol', { class: 'attempt-list' }, items),
  );
}

function seconds(ms) {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
