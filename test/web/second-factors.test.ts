import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { aDomain, aMailbox, anAdmin } from '../helpers/builders.js';
import { ADMIN_PASSWORD } from '../helpers/env.js';
import { csrfOf, loginAsAdmin, loginAsMailbox, postForm, startTestServer, type Agent, type TestServer } from '../helpers/server.js';
import { codeAt } from '../helpers/totp.js';

// SPEC §11: TOTP (with recovery codes) as a second factor of the panel login.

let server: TestServer;
let domain: string;

before(async () => {
  server = await startTestServer({ LOGIN_MAX_ATTEMPTS_PER_IP: '1000' });
  domain = (await aDomain(server.services)).name;
});
after(() => server.stop());


/** Turns TOTP on from the security page as its owner does; returns the secret and the recovery codes. */
async function turnOn(agent: Agent, page: string) {
  const shown = await agent.get(page);
  assert.equal(shown.status, 200);
  assert.match(shown.text, /<img src="data:image\/png;base64,[^"]+" width="200" height="200" alt="QR code/);
  const secret = /<code id="totp-secret">([A-Z2-7 ]+)<\/code>/.exec(shown.text)![1]!.replace(/ /g, '');
  assert.equal(secret.length, 32);
  const wrong = await agent.post(`${page}/totp`).type('form').send({ code: '000000', _csrf: csrfOf(shown.text) });
  assert.equal(wrong.status, 422);
  const res = await agent.post(`${page}/totp`).type('form').send({ code: codeAt(secret), _csrf: csrfOf(shown.text) });
  assert.equal(res.status, 200);
  const codes = [...res.text.matchAll(/<li><code>([a-z2-9]{5}-[a-z2-9]{5})<\/code><\/li>/g)].map((m) => m[1]!);
  assert.equal(codes.length, 10);
  assert.equal(new Set(codes).size, 10);
  return { secret, codes };
}

/** The first step: the password; returns the agent waiting at the second step. */
async function password(address: string, pw: string) {
  const agent = request.agent(server.url);
  const res = await postForm(agent, '/login', '/login', { email: address, password: pw });
  assert.equal(res.status, 303);
  assert.equal(res.headers.location, '/login/second-factor');
  return agent;
}

const second = (agent: Agent, code: string, page = '/login/second-factor') => postForm(agent, page, page, { code });

describe('a mailbox owner with TOTP', () => {
  test('turning it on shows a QR code and the secret, wants a right code, then shows 10 recovery codes once', async () => {
    const box = await aMailbox(server.services, { domain });
    const agent = await loginAsMailbox(server.url, box.address, box.password);
    await turnOn(agent, '/account/security');
    const after = await agent.get('/account/security');
    assert.match(after.text, /On since \d{4}-\d{2}-\d{2}/);
    assert.match(after.text, /10 of 10/);
    assert.doesNotMatch(after.text, /<li><code>/, 'recovery codes are shown once');
  });

  test('the password alone opens nothing; a right code does, once; a recovery code works once; wrong codes are history', async () => {
    const box = await aMailbox(server.services, { domain });
    const { secret, codes } = await turnOn(await loginAsMailbox(server.url, box.address, box.password), '/account/security');

    const a = await password(box.address, box.password);
    assert.equal((await a.get('/account')).headers.location, '/login', 'the password alone is not a login');
    assert.equal((await second(a, '123456')).status, 401);
    const used = codeAt(secret, 1);
    const ok = await second(a, used);
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.location, '/account');
    assert.equal((await a.get('/account')).status, 200);

    const b = await password(box.address, box.password);
    assert.equal((await second(b, used)).status, 401, 'a code is accepted once');
    assert.equal((await second(b, codes[3]!.toUpperCase())).status, 303, 'a recovery code, typed in any case');
    const c = await password(box.address, box.password);
    assert.equal((await second(c, codes[3]!)).status, 401, 'a recovery code works once');

    await server.adapters.batcher.flush();
    const history = await server.adapters.stores.loginHistory.listLoginHistory(box.mailbox.id, 50);
    assert.ok(history.some((h) => h.mechanism === 'second-factor' && h.result === 'second-factor-failed' && h.count >= 3), JSON.stringify(history));
  });

  test("wrong codes count towards the login's web limit", async () => {
    const box = await aMailbox(server.services, { domain });
    await turnOn(await loginAsMailbox(server.url, box.address, box.password), '/account/security');
    const agent = await password(box.address, box.password);
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await second(agent, String(100000 + i))).status);
    assert.deepEqual(statuses, [...Array(10).fill(401), 429]);
  });

  test('a super admin removes them: audited, the sessions end, the password alone logs in again', async () => {
    const box = await aMailbox(server.services, { domain });
    const { secret } = await turnOn(await loginAsMailbox(server.url, box.address, box.password), '/account/security');
    const owner = await password(box.address, box.password);
    // The current step went to turning it on: the next one is the first that logs in.
    assert.equal((await second(owner, codeAt(secret, 1))).status, 303);
    const admin = await loginAsAdmin(server.url, 'admin', ADMIN_PASSWORD);
    const edit = `/admin/domains/${domain}/mailboxes/${box.address}`;
    assert.equal((await postForm(admin, edit, `${edit}/second-factors/remove`, {})).status, 303);
    assert.equal((await owner.get('/account')).headers.location, '/login', 'its session still works');
    await loginAsMailbox(server.url, box.address, box.password);
    const audited = (await server.query<{ n: number }>("SELECT count(*) AS n FROM audit_log WHERE action = 'second-factor.remove' AND target = ?", box.address))[0]!;
    assert.equal(audited.n, 1);
  });
});

describe('admins', () => {
  test('REQUIRE_ADMIN_SECOND_FACTOR: an admin without one is sent to add one before any other page; then it logs in with its code', async () => {
    const strict = await startTestServer({ REQUIRE_ADMIN_SECOND_FACTOR: 'true' });
    try {
      const { username, password: pw } = await anAdmin(strict.services, { isSuper: true });
      const agent = await loginAsAdmin(strict.url, username, pw);
      for (const page of ['/admin/domains', '/admin/tokens', '/admin/account']) assert.equal((await agent.get(page)).headers.location, '/admin/account/security', page);
      const shown = await agent.get('/admin/account/security');
      assert.match(shown.text, /requires a second factor for admins/);
      const { secret } = await turnOn(agent, '/admin/account/security');
      assert.equal((await agent.get('/admin/domains')).status, 200);

      const next = request.agent(strict.url);
      const first = await postForm(next, '/admin/login', '/admin/login', { username, password: pw });
      assert.equal(first.headers.location, '/admin/login/second-factor');
      const done = await second(next, codeAt(secret, 1), '/admin/login/second-factor');
      assert.equal(done.headers.location, '/admin/domains');
      assert.equal((await next.get('/admin/domains')).status, 200);

      // A super admin removes it: its sessions end, and the next login must add one again.
      await strict.services.secondFactors.removeFromAdmin({ kind: 'system', name: 'cli' }, username);
      assert.equal((await next.get('/admin/domains')).headers.location, '/admin/login', 'its sessions ended');
      const again = await loginAsAdmin(strict.url, username, pw);
      assert.equal((await again.get('/admin/domains')).headers.location, '/admin/account/security');

      // Issue 29: a passkey is a second factor too; an admin with only a passkey is not sent back.
      const admin = (await strict.adapters.stores.admins.findAdminByUsername(username))!;
      const entry = { at: Math.floor(Date.now() / 1000), actor: `admin:${username}`, action: 'second-factor.add' as const, target: username, ip: null, detail: 'passkey' };
      await strict.adapters.stores.secondFactors.addPasskey({ id: 'passkey-only', owner: `admin:${admin.id}`, publicKey: new Uint8Array(32), counter: 0, transports: [], createdAt: entry.at, lastUsedAt: null }, [], entry);
      assert.equal((await again.get('/admin/domains')).status, 200);
    } finally {
      await strict.stop();
    }
  });
});

describe('passkeys are bound to PUBLIC_URL, never to a Host header (issue 29)', () => {
  const optionsFor = async (url: string, host: string) => {
    const box = await aMailbox(server.services, { domain });
    const agent = await loginAsMailbox(url, box.address, box.password);
    const csrf = csrfOf((await agent.get('/account/security')).text);
    return agent.post('/account/security/passkey/options').set('Host', host).set('x-csrf-token', csrf).set('content-type', 'application/json').send('{}');
  };

  test('without PUBLIC_URL: a request for any other host than localhost gets no passkey ceremony (409, naming the setting)', async () => {
    const res = await optionsFor(server.url, 'evil.example');
    assert.equal(res.status, 409);
    assert.match(res.body.message, /Passkeys need PUBLIC_URL/);
  });

  test('with PUBLIC_URL: the relying party is its host, whatever Host the request names', async () => {
    const other = await startTestServer({ PUBLIC_URL: 'https://panel.example.test' });
    try {
      const d = (await aDomain(other.services)).name;
      const box = await aMailbox(other.services, { domain: d });
      const agent = await loginAsMailbox(other.url, box.address, box.password);
      const csrf = csrfOf((await agent.get('/account/security')).text);
      const res = await agent.post('/account/security/passkey/options').set('Host', 'evil.example').set('x-csrf-token', csrf).set('content-type', 'application/json').send('{}');
      assert.equal(res.status, 200);
      assert.equal(res.body.rp.id, 'panel.example.test');
    } finally {
      await other.stop();
    }
  });
});
