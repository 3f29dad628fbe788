// Every element the console shows is made here. Strings become text nodes
// and attribute values, never markup: nothing the API returns is parsed as
// HTML, so a message holding <script> or an onerror attribute is shown as
// the characters it is. innerHTML, insertAdjacentHTML and document.write
// are not used anywhere in the console.

const SVG = 'http://www.w3.org/2000/svg';

// h makes an HTML element: h('a', {href: '#/tools', class: 'x'}, 'text', child).
// Event listeners go under `on`: h('button', {on: {click: fn}}, 'Go').
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  setProps(el, props);
  append(el, ...children);
  return el;
}

// s makes an SVG element the same way.
export function s(tag, props, ...children) {
  const el = document.createElementNS(SVG, tag);
  setProps(el, props);
  append(el, ...children);
  return el;
}

// Set as properties rather than attributes. checked and selected stay
// attributes: as attributes they are the control's default, which
// form.reset() goes back to.
const PROPERTIES = new Set(['value', 'disabled', 'indeterminate']);

function setProps(el, props) {
  if (!props) return;
  for (const [k, v] of Object.entries(props)) {
    if (v == null || v === false) continue;
    if (k === 'on') {
      for (const [event, fn] of Object.entries(v)) el.addEventListener(event, fn);
    } else if (/^on/i.test(k)) {
      throw new Error(`dom: event handlers go under "on", not as the attribute ${k}`);
    } else if (k === 'class') {
      el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : String(v));
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (k === 'href' || k === 'src' || k === 'action') {
      el.setAttribute(k, safeURL(String(v)));
    } else if (PROPERTIES.has(k)) {
      el[k] = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

// safeURL keeps links to the console's own pages, the server's paths and
// http(s) addresses; anything else (javascript:, data:) becomes "#".
function safeURL(u) {
  return /^(#|\/(?!\/)|https?:\/\/)/i.test(u) ? u : '#';
}

// append adds children: nodes as they are, anything else as text; arrays
// are flattened and null, undefined and false skipped.
export function append(el, ...children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// replace empties el and appends children.
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, ...children);
}
