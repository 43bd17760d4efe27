// Charts with Chart.js 3.9 (vendor/chart.min.js, copied at build time from
// Debian's libjs-chart.js; MIT), labelled in the current language and
// formatted as the rest of the page.  Each chart is a <canvas> in a
// <figure> whose caption says what it shows, with the figures in a table
// beside it for screen readers and for copying.
import { h } from './dom.js';
import { num } from './fmt.js';

// Colours with enough contrast on white, told apart by more than hue.
export const PALETTE = ['#1f5fa8', '#c0392b', '#1e8449', '#b9770e', '#6c3483',
  '#117a8b', '#7b241c', '#515a5a', '#2e4053', '#a04000'];

const live = new Set();

// Destroy the charts of the page being left.
export function destroyCharts() {
  for (const c of live) c.destroy();
  live.clear();
}

// A bar chart (type 'bar') or line chart ('line') in a figure.
// datasets: [{label, data: [numbers or null]}]; unit: '%' or '' (money).
export function chart(type, caption, labels, datasets, { unit = '', digits = 2, stacked = false, wide = false, short = false } = {}) {
  const canvas = h('canvas', { role: 'img', 'aria-label': caption });
  const fig = h('figure', { class: wide ? 'chart wide' : 'chart' }, h('figcaption', {}, caption),
    h('div', { class: short ? 'chart-box short' : 'chart-box' }, canvas));
  const fmt = (v) => (v === null || v === undefined ? '–' : `${num(v, digits)}${unit}`);
  if (typeof Chart === 'undefined') return fig;
  const config = {
    type,
    data: {
      labels,
      datasets: datasets.map((d, i) => ({
        borderColor: PALETTE[i % PALETTE.length],
        backgroundColor: PALETTE[i % PALETTE.length],
        borderWidth: type === 'line' ? 2 : 0,
        spanGaps: true,
        ...d,
      })),
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: {
        legend: { position: 'bottom' },
        tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${fmt(ctx.parsed.y)}` } },
      },
      scales: {
        x: { stacked },
        // Whole numbers (digits 0: money, counts) step by whole numbers:
        // an all-zero chart reads 0, 1, not 1 1 1 0 0 (0.8, 0.6... rounded).
        y: { stacked, beginAtZero: true, ticks: { callback: (v) => fmt(v), ...(digits === 0 ? { precision: 0 } : {}) } },
      },
    },
  };
  // Drawn once the page has put the figure in the document (Chart.js
  // sizes the canvas from its box).
  const draw = (tries) => {
    if (canvas.isConnected) live.add(new Chart(canvas, config));
    else if (tries > 0) requestAnimationFrame(() => draw(tries - 1));
  };
  requestAnimationFrame(() => draw(30));
  return fig;
}
