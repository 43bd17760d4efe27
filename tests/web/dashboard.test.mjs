// The dashboard in a real browser: Debian's chromium (/usr/bin/chromium),
// driven by playwright-core, against the real povtrackd and povtrack-gw
// (stack.mjs).  The tests run in order and build on each other's events.
// Every page is saved as a screenshot in POVTRACK_SHOTS_DIR (their paths
// are printed).
//
//   POVTRACK_BIN_DIR=build/bin POVTRACK_SHOTS_DIR=/tmp/shots \
//     node --test tests/web/dashboard.test.mjs      (run.sh does this)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startStack, USERS } from './stack.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const binDir = process.env.POVTRACK_BIN_DIR ?? path.resolve(here, '../../build/bin');
const shotsDir = process.env.POVTRACK_SHOTS_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'povtrack-shots-'));
const WAIT = 60000;

let stack;
let browser;

before(async () => {
  fs.mkdirSync(shotsDir, { recursive: true });
  stack = await startStack(binDir);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    // Playwright gives each launch a fresh, temporary --user-data-dir.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  if (stack) {
    const codes = await stack.stop();
    // Both exit 0 on SIGTERM; under ASan a leak or an error makes them
    // exit otherwise.
    assert.deepEqual(codes, { gw: 0, daemon: 0 }, `exit statuses; logs in ${stack.dir}`);
    fs.rmSync(stack.dir, { recursive: true, force: true });
  }
});

// A browser context as a Vietnamese user in Vietnam would have.
async function newPage() {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 }, locale: 'vi-VN', timezoneId: 'Asia/Ho_Chi_Minh',
  });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  // Nothing may be fetched from outside the gateway (works offline).
  await context.route((url) => !url.href.startsWith(stack.base), (route) => {
    page.errors.push(`fetched from outside: ${route.request().url()}`);
    return route.abort();
  });
  return page;
}

// The whole page, or its first screen (a long list).
async function shot(page, name, { fullPage = true } = {}) {
  const file = path.join(shotsDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage });
  console.log(`screenshot: ${file}`);
}

// Wait for a page of the dashboard to have its figures on screen.
async function ready(page, name) {
  await page.waitForSelector(`main[data-page="${name}"][aria-busy="false"]`, { timeout: WAIT });
}

// On a screen where the overview's cards are narrow (four in a row, 1000
// px; one in a row, 500 px), the reduction badges wrap inside their cards:
// no text runs out of a badge or a card.
async function badgesFit(page, lang) {
  for (const width of [1000, 500]) {
    await page.setViewportSize({ width, height: 800 });
    const spill = await page.$$eval('section.stats .stat', (cards) => cards.flatMap((c) =>
      [c, ...c.querySelectorAll('.badge')].filter((e) => e.scrollWidth > e.clientWidth)
        .map((e) => `${e.className} "${e.textContent}": ${e.scrollWidth} > ${e.clientWidth}`)));
    assert.deepEqual(spill, [], `${lang}, ${width} px`);
    await shot(page, `overview-${lang}-${width}`, { fullPage: false });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

// Upload a file of donation rows (after the header) for a check, and wait
// for the page to find every row valid.
async function checkValid(page, name, rows) {
  const file = path.join(stack.dir, name);
  fs.writeFileSync(file, `ngay,nha_tai_tro,so_tien,loai,cap\n${rows}`);
  await page.setInputFiles('#import-file', file);
  await page.click('#import-check');
  await page.waitForSelector('#import-store', { timeout: WAIT });
}

// Wait for the fund page of unit `code` (after a change of address).
async function fundOf(page, code) {
  await page.waitForFunction((c) => document.querySelector('main[data-page="fund"][aria-busy="false"] #fund-unit')?.value === c,
    code, { timeout: WAIT });
}

async function login(page, user) {
  await page.goto(`${stack.base}/`);
  await page.fill('#login-user', user);
  await page.fill('#login-password', USERS[user].password);
  await page.click('form.login button[type=submit]');
  await ready(page, 'overview');
}

async function api(page, p) {
  const r = await page.context().request.get(`${stack.base}${p}`);
  assert.equal(r.status(), 200, `${p}: ${await r.text()}`);
  return r.json();
}

// The dashboard's formats, written independently here: 4,99% / 4.99%.
function rate(v, lang = 'vi') {
  if (v === null || v === undefined) return '–';
  const s = v.toFixed(2);
  return `${lang === 'vi' ? s.replace('.', ',') : s}%`;
}
function vnd(n) {
  return `${String(n).replace(/\B(?=(\d{3})+(?!\d))/g, '.')} đ`;
}

// 00:00 in Vietnam of "YYYY-MM-DD" or "dd/mm/yyyy" (the as_of field).
function vnMidnight(s) {
  const [y, m, d] = s.includes('/') ? s.split('/').reverse().map(Number) : s.split('-').map(Number);
  return Date.UTC(y, m - 1, d) / 1000 - 7 * 3600;
}

// The log's last sequence, from the daemon itself.
function lastSeq() {
  const r = spawnSync(path.join(binDir, 'povtrack'), ['stats', '--json'], { env: stack.env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout).last_seq;
}

// Every rate of the figures table equals the poverty plugin's answer.
async function checkFigures(page) {
  const asOf = await page.inputValue('#as-of');
  const cells = await page.$$eval('#figures [data-key]', (els) => els.map((e) => ({
    unit: e.dataset.unit, year: Number(e.dataset.year), key: e.dataset.key, text: e.textContent })));
  assert.ok(cells.length > 20, `figures on the page: ${cells.length}`);
  let compared = 0;
  for (const c of cells) {
    const r = (await api(page, `/api/v1/query/poverty?unit=${c.unit}&year=${c.year}&as_of=${vnMidnight(asOf)}`)).result;
    if (c.key === 'poor_rate' || c.key === 'multidimensional_rate') {
      assert.equal(c.text, rate(r[c.key]), `${c.key} of ${c.unit} in ${c.year}`);
      compared++;
    } else {
      // A reduction: "+0,75 điểm % · Đạt mục tiêu".
      const v = r[c.key];
      assert.ok(c.text.startsWith(`${v > 0 ? '+' : v < 0 ? '−' : ''}${Math.abs(v).toFixed(2).replace('.', ',')}`),
        `${c.key} of ${c.unit} in ${c.year}: page "${c.text}", API ${v}`);
    }
  }
  return compared;
}

test('log in: a wrong password is refused on the page, the right one opens the overview', async () => {
  const page = await newPage();
  await page.goto(`${stack.base}/`);
  await ready(page, 'login');
  assert.equal(await page.getAttribute('html', 'lang'), 'vi');
  await shot(page, 'login');
  await page.fill('#login-user', 'clerk');
  await page.fill('#login-password', 'not the password');
  await page.click('form.login button[type=submit]');
  await page.waitForSelector('#login-error:text("Sai tên đăng nhập hoặc mật khẩu.")');
  await login(page, 'clerk');
  assert.match(await page.textContent('header .user'), /clerk/);
  // The session cookie is HttpOnly: the page's script cannot read it.
  assert.equal(await page.evaluate(() => document.cookie.includes('povtrack_session')), false);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('overview: every rate on the page equals the query answer, on the units after and before the 2025 reorganisation', async () => {
  const page = await newPage();
  await login(page, 'clerk');
  // Today: the province after the reorganisation (Lâm Đồng, communes).
  assert.match(await page.textContent('main h1'), /Lâm Đồng/);
  const after2025 = await checkFigures(page);
  await shot(page, 'overview');
  // The units of 30/06/2025: Bình Thuận and its districts.
  await page.click('#as-of-before');
  await page.waitForSelector('main h1:has-text("Bình Thuận")', { timeout: WAIT });
  await ready(page, 'overview');
  assert.equal(await page.inputValue('#as-of'), '30/06/2025');
  const before2025 = await checkFigures(page);
  assert.equal(await page.locator('.tiles a.tile').count(), 10, 'ten districts');
  await shot(page, 'overview-2025-06-30');
  // The headline figure too.
  const r = (await api(page, `/api/v1/query/poverty?unit=60&year=2024&as_of=${vnMidnight('2025-06-30')}`)).result;
  assert.equal(await page.textContent('#kpi-poor-rate .stat-value'), rate(r.poor_rate));
  // Drill down: a district, then one of its communes.
  await page.click('.tiles a.tile[data-unit="593"]');
  await page.waitForSelector('main[data-page="unit"] h1:has-text("Phan Thiết")', { timeout: WAIT });
  await ready(page, 'unit');
  await checkFigures(page);
  await shot(page, 'district-593');
  await page.click('.tiles a.tile[data-unit="22915"]');
  await page.waitForSelector('main[data-page="unit"] h1:has-text("Mũi Né")', { timeout: WAIT });
  await ready(page, 'unit');
  await page.click('#lnob-link');
  await ready(page, 'lnob');
  assert.equal(await page.locator('section[data-list]').count(), 3);
  await shot(page, 'lnob-22915');
  assert.ok(after2025 > 100 && before2025 > 40, `${after2025} and ${before2025} rates compared`);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('a donation entered in the form: errors beside their fields, then acked, counted in the fund, and its large-donation alert in the live feed without reloading', async () => {
  const page = await newPage();
  await login(page, 'clerk');
  await page.evaluate(() => { window.notReloaded = true; });
  const year = Number(new Intl.DateTimeFormat('en', { timeZone: 'Asia/Ho_Chi_Minh', year: 'numeric' }).format(new Date()));
  const before = (await api(page, `/api/v1/query/fund?unit=68&year=${year}`)).result;
  await page.click('header nav a[href="#/entry"]');
  await ready(page, 'entry');
  // Mistakes: povtrackd names every missing field of an event at once, then
  // the first wrong value, and the page shows each reason next to its field.
  await page.fill('#f-unit', '22915');
  await page.fill('#f-amount', 'một trăm');
  await page.click('#entry-submit');
  await page.waitForSelector('#f-donor[aria-invalid="true"]', { timeout: WAIT });
  assert.match(await page.textContent('#f-donor-error'), /./, 'the donor is required');
  assert.match(await page.textContent('#entry-result'), /Chưa lưu/);
  assert.equal((await api(page, `/api/v1/query/fund?unit=68&year=${year}`)).result.donations, before.donations,
    'nothing stored');
  await page.fill('#f-donor', 'Công ty Thử nghiệm Trình duyệt');
  await page.selectOption('#f-donor_kind', 'business');
  await page.selectOption('#f-level', 'commune');
  await page.click('#entry-submit');
  await page.waitForSelector('#f-amount[aria-invalid="true"]', { timeout: WAIT });
  assert.match(await page.textContent('#f-amount-error'), /./);
  assert.equal(await page.textContent('#f-donor-error'), '');
  await shot(page, 'entry-errors');
  // Corrected: stored.
  await page.fill('#f-amount', '150.000.000');
  await page.click('#entry-submit');
  await page.waitForSelector('#entry-result.ok', { timeout: WAIT });
  assert.match(await page.textContent('#entry-result'), /Đã lưu/);
  await page.waitForSelector('#entry-fund-received', { timeout: WAIT });
  await shot(page, 'entry-acked');
  // The fund page counts it.
  await page.click('header nav a[href="#/fund"]');
  await ready(page, 'fund');
  const now = (await api(page, `/api/v1/query/fund?unit=68&year=${year}`)).result;
  assert.equal(now.received, before.received + 150000000);
  assert.equal(now.donations, before.donations + 1);
  assert.equal(await page.textContent('#fund-received .stat-value'), vnd(now.received));
  // Money is whole đồng: every chart's y axis steps by whole numbers, also
  // the all-zero one (no disbursement this year: 0, 1, not 1 1 1 0 0).
  await page.waitForFunction(() => [...document.querySelectorAll('figure.chart canvas')]
    .every((c) => window.Chart?.getChart(c)), null, { timeout: WAIT });
  const ticks = await page.$$eval('figure.chart canvas', (cs) => cs.map((c) => window.Chart.getChart(c).scales.y.ticks
    .map((x) => ({ value: x.value, label: x.label }))));
  assert.equal(ticks.length, 2);
  for (const tk of ticks) {
    assert.ok(tk.every((x) => Number.isInteger(x.value)), JSON.stringify(tk));
    assert.equal(new Set(tk.map((x) => x.label)).size, tk.length, `one label per tick: ${JSON.stringify(tk)}`);
  }
  // The large donation is listed in its province (68, the commune's parent).
  await page.waitForSelector('#fund-large tr:has-text("22915")', { timeout: WAIT });
  await shot(page, 'fund');
  // ... and in its commune, not in another commune of the province.
  const end = vnMidnight(`${year + 1}-01-01`) - 1;
  const other = (await api(page, `/api/v1/units?parent=68&at=${end}`)).units.find((u) => u.code !== '22915');
  assert.ok(other, 'another unit under 68');
  await page.goto(`${stack.base}/#/fund?unit=22915&year=${year}`);
  await fundOf(page, '22915');
  assert.equal(await page.locator('#fund-large tr:has-text("Thử nghiệm Trình duyệt")').count(), 1);
  await page.goto(`${stack.base}/#/fund?unit=${other.code}&year=${year}`);
  await fundOf(page, other.code);
  assert.equal(await page.locator('#fund-large tr:has-text("Thử nghiệm Trình duyệt")').count(), 0,
    `${other.code} lists another unit's large donation`);
  await shot(page, 'fund-other-unit');
  // Its alert arrives on the live feed (SSE), the page never reloaded.
  await page.click('header nav a[href="#/alerts"]');
  await ready(page, 'alerts');
  await page.waitForSelector('#alert-feed li[data-code="fund.large_donation"]:has-text("Thử nghiệm Trình duyệt")',
    { timeout: WAIT });
  assert.equal(await page.evaluate(() => window.notReloaded), true);
  await shot(page, 'alerts', { fullPage: false });
  // Filters: by code.
  await page.fill('#filter-code', 'fund.large');
  await page.click('form.filters button[type=submit]');
  await ready(page, 'alerts');
  const codes = await page.$$eval('#alert-feed li[data-code]', (els) => els.map((e) => e.dataset.code));
  assert.ok(codes.length > 0 && codes.every((c) => c === 'fund.large_donation'), codes.join(','));
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('the fund of 2025, the year of the reorganisation: on the units of its end, with what their predecessors received before July', async () => {
  const page = await newPage();
  await login(page, 'clerk');
  await page.goto(`${stack.base}/#/fund?year=2025`);
  await ready(page, 'fund');
  // Bình Thuận (60) ended on 1 July 2025: the year is Lâm Đồng's (68), and
  // 68's 2025 on its own units (as_of the year's end) holds 60's receipts.
  const end = vnMidnight('2026-01-01') - 1;
  const fund = (await api(page, `/api/v1/query/fund?unit=68&year=2025&as_of=${end}`)).result;
  assert.ok(fund.received > 0, 'the sample has donations in 2025');
  assert.match(await page.textContent('main h1'), /Lâm Đồng, 2025/);
  assert.equal(await page.textContent('#fund-received .stat-value'), vnd(fund.received));
  assert.equal(await page.$eval('#fund-unit', (s) => s.value), '68');
  // Its large donations too: those the sample recorded under 60 and its
  // districts (593...) count in 68, as their money does.
  const large = (await api(page, '/api/v1/alerts?code=fund.large_donation')).alerts
    .filter((a) => a.at >= vnMidnight('2025-01-01') && a.at <= end);
  assert.ok(large.some((a) => a.unit === '60') && large.some((a) => a.unit === '593'), JSON.stringify(large));
  assert.equal(await page.locator('#fund-large tbody tr').count(), large.length);
  await shot(page, 'fund-2025');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('a spreadsheet with mistakes: each row\'s error is listed and nothing is stored; a good one is stored', async () => {
  const page = await newPage();
  await login(page, 'clerk');
  await page.click('header nav a[href="#/import"]');
  await ready(page, 'import');
  const seq0 = lastSeq();
  await page.setInputFiles('#import-file', path.resolve(here, '../tools/donations-sample.csv'));
  await page.fill('#import-unit', '593');
  await page.click('#import-check');
  await page.waitForSelector('#import-errors', { timeout: WAIT });
  const rows = await page.$$eval('#import-errors tbody tr', (trs) => trs.map((tr) => tr.firstChild.textContent));
  // Rows 5 to 16 of the file have mistakes (see its ghi_chu column).
  assert.deepEqual(rows, ['5', '6', '7', '8', '9', '10', '11', '12', '13', '14', '15', '16']);
  assert.match(await page.textContent('#import-summary'), /12 trong 16 dòng có lỗi/);
  assert.equal(await page.locator('#import-store').count(), 0, 'no way to store it');
  await shot(page, 'import-errors');
  assert.equal(lastSeq(), seq0, 'nothing stored');
  // A unit povtrackd does not know: the error names the sheet's column, as
  // the clerk wrote its header, beside povtrackd's field.
  const badUnit = path.join(stack.dir, 'don-vi-sai.csv');
  fs.writeFileSync(badUnit, 'Ngày,Tên người ủng hộ,Số tiền,Loại,Mã đơn vị\n' +
    '17/10/2024,Nguyễn Văn Bình,2.000.000,Cá nhân,99999\n');
  await page.setInputFiles('#import-file', badUnit);
  await page.fill('#import-unit', '');
  await page.click('#import-check');
  await page.waitForSelector('#import-errors tbody tr:has-text("99999")', { timeout: WAIT });
  const cells = await page.$$eval('#import-errors tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  assert.equal(cells.length, 1, JSON.stringify(cells));
  assert.deepEqual(cells[0].slice(0, 3), ['2', 'Mã đơn vị', 'unit']);
  assert.equal(lastSeq(), seq0, 'nothing stored');
  await page.fill('#import-unit', '593');
  // A good file: checked, then stored, all of it.
  await checkValid(page, 'ung-ho-thang-10.csv', '2024-10-17,Nguyễn Văn Bình,2.000.000,ca_nhan,huyen\n' +
    '18/10/2024,Công ty TNHH Biển Xanh,"5,000,000",doanh_nghiep,huyen\n');
  assert.equal(lastSeq(), seq0, 'a dry run stores nothing');
  await page.click('#import-store');
  await page.waitForSelector('#import-summary.ok:has-text("Đã lưu 2 dòng")', { timeout: WAIT });
  assert.equal(lastSeq(), seq0 + 2);
  await shot(page, 'import-stored');
  // Two identical rows (a donation box): one donation and a note that says
  // what to do on this page, not a command-line flag; ticked, two.
  await checkValid(page, 'hom-cong-duc.csv', '2024-10-20,Ẩn danh,500.000,an_danh,xa\n'.repeat(2));
  const note = await page.textContent('#import-result li');
  assert.match(note, /dòng 3 lặp lại dòng 2/);
  assert.match(note, /đánh dấu ô “Hai dòng giống nhau là hai lần ủng hộ”/);
  assert.doesNotMatch(note, /--allow/);
  assert.equal(await page.textContent('label[for="import-dup-rows"]'), 'Hai dòng giống nhau là hai lần ủng hộ');
  await shot(page, 'import-repeated');
  await page.check('#import-dup-rows');
  await page.click('#import-check');
  await page.waitForSelector('#import-result li:has-text("nhập thành một bản nữa")', { timeout: WAIT });
  await page.click('#import-store');
  await page.waitForSelector('#import-summary.ok:has-text("Đã lưu 2 dòng")', { timeout: WAIT });
  assert.equal(lastSeq(), seq0 + 4, 'the two rows are two donations');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('a user without the right sees a 403 page, not the households', async () => {
  const page = await newPage();
  await login(page, 'viewer');
  await page.goto(`${stack.base}/#/lnob/22915?year=2024&path=60,593`);
  await ready(page, 'forbidden');
  assert.match(await page.textContent('main h1'), /403/);
  assert.match(await page.textContent('main'), /standard/, 'the daemon\'s words: which plugin');
  assert.equal(await page.locator('section[data-list]').count(), 0);
  assert.equal(await page.locator('main table').count(), 0);
  await shot(page, 'forbidden');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('language switch: English on a click, remembered after a reload, numbers in English form', async () => {
  const page = await newPage();
  await login(page, 'clerk');
  const vi = await page.textContent('#kpi-poor-rate .stat-value');
  assert.match(vi, /^\d+,\d\d%$/);
  await badgesFit(page, 'vi');
  await page.click('#lang-switch');
  await ready(page, 'overview');
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.equal(await page.textContent('header nav a[href="#/overview"]'), 'Overview');
  assert.equal(await page.textContent('#kpi-poor-rate .stat-value'), vi.replace(',', '.'));
  await page.reload();
  await ready(page, 'overview');
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.match(await page.textContent('main h1'), /Province overview/);
  await shot(page, 'overview-en');
  await badgesFit(page, 'en');
  await page.click('#lang-switch');
  await ready(page, 'overview');
  assert.equal(await page.textContent('header nav a[href="#/overview"]'), 'Tổng quan');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
