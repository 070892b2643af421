// DOM helpers. Elements are built with properties and text nodes, never from HTML strings, so
// nothing an API answer holds can become markup, and no inline style attribute is ever written
// (the Content-Security-Policy forbids them).

/** h('button', {class: 'x', onclick: f}, 'text', child...) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'style') throw new Error('no inline styles');
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A section with a heading, and a body that shows loading, then the content or the error. */
export function section(title, id) {
  const body = h('div', { class: 'section-body', 'aria-live': 'polite' });
  const el = h('section', { class: 'card', id }, h('h2', {}, title), body);
  return { el, body };
}

export function loading(el, what = 'Loading…') {
  clear(el, h('p', { class: 'loading', role: 'status' }, what));
}

export function errorBox(e) {
  return h('p', { class: 'error', role: 'alert' }, messageOf(e));
}

export function messageOf(e) {
  if (!e) return 'Something went wrong.';
  if (e.status === 403) return 'Not allowed: ' + e.message;
  if (e.status === 404) return 'Not found: ' + e.message;
  if (e.status === 429) return 'Too many attempts: ' + e.message;
  if (e.status >= 500) return 'tollgate could not answer (' + e.status + '): ' + e.message;
  return e.message || String(e);
}

/** Runs load() into el with a loading state, and shows its error there if it fails. */
export async function into(el, load) {
  loading(el);
  try {
    const content = await load();
    clear(el, content);
  } catch (e) {
    clear(el, errorBox(e));
    if (!(e && e.status)) console.warn(e);
  }
}

/**
 * A table. columns: [{label, value: row => text|Node, num: bool}]. Numbers are right-aligned.
 */
export function table(caption, columns, rows, opts = {}) {
  const head = h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : undefined }, c.label)));
  const body = rows.map((r) => h('tr', {}, columns.map((c, i) => {
    const v = c.value(r);
    const cell = i === 0 && opts.rowHeader ? 'th' : 'td';
    return h(cell, { class: c.num ? 'num' : undefined, scope: cell === 'th' ? 'row' : undefined,
      dataset: { label: c.label } }, v);
  })));
  const t = h('table', { class: opts.class }, h('caption', { class: opts.showCaption ? '' : 'sr-only' }, caption),
    h('thead', {}, head), h('tbody', {}, body), opts.foot ? h('tfoot', {}, opts.foot) : null);
  if (opts.id) t.id = opts.id;
  return h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption }, t);
}

export function empty(text) {
  return h('p', { class: 'empty' }, text);
}

export const fmtInt = (n) => (n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US'));

export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toISOString().replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC');
}

export function fmtDate(iso) {
  return iso ? new Date(iso).toISOString().slice(0, 10) : '—';
}

export function money(amount, currency) {
  if (amount === null || amount === undefined) return '—';
  return amount + (currency ? ' ' + currency : '');
}

export function badge(status) {
  return h('span', { class: 'badge badge-' + String(status).replace(/[^a-z_]/g, '') }, String(status).replace('_', ' '));
}

/** Asks before a destructive action; resolves to true when confirmed. */
export function confirmAction(title, text, okLabel) {
  const dlg = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').textContent = okLabel;
  dlg.returnValue = '';
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
    dlg.showModal();
  });
}

/** A short-lived message for the result of an action, read out by screen readers. */
export function flash(text, kind = 'ok') {
  let box = document.getElementById('flash');
  if (!box) {
    box = h('div', { id: 'flash', role: 'status', 'aria-live': 'polite' });
    document.body.append(box);
  }
  clear(box, h('p', { class: 'flash flash-' + kind }, text));
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => box.replaceChildren(), 6000);
}

/** Disables a button while f runs; shows its error with flash. */
export async function busy(button, f) {
  button.disabled = true;
  try {
    return await f();
  } catch (e) {
    flash(messageOf(e), 'error');
    return undefined;
  } finally {
    button.disabled = false;
  }
}

/** Days as yyyy-mm-dd (UTC), for <input type=date>. */
export function day(d) {
  return d.toISOString().slice(0, 10);
}

/** A CSV file from rows, downloaded by the browser. */
export function downloadCsv(name, header, rows) {
  const esc = (v) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\n\r]/.test(s) || /^[=+\-@]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  };
  const text = [header, ...rows].map((r) => r.map(esc).join(',')).join('\r\n') + '\r\n';
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
  const a = h('a', { href: url, download: name, class: 'sr-only' }, name);
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
