// Alerts (#/alerts?severity=&code=&unit=): the live feed (feed.js) with
// filters by severity, code (a prefix, as the API's) and unit, new alerts
// added as they are raised without reloading; relocation follow-up (the
// relocation plugin, per province, all time); reports due and late (the
// deadlines plugin against the wall clock).
import { query, units } from './api.js';
import { clear, h, table } from './dom.js';
import { date, dateTime, num, pct } from './fmt.js';
import { alertName, t } from './i18n.js';
import * as feed from './feed.js';

const SHOWN = 100;
const SEVERITIES = ['critical', 'warning', 'info'];

function matches(a, f) {
  return (!f.severity || a.severity === f.severity) &&
    (!f.code || (a.code ?? '').startsWith(f.code)) &&
    (!f.unit || a.unit === f.unit);
}

async function followUp() {
  const provinces = await units(null);
  const out = [];
  for (const p of provinces) {
    const r = await query('relocation', { unit: p.code });
    if (r.relocated === 0) continue;
    out.push(h('p', {}, h('strong', {}, `${p.name}: `),
      t('relocation_text', { n: num(r.relocated), full: num(r.fully_supported), share: pct(r.share_fully_supported) }),
      ' ', t('relocation_missing', Object.fromEntries(Object.entries(r.missing).map(([k, v]) => [k, num(v)])))));
  }
  return out;
}

async function reports() {
  const r = await query('deadlines', { now: Math.floor(Date.now() / 1000) });
  return r.reports.filter((x) => x.state !== 'submitted')
    .sort((a, b) => (a.due ?? 0) - (b.due ?? 0));
}

export async function render(main, { params }) {
  const f = { severity: params.get('severity') ?? '', code: params.get('code') ?? '', unit: params.get('unit') ?? '' };
  const list = h('ul', { class: 'alert-list', id: 'alert-feed', 'aria-live': 'polite' });
  const state = h('p', { class: 'muted', id: 'feed-state' });
  const draw = (fresh) => {
    state.textContent = t(`live_${feed.status()}`);
    const shown = feed.alerts().filter((a) => matches(a, f)).slice(-SHOWN).reverse();
    const items = shown.length === 0 ? [h('li', {}, t('no_alerts'))] : shown.map((a) =>
      h('li', { class: `${a.severity}${a === fresh ? ' new' : ''}`, 'data-code': a.code, 'data-seq': a.seq },
        h('div', { class: 'alert-name' }, alertName(a.code)),
        h('div', {}, a.message),
        h('div', { class: 'alert-meta' },
          `${t(`sev_${a.severity}`)} · ${a.code} · ${t('unit')} ${a.unit ?? '–'} · ${dateTime(a.at)}`)));
    clear(list).append(...items);
  };
  const sev = h('select', { id: 'filter-severity', name: 'severity' },
    h('option', { value: '' }, t('all')),
    SEVERITIES.map((s) => h('option', { value: s, selected: f.severity === s }, t(`sev_${s}`))));
  const code = h('input', { id: 'filter-code', name: 'code', value: f.code, placeholder: 'fund.' });
  const unit = h('input', { id: 'filter-unit', name: 'unit', value: f.unit, inputmode: 'numeric' });
  const filters = h('form', { class: 'filters card', onsubmit: (e) => {
    e.preventDefault();
    location.hash = `#/alerts?severity=${encodeURIComponent(sev.value)}&code=${encodeURIComponent(code.value.trim())}&unit=${encodeURIComponent(unit.value.trim())}`;
  } },
  h('div', { class: 'field' }, h('label', { for: 'filter-severity' }, t('filter_severity')), sev),
  h('div', { class: 'field' }, h('label', { for: 'filter-code' }, t('filter_code')), code),
  h('div', { class: 'field' }, h('label', { for: 'filter-unit' }, t('filter_unit')), unit),
  h('button', { type: 'submit' }, t('apply')));

  clear(main).append(h('h1', {}, t('alerts_title')), filters,
    h('section', {}, h('h2', {}, t('live_feed')), state, list));
  draw(null);
  const unsubscribe = feed.subscribe((a) => {
    if (!main.isConnected) unsubscribe();
    else draw(a);
  });
  const [follow, due] = await Promise.all([followUp().catch(() => null), reports().catch(() => null)]);
  if (follow !== null)
    main.append(h('section', { id: 'relocation' }, h('h2', {}, t('relocation_title')),
      follow.length ? follow : h('p', { class: 'muted' }, t('none'))));
  if (due !== null)
    main.append(h('section', { id: 'reports' }, h('h2', {}, t('reports_title')),
      due.length === 0 ? h('p', { class: 'muted' }, t('reports_none'))
        : table(null, [t('report_org'), t('report_name'), t('unit'), t('report_due'), t('report_state')],
          due.map((x) => [x.org, x.report, x.unit, date(x.due),
            h('span', { class: `badge ${x.state === 'overdue' ? 'rose' : x.state === 'late' ? 'missed' : 'nodata'}` },
              t(x.state === 'pending' ? 'state_due' : `state_${x.state}`))]))));
  main.setAttribute('aria-busy', 'false');
}
