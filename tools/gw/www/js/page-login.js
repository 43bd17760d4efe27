// The login page: POST /api/v1/login sets the session cookie (HttpOnly,
// SameSite=Strict) and answers the user, their language and the CSRF token.
import { ApiError, post } from './api.js';
import { clear, h } from './dom.js';
import { lang, setLang, t } from './i18n.js';

export function renderLogin(root, onLogin) {
  document.title = `${t('login_title')} — ${t('app_name')}`;
  const message = h('p', { id: 'login-error', class: 'field-error', role: 'alert' });
  const user = h('input', { id: 'login-user', name: 'user', autocomplete: 'username', required: true,
    autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { id: 'login-password', name: 'password', type: 'password',
    autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit' }, t('login_submit'));
  const form = h('form', { class: 'login', novalidate: true, 'aria-describedby': 'login-error' },
    h('label', { for: 'login-user' }, t('login_user')), user,
    h('label', { for: 'login-password' }, t('login_password')), password,
    message, submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    message.textContent = '';
    submit.disabled = true;
    submit.textContent = t('login_busy');
    try {
      const s = await post('/api/v1/login', { user: user.value, password: password.value });
      onLogin(s);
    } catch (err) {
      message.textContent = err instanceof ApiError && (err.status === 401 || err.status === 400)
        ? t('login_wrong') : err instanceof ApiError && err.status === 0 ? t('unreachable') : err.message;
      submit.disabled = false;
      submit.textContent = t('login_submit');
      password.focus();
    }
  });
  clear(root).append(
    h('header', { class: 'top' },
      h('div', { class: 'brand' }, t('app_name')),
      h('div', { class: 'who' },
        h('button', { type: 'button', id: 'lang-switch', lang: lang() === 'vi' ? 'en' : 'vi',
          'aria-label': t('lang_switch_label'),
          onclick: () => { setLang(lang() === 'vi' ? 'en' : 'vi'); renderLogin(root, onLogin); } },
        t('lang_switch')))),
    h('main', { id: 'main', class: 'narrow', 'data-page': 'login', 'aria-busy': 'false' },
      h('h1', {}, t('login_title')),
      h('p', {}, t('login_intro')),
      form));
  user.focus();
}
