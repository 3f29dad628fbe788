// The console's client of the API. It calls /v1 like any other client,
// with a bearer token from sign-in-with-api-key, so it sees exactly what
// the signed-in user's permissions allow. The token lives in the tab's
// sessionStorage: never in a URL, never in localStorage, gone when the tab
// closes.

const STORE = 'compadre.session';

export class ApiError extends Error {
  constructor(status, detail, body) {
    super(typeof detail === 'string' ? detail : JSON.stringify(detail));
    this.status = status;
    this.detail = detail;
    this.body = body;
  }
  // permission is the permission a 403 names, if it names one.
  get permission() {
    const m = this.status === 403 && /permission:?\s*([A-Za-z]+:[A-Za-z]+)/.exec(this.message);
    return m ? m[1] : null;
  }
}

const listeners = new Set();

// onSignOut calls fn when the session ends (sign-out, expiry, a 401).
export function onSignOut(fn) {
  listeners.add(fn);
}

export const session = {
  get() {
    try {
      const s = JSON.parse(sessionStorage.getItem(STORE) || 'null');
      if (s && Date.parse(s.expiresAt) > Date.now()) return s;
    } catch {
      // A damaged entry is no session.
    }
    return null;
  },
  set(s) {
    sessionStorage.setItem(STORE, JSON.stringify(s));
  },
  end() {
    sessionStorage.removeItem(STORE);
    for (const fn of listeners) fn();
  },
};

// orgPath is the path of an operation of the signed-in organization.
function orgURL(path, query) {
  const s = session.get();
  if (!s) {
    session.end();
    throw new ApiError(401, 'Signed out.');
  }
  const url = new URL(`/v1/${encodeURIComponent(s.organization)}${path}`, location.origin);
  addQuery(url, query);
  return { url, token: s.token };
}

function addQuery(url, query) {
  for (const [k, v] of Object.entries(query || {})) {
    if (v == null || v === '') continue;
    for (const one of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(one));
  }
}

async function failure(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    // Not JSON: the status says enough.
  }
  let detail = body && body.detail != null ? body.detail : res.statusText;
  if (Array.isArray(detail)) {
    detail = detail.map((d) => `${(d.loc || []).join('.')}: ${d.msg}`).join('; ');
  }
  if (res.status === 401) session.end();
  return new ApiError(res.status, detail, body);
}

async function send(method, url, token, { body, headers, signal } = {}) {
  const h = { Authorization: `Bearer ${token}`, ...headers };
  let payload;
  if (body instanceof FormData) {
    payload = body;
  } else if (body !== undefined) {
    h['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(url, { method, headers: h, body: payload, signal, credentials: 'omit', cache: 'no-store' });
  if (!res.ok) throw await failure(res);
  return res;
}

// request calls an operation of the signed-in organization and answers
// its JSON (null for an empty answer).
export async function request(method, path, opts = {}) {
  const { url, token } = orgURL(path, opts.query);
  const res = await send(method, url, token, opts);
  if (opts.raw) return res;
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

export const get = (path, query, opts) => request('GET', path, { ...opts, query });
export const post = (path, body, opts) => request('POST', path, { ...opts, body });
export const del = (path, opts) => request('DELETE', path, opts);

// stream POSTs to an operation that answers NDJSON and calls onEvent with
// each event as it arrives.
export async function stream(path, { query, body, signal }, onEvent) {
  const { url, token } = orgURL(path, query);
  const res = await send('POST', url, token, { body, signal });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) onEvent(JSON.parse(line));
    }
  }
  if (buf.trim()) onEvent(JSON.parse(buf));
}

// control calls the control API (/_compadre/), served when the server runs
// with --control-api on, to super administrators.
export async function control(method, path, { query, body, signal } = {}) {
  const s = session.get();
  if (!s) {
    session.end();
    throw new ApiError(401, 'Signed out.');
  }
  const url = new URL(`/_compadre${path}`, location.origin);
  addQuery(url, query);
  const res = await send(method, url, s.token, { body, signal });
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

// signIn exchanges an API key for a token and starts the session.
export async function signIn({ organization, apiKeyId, apiKey, userId }) {
  const url = new URL(`/v1/${encodeURIComponent(organization)}/user/signin_with_api_key`, location.origin);
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'x-api-key': apiKey, 'x-api-key-id': apiKeyId, 'x-user-id': userId },
    credentials: 'omit',
    cache: 'no-store',
  });
  if (!res.ok) throw await failure(res);
  const t = await res.json();
  session.set({ organization, userId, token: t.id_token, expiresAt: t.expires_at });
}

// consoleConfig says what this server offers the console: whether the
// first start's credentials may be used from here, and whether the control
// API is on.
export async function consoleConfig() {
  const res = await fetch('/_console/config', { credentials: 'omit', cache: 'no-store' });
  if (!res.ok) throw await failure(res);
  return res.json();
}

// signInFirstStart signs in with the first start's credentials, which the
// server offers only to a browser on its own machine; the key itself never
// reaches the browser.
export async function signInFirstStart() {
  const res = await fetch('/_console/first-start/sign-in', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: '{}',
    credentials: 'omit',
    cache: 'no-store',
  });
  if (!res.ok) throw await failure(res);
  const t = await res.json();
  session.set({ organization: t.organization, userId: t.user_id, token: t.id_token, expiresAt: t.expires_at });
}

// pages calls a paged list operation: load(token) answers {items, next}.
// itemsKey names the list in the answer.
export function pager(path, itemsKey, query = {}) {
  return async (token, opts) => {
    const body = await get(path, { ...query, continuation_token: token }, opts);
    return { items: body[itemsKey] || [], next: body.has_more ? body.continuation_token : null, body };
  };
}
