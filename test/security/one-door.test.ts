import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { cliActor } from '../../src/core/actors.js';
import { addressKey, normalizeLoginName } from '../../src/core/login-names.js';
import { MALFORMED_NAME } from '../../src/core/logins.js';
import { createLogger } from '../../src/log.js';
import { PassThrough } from 'node:stream';
import { loadConfig } from '../../src/config.js';
import { aDomain, aMailbox, anAdmin, strongPassword } from '../helpers/builders.js';
import { runCli } from '../helpers/cli.js';
import { ADMIN_PASSWORD } from '../helpers/env.js';
import { csrfOf, loginAsAdmin, loginAsMailbox, postForm, startTestServer, type TestServer } from '../helpers/server.js';
import { RawSmtp } from '../helpers/smtp-client.js';

// SPEC §8 and the findings of the review that made logins one use case: each test here fails
// on the product as it was before.

const SRC = path.resolve('src');
const importsOf = (dir: string): Array<{ file: string; spec: string }> =>
  readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) return importsOf(file);
    if (!name.endsWith('.ts')) return [];
    return [...readFileSync(file, 'utf8').matchAll(/\bfrom\s+'([^']+)'|import\('([^']+)'\)/g)].map((m) => ({ file, spec: (m[1] ?? m[2])! }));
  });

describe('the one door', () => {
  test('web and smtp import nothing from src/store or src/adapters, and core imports no adapter', () => {
    const offending: string[] = [];
    for (const edge of ['web', 'smtp']) {
      for (const { file, spec } of importsOf(path.join(SRC, edge))) {
        const target = path.resolve(path.dirname(file), spec);
        if (target.startsWith(path.join(SRC, 'store')) || target.startsWith(path.join(SRC, 'adapters'))) offending.push(`${path.relative(SRC, file)} → ${spec}`);
      }
    }
    for (const { file, spec } of importsOf(path.join(SRC, 'core'))) {
      const target = path.resolve(path.dirname(file), spec);
      if (!spec.startsWith('.') ? /^(express|smtp-server|better-sqlite3|argon2|rate-limiter-flexible)/.test(spec) : !target.startsWith(path.join(SRC, 'core'))) offending.push(`${path.relative(SRC, file)} → ${spec}`);
    }
    assert.deepEqual(offending, []);
  });

  test('services.ts builds services only: it imports nothing from src/store, src/adapters, pg or node:cluster', () => {
    const file = path.join(SRC, 'services.ts');
    const offending = importsOf(SRC)
      .filter((i) => i.file === file)
      .map((i) => i.spec)
      .filter((spec) => /^(pg|node:cluster)$/.test(spec) || /^\.\/(store|adapters)\/|^\.\/cluster\.js$/.test(spec));
    assert.deepEqual(offending, []);
  });

  test('src/ is a tree: no file reaches itself through its imports', () => {
    const graph = new Map<string, string[]>();
    for (const { file, spec } of importsOf(SRC)) {
      if (!spec.startsWith('.')) continue;
      const target = path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts');
      graph.set(file, [...(graph.get(file) ?? []), target]);
    }
    const circles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (f: string, trail: string[]) => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') return void circles.push([...trail.slice(trail.indexOf(f)), f].map((x) => path.relative(SRC, x)).join(' -> '));
      state.set(f, 'open');
      for (const t of graph.get(f) ?? []) visit(t, [...trail, f]);
      state.set(f, 'done');
    };
    for (const f of graph.keys()) visit(f, []);
    assert.deepEqual(circles, []);
  });

  test('the services hold no store, hasher or batcher, and nothing in core reads process.env', async () => {
    const server = await startTestServer();
    try {
      for (const adapter of ['store', 'hasher', 'batcher', 'estimator', 'counters', 'relay', 'spool']) assert.ok(!(adapter in server.services), adapter);
    } finally {
      await server.stop();
    }
    const readers = readdirSync(path.join(SRC, 'core'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .filter((f) => readFileSync(path.join(SRC, 'core', f), 'utf8').includes('process.env'));
    assert.deepEqual(readers, []);
  });

  test('a login name is normalised once: any Unicode space around it is dropped, case folded; a malformed one is null', () => {
    assert.equal(normalizeLoginName('\u00a0\u2003 Admin\u200b\t', 'admin'), 'admin');
    assert.equal(normalizeLoginName(' Jane@Example.COM\u3000', 'account'), 'jane@example.com');
    assert.equal(normalizeLoginName('ja ne@example.com', 'account'), null);
    assert.equal(normalizeLoginName('a'.repeat(400), 'admin'), null);
    assert.equal(addressKey('2001:db8:1:2:aaaa::1'), addressKey('2001:0db8:0001:0002:ffff:1:2:3'));
    assert.notEqual(addressKey('2001:db8:1:2::1'), addressKey('2001:db8:1:3::1'));
    assert.equal(addressKey('::ffff:192.0.2.7'), '192.0.2.7');
  });

  test('TRUST_PROXY=true is refused at start, naming the variable', () => {
    assert.throws(() => loadConfig({ TRUST_PROXY: 'true' }), /^ConfigError: TRUST_PROXY: .*hop count|TRUST_PROXY/);
    assert.equal(loadConfig({ TRUST_PROXY: '1' }).trustProxy, 1);
  });
});

describe('limits that hold', () => {
  let server: TestServer;
  let domain: string;
  before(async () => {
    // Every test here logs in from 127.0.0.1: the per-address web limit would end the file early.
    server = await startTestServer({ SMTP_MAX_CLIENTS_PER_IP: '3', LOGIN_MAX_ATTEMPTS_PER_IP: '1000' }, { smtp: true });
    domain = (await aDomain(server.services)).name;
  });
  after(() => server.stop());

  const webLogin = async (page: '/login' | '/admin/login', fields: Record<string, string>) => {
    const agent = request.agent(server.url);
    return (await postForm(agent, page, page, fields)).status;
  };

  test('leading or trailing white space gives a name no budget of its own (admin and mailbox)', async () => {
    const spellings = ['admin', ' admin', 'admin ', '\u00a0ADMIN', '\u2003admin\u3000', '\tadmin'];
    const codes: number[] = [];
    for (let i = 0; i < 12; i++) codes.push(await webLogin('/admin/login', { username: spellings[i % spellings.length]!, password: `Wrong#${i}-guess` }));
    assert.deepEqual(codes.slice(0, 10), Array(10).fill(401));
    assert.deepEqual(codes.slice(10), [429, 429]);
    assert.equal(await webLogin('/admin/login', { username: ' admin', password: ADMIN_PASSWORD }), 429);
  });

  test('the counts live in the database: a restarted server still refuses a locked login', async () => {
    const other = await startTestServer({}, { smtp: false });
    try {
      const box = await aMailbox(other.services, { domain: (await aDomain(other.services)).name });
      const agent = () => request.agent(other.url);
      for (let i = 0; i < 10; i++) assert.equal((await postForm(agent(), '/login', '/login', { email: box.address, password: `Nope#${i}-x` })).status, 401);
      const rows = (await other.query<{ n: number }>("SELECT count(*) AS n FROM login_limits WHERE key LIKE '%web:login:%'"))[0]!.n;
      assert.ok(rows > 0, 'the counts are rows of login_limits');
      // A second process on the same file (the CLI's kind of neighbour) sees the same count.
      const { openServices } = await import('../../src/compose.js');
      const opened = await openServices(other.services.config, (await import('../helpers/env.js')).silentLog);
      try {
        const r = await opened.services.logins.attempt({ protocol: 'web', realm: 'account', name: box.address, password: box.password, ip: '127.0.0.1' });
        assert.deepEqual({ ok: r.ok, reason: r.ok ? null : r.reason }, { ok: false, reason: 'locked' });
      } finally {
        await opened.close();
      }
    } finally {
      await other.stop();
    }
  });

  test('a flood of new names cannot evict a lock-out', async () => {
    const box = await aMailbox(server.services, { domain });
    const { logins } = server.services;
    for (let i = 0; i < 10; i++) await logins.attempt({ protocol: 'smtp', name: box.address, password: `Bad#${i}-one`, ip: '198.51.100.1' });
    // 3,000 names from 3,000 addresses: before, an in-memory table of 100,000 keys forgot the oldest.
    for (let i = 0; i < 3000; i++) await logins.attempt({ protocol: 'smtp', name: `nobody${i}@${domain}`, password: 'Flood#1-pass', ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` });
    const r = await logins.attempt({ protocol: 'smtp', name: box.address, password: box.password, ip: '198.51.100.2' });
    assert.equal(r.ok ? 'ok' : r.reason, 'locked');
  });

  test('IPv6 addresses are counted by their /64', async () => {
    const names = await Promise.all([0, 1, 2].map(() => aMailbox(server.services, { domain })));
    const { logins } = server.services;
    for (let i = 0; i < 10; i++) await logins.attempt({ protocol: 'smtp', name: names[i % 3]!.address, password: `V6#${i}-wrong`, ip: `2001:db8:5:6::${(i + 1).toString(16)}` });
    const r = await logins.attempt({ protocol: 'smtp', name: names[0]!.address, password: names[0]!.password, ip: '2001:db8:5:6:ffff::9' });
    assert.equal(r.ok ? 'ok' : r.reason, 'locked');
    const elsewhere = await logins.attempt({ protocol: 'smtp', name: names[0]!.address, password: names[0]!.password, ip: '2001:db8:5:7::1' });
    assert.equal(elsewhere.ok, true);
  });

  test('a repeated wrong password is answered without a new argon2 run, and one address has at most 2 verifications in flight', async () => {
    const box = await aMailbox(server.services, { domain });
    const { hasher } = server.adapters;
    let verifies = 0;
    const queues: unknown[] = [];
    const verify = hasher.verify.bind(hasher);
    // The hasher keeps each address's queue (test/core/hasher*.test.ts): every verification must name it.
    hasher.verify = async (hash, password, queue) => {
      verifies++;
      queues.push(queue);
      return verify(hash, password, queue);
    };
    try {
      const { logins } = server.services;
      await logins.attempt({ protocol: 'smtp', name: box.address, password: 'Same#1-wrong', ip: '203.0.113.5' });
      const first = verifies;
      for (let i = 0; i < 5; i++) await logins.attempt({ protocol: 'smtp', name: box.address, password: 'Same#1-wrong', ip: '203.0.113.5' });
      assert.equal(verifies, first, 'the same wrong password ran argon2 again');
      const others = await Promise.all([0, 1, 2, 3, 4, 5].map(() => aMailbox(server.services, { domain })));
      queues.length = 0;
      await Promise.all(others.map((o, i) => logins.attempt({ protocol: 'smtp', name: o.address, password: `Par#${i}-wrong`, ip: '203.0.113.6' })));
      assert.deepEqual(queues, Array(6).fill({ key: '203.0.113.6', limit: 2 }));
    } finally {
      hasher.verify = verify;
    }
  });

  test('one address holds at most SMTP_MAX_CLIENTS_PER_IP connections; the next gets 421 4.7.0', async () => {
    const open = await Promise.all([0, 1, 2].map(() => RawSmtp.ready(server.smtpPorts.smtps, { implicitTls: true, dataDir: server.dataDir })));
    try {
      await assert.rejects(RawSmtp.ready(server.smtpPorts.smtps, { implicitTls: true, dataDir: server.dataDir }), /greeting: 421 4\.7\.0 Too many connections from your address/);
    } finally {
      for (const c of open) c.close();
    }
    await new Promise((r) => setTimeout(r, 200));
    const again = await RawSmtp.ready(server.smtpPorts.smtps, { implicitTls: true, dataDir: server.dataDir });
    again.close();
  });

  test("the account page's current-password check counts against the login's limit, and each failure is audited", async () => {
    const box = await aMailbox(server.services, { domain });
    const agent = await loginAsMailbox(server.url, box.address, box.password);
    const codes: number[] = [];
    for (let i = 0; i < 11; i++) {
      const next = strongPassword(`N${i}`);
      codes.push((await postForm(agent, '/account', '/account', { current_password: `Not#${i}-it`, new_password: next, confirm_password: next })).status);
    }
    assert.deepEqual(codes, [...Array(10).fill(422), 429]);
    const audited = (await server.query<{ n: number }>("SELECT count(*) AS n FROM audit_log WHERE target = ? AND action = 'login.failure' AND detail = 'current password'", box.address))[0]!.n;
    assert.equal(audited, 10);
  });

  test('a login from a browser without the known-browser mark does not reset the shared count', async () => {
    const box = await aMailbox(server.services, { domain });
    for (let i = 0; i < 9; i++) assert.equal(await webLogin('/login', { email: box.address, password: `Bad#${i}-guess` }), 401);
    assert.equal(await webLogin('/login', { email: box.address, password: box.password }), 303);
    // Before, that success wiped the count and gave the attacker ten fresh guesses.
    assert.equal(await webLogin('/login', { email: box.address, password: 'Bad#9-guess' }), 401);
    assert.equal(await webLogin('/login', { email: box.address, password: 'Bad#10-guess' }), 429);
  });

  test('a cookieless look at a login page writes no session row; its form still needs a genuine token from this site', async () => {
    const count = async () => (await server.query<{ n: number }>('SELECT count(*) AS n FROM sessions'))[0]!.n;
    for (const page of ['/login', '/admin/login']) {
      const before = await count();
      for (let i = 0; i < 5; i++) {
        const res = await request(server.url).get(page);
        assert.equal(res.status, 200);
        assert.ok(!(res.headers['set-cookie'] as string[] | undefined)?.some((c) => c.startsWith('mailpass.sid=')), page);
      }
      assert.equal(await count(), before, `${page} wrote a session row`);
      // Its token checks itself; a post from another site, or with a forged or altered token, is refused.
      const token = csrfOf((await request(server.url).get(page)).text);
      const field = page === '/login' ? 'email' : 'username';
      const post = (fields: Record<string, string>, headers: Record<string, string> = {}) => request(server.url).post(page).set(headers).type('form').send({ [field]: 'x@example.org', password: 'Wrong#1-pass', ...fields });
      assert.equal((await post({ _csrf: token }, { Origin: 'https://evil.example' })).status, 403);
      assert.equal((await post({ _csrf: token }, { 'Sec-Fetch-Site': 'cross-site' })).status, 403);
      assert.equal((await post({})).status, 403);
      const [pad, body] = token.split('.') as [string, string];
      const altered = `${pad}.${Buffer.from(Buffer.from(body, 'base64url').map((b, i) => (i === 0 ? b ^ 1 : b))).toString('base64url')}`;
      assert.equal((await post({ _csrf: altered })).status, 403);
      assert.equal((await post({ _csrf: token }, { Origin: server.url, 'Sec-Fetch-Site': 'same-origin' })).status, 401, 'from its own page the login goes on');
      assert.equal((await post({ _csrf: token })).status, 401, 'a client that sends no Origin (a script) goes on');
    }
  });

  test('a cookieless GET writes no session row', async () => {
    const count = async () => (await server.query<{ n: number }>('SELECT count(*) AS n FROM sessions'))[0]!.n;
    for (const page of ['/', '/admin', '/nowhere', '/account', '/admin/domains']) {
      const before = await count();
      const res = await request(server.url).get(page);
      assert.equal(res.headers['set-cookie'], undefined, page);
      assert.equal(await count(), before, page);
    }
  });

  test('the header From: must be an address the login may send as: 553 5.7.1', async () => {
    const box = await aMailbox(server.services, { domain });
    const c = await RawSmtp.ready(server.smtpPorts.smtps, { implicitTls: true, dataDir: server.dataDir });
    try {
      assert.equal((await c.authPlain(box.address, box.password)).code, 235);
      assert.equal((await c.cmd(`MAIL FROM:<${box.address}>`)).code, 250);
      assert.equal((await c.cmd(`RCPT TO:<someone@example.org>`)).code, 250);
      assert.equal((await c.cmd('DATA')).code, 354);
      const reply = await c.cmd(`From: "Boss" <ceo@${domain}>\r\nTo: someone@example.org\r\nSubject: pay\r\n\r\nurgent\r\n.`);
      assert.equal(reply.text, '553 5.7.1 From: header address not allowed for this login');
    } finally {
      c.close();
    }
  });

  test('a From: after 113 KB of filler headers is refused (552 5.6.0) and nothing is spooled', async () => {
    const box = await aMailbox(server.services, { domain });
    const spool = path.join(server.dataDir, 'spool');
    const files = () => readdirSync(spool).filter((f) => f.endsWith('.eml')).length;
    const c = await RawSmtp.ready(server.smtpPorts.smtps, { implicitTls: true, dataDir: server.dataDir });
    try {
      assert.equal((await c.authPlain(box.address, box.password)).code, 235);
      const before = files();
      assert.equal((await c.cmd(`MAIL FROM:<${box.address}>`)).code, 250);
      assert.equal((await c.cmd(`RCPT TO:<someone@example.org>`)).code, 250);
      assert.equal((await c.cmd('DATA')).code, 354);
      const pad = Array.from({ length: 1130 }, (_, i) => `X-Pad-${i}: ${'p'.repeat(90)}\r\n`).join('');
      const reply = await c.cmd(`From: ${box.address}\r\n${pad}From: "CEO" <ceo@${domain}>\r\nSubject: pay\r\n\r\nurgent\r\n.`);
      assert.equal(reply.text, '552 5.6.0 Message refused: header block longer than 65536 bytes, its From: cannot be checked');
      assert.equal(files(), before);
      assert.deepEqual(readdirSync(path.join(spool, 'tmp')), [], 'a refused message left a temporary file');
    } finally {
      c.close();
    }
  });
});

describe('what a failed login keeps (issue 29)', () => {
  test('a password typed into the name field is kept nowhere: not in the audit log, not in the log', async () => {
    const lines: string[] = [];
    const sink = new PassThrough();
    sink.on('data', (d: Buffer) => lines.push(d.toString('utf8')));
    const server = await startTestServer({}, { log: createLogger('debug', sink) });
    try {
      const typed = 'Wint3r#Holiday-2026';
      const agent = request.agent(server.url);
      assert.equal((await postForm(agent, '/login', '/login', { email: typed, password: typed })).status, 401);
      assert.equal((await postForm(agent, '/admin/login', '/admin/login', { username: `${typed} x`, password: typed })).status, 401);
      const rows = await server.query<{ target: string }>('SELECT target FROM audit_log WHERE action IN (?, ?)', 'login.failure', 'admin-login.failure');
      assert.deepEqual(rows.map((r) => r.target), [MALFORMED_NAME, MALFORMED_NAME]);
      assert.ok(!lines.join('').includes('Wint3r'), 'the typed name reached the log');
    } finally {
      await server.stop();
    }
  });
});

describe('admins own their accounts (SPEC §8)', () => {
  let server: TestServer;
  let domain: string;
  before(async () => {
    server = await startTestServer();
    domain = (await aDomain(server.services)).name;
  });
  after(() => server.stop());

  test('/admin/account changes the own password: every session ends, tokens are revoked, "must differ" holds', async () => {
    const { username, password } = await anAdmin(server.services, { domains: [domain] });
    const agent = await loginAsAdmin(server.url, username, password);
    const other = await loginAsAdmin(server.url, username, password);
    const token = (await server.services.tokens.createToken(cliActor, { adminUsername: username, name: 'ci' })).plaintext;
    assert.equal((await request(server.url).get('/api/domains').set('Authorization', `Bearer ${token}`)).status, 200);
    const same = await postForm(agent, '/admin/account', '/admin/account', { current_password: password, new_password: password, confirm_password: password });
    assert.equal(same.status, 422);
    assert.match(same.text, /Must differ from the current password/);
    const next = strongPassword('Own');
    const res = await postForm(agent, '/admin/account', '/admin/account', { current_password: password, new_password: next, confirm_password: next });
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, '/admin/login?updated=1');
    assert.equal((await other.get('/admin/domains')).status, 303, 'another session of the admin still works');
    assert.equal((await request(server.url).get('/api/domains').set('Authorization', `Bearer ${token}`)).status, 401, 'the token still works');
    await loginAsAdmin(server.url, username, next);
  });

  test('an admin with a printed password must choose its own before any other page opens', async () => {
    const add = await runCli(['admin', 'add', 'printed', '--domain', domain, '--generate', '--data-dir', server.dataDir]);
    assert.equal(add.code, 0, add.stderr);
    const printed = add.stdout.trim();
    const agent = request.agent(server.url);
    const login = await postForm(agent, '/admin/login', '/admin/login', { username: 'printed', password: printed });
    assert.equal(login.headers.location, '/admin/account');
    for (const page of ['/admin/domains', `/admin/domains/${domain}`, '/admin/tokens']) {
      const res = await agent.get(page);
      assert.equal(res.status, 303, page);
      assert.equal(res.headers.location, '/admin/account', page);
    }
    const next = strongPassword('Chosen');
    assert.equal((await postForm(agent, '/admin/account', '/admin/account', { current_password: printed, new_password: next, confirm_password: next })).status, 303);
    const fresh = await loginAsAdmin(server.url, 'printed', next);
    assert.equal((await fresh.get('/admin/domains')).status, 200);
  });

  test('a super admin edits, disables, enables and deletes admins in the panel; the last enabled super admin is protected', async () => {
    const superAgent = await loginAsAdmin(server.url, 'admin', ADMIN_PASSWORD);
    const { username, password } = await anAdmin(server.services, { domains: [domain] });
    const victim = await loginAsAdmin(server.url, username, password);
    const page = await superAgent.get(`/admin/admins/${username}`);
    assert.equal(page.status, 200);
    const csrf = csrfOf(page.text);
    assert.equal((await superAgent.post(`/admin/admins/${username}/disable`).type('form').send({ _csrf: csrf })).status, 303);
    assert.equal((await victim.get('/admin/domains')).status, 303, 'a disabled admin keeps its session');
    assert.equal(await postForm(request.agent(server.url), '/admin/login', '/admin/login', { username, password }).then((r) => r.status), 401);
    assert.equal((await superAgent.post(`/admin/admins/${username}/enable`).type('form').send({ _csrf: csrf })).status, 303);
    await loginAsAdmin(server.url, username, password);
    assert.equal((await superAgent.post(`/admin/admins/${username}`).type('form').send({ _csrf: csrf, super: '1' })).status, 303);
    assert.equal((await server.adapters.stores.admins.findAdminByUsername(username))!.isSuper, true);
    // Demoting the only other super admin is fine; demoting, disabling or deleting the last one is not.
    assert.equal((await superAgent.post(`/admin/admins/${username}`).type('form').send({ _csrf: csrf, domains: domain })).status, 303);
    const demote = await superAgent.post('/admin/admins/admin').type('form').send({ _csrf: csrf, domains: domain });
    assert.equal(demote.status, 422);
    assert.match(demote.text, /The last enabled super admin cannot be disabled, deleted or made a domain admin/);
    assert.equal((await superAgent.post('/admin/admins/admin/delete').type('form').send({ _csrf: csrf })).status, 403, 'an admin deletes itself');
    assert.equal((await runCli(['admin', 'disable', 'admin', '--data-dir', server.dataDir])).code, 1);
    assert.equal((await runCli(['admin', 'delete', 'admin', '--data-dir', server.dataDir])).code, 1);
    assert.equal((await superAgent.post(`/admin/admins/${username}/delete`).type('form').send({ _csrf: csrf })).status, 303);
    assert.equal(await server.adapters.stores.admins.findAdminByUsername(username), null);
  });

  test('CLI: admin list, passwd (must differ, sessions end), disable, enable, delete', async () => {
    const { username, password } = await anAdmin(server.services, { domains: [domain] });
    const D = ['--data-dir', server.dataDir];
    const list = await runCli(['admin', 'list', ...D]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`^${username}\\tdomain\\tenabled\\t${domain.replace('.', '\\.')}$`, 'm'));
    assert.match(list.stdout, /^admin\tsuper\tenabled\t$/m);
    const same = await runCli(['admin', 'passwd', username, '--password-stdin', ...D], { stdin: `${password}\n` });
    assert.equal(same.code, 1);
    assert.match(same.stderr, /Must differ from the current password/);
    const agent = await loginAsAdmin(server.url, username, password);
    const next = strongPassword('Cli2');
    assert.equal((await runCli(['admin', 'passwd', username, '--password-stdin', ...D], { stdin: `${next}\n` })).code, 0);
    assert.equal((await agent.get('/admin/domains')).status, 303);
    assert.equal((await runCli(['admin', 'disable', username, ...D])).code, 0);
    assert.match((await runCli(['admin', 'list', ...D])).stdout, new RegExp(`^${username}\\tdomain\\tdisabled`, 'm'));
    assert.equal((await runCli(['admin', 'enable', username, ...D])).code, 0);
    await loginAsAdmin(server.url, username, next);
    assert.equal((await runCli(['admin', 'delete', username, ...D])).code, 0);
    assert.equal((await runCli(['admin', 'delete', username, ...D])).code, 1);
  });

  test('"must differ" holds on an admin reset, mailbox passwd --password-stdin and the API', async () => {
    const box = await aMailbox(server.services, { domain });
    const admin = await loginAsAdmin(server.url, 'admin', ADMIN_PASSWORD);
    const reset = await postForm(admin, `/admin/domains/${domain}/mailboxes/${box.address}`, `/admin/domains/${domain}/mailboxes/${box.address}/password`, { password: box.password });
    assert.equal(reset.status, 422);
    assert.match(reset.text, /Must differ from the current password/);
    const cli = await runCli(['mailbox', 'passwd', box.address, '--password-stdin', '--data-dir', server.dataDir], { stdin: `${box.password}\n` });
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /Must differ from the current password/);
    const token = (await server.services.tokens.createToken(cliActor, { adminUsername: 'admin', name: 'd' })).plaintext;
    const api = await request(server.url).put(`/api/domains/${domain}/mailboxes/${box.address}/password`).set('Authorization', `Bearer ${token}`).send({ password: box.password });
    assert.equal(api.status, 422);
    assert.deepEqual(api.body.errors.password, ['Must differ from the current password.']);
  });

  test('a POST in the admin panel reads the domain once', async () => {
    const box = await aMailbox(server.services, { domain });
    const admin = await loginAsAdmin(server.url, 'admin', ADMIN_PASSWORD);
    const csrf = csrfOf((await admin.get(`/admin/domains/${domain}/mailboxes/${box.address}`)).text);
    const store = server.adapters.stores.domains;
    const find = store.findDomainByName;
    let reads = 0;
    store.findDomainByName = (name) => {
      reads++;
      return find(name);
    };
    try {
      const res = await admin.post(`/admin/domains/${domain}/mailboxes/${box.address}/password`).type('form').send({ _csrf: csrf, password: strongPassword('Once') });
      assert.equal(res.status, 303);
      assert.equal(reads, 1);
    } finally {
      store.findDomainByName = find;
    }
  });
});
