// The operator's views: the review queue, merchants and their support record, subscriptions and
// their lifecycle and a licence's machines, the fleet's usage.
import { get, post, all, query } from './api.js';
import { h, clear, section, into, table, empty, badge, fmtInt, fmtTime, fmtDate, flash, busy, errorBox,
  confirmAction, loading } from './ui.js';
import { usagePanel } from './charts.js';
import { machines, machinesLink } from './machines.js';

export const routes = [
  ['#/review', 'Review queue'],
  ['#/merchants', 'Merchants'],
  ['#/subscriptions', 'Subscriptions'],
  ['#/fleet', 'Fleet'],
];

export function render(hash, main) {
  if (hash.startsWith('#/merchants')) return merchants(main);
  const m = hash.match(/^#\/subscriptions\/([^/]+)\/machines$/);
  if (m) return machines(main, decodeURIComponent(m[1]), { back: ['#/subscriptions', 'Subscriptions'] });
  if (hash.startsWith('#/subscriptions')) return subscriptions(main);
  if (hash.startsWith('#/fleet')) return fleet(main);
  return review(main);
}

async function merchantNames() {
  const list = await all('/admin/v1/merchants');
  return Object.fromEntries(list.map((m) => [m.id, m.name]));
}

function review(main) {
  const s = section('Products waiting for review', 'review');
  main.append(h('h1', {}, 'Review queue'), s.el);
  const load = () => into(s.body, async () => {
    const [list, names] = await Promise.all([all('/admin/v1/products' + query({ status: 'pending_review' })), merchantNames()]);
    if (!list.length) return empty('Nothing to review.');
    return h('ul', { class: 'queue', id: 'review-queue' }, list.map((p) => reviewItem(p, names[p.merchantId] || p.merchantId, load)));
  });
  load();
}

function reviewItem(p, merchant, after) {
  const reason = h('textarea', { id: 'reason-' + p.id, name: 'reason', rows: 2, maxlength: 1000, required: true });
  const reject = h('form', { class: 'reject', hidden: true, onsubmit: (e) => {
    e.preventDefault();
    const text = reason.value.trim();
    if (!text) {
      reason.focus();
      return;
    }
    busy(e.submitter || rejectButton, async () => {
      await post('/admin/v1/products/' + encodeURIComponent(p.id) + '/reject', { reason: text });
      flash(p.name + ' was rejected and is back to draft.');
      after();
    });
  } },
  h('label', { for: reason.id }, 'Why is ' + p.name + ' rejected? The merchant sees this note.'), reason,
  h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'danger' }, 'Reject with this reason'),
    h('button', { type: 'button', class: 'secondary', onclick: () => { reject.hidden = true; rejectButton.focus(); } }, 'Cancel')));
  const approve = h('button', { type: 'button', class: 'approve', onclick: () => busy(approve, async () => {
    await post('/admin/v1/products/' + encodeURIComponent(p.id) + '/approve');
    flash(p.name + ' is listed.');
    after();
  }) }, 'Approve');
  approve.setAttribute('aria-label', 'Approve ' + p.name);
  const rejectButton = h('button', { type: 'button', class: 'secondary', onclick: () => {
    reject.hidden = false;
    reason.focus();
  } }, 'Reject…');
  rejectButton.setAttribute('aria-label', 'Reject ' + p.name);
  const skus = h('div', { class: 'help' });
  all('/admin/v1/products/' + encodeURIComponent(p.id) + '/skus')
    .then((list) => clear(skus, list.length ? 'SKUs: ' + list.map((s) => s.name + ' (' + s.billing.mode + ')').join(', ') : 'No SKUs'))
    .catch((e) => clear(skus, errorBox(e)));
  return h('li', { class: 'card item', dataset: { product: p.id } },
    h('h3', {}, p.name),
    h('p', {}, 'by ', merchant, ' · ', p.protocol, ' · ', p.endpoints.map((e) => e.url).join(', ')),
    skus,
    h('div', { class: 'actions' }, approve, rejectButton), reject);
}

function merchants(main) {
  const s = section('Merchants', 'merchants');
  main.append(h('h1', {}, 'Merchants'), s.el);
  into(s.body, async () => {
    const list = await all('/admin/v1/merchants');
    if (!list.length) return empty('No merchants yet.');
    return h('div', {}, table('Merchants and their support contact', [
      { label: 'Merchant', value: (m) => m.name },
      { label: 'Support phone', value: (m) => m.supportPhone || h('span', { class: 'warn' }, 'missing') },
      { label: 'Support email', value: (m) => m.supportEmail || h('span', { class: 'warn' }, 'missing') },
      { label: 'Since', value: (m) => fmtDate(m.createdAt) },
    ], list, { id: 'merchants-table' }), list.map(merchantProducts));
  });
}

function merchantProducts(m) {
  const body = h('div', {});
  let loaded = false;
  const load = () => into(body, async () => {
    const ps = await all('/admin/v1/products' + query({ merchantId: m.id }));
    if (!ps.length) return empty('No products.');
    const failures = await Promise.all(ps.map((p) => all('/admin/v1/products/' + encodeURIComponent(p.id) + '/support-failures')));
    return table('Products of ' + m.name + ' and missed support replies', [
      { label: 'Product', value: (p) => p.name },
      { label: 'Listing', value: (p) => badge(p.status) },
      { label: 'Missed support replies', num: true, value: (p, i) => fmtInt(failures[ps.indexOf(p)].length) },
      { label: 'Last missed', value: (p) => {
        const f = failures[ps.indexOf(p)];
        return f.length ? fmtTime(f[f.length - 1].createdAt) + ': ' + f[f.length - 1].note : '—';
      } },
      { label: 'Record one', value: (p) => supportFailureButton(p, load) },
    ], ps);
  });
  const d = h('details', { class: 'history', ontoggle: () => {
    if (d.open && !loaded) {
      loaded = true;
      load();
    }
  } }, h('summary', {}, 'Products and support failures of ' + m.name), body);
  return d;
}

function supportFailureButton(p, after) {
  if (p.status !== 'listed') return '';
  const b = h('button', { type: 'button', class: 'small secondary', onclick: async () => {
    const ok = await confirmAction('Record a missed support reply?',
      'The third missed reply within 90 days delists ' + p.name + '.', 'Record it');
    if (!ok) return;
    busy(b, async () => {
      const f = await post('/admin/v1/products/' + encodeURIComponent(p.id) + '/support-failures',
        { note: 'recorded in the console' });
      flash(p.name + ': ' + f.failuresInWindow + ' missed replies in 90 days; status ' + f.productStatus + '.');
      after();
    });
  } }, 'Missed reply');
  b.setAttribute('aria-label', 'Record a missed support reply for ' + p.name);
  return b;
}

const ACTIONS = {
  suspend: { label: 'Suspend', confirm: 'The buyer\'s key stops working until the subscription is resumed.', when: ['active', 'expired'] },
  resume: { label: 'Resume', when: ['suspended'] },
  renew: { label: 'Renew', confirm: 'A new period starts now with the full quota; the buyer pays for it.', when: ['active', 'suspended', 'expired'] },
  cancel: { label: 'Cancel', confirm: 'Cancelling is for good: the key stops working and the subscription cannot be renewed.', when: ['active', 'suspended', 'expired'] },
};

function subscriptions(main) {
  const s = section('Subscriptions', 'subscriptions');
  main.append(h('h1', {}, 'Subscriptions'), s.el);
  const status = h('select', { id: 'sub-status', name: 'status' }, h('option', { value: '' }, 'Any status'),
    ['active', 'suspended', 'expired', 'cancelled'].map((v) => h('option', { value: v }, v)));
  const buyer = h('input', { id: 'sub-buyer', name: 'buyerId', type: 'search', autocomplete: 'off' });
  const out = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); load(); } },
    h('label', { for: 'sub-status' }, 'Status', status), h('label', { for: 'sub-buyer' }, 'Buyer id', buyer),
    h('button', { type: 'submit' }, 'Show'));
  s.body.append(form, out);
  function load() {
    return into(out, async () => {
      const list = await all('/admin/v1/subscriptions' + query({ status: status.value, buyerId: buyer.value.trim() }), 1000);
      if (!list.length) return empty('No subscriptions match.');
      return table('Subscriptions', [
        { label: 'Buyer', value: (x) => x.buyerName + (x.buyerName !== x.buyerId ? ' (' + x.buyerId + ')' : '') },
        { label: 'Product', value: (x) => (x.product && x.product.name) || x.productId },
        { label: 'Status', value: (x) => [badge(x.status), x.test ? ' test' : ''] },
        { label: 'Expires', value: (x) => fmtDate(x.expiresAt) },
        { label: 'Remaining', num: true, value: (x) => (x.quota === null ? 'no quota' : fmtInt(x.remaining) + ' of ' + fmtInt(x.quota)) },
        { label: 'Calls', num: true, value: (x) => fmtInt(x.usage.calls) },
        { label: 'Machines', value: (x) => machinesLink(x, '#/subscriptions/' + encodeURIComponent(x.id) + '/machines') || '—' },
        { label: 'Actions', value: (x) => h('div', { class: 'actions' }, Object.entries(ACTIONS)
          .filter(([, a]) => a.when.includes(x.status)).map(([name, a]) => actionButton(x, name, a, load))) },
      ], list, { id: 'subscriptions-table' });
    });
  }
  load();
}

function actionButton(sub, name, a, after) {
  const who = (sub.buyerName || sub.buyerId) + ' on ' + ((sub.product && sub.product.name) || sub.productId);
  const b = h('button', { type: 'button', class: 'small' + (a.confirm ? ' danger' : ''), dataset: { action: name },
    onclick: async () => {
      if (a.confirm && !(await confirmAction(a.label + ' the subscription of ' + who + '?', a.confirm, a.label))) return;
      busy(b, async () => {
        const r = await post('/admin/v1/subscriptions/' + encodeURIComponent(sub.id) + '/' + name);
        flash('The subscription of ' + who + ' is ' + r.status + '.');
        after();
      });
    } }, a.label);
  b.setAttribute('aria-label', a.label + ' the subscription of ' + who);
  return b;
}

function fleet(main) {
  const s = section('Requests and tokens across the fleet', 'fleet');
  main.append(h('h1', {}, 'Fleet'), s.el);
  loading(s.body);
  const panel = usagePanel({ title: 'Fleet', withAmount: false, load: get });
  clear(s.body, panel.el);
}
