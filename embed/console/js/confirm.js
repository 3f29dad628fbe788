// A button that asks before it acts: the question and its two answers are
// buttons in the page (window.confirm is modal, cannot be styled and is
// easy to click through). Used for actions that cannot be undone, such as
// deleting a webhook destination or cancelling a simulation run.
import { h, replace } from './dom.js';
import { loading, problem } from './ui.js';

// confirmAction answers an element holding the button `label`. A click
// asks `question`; "yes" runs act(), whose answer (a node, if any) is
// shown in place, and an error is shown as problem(err) with the button
// back.
export function confirmAction({ label, question, yes, no = 'No, keep it', act, danger = false }) {
  const bar = h('div', { class: 'actions confirm' });
  const out = h('div', { class: 'form-out', 'aria-live': 'polite' });
  const wrap = h('div', { class: 'confirm-wrap' }, bar, out);
  const start = h('button', { type: 'button', class: danger ? 'secondary danger' : 'secondary', on: { click: ask } }, label);

  function idle() {
    replace(bar, start);
  }
  function ask() {
    replace(out);
    const noButton = h('button', { type: 'button', class: 'secondary', on: { click: () => (idle(), start.focus()) } }, no);
    const yesButton = h('button', { type: 'button', class: danger ? 'danger' : null, on: { click: run } }, yes);
    replace(bar, h('span', { class: 'question' }, question), yesButton, noButton);
    // The safe answer has the focus, so Enter does not destroy anything.
    noButton.focus();
  }
  async function run() {
    for (const b of bar.querySelectorAll('button')) b.disabled = true;
    replace(out, loading('Working…'));
    try {
      const shown = await act();
      replace(out, shown ?? '');
      idle();
    } catch (err) {
      replace(out, problem(err));
      idle();
    }
  }
  // Escape takes the question back, as No does.
  bar.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && bar.querySelector('.question')) {
      idle();
      start.focus();
    }
  });
  idle();
  return wrap;
}

// confirmButton is confirmAction for a destructive action whose answer to
// "yes" is the label itself: confirmButton('Delete', 'Delete rule f1?', act).
export function confirmButton(label, question, act, { yes = label } = {}) {
  return confirmAction({ label, question, yes, no: 'Cancel', act, danger: true });
}
