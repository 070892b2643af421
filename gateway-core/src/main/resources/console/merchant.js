// The merchant's views: products and their listing, SKUs and price history, test keys, usage and
// revenue, billing records, the machines of a licence subscription.
import { get, post, all, query } from './api.js';
import { h, clear, section, into, table, empty, badge, fmtInt, fmtTime, money, flash, busy, errorBox,
  downloadCsv, loading } from './ui.js';
import { usagePanel } from './charts.js';
import { machines, machinesLink } from './machines.js';

export const routes = [
  ['#/products', 'Products'],
  ['#/keys', 'Test keys'],
  ['#/usage', 'Usage & revenue'],
  ['#/records', 'Billing records'],
  ['#/machines', 'Machines'],
];

export function render(hash, main, me) {
  const m = hash.match(/^#\/products\/([^/]+)$/);
  if (m) return product(main, decodeURIComponent(m[1]));
  if (hash.startsWith('#/keys')) return keys(main);
  if (hash.startsWith('#/usage')) return usage(main);
  if (hash.startsWith('#/records')) return records(main, me);
  const lm = hash.match(/^#\/machines(?:\/([^/]+))?$/);
  if (lm) return machinesLookup(main, lm[1] ? decodeURIComponent(lm[1]) : null);
  return products(main);
}

function prices(b) {
  const c = b.currency;
  const parts = [];
  if (b.inputPricePerMillion) parts.push(b.inputPricePerMillion + ' ' + c + ' / M input');
  if (b.cachedInputPricePerMillion) parts.push(b.cachedInputPricePerMillion + ' ' + c + ' / M cached input');
  if (b.outputPricePerMillion) parts.push(b.outputPricePerMillion + ' ' + c + ' / M output');
  if (b.pricePerCall) parts.push(b.pricePerCall + ' ' + c + ' / call');
  if (b.price) parts.push(b.price + ' ' + c + (b.quota ? ' for ' + fmtInt(b.quota) : '') + (b.period ? ' a ' + b.period.toLowerCase() : ''));
  return parts.join(', ') || '—';
}

function reviewNote(p) {
  if (!p.reviewNote) return '';
  return p.status === 'draft' ? 'Rejected: ' + p.reviewNote : p.status === 'delisted' ? 'Delisted: ' + p.reviewNote : p.reviewNote;
}

function submitButton(p, after) {
  if (p.status !== 'draft') return null;
  const b = h('button', { type: 'button', class: 'small', onclick: () => busy(b, async () => {
    await post('/admin/v1/products/' + encodeURIComponent(p.id) + '/submit');
    flash(p.name + ' was submitted for review.');
    after();
  }) }, 'Submit for review');
  b.setAttribute('aria-label', 'Submit ' + p.name + ' for review');
  return b;
}

function products(main) {
  const s = section('Products', 'products');
  main.append(h('h1', {}, 'Products'), s.el);
  const load = () => into(s.body, async () => {
    const list = await all('/admin/v1/products');
    if (!list.length) return empty('No products yet. Create one with POST /admin/v1/products.');
    return table('Your products', [
      { label: 'Product', value: (p) => h('a', { href: '#/products/' + encodeURIComponent(p.id) }, p.name) },
      { label: 'Protocol', value: (p) => p.protocol },
      { label: 'Listing', value: (p) => badge(p.status) },
      { label: 'Review note', value: (p) => reviewNote(p) },
      { label: 'Action', value: (p) => submitButton(p, load) || '' },
    ], list, { id: 'products-table' });
  });
  load();
}

function product(main, id) {
  const head = h('div', {});
  const skus = section('SKUs and prices', 'skus');
  main.append(h('p', {}, h('a', { href: '#/products' }, '← Products')), head, skus.el);
  const load = () => into(head, async () => {
    const p = await get('/admin/v1/products/' + encodeURIComponent(id));
    const note = reviewNote(p);
    return h('div', { class: 'product-head' },
      h('h1', {}, p.name),
      h('dl', { class: 'facts' },
        h('dt', {}, 'Listing'), h('dd', {}, badge(p.status), ' ', submitButton(p, load)),
        note ? [h('dt', {}, 'Review note'), h('dd', { class: 'note' }, note)] : null,
        h('dt', {}, 'Protocol'), h('dd', {}, p.protocol),
        h('dt', {}, 'Endpoints'), h('dd', {}, p.endpoints.map((e) => e.url).join(', ')),
        h('dt', {}, 'First listed'), h('dd', {}, fmtTime(p.firstListedAt)),
        h('dt', {}, 'Id'), h('dd', { class: 'mono' }, p.id)));
  });
  load();
  into(skus.body, async () => {
    const list = await all('/admin/v1/products/' + encodeURIComponent(id) + '/skus');
    if (!list.length) return empty('No SKUs yet.');
    return h('div', {}, table('SKUs', [
      { label: 'SKU', value: (s) => s.name },
      { label: 'Billing', value: (s) => s.billing.mode },
      { label: 'Prices now', value: (s) => prices(s.billing) },
      { label: 'Models', value: (s) => s.models.join(', ') || 'any' },
      { label: 'Limits', value: (s) => (s.limits.rpm ? s.limits.rpm + ' rpm ' : '') + (s.limits.tpm ? s.limits.tpm + ' tpm' : '') || '—' },
    ], list), list.map(priceHistory));
  });
}

function priceHistory(sku) {
  const body = h('div', {});
  let loaded = false;
  const d = h('details', { class: 'history', ontoggle: () => {
    if (!d.open || loaded) return;
    loaded = true;
    into(body, async () => {
      const list = (await get('/admin/v1/skus/' + encodeURIComponent(sku.id) + '/prices')).data;
      return table('Price history of ' + sku.name, [
        { label: 'In force from', value: (p) => fmtTime(p.effectiveFrom) },
        { label: 'Prices', value: (p) => prices({ ...p, mode: sku.billing.mode }) },
      ], list);
    });
  } }, h('summary', {}, 'Price history of ' + sku.name), body);
  return d;
}

async function productOptions(select, withAll) {
  const list = await all('/admin/v1/products');
  select.replaceChildren(withAll ? h('option', { value: '' }, 'All products') : null,
    ...list.map((p) => h('option', { value: p.id }, p.name + ' (' + p.status.replace('_', ' ') + ')')));
  return list;
}

async function skuOptions(select, productId, withAll) {
  select.replaceChildren(h('option', { value: '' }, withAll ? 'All SKUs' : 'Loading…'));
  if (!productId) return [];
  const list = await all('/admin/v1/products/' + encodeURIComponent(productId) + '/skus');
  select.replaceChildren(withAll ? h('option', { value: '' }, 'All SKUs') : null,
    ...list.map((s) => h('option', { value: s.id }, s.name + ' (' + s.billing.mode + ')')));
  return list;
}

function keys(main) {
  const create = section('Create a test key', 'create-key');
  const list = section('Test keys and their usage', 'test-keys');
  main.append(h('h1', {}, 'Test keys'),
    h('p', { class: 'help' }, 'Test keys call your own products before they are listed. Their usage is counted and never billed.'),
    create.el, list.el);
  const productSel = h('select', { id: 'key-product', name: 'product', required: true });
  const skuSel = h('select', { id: 'key-sku', name: 'sku', required: true });
  const extra = h('div', { class: 'extra' });
  const result = h('div', { 'aria-live': 'polite' });
  let skus = [];
  const pickSku = () => {
    const s = skus.find((x) => x.id === skuSel.value);
    extra.replaceChildren();
    if (!s) return;
    for (const [name, values] of Object.entries(s.attributes || {})) {
      const id = 'attr-' + name;
      extra.append(h('label', { for: id }, name, h('select', { id, dataset: { attribute: name } },
        values.map((v) => h('option', { value: v }, v)))));
    }
    for (const [name, range] of Object.entries(s.quantities || {})) {
      const id = 'qty-' + name;
      extra.append(h('label', { for: id }, name, h('input', { id, type: 'number', dataset: { quantity: name },
        min: String(range.min ?? 1), max: range.max ? String(range.max) : undefined, value: String(range.min ?? 1),
        required: true })));
    }
  };
  productSel.addEventListener('change', async () => {
    try {
      skus = await skuOptions(skuSel, productSel.value, false);
      pickSku();
    } catch (e) {
      result.replaceChildren(errorBox(e));
    }
  });
  skuSel.addEventListener('change', pickSku);
  const button = h('button', { type: 'submit' }, 'Create test key');
  const form = h('form', { class: 'filters', id: 'create-key-form', onsubmit: (e) => {
    e.preventDefault();
    if (!skuSel.value) return;
    busy(button, async () => {
      const attributes = {};
      const quantities = {};
      extra.querySelectorAll('[data-attribute]').forEach((el) => { attributes[el.dataset.attribute] = el.value; });
      extra.querySelectorAll('[data-quantity]').forEach((el) => { quantities[el.dataset.quantity] = Number(el.value); });
      const body = { skuId: skuSel.value, test: true };
      if (Object.keys(attributes).length) body.attributes = attributes;
      if (Object.keys(quantities).length) body.quantities = quantities;
      const sub = await post('/admin/v1/subscriptions', body);
      result.replaceChildren(shownOnce(sub));
      loadList();
    });
  } },
  h('label', { for: 'key-product' }, 'Product', productSel),
  h('label', { for: 'key-sku' }, 'SKU', skuSel), extra, button);
  create.body.append(form, result);
  productOptions(productSel, false).then(async (ps) => {
    if (!ps.length) {
      form.replaceChildren(empty('Create a product with a SKU first.'));
      return;
    }
    skus = await skuOptions(skuSel, productSel.value, false);
    pickSku();
  }).catch((e) => result.replaceChildren(errorBox(e)));

  const refresh = h('button', { type: 'button', class: 'small', id: 'refresh-keys', onclick: () => loadList() }, 'Refresh');
  list.el.querySelector('h2').after(refresh);
  function loadList() {
    return into(list.body, async () => {
      const subs = await all('/admin/v1/subscriptions' + query({ test: 'true' }));
      if (!subs.length) return empty('No test keys yet.');
      return table('Test keys', [
        { label: 'Subscription', value: (s) => h('span', { class: 'mono' }, s.id) },
        { label: 'Product', value: (s) => (s.product && s.product.name) || s.productId },
        { label: 'Status', value: (s) => badge(s.status) },
        { label: 'Calls', num: true, value: (s) => fmtInt(s.usage.calls) },
        { label: 'Input tokens', num: true, value: (s) => fmtInt(s.usage.inputTokens) },
        { label: 'Output tokens', num: true, value: (s) => fmtInt(s.usage.outputTokens) },
        { label: 'Created', value: (s) => fmtTime(s.createdAt) },
        { label: 'Machines', value: (s) => machinesLink(s, '#/machines/' + encodeURIComponent(s.id)) || '—' },
      ], subs, { id: 'keys-table' });
    });
  }
  loadList();
}

/** The machines of a licence subscription of the merchant's products, looked up by its id. */
function machinesLookup(main, id) {
  const input = h('input', { id: 'machines-sub', name: 'subscriptionId', type: 'search', autocomplete: 'off',
    spellcheck: 'false', required: true, maxlength: 100, size: 34, value: id || '', 'aria-describedby': 'machines-help' });
  const form = h('form', { class: 'filters card', id: 'machines-lookup', onsubmit: (e) => {
    e.preventDefault();
    const v = input.value.trim();
    if (v) location.hash = '#/machines/' + encodeURIComponent(v);
  } },
  h('label', { for: 'machines-sub' }, 'Licence subscription id', input), h('button', { type: 'submit' }, 'Show machines'),
  h('p', { id: 'machines-help', class: 'help' },
    'A licence subscription of one of your products, test codes included. Test codes of licence products link here from Test keys.'));
  machines(main, id, { lookup: form });
}

/** A new key, shown this once, with a copy button. */
function shownOnce(sub) {
  const input = h('input', { id: 'new-key', type: 'text', readonly: true, value: sub.apiKey, class: 'mono', spellcheck: 'false',
    'aria-describedby': 'new-key-help' });
  const copy = h('button', { type: 'button', id: 'copy-key', onclick: async () => {
    try {
      await navigator.clipboard.writeText(input.value);
      flash('The key was copied.');
    } catch (e) {
      input.select();
      flash('Copying was refused by the browser: the key is selected, copy it with Ctrl+C.', 'error');
    }
  } }, 'Copy');
  return h('div', { class: 'once', role: 'group', 'aria-labelledby': 'new-key-label' },
    h('label', { id: 'new-key-label', for: 'new-key' }, 'Your new test key'),
    h('div', { class: 'copy-row' }, input, copy),
    h('p', { id: 'new-key-help', class: 'help' }, 'Copy it now: it is shown only once. Subscription ' + sub.id + '.'));
}

function usage(main) {
  const s = section('Usage and revenue', 'usage');
  main.append(h('h1', {}, 'Usage & revenue'), s.el);
  const productSel = h('select', { id: 'usage-product', name: 'productId' });
  const skuSel = h('select', { id: 'usage-sku', name: 'skuId' }, h('option', { value: '' }, 'All SKUs'));
  productSel.addEventListener('change', () => skuOptions(skuSel, productSel.value, true).catch((e) => flash(e.message, 'error')));
  loading(s.body);
  productOptions(productSel, true).then(() => {
    const panel = usagePanel({
      title: 'Usage',
      withAmount: true,
      fields: [h('label', { for: 'usage-product' }, 'Product', productSel), h('label', { for: 'usage-sku' }, 'SKU', skuSel)],
      params: () => (skuSel.value ? { skuId: skuSel.value } : { productId: productSel.value }),
      load: get,
    });
    clear(s.body, panel.el);
  }).catch((e) => clear(s.body, errorBox(e)));
}

export const RECORD_COLUMNS = ['id', 'windowStart', 'windowEnd', 'productId', 'skuId', 'subscriptionId', 'buyerId',
  'kind', 'test', 'billingMode', 'calls', 'inputTokens', 'cachedInputTokens', 'outputTokens', 'estimatedTokens',
  'amount', 'currency', 'revision', 'exportedAt'];

/** The billing records, paged, with a CSV download of every record that matches. */
export function records(main) {
  const s = section('Billing records', 'records');
  main.append(h('h1', {}, 'Billing records'),
    h('p', { class: 'help' }, 'Usage records as exported to billing, in export order. A record never changes; late usage arrives as a new record.'),
    s.el);
  const productSel = h('select', { id: 'records-product', name: 'productId' });
  const out = h('div', { 'aria-live': 'polite' });
  const csv = h('button', { type: 'button', id: 'records-csv', class: 'secondary' }, 'Download CSV');
  const form = h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); load(); } },
    h('label', { for: 'records-product' }, 'Product', productSel), h('button', { type: 'submit' }, 'Show'), csv);
  s.body.append(form, out);
  let names = {};
  const path = () => '/billing/v1/records' + query({ productId: productSel.value });
  csv.addEventListener('click', () => busy(csv, async () => {
    const rows = await all(path(), 100000);
    downloadCsv('tollgate-records.csv', RECORD_COLUMNS, rows.map((r) => RECORD_COLUMNS.map((c) => r[c])));
    flash(rows.length + ' records downloaded as CSV.');
  }));
  const columns = [
    { label: 'Window (UTC)', value: (r) => fmtTime(r.windowStart) },
    { label: 'Product', value: (r) => names[r.productId] || r.productId },
    { label: 'Subscription', value: (r) => h('span', { class: 'mono' }, r.subscriptionId) },
    { label: 'Kind', value: (r) => r.kind + (r.test ? ' (test)' : '') },
    { label: 'Calls', num: true, value: (r) => h('span', { dataset: { field: 'calls' } }, fmtInt(r.calls)) },
    { label: 'Input tokens', num: true, value: (r) => h('span', { dataset: { field: 'inputTokens' } }, fmtInt(r.inputTokens)) },
    { label: 'Output tokens', num: true, value: (r) => h('span', { dataset: { field: 'outputTokens' } }, fmtInt(r.outputTokens)) },
    { label: 'Amount', num: true, value: (r) => h('span', { dataset: { field: 'amount' } }, money(r.amount, r.currency)) },
  ];
  let rows = [];
  async function page(after) {
    const p = await get(path() + (path().includes('?') ? '&' : '?') + 'limit=100' + (after ? '&after=' + encodeURIComponent(after) : ''));
    rows = after ? rows.concat(p.data) : p.data;
    const more = p.has_more ? h('button', { type: 'button', class: 'secondary', onclick: (e) => busy(e.target, () => page(p.last_id)) }, 'Load more') : null;
    clear(out, rows.length ? table('Billing records', columns, rows, { id: 'records-table' }) : empty('No records yet: usage becomes records when its window closes.'), more);
  }
  function load() {
    loading(out);
    page(null).catch((e) => clear(out, errorBox(e)));
  }
  productOptions(productSel, true).then((ps) => {
    names = Object.fromEntries(ps.map((p) => [p.id, p.name]));
    load();
  }).catch((e) => clear(out, errorBox(e)));
}
