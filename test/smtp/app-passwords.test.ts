import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { aDomain, aMailbox, anAdmin, strongPassword } from '../helpers/builders.js';
import { csrfOf, loginAsAdmin, loginAsMailbox, postForm, startTestServer, type TestServer } from '../helpers/server.js';
import { RawSmtp } from '../helpers/smtp-client.js';

// SPEC §11: app passwords for mail apps; with a second factor on, only they log in over SMTP.

let server: TestServer;
let domain: string;

before(async () => {
  server = await startTestServer({}, { smtp: true });
  domain = (await aDomain(server.services)).name;
});
after(() => server.stop());

async function smtp(login: string, password: string) {
  const c = await RawSmtp.ready(server.smtpPorts.smtps, { implicitTls: true, dataDir: server.dataDir });
  const reply = await c.authPlain(login, password);
  return { c, code: reply.code };
}
const once = async (login: string, password: string) => {
  const { c, code } = await smtp(login, password);
  c.close();
  return code;
};

async function createApp(agent: Awaited<ReturnType<typeof loginAsMailbox>>, name: string) {
  const res = await postForm(agent, '/account/security', '/account/security/app-passwords', { name });
  assert.equal(res.status, 201);
  return /<code id="app-password">([^<]+)<\/code>/.exec(res.text)![1]!.replace(/&amp;/g, '&');
}

test('an app password, shown once, logs in over SMTP; with a second factor on, only app passwords do', async () => {
  const box = await aMailbox(server.services, { domain });
  const agent = await loginAsMailbox(server.url, box.address, box.password);
  const phone = await createApp(agent, 'Phone');
  assert.equal(phone.length, 20);
  const page = await agent.get('/account/security');
  assert.ok(!page.text.includes(phone), 'the app password is shown again');
  assert.match(page.text, /<td data-label="Name" class="strong">Phone<\/td>/);
  assert.equal(await once(box.address, phone), 235);
  assert.equal(await once(box.address, box.password), 235, 'without a second factor the mailbox password still works');

  const { secret } = server.services.secondFactors.newTotp({ kind: 'mailbox', id: box.mailbox.id, login: box.address });
  const code = new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' }).generate();
  await server.services.secondFactors.confirmTotp({ kind: 'mailbox', id: box.mailbox.id, login: box.address }, secret, code);
  assert.equal(await once(box.address, box.password), 535, 'the mailbox password logs in over SMTP with a second factor on');
  assert.equal(await once(box.address, phone), 235);
  assert.equal(await once(box.address, `${phone.slice(0, 6)}x-wrong-rest-of-it`), 535);

  await server.adapters.batcher.flush();
  const [app] = await server.adapters.stores.appPasswords.listAppPasswords(box.mailbox.id);
  assert.ok(app!.lastLoginAt, 'its last connection');
  const history = await server.adapters.stores.loginHistory.listLoginHistory(box.mailbox.id, 50);
  assert.ok(history.some((h) => h.mechanism === `app-password:${app!.id}` && h.result === 'ok' && h.count === 2), JSON.stringify(history));
});

test("revoking one ends its live SMTP sessions, not another app password's, and it logs in no more", async () => {
  const box = await aMailbox(server.services, { domain });
  const agent = await loginAsMailbox(server.url, box.address, box.password);
  const laptop = await createApp(agent, 'Laptop');
  const tablet = await createApp(agent, 'Tablet');
  const a = await smtp(box.address, laptop);
  const b = await smtp(box.address, tablet);
  assert.equal(a.code, 235);
  assert.equal(b.code, 235);
  const [laptopRow] = (await server.adapters.stores.appPasswords.listAppPasswords(box.mailbox.id)).filter((x) => x.name === 'Laptop');
  const revoked = await postForm(agent, '/account/security', `/account/security/app-passwords/${laptopRow!.id}/revoke`, {});
  assert.equal(revoked.status, 303);
  assert.match((await a.c.read()).text, /^421 4\.7\.0 /);
  assert.equal((await b.c.cmd('NOOP')).code, 250, "the other app password's session ended too");
  a.c.close();
  b.c.close();
  assert.equal(await once(box.address, laptop), 535);
  assert.equal(await once(box.address, tablet), 235);
  const audited = (await server.query<{ n: number }>("SELECT count(*) AS n FROM audit_log WHERE action IN ('app-password.create', 'app-password.revoke') AND target = ?", box.address))[0]!;
  assert.equal(audited.n, 3);
});

// Issue 29, item 3 (SPEC §16): a stolen password or session does not become lasting access.
test('a password change by the owner and a reset by an admin revoke the app passwords; the forms say so first', async () => {
  const box = await aMailbox(server.services, { domain });
  const agent = await loginAsMailbox(server.url, box.address, box.password);
  const phone = await createApp(agent, 'Phone');
  const laptop = await createApp(agent, 'Laptop');
  assert.equal(await once(box.address, phone), 235);
  assert.match((await agent.get('/account')).text, /2 app passwords will stop working/);
  const next = strongPassword('-next');
  const changed = await postForm(agent, '/account', '/account', { current_password: box.password, new_password: next, confirm_password: next });
  assert.equal(changed.status, 303);
  assert.equal(await once(box.address, phone), 535, 'an app password outlived the password change');
  assert.equal(await once(box.address, laptop), 535);
  assert.deepEqual(await server.adapters.stores.appPasswords.listAppPasswords(box.mailbox.id), []);

  const again = await loginAsMailbox(server.url, box.address, next);
  const tablet = await createApp(again, 'Tablet');
  assert.match((await again.get('/account')).text, /1 app password will stop working/);
  const { username, password } = await anAdmin(server.services, { domains: [domain] });
  const admin = await loginAsAdmin(server.url, username, password);
  const edit = `/admin/domains/${domain}/mailboxes/${box.address}`;
  assert.match((await admin.get(edit)).text, /1 app password will stop working/);
  assert.equal((await postForm(admin, edit, `${edit}/password`, { password: strongPassword('-reset') })).status, 303);
  assert.equal(await once(box.address, tablet), 535, 'an app password outlived the admin reset');
  assert.doesNotMatch((await admin.get(edit)).text, /will stop working/);
});

/** Moves the owner's sessions' last password entry back by `seconds` (as if that much time had passed). */
async function ageSessions(owner: string, seconds: number) {
  for (const row of await server.query<{ key: string; data: string }>('SELECT key, data FROM sessions WHERE owner = ?', owner)) {
    const data = JSON.parse(row.data) as { passwordAt?: number };
    data.passwordAt = (data.passwordAt ?? 0) - seconds;
    await server.query('UPDATE sessions SET data = ? WHERE key = ?', JSON.stringify(data), row.key);
  }
}

test('an app password, TOTP, a passkey and an Apple profile need the password typed in the last 5 minutes; creating one is alerted', async () => {
  const box = await aMailbox(server.services, { domain });
  const owner = `mailbox:${box.mailbox.id}` as const;
  const agent = await loginAsMailbox(server.url, box.address, box.password);
  await server.services.alerts.settled();
  await server.services.alerts.take(owner);
  await createApp(agent, 'Fresh login');
  await server.services.alerts.settled();
  const told = await server.services.alerts.take(owner);
  assert.equal(told.length, 1);
  assert.match(told[0]!.text, /An app password named "Fresh login" was created for .* from 127\.0\.0\.1/);

  await ageSessions(owner, 301);
  const page = await agent.get('/account/security');
  assert.match(page.text, /<label for="current_password">Current password<\/label>/);
  const stale = await postForm(agent, '/account/security', '/account/security/app-passwords', { name: 'Stolen session' });
  assert.equal(stale.status, 303);
  assert.equal(stale.headers.location, '/account/security');
  assert.match((await agent.get('/account/security')).text, /enter your password again before you add a way to log in/);
  const totp = await postForm(agent, '/account/security', '/account/security/totp', { code: '123456' });
  assert.equal(totp.status, 303, 'TOTP is not even checked');
  const profile = await postForm(agent, '/account/security', '/account/mobileconfig', {});
  assert.equal(profile.status, 303);
  const csrf = csrfOf((await agent.get('/account/security')).text);
  const passkey = await agent.post('/account/security/passkey/options').set('x-csrf-token', csrf).set('content-type', 'application/json').send('{}');
  assert.equal(passkey.status, 403);
  assert.equal(passkey.body.message, 'Enter your password again on this page first.');
  assert.deepEqual((await server.adapters.stores.appPasswords.listAppPasswords(box.mailbox.id)).map((a) => a.name), ['Fresh login']);

  const wrong = await postForm(agent, '/account/security', '/account/security/confirm', { current_password: 'Not#the-password1' });
  assert.equal(wrong.status, 422);
  assert.match(wrong.text, /Is not correct\./);
  const right = await postForm(agent, '/account/security', '/account/security/confirm', { current_password: box.password });
  assert.equal(right.status, 303);
  await createApp(agent, 'After confirming');
  assert.doesNotMatch((await agent.get('/account/security')).text, /<label for="current_password">/);
});
