import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import request from 'supertest';
import { UnavailableError } from '../../src/core/errors.js';
import { BUSY_TIMEOUT_MS } from '../../src/store/sqlite/db.js';
import { aToken, apiClient } from '../helpers/api.js';
import { aDomain, aMailbox, anAdmin } from '../helpers/builders.js';
import { capturedLog } from '../helpers/log-lines.js';
import { RawSmtp } from '../helpers/smtp-client.js';
import { csrfOf, loginAsAdmin, loginAsMailbox, startTestServer, type Agent, type TestServer } from '../helpers/server.js';

// Storage faults on the server's own database: a lock held by another connection, a database
// that cannot be written (PRAGMA query_only on the server's connection, as a read-only file or
// mount would behave; root ignores file modes, so chmod cannot simulate it) and a full disk
// (PRAGMA max_page_count pinned at the current size, so SQLite answers SQLITE_FULL).
// Writes must answer 503 and leave nothing half-written; the process stays up; it recovers.

const { log, lines: logLines } = capturedLog('warn');

let server: TestServer;
let domain: string;
let api: ReturnType<typeof apiClient>;
let adminAgent: Agent;
let serial = 0;
const nextPassword = () => `Tm4!qRz8#Lw-${++serial}`;

before(async () => {
  server = await startTestServer({ API_RATE_LIMIT: '100000', LOGIN_MAX_ATTEMPTS: '100000', LOGIN_MAX_ATTEMPTS_PER_IP: '100000' }, { smtp: true, log });
  domain = (await aDomain(server.services)).name;
  api = apiClient(server.url, (await aToken(server.services, 'admin')).plaintext);
  // The token's first use writes its last-used time; later uses within a minute only read.
  assert.equal((await api.get('/domains')).status, 200);
  const admin = await anAdmin(server.services, { domains: [domain] });
  adminAgent = await loginAsAdmin(server.url, admin.username, admin.password);
});
after(() => server.stop());
afterEach(() => {
  const errors = logLines.filter((l) => l.level >= 50);
  assert.deepEqual(errors, [], 'a storage fault was logged as an error (a 500), not as the store being unavailable');
});

/** What a password write touches: the account, its owner's web sessions and the audit log. */
function footprint(address: string) {
  const account = server.db.prepare('SELECT id, password_hash, password_version, updated_at FROM accounts WHERE login = ?').get(address) as { id: number };
  const sessions = server.db.prepare('SELECT count(*) AS n FROM sessions WHERE owner = ?').get(`mailbox:${account.id}`);
  const audit = server.db.prepare('SELECT count(*) AS n FROM audit_log').get();
  return { account, sessions, audit };
}

/** The raw session cookie value a supertest agent holds. */
function sessionCookie(agent: Agent): string {
  const jar = (agent as unknown as { jar: { getCookie(name: string, access: object): { value: string } | undefined } }).jar;
  const cookie = jar.getCookie('mailpass.sid', { domain: '127.0.0.1', path: '/', secure: false, script: false });
  assert.ok(cookie, 'no session cookie');
  return cookie.value;
}

const FAILED = { success: false, message: 'Service temporarily unavailable.' };

interface Subject {
  address: string;
  password: string;
  user: Agent;
  /** The CSRF token of the user's /account form, read before the fault (reading a page may need a write then). */
  userCsrf: string;
  adminCsrf: string;
}

async function aSubject(): Promise<Subject> {
  const { address, password } = await aMailbox(server.services, { domain });
  const user = await loginAsMailbox(server.url, address, password);
  const userCsrf = csrfOf((await user.get('/account')).text);
  const adminCsrf = csrfOf((await adminAgent.get(`/admin/domains/${domain}/mailboxes/${address}`)).text);
  return { address, password, user, userCsrf, adminCsrf };
}

const apiChange = (s: Subject, password: string) => api.put(`/domains/${domain}/mailboxes/${s.address}/password`, { password });
const adminReset = (s: Subject, password: string) =>
  adminAgent.post(`/admin/domains/${domain}/mailboxes/${s.address}/password`).type('form').send({ password, _csrf: s.adminCsrf });
const ownChange = (s: Subject, password: string) =>
  s.user.post('/account').type('form').send({ current_password: s.password, new_password: password, confirm_password: password, _csrf: s.userCsrf });

/** Every way to change a password answers 503 and leaves the account, its sessions and the audit log as they were. */
async function assertWritesRefused(s: Subject) {
  const before = footprint(s.address);
  const viaApi = await apiChange(s, nextPassword());
  assert.equal(viaApi.status, 503);
  assert.deepEqual(viaApi.body, FAILED);
  assert.ok(Number(viaApi.headers['retry-after']) > 0, 'Retry-After');
  assert.deepEqual(footprint(s.address), before, 'API change half-written');

  const viaAdmin = await adminReset(s, nextPassword());
  assert.equal(viaAdmin.status, 503);
  assert.match(viaAdmin.text, /Service temporarily unavailable\./);
  assert.ok(Number(viaAdmin.headers['retry-after']) > 0, 'Retry-After');
  assert.deepEqual(footprint(s.address), before, 'admin reset half-written');

  const viaOwner = await ownChange(s, nextPassword());
  assert.equal(viaOwner.status, 503);
  assert.match(viaOwner.text, /Service temporarily unavailable\./);
  assert.deepEqual(footprint(s.address), before, 'own change half-written');
}

/** Once the fault is gone, the same requests succeed and the old password stops working. */
async function assertWritesWork(s: Subject) {
  const viaApi = await apiChange(s, nextPassword());
  assert.equal(viaApi.status, 200, JSON.stringify(viaApi.body));
  const next = nextPassword();
  const viaAdmin = await adminReset(s, next);
  assert.equal(viaAdmin.status, 303);
  const ok = await server.services.logins.attempt({ protocol: 'web', realm: 'account', name: s.address, password: next, ip: '127.0.0.1' });
  assert.ok(ok.ok, 'the new password works');
  const old = await server.services.logins.attempt({ protocol: 'web', realm: 'account', name: s.address, password: s.password, ip: '127.0.0.1' });
  assert.equal(old.ok, false, 'the old password still works');
  // The owner's session ended with the reset, in the same transaction.
  assert.equal((await s.user.get('/account')).status, 303);
}

/**
 * A page read while the fault lasts is served whole, and its keep-alive connection stays usable,
 * although saving its session (the idle time, or a new CSRF token) fails after it went out.
 */
async function assertPageServed(page: string, s?: Subject) {
  const cookie = s ? `Cookie: mailpass.sid=${sessionCookie(s.user)}\r\n` : '';
  const socket = net.connect({ host: '127.0.0.1', port: server.httpPort });
  await new Promise<void>((resolve, reject) => socket.once('connect', () => resolve()).once('error', reject));
  let data = '';
  socket.on('data', (d: Buffer) => (data += d.toString('utf8')));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const response = async (marker: RegExp) => {
    const deadline = Date.now() + 5000;
    while (!marker.test(data) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return data;
  };
  socket.write(`GET ${page} HTTP/1.1\r\nHost: 127.0.0.1\r\n${cookie}\r\n`);
  assert.match(await response(/<\/html>\s*$/), /^HTTP\/1\.1 200 [\s\S]*<\/html>\s*$/);
  await new Promise((r) => setTimeout(r, 50));
  data = '';
  socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  assert.match(await response(/\{"status":"ok"\}/), /^HTTP\/1\.1 200 /, 'the connection was dropped after the page');
  socket.end();
  await closed;
}

describe('a lock held by another connection (BEGIN IMMEDIATE)', () => {
  let locker: Database.Database;
  before(() => {
    locker = new Database(path.join(server.dataDir, 'mailpass.db'));
  });
  after(() => locker.close());

  test('password changes answer 503 within the lock wait, nothing is half-written, and work again once it ends', async () => {
    const s = await aSubject();
    locker.exec('BEGIN IMMEDIATE');
    try {
      const t = performance.now();
      const res = await apiChange(s, nextPassword());
      const ms = performance.now() - t;
      assert.equal(res.status, 503);
      // SPEC §7: the wait for a lock is bounded (hashing and the machine's load come on top).
      assert.ok(ms >= BUSY_TIMEOUT_MS * 0.9, `answered in ${ms} ms, before the lock wait`);
      await assertWritesRefused(s);
      // Reads are not blocked in WAL mode: the process answers and says it is healthy.
      assert.equal((await request(server.url).get('/healthz')).status, 200);
      assert.equal((await api.get(`/domains/${domain}/mailboxes`)).status, 200);
      await assertPageServed('/account', s);
      await assertPageServed('/login');
    } finally {
      locker.exec('ROLLBACK');
    }
    await assertWritesWork(s);
  });

  test('SMTP AUTH only reads, so it succeeds during a lock; its last connection and audit entry are written once the lock ends', async () => {
    const { address, password } = await aMailbox(server.services, { domain });
    const written = () =>
      server.db.prepare("SELECT count(*) AS n FROM audit_log WHERE actor = ? AND action = 'login.success'").get(`smtp:${address}`) as { n: number };
    locker.exec('BEGIN IMMEDIATE');
    try {
      const c = await RawSmtp.ready(server.smtpPorts.smtps, { implicitTls: true, dataDir: server.dataDir });
      assert.match((await c.authPlain(address, password)).text, /^235 2\.7\.0 /);
      c.close();
      // The batched write of the login meets the lock and must not be lost: it is kept for the next one.
      await server.adapters.batcher.flush();
      assert.equal(written().n, 0, 'written through a lock');
    } finally {
      locker.exec('ROLLBACK');
    }
    await server.adapters.batcher.flush();
    assert.equal(written().n, 1, 'the SMTP login was never audited');
    const account = server.db.prepare('SELECT last_login_at, last_login_ip FROM accounts WHERE login = ?').get(address) as { last_login_at: number | null; last_login_ip: string };
    assert.ok(account.last_login_at, 'the last connection was lost');
    assert.equal(account.last_login_ip, '127.0.0.1');
  });

  test('when the database cannot be read either, SMTP AUTH answers 451 4.3.0 and the attempt counts for nothing', async () => {
    // No lock blocks readers in WAL mode, so the store's failure is simulated at its port.
    const { address, password } = await aMailbox(server.services, { domain });
    const store = server.adapters.stores.accounts;
    const real = store.findAccountByLogin;
    store.findAccountByLogin = () => Promise.reject(new UnavailableError());
    try {
      for (let i = 0; i < server.services.config.smtp.maxFailures + 2; i++) {
        const c = await RawSmtp.ready(server.smtpPorts.smtps, { implicitTls: true, dataDir: server.dataDir });
        assert.equal((await c.authPlain(address, `${password}-${i}`)).text, '451 4.3.0 Temporary server error, try again later');
        c.close();
      }
    } finally {
      store.findAccountByLogin = real;
    }
    const c = await RawSmtp.ready(server.smtpPorts.smtps, { implicitTls: true, dataDir: server.dataDir });
    assert.match((await c.authPlain(address, password)).text, /^235 /);
    c.close();
  });
});

describe('a database that cannot be written (query_only)', () => {
  test('writes answer 503, reads keep working, and writes work again when the fault goes', async () => {
    const s = await aSubject();
    // A read-only file refuses every connection's writes, the sessions' one too.
    const connections = [server.db, server.sessionsDb!];
    for (const c of connections) c.pragma('query_only = ON');
    try {
      await assertWritesRefused(s);
      assert.equal((await request(server.url).get('/healthz')).status, 200);
      const list = await api.get(`/domains/${domain}/mailboxes`);
      assert.equal(list.status, 200);
      assert.ok(list.body.data.mailboxes.some((m: { address: string }) => m.address === s.address));
      assert.equal((await adminAgent.get(`/admin/domains/${domain}`)).status, 200);
      await assertPageServed('/account', s);
      await assertPageServed('/login');
      // A login needs a new session row: refused as unavailable, not as a wrong password.
      const refused = await s.user.post('/login').type('form').send({ email: s.address, password: s.password, _csrf: s.userCsrf });
      assert.equal(refused.status, 503);
      const c = await RawSmtp.ready(server.smtpPorts.smtps, { implicitTls: true, dataDir: server.dataDir });
      assert.match((await c.authPlain(s.address, s.password)).text, /^235 /);
      c.close();
    } finally {
      for (const c of connections) c.pragma('query_only = OFF');
    }
    await assertWritesWork(s);
  });
});

/** One request over `agent` (keep-alive): its status, body, and whether it went over a connection used before. */
function overAgent(agent: http.Agent, url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  return new Promise<{ status: number; text: string; reused: boolean; cookie: string }>((resolve, reject) => {
    const req = http.request(url, { agent, method: init.method ?? 'GET', headers: init.headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, text, reused: req.reusedSocket, cookie: (res.headers['set-cookie'] ?? [])[0]?.split(';')[0] ?? '' }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

describe('web sessions on a connection of their own', () => {
  test('new sessions go through it with synchronous=NORMAL; ending one is the main connection\'s (FULL)', async () => {
    assert.equal(server.sessionsDb!.pragma('synchronous', { simple: true }), 1, 'sessions: NORMAL');
    assert.equal(server.db.pragma('synchronous', { simple: true }), 2, 'main: FULL');
    const s = await aSubject();
    const other = await aSubject();
    server.sessionsDb!.pragma('query_only = ON');
    try {
      // A login needs a new session row, which only the sessions' connection writes.
      const refused = await other.user.post('/login').type('form').send({ email: other.address, password: other.password, _csrf: other.userCsrf });
      assert.equal(refused.status, 503);
      // Logging out deletes the row through the main connection: it works, and the session is gone.
      const out = await s.user.post('/logout').type('form').send({ _csrf: s.userCsrf });
      assert.equal(out.status, 303);
      const after = await s.user.get('/account');
      assert.equal(after.status, 303);
      assert.match(after.headers.location ?? '', /\/login/);
    } finally {
      server.sessionsDb!.pragma('query_only = OFF');
    }
  });

  test('a login refused because its session cannot be stored gets the whole 503 page, and its connection stays open', async () => {
    const { address, password } = await aMailbox(server.services, { domain });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const page = await overAgent(agent, `${server.url}/login`);
      const form = new URLSearchParams({ email: address, password, _csrf: csrfOf(page.text) }).toString();
      server.sessionsDb!.pragma('query_only = ON');
      try {
        // The 503 page saves the regenerated session again, and that fails again: the failure must
        // not reach Express's fallback, which destroys the connection.
        const refused = await overAgent(agent, `${server.url}/login`, {
          method: 'POST',
          headers: { cookie: page.cookie, 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(form)) },
          body: form,
        });
        assert.equal(refused.status, 503);
        assert.match(refused.text, /Service temporarily unavailable\.[\s\S]*<\/html>/);
        const next = await overAgent(agent, `${server.url}/healthz`);
        assert.equal(next.status, 200);
        assert.equal(next.reused, true, 'the connection of the 503 was closed');
      } finally {
        server.sessionsDb!.pragma('query_only = OFF');
      }
    } finally {
      agent.destroy();
    }
  });
});

describe('a full disk (max_page_count)', () => {
  test('a password change answers 503 with nothing half-written, and works again once there is room', async () => {
    const s = await aSubject();
    const db = server.db;
    const limit = db.pragma('max_page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
    // Fill the free pages and the audit log's last page with small rows until SQLite reports the disk full.
    const fill = db.prepare("INSERT INTO audit_log (at, actor, action, target) VALUES (0, 'test:filler', 'filler', '')");
    let full = false;
    for (let i = 0; i < 500_000 && !full; i++) {
      try {
        fill.run();
      } catch (err) {
        assert.equal((err as { code?: string }).code, 'SQLITE_FULL');
        full = true;
      }
    }
    assert.ok(full, 'the database never filled up');
    try {
      await assertWritesRefused(s);
      assert.equal((await request(server.url).get('/healthz')).status, 200);
    } finally {
      db.pragma(`max_page_count = ${limit}`);
      db.prepare("DELETE FROM audit_log WHERE actor = 'test:filler'").run();
    }
    await assertWritesWork(s);
  });
});
