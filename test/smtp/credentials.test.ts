import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cliActor } from '../../src/core/actors.js';
import { aToken, apiClient } from '../helpers/api.js';
import { aDomain, aMailbox, strongPassword } from '../helpers/builders.js';
import { RawSmtp } from '../helpers/smtp-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let domain: string;
let api: ReturnType<typeof apiClient>;

before(async () => {
  server = await startTestServer({ SMTP_AUTH_MAX_FAILURES: '1000', API_RATE_LIMIT: '1000' }, { smtp: true });
  domain = (await aDomain(server.services)).name;
  api = apiClient(server.url, (await aToken(server.services, 'admin')).plaintext);
});
after(() => server.stop());

const auth = async (login: string, password: string, implicitTls = true) => {
  const c = await RawSmtp.ready(implicitTls ? server.smtpPorts.smtps : server.smtpPorts.smtp, { implicitTls, dataDir: server.dataDir });
  const reply = await c.authPlain(login, password);
  return { c, reply };
};

test('a credential logs in like a mailbox and may send as any address of its domain, not of another', async () => {
  const other = await aDomain(server.services);
  const { body } = await api.post(`/domains/${domain}/credentials`, { name: 'WordPress' });
  const { username, guid } = body.data.credential;
  const { c, reply } = await auth(username, body.data.password);
  assert.match(reply.text, /^235 2\.7\.0 /);
  assert.equal((await c.cmd(`MAIL FROM:<noreply@${domain}>`)).code, 250);
  await c.cmd('RSET');
  assert.match((await c.cmd(`MAIL FROM:<noreply@${other.name}>`)).text, /^553 5\.7\.1 /);
  c.close();
  // Its last connection reaches the API within 5 s.
  const deadline = Date.now() + 5000;
  let seen = null;
  while (seen === null && Date.now() < deadline) {
    const list = await api.get(`/domains/${domain}/credentials`);
    seen = list.body.data.credentials.find((x: { guid: string }) => x.guid === guid).last_connection_at;
    if (seen === null) await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(typeof seen === 'number' && seen > 0);
});

test('a reset over the API makes the old password fail over SMTP at once; the new one works', async () => {
  const { body } = await api.post(`/domains/${domain}/credentials`, { name: 'CRM' });
  const { username, guid } = body.data.credential;
  const warm = await auth(username, body.data.password, false);
  assert.equal(warm.reply.code, 235);
  const reset = await api.put(`/domains/${domain}/credentials/${guid}/reset-password`);
  assert.equal(reset.body.data.synced, true);
  assert.match((await warm.c.read()).text, /^421 4\.7\.0 /);
  const old = await auth(username, body.data.password);
  assert.equal(old.reply.code, 535);
  old.c.close();
  const fresh = await auth(username, reset.body.data.password);
  assert.equal(fresh.reply.code, 235);
  fresh.c.close();
});

test('20 concurrent resets of one credential: exactly one returned password authenticates, all others are refused', async () => {
  const { body } = await api.post(`/domains/${domain}/credentials`, { name: 'Race' });
  const { username, guid } = body.data.credential;
  const answers = await Promise.all(Array.from({ length: 20 }, () => api.put(`/domains/${domain}/credentials/${guid}/reset-password`)));
  const passwords = answers.filter((a) => a.status === 200).map((a) => a.body.data.password as string);
  for (const a of answers) assert.ok(a.status === 200 || a.status === 409, `${a.status} ${JSON.stringify(a.body)}`);
  assert.ok(passwords.length >= 1);
  const results = [];
  for (const pw of [...passwords, body.data.password]) {
    const { c, reply } = await auth(username, pw);
    results.push(reply.code);
    c.close();
  }
  assert.equal(results.filter((r) => r === 235).length, 1, results.join(','));
  assert.equal(results.filter((r) => r === 535).length, results.length - 1);
});

test('a deleted credential gets 535, and its live session ends', async () => {
  const { credential, password } = await server.services.credentials.createCredential(cliActor, await server.services.domains.requireDomain(cliActor, domain), 'Doomed');
  const live = await auth(credential.login, password);
  assert.equal(live.reply.code, 235);
  const del = await api.delete(`/domains/${domain}/credentials/${credential.guid}`);
  assert.equal(del.status, 200);
  assert.match((await live.c.read()).text, /^421 4\.7\.0 /);
  const after = await auth(credential.login, password);
  assert.equal(after.reply.text, '535 5.7.8 Authentication credentials invalid');
  after.c.close();
});

test('one namespace: a credential username can never be taken by a mailbox', async () => {
  const { credential } = await server.services.credentials.createCredential(cliActor, await server.services.domains.requireDomain(cliActor, domain), 'Taken');
  await assert.rejects(aMailbox(server.services, { domain, local: credential.localPart }), /already in use/);
});

test('synced: true means it: when the API answers a mailbox password change, SMTP refuses the old password', async () => {
  const { address, password } = await aMailbox(server.services, { domain });
  const warm = await auth(address, password);
  assert.equal(warm.reply.code, 235);
  warm.c.close();
  const next = strongPassword('Synced');
  const res = await api.put(`/domains/${domain}/mailboxes/${address}/password`, { password: next });
  assert.equal(res.status, 200);
  assert.equal(res.body.data.synced, true);
  const old = await auth(address, password);
  assert.equal(old.reply.code, 535);
  old.c.close();
  const fresh = await auth(address, next);
  assert.equal(fresh.reply.code, 235);
  fresh.c.close();
});
