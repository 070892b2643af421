// The machines of a licence subscription, for the merchant (its own products' subscriptions, test
// codes included) and the operator (any): GET /admin/v1/subscriptions/{id}/machines next to the
// subscription's own licence summary.
import { get } from './api.js';
import { h, clear, section, into, table, empty, badge, fmtInt, fmtTime } from './ui.js';

/**
 * The seats of a licence: the product of the quantities chosen at purchase (users), 1 when the SKU
 * has none, as the licence API counts them.
 */
export function seats(sub) {
  return Object.values(sub.quantities || {}).reduce((n, q) => n * Number(q), 1);
}

/** A link to the machines of sub when it is a licence subscription; null otherwise. */
export function machinesLink(sub, href) {
  if (!sub.licence) return null;
  const who = (sub.product && sub.product.name) || sub.productId;
  return h('a', { href, class: 'machines-link', dataset: { subscription: sub.id },
    'aria-label': 'Machines of ' + who + ' (' + sub.id + '): ' + sub.licence.activeMachines + ' active' },
  fmtInt(sub.licence.activeMachines) + ' of ' + fmtInt(seats(sub)) + ' machines');
}

/**
 * The machines view of subscription id into main. opts.back is [href, label] of the view it was
 * opened from; opts.lookup a form to put under the title. Without an id, only the title and lookup.
 */
export function machines(main, id, opts = {}) {
  if (opts.back) main.append(h('p', {}, h('a', { href: opts.back[0] }, '← ' + opts.back[1])));
  main.append(h('h1', {}, 'Licence machines'));
  if (opts.lookup) main.append(opts.lookup);
  if (!id) return;
  const head = h('div', { id: 'machines-head' });
  const s = section('Machines', 'machines');
  const refresh = h('button', { type: 'button', class: 'small', id: 'refresh-machines', onclick: () => load() }, 'Refresh');
  s.el.querySelector('h2').after(refresh);
  main.append(head, s.el);
  function load() {
    return into(s.body, async () => {
      const path = '/admin/v1/subscriptions/' + encodeURIComponent(id);
      const [sub, list] = await Promise.all([get(path), get(path + '/machines')]);
      clear(head, facts(sub));
      if (!list.data.length) return empty('No machine has activated this licence yet.');
      return table('Machines of subscription ' + sub.id, [
        { label: 'Fingerprint', value: (m) => h('span', { class: 'mono', dataset: { field: 'fingerprint' } }, m.fingerprint) },
        { label: 'Hostname', value: (m) => h('span', { dataset: { field: 'hostname' } }, m.hostname || '—') },
        { label: 'Activated', value: (m) => h('time', { datetime: m.activatedAt, dataset: { field: 'activatedAt' } }, fmtTime(m.activatedAt)) },
        { label: 'Last heartbeat', value: (m) => h('time', { datetime: m.lastHeartbeatAt, dataset: { field: 'lastHeartbeatAt' } },
          fmtTime(m.lastHeartbeatAt)) },
        // In words, not by colour only: the badge's colour repeats what its text says.
        { label: 'Alive', value: (m) => h('span', { class: 'badge badge-' + (m.alive ? 'alive' : 'dead'), dataset: { field: 'alive' } },
          m.alive ? 'yes' : 'no') },
      ], list.data, { id: 'machines-table' });
    });
  }
  load();
}

function facts(sub) {
  const lic = sub.licence || { activeMachines: 0, lastHeartbeatAt: null };
  return h('dl', { class: 'facts card', id: 'machines-facts' },
    h('dt', {}, 'Product'), h('dd', {}, (sub.product && sub.product.name) || sub.productId),
    h('dt', {}, 'Buyer'), h('dd', {}, sub.buyerName + (sub.test ? ' (test code)' : '')),
    h('dt', {}, 'Status'), h('dd', {}, badge(sub.status)),
    h('dt', {}, 'Seats in use'), h('dd', { id: 'machines-seats', dataset: { active: String(lic.activeMachines), seats: String(seats(sub)) } },
      fmtInt(lic.activeMachines) + ' of ' + fmtInt(seats(sub)) + ' active'),
    h('dt', {}, 'Last heartbeat'), h('dd', {}, fmtTime(lic.lastHeartbeatAt)),
    h('dt', {}, 'Subscription'), h('dd', { class: 'mono' }, sub.id));
}
