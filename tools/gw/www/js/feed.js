// The live alert feed: the stored alerts first (GET /api/v1/alerts, page by
// page), then the stream (GET /api/v1/alerts/stream, Server-Sent Events)
// from exactly where the list ended, so nothing is missed or shown twice;
// the browser's EventSource reconnects by itself with the last event id.
// One feed per logged-in page; the pages subscribe to it.
import { listAlerts } from './api.js';

const KEEP = 500; // alerts kept in memory, newest last

// status: 'connecting' until the stream opens, 'open', 'retrying' after
// it dropped (EventSource tries again by itself), 'closed' when the
// gateway refused it (no alerts right: EventSource gives up).
const state = { alerts: [], status: 'connecting', source: null, listeners: new Set(), started: false };

export function alerts() {
  return state.alerts;
}

export function status() {
  return state.status;
}

// fn() after each change (new alert or connection state); returns the
// unsubscribe function.
export function subscribe(fn) {
  state.listeners.add(fn);
  return () => state.listeners.delete(fn);
}

function changed(alert) {
  for (const fn of state.listeners) fn(alert);
}

function keep(list) {
  state.alerts.push(...list);
  if (state.alerts.length > KEEP) state.alerts.splice(0, state.alerts.length - KEEP);
}

export async function start() {
  if (state.started) return;
  state.started = true;
  let since = 0;
  try {
    const stored = await listAlerts();
    keep(stored.alerts);
    since = stored.next_since;
  } catch {
    // No right to read alerts, or the daemon away: the stream says which.
  }
  const src = new EventSource(`/api/v1/alerts/stream?since=${since}`);
  state.source = src;
  src.addEventListener('open', () => {
    state.status = 'open';
    changed(null);
  });
  src.addEventListener('error', () => {
    state.status = src.readyState === EventSource.CLOSED ? 'closed' : 'retrying';
    changed(null);
  });
  src.addEventListener('alert', (ev) => {
    let a;
    try {
      a = JSON.parse(ev.data);
    } catch {
      return;
    }
    keep([a]);
    changed(a);
  });
}

export function stop() {
  state.source?.close();
  state.source = null;
  state.started = false;
  state.status = 'connecting';
  state.alerts = [];
}
