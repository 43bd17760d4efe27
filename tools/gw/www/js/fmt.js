// Numbers, money and dates as the dashboard shows them.  Vietnamese:
// 1.234.567 đ, 4,99%, dd/mm/yyyy; English: 1,234,567 VND, 4.99%,
// dd/mm/yyyy.  Dates are always in Vietnam time (UTC+7, no daylight
// saving), whatever the browser's zone.  Written out here rather than left
// to Intl so that every browser shows the same digits.
import { lang } from './i18n.js';

const VN_OFFSET = 7 * 3600;

function seps() {
  return lang() === 'vi' ? { group: '.', decimal: ',' } : { group: ',', decimal: '.' };
}

// n with `digits` decimals, grouped by thousands; '–' for null.
export function num(n, digits = 0) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  const { group, decimal } = seps();
  const neg = n < 0;
  const fixed = Math.abs(n).toFixed(digits);
  const [int, frac] = fixed.split('.');
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, group);
  const zero = Number(fixed) === 0;
  return (neg && !zero ? '−' : '') + grouped + (frac ? decimal + frac : '');
}

export function money(n) {
  if (n === null || n === undefined) return '–';
  return lang() === 'vi' ? `${num(n)} đ` : `${num(n)} VND`;
}

// A percentage with two decimals: 4,99%.
export function pct(n) {
  return n === null || n === undefined ? '–' : `${num(n, 2)}%`;
}

// Percentage points with a sign: +0,85 / −0,12.
export function pp(n) {
  if (n === null || n === undefined) return '–';
  return (n > 0 ? '+' : '') + num(n, 2);
}

// Calendar fields of unix seconds t in Vietnam.
export function vnParts(t) {
  const d = new Date((t + VN_OFFSET) * 1000);
  return { y: d.getUTCFullYear(), m: d.getUTCMonth() + 1, d: d.getUTCDate(),
           hh: d.getUTCHours(), mm: d.getUTCMinutes() };
}

const two = (n) => String(n).padStart(2, '0');

// dd/mm/yyyy in Vietnam time.
export function date(t) {
  if (t === null || t === undefined) return '–';
  const p = vnParts(t);
  return `${two(p.d)}/${two(p.m)}/${p.y}`;
}

// dd/mm/yyyy hh:mm in Vietnam time.
export function dateTime(t) {
  if (t === null || t === undefined) return '–';
  const p = vnParts(t);
  return `${two(p.d)}/${two(p.m)}/${p.y} ${two(p.hh)}:${two(p.mm)}`;
}

// Unix seconds of 00:00 on y-m-d in Vietnam (m 1-12; overflow rolls on).
export function vnMidnight(y, m, d) {
  return Date.UTC(y, m - 1, d) / 1000 - VN_OFFSET;
}

// "2025-06-30" (an <input type=date> value) as 00:00 that day in Vietnam.
export function fromIsoDate(s) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s ?? '');
  return m ? vnMidnight(Number(m[1]), Number(m[2]), Number(m[3])) : null;
}

// "07/12/2026" or "7/12/2026" (as typed) → "2026-12-07"; null when it is
// not a day of the calendar.
export function isoFromVn(s) {
  const m = /^\s*(\d{1,2})\/(\d{1,2})\/(\d{4})\s*$/.exec(s ?? '');
  if (!m) return null;
  const [d, mo, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  if (t.getUTCFullYear() !== y || t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d) return null;
  return `${y}-${two(mo)}-${two(d)}`;
}

// "2026-12-07" → "07/12/2026".
export function vnFromIso(s) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s ?? '');
  return m ? `${m[3]}/${m[2]}/${m[1]}` : s;
}

// Today's date in Vietnam as "YYYY-MM-DD".
export function todayIso(now = Date.now() / 1000) {
  const p = vnParts(now);
  return `${p.y}-${two(p.m)}-${two(p.d)}`;
}

// The end of year y (its last second) in Vietnam.
export function endOfYear(y) {
  return vnMidnight(y + 1, 1, 1) - 1;
}
