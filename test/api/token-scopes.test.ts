import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cliActor } from '../../src/core/actors.js';
import { tokenDigest } from '../../src/core/logins.js';
import { aToken, apiClient } from '../helpers/api.js';
import { aDomain, aMailbox, anAdmin } from '../helpers/builders.js';
import { loginAsAdmin, postForm, startTestServer, type TestServer } from '../helpers/server.js';

// SPEC §18: a token carries a scope (read-only, some domains, an expiry, client addresses) and
// never does more than its admin may. Outside it: 403 with the exact message; expired: 401.

const OUT = { success: false, message: 'Token scope does not allow this' };

let server: TestServer;
let a: string;
let b: string;
let admin: string;
let adminPassword: string;

before(async () => {
  server = await startTestServer({ API_RATE_LIMIT: '1000' });
  a = (await aDomain(server.services)).name;
  b = (await aDomain(server.services)).name;
  const made = await anAdmin(server.services, { domains: [a, b] });
  admin = made.username;
  adminPassword = made.password;
});
after(() => server.stop());

describe('scoped API tokens', () => {
  test('read-only: reads answer, a write is 403 with the exact message and changes nothing', async () => {
    const box = await aMailbox(server.services, { domain: a });
    const api = apiClient(server.url, (await aToken(server.services, admin, 'reader', { readOnly: true })).plaintext);
    assert.equal((await api.get('/domains')).status, 200);
    assert.equal((await api.get(`/domains/${a}/mailboxes`)).status, 200);
    const before = (await server.adapters.stores.accounts.findAccountByLogin(box.address))!.passwordHash;
    const write = await api.put(`/domains/${a}/mailboxes/${box.address}/password`, {});
    assert.equal(write.status, 403);
    assert.deepEqual(write.body, OUT);
    assert.equal((await server.adapters.stores.accounts.findAccountByLogin(box.address))!.passwordHash, before);
    assert.equal((await api.post(`/domains/${a}/credentials`, { name: 'X' })).status, 403);
  });

  test('per domain: only its domains are listed and reachable; another of the admin is 403', async () => {
    const api = apiClient(server.url, (await aToken(server.services, admin, 'only a', { domains: [a.toUpperCase()] })).plaintext);
    const list = await api.get('/domains');
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.data.domains.map((d: { name: string }) => d.name), [a]);
    assert.equal((await api.get(`/domains/${a}/credentials`)).status, 200);
    const other = await api.get(`/domains/${b}/credentials`);
    assert.equal(other.status, 403);
    assert.deepEqual(other.body, OUT);
    assert.equal((await api.post(`/domains/${a}/credentials`, { name: 'Scoped' })).status, 201);
    assert.equal((await api.post(`/domains/${b}/credentials`, { name: 'Scoped' })).status, 403);
  });

  test('never more than its admin: a domain the admin does not administer cannot be in its scope', async () => {
    const c = (await aDomain(server.services)).name;
    await assert.rejects(server.services.tokens.createToken(cliActor, { adminUsername: admin, name: 'wider', domains: [c] }), /Validation failed|domains/);
    // A domain the admin loses leaves the token's reach at once, though it stays in its scope.
    const lone = await anAdmin(server.services, { domains: [a, b] });
    const api = apiClient(server.url, (await aToken(server.services, lone.username, 'ab', { domains: [a, b] })).plaintext);
    assert.equal((await api.get(`/domains/${b}/credentials`)).status, 200);
    await server.services.admins.updateAdmin(cliActor, lone.username, { isSuper: false, domains: [a] });
    assert.deepEqual((await api.get('/domains')).body.data.domains.map((d: { name: string }) => d.name), [a]);
    assert.equal((await api.get(`/domains/${b}/credentials`)).status, 404);
  });

  test('client addresses: from an address outside the list, 403; from one inside, 200', async () => {
    const elsewhere = apiClient(server.url, (await aToken(server.services, admin, 'lan only', { allowIps: ['192.0.2.0/24'] })).plaintext);
    const res = await elsewhere.get('/domains');
    assert.equal(res.status, 403);
    assert.deepEqual(res.body, OUT);
    const local = apiClient(server.url, (await aToken(server.services, admin, 'loopback', { allowIps: ['127.0.0.0/8', '::1'] })).plaintext);
    assert.equal((await local.get('/domains')).status, 200);
  });

  test('an expired token answers 401, like no token', async () => {
    const plaintext = `mp_${'E'.repeat(43)}`;
    const owner = (await server.adapters.stores.admins.findAdminByUsername(admin))!;
    const now = server.services.clock.now();
    await server.adapters.stores.tokens.insertToken(
      { adminId: owner.id, name: 'old', prefix: plaintext.slice(0, 10), tokenHash: tokenDigest(plaintext), now: now - 86_400, scope: { readOnly: false, domains: null, expiresAt: now - 1, allowIps: [] } },
      { at: now, actor: 'test', action: 'token.create', target: 'old', ip: null, detail: null },
    );
    const res = await apiClient(server.url, plaintext).get('/domains');
    assert.equal(res.status, 401);
    assert.deepEqual(res.body, { success: false, message: 'Unauthorized' });
    const fresh = await aToken(server.services, admin, 'a day', { expiresDays: 1 });
    assert.equal(fresh.token.expiresAt, fresh.token.createdAt + 86_400);
    assert.equal((await apiClient(server.url, fresh.plaintext).get('/domains')).status, 200);
  });

  test('each token shows its last use: when and from which address', async () => {
    const { plaintext, token } = await aToken(server.services, admin, 'seen');
    assert.equal(token.lastUsedAt, null);
    assert.equal((await apiClient(server.url, plaintext).get('/domains')).status, 200);
    const used = (await server.adapters.stores.tokens.listTokens()).find((t) => t.id === token.id)!;
    assert.ok(used.lastUsedAt !== null);
    assert.match(used.lastUsedIp ?? '', /127\.0\.0\.1|::1/);
  });
});

describe('scoped tokens in the panel', () => {
  test('the API tokens page makes a scoped token, refuses a bad scope beside its field, and lists each scope and last use', async () => {
    const agent = await loginAsAdmin(server.url, admin, adminPassword);
    const page = await agent.get('/admin/tokens');
    assert.match(page.text, /<input type="checkbox" name="read_only" value="1"> Read-only \(GET requests only\)/);
    assert.match(page.text, new RegExp(`<input type="checkbox" name="domains" value="${a.replace('.', '\\.')}">`));
    const bad = await postForm(agent, '/admin/tokens', '/admin/tokens', { name: 'bad', expires_days: '0', allow_ips: 'nowhere' });
    assert.equal(bad.status, 422);
    assert.match(bad.text, /<ul class="field-errors" id="expires_days-errors">\s*<li>Must be a whole number of days from 1 to 3650\.<\/li>/);
    assert.match(bad.text, /id="allow_ips-errors"[^]*Is not an address or a network such as 192\.0\.2\.10 or 10\.0\.0\.0\/24: nowhere/);
    const made = await postForm(agent, '/admin/tokens', '/admin/tokens', { name: 'panel scoped', read_only: '1', domains: a, expires_days: '7', allow_ips: '127.0.0.1, ::1' });
    assert.equal(made.status, 201);
    const plaintext = /<code id="token-value">([^<]+)<\/code>/.exec(made.text)![1]!;
    assert.match(made.text, new RegExp(`<dt>Scope</dt><dd>Read-only · ${a.replace('.', '\\.')} · from 127\\.0\\.0\\.1, ::1 · expires \\d{4}-\\d{2}-\\d{2}</dd>`));
    const token = (await server.adapters.stores.tokens.listTokens()).find((t) => t.name === 'panel scoped')!;
    assert.deepEqual({ readOnly: token.readOnly, domains: token.domains, allowIps: token.allowIps }, { readOnly: true, domains: [a], allowIps: ['127.0.0.1', '::1'] });
    assert.equal((await apiClient(server.url, plaintext).get(`/domains/${b}/credentials`)).status, 403);
    assert.equal((await apiClient(server.url, plaintext).get(`/domains/${a}/credentials`)).status, 200);
    const list = await agent.get('/admin/tokens');
    const row = new RegExp(`panel scoped</td>[^]*?Read-only · ${a.replace('.', '\\.')} · from 127\\.0\\.0\\.1, ::1 · expires \\d{4}-\\d{2}-\\d{2}</td>[^]*?UTC</span> <span class="muted">from (::ffff:)?127\\.0\\.0\\.1</span>`);
    assert.match(list.text, row);
  });
});
