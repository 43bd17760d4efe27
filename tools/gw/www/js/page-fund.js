// The For the Poor fund (#/fund?unit=CODE&year=Y): the fund plugin's
// totals for the year, received / pledged / disbursed month by month (one
// query per month, [1st, 1st of the next) in Vietnam time), disbursed by
// purpose, the peak month 17 October – 18 November (the plugin's
// month_for_the_poor), the large donations counted in the unit and idle
// balances (the fund's alerts).  The page reads at least up to the last event this browser
// stored (min_seq), so an entry just made is counted; and it is drawn
// again when a fund alert arrives on the live feed.
import { listAlerts, pool, query, units } from './api.js';
import { chart, destroyCharts } from './charts.js';
import { clear, h, stat, table } from './dom.js';
import { date, money, num, pct, vnMidnight, vnParts } from './fmt.js';
import { t } from './i18n.js';
import * as feed from './feed.js';
import { lastStoredSeq } from './page-entry.js';

const PURPOSES = ['housing', 'livelihood', 'education', 'health', 'tet', 'disaster', 'other'];

let unsubscribe = null;

// The year's large donations (alerts) that count in unit `code`, as the
// page's figures count them: the fund plugin is asked, for one donation of
// each unit named, whether what was received in its second counts in
// `code` on the units of the year's end (as_of), so units below `code`,
// and those merged into it or ended since, are in, and others are not.
async function largeIn(code, alerts, end, minSeq) {
  const byUnit = new Map();
  for (const a of alerts) if (!byUnit.has(a.unit)) byUnit.set(a.unit, a.at);
  const named = [...byUnit.keys()];
  const counts = await pool(named, 4, async (u) => u === code ||
    (await query('fund', { unit: code, from: byUnit.get(u), to: byUnit.get(u) + 1, as_of: end, min_seq: minSeq })).received > 0);
  const within = new Set(named.filter((_, i) => counts[i]));
  return alerts.filter((a) => within.has(a.unit));
}

export async function render(main, { params }) {
  unsubscribe?.();
  unsubscribe = null;
  const thisYear = vnParts(Date.now() / 1000).y;
  const year = Number(params.get('year')) || thisYear;
  // The year on the units in force at its end, as `povtrack report` asks:
  // povtrackd refuses a unit that ended before then (Bình Thuận, merged
  // into Lâm Đồng in July 2025, for 2025), and with as_of what was recorded
  // under a predecessor, before the merger too, counts in its successor.
  const end = vnMidnight(year + 1, 1, 1) - 1;
  const provinces = await units(null, end);
  const code = params.get('unit') || provinces[0]?.code;
  // The choices: the provinces and the units below the first; a unit asked
  // for by its address that is neither, by its code.
  const choices = [...provinces, ...(provinces[0] ? await units(provinces[0].code, end) : [])];
  if (code && !choices.some((u) => u.code === code)) choices.push({ code, name: code });
  const minSeq = lastStoredSeq() || undefined;
  const [total, months] = await Promise.all([
    query('fund', { unit: code, year, as_of: end, min_seq: minSeq }),
    pool(Array.from({ length: 12 }, (_, i) => i + 1), 4, (m) =>
      query('fund', { unit: code, from: vnMidnight(year, m, 1), to: vnMidnight(year, m + 1, 1), as_of: end, min_seq: minSeq })),
  ]);
  // The fund's alerts, read once: the year's large donations counted in
  // the unit, and the 20 latest idle balances, newest first.
  const fundAlerts = (await listAlerts({ code: 'fund.' })).alerts;
  const large = (code ? await largeIn(code, fundAlerts.filter((a) => a.code === 'fund.large_donation' &&
    vnParts(a.at).y === year), end, minSeq) : []).sort((a, b) => b.at - a.at);
  const idle = fundAlerts.filter((a) => a.code === 'fund.idle_balance')
    .sort((a, b) => b.at - a.at).slice(0, 20);

  const unitSelect = h('select', { id: 'fund-unit', name: 'unit' },
    choices.map((u) => h('option', { value: u.code, selected: u.code === code }, `${u.name} (${u.code})`)));
  const yearSelect = h('select', { id: 'fund-year', name: 'year' },
    Array.from({ length: 6 }, (_, i) => thisYear - i).map((y) => h('option', { value: y, selected: y === year }, String(y))));
  const form = h('form', { class: 'filters card', onsubmit: (e) => {
    e.preventDefault();
    location.hash = `#/fund?unit=${encodeURIComponent(unitSelect.value)}&year=${yearSelect.value}`;
  } },
  h('div', { class: 'field' }, h('label', { for: 'fund-unit' }, t('fund_unit')), unitSelect),
  h('div', { class: 'field' }, h('label', { for: 'fund-year' }, t('year')), yearSelect),
  h('button', { type: 'submit' }, t('apply')));

  const peak = total.month_for_the_poor ?? {};
  const labels = months.map((_, i) => t('month_n', { m: i + 1 }));
  clear(main).append(
    h('h1', {}, `${t('fund_title')} — ${choices.find((u) => u.code === code)?.name ?? code}, ${year}`),
    form,
    h('section', { class: 'stats', id: 'fund-totals' },
      stat(t('received'), money(total.received), { id: 'fund-received' }),
      stat(t('donations'), num(total.donations), { id: 'fund-donations' }),
      stat(t('pledged'), money(total.pledged), { id: 'fund-pledged' }),
      stat(t('pledge_outstanding'), money(total.pledge_outstanding)),
      stat(t('disbursed'), money(total.disbursed), { id: 'fund-disbursed' }),
      stat(t('balance'), money(total.balance)),
      stat(t('beneficiaries'), num(total.beneficiaries))),
    h('section', { id: 'fund-peak' }, h('h2', {}, t('peak_title')),
      h('p', {}, t('peak_text', { amount: money(peak.received), n: num(peak.donations),
        share: total.received ? pct((100 * peak.received) / total.received) : '–' }))),
    h('div', { class: 'charts' },
      chart('bar', `${t('by_month')} (đ)`, labels, [
        { label: t('received'), data: months.map((m) => m.received) },
        { label: t('pledged'), data: months.map((m) => m.pledged) },
        { label: t('disbursed'), data: months.map((m) => m.disbursed) },
      ], { digits: 0 }),
      chart('bar', t('by_purpose'), PURPOSES.map((p) => t(`purpose_${p}`)),
        [{ label: t('disbursed'), data: PURPOSES.map((p) => total.by_purpose?.[p] ?? 0) }], { digits: 0 })),
    h('section', {}, h('h2', {}, t('by_month')),
      table(null, [t('month'), t('received'), t('pledged'), t('disbursed')],
        months.map((m, i) => [t('month_n', { m: i + 1 }), money(m.received), money(m.pledged), money(m.disbursed)]),
        { id: 'fund-months' })),
    h('section', { id: 'fund-large' }, h('h2', {}, t('large_title')),
      large.length === 0 ? h('p', { class: 'muted' }, t('large_none'))
        : table(null, [t('date'), t('unit'), t('message')],
          large.map((a) => [date(a.at), a.unit, a.message]))),
    h('section', { id: 'fund-idle' }, h('h2', {}, t('idle_title')),
      idle.length === 0 ? h('p', { class: 'muted' }, t('idle_none'))
        : table(null, [t('date'), t('unit'), t('message')],
          idle.map((a) => [date(a.at), a.unit, a.message]))));
  main.setAttribute('aria-busy', 'false');
  // Money moved: draw the page again with the new figures.
  unsubscribe = feed.subscribe((a) => {
    if (a && a.code?.startsWith('fund.') && main.isConnected) {
      unsubscribe?.();
      unsubscribe = null;
      destroyCharts();
      render(main, { params });
    } else if (!main.isConnected) {
      unsubscribe?.();
      unsubscribe = null;
    }
  });
}
