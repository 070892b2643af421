// The buyer's view (signed in with an API key): the subscription, what is left, usage over time
// and whom to ask for help. Read-only: GET /admin/v1/me and GET /admin/v1/usage of its own key.
import { api, get } from './api.js';
import { h, clear, section, into, badge, fmtInt, fmtTime, money } from './ui.js';
import { usagePanel } from './charts.js';

export const routes = [['#/subscription', 'My subscription']];

export function render(hash, main, me) {
  const status = section('Subscription', 'subscription');
  const support = section('Support', 'support');
  const use = section('Usage', 'buyer-usage');
  const refresh = h('button', { type: 'button', id: 'refresh', class: 'secondary' }, 'Refresh');
  main.append(h('div', { class: 'title-row' }, h('h1', {}, 'My subscription'), refresh), status.el, support.el, use.el);
  const panel = usagePanel({ title: 'My usage', withAmount: true, load: get });
  use.body.append(panel.el);
  let first = me;
  const load = () => into(status.body, async () => {
    const who = first || (await api('GET', '/admin/v1/me'));
    first = null;
    const s = who.subscription;
    const m = s.merchant || {};
    clear(support.body, h('dl', { class: 'facts' },
      h('dt', {}, 'Sold by'), h('dd', {}, m.name || '—'),
      h('dt', {}, 'Phone'), h('dd', {}, m.supportPhone ? h('a', { href: 'tel:' + m.supportPhone.replace(/[^+0-9]/g, '') }, m.supportPhone) : '—'),
      h('dt', {}, 'Email'), h('dd', {}, m.supportEmail ? h('a', { href: 'mailto:' + m.supportEmail }, m.supportEmail) : '—')));
    const u = s.usage;
    return h('dl', { class: 'facts', id: 'subscription-facts' },
      h('dt', {}, 'Product'), h('dd', {}, (s.product && s.product.name) || s.productId),
      h('dt', {}, 'Status'), h('dd', {}, badge(s.status)),
      h('dt', {}, 'Expires'), h('dd', { id: 'expires' }, s.expiresAt ? fmtTime(s.expiresAt) : 'does not expire'),
      h('dt', {}, 'Remaining'), h('dd', {}, s.quota === null
        ? 'no quota'
        : [h('span', { id: 'remaining', dataset: { value: String(s.remaining) } }, fmtInt(s.remaining)),
          ' of ' + fmtInt(s.quota) + (s.billingMode === 'CALL_PACKAGE' ? ' calls' : ' tokens'),
          h('meter', { min: 0, max: s.quota, value: s.remaining, 'aria-label': 'Quota left' })]),
      h('dt', {}, 'This period'), h('dd', {}, fmtInt(u.calls) + ' calls, ' + fmtInt(u.inputTokens) + ' input and '
        + fmtInt(u.outputTokens) + ' output tokens, ' + money(u.amount, u.currency)),
      h('dt', {}, 'Period started'), h('dd', {}, fmtTime(s.periodStart)),
      h('dt', {}, 'Subscription'), h('dd', { class: 'mono' }, s.id));
  });
  refresh.addEventListener('click', () => {
    load();
    panel.run();
  });
  load();
}
