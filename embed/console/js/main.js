// The console's frame: sign-in, navigation and the page outlet.
import { h, replace } from './dom.js';
import { session, onSignOut, signIn, signInFirstStart, consoleConfig } from './api.js';
import { current, match } from './router.js';
import { problem, field } from './ui.js';
import './pages/overview.js';
import './pages/tools.js';
import './pages/conversations.js';
import './pages/graphs.js';
import './pages/simulations.js';
import './pages/metrics.js';
import './pages/webhooks.js';
import './pages/access.js';
import './pages/developer.js';

const root = document.getElementById('app');
let config = { first_start: { offered: false }, control_api: false };
let leave = null;

const NAV = [
  ['#/', 'Overview'],
  ['#/tools', 'Tools'],
  ['#/conversations', 'Conversations'],
  ['#/context-graphs', 'Context graphs'],
  ['#/simulations', 'Simulations'],
  ['#/metrics', 'Metrics'],
  ['#/webhooks', 'Webhooks'],
  ['#/users', 'Users'],
  ['#/roles', 'Roles'],
  ['#/api-keys', 'API keys'],
];

function frame(s) {
  const main = h('main', { id: 'main', tabindex: '-1' });
  const items = config.control_api ? [...NAV, ['#/developer', 'Developer']] : NAV;
  const nav = h(
    'nav',
    { 'aria-label': 'Console' },
    h('ul', null, items.map(([href, text]) => h('li', null, h('a', { href, dataset: { nav: href } }, text)))),
  );
  const menu = h('button', { type: 'button', class: 'menu', 'aria-expanded': 'false', 'aria-controls': 'nav' }, 'Menu');
  nav.id = 'nav';
  menu.addEventListener('click', () => {
    const open = menu.getAttribute('aria-expanded') !== 'true';
    menu.setAttribute('aria-expanded', String(open));
    document.body.classList.toggle('nav-open', open);
  });
  const signOut = h('button', { type: 'button', class: 'link', on: { click: () => session.end() } }, 'Sign out');
  replace(
    root,
    h(
      'header',
      { class: 'top' },
      menu,
      h('a', { class: 'brand', href: '#/' }, 'Compadre'),
      h('span', { class: 'who' }, h('span', { class: 'muted' }, 'organization '), h('strong', null, s.organization)),
      signOut,
    ),
    h('div', { class: 'body' }, nav, main),
  );
  return main;
}

async function show() {
  const s = session.get();
  if (!s) return signInPage();
  let main = root.querySelector('.body > main');
  if (!main) main = frame(s);
  if (leave) leave.abort();
  leave = new AbortController();
  document.body.classList.remove('nav-open');
  const { path, query } = current();
  for (const a of document.querySelectorAll('#nav a')) {
    const target = a.dataset.nav.slice(1);
    const on = target === '/' ? path === '/' : path === target || path.startsWith(target + '/');
    if (on) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const m = match(path);
  replace(main);
  // Which fragment the page shown is for: set in the same task as the
  // page's first part is drawn, so a test that changed the fragment knows
  // when the new page is there.
  main.dataset.route = location.hash || '#/';
  if (!m) {
    main.append(h('section', { class: 'page' }, h('h1', { tabindex: '-1' }, 'Not found'), h('p', null, 'No page here. ', h('a', { href: '#/' }, 'Overview'))));
  } else {
    try {
      await m.render({ main, params: m.params, query, signal: leave.signal, config });
    } catch (err) {
      const p = problem(err);
      if (p) main.append(p);
    }
  }
  const heading = main.querySelector('h1');
  if (heading) {
    document.title = `${heading.textContent} · Compadre`;
    if (document.activeElement === document.body || !main.contains(document.activeElement)) heading.focus({ preventScroll: true });
  }
}

function signInPage() {
  if (leave) leave.abort();
  document.title = 'Sign in · Compadre';
  const out = h('div', { 'aria-live': 'polite' });
  const input = (name, label, attrs = {}) =>
    field(label, h('input', { name, required: true, autocomplete: 'off', spellcheck: 'false', ...attrs }));
  const form = h(
    'form',
    { class: 'form signin', novalidate: true },
    input('organization', 'Organization', { value: config.first_start.organization || '' }),
    input('user_id', 'User ID'),
    input('api_key_id', 'API key ID'),
    input('api_key', 'API key', { type: 'password' }),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Sign in')),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const d = new FormData(form);
    replace(out);
    try {
      await signIn({
        organization: String(d.get('organization')).trim(),
        userId: String(d.get('user_id')).trim(),
        apiKeyId: String(d.get('api_key_id')).trim(),
        apiKey: String(d.get('api_key')),
      });
      form.reset();
      show();
    } catch (err) {
      replace(out, problem(err));
    }
  });
  let quick = null;
  if (config.first_start.offered) {
    quick = h(
      'section',
      { class: 'panel first-start' },
      h('h2', null, 'This machine'),
      h('p', null, 'The server offers the administrator of its first start to a browser on its own machine: ', h('strong', null, config.first_start.organization), '.'),
      h(
        'button',
        {
          type: 'button',
          on: {
            click: async () => {
              replace(out);
              try {
                await signInFirstStart();
                show();
              } catch (err) {
                replace(out, problem(err));
              }
            },
          },
        },
        'Sign in as the first start’s administrator',
      ),
    );
  }
  replace(
    root,
    h(
      'main',
      { id: 'main', class: 'signin-page' },
      h('h1', null, 'Compadre console'),
      quick,
      h(
        'section',
        { class: 'panel' },
        h('h2', null, 'Sign in with an API key'),
        h('p', { class: 'muted' }, 'The console calls the API as this user; it shows what the user’s role allows.'),
        form,
      ),
      out,
    ),
  );
}

onSignOut(() => {
  leave?.abort();
  signInPage();
});
window.addEventListener('hashchange', show);

consoleConfig()
  .then((c) => (config = c))
  .catch(() => {})
  .finally(show);
