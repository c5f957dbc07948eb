// `npm run bench`: one JSON object per figure on stdout, each beside its baseline from the same run.
// The server runs in a child process (bench/server.mjs, from the build) on a temp data dir seeded with 100,000
// mailboxes; all traffic goes to 127.0.0.1. Set BENCH_SECONDS to change each phase's length.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config.js';
import { createArgon2Hasher, defaultHashConcurrency } from '../src/core/hasher.js';
import { seedMailboxes, startServerProcess, type ServerProcess } from './server-process.js';
import { load, percentile, smtpSession } from './smtp-load.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const MAILBOXES = Number(process.env.BENCH_MAILBOXES ?? 100_000);
const DOMAIN = 'bench.test';
const PASSWORD = 'Bench#Pass-2024x';
const ADMIN_PASSWORD = 'Bench#Root-2024x';
const defaults = loadConfig({});

const figures: object[] = [];
function report(figure: string, value: number, unit: string, extra: Record<string, unknown> = {}) {
  const row = { figure, value: Math.round(value * 100) / 100, unit, ...extra };
  figures.push(row);
  process.stdout.write(`${JSON.stringify(row)}\n`);
}
const note = (text: string) => process.stderr.write(`# ${text}\n`);

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'mailpass-bench-'));
let server: ServerProcess | null = null;

async function seed() {
  note(`seeding ${MAILBOXES} mailboxes (one shared hash, default argon2 parameters)`);
  return seedMailboxes(dataDir, { domain: DOMAIN, count: MAILBOXES, password: PASSWORD, localPart: (i) => `user${String(i).padStart(6, '0')}` });
}

async function rawArgon2Rate(hash: string) {
  // The same limiter the server uses (one per core), so the ceiling is comparable.
  const hasher = createArgon2Hasher(defaults.argon2);
  const r = await load(16, Math.min(SECONDS, 8), async () => {
    const t = performance.now();
    if (!(await hasher.verify(hash, PASSWORD))) throw new Error('verify failed');
    return performance.now() - t;
  });
  return r;
}

/** Sequential GETs with a session cookie: p50 and p95 in ms. */
async function timeGets(url: string, cookie: string, n: number) {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const res = await fetch(url, { headers: { cookie }, redirect: 'manual' });
    await res.text();
    if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p95: percentile(times, 95) };
}

/** GET the form (cookie + CSRF token), POST it; returns the session cookie and the POST's time. */
async function formLogin(base: string, page: string, fields: Record<string, string>) {
  const get = await fetch(base + page);
  const cookie = (get.headers.get('set-cookie') ?? '').split(';')[0]!;
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await get.text())![1]!;
  const t = performance.now();
  const post = await fetch(base + page, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...fields, _csrf: csrf }),
  });
  const ms = performance.now() - t;
  if (post.status !== 303) throw new Error(`login ${page}: ${post.status}`);
  return { cookie: (post.headers.get('set-cookie') ?? '').split(';')[0]!, ms };
}

async function main() {
  const hash = await seed();
  const raw = await rawArgon2Rate(hash);
  note(`raw argon2: ${raw.rate.toFixed(1)}/s at the server's concurrency of ${defaultHashConcurrency()}`);
  server = await startServerProcess(dataDir, {
    INITIAL_ADMIN_PASSWORD: ADMIN_PASSWORD,
    SMTP_MAX_CLIENTS: '1000',
    LOGIN_MAX_ATTEMPTS_PER_IP: '100000',
    LOGIN_MAX_ATTEMPTS: '100000',
  });
  const { ports, ask } = server;
  const ca = readFileSync(path.join(dataDir, 'tls', 'cert.pem'));
  const login = (i: number) => `user${String(i % MAILBOXES).padStart(6, '0')}@${DOMAIN}`;

  report('argon2_verify_rate_raw', raw.rate, 'verifications/s', { params: defaults.argon2, concurrency: defaultHashConcurrency() });

  note('TLS sessions without AUTH, concurrency 64');
  const tlsOnly = await load(64, SECONDS, async () => {
    const t = performance.now();
    await smtpSession(ports.smtp, ca, null);
    return performance.now() - t;
  });
  report('smtp_tls_sessions_rate_c64', tlsOnly.rate, 'sessions/s', { errors: tlsOnly.errors, p50_ms: tlsOnly.p50Ms, p99_ms: tlsOnly.p99Ms });

  let offset = 0;
  for (const concurrency of [16, 64]) {
    note(`cold logins (distinct mailboxes), concurrency ${concurrency}`);
    const start = offset;
    const cpuBefore = (await ask<{ cpuMs: number }>('stats')).cpuMs;
    const clientBefore = process.cpuUsage();
    let refused = 0;
    const cold = await load(concurrency, SECONDS, async (i) => {
      const r = await smtpSession(ports.smtp, ca, { login: login(start + i), password: PASSWORD });
      if (r.authCode !== 235) refused++;
      return r.authMs;
    });
    offset += cold.ops + cold.errors + 10;
    const serverCpuMs = (await ask<{ cpuMs: number }>('stats')).cpuMs - cpuBefore;
    const clientCpu = process.cpuUsage(clientBefore);
    report(`smtp_cold_login_rate_c${concurrency}`, cold.rate, 'logins/s', {
      server_cpu_ms_per_login: serverCpuMs / cold.ops,
      // One verification's CPU time over the server's CPU time per login: how much of the server's work is argon2.
      argon2_share_of_server_cpu: (1000 / (raw.rate / defaultHashConcurrency())) / (serverCpuMs / cold.ops),
      // The load generator runs on the same cores: its CPU per login is taken from argon2's.
      client_cpu_ms_per_login: (clientCpu.user + clientCpu.system) / 1000 / cold.ops,
      baseline: 'argon2_verify_rate_raw',
      ratio: cold.rate / raw.rate,
      target: '>= 0.8 (issue 4), >= 0.9 (issue 7)',
      auth_p50_ms: cold.p50Ms,
      auth_p99_ms: cold.p99Ms,
      refused,
      errors: cold.errors,
    });
  }

  note('warm logins (same login and password, new TLS connection each), concurrency 64');
  await smtpSession(ports.smtp, ca, { login: login(0), password: PASSWORD });
  let warmRefused = 0;
  const warm = await load(64, SECONDS, async () => {
    const r = await smtpSession(ports.smtp, ca, { login: login(0), password: PASSWORD });
    if (r.authCode !== 235) warmRefused++;
    return r.authMs;
  });
  report('smtp_warm_login_rate_c64', warm.rate, 'logins/s', {
    baseline: 'smtp_tls_sessions_rate_c64',
    ratio: warm.rate / tlsOnly.rate,
    target: '>= 0.8',
    auth_p50_ms: warm.p50Ms,
    auth_p99_ms: warm.p99Ms,
    refused: warmRefused,
    errors: warm.errors,
  });
  const coldRow = figures.find((f) => (f as { figure: string }).figure === 'smtp_cold_login_rate_c64') as { value: number };
  report('smtp_warm_vs_cold_ratio', warm.rate / coldRow.value, 'x', { baseline: 'smtp_cold_login_rate_c64', target: '>= 5' });

  note('/healthz and the event loop while cold SMTP AUTH is saturated (concurrency 64)');
  await ask('reset-eld');
  const health: number[] = [];
  let probing = true;
  const probe = (async () => {
    while (probing) {
      const t = performance.now();
      const res = await fetch(`http://127.0.0.1:${ports.http}/healthz`);
      await res.text();
      health.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const satStart = offset;
  const sat = await load(64, SECONDS, async (i) => (await smtpSession(ports.smtp, ca, { login: login(satStart + i), password: PASSWORD })).authMs);
  offset += sat.ops + sat.errors + 10;
  probing = false;
  await probe;
  const stats = await ask<{ eldP99Ms: number; eldMaxMs: number }>('stats');
  health.sort((a, b) => a - b);
  report('healthz_p99_under_smtp_saturation', percentile(health, 99), 'ms', { samples: health.length, p50_ms: percentile(health, 50), target: '< 100', smtp_logins_per_s: sat.rate });
  report('event_loop_delay_p99_under_smtp_saturation', stats.eldP99Ms, 'ms', { max_ms: stats.eldMaxMs, target: '< 50' });

  note('web panel with 100,000 mailboxes');
  const base = `http://127.0.0.1:${ports.http}`;
  const admin = await formLogin(base, '/admin/login', { username: 'admin', password: ADMIN_PASSWORD });
  await timeGets(`${base}/healthz`, '', 50);
  const healthBase = await timeGets(`${base}/healthz`, '', 200);
  const page = await timeGets(`${base}/admin/domains/${DOMAIN}`, admin.cookie, 200);
  const search = await timeGets(`${base}/admin/domains/${DOMAIN}?q=user0999`, admin.cookie, 200);
  const deep = await timeGets(`${base}/admin/domains/${DOMAIN}?page=1900`, admin.cookie, 50);
  report('admin_domain_page_p95', page.p95, 'ms', { p50_ms: page.p50, mailboxes: MAILBOXES, baseline_healthz_p95_ms: healthBase.p95, target: '< 100' });
  report('admin_domain_search_p95', search.p95, 'ms', { p50_ms: search.p50, query: 'user0999', target: '< 100' });
  report('admin_domain_page_1900_p95', deep.p95, 'ms', { p50_ms: deep.p50 });
  const userLogins: number[] = [];
  for (let i = 0; i < 30; i++) userLogins.push((await formLogin(base, '/login', { email: login(90_000 + i), password: PASSWORD })).ms);
  userLogins.sort((a, b) => a - b);
  report('user_web_login_p50', percentile(userLogins, 50), 'ms', { p95_ms: percentile(userLogins, 95), baseline_argon2_verify_ms: 1000 / (raw.rate / defaultHashConcurrency()) });

  const db = path.join(dataDir, 'mailpass.db');
  const size = statSync(db).size + (existsSync(`${db}-wal`) ? statSync(`${db}-wal`).size : 0);
  report('database_size', size / 2 ** 20, 'MiB', { mailboxes: MAILBOXES, bytes_per_mailbox: Math.round(size / MAILBOXES) });
  const final = await ask<{ peakRssMb: number }>('stats');
  report('server_peak_rss', final.peakRssMb, 'MiB', { target: '< 300' });
}

try {
  await main();
} finally {
  await (server as ServerProcess | null)?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
