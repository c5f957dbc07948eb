import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { aDomain, aMailbox, strongPassword } from '../helpers/builders.js';
import { ADMIN_PASSWORD } from '../helpers/env.js';
import { csrfOf, startTestServer, type TestServer } from '../helpers/server.js';
import { RawSmtp } from '../helpers/smtp-client.js';

// Password guessing with the default limits (SPEC §4.1, §6): one login attacked with 200
// passwords, one password sprayed over 100 logins, over SMTP and over the web. The attacker is
// stopped (454 4.7.0 / 429), others keep logging in, and every attempt is in the audit log.

let server: TestServer;
let domain: string;
const SMTP_MAX = 10;
const WEB_MAX_PER_LOGIN = 10;
const WEB_MAX_PER_IP = 20;

before(async () => {
  server = await startTestServer({}, { smtp: true });
  assert.equal(server.services.config.smtp.maxFailures, SMTP_MAX);
  assert.equal(server.services.config.login.maxAttempts, WEB_MAX_PER_LOGIN);
  assert.equal(server.services.config.login.maxAttemptsPerIp, WEB_MAX_PER_IP);
  domain = (await aDomain(server.services)).name;
});
after(() => server.stop());

/** Mailboxes straight into the store with one shared hash: a hundred accounts without a hundred policy checks. */
async function manyMailboxes(n: number, password: string) {
  const hash = await server.adapters.hasher.hash(password);
  const d = (await server.adapters.stores.domains.findDomainByName(domain))!;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const local = `spray${i}x${Math.random().toString(36).slice(2, 6)}`;
    const a = await server.adapters.stores.accounts.insertAccount({ kind: 'mailbox', domainId: d.id, login: `${local}@${domain}`, localPart: local, name: '', guid: null, passwordHash: hash, now: server.services.clock.now() }, { at: server.services.clock.now(), actor: 'test', action: 'mailbox.create', target: `${local}@${domain}`, ip: null });
    out.push(a.login);
  }
  return out;
}

/** One SMTP AUTH over implicit TLS from a loopback source address; the reply's code. */
async function smtpAuth(localAddress: string, login: string, password: string): Promise<number> {
  const c = await RawSmtp.ready(server.smtpPorts.smtps, { implicitTls: true, dataDir: server.dataDir, localAddress });
  try {
    const r = await c.authPlain(login, password);
    if (r.code === 454) assert.equal(r.text, '454 4.7.0 Too many failed authentication attempts, try again later');
    if (r.code === 535) assert.equal(r.text, '535 5.7.8 Authentication credentials invalid');
    return r.code;
  } finally {
    c.close();
  }
}

/** Runs `task` for each item, `width` at a time. */
async function inParallel<T, R>(items: T[], width: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await task(items[i]!);
      }
    }),
  );
  return out;
}

const tally = (codes: number[]) => codes.reduce<Record<number, number>>((t, c) => ((t[c] = (t[c] ?? 0) + 1), t), {});

async function auditRows(where: string, ...params: unknown[]): Promise<number> {
  return (await server.query<{ n: number }>(`SELECT count(*) AS n FROM audit_log WHERE ${where}`, ...params))[0]!.n;
}

/** SMTP audit entries are written in batches about once a second: wait for them, bounded. */
async function eventually(count: () => Promise<number>, expected: number, ms = 5000) {
  const deadline = Date.now() + ms;
  while ((await count()) < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return count();
}

describe('SMTP', () => {
  test('200 wrong passwords for one login: 10 × 535, then 454 4.7.0; the owner and other accounts still log in; all 200 audited', async () => {
    const victim = await aMailbox(server.services, { domain });
    const other = await aMailbox(server.services, { domain });
    // The owner's usual client, before the attack.
    assert.equal(await smtpAuth('127.0.0.2', victim.address, victim.password), 235);

    const guesses = Array.from({ length: 200 }, (_, i) => `Guess#${i}-Wrong`);
    const codes = await inParallel(guesses, 8, (pw) => smtpAuth('127.0.0.10', victim.address, pw));
    assert.deepEqual(tally(codes), { 535: SMTP_MAX, 454: 200 - SMTP_MAX });

    // The login is locked for strangers, even with its right password...
    assert.equal(await smtpAuth('127.0.0.11', victim.address, victim.password), 454);
    // ...but not for the client it logged in from before, nor for other accounts elsewhere.
    assert.equal(await smtpAuth('127.0.0.2', victim.address, victim.password), 235);
    assert.equal(await smtpAuth('127.0.0.11', other.address, other.password), 235);
    // The attacker's address is locked out of every login.
    assert.equal(await smtpAuth('127.0.0.10', other.address, other.password), 454);

    const fromAttacker = () => auditRows("target = ? AND ip = '127.0.0.10' AND action IN ('login.failure', 'login.failure-limited')", victim.address);
    assert.equal(await eventually(fromAttacker, 200), 200, 'not every attempt was audited');
    assert.equal(await auditRows("target = ? AND ip = '127.0.0.10' AND action = 'login.failure'", victim.address), SMTP_MAX);
  });

  test('one password sprayed over 100 logins: 10 × 535, then 454 for that client; another client still logs in; all 100 audited', async () => {
    const logins = await manyMailboxes(100, strongPassword('S'));
    const codes = await inParallel(logins, 8, (login) => smtpAuth('127.0.0.20', login, 'Spring#2024-Spray'));
    assert.deepEqual(tally(codes), { 535: SMTP_MAX, 454: 100 - SMTP_MAX });
    assert.equal(await smtpAuth('127.0.0.20', logins[0]!, strongPassword('S')), 454);
    assert.equal(await smtpAuth('127.0.0.21', logins[1]!, strongPassword('S')), 235);
    const sprayed = () => auditRows("ip = '127.0.0.20' AND action IN ('login.failure', 'login.failure-limited')");
    assert.equal(await eventually(sprayed, 101), 101, 'not every attempt was audited');
  });
});

interface WebResult {
  status: number;
  retryAfter: string | undefined;
}

function httpRequest(localAddress: string, method: string, path: string, headers: Record<string, string>, body?: string) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: server.httpPort, localAddress, method, path, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A login form posted from a loopback source address, as a browser there would: GET the form, POST it. */
async function webLogin(localAddress: string, page: '/login' | '/admin/login', fields: Record<string, string>): Promise<WebResult> {
  const form = await httpRequest(localAddress, 'GET', page, {});
  const cookie = (form.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; ');
  const body = new URLSearchParams({ ...fields, _csrf: csrfOf(form.text) }).toString();
  const res = await httpRequest(localAddress, 'POST', page, { cookie, 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)) }, body);
  return { status: res.status, retryAfter: res.headers['retry-after'] as string | undefined };
}

describe('web', () => {
  test('wrong passwords for one address: 10 × 401, then 429 with Retry-After; another mailbox elsewhere logs in; all audited', async () => {
    const victim = await aMailbox(server.services, { domain });
    const other = await aMailbox(server.services, { domain });
    const results: WebResult[] = [];
    for (let i = 0; i < 15; i++) results.push(await webLogin('127.0.0.30', '/login', { email: victim.address, password: `Guess#${i}-Wrong` }));
    assert.deepEqual(tally(results.map((r) => r.status)), { 401: WEB_MAX_PER_LOGIN, 429: 15 - WEB_MAX_PER_LOGIN });
    for (const r of results.filter((r) => r.status === 429)) assert.ok(Number(r.retryAfter) > 0, 'Retry-After');
    assert.equal((await webLogin('127.0.0.31', '/login', { email: other.address, password: other.password })).status, 303);
    const audited = await auditRows("target = ? AND ip = '127.0.0.30' AND action LIKE 'login.failure%'", victim.address);
    assert.equal(audited, 15, 'not every attempt was audited');
  });

  test('one password sprayed over many addresses: 20 × 401 per client address, then 429; another client logs in; all audited', async () => {
    const logins = await manyMailboxes(WEB_MAX_PER_IP + 5, strongPassword('W'));
    const codes: number[] = [];
    for (const login of logins) codes.push((await webLogin('127.0.0.40', '/login', { email: login, password: 'Spring#2024-Spray' })).status);
    assert.deepEqual(tally(codes), { 401: WEB_MAX_PER_IP, 429: 5 });
    assert.equal((await webLogin('127.0.0.41', '/login', { email: logins[0]!, password: strongPassword('W') })).status, 303);
    assert.equal(await auditRows("ip = '127.0.0.40' AND action LIKE 'login.failure%'"), WEB_MAX_PER_IP + 5, 'not every attempt was audited');
  });

  test('admin login: 10 × 401 for one username, then 429; all audited', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 12; i++) codes.push((await webLogin('127.0.0.50', '/admin/login', { username: 'admin', password: `Guess#${i}-Wrong` })).status);
    assert.deepEqual(tally(codes), { 401: WEB_MAX_PER_LOGIN, 429: 2 });
    assert.equal(await auditRows("target = 'admin' AND ip = '127.0.0.50' AND action LIKE 'admin-login.failure%'"), 12, 'not every attempt was audited');
    // The limit is per login name: from a browser that never logged in as admin, the right password is refused too until the window ends (SECURITY.md).
    assert.equal((await webLogin('127.0.0.51', '/admin/login', { username: 'admin', password: ADMIN_PASSWORD })).status, 429);
  });
});
