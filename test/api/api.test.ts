import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { cliActor } from '../../src/core/actors.js';
import { aToken, apiClient } from '../helpers/api.js';
import { aDomain, aMailbox, anAdmin, strongPassword } from '../helpers/builders.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createArgon2Hasher } from '../../src/adapters/argon2-hasher.js';

let server: TestServer;
let api: ReturnType<typeof apiClient>;
let domain: string;
const hasher = createArgon2Hasher({ memoryKib: 1024, timeCost: 1, parallelism: 1 });

before(async () => {
  server = await startTestServer({ API_RATE_LIMIT: '1000' });
  domain = (await aDomain(server.services)).name;
  api = apiClient(server.url, (await aToken(server.services, 'admin')).plaintext);
});
after(() => server.stop());

const CREDENTIAL_KEYS = ['id', 'guid', 'name', 'username', 'created_at', 'updated_at', 'last_connection_at', 'last_connection_ip'];
const STRENGTH_KEYS = ['score', 'length', 'has_uppercase', 'has_lowercase', 'has_digit', 'has_special', 'meets_policy'];

describe('authentication and limits', () => {
  test('no token, a malformed token or an unknown token → 401 Unauthorized', async () => {
    for (const header of [undefined, 'Bearer', 'Basic abc', 'Bearer mp_notarealtoken', `Bearer mp_${'A'.repeat(43)}`]) {
      const req = request(server.url).get('/api/domains');
      const res = await (header ? req.set('Authorization', header) : req);
      assert.equal(res.status, 401, String(header));
      assert.deepEqual(res.body, { success: false, message: 'Unauthorized' });
      assert.ok(res.headers['x-ratelimit-limit']);
    }
  });

  test('a revoked token → 401', async () => {
    const { plaintext, token } = await aToken(server.services, 'admin', 'to revoke');
    assert.equal((await apiClient(server.url, plaintext).get('/domains')).status, 200);
    await server.services.tokens.revokeToken(cliActor, token.id);
    assert.equal((await apiClient(server.url, plaintext).get('/domains')).status, 401);
  });

  test('every answer carries X-RateLimit-Limit and -Remaining; past the limit 429 with Retry-After', async () => {
    const limited = await startTestServer({ API_RATE_LIMIT: '3' });
    try {
      const client = apiClient(limited.url, (await aToken(limited.services, 'admin')).plaintext);
      const remaining: string[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await client.get('/domains');
        assert.equal(res.status, 200);
        assert.equal(res.headers['x-ratelimit-limit'], '3');
        remaining.push(res.headers['x-ratelimit-remaining']!);
      }
      assert.deepEqual(remaining, ['2', '1', '0']);
      const over = await client.get('/domains');
      assert.equal(over.status, 429);
      assert.deepEqual(over.body, { success: false, message: 'Too many attempts. Please try again later.' });
      assert.ok(Number(over.headers['retry-after']) > 0);
      assert.equal(over.headers['x-ratelimit-remaining'], '0');
      // The limit is per token: another token of the same admin is not affected.
      const other = apiClient(limited.url, (await aToken(limited.services, 'admin', 'second')).plaintext);
      assert.equal((await other.get('/domains')).status, 200);
    } finally {
      await limited.stop();
    }
  });

  test('malformed JSON → 400, a body over 100 kB → 413, both in the error shape', async () => {
    const bad = await api.post(`/domains/${domain}/credentials`).set('Content-Type', 'application/json').send('{"name": ');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.success, false);
    assert.equal(typeof bad.body.message, 'string');
    const big = await api.post(`/domains/${domain}/credentials`, { name: 'x'.repeat(110 * 1024) });
    assert.equal(big.status, 413);
    assert.equal(big.body.success, false);
  });

  test('a body that is not JSON → 415, and nothing is generated or changed', async () => {
    const { address, mailbox } = await aMailbox(server.services, { domain });
    const res = await api.put(`/domains/${domain}/mailboxes/${address}/password`).type('form').send({ password: 'Kv7#pLq2!wZr-form' });
    assert.equal(res.status, 415);
    assert.deepEqual(res.body, { success: false, message: 'Content-Type must be application/json.' });
    assert.equal((await server.adapters.stores.accounts.findAccountById(mailbox.id))!.passwordHash, mailbox.passwordHash);
  });

  test('an unknown API route → 404 in the error shape', async () => {
    const res = await api.get('/nothing-here');
    assert.equal(res.status, 404);
    assert.equal(res.body.success, false);
  });
});

describe('credentials', () => {
  test('create → 201 with the credential, the password once, its strength and synced', async () => {
    const res = await api.post(`/domains/${domain}/credentials`, { name: 'Word Press!' });
    assert.equal(res.status, 201);
    assert.equal(res.body.success, true);
    const { credential, password, password_strength, synced } = res.body.data;
    assert.deepEqual(Object.keys(credential).sort(), [...CREDENTIAL_KEYS].sort());
    assert.match(credential.username, new RegExp(`^word-press-[a-z0-9]{4}@${domain.replace(/\./g, '\\.')}$`));
    assert.match(credential.guid, /^[0-9a-f-]{36}$/);
    assert.equal(credential.last_connection_at, null);
    assert.equal(Array.from(password as string).length, 20);
    assert.deepEqual(Object.keys(password_strength).sort(), [...STRENGTH_KEYS].sort());
    assert.equal(password_strength.meets_policy, true);
    assert.equal(synced, true);
    const stored = await server.adapters.stores.accounts.findCredentialByGuid(credential.guid);
    assert.equal(await hasher.verify(stored!.passwordHash, password), true);
    const list = await api.get(`/domains/${domain}/credentials`);
    assert.ok(list.body.data.credentials.some((c: { guid: string }) => c.guid === credential.guid));
    assert.ok(!JSON.stringify(list.body).includes(password));
  });

  test('a missing or wrongly typed name → 422 with errors per field, nothing created', async () => {
    const before = (await api.get(`/domains/${domain}/credentials`)).body.data.credentials.length;
    for (const body of [{}, { name: '' }, { name: ['a'] }, { name: { a: 1 } }, { name: 5 }]) {
      const res = await api.post(`/domains/${domain}/credentials`, body);
      assert.equal(res.status, 422, JSON.stringify(body));
      assert.equal(res.body.success, false);
      assert.ok(res.body.errors.name, JSON.stringify(res.body));
    }
    assert.equal((await api.get(`/domains/${domain}/credentials`)).body.data.credentials.length, before);
  });

  test('reset answers the SPEC shape; the old password no longer verifies', async () => {
    const created = (await api.post(`/domains/${domain}/credentials`, { name: 'CRM' })).body.data;
    const res = await api.put(`/domains/${domain}/credentials/${created.credential.guid}/reset-password`);
    assert.equal(res.status, 200);
    assert.equal(res.body.message, 'Password reset successfully.');
    assert.deepEqual(Object.keys(res.body.data).sort(), ['credential', 'password', 'password_strength', 'synced']);
    assert.notEqual(res.body.data.password, created.password);
    const stored = await server.adapters.stores.accounts.findCredentialByGuid(created.credential.guid);
    assert.equal(await hasher.verify(stored!.passwordHash, res.body.data.password), true);
    assert.equal(await hasher.verify(stored!.passwordHash, created.password), false);
  });

  test('delete → 200; then the GUID is 404 Credential not found', async () => {
    const created = (await api.post(`/domains/${domain}/credentials`, { name: 'Temp' })).body.data;
    const del = await api.delete(`/domains/${domain}/credentials/${created.credential.guid}`);
    assert.equal(del.status, 200);
    assert.equal(del.body.success, true);
    const again = await api.put(`/domains/${domain}/credentials/${created.credential.guid}/reset-password`);
    assert.equal(again.status, 404);
    assert.deepEqual(again.body, { success: false, message: 'Credential not found' });
  });

  test('unknown GUIDs and garbage → 404 Credential not found', async () => {
    for (const guid of ['92703823-f3a4-48e2-8e87-7adf25454800', 'nope', '..%2f..%2fetc', "1' OR '1'='1"]) {
      const res = await api.put(`/domains/${domain}/credentials/${encodeURIComponent(guid)}/reset-password`);
      assert.equal(res.status, 404, guid);
      assert.deepEqual(res.body, { success: false, message: 'Credential not found' });
    }
  });
});

describe('domain scoping', () => {
  test('a domain admin\'s token sees only its domains: another domain is 404 Domain not found', async () => {
    const mine = await aDomain(server.services);
    const other = await aDomain(server.services);
    const { username } = await anAdmin(server.services, { domains: [mine.name] });
    const client = apiClient(server.url, (await aToken(server.services, username)).plaintext);
    const domains = (await client.get('/domains')).body.data.domains.map((d: { name: string }) => d.name);
    assert.deepEqual(domains, [mine.name]);
    for (const path of [`/domains/${other.name}/credentials`, `/domains/${other.name}/mailboxes`, '/domains/nowhere.example/credentials']) {
      const res = await client.get(path);
      assert.equal(res.status, 404, path);
      assert.deepEqual(res.body, { success: false, message: 'Domain not found' });
    }
    const post = await client.post(`/domains/${other.name}/credentials`, { name: 'sneaky' });
    assert.equal(post.status, 404);
  });

  test('a credential of another domain of the same admin → 403; of a foreign domain → 404', async () => {
    const a = await aDomain(server.services);
    const b = await aDomain(server.services);
    const foreign = await aDomain(server.services);
    const { username } = await anAdmin(server.services, { domains: [a.name, b.name] });
    const client = apiClient(server.url, (await aToken(server.services, username)).plaintext);
    const inB = (await server.services.credentials.createCredential(cliActor, await server.services.domains.requireDomain(cliActor, b.name), "B app")).credential;
    const inForeign = (await server.services.credentials.createCredential(cliActor, await server.services.domains.requireDomain(cliActor, foreign.name), 'F app')).credential;
    const wrong = await client.put(`/domains/${a.name}/credentials/${inB.guid}/reset-password`);
    assert.equal(wrong.status, 403);
    assert.deepEqual(wrong.body, { success: false, message: 'Credential does not belong to the specified domain' });
    const hidden = await client.delete(`/domains/${a.name}/credentials/${inForeign.guid}`);
    assert.equal(hidden.status, 404);
    assert.deepEqual(hidden.body, { success: false, message: 'Credential not found' });
    assert.ok(await server.adapters.stores.accounts.findCredentialByGuid(inForeign.guid!));
  });

  test('an unverified domain → 409 Domain is not verified', async () => {
    const pending = await aDomain(server.services, { verified: false });
    for (const res of [await api.get(`/domains/${pending.name}/credentials`), await api.post(`/domains/${pending.name}/credentials`, { name: 'x' })]) {
      assert.equal(res.status, 409);
      assert.deepEqual(res.body, { success: false, message: 'Domain is not verified' });
    }
  });
});

describe('mailboxes', () => {
  test('list with search and pages', async () => {
    const d = await aDomain(server.services);
    await aMailbox(server.services, { domain: d.name, local: 'alice' });
    await aMailbox(server.services, { domain: d.name, local: 'bob' });
    const res = await api.get(`/domains/${d.name}/mailboxes?search=al`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.data.mailboxes.map((m: { address: string }) => m.address), [`alice@${d.name}`]);
    assert.equal(res.body.data.total, 1);
    assert.equal(res.body.data.page_size, 50);
  });

  test('set a given password, or generate one when omitted; a weak one → 422 naming the rules', async () => {
    const { address, mailbox } = await aMailbox(server.services, { domain });
    const given = strongPassword('API');
    const res = await api.put(`/domains/${domain}/mailboxes/${address}/password`, { password: given });
    assert.equal(res.status, 200);
    assert.equal(res.body.data.password, undefined);
    assert.equal(res.body.data.synced, true);
    assert.equal(res.body.data.mailbox.address, address);
    assert.equal(await hasher.verify((await server.adapters.stores.accounts.findAccountById(mailbox.id))!.passwordHash, given), true);
    const gen = await api.put(`/domains/${domain}/mailboxes/${address}/password`);
    assert.equal(gen.status, 200);
    assert.equal(gen.body.data.password.length, 20);
    const weak = await api.put(`/domains/${domain}/mailboxes/${address}/password`, { password: 'abc' });
    assert.equal(weak.status, 422);
    assert.ok(weak.body.errors.password.length >= 3);
    const unknown = await api.put(`/domains/${domain}/mailboxes/ghost@${domain}/password`, { password: given });
    assert.equal(unknown.status, 404);
  });
});
