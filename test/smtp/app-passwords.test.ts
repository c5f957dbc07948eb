import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { aDomain, aMailbox } from '../helpers/builders.js';
import { loginAsMailbox, postForm, startTestServer, type TestServer } from '../helpers/server.js';
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
  const [app] = await server.adapters.store.listAppPasswords(box.mailbox.id);
  assert.ok(app!.lastLoginAt, 'its last connection');
  const history = await server.adapters.store.listLoginHistory(box.mailbox.id, 50);
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
  const [laptopRow] = (await server.adapters.store.listAppPasswords(box.mailbox.id)).filter((x) => x.name === 'Laptop');
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
