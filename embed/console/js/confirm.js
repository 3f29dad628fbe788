// A destructive action asked twice, with buttons rather than
// window.confirm: the first button is replaced by the question and a
// "Yes" and a "Cancel" button; "Cancel" (or Escape) puts the first button
// back. Keyboard focus follows, so the question is read out.
import { h, replace } from './dom.js';
import { problem } from './ui.js';

// confirmButton answers a span holding a button labelled label; once
// confirmed, action() runs and its outcome (a node) or its error replaces
// the question; no outcome puts the button back.
export function confirmButton(label, question, action, { yes = label } = {}) {
  const wrap = h('span', { class: 'confirm' });
  const first = h('button', { type: 'button', class: 'secondary danger', on: { click: ask } }, label);
  let asking = false;
  function back() {
    asking = false;
    replace(wrap, first);
    first.focus();
  }
  function ask() {
    const ok = h('button', { type: 'button', class: 'danger' }, yes);
    const cancel = h('button', { type: 'button', class: 'secondary', on: { click: back } }, 'Cancel');
    ok.addEventListener('click', async () => {
      ok.disabled = true;
      cancel.disabled = true;
      asking = false;
      try {
        const outcome = await action();
        // Nothing to say: the button is back for the next time.
        if (outcome == null) back();
        else replace(wrap, outcome);
      } catch (err) {
        replace(wrap, problem(err) ?? '', ' ', first);
      }
    });
    const q = h('span', { class: 'question', role: 'alert' }, question);
    replace(wrap, q, ' ', ok, ' ', cancel);
    asking = true;
    cancel.focus();
  }
  wrap.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && asking) back();
  });
  replace(wrap, first);
  return wrap;
}
