// Metrics: the questions a judge answers about conversations; one metric
// with its versions and its latest results, each with the judge's
// justification and what it judged (a conversation or a simulation run).
import { route, href } from '../router.js';
import { h } from '../dom.js';
import { page, section, panel, pagedTable, time, link, kv, badge, empty } from '../ui.js';
import { get, pager } from '../api.js';
import { resultText } from './simulations.js';

function tags(list) {
  if (!list || !list.length) return h('span', { class: 'muted' }, '—');
  return list.map((t) => h('span', { class: 'badge' }, t.value == null ? t.key : `${t.key}: ${t.value}`));
}

// valueText says what a version's result may be.
function valueText(v) {
  if (!v) return '—';
  if (v.type === 'numerical') return `number from ${v.lower_bound} to ${v.upper_bound}`;
  if (v.type === 'categorical') return `one of ${(v.categories || []).join(', ')}`;
  if (v.type === 'boolean') return 'yes or no';
  return v.type;
}

route('/metrics', ({ main, signal }) => {
  main.append(
    page(
      'Metrics',
      section(
        'Metrics',
        pagedTable({
          columns: [
            { title: 'Name', cell: (m) => link(href('/metrics', m.id), m.name) },
            { title: 'Type', cell: (m) => m.metric_value_type },
            { title: 'Services', num: true, cell: (m) => String((m.applied_to_services || []).length) },
            { title: 'Tags', cell: (m) => tags(m.tags) },
            { title: 'Updated', cell: (m) => time(m.updated_at) },
          ],
          load: pager('/metric/', 'metrics', { sort_by: '-updated_at', limit: 50 }),
          emptyText: 'No metric yet.',
          signal,
        }),
      ),
    ),
  );
});

route('/metrics/:id', ({ main, params, signal }) => {
  const id = params.id;
  const title = h('span', null, 'Metric');
  main.append(
    page(
      title,
      h('p', { class: 'crumbs' }, link('#/metrics', 'Metrics'), ' / ', h('span', { class: 'mono' }, id)),
      section(
        'Metric',
        panel(async () => {
          const body = await get('/metric/', { id, limit: 1 }, { signal });
          const m = (body.metrics || [])[0];
          if (!m) return empty('There is no such metric, or your role does not let you see it.');
          title.textContent = `Metric: ${m.name}`;
          document.title = `${title.textContent} · Compadre`;
          return kv([
            ['Name', m.name],
            ['ID', h('code', null, m.id)],
            ['Type', m.metric_value_type],
            ['Applied to services', (m.applied_to_services || []).length ? m.applied_to_services.map((s) => h('code', { class: 'id block' }, s)) : null],
            ['Notes', m.additional_notes],
            ['Tags', tags(m.tags)],
            ['Created', time(m.created_at)],
            ['Updated', time(m.updated_at)],
            m.is_deleted ? ['Deleted', badge('deleted', 'bad')] : null,
          ]);
        }),
      ),
      section(
        'Versions',
        pagedTable({
          columns: [
            { title: 'Version', num: true, cell: (v) => String(v.version) },
            { title: 'Description', cell: (v) => h('span', { class: 'prose' }, v.description) },
            { title: 'Result', cell: (v) => valueText(v.metric_value) },
            { title: 'Created', cell: (v) => time(v.created_at) },
          ],
          load: pager(`/metric/${encodeURIComponent(id)}/version`, 'metric_versions', { sort_by: '-version', limit: 10 }),
          emptyText: 'No version yet.',
          signal,
        }),
      ),
      section(
        'Recent results',
        h('div', { class: 'stack-narrow' }, pagedTable({
          columns: [
            { title: 'Evaluated', cell: (r) => time(r.created_at) },
            { title: 'Version', num: true, cell: (r) => String(r.metric_version) },
            { title: 'Result', cell: (r) => h('strong', null, resultText(r.result)) },
            { title: 'Justification', cell: (r) => h('span', { class: 'justification' }, r.justification) },
            { title: 'Judged', cell: (r) => source(r.source) },
          ],
          load: pager('/metric/metric_evaluation_result', 'metric_evaluation_results', { metric_id: id, sort_by: '-created_at', limit: 25 }),
          emptyText: 'This metric has not been evaluated yet.',
          signal,
        })),
      ),
    ),
  );
});

// source says what a result judged, with a link to it.
function source(s) {
  if (!s) return '—';
  if (s.type === 'simulation') {
    return h(
      'span',
      null,
      link(href('/simulations/runs', s.simulation_unit_test_set_run_id), 'Simulation run'),
      h('small', { class: 'muted block' }, `unit test ${s.unit_test_id}, run ${s.run_index + 1}`),
    );
  }
  return h(
    'span',
    null,
    link(href('/conversations', s.conversation_id), 'Conversation'),
    h('small', { class: 'muted block' }, s.type === 'manual' ? 'evaluated on request' : 'after the conversation'),
  );
}
