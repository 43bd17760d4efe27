// The leave-no-one-behind lists of a unit and year (#/lnob/CODE?year=Y):
// the standard plugin's three lists.  Only for users whose publisher may
// query the standard plugin: the daemon refuses the others, and they get
// the 403 page, not data.
import { query } from './api.js';
import { clear, h, table } from './dom.js';
import { num } from './fmt.js';
import { t } from './i18n.js';

const LISTS = ['unrecognised', 'recognition_unsupported', 'no_assessment'];
const LIMIT = 500;

export async function render(main, { arg, params }) {
  const year = Number(params.get('year'));
  const asOf = params.get('as_of') ?? '';
  const path = params.get('path') ?? '';
  const lists = await Promise.all(LISTS.map((list) =>
    query('standard', { unit: arg, year, list, limit: LIMIT })));
  clear(main).append(
    h('nav', { class: 'crumbs' }, h('a', {
      href: `#/unit/${encodeURIComponent(arg)}?as_of=${asOf}&path=${path.split(',').slice(0, -1).join(',')}` }, t('up'))),
    h('h1', {}, t('lnob_title', { name: params.get('name') || arg, year })),
    h('p', {}, t('lnob_intro')));
  LISTS.forEach((list, i) => {
    const r = lists[i];
    main.append(h('section', { 'data-list': list },
      h('h2', {}, `${t(`lnob_${list}`)} (${num(r.households.length)}${r.more ? '+' : ''})`),
      r.households.length === 0 ? h('p', { class: 'muted' }, t('none'))
        : table(null, [t('household'), t('unit')], r.households.map((x) => [x.household, x.unit])),
      r.more ? h('p', { class: 'muted' }, t('more', { n: num(LIMIT) })) : null));
  });
  main.setAttribute('aria-busy', 'false');
}
