// The gateway's JSON API (/api/v1/, described in /api/v1/openapi.json) as
// the dashboard uses it: the session cookie goes along on its own; every
// POST carries the session's CSRF token; an error becomes an ApiError with
// the HTTP status and the field the gateway names; 429 and 503 are retried
// after their Retry-After.
export class ApiError extends Error {
  constructor(status, message, field, body) {
    super(message);
    this.status = status;
    this.field = field ?? null;
    this.body = body ?? null;
  }
}

let csrf = null;

export function setCsrf(token) {
  csrf = token;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A request; resolves to the parsed JSON of a 2xx answer.  With
// `answerErrors`, a 4xx whose body is JSON without an "error" (an import
// summary) resolves too, as {status, body}.
export async function request(method, path, { body, type, answerErrors = false } = {}) {
  for (let attempt = 0; ; attempt++) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = type ?? 'application/json';
    if (method === 'POST' && csrf) headers['X-CSRF-Token'] = csrf;
    let resp;
    try {
      resp = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined
          : typeof body === 'string' ? body : JSON.stringify(body),
        credentials: 'same-origin',
      });
    } catch (e) {
      throw new ApiError(0, e.message);
    }
    const text = await resp.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    const retry = Number(resp.headers.get('Retry-After'));
    // Over the rate limit, or povtrackd restarting its plugins: wait as
    // told (up to half a minute) and ask again, a few times.
    if ((resp.status === 429 || resp.status === 503) && retry > 0 && retry <= 30 && attempt < 3) {
      await sleep(retry * 1000);
      continue;
    }
    if (resp.ok) return answerErrors ? { status: resp.status, body: json } : json;
    if (answerErrors && json && !json.error) return { status: resp.status, body: json };
    const err = json?.error;
    throw new ApiError(resp.status, err?.message ?? `HTTP ${resp.status}`, err?.field, json);
  }
}

export const get = (path, params) => request('GET', withParams(path, params));
export const post = (path, body, opts) => request('POST', path, { body, ...opts });

export function withParams(path, params) {
  if (!params) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

// A plugin's answer (its "result").
export async function query(plugin, params) {
  const r = await get(`/api/v1/query/${encodeURIComponent(plugin)}`, params);
  return r.result;
}

export async function units(parent, at) {
  const r = await get('/api/v1/units', { parent, at });
  return r.units;
}

// Run fn over items, at most `width` at a time, results in order.
export async function pool(items, width, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return out;
}

// Every stored alert after `since` passing the filters (code prefix,
// severity, unit), page by page; {alerts, next_since}: the stream goes on
// from next_since.
export async function listAlerts(filters = {}, since = 0) {
  const out = [];
  for (;;) {
    const page = await get('/api/v1/alerts', { ...filters, since, limit: 1000 });
    out.push(...page.alerts);
    if (page.next_since <= since) return { alerts: out, next_since: since };
    since = page.next_since;
  }
}
