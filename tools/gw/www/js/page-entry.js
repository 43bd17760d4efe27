// Data entry for the clerk (#/entry): a donation received, a pledge or a
// disbursement as one event through POST /api/v1/events.  povtrackd
// checks it; each conflict it names (field and reason) is shown next to
// that field.  The event's id is kept until povtrackd has answered, so a
// resend after a lost answer is a duplicate, never a second donation.
// Beside the form: the fund of the unit as povtrackd counts it after the
// entry (read with min_seq), and the live alerts.
import { ApiError, post, query } from './api.js';
import { clear, h, stat } from './dom.js';
import { dateTime, isoFromVn, money, num, todayIso, vnFromIso, vnParts } from './fmt.js';
import { alertName, t } from './i18n.js';
import * as feed from './feed.js';

const SEQ_KEY = 'povtrack.last_seq';

// The sequence of the last event this browser stored (0: none).
export function lastStoredSeq() {
  return Number(sessionStorage.getItem(SEQ_KEY)) || 0;
}

// Remember that this browser stored events up to seq.
export function noteStoredSeq(seq) {
  if (seq > lastStoredSeq()) sessionStorage.setItem(SEQ_KEY, String(seq));
}

const TYPES = {
  'donation.received': { label: 'type_donation',
    fields: ['unit', 'at', 'amount', 'donor', 'donor_kind', 'level', 'pledge', 'in_kind'],
    required: ['unit', 'at', 'amount', 'donor', 'donor_kind', 'level'] },
  'donation.pledged': { label: 'type_pledge',
    fields: ['unit', 'at', 'pledge', 'amount', 'donor', 'due'],
    required: ['unit', 'at', 'pledge', 'amount', 'donor', 'due'] },
  'fund.disbursed': { label: 'type_disbursement',
    fields: ['unit', 'at', 'amount', 'purpose', 'level', 'household'],
    required: ['unit', 'at', 'amount', 'purpose', 'level'] },
};
const CHOICES = {
  donor_kind: ['person', 'organisation', 'business', 'anonymous'].map((v) => [v, `kind_${v}`]),
  level: ['central', 'province', 'district', 'commune'].map((v) => [v, `level_${v}`]),
  purpose: ['housing', 'livelihood', 'education', 'health', 'tet', 'disaster', 'other'].map((v) => [v, `purpose_${v}`]),
};
// Where each field goes in the event ("data.amount" is what povtrackd
// names in its conflicts).
const TOP_LEVEL = new Set(['unit', 'at', 'household']);

function newId(user) {
  const rand = crypto.getRandomValues(new Uint32Array(2));
  return `web-${user}-${Date.now().toString(36)}-${rand[0].toString(36)}${rand[1].toString(36)}`;
}

// "1.500.000", "1,500,000", "1500000 đ" → 1500000; anything else as
// typed, for povtrackd to name.
function amount(s) {
  const x = s.trim().replace(/\s*(đ|₫|vnd)$/i, '');
  if (/^\d{1,3}([.,\s]\d{3})+$/.test(x) || /^\d+$/.test(x)) return Number(x.replace(/[.,\s]/g, ''));
  return x;
}

function field(name, state, type) {
  const id = `f-${name}`;
  const required = TYPES[type].required.includes(name);
  const label = h('label', { for: id }, t(`field_${name}`), required ? ' *' : '');
  const error = h('p', { class: 'field-error', id: `${id}-error`, 'aria-live': 'polite' });
  let input;
  if (CHOICES[name]) {
    input = h('select', { id, name },
      required ? null : h('option', { value: '' }, '—'),
      CHOICES[name].map(([v, key]) => h('option', { value: v, selected: state[name] === v }, t(key))));
  } else if (name === 'in_kind') {
    input = h('input', { id, name, type: 'checkbox', checked: state[name] === true });
  } else {
    const isDate = name === 'at' || name === 'due';
    input = h('input', { id, name, type: 'text', value: state[name] ?? '',
      inputmode: name === 'amount' || name === 'unit' || isDate ? 'numeric' : null,
      placeholder: isDate ? 'dd/mm/yyyy' : null,
      autocomplete: 'off', 'aria-required': required ? 'true' : null });
  }
  input.setAttribute('aria-describedby', `${id}-error${name === 'unit' ? ` ${id}-help` : ''}`);
  return { name, input, error,
    node: h('div', { class: `field field-${name}` }, label, input,
      name === 'unit' ? h('span', { class: 'help', id: `${id}-help` }, t('field_unit_help')) : null, error) };
}

export async function render(main, params, ctx) {
  const user = ctx.session.user;
  const state = { type: 'donation.received', unit: '', at: vnFromIso(todayIso()), level: 'district',
    donor_kind: 'person', purpose: 'housing', id: newId(user) };
  const notice = h('div', { class: 'notice', id: 'entry-result', role: 'status', 'aria-live': 'polite' });
  const fundBox = h('div', { id: 'entry-fund' });
  const alertBox = h('ul', { class: 'alert-list', id: 'entry-alerts' });
  const form = h('form', { class: 'card', id: 'entry-form', novalidate: true });
  let fields = [];

  const draw = () => {
    fields = TYPES[state.type].fields.map((n) => field(n, state, state.type));
    const typeSelect = h('select', { id: 'f-type', name: 'type', onchange: () => {
      keep();
      state.type = typeSelect.value;
      draw();
    } }, Object.entries(TYPES).map(([v, d]) => h('option', { value: v, selected: v === state.type }, t(d.label))));
    clear(form).append(
      h('div', { class: 'field' }, h('label', { for: 'f-type' }, t('entry_type')), typeSelect),
      ...fields.map((f) => f.node),
      notice,
      h('button', { type: 'submit', id: 'entry-submit' }, t('submit')));
  };
  // What is typed survives a change of kind.
  const keep = () => {
    for (const f of fields) state[f.name] = f.input.type === 'checkbox' ? f.input.checked : f.input.value;
  };

  const showFund = async (unit, seq) => {
    if (!unit) return;
    const year = vnParts(Date.now() / 1000).y;
    try {
      const r = await query('fund', { unit, year, min_seq: seq || undefined });
      clear(fundBox).append(h('h2', {}, t('fund_now', { unit, year })),
        stat(t('received'), money(r.received), { id: 'entry-fund-received' }),
        stat(t('donations'), num(r.donations)),
        stat(t('disbursed'), money(r.disbursed)),
        h('p', {}, h('a', { href: `#/fund?unit=${encodeURIComponent(unit)}&year=${year}` }, t('nav_fund'))));
    } catch {
      clear(fundBox);
    }
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    keep();
    for (const f of fields) {
      f.error.textContent = '';
      f.input.removeAttribute('aria-invalid');
    }
    notice.className = 'notice';
    notice.textContent = '';
    const ev = { v: 1, id: state.id, type: state.type, data: {} };
    for (const f of fields) {
      const v = state[f.name];
      if (v === '' || v === undefined || (f.name === 'in_kind' && v === false)) continue;
      // Dates go as YYYY-MM-DD (00:00 in Vietnam for the gateway); what
      // is not a date goes as typed, for povtrackd to name.
      const value = f.name === 'amount' ? amount(v)
        : f.name === 'at' || f.name === 'due' ? isoFromVn(v) ?? v : v;
      if (TOP_LEVEL.has(f.name)) ev[f.name] = value;
      else ev.data[f.name] = value;
    }
    const button = form.querySelector('#entry-submit');
    button.disabled = true;
    button.textContent = t('sending');
    let answer;
    try {
      answer = await post('/api/v1/events', [ev], { answerErrors: true });
    } catch (err) {
      // No answer: keep the id, so that sending again cannot count twice.
      notice.className = 'notice bad';
      notice.textContent = err instanceof ApiError && err.status === 0 ? t('unreachable') : err.message;
      button.disabled = false;
      button.textContent = t('submit');
      return;
    }
    button.disabled = false;
    button.textContent = t('submit');
    const ack = answer.body.acks?.[0];
    state.id = newId(user);
    if (ack && ack.status !== 'rejected') {
      noteStoredSeq(ack.seq);
      notice.className = 'notice ok';
      notice.textContent = t(ack.status === 'ok' ? 'acked' : 'duplicate', { seq: num(ack.seq) });
      const unit = state.unit;
      for (const n of ['amount', 'donor', 'pledge', 'household']) state[n] = '';
      draw();
      form.querySelector('#f-amount')?.focus();
      showFund(unit, ack.seq);
      return;
    }
    let first = null;
    const general = [];
    for (const c of answer.body.conflicts ?? []) {
      const name = (c.field ?? '').replace(/^data\./, '');
      const f = fields.find((x) => x.name === name);
      if (f) {
        f.error.textContent = c.reason;
        f.input.setAttribute('aria-invalid', 'true');
        first ??= f.input;
      } else {
        general.push(c.field ? `${c.field}: ${c.reason}` : c.reason);
      }
    }
    notice.className = 'notice bad';
    notice.textContent = [t('fix_errors'), ...general].join(' ');
    (first ?? notice).focus?.();
  });

  const drawAlerts = () => {
    clear(alertBox).append(...feed.alerts().slice(-5).reverse().map((a) =>
      h('li', { class: a.severity, 'data-code': a.code },
        h('div', { class: 'alert-name' }, alertName(a.code)),
        h('div', {}, a.message),
        h('div', { class: 'alert-meta' }, `${a.code} · ${a.unit ?? ''} · ${dateTime(a.at)}`))));
  };
  draw();
  drawAlerts();
  const unsubscribe = feed.subscribe(() => {
    if (!main.isConnected) unsubscribe();
    else drawAlerts();
  });
  clear(main).append(
    h('h1', {}, t('entry_title')),
    h('p', {}, t('entry_intro')),
    h('div', { class: 'entry-grid' }, form,
      h('aside', { class: 'card' }, fundBox, h('h2', {}, t('live_feed')), alertBox)));
  main.setAttribute('aria-busy', 'false');
}
