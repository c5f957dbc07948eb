import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import request from 'supertest';
import { cliActor } from '../../src/core/actors.js';
import { aDomain, aMailbox, anAdmin, strongPassword } from '../helpers/builders.js';
import { startDownstream } from '../helpers/downstream.js';
import { csrfOf, loginAsAdmin, loginAsMailbox, postForm, type Agent } from '../helpers/server.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { RawSmtp } from '../helpers/smtp-client.js';

// Issue 17: an owner is told when its password changes, a second factor is added or removed, or
// a login comes from a network it never used: by mail through the relay, else on its next visit.

type Downstream = Awaited<ReturnType<typeof startDownstream>>;

/** Writes the pending login batch (new networks are found there) and waits for the alerts it raised. */
async function settle(server: TestServer) {
  await server.adapters.batcher.flush();
  await server.services.alerts.settled();
}

async function smtpLogin(server: TestServer, address: string, password: string, localAddress: string) {
  const c = await RawSmtp.ready(server.smtpPorts.smtps, { implicitTls: true, dataDir: server.dataDir, localAddress });
  try {
    assert.equal((await c.authPlain(address, password)).code, 235);
  } finally {
    c.close();
  }
}

const headerOf = (data: string, name: string) => new RegExp(`^${name}: (.*)$`, 'mi').exec(data)?.[1];

describe('alerts by mail through the relay', () => {
  let down: Downstream;
  let server: TestServer;
  let domain: string;
  before(async () => {
    down = await startDownstream();
    server = await startTestServer({ RELAY_URL: `smtp://127.0.0.1:${down.port}`, RELAY_TIMEOUT_SECONDS: '2' }, { smtp: true });
    domain = (await aDomain(server.services)).name;
  });
  after(async () => {
    await server.stop();
    await down.stop();
  });

  const messagesTo = (address: string) => down.received.filter((m) => m.to.includes(address));

  test('a login from a new network is told once; the first network and a known one are not', async () => {
    const box = await aMailbox(server.services, { domain });
    await smtpLogin(server, box.address, box.password, '127.0.0.1');
    await settle(server);
    assert.equal(messagesTo(box.address).length, 0, 'the first network of an account is nothing to tell');

    await smtpLogin(server, box.address, box.password, '127.0.1.7');
    await settle(server);
    const [alert, ...more] = messagesTo(box.address);
    assert.ok(alert, 'a login from 127.0.1.0/24 is a new network');
    assert.equal(more.length, 0);
    assert.equal(alert.from, '', 'sent from the null sender: nothing bounces an automatic notice');
    assert.equal(headerOf(alert.data, 'Subject'), 'A login from a new network');
    assert.equal(headerOf(alert.data, 'From'), `postmaster@${domain}`);
    assert.equal(headerOf(alert.data, 'To'), box.address);
    assert.equal(headerOf(alert.data, 'Auto-Submitted'), 'auto-generated');
    assert.match(alert.data, /over SMTP \(a mail program\) from 127\.0\.1\.7 on /);
    assert.doesNotMatch(alert.data, /https?:\/\//, 'no link: an alert that asks for a click looks like phishing');
    assert.ok(!alert.data.includes(box.password));

    // Another address of the same /24, and the first network again: both known.
    await smtpLogin(server, box.address, box.password, '127.0.1.9');
    await smtpLogin(server, box.address, box.password, '127.0.0.1');
    await settle(server);
    assert.equal(messagesTo(box.address).length, 1);
  });

  test('a password change by its owner and a reset by an admin are told, without the password', async () => {
    const box = await aMailbox(server.services, { domain });
    const agent = await loginAsMailbox(server.url, box.address, box.password);
    const next = strongPassword('changed');
    const res = await postForm(agent, '/account', '/account', { current_password: box.password, new_password: next, confirm_password: next });
    assert.equal(res.status, 303);
    await settle(server);
    const [changed] = messagesTo(box.address).filter((m) => headerOf(m.data, 'Subject') === 'Your password was changed');
    assert.ok(changed);
    assert.match(changed.data, new RegExp(`The password of ${box.address.replace('.', '\\.')} was changed on .* from 127\\.0\\.0\\.1\\.`));
    assert.ok(!changed.data.includes(next) && !changed.data.includes(box.password));

    const reset = await server.services.mailboxes.resetPassword(cliActor, (await server.services.domains.requireDomain(cliActor, domain))!, box.address, { generate: true });
    await settle(server);
    const resets = messagesTo(box.address).filter((m) => /reset by an administrator/.test(m.data));
    assert.equal(resets.length, 1);
    assert.ok(!resets[0]!.data.includes(reset.password), 'the generated password is never mailed');
  });

  test('a second factor added and removed is told', async () => {
    const box = await aMailbox(server.services, { domain });
    const actor = { kind: 'mailbox' as const, id: box.mailbox.id, login: box.address };
    const { secret } = server.services.secondFactors.newTotp(actor);
    const code = new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' }).generate();
    await server.services.secondFactors.confirmTotp(actor, secret, code, '127.0.0.1');
    await server.services.secondFactors.removeFromMailbox(cliActor, (await server.services.domains.requireDomain(cliActor, domain))!, box.address);
    await settle(server);
    // Sent side by side on two relay connections: their order is not the point.
    const subjects = messagesTo(box.address).map((m) => headerOf(m.data, 'Subject')).sort();
    assert.deepEqual(subjects, ['A second factor was added to your login', 'The second factors of your login were removed']);
    const added = messagesTo(box.address).find((m) => /second factor was added/.test(m.data))!;
    assert.match(added.data, /An authenticator app was added as a second factor of .* from 127\.0\.0\.1\./);
    assert.ok(!added.data.includes(secret), 'the TOTP secret is never mailed');
  });

  test('when the relay refuses the alert, the owner sees it on its next visit instead', async () => {
    const box = await aMailbox(server.services, { domain });
    down.state.dataMode = 'reject';
    try {
      await server.services.mailboxes.resetPassword(cliActor, (await server.services.domains.requireDomain(cliActor, domain))!, box.address, { password: strongPassword('r2') });
      await settle(server);
    } finally {
      down.state.dataMode = 'accept';
    }
    assert.equal(messagesTo(box.address).length, 0);
    const agent = await loginAsMailbox(server.url, box.address, strongPassword('r2'));
    const page = await agent.get('/account');
    assert.match(page.text, /Since your last visit/);
    assert.match(page.text, /was reset by an administrator/);
  });
});

describe('alerts as notices without a relay', () => {
  let server: TestServer;
  let domain: string;
  before(async () => {
    // The panel behind a proxy on loopback: X-Forwarded-For gives each login its client address.
    server = await startTestServer({ TRUST_PROXY: 'loopback' });
    domain = (await aDomain(server.services)).name;
  });
  after(() => server.stop());

  /** Logs in through the form as if from `ip`. */
  async function loginFrom(ip: string, path: '/login' | '/admin/login', fields: Record<string, string>): Promise<Agent> {
    const agent = request.agent(server.url);
    const form = await agent.get(path).set('X-Forwarded-For', ip);
    const res = await agent.post(path).set('X-Forwarded-For', ip).type('form').send({ ...fields, _csrf: csrfOf(form.text) });
    assert.equal(res.status, 303, `login from ${ip}`);
    return agent;
  }

  test('a password change shows once on the next visit to /account', async () => {
    const box = await aMailbox(server.services, { domain });
    const agent = await loginAsMailbox(server.url, box.address, box.password);
    const next = strongPassword('n1');
    await postForm(agent, '/account', '/account', { current_password: box.password, new_password: next, confirm_password: next });
    await settle(server);
    const again = await loginAsMailbox(server.url, box.address, next);
    const first = await again.get('/account');
    assert.match(first.text, /<h2 id="notices-title">Since your last visit<\/h2>/);
    assert.match(first.text, /The password of .* was changed on .* from 127\.0\.0\.1\./);
    const second = await again.get('/account');
    assert.doesNotMatch(second.text, /Since your last visit/, 'a notice is shown once');
  });

  test('a web login from a new network shows on the next visit; the first network does not', async () => {
    const box = await aMailbox(server.services, { domain });
    await loginFrom('198.51.100.7', '/login', { email: box.address, password: box.password });
    await settle(server);
    const sameNet = await loginFrom('198.51.100.200', '/login', { email: box.address, password: box.password });
    await settle(server);
    assert.doesNotMatch((await sameNet.get('/account')).text, /Since your last visit/);

    await loginFrom('2001:db8:1:2::5', '/login', { email: box.address, password: box.password });
    await settle(server);
    const page = await sameNet.get('/account');
    assert.match(page.text, /was logged into over the web panel from 2001:db8:1:2::5 on .*, a network it had not been used from before/);
  });

  test('an admin sees a new network and a password set by another admin on the domain list', async () => {
    const admin = await anAdmin(server.services, { isSuper: true });
    await loginFrom('192.0.2.10', '/admin/login', { username: admin.username, password: admin.password });
    await server.services.admins.setPassword(cliActor, admin.username, { password: strongPassword('adm2') });
    await settle(server);
    const agent = await loginFrom('203.0.113.20', '/admin/login', { username: admin.username, password: strongPassword('adm2') });
    await settle(server);
    const list = await agent.get('/admin/domains');
    assert.match(list.text, /The password of .* was reset by an administrator/);
    assert.match(list.text, /logged into over the web panel from 203\.0\.113\.20/);
    assert.doesNotMatch((await agent.get('/admin/domains')).text, /Since your last visit/);
    assert.ok(await loginAsAdmin(server.url, admin.username, strongPassword('adm2')));
  });
});
