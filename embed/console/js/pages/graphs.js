// Context graphs: the list (get-service-hierarchical-state-machines) and
// one graph's versions (get-service-hierarchical-state-machine-versions),
// the chosen version drawn as states and transitions, with a table of its
// states below for reading (and for screen readers).
import { h, s } from '../dom.js';
import { get, pager } from '../api.js';
import { route, href } from '../router.js';
import { page, section, panel, pagedTable, time, kv, badge, empty, table } from '../ui.js';

const SM = '/organization/service_hierarchical_state_machine';

route('/context-graphs', ({ main, signal }) => {
  main.append(
    page(
      'Context graphs',
      section(
        'State machines',
        pagedTable({
          signal,
          emptyText: 'No context graphs yet.',
          load: pager(SM, 'service_hierarchical_state_machines', { limit: 50 }),
          columns: [
            { title: 'Name', cell: (g) => h('a', { href: href('/context-graphs', g.id) }, g.name) },
            { title: 'Latest version', num: true, cell: (g) => (g.latest_version == null ? '—' : String(g.latest_version)) },
            { title: 'Status', cell: (g) => (g.deprecated ? badge('deprecated', 'warn') : badge('active', 'ok')) },
            { title: 'ID', cell: (g) => h('span', { class: 'mono' }, g.id) },
          ],
        }),
      ),
    ),
  );
});

route('/context-graphs/:id', async ({ main, params, query, signal }) => {
  const id = params.id;
  const asked = query.get('version') || '';
  const wanted = /^[1-9][0-9]{0,8}$/.test(asked) ? Number(asked) : 'latest';
  // The graph's name and newest version, for the heading and to mark the
  // version shown; without them the page goes on with the ID.
  let sm = null;
  try {
    const body = await get(SM, { id, limit: 1 }, { signal });
    sm = (body.service_hierarchical_state_machines || [])[0] || null;
  } catch (err) {
    if (err.name === 'AbortError') return;
  }
  const shown = wanted === 'latest' ? sm && sm.latest_version : wanted;
  const versionLink = (n) => `${href('/context-graphs', id)}?version=${n}`;

  main.append(
    page(
      sm ? sm.name : 'Context graph',
      h(
        'p',
        { class: 'crumbs' },
        h('a', { href: href('/context-graphs') }, '← Context graphs'),
        ' ',
        h('span', { class: 'mono muted' }, id),
        sm && sm.deprecated ? [' ', badge('deprecated', 'warn')] : null,
      ),
      section(
        wanted === 'latest' ? 'Latest version' : `Version ${wanted}`,
        panel(async () => {
          const body = await get(`${SM}/${encodeURIComponent(id)}/version`, { version: String(wanted), limit: 1 }, { signal });
          const v = (body.state_machine_versions || [])[0];
          if (!v) return empty('This context graph has no version yet.');
          return versionView(v);
        }, { what: 'Loading the version…' }),
      ),
      section(
        'Versions',
        pagedTable({
          signal,
          emptyText: 'No versions yet.',
          load: pager(`${SM}/${encodeURIComponent(id)}/version`, 'state_machine_versions', { limit: 10, sort_by: ['-version'] }),
          columns: [
            {
              title: 'Version',
              cell: (v) => [h('a', { href: versionLink(v.version) }, `Version ${v.version}`), v.version === shown ? [' ', badge('shown')] : null],
            },
            { title: 'Created', cell: (v) => time(v.created_at) },
            { title: 'States', num: true, cell: (v) => String((v.states || []).length) },
            { title: 'Description', cell: (v) => v.description || h('span', { class: 'muted' }, '—') },
          ],
        }),
      ),
    ),
  );
});

// versionView shows a version: its settings, the drawing, the states.
function versionView(v) {
  const refs = Object.entries(v.references || {});
  return [
    kv([
      ['Version', String(v.version)],
      ['Created', time(v.created_at)],
      ['Description', v.description],
      ['Initial state (new user)', h('span', { class: 'state-name' }, v.new_user_initial_state)],
      ['Initial state (returning user)', h('span', { class: 'state-name' }, v.returning_user_initial_state)],
      ['Terminal state', h('span', { class: 'state-name' }, v.terminal_state)],
      refs.length
        ? [
            'References',
            h(
              'ul',
              { class: 'plain' },
              refs.map(([name, [refId, n]]) => h('li', null, h('span', { class: 'state-name' }, name), ': ', h('a', { href: `${href('/context-graphs', refId)}?version=${n}` }, `${refId}, version ${n}`))),
            ),
          ]
        : null,
    ]),
    drawGraph(v),
    legend(),
    h('h3', null, 'States'),
    statesTable(v),
  ];
}

// ---------------------------------------------------------------- the model

// exitsOf lists a state's transitions: the exit conditions of action and
// decision states, the single next state of the others.
function exitsOf(st) {
  if (Array.isArray(st.exit_conditions)) return st.exit_conditions.map((e) => ({ label: e.description, next: e.next_state }));
  if (st.next_state != null) return [{ label: '', next: st.next_state }];
  return [];
}

// model turns a version into nodes and edges. A next state given as a
// pair enters a state of a referenced graph ("ref.state") and comes back
// to a state of this one: the referenced state is drawn as a node of its
// own (not a state of this graph), with a dashed link back.
function model(v) {
  const nodes = new Map();
  for (const st of v.states || []) nodes.set(st.name, { name: st.name, kind: 'state', state: st });
  const edges = [];
  const returns = new Map();
  for (const st of v.states || []) {
    for (const ex of exitsOf(st)) {
      let to = ex.next;
      if (Array.isArray(to)) {
        const [entered, back] = to;
        to = entered;
        if (!nodes.has(entered)) nodes.set(entered, { name: entered, kind: 'ref' });
        returns.set(`${entered}\n${back}`, { from: entered, to: back });
      } else if (!nodes.has(to)) {
        nodes.set(to, { name: to, kind: 'ref' });
      }
      edges.push({ from: st.name, to, label: ex.label });
    }
  }
  return { nodes, edges, returns: [...returns.values()] };
}

// ---------------------------------------------------------------- the layout

const W = 156; // node width
const H = 46; // node height
const COL_GAP = 74;
const ROW_GAP = 26;
const PAD = 16;
const LEFT = 40; // room for the initial state's entry arrow
const RIGHT = 56; // room for loops and same-column arcs

// layout puts each node in a column by its BFS depth from the initial
// states (unreachable ones in a last column), orders each column by the
// mean row of its neighbours in the previous one (fewer crossings), and
// answers positions.
function layout(m, initials) {
  const succ = new Map([...m.nodes.keys()].map((n) => [n, []]));
  const pred = new Map([...m.nodes.keys()].map((n) => [n, []]));
  for (const e of [...m.edges, ...m.returns]) {
    if (!succ.has(e.from) || !succ.has(e.to) || e.from === e.to) continue;
    succ.get(e.from).push(e.to);
    pred.get(e.to).push(e.from);
  }
  const col = new Map();
  const order = [];
  const queue = [];
  for (const n of initials) {
    if (m.nodes.has(n) && !col.has(n)) {
      col.set(n, 0);
      queue.push(n);
    }
  }
  while (queue.length) {
    const n = queue.shift();
    order.push(n);
    for (const t of succ.get(n)) {
      if (!col.has(t)) {
        col.set(t, col.get(n) + 1);
        queue.push(t);
      }
    }
  }
  const reached = order.length ? Math.max(...order.map((n) => col.get(n))) + 1 : 0;
  for (const n of m.nodes.keys()) {
    if (!col.has(n)) {
      col.set(n, reached);
      order.push(n);
    }
  }
  const ncols = Math.max(...col.values()) + 1;
  const columns = Array.from({ length: ncols }, () => []);
  for (const n of order) columns[col.get(n)].push(n);

  // Barycentre ordering, a few sweeps each way.
  const row = new Map();
  const index = () => columns.forEach((c) => c.forEach((n, i) => row.set(n, i)));
  index();
  const sweep = (cols, neighbours) => {
    for (const c of cols) {
      const key = new Map(
        columns[c].map((n, i) => {
          const ns = neighbours.get(n).filter((o) => col.get(o) !== c);
          return [n, ns.length ? ns.reduce((a, o) => a + row.get(o), 0) / ns.length : i];
        }),
      );
      columns[c].sort((a, b) => key.get(a) - key.get(b));
      columns[c].forEach((n, i) => row.set(n, i));
    }
  };
  const forward = [...Array(ncols).keys()].slice(1);
  const backward = [...Array(ncols).keys()].reverse().slice(1);
  for (let i = 0; i < 3; i++) {
    sweep(forward, pred);
    sweep(backward, succ);
  }
  sweep(forward, pred);

  const rows = Math.max(...columns.map((c) => c.length));
  const pos = new Map();
  columns.forEach((c, ci) => {
    // Each column is centred on the tallest one.
    const top = ((rows - c.length) * (H + ROW_GAP)) / 2;
    c.forEach((n, ri) => pos.set(n, { x: LEFT + ci * (W + COL_GAP), y: top + ri * (H + ROW_GAP), col: ci }));
  });
  return { pos, width: LEFT + ncols * (W + COL_GAP) - COL_GAP + RIGHT, height: rows * (H + ROW_GAP) - ROW_GAP };
}

// routes answers the path of every link (edges and returns alike):
//  - forward, to a later column: a curve from a's right side to b's left;
//  - within a column: an arc out of a's right side into b's right side;
//  - back, to an earlier column: out of a's right side, along a lane above
//    (or below) every row, and down (or up) the gap left of b's column into
//    b's left side. Only the gaps between columns are crossed, never a box,
//    so an arrow never seems to end at a state it passes. Links back to the
//    same state share a lane;
//  - to itself: a loop on the top right corner.
// Where several links leave or enter a side, their ends are spread along
// it, in the order of the other ends, so they do not cross at the box.
function routes(links, pos, height, initials) {
  const kind = (l) => {
    const a = pos.get(l.from);
    const b = pos.get(l.to);
    if (l.from === l.to) return 'loop';
    if (b.col > a.col) return 'forward';
    if (b.col === a.col) return 'side';
    return 'back';
  };
  // Back links use the lane above when their ends are in the upper half.
  const lanes = { top: new Map(), bottom: new Map() };
  const laneOf = (l) => {
    const side = pos.get(l.from).y + pos.get(l.to).y < height - H ? 'top' : 'bottom';
    const m = lanes[side];
    if (!m.has(l.to)) m.set(l.to, m.size);
    const k = m.get(l.to);
    return { side, k, y: side === 'top' ? -(18 + 12 * k) : height + 18 + 12 * k };
  };
  const rs = links.map((l) => ({ l, kind: kind(l) }));
  for (const r of rs) if (r.kind === 'back') r.lane = laneOf(r.l);

  // Ports: [node, side] -> the links ending there, each with the height of
  // its other end to sort by.
  const ports = new Map();
  const port = (name, side, r, end, other) => {
    const key = `${name}\n${side}`;
    if (!ports.has(key)) ports.set(key, []);
    ports.get(key).push({ r, end, other });
  };
  for (const r of rs) {
    const { from, to } = r.l;
    const a = pos.get(from);
    const b = pos.get(to);
    if (r.kind === 'loop') continue;
    const laneY = r.lane ? r.lane.y : null;
    port(from, 'right', r, 'from', laneY ?? b.y);
    port(to, r.kind === 'side' ? 'right' : 'left', r, 'to', laneY ?? a.y);
  }
  // An initial state's entry arrow takes a place on its left side too.
  const entries = new Map();
  for (const n of new Set(initials)) {
    if (!pos.has(n)) continue;
    const r = { entry: true };
    entries.set(n, r);
    port(n, 'left', r, 'to', pos.get(n).y);
  }
  for (const [key, list] of ports) {
    const name = key.split('\n')[0];
    const p = pos.get(name);
    list.sort((x, y) => x.other - y.other);
    const step = list.length > 1 ? Math.min(9, (H - 12) / (list.length - 1)) : 0;
    list.forEach((it, i) => {
      it.r[it.end === 'from' ? 'y1' : 'y2'] = p.y + H / 2 + (i - (list.length - 1) / 2) * step;
    });
  }

  const paths = rs.map((r) => {
    const a = pos.get(r.l.from);
    const b = pos.get(r.l.to);
    if (r.kind === 'loop') {
      const sx = a.x + W - 30;
      const ex = a.x + W;
      const ey = a.y + 12;
      return { ...r, d: `M ${sx} ${a.y} C ${sx} ${a.y - 34}, ${ex + 34} ${ey}, ${ex} ${ey}`, top: a.y - 28 };
    }
    const { y1, y2 } = r;
    if (r.kind === 'forward') {
      const x1 = a.x + W;
      const x2 = b.x;
      const dx = Math.max(30, (x2 - x1) / 2);
      return { ...r, d: `M ${x1} ${y1} C ${x1 + dx} ${y1}, ${x2 - dx} ${y2}, ${x2} ${y2}` };
    }
    if (r.kind === 'side') {
      const x = a.x + W;
      const bulge = 26 + Math.min(28, Math.abs(y2 - y1) / 6);
      return { ...r, d: `M ${x} ${y1} C ${x + bulge} ${y1}, ${x + bulge} ${y2}, ${x} ${y2}` };
    }
    const k = r.lane.k % 6; // offsets kept within the gaps between columns
    const xa = a.x + W + 12 + 4 * k;
    const xb = b.x - 12 - 4 * k;
    return {
      ...r,
      d: `M ${a.x + W} ${y1} H ${xa} V ${r.lane.y} H ${xb} V ${y2} H ${b.x}`,
      top: r.lane.side === 'top' ? r.lane.y : null,
      bottom: r.lane.side === 'bottom' ? r.lane.y : null,
    };
  });
  return { paths, entries };
}

let graphs = 0;

// drawGraph draws a version as SVG: each state a box (g.state with
// data-name), each transition an arrow (path.edge with data-from and
// data-to); the initial states have an entry arrow, the terminal state a
// double border.
function drawGraph(v) {
  const m = model(v);
  if (!m.nodes.size) return empty('This version has no states.');
  const initials = [v.new_user_initial_state, v.returning_user_initial_state].filter(Boolean);
  const { pos, width, height } = layout(m, initials);
  const arrow = `arrow-${++graphs}`;

  const { paths: all, entries } = routes([...m.edges.map((e) => ({ ...e, edge: true })), ...m.returns], pos, height, initials);
  const paths = all.filter((p) => p.l.edge);
  const back = all.filter((p) => !p.l.edge);

  // Lanes and loops above the first row, and lanes below the last, need room.
  const highest = Math.min(0, ...all.map((p) => (p.top == null ? 0 : p.top)));
  const lowest = Math.max(height, ...all.map((p) => (p.bottom == null ? 0 : p.bottom)));
  const shiftY = PAD - highest;
  const total = { w: width + PAD, h: lowest + shiftY + PAD };

  const nodeView = (n) => {
    const p = pos.get(n.name);
    if (n.kind === 'ref') {
      return s(
        'g',
        { class: 'ref', transform: `translate(${p.x},${p.y})`, 'data-name': n.name },
        s('title', null, `${n.name}: a state of a referenced graph`),
        s('rect', { class: 'box', width: W, height: H, rx: 6 }),
        s('text', { class: 'name', x: W / 2, y: 19, 'text-anchor': 'middle' }, clip(n.name, 19)),
        s('text', { class: 'type', x: W / 2, y: 35, 'text-anchor': 'middle' }, 'referenced graph'),
      );
    }
    const st = n.state;
    const initial = initials.includes(n.name);
    const terminal = n.name === v.terminal_state;
    const role = [initial ? 'initial' : null, terminal ? 'terminal' : null].filter(Boolean);
    return s(
      'g',
      {
        class: ['state', `state-${st.type}`, initial ? 'initial' : null, terminal ? 'terminal' : null],
        transform: `translate(${p.x},${p.y})`,
        'data-name': n.name,
        'data-type': st.type,
      },
      s('title', null, `${n.name} (${st.type}${role.length ? `, ${role.join(', ')}` : ''})`),
      s('rect', { class: 'box', width: W, height: H, rx: 6 }),
      terminal ? s('rect', { class: 'inner', x: 4, y: 4, width: W - 8, height: H - 8, rx: 4 }) : null,
      s('text', { class: 'name', x: W / 2, y: 20, 'text-anchor': 'middle' }, clip(n.name, 19)),
      s('text', { class: 'type', x: W / 2, y: 36, 'text-anchor': 'middle' }, [st.type, ...role].join(' · ')),
    );
  };

  const svg = s(
    'svg',
    {
      class: 'graph',
      width: total.w,
      height: total.h,
      viewBox: `0 0 ${total.w} ${total.h}`,
      role: 'img',
      'aria-label': `Context graph version ${v.version}: ${(v.states || []).length} states, ${m.edges.length} transitions. The table below lists them.`,
    },
    s(
      'defs',
      null,
      s('marker', { id: arrow, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 8, markerHeight: 8, orient: 'auto-start-reverse', class: 'arrowhead' }, s('path', { d: 'M 0 0 L 10 5 L 0 10 z' })),
    ),
    s(
      'g',
      { transform: `translate(0,${shiftY})` },
      // Edges first, so the boxes cover where they pass behind.
      s(
        'g',
        { class: 'edges' },
        paths.map((p) =>
          s(
            'path',
            { class: ['edge', p.kind], d: p.d, 'data-from': p.l.from, 'data-to': p.l.to, 'marker-end': `url(#${arrow})` },
            s('title', null, `${p.l.from} → ${p.l.to}${p.l.label ? `: ${p.l.label}` : ''}`),
          ),
        ),
        back.map((p) =>
          s('path', { class: ['return', p.kind], d: p.d, 'data-from': p.l.from, 'data-to': p.l.to, 'marker-end': `url(#${arrow})` }, s('title', null, `back from ${p.l.from} to ${p.l.to}`)),
        ),
      ),
      // The initial states' entry arrows.
      [...entries].map(([n, r]) => {
        const p = pos.get(n);
        return s(
          'g',
          { class: 'entry' },
          s('circle', { cx: p.x - 30, cy: r.y2, r: 5 }),
          s('line', { x1: p.x - 25, y1: r.y2, x2: p.x - 1, y2: r.y2, 'marker-end': `url(#${arrow})` }),
        );
      }),
      s('g', { class: 'nodes' }, [...m.nodes.values()].map(nodeView)),
    ),
  );
  return h('div', { class: 'graph-wrap', tabindex: '0', 'aria-label': 'Context graph drawing; scrolls sideways' }, svg);
}

function clip(text, n) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

function legend() {
  const kinds = ['action', 'decision', 'recall', 'annotation', 'reflection', 'tool-call'];
  return h(
    'ul',
    { class: 'legend graph-legend' },
    kinds.map((k) => h('li', null, h('i', { class: `swatch state-${k}` }), k)),
    h('li', null, h('i', { class: 'swatch initial' }), 'initial (entry arrow)'),
    h('li', null, h('i', { class: 'swatch terminal' }), 'terminal (double border)'),
    h('li', null, h('i', { class: 'swatch back' }), 'transition to an earlier column (dashed)'),
  );
}

// ---------------------------------------------------------------- the table

function nextName(next) {
  return Array.isArray(next) ? `${next[0]}, then back to ${next[1]}` : next;
}

function doesWhat(st) {
  switch (st.type) {
    case 'action':
      return [st.objective, (st.actions || []).length ? h('div', { class: 'muted' }, 'Actions: ', st.actions.join('; ')) : null];
    case 'decision':
      return st.objective;
    case 'annotation':
      return ['Inner thought: ', st.inner_thought];
    case 'reflection':
      return ['Reflects on: ', st.problem];
    case 'recall':
      return ['Recalls: ', (st.queries || []).join('; ') || st.requested_information || '—'];
    case 'tool-call':
      return ['Calls ', st.designated_tool ? h('a', { href: href('/tools', st.designated_tool.tool_id) }, st.designated_tool.tool_id) : '—', st.designated_tool_call_objective ? `: ${st.designated_tool_call_objective}` : ''];
    default:
      return '—';
  }
}

function statesTable(v) {
  const initials = new Set([v.new_user_initial_state, v.returning_user_initial_state]);
  return table(
    [
      {
        title: 'State',
        cell: (st) => [
          h('span', { class: 'state-name' }, st.name),
          initials.has(st.name) ? [' ', badge('initial')] : null,
          st.name === v.terminal_state ? [' ', badge('terminal')] : null,
        ],
      },
      { title: 'Type', cell: (st) => st.type },
      {
        title: 'Exits',
        cell: (st) => {
          const exits = exitsOf(st);
          if (!exits.length) return h('span', { class: 'muted' }, 'none');
          return h(
            'ul',
            { class: 'plain exits' },
            exits.map((e) => h('li', null, e.label ? [e.label, ' → '] : '→ ', h('span', { class: 'state-name' }, nextName(e.next)))),
          );
        },
      },
      { title: 'What it does', cell: doesWhat },
    ],
    v.states || [],
    { caption: `${(v.states || []).length} states`, empty: 'No states.' },
  );
}
