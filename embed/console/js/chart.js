// Small SVG charts built with s(): a scatter of values over time in
// series, and a bar chart. Every label is a text node, so API strings
// (series names, categories) are never parsed as markup. Colours come from
// the .series-N classes of app.css; nothing here sets a style.
//
// Each chart is a <figure>: the <svg role="img"> has an aria-label that
// sums it up, and the caption (plus the legend) says it in words, so a
// reader who cannot see the plot gets the same figures.
import { h, s } from './dom.js';

const SERIES_COLOURS = 6;

// seriesClass is the colour class of series i (colours repeat after six).
export function seriesClass(i) {
  return `series-${((i % SERIES_COLOURS) + SERIES_COLOURS) % SERIES_COLOURS}`;
}

// niceStep is a round step (1, 2 or 5 times a power of ten) giving about
// `count` intervals over span.
function niceStep(span, count) {
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
}

// valueTicks are round values from 0 to at least max.
function valueTicks(max, count = 5) {
  const top = max > 0 ? max : 1;
  const step = niceStep(top, count);
  const ticks = [];
  for (let v = 0; v < top + step / 2; v += step) ticks.push(v);
  if (ticks[ticks.length - 1] < top) ticks.push(ticks[ticks.length - 1] + step);
  return ticks;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const TIME_STEPS = [SECOND, 2 * SECOND, 5 * SECOND, 10 * SECOND, 15 * SECOND, 30 * SECOND, MINUTE, 2 * MINUTE,
  5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY,
  7 * DAY, 14 * DAY, 30 * DAY];

// timeTicks are instants between lo and hi on a round step of the
// viewer's local time (so an hour tick falls on the hour in a zone that is
// offset by half an hour), with the formatter their labels need.
function timeTicks(lo, hi, count = 6) {
  const span = hi - lo;
  const step = TIME_STEPS.find((st) => span / st <= count) || TIME_STEPS[TIME_STEPS.length - 1];
  const offset = -new Date(lo).getTimezoneOffset() * MINUTE;
  const ticks = [];
  for (let t = Math.ceil((lo + offset) / step) * step - offset; t <= hi; t += step) ticks.push(t);
  const opts =
    span >= 2 * DAY
      ? { month: 'short', day: 'numeric', hour: step < DAY ? '2-digit' : undefined, minute: step < DAY ? '2-digit' : undefined }
      : step < MINUTE
        ? { hour: '2-digit', minute: '2-digit', second: '2-digit' }
        : { hour: '2-digit', minute: '2-digit' };
  return { ticks, format: new Intl.DateTimeFormat(undefined, opts) };
}

const exactTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

// legend lists series names beside their colour swatches.
export function legend(items) {
  return h(
    'ul',
    { class: 'legend' },
    items.map((it) => h('li', null, h('i', { class: it.className, 'aria-hidden': 'true' }), it.label)),
  );
}

// timeScatter plots points over time, one colour per series, joined by a
// faint line in time order (for series of up to a hundred points).
//   series: [{name, points: [{t: ms since epoch, y, failed}]}]
//   seriesKey: each point carries data-<seriesKey>="<series name>"
//   yFormat: how a y value is written (ticks and point titles)
//   label: the aria-label; caption: the figure's caption (node or text)
// A failed point is still one circle.point (in its series' colour) with a
// ring around it (circle.failed-point), so points can be counted and
// failures told apart at a glance.
//
// A point is named by a tooltip: one <title>, moved into the point the
// pointer is over and written then. A <title> per point would be two more
// nodes per point, created, styled and dropped again on every redraw: at a
// thousand points they were a third of the chart's cost.
export function timeScatter({ series, seriesKey = 'series', yLabel = '', yFormat = String, label, caption, width = 760, height = 260 }) {
  const m = { top: 12, right: 16, bottom: 28, left: 64 };
  const iw = width - m.left - m.right;
  const ih = height - m.top - m.bottom;
  const all = series.flatMap((se) => se.points);
  let lo = Math.min(...all.map((p) => p.t));
  let hi = Math.max(...all.map((p) => p.t));
  if (!all.length) {
    hi = Date.now();
    lo = hi - HOUR;
  }
  // A short span is widened so a few points close together do not sit on
  // the plot's edges.
  if (hi - lo < 10 * SECOND) {
    const mid = (lo + hi) / 2;
    lo = mid - 5 * SECOND;
    hi = mid + 5 * SECOND;
  } else {
    const pad = (hi - lo) * 0.03;
    lo -= pad;
    hi += pad;
  }
  const yt = valueTicks(Math.max(0, ...all.map((p) => p.y)));
  const ymax = yt[yt.length - 1];
  const x = (t) => m.left + ((t - lo) / (hi - lo)) * iw;
  const y = (v) => m.top + ih - (v / ymax) * ih;
  // About one time label per 110 px: they are about 70 px wide.
  const xt = timeTicks(lo, hi, Math.max(2, Math.floor(iw / 110)));
  // Labels at the plot's ends are anchored inwards, so none is cut off.
  const anchor = (px) => (px > m.left + iw - 36 ? 'end' : px < m.left + 36 ? 'start' : 'middle');

  const grid = s('g', { class: 'grid', 'aria-hidden': 'true' }, yt.map((v) => s('line', { x1: m.left, x2: m.left + iw, y1: y(v), y2: y(v) })));
  const axes = s(
    'g',
    { class: 'axis', 'aria-hidden': 'true' },
    s('line', { x1: m.left, x2: m.left + iw, y1: m.top + ih, y2: m.top + ih }),
    s('line', { x1: m.left, x2: m.left, y1: m.top, y2: m.top + ih }),
    yt.map((v) => s('text', { x: m.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, yFormat(v))),
    xt.ticks.map((t) => [
      s('line', { x1: x(t), x2: x(t), y1: m.top + ih, y2: m.top + ih + 4 }),
      s('text', { x: x(t), y: m.top + ih + 17, 'text-anchor': anchor(x(t)) }, xt.format.format(new Date(t))),
    ]),
    yLabel ? s('text', { x: 12, y: m.top + ih / 2, 'text-anchor': 'middle', transform: `rotate(-90 12 ${m.top + ih / 2})` }, yLabel) : null,
  );
  // named maps each point's circle to what its tooltip says.
  const named = new WeakMap();
  const plots = series.map((se, i) => {
    const cls = se.className || seriesClass(i);
    const pts = [...se.points].sort((a, b) => a.t - b.t);
    // Past a hundred points a line only adds noise: the dots say it.
    const line =
      pts.length > 1 && pts.length <= 100
        ? s('polyline', { class: ['line', cls], points: pts.map((p) => `${x(p.t).toFixed(1)},${y(p.y).toFixed(1)}`).join(' ') })
        : null;
    const dots = pts.map((p) => {
      const cx = x(p.t).toFixed(1);
      const cy = y(p.y).toFixed(1);
      const dot = s('circle', { class: ['point', cls, p.failed && 'failed'], cx, cy, r: 3.5, [`data-${seriesKey}`]: se.name });
      named.set(dot, { name: se.name, p });
      return [dot, p.failed ? s('circle', { class: 'failed-point', cx, cy, r: 6.5, 'aria-hidden': 'true' }) : null];
    });
    return s('g', { class: 'series' }, line, dots);
  });
  const tip = s('title');
  const name = (ev) => {
    const d = named.get(ev.target);
    if (!d) return;
    tip.textContent = `${d.name}: ${yFormat(d.p.y)} at ${exactTime.format(new Date(d.p.t))}${d.p.failed ? ' (failed)' : ''}`;
    ev.target.append(tip);
  };
  const svg = s(
    'svg',
    {
      class: 'chart',
      viewBox: `0 0 ${width} ${height}`,
      role: 'img',
      'aria-label': label,
      preserveAspectRatio: 'xMidYMid meet',
      on: { pointerover: name },
    },
    grid,
    axes,
    plots,
  );
  const items = series.map((se, i) => ({ label: se.name, className: se.className || seriesClass(i) }));
  if (all.some((p) => p.failed)) items.push({ label: 'failed', className: 'swatch-failed' });
  return h('figure', { class: 'chart-figure' }, svg, legend(items), caption ? h('figcaption', null, caption) : null);
}

// barChart draws horizontal bars: one group per row, one bar per key.
//   rows: [{label, values: [number per key], className}]
//   keys: [{name}] (bar k of a row has class key-k; the legend names them)
//   format: how a value is written
export function barChart({ rows, keys, format = String, label, caption, width = 760 }) {
  const bar = 12;
  const gap = 4;
  const groupH = keys.length * (bar + gap) + 10;
  const m = { top: 8, right: 80, bottom: 24, left: 90 };
  const iw = width - m.left - m.right;
  const height = m.top + m.bottom + Math.max(1, rows.length) * groupH;
  const ticks = valueTicks(Math.max(0, ...rows.flatMap((r) => r.values.filter((v) => v != null))), 4);
  const max = ticks[ticks.length - 1];
  const x = (v) => m.left + (v / max) * iw;
  const bottom = height - m.bottom;
  const svg = s(
    'svg',
    { class: 'chart bars', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label },
    s('g', { class: 'grid', 'aria-hidden': 'true' }, ticks.map((v) => s('line', { x1: x(v), x2: x(v), y1: m.top, y2: bottom }))),
    s(
      'g',
      { class: 'axis', 'aria-hidden': 'true' },
      s('line', { x1: m.left, x2: m.left + iw, y1: bottom, y2: bottom }),
      ticks.map((v) => s('text', { x: x(v), y: bottom + 16, 'text-anchor': 'middle' }, format(v))),
    ),
    rows.map((r, i) => {
      const top = m.top + i * groupH + 5;
      const cls = r.className || seriesClass(i);
      return s(
        'g',
        { class: 'bar-group' },
        s('text', { x: m.left - 8, y: top + (keys.length * (bar + gap)) / 2 + 2, 'text-anchor': 'end' }, r.label),
        r.values.map((v, k) =>
          v == null
            ? null
            : [
                s(
                  'rect',
                  { class: ['bar', cls, `key-${k}`], x: m.left, y: top + k * (bar + gap), width: Math.max(1, x(v) - m.left), height: bar },
                  s('title', null, `${r.label} ${keys[k].name}: ${format(v)}`),
                ),
                s('text', { class: 'value', x: x(v) + 4, y: top + k * (bar + gap) + bar - 2 }, `${keys[k].name} ${format(v)}`),
              ],
        ),
      );
    }),
  );
  return h(
    'figure',
    { class: 'chart-figure' },
    svg,
    keys.length > 1 ? legend(keys.map((k, i) => ({ label: k.name, className: `swatch-key key-${i}` }))) : null,
    caption ? h('figcaption', null, caption) : null,
  );
}

// percentile is the nearest-rank percentile p (0 to 100) of sorted values.
export function percentile(sorted, p) {
  if (!sorted.length) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}
