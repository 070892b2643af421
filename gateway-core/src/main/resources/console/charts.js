// Usage charts: a uPlot canvas (role="img" with a summary as its label) and the same numbers in
// a table, so the chart is never the only way to read them.
import { h, table, fmtInt, fmtTime, money } from './ui.js';

const COLORS = { calls: '#2e7d32', inputTokens: '#1f5fa8', outputTokens: '#c05a00', amount: '#6a3d9a' };
const LABELS = { calls: 'Calls', inputTokens: 'Input tokens', outputTokens: 'Output tokens', amount: 'Amount' };

const live = new Set();
let resizeTimer;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    for (const c of [...live]) {
      if (!c.root.isConnected) {
        c.plot.destroy();
        live.delete(c);
      } else {
        c.plot.setSize({ width: widthOf(c.root), height: c.height });
      }
    }
  }, 150);
});

function widthOf(el) {
  return Math.max(240, Math.floor((el.parentElement || el).clientWidth || 600) - 2);
}

function amountOf(b) {
  if (b.amount !== null && b.amount !== undefined) return b.amount;
  if (b.amountsByCurrency) return Object.entries(b.amountsByCurrency).map(([c, a]) => a + ' ' + c).join(', ');
  return null;
}

function summary(title, report, keys) {
  const t = report.total;
  const parts = keys.map((k) => (k === 'amount'
    ? 'amount ' + (amountOf(t) === null ? 'none' : money(amountOf(t), t.currency))
    : fmtInt(t[k]) + ' ' + LABELS[k].toLowerCase()));
  return title + ', ' + report.granularity + ' buckets from ' + fmtTime(report.from) + ' to ' + fmtTime(report.to)
    + ': ' + (report.data.length === 0 ? 'no usage' : 'total ' + parts.join(', '))
    + '. The numbers are in the table below.';
}

/** A chart of `keys` (calls, inputTokens, outputTokens, amount) over the buckets of a usage report. */
function plot(title, report, keys, height) {
  const root = h('div', { class: 'chart' });
  if (typeof window.uPlot !== 'function') {
    root.append(h('p', { class: 'error' }, 'The chart library did not load; the numbers are in the table.'));
    return root;
  }
  const xs = report.data.map((b) => Date.parse(b.start) / 1000);
  const data = [xs, ...keys.map((k) => report.data.map((b) => (k === 'amount'
    ? (b.amount === null ? null : Number(b.amount)) : b[k])))];
  const tokens = keys.filter((k) => k.endsWith('Tokens'));
  const series = [{ label: 'Time' }, ...keys.map((k) => ({
    label: LABELS[k],
    stroke: COLORS[k],
    fill: k === 'amount' ? 'rgba(106,61,154,0.12)' : undefined,
    width: 2,
    scale: k === 'calls' && tokens.length ? 'calls' : k.endsWith('Tokens') ? 'tokens' : k,
    points: { show: true, size: 7 },
    spanGaps: false,
  }))];
  const axes = [{}];
  const used = [...new Set(series.slice(1).map((s) => s.scale))].sort((a, b) => (a === 'tokens' ? -1 : b === 'tokens' ? 1 : 0));
  used.forEach((scale, i) => axes.push({
    scale,
    side: i === 0 ? 3 : 1,
    grid: { show: i === 0 },
    label: scale === 'tokens' ? 'tokens' : scale === 'calls' ? 'calls' : scale === 'amount'
      ? (report.total.currency || 'amount') : scale,
    size: 60,
    values: (u, vals) => vals.map((v) => (v === null ? '' : v >= 1e6 ? v / 1e6 + 'M' : v >= 1e4 ? v / 1e3 + 'k'
      : scale === 'amount' && v > 0 && v < 0.01 ? v.toExponential(1) : v)),
  }));
  const scales = { x: { time: true, range: [Date.parse(report.from) / 1000, Date.parse(report.to) / 1000] } };
  // From zero; counts get at least 1 at the top, amounts (often fractions of a cent) their own max.
  for (const s of used) {
    scales[s] = { range: (u, min, max) => [0, !(max > 0) ? 1 : s === 'amount' ? max * 1.15 : Math.max(1, max * 1.15)] };
  }
  const opts = {
    width: 600,
    height,
    series,
    axes,
    scales,
    legend: { live: false },
    cursor: { drag: { x: false, y: false } },
  };
  const p = new window.uPlot(opts, data, root);
  const canvas = root.querySelector('canvas');
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', summary(title, report, keys));
  const entry = { root, plot: p, height };
  live.add(entry);
  // Sized once the chart is in the page: the width of its container is known only then.
  requestAnimationFrame(() => p.setSize({ width: widthOf(root), height }));
  return root;
}

/** A usage table: one row per bucket and the total, every number exact. */
function usageTable(caption, report, keys) {
  const cols = [{ label: report.granularity === 'day' ? 'Day (UTC)' : 'Start (UTC)',
    value: (b) => (report.granularity === 'day' ? b.start.slice(0, 10) : fmtTime(b.start)) }];
  for (const k of keys) {
    cols.push({ label: LABELS[k], num: true,
      value: (b) => h('span', { dataset: { field: k } }, k === 'amount' ? money(amountOf(b), b.currency) : fmtInt(b[k])) });
  }
  const t = report.total;
  const foot = h('tr', { class: 'total' }, h('th', { scope: 'row' }, 'Total'),
    keys.map((k) => h('td', { class: 'num' }, h('span', { dataset: { total: k } },
      k === 'amount' ? money(amountOf(t), t.currency) : fmtInt(t[k])))));
  return table(caption, cols, report.data, { foot, class: 'usage-table', showCaption: false });
}

/**
 * The usage of a report as charts and a table: calls with input and output tokens, and, when
 * withAmount, what it costs.
 */
export function usageFigures(title, report, withAmount) {
  const counts = ['calls', 'inputTokens', 'outputTokens'];
  const keys = withAmount ? [...counts, 'amount'] : counts;
  const figures = [h('figure', { class: 'figure' }, h('figcaption', {}, title + ': calls and tokens'),
    plot(title + ': calls and tokens', report, counts, 240))];
  if (withAmount) {
    figures.push(h('figure', { class: 'figure' }, h('figcaption', {}, title + ': amount'),
      plot(title + ': amount', report, ['amount'], 180)));
  }
  return h('div', { class: 'usage' }, figures,
    report.data.length === 0 ? h('p', { class: 'empty' }, 'No usage in this range.') : null,
    usageTable(title + ': usage per ' + report.granularity, report, keys));
}

/**
 * A usage form (hour or day buckets, a date range, and the caller's own selector fields) that
 * asks GET /admin/v1/usage only when submitted, never per keystroke, and shows the figures.
 *
 * opts: {title, withAmount, fields: [Node], params: () => ({productId|skuId|...}), load: path => Promise}
 */
export function usagePanel(opts) {
  const today = new Date();
  const weekAgo = new Date(today.getTime() - 6 * 86400000);
  const id = 'u' + Math.random().toString(36).slice(2, 8);
  const gran = h('select', { id: id + '-g', name: 'granularity' },
    h('option', { value: 'hour' }, 'Hour'), h('option', { value: 'day' }, 'Day'));
  const from = h('input', { id: id + '-f', type: 'date', name: 'from', value: weekAgo.toISOString().slice(0, 10), required: true });
  const to = h('input', { id: id + '-t', type: 'date', name: 'to', value: today.toISOString().slice(0, 10), required: true });
  const out = h('div', { class: 'usage-out', 'aria-live': 'polite' });
  const show = h('button', { type: 'submit' }, 'Show');
  const form = h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); run(); } },
    opts.fields || [],
    h('label', { for: gran.id }, 'Buckets', gran),
    h('label', { for: from.id }, 'From', from),
    h('label', { for: to.id }, 'To (inclusive)', to),
    show);

  async function run() {
    const f = from.value;
    const t = to.value;
    if (!f || !t || f > t) {
      out.replaceChildren(h('p', { class: 'error', role: 'alert' }, 'Choose a From day on or before the To day.'));
      return;
    }
    const end = new Date(Date.parse(t + 'T00:00:00Z') + 86400000).toISOString();
    const q = new URLSearchParams({ ...clean(opts.params ? opts.params() : {}),
      from: f + 'T00:00:00Z', to: end, granularity: gran.value });
    out.replaceChildren(h('p', { class: 'loading', role: 'status' }, 'Loading usage…'));
    show.disabled = true;
    try {
      const report = await opts.load('/admin/v1/usage?' + q.toString());
      out.replaceChildren(usageFigures(opts.title, report, opts.withAmount));
    } catch (e) {
      out.replaceChildren(h('p', { class: 'error', role: 'alert' }, e.message || String(e)));
    } finally {
      show.disabled = false;
    }
  }
  run();
  return { el: h('div', { class: 'usage-panel' }, form, out), run };
}

function clean(o) {
  const r = {};
  for (const [k, v] of Object.entries(o)) if (v) r[k] = v;
  return r;
}
