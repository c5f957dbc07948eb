// `npm run bench:load`: 200 concurrent SMTP sessions sending mail and 50 web users clicking
// through the panel, for BENCH_SECONDS (default 60), against a server in a child process
// (bench/server.mjs) on a temp data dir with the default argon2 parameters. /healthz is probed
// throughout. Prints one JSON object of figures on stdout; exits 1 on an error, a lost message or
// a failed health check. All traffic goes to 127.0.0.1. BENCH_SERVER=floor drives
// bench/floor-server.mjs instead: what the runtime alone costs for the same traffic. By default
// every client sends again as soon as it is answered (a closed loop: the server is saturated);
// BENCH_MESSAGES_PER_S and BENCH_WEB_REQUESTS_PER_S offer a rate instead.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { seedMailboxes, startServerProcess, type ServerProcess } from './server-process.js';
import { percentile } from './smtp-load.js';
import { Session } from './smtp-session.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const SMTP_SESSIONS = Number(process.env.BENCH_SMTP_SESSIONS ?? 200);
const WEB_USERS = Number(process.env.BENCH_WEB_USERS ?? 50);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 1);
/**
 * BENCH_MESSAGES_PER_S and BENCH_WEB_REQUESTS_PER_S: an offered load instead of a closed loop. The
 * SMTP sessions (the web users) then wait between messages (requests) so that together they offer
 * that rate, as people and their mail apps do. Unset, each client sends again as soon as it is
 * answered, and the server is saturated whatever its speed.
 */
const MESSAGES_PER_S = Number(process.env.BENCH_MESSAGES_PER_S ?? 0);
const WEB_REQUESTS_PER_S = Number(process.env.BENCH_WEB_REQUESTS_PER_S ?? 0);
/**
 * BENCH_WARMUP_SECONDS: load before the figures start (default 0). Every mailbox's first login is a
 * cold one, all in the first seconds: with an offered load, the web users' logins queue behind 200
 * of them for seconds, which a server that has been running does not see. Peak RSS and errors
 * count the whole run.
 */
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 0);
/** Messages per SMTP session before it QUITs and a new one (with a new AUTH) starts. */
const MESSAGES_PER_SESSION = 10;
/**
 * The SMTP clients come from 25 loopback addresses (8 sessions each), as clients of a real server
 * do: the lock-out logic admits at most SMTP_AUTH_MAX_FAILURES attempts in flight per address.
 */
const SOURCE_ADDRESSES = 25;
const DOMAIN = 'load.test';
const PASSWORD = 'Load#Bench-2024x';
/** A message from `from`, whose From: header must be the login's own address (mailpass checks it). */
const message = (from: string) => `Subject: load test\r\nFrom: <${from}>\r\n\r\n${'A line of a message body, as mail has.\r\n'.repeat(50)}`;
/** The relay run: sessions at once, and seconds per side (direct to the sink, then through mailpass). */
const RELAY_SESSIONS = Number(process.env.BENCH_RELAY_SESSIONS ?? 64);
const RELAY_SECONDS = Number(process.env.BENCH_RELAY_SECONDS ?? 20);

const note = (text: string) => process.stderr.write(`# ${text}\n`);
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'mailpass-load-'));
let server: ServerProcess | null = null;

/**
 * One client's share of an offered rate (`perSecond` for all `clients` together): resolves when
 * the client's next send is due, at most at `deadline`. A client answered late sends at once and
 * does not catch up with a burst. Without a rate, at once.
 */
function pacer(perSecond: number, clients: number, deadline: number): () => Promise<void> {
  if (!perSecond) return async () => {};
  const interval = (clients / perSecond) * 1000;
  // The clients start spread over one interval, not all at once.
  let due = performance.now() + Math.random() * interval;
  return async () => {
    const now = performance.now();
    const wait = Math.min(due, deadline) - now;
    due = Math.max(due, now) + interval;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  };
}

/** A web user: logs in with the form, then reads its account page and asks for generated passwords. */
async function webUser(base: string, email: string, deadline: number, stats: { requests: number; errors: number; latencies: number[]; loginLatencies: number[] }) {
  const pace = pacer(WEB_REQUESTS_PER_S, WEB_USERS, deadline);
  const timed = async (url: string, init: RequestInit, ok: number) => {
    await pace();
    const t = performance.now();
    // As browsers ask (Node's fetch alone asks for gzip and deflate only).
    const res = await fetch(url, { redirect: 'manual', ...init, headers: { 'accept-encoding': 'gzip, deflate, br', ...init.headers } });
    const text = await res.text();
    stats.latencies.push(performance.now() - t);
    // The login form's POST verifies the password (argon2, on the thread pool): also timed apart.
    if (init.method === 'POST' && url.endsWith('/login')) stats.loginLatencies.push(performance.now() - t);
    stats.requests++;
    if (res.status !== ok) throw new Error(`${init.method ?? 'GET'} ${url}: ${res.status}`);
    return { res, text };
  };
  while (performance.now() < deadline) {
    try {
      const form = await timed(`${base}/login`, {}, 200);
      let cookie = (form.res.headers.get('set-cookie') ?? '').split(';')[0]!;
      const csrf = /name="_csrf" value="([^"]+)"/.exec(form.text)![1]!;
      const login = await timed(
        `${base}/login`,
        { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ email, password: PASSWORD, _csrf: csrf }) },
        303,
      );
      cookie = (login.res.headers.get('set-cookie') ?? '').split(';')[0]!;
      for (let i = 0; i < 20 && performance.now() < deadline; i++) {
        const page = await timed(`${base}/account`, { headers: { cookie } }, 200);
        if (i % 5 === 4) {
          const token = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
          await timed(
            `${base}/account/generate`,
            { method: 'POST', headers: { cookie, accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: token }) },
            200,
          );
        }
      }
    } catch (err) {
      stats.errors++;
      note(`web: ${(err as Error).message}`);
    }
  }
}

async function main() {
  note(`seeding ${SMTP_SESSIONS + WEB_USERS} mailboxes`);
  // A server set up before, as one under traffic is: its first admin exists (see seedMailboxes).
  await seedMailboxes(dataDir, { domain: DOMAIN, count: SMTP_SESSIONS + WEB_USERS, password: PASSWORD, localPart: (i) => `user${i}`, adminPassword: 'Load#Root-2024x' });
  const env = {
    SMTP_MAX_CLIENTS: String(SMTP_SESSIONS + 50),
    // Every simulated client comes from loopback.
    SMTP_MAX_CLIENTS_PER_IP: String(SMTP_SESSIONS + 50),
    LOGIN_MAX_ATTEMPTS: '100000',
    LOGIN_MAX_ATTEMPTS_PER_IP: '100000',
    // BENCH_WORKERS=N: the server as WORKERS=N runs it (a primary and N processes on the same ports).
    WORKERS: String(WORKERS),
  };
  server = await startServerProcess(dataDir, env);
  const { ports } = server;
  const base = `http://127.0.0.1:${ports.http}`;
  const ca = readFileSync(path.join(dataDir, 'tls', 'cert.pem'));
  note(`${SMTP_SESSIONS} SMTP sessions and ${WEB_USERS} web users for ${SECONDS} s`);

  await server.ask('reset-eld');
  let start = performance.now();
  const deadline = start + (WARMUP_SECONDS + SECONDS) * 1000;
  /** Messages acknowledged before the figures started (the warm-up's). */
  let ackedBefore = 0;
  const acked: string[] = [];
  const smtpErrors: string[] = [];
  let smtpSessions = 0;
  const web = { requests: 0, errors: 0, latencies: [] as number[], loginLatencies: [] as number[] };
  const health: number[] = [];
  let healthFailures = 0;

  // /healthz from a process of its own (bench/probe.mjs), so that its times are the server's.
  const prober = spawn(process.execPath, [fileURLToPath(new URL('./probe.mjs', import.meta.url))], {
    env: { ...process.env, PROBE_URL: `${base}/healthz` },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const probed = new Promise<{ latencies: number[]; failures: number }>((resolve, reject) => {
    prober.once('message', (m: { latencies: number[]; failures: number }) => resolve(m));
    prober.once('exit', (code) => reject(new Error(`the /healthz probe exited with ${code}`)));
  });

  const warmedUp =
    WARMUP_SECONDS > 0
      ? new Promise<void>((resolve) =>
          setTimeout(async () => {
            ackedBefore = acked.length;
            smtpSessions = 0;
            web.requests = 0;
            web.latencies.length = 0;
            web.loginLatencies.length = 0;
            prober.send('reset');
            await server!.ask('reset-eld');
            start = performance.now();
            resolve();
          }, WARMUP_SECONDS * 1000),
        )
      : Promise.resolve();

  const smtpWorker = async (i: number) => {
    const login = `user${i}@${DOMAIN}`;
    const pace = pacer(MESSAGES_PER_S, SMTP_SESSIONS, deadline);
    let first = true;
    while (performance.now() < deadline) {
      let s: Session | null = null;
      try {
        // An offered load spreads the first logins too (mail apps do not all connect at once).
        if (first) await pace();
        first = false;
        s = await Session.open(ports.smtp, ca, login, PASSWORD, `127.0.1.${1 + (i % SOURCE_ADDRESSES)}`);
        smtpSessions++;
        for (let m = 0; m < MESSAGES_PER_SESSION && performance.now() < deadline; m++) {
          await pace();
          if (performance.now() < deadline) acked.push(await s.send(login, message(login)));
        }
        await s.quit();
      } catch (err) {
        smtpErrors.push((err as Error).message);
        s?.destroy();
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };

  await Promise.all([
    ...Array.from({ length: SMTP_SESSIONS }, (_, i) => smtpWorker(i)),
    ...Array.from({ length: WEB_USERS }, (_, i) => webUser(base, `user${SMTP_SESSIONS + i}@${DOMAIN}`, deadline, web)),
  ]);
  await warmedUp;
  const elapsed = (performance.now() - start) / 1000;
  const measured = acked.length - ackedBefore;
  prober.send('stop');
  const probe = await probed;
  health.push(...probe.latencies);
  healthFailures += probe.failures;
  const stats = await server.ask<{ eldP50Ms: number; eldP99Ms: number; eldMaxMs: number; loopBusyMs: number; loopUtilization: number; peakRssMb: number; atPeakMb: Record<string, number> }>('stats');

  const spool = new Set(readdirSync(path.join(dataDir, 'spool')).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)));
  const lost = acked.filter((id) => !spool.has(id)).length;
  health.sort((a, b) => a - b);
  web.latencies.sort((a, b) => a - b);
  web.loginLatencies.sort((a, b) => a - b);
  for (const e of [...new Set(smtpErrors)].slice(0, 5)) note(`smtp: ${e}`);
  const figures = {
    seconds: Math.round(elapsed * 10) / 10,
    warmup_seconds: WARMUP_SECONDS,
    server: process.env.BENCH_SERVER === 'floor' ? 'floor' : 'mailpass',
    server_workers: WORKERS,
    smtp_sessions_concurrent: SMTP_SESSIONS,
    // What was offered (BENCH_MESSAGES_PER_S, BENCH_WEB_REQUESTS_PER_S); "as answered" is the closed loop.
    offered: { messages_per_s: MESSAGES_PER_S || 'as answered', web_requests_per_s: WEB_REQUESTS_PER_S || 'as answered' },
    smtp_sessions_completed: smtpSessions,
    messages_accepted: measured,
    messages_per_s: Math.round((measured / elapsed) * 10) / 10,
    // Spooled and lost count the whole run, the warm-up's messages too.
    messages_spooled: spool.size,
    messages_lost: lost,
    smtp_errors: smtpErrors.length,
    web_users: WEB_USERS,
    web_requests: web.requests,
    web_requests_per_s: Math.round((web.requests / elapsed) * 10) / 10,
    web_p50_ms: Math.round(percentile(web.latencies, 50)),
    web_p99_ms: Math.round(percentile(web.latencies, 99)),
    web_login_p99_ms: Math.round(percentile(web.loginLatencies, 99)),
    web_errors: web.errors,
    healthz_checks: health.length,
    healthz_failures: healthFailures,
    healthz_p50_ms: Math.round(percentile(health, 50) * 10) / 10,
    healthz_p99_ms: Math.round(percentile(health, 99) * 10) / 10,
    // /healthz is timed from a process of its own (it still shares the machine's two cores with
    // the generator); the server's event-loop delay is measured inside the server process.
    server_event_loop_delay_p99_ms: Math.round(stats.eldP99Ms * 10) / 10,
    server_event_loop_delay_max_ms: Math.round(stats.eldMaxMs),
    // The share of the time the loop was busy: near 1, the server is saturated and every client waits.
    server_loop_utilization: Math.round(stats.loopUtilization * 100) / 100,
    // The loop's busy time per unit (a message or a web request), steadier than the delay on a shared machine: with one
    // kind of traffic alone (BENCH_WEB_USERS=0 or BENCH_SMTP_SESSIONS=0) it is that kind's cost.
    server_loop_busy_ms_per_unit: Math.round((stats.loopBusyMs / (measured + web.requests)) * 1000) / 1000,
    server_peak_rss_mb: Math.round(stats.peakRssMb),
    // At that peak: V8's heap (total, used), and what lives outside it (external, of it array buffers).
    server_memory_at_peak_mb: stats.atPeakMb,
  };
  await server.stop();
  server = null;
  // The relay run measures mailpass's relay: the floor (BENCH_SERVER=floor) has none.
  const relay: { relay_errors?: number } = process.env.BENCH_RELAY === '0' || process.env.BENCH_SERVER === 'floor' ? {} : await relayRun(env);
  process.stdout.write(`${JSON.stringify({ ...figures, ...relay })}\n`);
  return (relay.relay_errors ?? 0) === 0 && smtpErrors.length === 0 && web.errors === 0 && lost === 0 && spool.size === acked.length && healthFailures === 0 ? 0 : 1;
}

/** RELAY_SESSIONS sessions for `seconds` against `port`, each sending MESSAGES_PER_SESSION messages a session; messages acknowledged a second. */
async function drive(port: number, ca: Buffer, seconds: number) {
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  let acked = 0;
  const errors: string[] = [];
  await Promise.all(
    Array.from({ length: RELAY_SESSIONS }, async (_, i) => {
      const login = `user${i}@${DOMAIN}`;
      while (performance.now() < deadline) {
        let s: Session | null = null;
        try {
          s = await Session.open(port, ca, login, PASSWORD, `127.0.1.${1 + (i % SOURCE_ADDRESSES)}`);
          for (let m = 0; m < MESSAGES_PER_SESSION && performance.now() < deadline; m++) {
            await s.send(login, message(login));
            acked++;
          }
          await s.quit();
        } catch (err) {
          errors.push((err as Error).message);
          s?.destroy();
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }),
  );
  for (const e of [...new Set(errors)].slice(0, 3)) note(`relay run: ${e}`);
  return { perSecond: Math.round((acked / ((performance.now() - start) / 1000)) * 10) / 10, errors: errors.length };
}

/**
 * The relay run (SPEC §9): the same client sends to a sink directly (STARTTLS, AUTH, messages),
 * then through mailpass relaying to that sink; the ratio is what relaying costs. The sink runs in
 * a process of its own and uses the server's certificate, so one CA serves both sides.
 */
async function relayRun(env: Record<string, string>) {
  const ca = readFileSync(path.join(dataDir, 'tls', 'cert.pem'));
  const sink: ChildProcess = spawn(process.execPath, [fileURLToPath(new URL('./sink.mjs', import.meta.url))], {
    env: { ...process.env, SINK_TLS_DIR: path.join(dataDir, 'tls') },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  try {
    const { port } = await new Promise<{ port: number }>((resolve, reject) => {
      sink.once('message', (m: { port: number }) => resolve(m));
      sink.once('exit', (c) => reject(new Error(`sink exited with ${c}`)));
    });
    note(`relay run: ${RELAY_SESSIONS} sessions for ${RELAY_SECONDS} s straight to a sink, then through mailpass`);
    const direct = await drive(port, ca, RELAY_SECONDS);
    const relayEnv = { ...env, RELAY_URL: `smtp://127.0.0.1:${port}?tls=none`, ...(process.env.RELAY_MAX_CONNECTIONS ? { RELAY_MAX_CONNECTIONS: process.env.RELAY_MAX_CONNECTIONS } : {}) };
    server = await startServerProcess(dataDir, relayEnv);
    const relayed = await drive(server.ports.smtp, ca, RELAY_SECONDS);
    const stats = await server.ask<{ peakRssMb: number; eldP99Ms: number }>('stats');
    return {
      relay_sessions_concurrent: RELAY_SESSIONS,
      relay_direct_messages_per_s: direct.perSecond,
      relay_messages_per_s: relayed.perSecond,
      relay_ratio: Math.round((relayed.perSecond / direct.perSecond) * 100) / 100,
      relay_ratio_target: '>= 0.8',
      relay_errors: direct.errors + relayed.errors,
      relay_server_event_loop_delay_p99_ms: Math.round(stats.eldP99Ms * 10) / 10,
      relay_server_peak_rss_mb: Math.round(stats.peakRssMb),
    };
  } finally {
    sink.disconnect?.();
    sink.kill();
  }
}

let code = 1;
try {
  code = await main();
} finally {
  await (server as ServerProcess | null)?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(code);
