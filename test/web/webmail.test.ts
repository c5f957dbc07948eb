import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { cliActor } from '../../src/core/actors.js';
import { aDomain, aMailbox, strongPassword } from '../helpers/builders.js';
import { loginAsMailbox, startTestServer, type TestServer } from '../helpers/server.js';
import { RawSmtp } from '../helpers/smtp-client.js';
import { turnOnTotp } from '../helpers/totp.js';

// SPEC §16: POST /api/webmail/password, what Roundcube's `password` plugin posts with its
// `httpapi` driver. The real Roundcube drives it in test/browser/roundcube.test.ts; here, each
// answer and what it leaves behind.

describe('the webmail password URL (SPEC §16)', () => {
  let server: TestServer;
  let domain: string;
  before(async () => {
    server = await startTestServer({ WEBMAIL_CLIENTS: '10.9.9.9, 127.0.0.0/8', LOGIN_MAX_ATTEMPTS: '3' }, { smtp: true });
    domain = (await aDomain(server.services)).name;
  });
  after(() => server.stop());

  const post = (fields: Record<string, string>) => request(server.url).post('/api/webmail/password').type('form').send(fields);
  const smtpAuth = (user: string, password: string) => RawSmtp.authCode(server, user, password);
  const history = (accountId: number) => server.query<{ protocol: string; mechanism: string; result: string }>('SELECT protocol, mechanism, result FROM login_history WHERE account_id = ?', accountId);

  test('the right current password and a good new one: 200 ok, the old password fails everywhere, sessions end, the history says webmail', async () => {
    const box = await aMailbox(server.services, { domain });
    const panel = await loginAsMailbox(server.url, box.address, box.password);
    const next = strongPassword('Webmail');
    const res = await post({ user: box.address, curpass: box.password, newpass: next });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'ok');
    assert.match(res.headers['content-type']!, /^text\/plain/);
    assert.equal(await smtpAuth(box.address, box.password), 535);
    assert.equal(await smtpAuth(box.address, next), 235);
    assert.equal((await panel.get('/account')).status, 303, 'the panel session ended');
    await server.adapters.batcher.flush();
    assert.deepEqual(await history(box.mailbox.id).then((h) => h.filter((r) => r.protocol === 'webmail')), [{ protocol: 'webmail', mechanism: 'password-change', result: 'ok' }]);
    const audit = await server.query<{ action: string; detail: string }>("SELECT action, detail FROM audit_log WHERE target = ? AND action = 'password.change'", box.address);
    assert.deepEqual(audit, [{ action: 'password.change', detail: 'webmail' }]);
  });

  test('refusals: 400 with each reason for the policy and "must differ", 401 for a wrong current password, 429 past the limit; nothing changes', async () => {
    const box = await aMailbox(server.services, { domain });
    const weak = await post({ user: box.address, curpass: box.password, newpass: 'short' });
    assert.equal(weak.status, 400);
    assert.match(weak.text, /Must be at least 8 characters long\..*Must contain an uppercase letter\./);
    const same = await post({ user: box.address, curpass: box.password, newpass: box.password });
    assert.equal(same.status, 400);
    assert.match(same.text, /Must differ from the current password\./);
    const missing = await post({ user: box.address, curpass: box.password });
    assert.equal(missing.status, 400);
    assert.match(missing.text, /newpass/);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await post({ user: box.address, curpass: `Wrong-${i}-pass!`, newpass: strongPassword('X') })).status);
    assert.deepEqual(statuses, [401, 401, 401, 429]);
    const limited = await post({ user: box.address, curpass: box.password, newpass: strongPassword('Y') });
    assert.equal(limited.status, 429, 'held, even with the right password');
    assert.match(limited.text, /^Too many attempts: try again in \d+ seconds\.$/);
    assert.ok(Number(limited.headers['retry-after']) > 0);
    assert.equal(await smtpAuth(box.address, box.password), 235, 'the password is unchanged');
    await server.adapters.batcher.flush();
    const results = (await history(box.mailbox.id)).filter((r) => r.protocol === 'webmail').map((r) => r.result).sort();
    assert.deepEqual(results, ['bad-password', 'locked', 'ok']);
  });

  test('a mailbox with a second factor is not changed by its password alone', async () => {
    const box = await aMailbox(server.services, { domain });
    await turnOnTotp(await loginAsMailbox(server.url, box.address, box.password), '/account/security');
    const res = await post({ user: box.address, curpass: box.password, newpass: strongPassword('Z') });
    assert.equal(res.status, 400);
    assert.match(res.text, /second factor/);
    await server.adapters.batcher.flush();
    assert.ok((await history(box.mailbox.id)).some((r) => r.protocol === 'webmail' && r.result === 'second-factor-required'));
  });

  test('only GET-less POSTs with form fields; an SMTP credential is no webmail user', async () => {
    assert.equal((await request(server.url).get('/api/webmail/password')).status, 405);
    const cred = await server.services.credentials.createCredential(cliActor, await server.services.domains.requireDomain(cliActor, domain), 'App');
    const res = await post({ user: cred.credential.login, curpass: cred.password, newpass: strongPassword('C') });
    assert.equal(res.status, 401);
  });
});

describe('WEBMAIL_CLIENTS', () => {
  test('unset, nobody may call it; set, only the addresses it names', async () => {
    const closed = await startTestServer();
    const other = await startTestServer({ WEBMAIL_CLIENTS: '10.0.0.0/8,::2' });
    try {
      const box = await aMailbox(closed.services, { domain: (await aDomain(closed.services)).name });
      for (const s of [closed, other]) {
        const res = await request(s.url).post('/api/webmail/password').type('form').send({ user: box.address, curpass: box.password, newpass: strongPassword('N') });
        assert.equal(res.status, 403);
        assert.match(res.text, /WEBMAIL_CLIENTS/);
      }
      assert.equal((await loginAsMailbox(closed.url, box.address, box.password)) !== null, true, 'the password is unchanged');
    } finally {
      await closed.stop();
      await other.stop();
    }
  });
});
