// The README's screenshots (docs/screenshots/, 1280x800), made the way the
// browser tests run: the sample province of stack.mjs in Debian's
// chromium.  Run after a change that shows, then optimise them:
//   node tests/web/readme-shots.mjs build/bin docs/screenshots
//   optipng -o5 -strip all docs/screenshots/*.png
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startStack, USERS } from './stack.mjs';

const [binDir = 'build/bin', outDir = 'docs/screenshots'] = process.argv.slice(2);
const stack = await startStack(path.resolve(binDir));
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
try {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 },
    locale: 'vi-VN', timezoneId: 'Asia/Ho_Chi_Minh' })).newPage();
  const ready = (name) => page.waitForSelector(`main[data-page="${name}"][aria-busy="false"]`, { timeout: 60000 });
  await page.goto(`${stack.base}/`);
  await page.fill('#login-user', 'clerk');
  await page.fill('#login-password', USERS.clerk.password);
  await page.click('form.login button[type=submit]');
  await ready('overview');
  await page.goto(`${stack.base}/#/overview?as_of=2025-06-30`);
  await page.waitForSelector('main h1:has-text("Bình Thuận")');
  await ready('overview');
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(outDir, 'overview.png') });
  await page.goto(`${stack.base}/#/fund?unit=68&year=2025`);
  await ready('fund');
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(outDir, 'fund.png') });
  await page.goto(`${stack.base}/#/entry`);
  await ready('entry');
  await page.fill('#f-unit', '22915');
  await page.fill('#f-amount', '1.500,50');
  await page.fill('#f-donor', 'Nguyễn Văn An');
  await page.click('#entry-submit');
  await page.waitForSelector('#f-amount[aria-invalid="true"]');
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(outDir, 'entry.png') });
} finally {
  await browser.close();
  await stack.stop();
  fs.rmSync(stack.dir, { recursive: true, force: true });
}
