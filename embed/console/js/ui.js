// Building blocks every page uses: page frame, panels that load, tables
// paged like the API, times in the viewer's zone, and how a refusal or a
// failure is shown.
import { h, replace } from './dom.js';

export function page(title, ...children) {
  return h('section', { class: 'page' }, h('h1', { tabindex: '-1' }, title), ...children);
}

export function section(title, ...children) {
  return h('section', { class: 'panel' }, h('h2', null, title), ...children);
}

export function loading(what = 'Loading…') {
  return h('p', { class: 'loading', role: 'status', 'aria-busy': 'true' }, what);
}

export function empty(text) {
  return h('p', { class: 'empty' }, text);
}

// problem shows why something could not be loaded: a missing permission
// as what it is (the page goes on), anything else with its status.
export function problem(err) {
  if (err && err.name === 'AbortError') return null;
  if (err && err.status === 403) {
    return h(
      'p',
      { class: 'denied', role: 'note' },
      'Your role does not allow this',
      err.permission ? [': it needs ', h('code', null, err.permission), '.'] : [': ', String(err.message)],
    );
  }
  if (err && err.status === 429) {
    return h('p', { class: 'error', role: 'alert' }, 'Rate limited by the API; try again in a moment. ', String(err.message));
  }
  if (err && err.status) {
    return h('p', { class: 'error', role: 'alert' }, `${err.status}: `, String(err.message));
  }
  return h('p', { class: 'error', role: 'alert' }, String((err && err.message) || err));
}

// panel answers an element at once and fills it with what load() answers
// (a node, a string or an array of them), showing loading meanwhile and
// problem(err) if it fails.
export function panel(load, { what } = {}) {
  const el = h('div', { class: 'panel-body' }, loading(what));
  Promise.resolve()
    .then(load)
    .then(
      (content) => replace(el, content),
      (err) => replace(el, problem(err)),
    );
  return el;
}

// table renders rows; columns are {title, cell(row) -> node|string, num}.
export function table(columns, rows, { caption, empty: emptyText = 'Nothing here yet.' } = {}) {
  if (!rows.length) return empty(emptyText);
  return tableOf(columns, caption, h('tbody', null, rows.map((r) => row(columns, r))));
}

// tableOf is a scrollable table of columns over tbody.
function tableOf(columns, caption, tbody) {
  return h('div', { class: 'table-wrap' }, h('table', null, caption ? h('caption', null, caption) : null, thead(columns), tbody));
}

function thead(columns) {
  return h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.title))));
}

function row(columns, r) {
  return h('tr', null, columns.map((c) => h('td', { class: c.num ? 'num' : null }, c.cell(r))));
}

// pagedTable renders a list the API pages: the first page at once, then a
// "Load more" button while the API says there is more. load(token,
// {signal}) answers {items, next}; onItems(all) is called after each page
// (for a chart over what is loaded).
export function pagedTable({ columns, load, emptyText, caption, onItems, signal }) {
  const wrap = h('div', { class: 'paged' }, loading());
  const all = [];
  let tbody = null;
  const more = h('button', { type: 'button', class: 'more' }, 'Load more');
  const status = h('p', { class: 'count', role: 'status' });
  const fetchPage = async (token) => {
    more.disabled = true;
    try {
      const { items, next } = await load(token, { signal });
      all.push(...items);
      if (!tbody) {
        if (!items.length) {
          replace(wrap, empty(emptyText || 'Nothing here yet.'));
          if (onItems) onItems(all);
          return;
        }
        tbody = h('tbody');
        replace(
          wrap,
          tableOf(columns, caption, tbody),
          status,
          more,
        );
      }
      const frag = document.createDocumentFragment();
      for (const it of items) frag.append(row(columns, it));
      tbody.append(frag);
      status.textContent = `${all.length} shown${next ? '; more available' : ''}`;
      more.hidden = !next;
      more.disabled = false;
      more.onclick = () => fetchPage(next);
      if (onItems) onItems(all);
    } catch (err) {
      more.disabled = false;
      const p = problem(err);
      if (p) replace(wrap, p);
    }
  };
  fetchPage(null);
  return wrap;
}

const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

// time shows an API timestamp in the viewer's time zone; the exact UTC
// value is its datetime and title.
export function time(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return h('time', { datetime: iso, title: iso }, fmt.format(d));
}

export function link(hash, text) {
  return h('a', { href: hash }, text);
}

// code shows a value as formatted JSON (or a string as it is), as text.
export function code(value) {
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  return h('pre', { class: 'code' }, text == null ? 'null' : text);
}

// kv shows label/value pairs.
export function kv(pairs) {
  return h(
    'dl',
    { class: 'kv' },
    pairs.filter(Boolean).map(([k, v]) => [h('dt', null, k), h('dd', null, v == null || v === '' ? '—' : v)]),
  );
}

export function badge(text, kind = '') {
  return h('span', { class: ['badge', kind] }, text);
}

export function ms(v) {
  if (v == null) return '—';
  return v < 1000 ? `${Math.round(v * 10) / 10} ms` : `${(v / 1000).toFixed(2)} s`;
}

// field is a labelled form control.
export function field(label, control, hint) {
  return h('label', { class: 'field' }, h('span', null, label), control, hint ? h('small', null, hint) : null);
}

// form wraps controls; submit(formData) runs on submit, with the button
// disabled meanwhile and its outcome (or error) shown beside it.
export function form(children, submit, { label = 'Submit' } = {}) {
  const out = h('div', { class: 'form-out', 'aria-live': 'polite' });
  const button = h('button', { type: 'submit' }, label);
  const el = h('form', { class: 'form', novalidate: true }, children, h('div', { class: 'actions' }, button), out);
  el.addEventListener('submit', async (e) => {
    e.preventDefault();
    button.disabled = true;
    replace(out, loading('Working…'));
    try {
      replace(out, (await submit(new FormData(el), el)) ?? '');
    } catch (err) {
      replace(out, problem(err));
    } finally {
      button.disabled = false;
    }
  });
  return el;
}

