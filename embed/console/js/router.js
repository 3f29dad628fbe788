// Pages are addressed by the URL's fragment (#/tools/ID?version=1.0.0), so
// the server serves one document, and nothing but page names and IDs ever
// appears in a URL.

const routes = [];

// route registers a page. pattern is like '/tools/:id'; render(ctx) fills
// ctx.main, where ctx has params (from the pattern), query
// (URLSearchParams of the fragment) and signal, aborted when the reader
// leaves the page (stop polling and streams on it).
export function route(pattern, render) {
  const names = [];
  const re = new RegExp(
    '^' +
      pattern.replace(/\/:([a-z_]+)/gi, (_, n) => {
        names.push(n);
        return '/([^/]+)';
      }) +
      '/?$',
  );
  routes.push({ re, names, render });
}

// href is the link to a page: href('/tools', id) is '#/tools/<id>', each
// part encoded.
export function href(...parts) {
  const [first, ...rest] = parts;
  return '#' + first + rest.map((p) => '/' + encodeURIComponent(p)).join('');
}

export function current() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = hash.split('?');
  return { path, query: new URLSearchParams(qs || '') };
}

export function match(path) {
  for (const r of routes) {
    const m = r.re.exec(path);
    if (m) {
      const params = {};
      r.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1])));
      return { render: r.render, params };
    }
  }
  return null;
}
