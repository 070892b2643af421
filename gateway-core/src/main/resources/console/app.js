// The console's shell: sign-in, the caller's role (GET /admin/v1/me), navigation and routing.
import { api, token, setToken, clearToken, whenUnauthorized } from './api.js';
import { h, clear, messageOf } from './ui.js';
import * as merchant from './merchant.js';
import * as operator from './operator.js';
import * as buyer from './buyer.js';

const VIEWS = { merchant, operator, buyer };
const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const signout = document.getElementById('signout');
let me = null;

function signInForm(message) {
  me = null;
  nav.replaceChildren();
  who.textContent = '';
  signout.hidden = true;
  document.title = 'Sign in · tollgate console';
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false',
    required: true, 'aria-describedby': 'token-help' + (message ? ' signin-error' : '') });
  const err = h('p', { id: 'signin-error', class: 'error', role: 'alert' }, message || '');
  if (!message) err.hidden = true;
  const button = h('button', { type: 'submit' }, 'Sign in');
  const form = h('form', { class: 'signin card', id: 'signin', onsubmit: async (e) => {
    e.preventDefault();
    const t = input.value.trim();
    if (!t) return;
    button.disabled = true;
    err.hidden = false;
    err.className = 'loading';
    err.textContent = 'Checking…';
    try {
      const who = await api('GET', '/admin/v1/me', undefined, t);
      setToken(t);
      input.value = '';
      start(who);
    } catch (x) {
      err.className = 'error';
      err.textContent = x.status === 401
        ? 'That token or API key was not accepted. Check it and try again.'
        : messageOf(x);
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      input.select();
    } finally {
      button.disabled = false;
    }
  } },
  h('h1', {}, 'Sign in'),
  h('label', { for: 'token' }, 'Token or API key'),
  input,
  h('p', { id: 'token-help', class: 'help' },
    'An operator token, a merchant token, or a buyer API key. It is kept in this browser tab only and forgotten when the tab closes.'),
  err, button);
  clear(main, form);
  input.focus();
}

function start(caller) {
  me = caller;
  const view = VIEWS[me.role];
  if (!view) {
    signInForm('This console has no view for the role ' + me.role + '.');
    return;
  }
  who.textContent = me.role + (me.name && me.name !== me.role ? ': ' + me.name : '');
  signout.hidden = false;
  if (!location.hash || !view.routes.some(([path]) => location.hash.startsWith(path))) {
    history.replaceState(null, '', view.routes[0][0]);
  }
  route();
}

function route() {
  if (!me) return;
  const view = VIEWS[me.role];
  const hash = location.hash || view.routes[0][0];
  nav.replaceChildren(...view.routes.map(([path, label]) => h('a', {
    href: path, 'aria-current': hash === path || hash.startsWith(path + '/') ? 'page' : undefined }, label)));
  const current = view.routes.find(([path]) => hash === path || hash.startsWith(path + '/')) || view.routes[0];
  document.title = current[1] + ' · tollgate console';
  main.replaceChildren();
  view.render(hash, main, me);
  if (document.activeElement === document.body || !document.activeElement) main.focus({ preventScroll: true });
}

whenUnauthorized(() => {
  clearToken();
  signInForm('Your session ended: the token is no longer accepted. Sign in again.');
});

signout.addEventListener('click', () => {
  clearToken();
  history.replaceState(null, '', location.pathname);
  signInForm();
});

window.addEventListener('hashchange', () => {
  route();
  main.focus({ preventScroll: true });
});

async function boot() {
  const t = token();
  if (!t) {
    signInForm();
    return;
  }
  try {
    start(await api('GET', '/admin/v1/me'));
  } catch (e) {
    if (e.status !== 401) signInForm(messageOf(e));
  }
}

boot();
