// Conversations: the list (get-conversations) and one conversation's
// transcript (get-conversation-messages), grouped by interaction, with how
// the agent answered each one (get-interaction-insights), a form to send
// the next message whose reply is shown as it streams
// (interact-with-conversation), and finish-conversation.
import { h, replace } from '../dom.js';
import { get, post, stream, pager } from '../api.js';
import { route, href } from '../router.js';
import { page, section, panel, pagedTable, time, kv, badge, field, form, loading, empty, problem, code, ms } from '../ui.js';

// The transcript looks for new messages this often while the page is open
// and the conversation unfinished. get-conversation-messages allows 20
// calls a minute; one every 6 s is 10, leaving room for "Load more" and
// for a second tab. Every STATUS_EVERY polls the conversation itself is
// read again (get-conversations allows 15 a minute) to notice a finish
// made elsewhere.
const POLL_MS = 6000;
const STATUS_EVERY = 5;
const MESSAGES_PAGE = 100;
// The message types a transcript shows; inner thoughts go to the
// interaction's details.
const MESSAGE_TYPES = ['user-message', 'agent-message', 'external-event', 'agent-inner-thought'];

// ---------------------------------------------------------------- names

// services loads the services the user may see (get-services pages 20 at a
// time), as a Map from ID to service. A refusal leaves it empty: the pages
// then show IDs.
async function services(signal) {
  const out = new Map();
  let token = null;
  try {
    for (let i = 0; i < 5; i++) {
      const body = await get('/service/', { limit: 20, continuation_token: token }, { signal });
      for (const s of body.services || []) out.set(s.id, s);
      if (!body.has_more) break;
      token = body.continuation_token;
    }
  } catch (err) {
    if (err.name === 'AbortError') throw err;
  }
  return out;
}

// userNames answers a Map from user ID to a readable name for the IDs, in
// one get-users call; a refusal answers an empty Map.
async function userNames(ids, signal) {
  const out = new Map();
  const want = [...new Set(ids)].filter(Boolean);
  if (!want.length) return out;
  try {
    const body = await get('/user/', { user_id: want.slice(0, 100), limit: 100 }, { signal });
    for (const u of body.users || []) {
      const name = [u.first_name, u.last_name].filter(Boolean).join(' ') || u.email;
      if (name) out.set(u.user_id, name);
    }
  } catch (err) {
    if (err.name === 'AbortError') throw err;
  }
  return out;
}

function serviceName(map, id) {
  const s = map.get(id);
  return s ? s.name : h('span', { class: 'mono' }, id);
}

function userName(map, id) {
  return map.has(id) ? h('span', { title: id }, map.get(id)) : h('span', { class: 'mono' }, id);
}

function statusBadge(c) {
  return c.is_finished ? badge('Finished', 'ok') : badge('In progress', 'warn');
}

function tags(t) {
  const entries = Object.entries(t || {});
  if (!entries.length) return h('span', { class: 'muted' }, '—');
  return h(
    'span',
    { class: 'tags' },
    entries.map(([k, v]) => badge(v == null ? k : `${k}: ${v}`)),
  );
}

// graphLink is the link to the context graph version a conversation runs,
// when the caller may see its version set.
function graphLink(c) {
  const info = c.version_set_info && c.version_set_info.service_hierarchical_state_machine_version_info;
  if (!info || !info[0]) return null;
  return h('a', { href: `${href('/context-graphs', info[0])}?version=${encodeURIComponent(info[1])}`, class: 'graph-link' }, `Context graph, version ${info[1]}`);
}

// ---------------------------------------------------------------- list

route('/conversations', ({ main, query, signal }) => {
  const finished = query.get('is_finished');
  const serviceId = query.get('service_id');
  const known = services(signal);
  // Names of the services and users of the rows drawn so far.
  const names = { services: new Map(), users: new Map() };

  main.append(
    page(
      'Conversations',
      filters(finished, serviceId, known),
      section(
        finished === 'true' ? 'Finished conversations' : finished === 'false' ? 'Conversations in progress' : 'All conversations',
        pagedTable({
          signal,
          emptyText: 'No conversations match.',
          load: listLoader({ finished, serviceId, known, names }),
          columns: [
            {
              title: 'Conversation',
              cell: (c) => [
                h('a', { href: href('/conversations', c.id), class: 'mono' }, c.id),
                c.final_message ? h('div', { class: 'preview muted' }, clip(c.final_message, 90)) : null,
              ],
            },
            { title: 'Service', cell: (c) => serviceName(names.services, c.service_id) },
            { title: 'User', cell: (c) => userName(names.users, c.user_id) },
            { title: 'Created', cell: (c) => time(c.created_at) },
            { title: 'Status', cell: statusBadge },
            { title: 'Messages', num: true, cell: (c) => String(c.num_messages) },
            { title: 'Tags', cell: (c) => tags(c.tags) },
          ],
        }),
      ),
    ),
  );
});

// listLoader pages get-conversations, newest first, and names each page's
// services and users before its rows are drawn.
function listLoader({ finished, serviceId, known, names }) {
  const load = pager('/conversation/', 'conversations', {
    limit: 25,
    sort_by: '-created_at',
    is_finished: finished === 'true' || finished === 'false' ? finished : null,
    service_id: serviceId || null,
  });
  return async (token, opts) => {
    const res = await load(token, opts);
    const [svc, users] = await Promise.all([known, userNames(res.items.map((c) => c.user_id), opts.signal)]);
    names.services = svc;
    for (const [id, name] of users) names.users.set(id, name);
    return res;
  };
}

// filters is the form whose choices go into the page's fragment query, so
// a filtered list can be linked to and survives a reload.
function filters(finished, serviceId, known) {
  const status = h(
    'select',
    { name: 'is_finished' },
    h('option', { value: '', selected: !finished }, 'Any'),
    h('option', { value: 'false', selected: finished === 'false' }, 'In progress'),
    h('option', { value: 'true', selected: finished === 'true' }, 'Finished'),
  );
  const service = h('select', { name: 'service_id' }, h('option', { value: '' }, 'Any service'));
  if (serviceId) service.append(h('option', { value: serviceId, selected: true }, serviceId));
  known.then((map) => {
    for (const [id, s] of map) {
      const existing = [...service.options].find((o) => o.value === id);
      if (existing) existing.textContent = s.name;
      else service.append(h('option', { value: id }, s.name));
    }
  }, () => {});
  const el = h(
    'form',
    { class: 'toolbar filters', role: 'search' },
    field('Status', status),
    field('Service', service),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Filter')),
  );
  el.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    if (status.value) q.set('is_finished', status.value);
    if (service.value) q.set('service_id', service.value);
    const qs = q.toString();
    location.hash = '/conversations' + (qs ? `?${qs}` : '');
  });
  return el;
}

function clip(text, n) {
  const t = String(text).replace(/\s+/g, ' ').trim();
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
}

// ---------------------------------------------------------------- one conversation

route('/conversations/:id', ({ main, params, signal }) => {
  const id = params.id;
  const view = new Conversation(id, signal);
  main.append(
    page(
      'Conversation',
      h('p', { class: 'crumbs' }, h('a', { href: href('/conversations') }, '← Conversations'), ' ', h('span', { class: 'mono muted' }, id)),
      section('Summary', view.summary),
      section('Transcript', view.transcript),
      view.composer,
    ),
  );
  view.start();
});

// Conversation holds one conversation's page: its summary, the transcript
// grouped by interaction, the composer, and the poll for new messages.
class Conversation {
  constructor(id, signal) {
    this.id = id;
    this.signal = signal;
    this.conv = null;
    this.finished = false;
    // busy is true while a message is streaming: the poll then waits, so
    // the turn's messages are not drawn twice.
    this.busy = false;
    this.seen = new Set();
    this.groups = new Map();
    this.invocations = null;
    // The token the newest page of messages was read with: the poll reads
    // that page again for what was added since.
    this.tailToken = null;
    this.atEnd = false;
    this.polls = 0;
    this.timer = null;

    this.summary = h('div', { class: 'panel-body' }, loading());
    this.list = h('ol', { class: 'transcript' });
    // Messages drawn from a stream, which carries neither their time nor
    // their sender's name: the next read of the newest page draws them
    // again as they were stored.
    this.pending = new Map();
    this.more = h('button', { type: 'button', class: 'more', hidden: true }, 'Load more');
    this.more.addEventListener('click', () => this.loadPage(this.nextToken));
    this.status = h('p', { class: 'count', role: 'status' });
    this.transcript = h('div', { class: 'transcript-wrap' }, loading('Loading the transcript…'));
    this.composer = h('div', { class: 'composer-slot' });
    signal.addEventListener('abort', () => clearTimeout(this.timer));
  }

  async start() {
    this.loadSummary();
    await this.loadPage(null);
    this.schedule();
  }

  // ------------------------------------------------ summary

  async loadSummary() {
    try {
      const body = await get('/conversation/', { id: this.id }, { signal: this.signal });
      const c = (body.conversations || [])[0];
      if (!c) {
        // get-conversations never lists a simulation run's conversations;
        // their messages are still readable, so the transcript follows.
        replace(this.summary, empty('get-conversations does not list this conversation: it is a simulated one (simulation runs’ conversations are never listed), or your role does not let you see it.'));
        return;
      }
      this.conv = c;
      this.finished = c.is_finished;
      const [svc, users] = await Promise.all([services(this.signal), userNames([c.user_id], this.signal)]);
      this.drawSummary(svc, users);
      if (!c.is_finished) replace(this.composer, this.makeComposer());
    } catch (err) {
      const p = problem(err);
      if (p) replace(this.summary, p);
    }
  }

  drawSummary(svc, users) {
    const c = this.conv;
    const vs = c.version_set_info;
    const agent = vs && vs.agent_version_info;
    this.statusCell = h('span', null, statusBadge(c));
    this.finishOut = h('span', { class: 'finish-out', 'aria-live': 'polite' });
    this.finishButton = c.is_finished
      ? null
      : h('button', { type: 'button', class: 'secondary finish', on: { click: () => this.finish() } }, 'Finish conversation');
    replace(
      this.summary,
      kv([
        ['Service', serviceName(svc, c.service_id)],
        ['User', userName(users, c.user_id)],
        ['Created', time(c.created_at)],
        ['Status', this.statusCell],
        ['Messages', String(c.num_messages)],
        ['Tags', tags(c.tags)],
        vs ? ['Version set', [vs.name, agent ? h('span', { class: 'muted' }, ` · agent version ${agent[1]}`) : null]] : null,
        graphLink(c) ? ['Context graph', graphLink(c)] : null,
      ]),
      this.finishButton ? h('div', { class: 'actions finish-row' }, this.finishButton, this.finishOut) : null,
    );
  }

  async finish() {
    this.finishButton.disabled = true;
    replace(this.finishOut, loading('Finishing…'));
    try {
      await post(`/conversation/${encodeURIComponent(this.id)}/finish/`);
      replace(this.finishOut, 'Finished.');
      this.markFinished();
    } catch (err) {
      this.finishButton.disabled = false;
      replace(this.finishOut, problem(err));
    }
  }

  // markFinished shows the conversation as finished: no composer, no
  // finish button, no more polling.
  markFinished() {
    this.finished = true;
    clearTimeout(this.timer);
    if (this.statusCell) replace(this.statusCell, badge('Finished', 'ok'));
    if (this.finishButton) this.finishButton.remove();
    replace(this.composer, h('p', { class: 'muted finished-note' }, 'This conversation is finished.'));
  }

  // ------------------------------------------------ transcript

  messages(token) {
    return get(
      `/conversation/${encodeURIComponent(this.id)}/messages/`,
      { message_type: MESSAGE_TYPES, limit: MESSAGES_PAGE, continuation_token: token },
      { signal: this.signal },
    );
  }

  // loadPage reads one page of messages (oldest first) and adds it.
  async loadPage(token) {
    this.more.disabled = true;
    try {
      const body = await this.messages(token);
      if (!this.list.isConnected) replace(this.transcript, this.list, this.status, this.more);
      this.tailToken = token;
      this.addMessages(body.messages || []);
      this.nextToken = body.has_more ? body.continuation_token : null;
      this.atEnd = !body.has_more;
      this.more.hidden = this.atEnd;
      this.more.disabled = false;
      this.showCount();
    } catch (err) {
      this.more.disabled = false;
      const p = problem(err);
      if (p) replace(this.transcript, p);
    }
  }

  showCount() {
    const n = this.groups.size;
    this.status.textContent = n
      ? `${n} interaction${n === 1 ? '' : 's'} shown${this.atEnd ? '' : '; more available'}`
      : '';
    if (!n && this.atEnd && !this.list.querySelector('li')) this.status.textContent = 'No messages yet.';
  }

  addMessages(msgs) {
    for (const m of msgs) {
      if (this.seen.has(m.id)) {
        const drawn = this.pending.get(m.id);
        if (drawn) drawn.replaceWith(messageView(m));
        this.pending.delete(m.id);
        continue;
      }
      this.seen.add(m.id);
      const g = this.group(m.interaction_id);
      if (m.message_type === 'agent-inner-thought') g.addThought(m);
      else g.addMessage(messageView(m));
    }
  }

  // group answers the interaction's group, adding it at the end if new.
  group(interactionId) {
    let g = this.groups.get(interactionId);
    if (!g) {
      g = new Interaction(this, interactionId);
      this.groups.set(interactionId, g);
      this.list.append(g.el);
    }
    return g;
  }

  // ------------------------------------------------ polling

  schedule() {
    clearTimeout(this.timer);
    if (this.signal.aborted || this.finished) return;
    this.timer = setTimeout(() => this.poll(), this.delay || POLL_MS);
  }

  async poll() {
    if (this.signal.aborted || this.finished) return;
    // A hidden tab, a turn streaming, or older pages not all read yet
    // ("Load more" reaches the end): nothing to poll for now.
    if (!document.hidden && !this.busy && this.atEnd) {
      try {
        await this.refreshTail();
        this.polls++;
        if (this.polls % STATUS_EVERY === 0) await this.refreshStatus();
        this.delay = POLL_MS;
      } catch (err) {
        if (err.name === 'AbortError') return;
        // Rate limited or failing: wait longer before the next try.
        this.delay = Math.min((this.delay || POLL_MS) * 2, 60000);
      }
    }
    this.schedule();
  }

  // refreshTail reads the newest page again, and the pages after it, and
  // adds the messages not shown yet.
  async refreshTail() {
    let token = this.tailToken;
    for (let i = 0; i < 5; i++) {
      const body = await this.messages(token);
      // A turn began streaming meanwhile: it draws its own messages.
      if (this.busy) return;
      this.addMessages(body.messages || []);
      if (!body.has_more) break;
      token = body.continuation_token;
      this.tailToken = token;
    }
    this.showCount();
  }

  async refreshStatus() {
    const body = await get('/conversation/', { id: this.id }, { signal: this.signal });
    const c = (body.conversations || [])[0];
    if (c && c.is_finished && !this.finished) this.markFinished();
  }

  // invocationsOf answers the conversation's tool invocations (one
  // get-tool-invocations read, shared by every interaction), by
  // interaction ID. Without the permission the tool calls are shown
  // without links to their invocations.
  invocationsOf(interactionId) {
    if (!this.invocations) {
      this.invocations = (async () => {
        const byInteraction = new Map();
        let token = null;
        try {
          for (let i = 0; i < 5; i++) {
            const body = await get('/tool/invocation', { conversation_id: this.id, limit: 100, continuation_token: token, sort_by: ['+created_at'] }, { signal: this.signal });
            for (const inv of body.tool_invocations || []) {
              const key = inv.invocation_source && inv.invocation_source.interaction_id;
              if (!byInteraction.has(key)) byInteraction.set(key, []);
              byInteraction.get(key).push(inv);
            }
            if (!body.has_more) break;
            token = body.continuation_token;
          }
        } catch (err) {
          if (err.name === 'AbortError') throw err;
        }
        return byInteraction;
      })();
    }
    return this.invocations.then((m) => m.get(interactionId) || []);
  }

  // forgetInvocations makes the next read fetch them again (after a turn).
  forgetInvocations() {
    this.invocations = null;
  }

  // ------------------------------------------------ composer

  makeComposer() {
    const text = h('textarea', { name: 'recorded_message', rows: 3, required: true, maxlength: 20000, spellcheck: 'true' });
    text.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        text.form.requestSubmit();
      }
    });
    const el = form(
      [field('Message', text, 'Sent as the conversation’s user; Ctrl+Enter sends.')],
      async () => {
        const message = text.value;
        if (!message.trim()) return h('p', { class: 'error', role: 'alert' }, 'Write a message first.');
        const outcome = await this.send(message);
        if (outcome.ok) text.value = '';
        return outcome.note;
      },
      { label: 'Send' },
    );
    el.classList.add('composer');
    return h('section', { class: 'panel' }, h('h2', null, 'Send a message'), el);
  }

  // send streams one turn: the user's message, the agent's actions as they
  // happen, and its reply growing piece by piece; then the interaction's
  // insights.
  async send(message) {
    this.busy = true;
    clearTimeout(this.timer);
    const live = new LiveTurn(this);
    this.list.append(live.el);
    live.el.scrollIntoView({ block: 'nearest' });
    const body = new FormData();
    body.append('initial_message_type', 'user-message');
    body.append('recorded_message', message);
    let done = null;
    try {
      // Not stopped when the reader leaves the page: the server drops a
      // turn whose stream is cut, and the message sent would be lost. The
      // turn completes in the background; what follows it checks signal.
      await stream(
        `/conversation/${encodeURIComponent(this.id)}/interact`,
        { query: { request_format: 'text', response_format: 'text' }, body },
        (ev) => {
          if (ev.type === 'interaction-complete') done = ev;
          live.event(ev);
        },
      );
    } catch (err) {
      this.busy = false;
      this.schedule();
      // Refused before anything streamed (a 409 while another turn runs,
      // a 429): the form says why, and there is no turn to show.
      if (!live.started) {
        live.el.remove();
        throw err;
      }
      live.fail(err);
      return { ok: false, note: '' };
    }
    this.busy = false;
    if (!done) {
      this.schedule();
      return { ok: false, note: live.errorNote || h('p', { class: 'error', role: 'alert' }, 'The turn ended without completing; nothing of it was kept.') };
    }
    // The turn's group becomes the interaction's, and what the stream did
    // not carry (inner thoughts) comes with the next read of the newest page.
    live.complete(done);
    this.forgetInvocations();
    try {
      await this.refreshTail();
    } catch (err) {
      if (err.name === 'AbortError') return { ok: true, note: '' };
    }
    if (done.conversation_completed) this.markFinished();
    else this.schedule();
    return { ok: true, note: done.conversation_completed ? 'Sent. The agent ended the conversation.' : 'Sent.' };
  }
}

// ---------------------------------------------------------------- an interaction

// Interaction is one interaction's group in the transcript: its messages,
// then a <details> with how the agent answered, loaded when first opened.
class Interaction {
  constructor(conv, interactionId) {
    this.conv = conv;
    this.id = interactionId;
    this.thoughts = [];
    this.msgs = h('div', { class: 'messages' });
    this.thoughtList = h('ul', { class: 'thoughts' });
    this.insightsBody = h('div', { class: 'insights-body' });
    this.loaded = false;
    this.details = h(
      'details',
      { class: 'insights' },
      h('summary', null, 'How the agent answered: states, tools, inner thoughts'),
      this.insightsBody,
      h('h3', null, 'Inner thoughts'),
      this.thoughtList,
    );
    this.drawThoughts();
    this.details.addEventListener('toggle', () => {
      if (this.details.open && !this.loaded) this.loadInsights();
    });
    this.el = h(
      'li',
      { class: 'interaction', dataset: { interaction: interactionId || '' } },
      h('p', { class: 'turn' }, `Interaction ${conv.groups.size + 1}`),
      this.msgs,
      this.details,
    );
  }

  addMessage(node) {
    this.msgs.append(node);
  }

  addThought(m) {
    this.thoughts.push(m);
    this.drawThoughts();
  }

  drawThoughts() {
    replace(
      this.thoughtList,
      this.thoughts.length
        ? this.thoughts.map((m) => h('li', { class: 'thought' }, h('p', { class: 'text' }, m.message), h('span', { class: 'meta' }, time(m.created_at))))
        : h('li', { class: 'empty' }, 'None in this interaction.'),
    );
  }

  loadInsights() {
    if (!this.id) return;
    this.loaded = true;
    const conv = this.conv;
    replace(
      this.insightsBody,
      panel(async () => {
        const path = `/conversation/${encodeURIComponent(conv.id)}/interaction/${encodeURIComponent(this.id)}/insights`;
        const [ins, invs] = await Promise.all([get(path, null, { signal: conv.signal }), conv.invocationsOf(this.id)]);
        return insightsView(ins, invs, this.thoughts);
      }, { what: 'Loading the interaction’s insights…' }),
    );
  }
}

// messageView draws one message: who sent it, its text (as text, its
// white space kept), when.
function messageView(m) {
  const kind = m.message_type === 'user-message' ? 'user' : m.message_type === 'agent-message' ? 'agent' : 'event';
  const who = m.sender || (kind === 'user' ? 'User' : kind === 'agent' ? 'Agent' : 'Event');
  return h(
    'article',
    { class: ['msg', kind], dataset: { id: m.id || '', type: m.message_type || '' } },
    h(
      'div',
      { class: 'meta' },
      h('strong', { class: 'sender' }, who),
      h('span', null, kind === 'event' ? 'external event' : kind),
      m.format === 'voice' ? badge('voice') : null,
      time(m.created_at),
    ),
    h('p', { class: 'text' }, m.message),
  );
}

// insightsView shows get-interaction-insights: the state the agent ended
// in, the transitions it took, its tool calls (linked to their recorded
// invocations when the conversation's invocations can be read), memories
// and reflections.
function insightsView(ins, invocations, thoughts) {
  const used = new Set();
  const call = (log) => toolCallView(log, matchInvocation(log, invocations, used));
  const rounds = (lists) => (lists || []).flat();
  const transitions = ins.state_transition_logs || [];
  const calls = [
    ...transitions.flatMap((t) => [...(t.designated_tool_call_log ? [t.designated_tool_call_log] : []), ...rounds(t.tool_call_logs)]),
    ...rounds(ins.select_next_action_tool_call_logs),
    ...rounds(ins.engage_user_tool_call_logs),
  ];
  const thoughtTexts = new Set(thoughts.map((m) => m.message));
  const reflections = (ins.reflections || []).filter((r) => !thoughtTexts.has(r));
  const dyn = ins.triggered_dynamic_behavior_set_version_info;
  return [
    kv([
      ['Final state', h('span', { class: 'state-name final-state' }, ins.current_state_name)],
      ['Objective', ins.current_state_objective],
      ['Action', ins.current_state_action],
      dyn ? ['Dynamic behavior', `${dyn[0]} version ${dyn[1]}`] : null,
    ]),
    h('h3', null, 'States passed through'),
    transitions.length
      ? h(
          'ol',
          { class: 'transitions' },
          transitions.map((t) =>
            h(
              'li',
              { class: 'transition', dataset: { from: t.previous_state, to: t.next_state } },
              h('span', { class: 'state-name' }, t.previous_state),
              ' → ',
              h('span', { class: 'state-name' }, t.next_state),
              ' ',
              badge(t.type),
              t.previous_state_exit_condition_description ? h('div', { class: 'muted' }, 'because: ', t.previous_state_exit_condition_description) : null,
              t.performed_queries && t.performed_queries.length ? h('div', { class: 'muted' }, 'queries: ', t.performed_queries.join('; ')) : null,
            ),
          ),
        )
      : h('p', { class: 'muted' }, 'It stayed in its state.'),
    h('h3', null, 'Tool calls'),
    calls.length ? h('ul', { class: 'tool-calls' }, calls.map(call)) : h('p', { class: 'muted' }, 'None.'),
    (ins.working_memory || []).length
      ? [h('h3', null, 'Memories used'), h('ul', null, ins.working_memory.map((w) => h('li', null, h('span', { class: 'muted' }, `${w.context}: `), w.content)))]
      : null,
    reflections.length ? [h('h3', null, 'Reflections'), h('ul', null, reflections.map((r) => h('li', { class: 'text' }, r)))] : null,
  ];
}

// matchInvocation finds the recorded invocation of a tool call among the
// interaction's: the same tool with the same arguments, else the same
// tool, each invocation used once.
function matchInvocation(log, invocations, used) {
  const same = invocations.filter((inv) => inv.tool_id === log.tool_id && !used.has(inv.id));
  const args = stable(log.input);
  const hit = same.find((inv) => stable(inv.inputs) === args) || same[0];
  if (hit) used.add(hit.id);
  return hit || null;
}

function stable(v) {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stable(v[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

function toolCallView(log, inv) {
  const name = log.tool_name || log.tool_id;
  return h(
    'li',
    { class: 'tool-call' },
    inv
      ? h('a', { href: href('/tools', log.tool_id, 'invocations', inv.id) }, name)
      : h('a', { href: href('/tools', log.tool_id) }, name),
    ' ',
    h('span', { class: 'muted' }, `${log.tool_version} · ${ms(log.duration * 1000)}`),
    inv ? null : h('span', { class: 'muted' }, ' (invocation not found)'),
    h(
      'details',
      null,
      h('summary', null, 'Arguments and result'),
      h('p', { class: 'muted io' }, 'Arguments'),
      code(log.input),
      h('p', { class: 'muted io' }, 'Result'),
      log.output == null ? h('p', { class: 'muted' }, 'Not kept (the tool’s result is ephemeral).') : code(log.output),
    ),
  );
}

// ---------------------------------------------------------------- a turn as it streams

// LiveTurn draws a turn while interact-with-conversation streams it: the
// user's message, each agent action as it comes, and the reply growing by
// its pieces. The reply carries data-chunks, the number of pieces drawn so
// far, and the class "streaming" until the turn completes.
class LiveTurn {
  constructor(conv) {
    this.conv = conv;
    this.msgs = h('div', { class: 'messages' });
    this.events = h('ol', { class: 'live-events', 'aria-live': 'polite' });
    this.reply = null;
    this.replyText = null;
    this.chunks = 0;
    this.errorNote = null;
    this.details = h('details', { class: 'insights live', open: true }, h('summary', null, 'The agent at work'), this.events);
    this.el = h(
      'li',
      { class: 'interaction live', dataset: { interaction: '' } },
      h('p', { class: 'turn' }, `Interaction ${conv.groups.size + 1}`),
      this.msgs,
      this.details,
    );
  }

  event(ev) {
    this.started = true;
    switch (ev.type) {
      case 'user-message-available':
        this.conv.seen.add(ev.message_id);
        this.msgs.append(this.pending(messageView({ id: ev.message_id, message_type: 'user-message', message: ev.user_message }), ev.message_id));
        break;
      case 'current-agent-action': {
        const text = describeAction(ev.action || {});
        if (text) this.events.append(h('li', { dataset: { type: ev.action.type } }, text));
        break;
      }
      case 'new-message':
        this.piece(ev);
        break;
      case 'interaction-complete':
        break;
      case 'error':
        this.errorNote = h('p', { class: 'error', role: 'alert' }, `${ev.http_error_code}: `, ev.error_description, ' Nothing of this turn was kept.');
        this.el.classList.add('failed');
        this.events.append(h('li', { class: 'error' }, ev.error_description));
        if (this.reply) this.reply.classList.remove('streaming');
        break;
      default:
        break;
    }
  }

  // pending registers a message drawn from the stream, to be drawn again
  // as stored.
  pending(node, id) {
    this.conv.pending.set(id, node);
    return node;
  }

  piece(ev) {
    if (!this.reply) {
      this.conv.seen.add(ev.message_id);
      this.replyText = h('p', { class: 'text' });
      this.reply = h(
        'article',
        { class: 'msg agent streaming', dataset: { id: ev.message_id, type: 'agent-message', chunks: '0' }, 'aria-busy': 'true' },
        h('div', { class: 'meta' }, h('strong', { class: 'sender' }, 'Agent'), h('span', null, 'agent'), h('span', { class: 'muted' }, 'writing…')),
        this.replyText,
      );
      this.msgs.append(this.pending(this.reply, ev.message_id));
    }
    this.replyText.append(ev.message);
    this.chunks++;
    this.reply.dataset.chunks = String(this.chunks);
  }

  complete(done) {
    const conv = this.conv;
    conv.seen.add(done.message_id);
    if (this.reply) {
      this.reply.classList.remove('streaming');
      this.reply.removeAttribute('aria-busy');
      this.reply.dataset.complete = 'true';
      replace(this.reply.querySelector('.meta .muted'), 'stored');
      // The stored message is the whole of it.
      if (this.replyText.textContent !== done.full_message) replace(this.replyText, done.full_message);
    }
    // From here on this is the interaction's group: later messages of it
    // (inner thoughts) join it, and its insights load at once.
    const g = new Interaction(conv, done.interaction_id);
    conv.groups.set(done.interaction_id, g);
    this.el.dataset.interaction = done.interaction_id;
    this.el.classList.remove('live');
    g.msgs = this.msgs;
    g.el = this.el;
    this.details.open = false;
    this.details.querySelector('summary').textContent = 'As it streamed';
    this.details.classList.add('streamed');
    this.el.append(g.details);
    g.details.open = true;
  }

  fail(err) {
    if (this.reply) this.reply.classList.remove('streaming');
    this.el.classList.add('failed');
    const p = problem(err);
    if (p) this.el.append(p);
  }
}

// describeAction says in words what an agent action event reports.
function describeAction(a) {
  const st = (name) => h('span', { class: 'state-name' }, name);
  switch (a.type) {
    case 'navigate-state-machine-state-transitioned':
      return ['Entered ', st(a.next_state), ' from ', st(a.prev_state)];
    case 'navigate-state-machine-exit-condition-selected':
      return ['Chose exit “', a.exit_condition, '” to ', st(a.next_state_name)];
    case 'navigate-state-machine-action-state-action-selected':
      return ['Chose the action: ', a.action];
    case 'navigate-state-machine-decision-state-decision-started':
      return 'Deciding…';
    case 'navigate-state-machine-annotation-state-annotation-retrieved':
      return ['Noted: ', a.annotation];
    case 'navigate-state-machine-reflection-state-prompt-retrieved':
      return 'Reflecting…';
    case 'navigate-state-machine-reflection-state-reflection-generated':
      return ['Reflected: ', a.reflection];
    case 'navigate-state-machine-recall-state-static-queries-retrieved':
      return ['Recalling: ', (a.static_queries || []).join('; ')];
    case 'navigate-state-machine-recall-state-dynamic-queries-generated':
      return ['Recalling: ', (a.dynamic_queries || []).join('; ')];
    case 'navigate-state-machine-recall-state-active-memory-retrieved':
      return 'Memories retrieved';
    case 'designated-tool-retrieved':
      return ['Preparing tool ', h('span', { class: 'mono' }, a.tool_id)];
    case 'designated-tool-call-params-generated':
      return ['Arguments ready for tool ', h('span', { class: 'mono' }, a.tool_id)];
    case 'navigate-state-machine-tool-call-state-tool-output-available':
    case 'tool-call-ended':
      return ['Tool ', h('span', { class: 'mono' }, a.tool_id), ` answered in ${ms((a.duration || 0) * 1000)}`];
    case 'tool-call-started':
      return ['Calling tool ', h('span', { class: 'mono' }, a.tool_id), ` ${a.tool_version || ''}`];
    case 'select-dynamic-behavior-completed':
      return a.selected_dynamic_behavior_set_version_info ? ['Dynamic behavior set ', a.selected_dynamic_behavior_set_version_info[0]] : null;
    case 'check-if-active-memory-needed-completed':
      return a.queries && a.queries.length ? ['Memory queries: ', a.queries.join('; ')] : null;
    case 'action-too-long':
      return 'Taking a while…';
    // The reply's pieces are drawn in the reply itself.
    case 'engage-user-message-fragment-generated':
      return null;
    default:
      return a.type ? h('span', { class: 'mono' }, a.type) : null;
  }
}
