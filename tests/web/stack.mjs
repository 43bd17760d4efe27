// The real parts the browser tests run against: povtrackd with CURVE and a
// publisher registry, a small sample province (povtrack-sample, scale
// 0.02, and the July 2025 reorganisation of demo.sh), and povtrack-gw on
// 127.0.0.1 at a free port, all in a fresh temporary directory.
//
// Synchronised on handshakes: `povtrack ping --wait` for the daemon, the
// gateway's "ready" log line, and `min_seq` queries for the load.
//
//   node stack.mjs BIN_DIR      starts it, prints the address and logins,
//                               and serves until Ctrl-C (for looking at
//                               the dashboard by hand; SCALE=1.0 for the
//                               demo's size), then removes its directory
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
export const unitsFile = path.join(here, 'units-binh-thuan-2025-03-01.csv');
const reformFile = path.join(root, 'tools/scripts/demo-reform-binh-thuan.csv');

// The users of the tests: the clerk may do everything (as demo.sh's demo
// user); the viewer may read poverty and fund figures and alerts, but
// neither publish nor read the leave-no-one-behind lists (standard).
export const USERS = {
  clerk: { password: 'clerk-password-1', lang: 'vi',
           rights: 'publish = *\nunits = *\nquery = *\nalerts = yes\n' },
  viewer: { password: 'viewer-password-1', lang: 'vi',
            rights: 'query = poverty fund deadlines relocation\nalerts = yes\n' },
};

function run(bin, args, opts = {}) {
  const r = spawnSync(bin, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0)
    throw new Error(`${path.basename(bin)} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Resolve when file holds text (the process writing it is alive).
async function waitForLog(file, text, child, ms = 60000) {
  const t0 = Date.now();
  for (;;) {
    const log = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    if (log.includes(text)) return;
    if (child.exitCode !== null)
      throw new Error(`${path.basename(file)}: exited ${child.exitCode} before "${text}":\n${log}`);
    if (Date.now() - t0 > ms)
      throw new Error(`${path.basename(file)}: no "${text}" after ${ms} ms:\n${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stop(child) {
  if (!child || child.exitCode !== null) return Promise.resolve(child?.exitCode);
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

export async function startStack(binDir, { scale = '0.02' } = {}) {
  const bin = (n) => path.join(binDir, n);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'povtrack-web-'));
  const keys = path.join(dir, 'keys');
  fs.mkdirSync(keys, { mode: 0o700 });
  const names = ['server', 'loader', 'metrics', ...Object.keys(USERS)];
  for (const k of names) run(bin('povtrack'), ['keygen', path.join(keys, k)]);
  const pub = (k) => /public-key = (\S+)/.exec(fs.readFileSync(path.join(keys, `${k}.pub`), 'utf8'))[1];
  let registry = `[loader]\nkey = ${pub('loader')}\npublish = *\nunits = *\nquery = *\nalerts = yes\n\n`;
  registry += `[metrics]\nkey = ${pub('metrics')}\nquery = deadlines\n\n`;
  for (const [u, d] of Object.entries(USERS))
    registry += `[${u}]\nkey = ${pub(u)}\n${d.rights}\n`;
  fs.writeFileSync(path.join(dir, 'publishers.ini'), registry);
  fs.writeFileSync(path.join(dir, 'povtrackd.ini'),
                   '[security]\ncurve_key = keys/server.key\nregistry = publishers.ini\n');
  const env = {
    ...process.env,
    POVTRACK_INGEST: `ipc://${dir}/ingest.sock`,
    POVTRACK_QUERY: `ipc://${dir}/query.sock`,
    POVTRACK_ALERTS: `ipc://${dir}/alerts.sock`,
    POVTRACK_SERVER_KEY: path.join(keys, 'server.pub'),
    POVTRACK_KEY: path.join(keys, 'loader.key'),
  };
  const daemonLog = fs.openSync(path.join(dir, 'povtrackd.log'), 'a');
  const daemon = spawn(bin('povtrackd'), ['-c', path.join(dir, 'povtrackd.ini'),
    '--data-dir', path.join(dir, 'db'), '--ingest', env.POVTRACK_INGEST,
    '--query', env.POVTRACK_QUERY, '--alerts', env.POVTRACK_ALERTS],
  { env, stdio: ['ignore', 'ignore', daemonLog] });
  const stack = { dir, daemon, gw: null, env, bin };
  stack.stop = async () => {
    const gwCode = await stop(stack.gw);
    const dCode = await stop(daemon);
    return { gw: gwCode, daemon: dCode };
  };
  try {
    run(bin('povtrack'), ['ping', '--wait', '--timeout', '30000'], { env });
    // The sample province, then the reorganisation (demo.sh's files).
    const sample = run(bin('povtrack-sample'), ['--units', unitsFile, '--seed', '2021',
      '--scale', scale, '--now', '1767200000'], { env, maxBuffer: 1 << 28 });
    run(bin('povtrack'), ['send', '--batch', '1000'], { env, input: sample, maxBuffer: 1 << 26 });
    const reform = run(bin('povtrack'), ['unitmap', reformFile], { env });
    run(bin('povtrack'), ['send'], { env, input: reform });

    const port = await freePort();
    let users = '';
    for (const [u, d] of Object.entries(USERS)) {
      const hash = run(bin('povtrack-gw'), ['--hash-password'], { input: `${d.password}\n` }).trim();
      users += `[user.${u}]\npassword = ${hash}\nkey = keys/${u}.key\nlang = ${d.lang}\n\n`;
    }
    fs.writeFileSync(path.join(dir, 'gw.ini'),
      `[gateway]\nlisten = 127.0.0.1:${port}\ndaemon_ingest = ${env.POVTRACK_INGEST}\n` +
      `daemon_query = ${env.POVTRACK_QUERY}\ndaemon_alerts = ${env.POVTRACK_ALERTS}\n` +
      `server_key = keys/server.pub\nmetrics_key = keys/metrics.key\n` +
      `requests_per_minute = 100000\n\n${users}`);
    const gwLogFile = path.join(dir, 'povtrack-gw.log');
    const gwLog = fs.openSync(gwLogFile, 'a');
    stack.gw = spawn(bin('povtrack-gw'), ['-c', path.join(dir, 'gw.ini')],
                     { env, stdio: ['ignore', 'ignore', gwLog] });
    await waitForLog(gwLogFile, 'ready', stack.gw);
    stack.base = `http://127.0.0.1:${port}`;
    return stack;
  } catch (e) {
    await stack.stop();
    throw e;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const binDir = process.argv[2] ?? path.join(root, 'build/bin');
  const s = await startStack(binDir, { scale: process.env.SCALE ?? '0.02' });
  console.log(`dashboard: ${s.base}/  data: ${s.dir}`);
  for (const [u, d] of Object.entries(USERS)) console.log(`  user ${u}, password ${d.password}`);
  const end = async () => {
    console.log(await s.stop());
    fs.rmSync(s.dir, { recursive: true, force: true });
    process.exit(0);
  };
  process.on('SIGINT', end);
  process.on('SIGTERM', end);
}
