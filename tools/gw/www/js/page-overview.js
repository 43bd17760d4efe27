// The province overview (#/overview) and a unit's page (#/unit/CODE): the
// poor-household and multidimensional rates of the unit and of each unit
// below it for the last five years, regrouped into the units in force on
// the chosen date (the poverty plugin's as_of), the reduction of each
// coloured by the target band (target_pp, 0.7–1.0 points by default), and
// tiles to drill down: province → district → commune → the
// leave-no-one-behind lists.  Before 1 July 2025 a province has districts;
// after the reorganisation, communes only.
import { pool, query, units } from './api.js';
import { chart } from './charts.js';
import { clear, h, stat, table } from './dom.js';
import { fromIsoDate, isoFromVn, pct, pp, todayIso, vnFromIso, vnParts } from './fmt.js';
import { t } from './i18n.js';

const YEARS = 5;
const REORGANISATION = '2025-07-01';

// How a reduction stands against the band [min, max].
export function standing(reduction, band) {
  if (reduction === null || reduction === undefined || !band) return 'nodata';
  if (reduction < 0) return 'rose';
  if (reduction < band[0]) return 'missed';
  if (reduction > band[1]) return 'exceeds';
  return 'meets';
}

const STANDING_TEXT = { nodata: 'no_data', rose: 'rose', missed: 'missed', exceeds: 'exceeds', meets: 'meets' };

function reductionBadge(reduction, band, attrs = {}) {
  const s = standing(reduction, band);
  return h('span', { class: `badge ${s}`, ...attrs },
    reduction === null || reduction === undefined ? t('no_data') : `${t('points', { v: pp(reduction) })} · ${t(STANDING_TEXT[s])}`);
}

function asOfForm(asOf, hrefFor) {
  // dd/mm/yyyy typed, whatever the browser's own date format.
  const input = h('input', { id: 'as-of', name: 'as_of', value: vnFromIso(asOf), required: true,
    inputmode: 'numeric', placeholder: 'dd/mm/yyyy', autocomplete: 'off', 'aria-describedby': 'as-of-help' });
  const day = (d) => {
    const x = new Date(`${d}T00:00:00Z`);
    x.setUTCDate(x.getUTCDate() - 1);
    return x.toISOString().slice(0, 10);
  };
  return h('form', { class: 'as-of', onsubmit: (e) => {
    e.preventDefault();
    const iso = isoFromVn(input.value);
    if (iso) location.hash = hrefFor(iso);
    else input.setAttribute('aria-invalid', 'true');
  } },
  h('label', { for: 'as-of' }, t('as_of')), input,
  h('button', { type: 'submit' }, t('apply')),
  h('span', { class: 'presets' },
    h('a', { href: hrefFor(day(REORGANISATION)), id: 'as-of-before' }, t('as_of_before')),
    h('a', { href: hrefFor(REORGANISATION), id: 'as-of-after' }, t('as_of_after')),
    h('a', { href: hrefFor(todayIso()), id: 'as-of-today' }, t('as_of_today'))),
  h('p', { id: 'as-of-help', class: 'muted' }, t('as_of_help')));
}

export async function render(main, { name, arg, params }) {
  const asOf = params.get('as_of') || todayIso();
  const at = fromIsoDate(asOf) ?? fromIsoDate(todayIso());
  // Ancestors from the province down, as the drill-down went.
  const path = (params.get('path') || '').split(',').filter(Boolean);
  let unit;
  if (name === 'overview') {
    const provinces = await units(null, at);
    unit = provinces[0];
  } else {
    const siblings = await units(path.length ? path[path.length - 1] : null, at);
    unit = siblings.find((u) => u.code === arg);
  }
  const lastYear = Math.min(vnParts(at).y, vnParts(Date.now() / 1000).y) - 1;
  let years = Array.from({ length: YEARS }, (_, i) => lastYear - YEARS + 1 + i);
  const hrefFor = (d) => (name === 'overview' ? `#/overview?as_of=${d}`
    : `#/unit/${encodeURIComponent(arg)}?as_of=${d}&path=${path.join(',')}`);
  if (!unit) {
    clear(main).append(h('h1', {}, t('overview_title')), asOfForm(asOf, hrefFor),
      h('p', { class: 'empty' }, t('no_units')));
    main.setAttribute('aria-busy', 'false');
    return;
  }
  const children = await units(unit.code, at);
  // Every year regrouped into the units in force on the date (as_of must
  // not be before the year's end: the last year shown is the one before
  // the date's).
  const fig = new Map();
  const ask = async (cells) => {
    const results = await pool(cells, 6, ([u, y]) => query('poverty', { unit: u.code, year: y, as_of: at }));
    cells.forEach(([u, y], i) => fig.set(`${u.code}/${y}`, results[i]));
  };
  const get = (u, y) => fig.get(`${u.code}/${y}`) ?? {};
  await ask(years.map((y) => [unit, y]));
  // Years before the first with figures are left out.
  while (years.length > 1 && get(unit, years[0]).households === null && get(unit, years[0]).poor === 0)
    years.shift();
  // Many units below (a province after the reorganisation has only
  // communes): they are compared on the first and the last year, which
  // keeps the page within the gateway's requests_per_minute.
  const compared = children.length > 12 ? [years[0], lastYear] : years;
  await ask(children.flatMap((c) => compared.map((y) => [c, y])));
  const all = [unit, ...children];
  const latest = get(unit, lastYear);
  const band = latest.target_pp;
  const multiBand = latest.multidimensional_target_pp;

  const crumbs = h('nav', { class: 'crumbs', 'aria-label': t('up') },
    h('a', { href: `#/overview?as_of=${asOf}` }, t('overview_title')),
    path.length > 0 ? path.slice(1).map((c, i) => [' › ', h('a', {
      href: `#/unit/${c}?as_of=${asOf}&path=${path.slice(0, i + 1).join(',')}` }, c)]) : null,
    name === 'unit' ? [' › ', h('span', { 'aria-current': 'page' }, unit.name)] : null);

  clear(main).append(
    crumbs,
    h('h1', {}, name === 'overview' ? `${t('overview_title')}: ${unit.name}` : unit.name),
    asOfForm(asOf, hrefFor),
    h('section', { class: 'stats', 'aria-label': String(lastYear) },
      stat(`${t('poor_rate')} ${lastYear}`, pct(latest.poor_rate),
        { 'data-unit': unit.code, 'data-year': lastYear, 'data-key': 'poor_rate', id: 'kpi-poor-rate' }),
      stat(`${t('multi_rate')} ${lastYear}`, pct(latest.multidimensional_rate),
        { 'data-unit': unit.code, 'data-year': lastYear, 'data-key': 'multidimensional_rate', id: 'kpi-multi-rate' }),
      h('div', { class: 'stat' }, h('span', { class: 'stat-label' }, t('reduction')),
        reductionBadge(latest.reduction_pp, band, { id: 'kpi-reduction' }),
        band ? h('span', { class: 'muted small' }, t('band', { min: pp(band[0]).replace('+', ''), max: pp(band[1]).replace('+', '') })) : null),
      h('div', { class: 'stat' }, h('span', { class: 'stat-label' }, t('reduction_multi')),
        reductionBadge(latest.multidimensional_reduction_pp, multiBand),
        multiBand ? h('span', { class: 'muted small' }, t('band', { min: pp(multiBand[0]).replace('+', ''), max: pp(multiBand[1]).replace('+', '') })) : null)));

  const childPath = [...path, unit.code].join(',');
  if (children.length > 0) {
    main.append(h('section', { class: 'tiles-section' },
      h('h2', {}, t('tiles_title', { year: lastYear })),
      h('p', { class: 'muted' }, t('tiles_help')),
      h('ul', { class: 'tiles' }, children.map((c) => {
        const r = get(c, lastYear);
        const s = standing(r.reduction_pp, r.target_pp ?? band);
        return h('li', {}, h('a', { class: `tile ${s}`, href: `#/unit/${encodeURIComponent(c.code)}?as_of=${asOf}&path=${childPath}`,
          'data-unit': c.code },
        h('span', { class: 'tile-name' }, c.name),
        h('span', { class: 'tile-rate' }, pct(r.poor_rate)),
        h('span', { class: 'tile-red' }, r.reduction_pp === null || r.reduction_pp === undefined
          ? t('no_data') : `${pp(r.reduction_pp)} · ${t(STANDING_TEXT[s])}`)));
      }))));
  }

  const headers = [t('unit'), ...compared.map((y) => `${t('poor_rate')} ${y}`), `${t('reduction')} ${lastYear}`,
    ...compared.map((y) => `${t('multi_rate')} ${y}`), `${t('reduction_multi')} ${lastYear}`];
  const cell = (u, y, key, text) => h('span', { 'data-unit': u.code, 'data-year': y, 'data-key': key }, text);
  const rows = all.map((u) => [
    u === unit ? h('strong', {}, u.name) : h('a', { href: `#/unit/${encodeURIComponent(u.code)}?as_of=${asOf}&path=${childPath}` }, u.name),
    ...compared.map((y) => cell(u, y, 'poor_rate', pct(get(u, y).poor_rate))),
    reductionBadge(get(u, lastYear).reduction_pp, get(u, lastYear).target_pp ?? band,
      { 'data-unit': u.code, 'data-year': lastYear, 'data-key': 'reduction_pp' }),
    ...compared.map((y) => cell(u, y, 'multidimensional_rate', pct(get(u, y).multidimensional_rate))),
    reductionBadge(get(u, lastYear).multidimensional_reduction_pp, get(u, lastYear).multidimensional_target_pp ?? multiBand,
      { 'data-unit': u.code, 'data-year': lastYear, 'data-key': 'multidimensional_reduction_pp' }),
  ]);
  main.append(h('div', { class: 'charts' },
    chart('line', `${unit.name}: ${t('chart_series')}`, years.map(String), [
      { label: t('poor_rate'), data: years.map((y) => get(unit, y).poor_rate ?? null) },
      { label: t('multi_rate'), data: years.map((y) => get(unit, y).multidimensional_rate ?? null) },
    ], { unit: '%', wide: true, short: true }),
    children.length > 0 ? chart('bar', t('chart_poor'), children.map((c) => c.name),
      compared.map((y) => ({ label: String(y), data: children.map((c) => get(c, y).poor_rate ?? null) })),
      { unit: '%', wide: true }) : null,
    children.length > 0 ? chart('bar', t('chart_multi'), children.map((c) => c.name),
      compared.map((y) => ({ label: String(y), data: children.map((c) => get(c, y).multidimensional_rate ?? null) })),
      { unit: '%', wide: true }) : null));
  main.append(h('section', {}, h('h2', {}, t('table_title')),
    table(null, headers, rows, { class: 'figures', id: 'figures' })));
  main.append(h('p', {}, h('a', { class: 'button', id: 'lnob-link',
    href: `#/lnob/${encodeURIComponent(unit.code)}?year=${lastYear}&as_of=${asOf}&path=${childPath}&name=${encodeURIComponent(unit.name)}` },
  t('lnob_link', { year: lastYear }))));
  main.setAttribute('aria-busy', 'false');
}
