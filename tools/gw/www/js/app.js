// The dashboard: who is logged in, the page frame (header, navigation,
// language switch) and the pages by the address's #fragment:
//   #/overview?as_of=YYYY-MM-DD          the province and its units
//   #/unit/CODE?as_of=YYYY-MM-DD         one unit and the units below it
//   #/lnob/CODE?year=Y                    leave-no-one-behind lists
//   #/fund?unit=CODE&year=Y               the For the Poor fund
//   #/alerts                              live alerts, relocation, reports
//   #/entry                               a donation / disbursement form
//   #/import                              a spreadsheet upload
// A page is a module exporting render(main, params, ctx); it sets
// main's aria-busy to false once its figures are on the page.
import { ApiError, get, post, setCsrf } from './api.js';
import { destroyCharts } from './charts.js';
import { clear, h } from './dom.js';
import * as feed from './feed.js';
import { initLang, lang, setLang, t } from './i18n.js';
import * as alertsPage from './page-alerts.js';
import * as entryPage from './page-entry.js';
import * as fundPage from './page-fund.js';
import * as importPage from './page-import.js';
import { renderLogin } from './page-login.js';
import * as lnobPage from './page-lnob.js';
import * as overviewPage from './page-overview.js';

const ROUTES = {
  overview: overviewPage,
  unit: overviewPage,
  lnob: lnobPage,
  fund: fundPage,
  alerts: alertsPage,
  entry: entryPage,
  import: importPage,
};
const NAV = [['overview', 'nav_overview'], ['fund', 'nav_fund'], ['alerts', 'nav_alerts'],
  ['entry', 'nav_entry'], ['import', 'nav_import']];

const root = document.getElementById('app');
const ctx = { session: null, unsubscribe: null };

// "#/unit/593?as_of=2025-06-30" → {name: 'unit', arg: '593', params}
function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, qs] = raw.split('?');
  const [name, arg] = (path || 'overview').split('/');
  return { name, arg: arg ? decodeURIComponent(arg) : null, params: new URLSearchParams(qs ?? '') };
}

// The page to show when access is refused: what, and the server's words.
export function forbidden(main, err) {
  main.setAttribute('aria-busy', 'false');
  main.dataset.page = 'forbidden';
  clear(main).append(h('section', { class: 'forbidden', role: 'alert' },
    h('h1', {}, t('forbidden_title')),
    h('p', {}, t('forbidden_text')),
    err?.message ? h('p', { class: 'muted' }, t('forbidden_detail', { msg: err.message })) : null,
    h('p', {}, h('a', { href: '#/overview' }, t('back_overview')))));
}

// What a page shows when its data could not be had.
export function failed(main, err) {
  if (err instanceof ApiError && err.status === 401) {
    start();
    return;
  }
  if (err instanceof ApiError && err.status === 403) {
    forbidden(main, err);
    return;
  }
  main.setAttribute('aria-busy', 'false');
  clear(main).append(h('section', { class: 'error', role: 'alert' },
    h('h1', {}, t('error_title')),
    h('p', {}, err instanceof ApiError && err.status === 0 ? t('unreachable') : err.message)));
}

function header(active) {
  const nav = h('nav', { 'aria-label': t('nav_main') },
    h('ul', {}, NAV.map(([name, key]) => h('li', {},
      h('a', { href: `#/${name}`, 'aria-current': name === active ? 'page' : null }, t(key))))));
  const live = h('span', { class: 'live-dot', id: 'live-state', role: 'status' });
  const showLive = () => {
    live.textContent = t(`live_${feed.status()}`);
    live.classList.toggle('off', feed.status() !== 'open');
  };
  showLive();
  ctx.unsubscribe?.();
  ctx.unsubscribe = feed.subscribe(showLive);
  return h('header', { class: 'top' },
    h('a', { class: 'skip', href: '#main', onclick: (e) => { e.preventDefault(); document.getElementById('main').focus(); } }, t('skip')),
    h('div', { class: 'brand' }, h('a', { href: '#/overview' }, t('app_name'))),
    nav,
    h('div', { class: 'who' },
      live,
      h('span', { class: 'user' }, t('signed_in_as', { user: ctx.session.user })),
      h('button', { type: 'button', id: 'lang-switch', lang: lang() === 'vi' ? 'en' : 'vi',
        'aria-label': t('lang_switch_label'),
        onclick: () => { setLang(lang() === 'vi' ? 'en' : 'vi'); route(); } }, t('lang_switch')),
      h('button', { type: 'button', id: 'logout', onclick: logout }, t('logout'))));
}

async function route() {
  if (!ctx.session) return;
  const { name, arg, params } = parseHash();
  const page = ROUTES[name];
  destroyCharts();
  const main = h('main', { id: 'main', tabindex: '-1', 'aria-busy': 'true', 'data-page': name });
  clear(root).append(header(name === 'unit' || name === 'lnob' ? 'overview' : name), main);
  document.title = `${t(NAV.find(([n]) => n === name)?.[1] ?? 'nav_overview')} — ${t('app_name')}`;
  if (!page) {
    main.setAttribute('aria-busy', 'false');
    main.append(h('h1', {}, t('not_found')));
    return;
  }
  main.append(h('p', { class: 'muted' }, t('loading')));
  try {
    await page.render(main, { name, arg, params }, ctx);
  } catch (err) {
    failed(main, err);
  }
}

async function logout() {
  try {
    await post('/api/v1/logout');
  } catch {
    // Gone already: the login page all the same.
  }
  feed.stop();
  ctx.session = null;
  setCsrf(null);
  start();
}

// The session, or the login page.
export async function start() {
  let session = null;
  try {
    session = await get('/api/v1/session');
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) {
      initLang(null, null);
      failed(clear(root).appendChild(h('main', { id: 'main' })), err);
      return;
    }
  }
  if (!session) {
    ctx.session = null;
    initLang(null, null);
    destroyCharts();
    renderLogin(root, async (s) => {
      ctx.session = s;
      setCsrf(s.csrf_token);
      initLang(s.user, s.lang);
      feed.start();
      route();
    });
    return;
  }
  ctx.session = session;
  setCsrf(session.csrf_token);
  initLang(session.user, session.lang);
  feed.start();
  route();
}

window.addEventListener('hashchange', route);
start();
