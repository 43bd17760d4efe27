// Spreadsheet upload (#/import): the CSV goes to POST /api/v1/import, where
// the gateway reads it with the code of `povtrack import-csv` and
// povtrackd checks every event.  First a dry run that lists every row's
// error and stores nothing; "Store" appears only when no row has one, and
// then the file is stored all or nothing.
import { ApiError, post, withParams } from './api.js';
import { clear, h, table } from './dom.js';
import { num } from './fmt.js';
import { t } from './i18n.js';
import { noteStoredSeq } from './page-entry.js';

const TYPES = [['donation.received', 'type_donation'], ['donation.pledged', 'type_pledge'],
  ['fund.disbursed', 'type_disbursement']];

export async function render(main) {
  const file = h('input', { id: 'import-file', name: 'file', type: 'file', accept: '.csv,text/csv', required: true });
  const type = h('select', { id: 'import-type', name: 'type' },
    TYPES.map(([v, k]) => h('option', { value: v }, t(k))));
  const unit = h('input', { id: 'import-unit', name: 'unit', inputmode: 'numeric', autocomplete: 'off' });
  // Unticked, a row identical to an earlier one is the same donation
  // entered twice: sent once, with a note (the importer's rule).
  const dupRows = h('input', { id: 'import-dup-rows', name: 'allow_duplicate_rows', type: 'checkbox' });
  const check = h('button', { type: 'submit', id: 'import-check' }, t('import_check'));
  const result = h('div', { id: 'import-result', 'aria-live': 'polite' });
  let checked = null; // {text, rows, options} of a file with no error

  // The form's choices, read when the file is checked: "Store" stores what
  // was checked, whatever is changed after.
  const options = () => ({ unit: unit.value.trim(), type: type.value,
    allow_duplicate_rows: dupRows.checked ? 'true' : undefined });
  const send = async (dry, text, opts) => post(withParams('/api/v1/import', {
    dry_run: dry ? 'true' : undefined, ...opts,
  }), text, { type: 'text/csv; charset=utf-8', answerErrors: true });

  const showErrors = (body) => {
    const notice = h('p', { class: 'notice bad', role: 'alert', id: 'import-summary' },
      t('import_errors', { bad: num(body.errors.length), n: num(body.rows) }));
    return [notice, table(null, [t('row'), t('column'), t('field'), t('reason')],
      body.errors.map((e) => [String(e.row), e.column ?? '', e.field ?? '', e.reason]),
      { id: 'import-errors' })];
  };

  const store = async () => {
    const button = result.querySelector('#import-store');
    button.disabled = true;
    try {
      const r = await send(false, checked.text, checked.options);
      if (r.body.errors.length > 0) {
        clear(result).append(...showErrors(r.body));
        return;
      }
      noteStoredSeq(r.body.last_seq);
      clear(result).append(h('p', { class: 'notice ok', role: 'status', id: 'import-summary' },
        t('import_stored', { imported: num(r.body.imported), dup: num(r.body.duplicates) })));
    } catch (err) {
      clear(result).append(h('p', { class: 'notice bad', role: 'alert' }, err.message));
    }
  };

  const form = h('form', { class: 'card', id: 'import-form', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'import-file' }, t('import_file')), file),
    h('div', { class: 'field' }, h('label', { for: 'import-type' }, t('entry_type')), type),
    h('div', { class: 'field' }, h('label', { for: 'import-unit' }, t('import_unit')), unit),
    h('div', { class: 'field' }, h('label', { for: 'import-dup-rows' }, t('import_dup_rows')), dupRows),
    check);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = file.files?.[0];
    clear(result);
    checked = null;
    if (!f) {
      result.append(h('p', { class: 'notice bad', role: 'alert' }, t('import_file')));
      return;
    }
    check.disabled = true;
    check.textContent = t('import_checking');
    try {
      const text = await f.text();
      const opts = options();
      const r = await send(true, text, opts);
      const body = r.body;
      if (body.notes?.length)
        result.append(h('section', {}, h('h2', {}, t('notes')), h('ul', {}, body.notes.map((n) => h('li', {}, n)))));
      if (body.errors.length > 0) {
        result.prepend(...showErrors(body));
      } else {
        checked = { text, rows: body.rows, options: opts };
        result.prepend(h('p', { class: 'notice ok', role: 'status', id: 'import-summary' },
          t('import_ok', { n: num(body.rows) })),
        h('button', { type: 'button', id: 'import-store', onclick: store }, t('import_store', { n: num(body.rows) })));
      }
    } catch (err) {
      result.append(h('p', { class: 'notice bad', role: 'alert', id: 'import-summary' },
        err instanceof ApiError && err.field ? `${err.field}: ${err.message}` : err.message));
    } finally {
      check.disabled = false;
      check.textContent = t('import_check');
    }
  });
  clear(main).append(h('h1', {}, t('import_title')), h('p', {}, t('import_intro')), form, result);
  main.setAttribute('aria-busy', 'false');
}
