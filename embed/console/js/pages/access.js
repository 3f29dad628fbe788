// Who may do what: users (list, search, details, user model, memories,
// create, change role), roles with their permission grants, temporary
// grants, and API keys (list, create, delete).
//
// The API's lists answer only the records the caller's role may read:
// they leave the others out rather than refuse (a 200 with fewer items,
// not a 403). So a refusal is shown where it is certain: every
// organization has its built-in roles, so an empty list of roles means
// the role may read none; the signed-in user signed in with one of the
// organization's API keys, so an empty list of keys means none may be
// read. Operations that need a permission up front (create-user,
// assign-role, create-api-key, delete-api-key) answer 403, shown where
// the form is.
import { h, replace } from '../dom.js';
import { route, href } from '../router.js';
import { page, section, panel, table, pagedTable, kv, time, link, badge, code, field, form, empty, loading } from '../ui.js';
import { get, post, del, pager, session } from '../api.js';
import { confirmButton } from '../confirm.js';

// The built-in roles every organization has, offered when the roles
// themselves cannot be read.
const BUILTIN_ROLES = ['DefaultUserRole', 'DefaultAdministratorRole', 'DefaultAmigoAdministratorRole', 'DefaultSuperAdministratorRole'];

// roleList answers the roles the caller may read, [] if none or if they
// cannot be listed: role names are a nicety where a role ID is shown.
function roleList(signal) {
  return get('/role/', {}, { signal }).then(
    (b) => b.roles || [],
    () => [],
  );
}

function roleName(roles, id) {
  const r = roles.find((x) => x.id === id);
  return r ? r.name : h('code', { title: 'Role ID' }, id);
}

// option is a select's option; a selected one is also the default, so a
// form's reset goes back to it.
function option(value, text, selected) {
  const o = h('option', { value }, text);
  if (selected) o.defaultSelected = o.selected = true;
  return o;
}

// roleSelect is a select of role names, filled once roles are known.
function roleSelect(rolesP, name, selected) {
  const select = h('select', { name, required: true }, option(selected, selected, true));
  rolesP.then((roles) => {
    const names = roles.length ? roles.map((r) => r.name) : BUILTIN_ROLES;
    replace(select, names.map((n) => option(n, n, n === selected)));
  });
  return select;
}

function fullName(u) {
  return [u.first_name, u.last_name].filter(Boolean).join(' ') || u.email || u.user_id;
}

// A denial the console infers from an empty list (see the top of this file).
function inferredDenial(text, permission) {
  return h('p', { class: 'denied', role: 'note' }, text, ': it needs ', h('code', null, permission), '.');
}

// ---- Users ----

function userColumns(roles) {
  return [
    { title: 'Name', cell: (u) => link(href('/users', u.user_id), fullName(u)) },
    { title: 'Email', cell: (u) => u.email },
    { title: 'Role', cell: (u) => roleName(roles, u.role) },
    { title: 'Conversations', num: true, cell: (u) => String(u.user_stats ? u.user_stats.num_conversations : 0) },
    { title: 'Messages', num: true, cell: (u) => String(u.user_stats ? u.user_stats.num_messages : 0) },
    { title: 'Last message', cell: (u) => time(u.user_stats && u.user_stats.last_message_time) },
  ];
}

route('/users', ({ main, query, signal }) => {
  const rolesP = roleList(signal);
  const q = (query.get('q') || '').trim();
  const list = h('div', { class: 'panel-body' }, loading());

  function showList() {
    rolesP.then((roles) => {
      if (q) {
        // search-users answers one list, without paging.
        replace(
          list,
          panel(async () => {
            const body = await get('/user/search/', { query: q }, { signal });
            return table(userColumns(roles), body.users || [], { empty: `No user matches “${q}”.` });
          }),
        );
      } else {
        replace(
          list,
          pagedTable({ columns: userColumns(roles), load: pager('/user/', 'users', { limit: 25 }), emptyText: 'No users.', signal }),
        );
      }
    });
  }

  const search = h('input', { name: 'q', type: 'search', value: q, autocomplete: 'off' });
  const searchForm = h(
    'form',
    { class: 'toolbar', role: 'search' },
    field('Search users', search),
    h('button', { type: 'submit' }, 'Search'),
    q ? h('a', { href: '#/users' }, 'Show all') : null,
  );
  searchForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = search.value.trim();
    location.hash = v ? `#/users?q=${encodeURIComponent(v)}` : '#/users';
  });

  const create = form(
    [
      h(
        'div',
        { class: 'field-row' },
        field('First name', h('input', { name: 'first_name', required: true, autocomplete: 'off' })),
        field('Last name', h('input', { name: 'last_name', required: true, autocomplete: 'off' })),
      ),
      field('Email', h('input', { name: 'email', type: 'email', required: true, autocomplete: 'off' })),
      field('Role', roleSelect(rolesP, 'role_name', 'DefaultUserRole')),
    ],
    async (d, el) => {
      const body = {
        first_name: String(d.get('first_name')).trim(),
        last_name: String(d.get('last_name')).trim(),
        email: String(d.get('email')).trim(),
        role_name: String(d.get('role_name')),
      };
      const res = await post('/user/', body);
      el.reset();
      showList();
      return h('p', null, 'Created ', link(href('/users', res.user_id), `${body.first_name} ${body.last_name}`), '.');
    },
    { label: 'Create user' },
  );

  main.append(
    page(
      'Users',
      section(q ? 'Search results' : 'All users', searchForm, list),
      h('details', { class: 'panel create' }, h('summary', null, h('h2', null, 'Create a user')), create),
    ),
  );
  showList();
});

route('/users/:id', ({ main, params, signal }) => {
  const id = params.id;
  const rolesP = roleList(signal);
  const details = h('div');
  // The user is read again after a change of role.
  let userP;
  function showDetails() {
    userP = get('/user/', { user_id: id }, { signal }).then((b) => (b.users || [])[0] || null);
    replace(
      details,
      panel(async () => {
        const [u, roles] = await Promise.all([userP, rolesP]);
        if (!u) return empty('No user with this ID that your role may read.');
        const stats = u.user_stats || {};
        const prefs = u.preferences || {};
        const vars = u.nonsensitive_variables || {};
        return kv([
          ['Name', fullName(u)],
          ['Email', u.email],
          ['User ID', h('code', null, u.user_id)],
          ['Role', roleName(roles, u.role)],
          ['Conversations', [String(stats.num_conversations ?? 0), ' · ', link(`#/conversations?user_id=${encodeURIComponent(u.user_id)}`, 'their conversations')]],
          ['Messages', String(stats.num_messages ?? 0)],
          ['Last message', time(stats.last_message_time)],
          ['Language', prefs.preferred_language],
          ['Time zone', prefs.timezone],
          ['Variables', Object.keys(vars).length ? code(vars) : null],
          ['Secret variables', (u.sensitive_variables || []).length ? u.sensitive_variables.join(', ') : null],
        ]);
      }),
    );
  }
  showDetails();

  const assign = form(
    [field('New role', roleSelect(rolesP, 'role_name', 'DefaultUserRole'))],
    async (d) => {
      const name = String(d.get('role_name'));
      await post(`/role/${encodeURIComponent(name)}/assign`, { user_id: id });
      showDetails();
      return h('p', null, 'The user now holds ', h('strong', null, name), '.');
    },
    { label: 'Assign role' },
  );

  const model = panel(async () => {
    const m = await get(`/user/${encodeURIComponent(id)}/user_model`, {}, { signal });
    const models = m.user_models || [];
    const context = m.additional_context || [];
    if (!models.length && !context.length) return empty('No user model yet: it is made after a conversation ends.');
    return [
      models.length
        ? h(
            'ul',
            { class: 'user-model' },
            models.map((um) =>
              h(
                'li',
                null,
                h('p', null, um.content),
                (um.dimensions || []).length
                  ? h('p', { class: 'muted' }, 'Dimensions: ', um.dimensions.map((x) => x.description).join('; '))
                  : null,
              ),
            ),
          )
        : null,
      context.length ? [h('h3', null, 'Additional context'), h('ul', null, context.map((c) => h('li', null, c)))] : null,
    ];
  });

  const memories = pagedTable({
    columns: [
      { title: 'Remembered', cell: (x) => time(x.created_at) },
      { title: 'Memory', cell: (x) => x.content },
      { title: 'Context', cell: (x) => x.context },
      { title: 'Conversation', cell: (x) => link(href('/conversations', x.conversation_id), x.conversation_id) },
    ],
    load: pager(`/user/${encodeURIComponent(id)}/memory`, 'memories', { limit: 20, sort_by: '-created_at' }),
    emptyText: 'No memories yet.',
    signal,
  });

  main.append(
    page(
      'User',
      h('p', null, link('#/users', '← Users')),
      section('Details', details),
      section('Role', assign),
      section('User model', model),
      section('Memories', memories),
    ),
  );
  // The heading names the user once known.
  userP.then(
    (u) => {
      const h1 = main.querySelector('h1');
      if (u && h1) {
        h1.textContent = fullName(u);
        document.title = `${h1.textContent} · Compadre`;
      }
    },
    () => {},
  );
});

// ---- Roles ----

function grantList(grants) {
  if (!grants.length) return empty('No permissions.');
  return h(
    'ul',
    { class: 'grants' },
    grants.map((g) => {
      const conds = g.conditions && Object.keys(g.conditions).length ? code(g.conditions) : null;
      return h('li', null, h('code', null, g.permission_name), conds ? [' when ', conds] : null);
    }),
  );
}

function grantsTable(isExpired, signal) {
  const query = { limit: 10, sort_by: '-expires_at' };
  if (isExpired !== '') query.is_expired = isExpired;
  return pagedTable({
    columns: [
      { title: 'User', cell: (g) => link(href('/users', g.user_id), g.user_id) },
      { title: 'Permission', cell: (g) => h('code', null, g.permission_grant.permission_name) },
      {
        title: 'Conditions',
        cell: (g) => (g.permission_grant.conditions && Object.keys(g.permission_grant.conditions).length ? code(g.permission_grant.conditions) : '—'),
      },
      { title: 'Expires', cell: (g) => time(g.expires_at) },
      { title: 'Justification', cell: (g) => g.justification },
      { title: 'Granted by', cell: (g) => link(href('/users', g.creator.user_id), g.creator.user_id) },
    ],
    load: pager('/role/temporary_permission_grants/', 'temporary_permission_grants', query),
    emptyText: 'No temporary grants that your role may read.',
    signal,
  });
}

route('/roles', ({ main, signal }) => {
  const roles = panel(async () => {
    const body = await get('/role/', { return_permission_grants: true }, { signal });
    const list = body.roles || [];
    if (!list.length) return inferredDenial('Your role does not allow reading roles', 'Role:GetRole');
    return h(
      'div',
      { class: 'roles' },
      list.map((r) =>
        h(
          'details',
          { class: 'role', dataset: { role: r.name } },
          h(
            'summary',
            null,
            h('strong', null, r.name),
            ' ',
            badge(r.frontend_view),
            ' ',
            h('span', { class: 'muted' }, `${(r.permissions || []).length} permissions`),
          ),
          h('p', null, r.description),
          h('p', { class: 'muted' }, 'Role ID ', h('code', null, r.id)),
          grantList(r.permissions || []),
        ),
      ),
    );
  });

  const grants = h('div');
  const filter = h(
    'select',
    { name: 'is_expired' },
    h('option', { value: '' }, 'All'),
    h('option', { value: 'false' }, 'In force'),
    h('option', { value: 'true' }, 'Expired'),
  );
  filter.addEventListener('change', () => replace(grants, grantsTable(filter.value, signal)));
  replace(grants, grantsTable('', signal));

  main.append(
    page(
      'Roles',
      section('Roles and their permissions', roles),
      section('Temporary permission grants', h('div', { class: 'toolbar' }, field('Show', filter)), grants),
    ),
  );
});

// ---- API keys ----

const DURATIONS = [
  ['P1D', '1 day'],
  ['P7D', '7 days'],
  ['P30D', '30 days'],
  ['P90D', '90 days'],
];

route('/api-keys', ({ main, signal }) => {
  const rolesP = roleList(signal);
  const list = h('div');

  function showList() {
    replace(
      list,
      panel(async () => {
        const [body, roles] = await Promise.all([get('/organization/api_key/', {}, { signal }), rolesP]);
        const keys = body.api_keys || [];
        if (!keys.length) {
          return inferredDenial('Your role does not allow reading this organization’s API keys, not even the one you signed in with', 'Organization:GetAPIKey');
        }
        return table(
          [
            { title: 'Key ID', cell: (k) => h('code', null, k.key_id) },
            { title: 'Name', cell: (k) => k.name || h('span', { class: 'muted' }, '—') },
            { title: 'Role', cell: (k) => roleName(roles, k.role_id) },
            { title: 'Expires', cell: (k) => time(k.expires_at) },
            { title: 'Created', cell: (k) => time(k.created_at) },
            { title: 'Created by', cell: (k) => link(href('/users', k.creator.user_id), k.creator.user_id) },
            {
              title: 'Delete',
              cell: (k) =>
                confirmButton('Delete', `Delete the key ${k.name || k.key_id}? Whoever uses it can no longer sign in with it.`, async () => {
                  await del(`/organization/api_key/${encodeURIComponent(k.key_id)}/`);
                  showList();
                }),
            },
          ],
          keys,
        );
      }),
    );
  }
  showList();

  const create = form(
    [
      field('Name', h('input', { name: 'name', required: true, autocomplete: 'off', maxlength: 256 })),
      field(
        'Valid for',
        h(
          'select',
          { name: 'duration' },
          DURATIONS.map(([v, text]) => option(v, text, v === 'P30D')),
        ),
      ),
      field(
        'Role',
        roleSelect(rolesP, 'role_name', 'DefaultAdministratorRole'),
        'The key signs in only users whose role this role covers.',
      ),
    ],
    async (d, el) => {
      const res = await post('/organization/api_key/', {
        name: String(d.get('name')).trim(),
        duration: String(d.get('duration')),
        role_name: String(d.get('role_name')),
      });
      el.reset();
      showList();
      const s = session.get();
      // The secret is shown here once, as text, and kept nowhere: leaving
      // the page forgets it.
      return h(
        'div',
        { class: 'secret', role: 'alert' },
        h('p', null, h('strong', null, 'Copy the key now: it is shown only this once.'), ' The server keeps only its hash.'),
        kv([
          ['Organization', s ? s.organization : null],
          ['API key ID', h('code', { class: 'key-id' }, res.api_key_id)],
          ['API key', h('code', { class: 'key-secret' }, res.api_key)],
          ['Expires', time(res.expires_at)],
        ]),
      );
    },
    { label: 'Create API key' },
  );

  main.append(
    page(
      'API keys',
      section('Keys', list),
      section('Create a key', h('p', { class: 'muted' }, 'A key signs a user in, with their user ID, for at most its duration.'), create),
    ),
  );
});
