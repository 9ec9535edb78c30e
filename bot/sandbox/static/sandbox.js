// The sandbox page is drawn on the server, so every action reloads it. This script keeps a keyboard
// user's place across those reloads, makes an open modal behave as a dialog (focus moved in and kept
// there, Esc closes it, focus goes back to what opened it), sends a select's choice the way Slack does
// without sending on every arrow key, and reloads when the workspace changes while nothing is typed.
'use strict';
(() => {
  const STORE = 'pmccg-sandbox';
  let saved = {};
  try { saved = JSON.parse(sessionStorage.getItem(STORE) || '{}'); } catch (e) { saved = {}; }
  const keep = () => sessionStorage.setItem(STORE, JSON.stringify(saved));

  // A control's name that survives a reload: its id, else the message (or Home) it sits in and what it sends.
  function keyOf(el) {
    if (!el || !el.closest || el === document.body) return null;
    if (el.id) return {id: el.id};
    const scope = el.closest('[data-ts], [data-eph], .home-view');
    const where = scope ? (scope.dataset.ts ? 'ts:' + scope.dataset.ts
                           : scope.dataset.eph ? 'eph:' + scope.dataset.eph : 'home') : '';
    if (!el.name) return where ? {where} : null;
    const valued = el.matches('button, input[type=checkbox], input[type=radio]');
    return {where, name: el.name, value: valued ? el.value : null};
  }

  function scopeOf(where) {
    if (!where) return document;
    if (where === 'home') return document.querySelector('.home-view');
    const [kind, id] = where.split(':');
    return document.querySelector(kind === 'ts' ? `[data-ts="${CSS.escape(id)}"]` : `[data-eph="${CSS.escape(id)}"]`);
  }

  function find(key) {
    if (!key) return null;
    if (key.id) return document.getElementById(key.id);
    const scope = scopeOf(key.where);
    if (!scope) return null;
    if (key.name) {
      for (const el of scope.querySelectorAll('[name]')) {
        if (el.name === key.name && el.type !== 'hidden' && (key.value === null || el.value === key.value)) return el;
      }
    }
    return scope === document ? null : scope;  // the control went (say, a button once answered): its message
  }

  const FOCUSABLE = 'a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), ' +
                    'select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';
  const focusables = (root) => [...root.querySelectorAll(FOCUSABLE)].filter((el) => el.getClientRects().length);

  // Whether the person last used a pointer or the keyboard: focus put back after a reload shows its
  // ring for keyboard users, as a click would not.
  let pointer = false;
  document.addEventListener('pointerdown', () => { pointer = true; }, true);
  document.addEventListener('keydown', () => { pointer = false; }, true);
  const put = (el) => el.focus({focusVisible: !saved.pointer});

  // Where focus should be after the reload this submit causes, and what opened a modal.
  let nextFocus = null;  // set when leaving a select sends it: focus goes where the person was going
  document.addEventListener('submit', (event) => {
    const active = document.activeElement;
    const typing = active && active.matches('input:not([type=hidden]), textarea, select') ? active : null;
    const from = nextFocus || keyOf(typing || event.submitter || active);
    nextFocus = null;
    saved.focus = from;
    saved.pointer = pointer;
    if (!event.target.closest('.modal')) saved.opener = from;
    keep();
  }, true);

  // Choosing with the mouse, or from the open list, sends at once, as in Slack; moving through a closed
  // select with the arrow keys only changes it, and Enter (or leaving it) sends the choice.
  function onPick(select, send) {
    let keyed = false;
    let changed = false;
    select.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && changed) {
        event.preventDefault();
        changed = false;
        send();
      } else if (event.key.length === 1 || /^(Arrow|Page|Home|End)/.test(event.key)) {
        keyed = true;
        setTimeout(() => { keyed = false; });
      }
    });
    select.addEventListener('change', () => {
      if (keyed) { changed = true; return; }
      send();
    });
    select.addEventListener('blur', (event) => {
      if (!changed) return;
      changed = false;
      nextFocus = keyOf(event.relatedTarget);
      send();
    });
  }

  document.querySelectorAll('select[data-autosubmit]').forEach((select) => onPick(select, () => select.form.requestSubmit()));
  document.querySelectorAll('.modal [data-dispatch]').forEach((control) => {
    const send = () => { control.form.elements.dispatch.value = control.name; control.form.requestSubmit(); };
    if (control.matches('select')) onPick(control, send);
    else control.addEventListener('change', send);
  });

  const dialog = document.querySelector('.modal[role=dialog]');
  if (dialog) {
    const restored = saved.focus && dialog.contains(find(saved.focus)) ? find(saved.focus) : null;
    const target = dialog.querySelector('[aria-invalid=true]') || restored ||
      dialog.querySelector('.modal-body :is(input:not([type=hidden]), select, textarea)') || dialog;
    delete saved.focus;
    saved.modal = dialog.dataset.view;
    keep();
    put(target);
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && !event.defaultPrevented) {
        event.preventDefault();
        dialog.querySelector('header button[name=close_view]').click();
      } else if (event.key === 'Tab') {
        const items = focusables(dialog);
        if (!items.length) return;
        const first = items[0];
        const last = items[items.length - 1];
        if (event.shiftKey && (document.activeElement === first || !dialog.contains(document.activeElement) ||
                               document.activeElement === dialog)) {
          event.preventDefault();
          last.focus();
        } else if (!event.shiftKey && (document.activeElement === last || !dialog.contains(document.activeElement))) {
          event.preventDefault();
          first.focus();
        }
      } else if (event.key === 'Enter' && event.target.matches && event.target.matches('.modal input:not([type=checkbox]):not([type=radio])')) {
        event.preventDefault();  // no implicit submission: the form's first button is Close
      }
    });
    document.addEventListener('focusin', (event) => { if (!dialog.contains(event.target)) dialog.focus(); });
  } else {
    let target = null;
    if (saved.modal) {  // a modal was open and is now closed: back to what opened it
      target = find(saved.opener);
      delete saved.modal;
      delete saved.opener;
    }
    target = target || find(saved.focus);
    delete saved.focus;
    keep();
    if (target) put(target);
  }

  // Tell screen-reader users what appeared after their action (a private reply, or a call Slack
  // refused), which shows elsewhere on the page than where their focus was put back.
  const news = [];
  const replies = [...document.querySelectorAll('[data-eph]')];
  const newest = Math.max(0, ...replies.map((e) => Number(e.dataset.eph)));
  if (saved.seenReply !== undefined) {
    replies.filter((e) => Number(e.dataset.eph) > saved.seenReply)
      .forEach((e) => news.push(e.querySelector('.message-body').innerText.replace(/^.*Dismiss\s*/s, '')));
  }
  saved.seenReply = Math.max(saved.seenReply || 0, newest);
  const refusals = [...document.querySelectorAll('.slack-error')].map((e) => e.innerText.trim());
  news.push(...refusals.filter((text) => !(saved.refusals || []).includes(text)));
  saved.refusals = refusals;
  keep();
  const announcer = document.getElementById('announce');
  if (announcer && news.length) setTimeout(() => { announcer.textContent = news.join(' '); }, 300);

  // Reload when the workspace changed, unless a form is open, something is being typed, or the person
  // turned live updates off (WCAG 2.2.2: content that updates by itself can be paused).
  const live = document.getElementById('live-updates');
  if (live) {
    live.checked = saved.live !== false;
    live.addEventListener('change', () => { saved.live = live.checked; keep(); });
  }
  const shown = document.body.dataset.version;
  setInterval(async () => {
    if (dialog || saved.live === false) return;
    const box = document.getElementById('composer');
    if (box && box.value) return;
    try {
      const reply = await fetch('/version');
      const body = await reply.json();
      if (String(body.version) !== shown) {
        saved.focus = keyOf(document.activeElement);
        saved.pointer = pointer;
        keep();
        location.reload();
      }
    } catch (e) { /* the sandbox stopped: keep the page as it is */ }
  }, 1500);

  const list = document.getElementById('messages');
  if (list && !list.contains(document.activeElement)) list.scrollTop = list.scrollHeight;
})();
