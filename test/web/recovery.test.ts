import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { FORGOT_PER_ADDRESS, FORGOT_PER_CLIENT } from '../../src/core/recovery.js';
import { aDomain, aMailbox, strongPassword } from '../helpers/builders.js';
import { startDownstream } from '../helpers/downstream.js';
import { csrfOf, loginAsMailbox, postForm, startTestServer, type Agent, type TestServer } from '../helpers/server.js';
import { RawSmtp } from '../helpers/smtp-client.js';
import { codeAt, turnOnTotp } from '../helpers/totp.js';

// SPEC §16: a recovery address, confirmed from a link sent to it, and a forgotten password reset
// from a link sent there, with the second factor still asked and everything ended afterwards.
// The relay is a real SMTP server that keeps what it was given: the links are read from the mail.

type Downstream = Awaited<ReturnType<typeof startDownstream>>;
const FORGOT_ANSWER = 'If this address has a recovery address, a link to reset its password is on its way.';

describe('recovery address and forgotten password (SPEC §16)', () => {
  let down: Downstream;
  let server: TestServer;
  let domain: string;
  before(async () => {
    down = await startDownstream();
    server = await startTestServer({ RELAY_URL: `smtp://127.0.0.1:${down.port}`, RELAY_TIMEOUT_SECONDS: '2', RESET_LINK_MINUTES: '30' }, { smtp: true });
    domain = (await aDomain(server.services)).name;
  });
  after(async () => {
    await server.stop();
    await down.stop();
  });

  const settle = async () => {
    await server.services.recovery.settled();
    await server.services.alerts.settled();
  };
  const mailTo = (address: string) => down.received.filter((m) => m.to.includes(address));
  const linkIn = (data: string, kind: 'reset' | 'recovery') => {
    const m = new RegExp(`http://127\\.0\\.0\\.1:\\d+(/login/${kind}/[A-Za-z0-9_-]{43})`).exec(data);
    assert.ok(m, `no ${kind} link in:\n${data}`);
    return m[1]!;
  };

  /** Sets and confirms `recovery` as the recovery address of a new mailbox; returns the mailbox and its signed-in agent. */
  const withRecovery = async (recovery: string) => {
    const box = await aMailbox(server.services, { domain });
    const agent = await loginAsMailbox(server.url, box.address, box.password);
    const saved = await postForm(agent, '/account', '/account/recovery', { recovery_address: recovery, recovery_password: box.password });
    assert.equal(saved.status, 303, saved.text);
    const link = linkIn(mailTo(recovery).at(-1)!.data, 'recovery');
    const anonymous = request.agent(server.url);
    const page = await anonymous.get(link);
    assert.equal(page.status, 200);
    const confirmed = await anonymous.post(link).type('form').send({ _csrf: csrfOf(page.text) });
    assert.equal(confirmed.status, 200, confirmed.text);
    await settle();
    return { box, agent };
  };

  /** Asks for a reset link as a stranger would, and returns the path mailed to `recovery`. */
  const askReset = async (address: string, recovery: string) => {
    const before = mailTo(recovery).length;
    const res = await postForm(request.agent(server.url), '/login/forgot', '/login/forgot', { email: address });
    assert.equal(res.status, 200);
    assert.ok(res.text.includes(FORGOT_ANSWER));
    await settle();
    assert.equal(mailTo(recovery).length, before + 1, 'one reset mail to the recovery address');
    return linkIn(mailTo(recovery).at(-1)!.data, 'reset');
  };

  test('the login page links `Forgot password?`; the form answers the same for every address, and mails only a confirmed recovery address', async () => {
    const login = await request(server.url).get('/login');
    assert.match(login.text, /<a href="\/login\/forgot">Forgot password\?<\/a>/);
    const form = await request(server.url).get('/login/forgot');
    assert.match(form.text, /<label for="email">Email address<\/label>/);
    assert.match(form.text, /<button type="submit">Send reset link<\/button>/);

    const none = await aMailbox(server.services, { domain });
    const waiting = await aMailbox(server.services, { domain });
    const agent = await loginAsMailbox(server.url, waiting.address, waiting.password);
    await postForm(agent, '/account', '/account/recovery', { recovery_address: `waiting-${domain}@elsewhere.test`, recovery_password: waiting.password });
    const { box } = await withRecovery(`kept-${domain}@elsewhere.test`);
    const sentBefore = down.received.length;

    const answers: string[] = [];
    for (const email of [`nobody@${domain}`, none.address, waiting.address, box.address, 'not an address']) {
      const res = await postForm(request.agent(server.url), '/login/forgot', '/login/forgot', { email });
      assert.equal(res.status, 200, email);
      answers.push(res.text.replace(/name="_csrf" value="[^"]+"/, ''));
    }
    assert.ok(answers[0]!.includes(FORGOT_ANSWER));
    assert.equal(new Set(answers).size, 1, 'every address gets the same page');
    await settle();
    const sent = down.received.slice(sentBefore);
    assert.deepEqual(sent.map((m) => m.to), [[`kept-${domain}@elsewhere.test`]], 'only the confirmed recovery address gets a link');
    assert.match(sent[0]!.data, new RegExp(`password of ${box.address.replace('.', '\\.')}`));
    const audit = await server.query<{ action: string; target: string }>("SELECT action, target FROM audit_log WHERE action = 'password.reset-link'");
    assert.deepEqual(audit.map((a) => a.target), [box.address]);
  });

  test('a reset link changes the password once: sessions and SMTP end, app passwords are revoked, both addresses are told', async () => {
    const recovery = `owner-${domain}@elsewhere.test`;
    const { box, agent } = await withRecovery(recovery);
    const smtp = await RawSmtp.ready(server.smtpPorts.smtps, { implicitTls: true, dataDir: server.dataDir });
    assert.equal((await smtp.authPlain(box.address, box.password)).code, 235);
    await server.services.appPasswords.create({ kind: 'mailbox', id: box.mailbox.id, login: box.address }, 'Phone');
    const link = await askReset(box.address, recovery);

    const stranger = request.agent(server.url);
    const page = await stranger.get(link);
    assert.equal(page.status, 200);
    assert.match(page.text, /<label for="new_password">New password<\/label>/);
    assert.match(page.text, /<label for="confirm_password">Confirm new password<\/label>/);
    assert.match(page.text, /<button type="submit">Change password<\/button>/);
    assert.equal(page.headers['cache-control'], 'no-store');

    const weak = await stranger.post(link).type('form').send({ _csrf: csrfOf(page.text), new_password: 'password', confirm_password: 'password' });
    assert.equal(weak.status, 422);
    assert.match(weak.text, /Must contain an uppercase letter/);
    const next = strongPassword('Reset');
    const done = await stranger.post(link).type('form').send({ _csrf: csrfOf(weak.text), new_password: next, confirm_password: next });
    assert.equal(done.status, 303, done.text);
    assert.equal(done.headers.location, '/login?reset=1');
    await settle();

    // Everything of the old password is over, at once.
    assert.equal((await agent.get('/account')).status, 303, 'the old web session ended');
    const reply = await smtp.cmd('NOOP').catch(() => ({ code: 0 }));
    assert.notEqual(reply.code, 250, 'the SMTP session of the old password ended');
    smtp.close();
    assert.equal(await RawSmtp.authCode(server, box.address, box.password), 535, 'the old password is refused');
    await loginAsMailbox(server.url, box.address, next);
    assert.deepEqual(await server.services.appPasswords.list({ kind: 'mailbox', id: box.mailbox.id, login: box.address }), [], 'app passwords revoked');

    // Used once.
    assert.equal((await request(server.url).get(link)).status, 404);
    // Both addresses are told.
    const told = (to: string) => mailTo(to).filter((m) => /^Subject: Your password was changed/m.test(m.data));
    assert.equal(told(box.address).length, 1);
    assert.equal(told(recovery).length, 1);
    assert.match(told(recovery)[0]!.data, /through a link sent to its recovery address/);
    const audit = await server.query<{ action: string }>("SELECT action FROM audit_log WHERE target = ? AND action = 'password.recover'", box.address);
    assert.equal(audit.length, 1);
  });

  test('a link is void once the password changed another way, after RESET_LINK_MINUTES, or when forged', async () => {
    const recovery = `void-${domain}@elsewhere.test`;
    const { box, agent } = await withRecovery(recovery);
    const link = await askReset(box.address, recovery);
    const next = strongPassword('Own');
    await postForm(agent, '/account', '/account', { current_password: box.password, new_password: next, confirm_password: next });
    const page = await request(server.url).get(link);
    assert.equal(page.status, 404);
    assert.match(page.text, /This link does not work/);

    const fresh = await askReset(box.address, recovery);
    await server.query('UPDATE recovery_links SET expires_at = ? WHERE purpose = ?', Math.floor(Date.now() / 1000) - 1, 'reset');
    assert.equal((await request(server.url).get(fresh)).status, 404, 'expired');
    assert.equal((await request(server.url).get(`/login/reset/${'A'.repeat(43)}`)).status, 404, 'forged');
    assert.equal((await request(server.url).get('/login/reset/short')).status, 404, 'malformed');
    const stored = await server.query<{ token_hash: string }>('SELECT token_hash FROM recovery_links');
    assert.ok(stored.every((r) => /^[0-9a-f]{64}$/.test(r.token_hash) && !fresh.includes(r.token_hash)), 'links are stored hashed');
  });

  test('with a second factor on, the code is asked first; a wrong code changes nothing', async () => {
    const recovery = `totp-${domain}@elsewhere.test`;
    const { box, agent } = await withRecovery(recovery);
    const { secret } = await turnOnTotp(agent, '/account/security');

    const link = await askReset(box.address, recovery);
    const stranger = request.agent(server.url);
    const page = await stranger.get(link);
    assert.match(page.text, /<label for="code">Code<\/label>/);
    assert.doesNotMatch(page.text, /name="new_password"/);
    const wrong = await stranger.post(`${link}/code`).type('form').send({ _csrf: csrfOf(page.text), code: '000000' });
    assert.equal(wrong.status, 422);
    const next = strongPassword('Skip');
    const skipped = await stranger.post(link).type('form').send({ _csrf: csrfOf(page.text), new_password: next, confirm_password: next });
    assert.equal(skipped.status, 422, 'the password form without the code changes nothing');
    assert.match(skipped.text, /The second factor is asked first/);
    const forgedProof = await stranger.post(link).type('form').send({ _csrf: csrfOf(page.text), proof: `${Math.floor(Date.now() / 1000) + 600}.${'a'.repeat(43)}`, new_password: next, confirm_password: next });
    assert.equal(forgedProof.status, 422);

    // The code of the next step (within the drift SPEC §11 allows): the one typed to turn TOTP on was used.
    const right = await stranger.post(`${link}/code`).type('form').send({ _csrf: csrfOf(page.text), code: codeAt(secret, 1) });
    assert.equal(right.status, 200, right.text);
    assert.match(right.text, /name="proof"/);
    const done = await stranger.post(link).type('form').send({ _csrf: csrfOf(right.text), proof: /name="proof" value="([^"]+)"/.exec(right.text)![1], new_password: next, confirm_password: next });
    assert.equal(done.status, 303, done.text);
    await loginAsMailbox(server.url, box.address, next).then(
      () => assert.fail('the second factor is still asked at the next login'),
      (err: Error) => assert.match(err.message, /mailbox login failed: 303/),
    );
  });

  test('the recovery address needs the current password and another address; removing it is audited and told', async () => {
    const box = await aMailbox(server.services, { domain });
    const agent = await loginAsMailbox(server.url, box.address, box.password);
    const account = await agent.get('/account');
    assert.match(account.text, /<label for="recovery_address">Recovery address<\/label>/);
    assert.match(account.text, /<button type="submit" class="secondary">Save recovery address<\/button>/);
    const wrong = await postForm(agent, '/account', '/account/recovery', { recovery_address: `x-${domain}@elsewhere.test`, recovery_password: 'Wrong-password-1' });
    assert.equal(wrong.status, 422);
    assert.match(wrong.text, /recovery_password-errors/);
    const self = await postForm(agent, '/account', '/account/recovery', { recovery_address: box.address.toUpperCase(), recovery_password: box.password });
    assert.equal(self.status, 422);
    assert.match(self.text, /Must be another address than this mailbox/);
    assert.equal((await server.query('SELECT * FROM recovery_links WHERE account_id = ?', box.mailbox.id)).length, 0, 'nothing stored on a refusal');

    await postForm(agent, '/account', '/account/recovery', { recovery_address: `later-${domain}@elsewhere.test`, recovery_password: box.password });
    const shown = await agent.get('/account');
    assert.match(shown.text, /Waiting for confirmation: <strong>later-/);
    const removed = await postForm(agent, '/account', '/account/recovery', { recovery_address: '', recovery_password: box.password });
    assert.equal(removed.status, 303);
    assert.doesNotMatch((await agent.get('/account')).text, /Waiting for confirmation/);
    await settle();
    assert.ok(mailTo(box.address).some((m) => /^Subject: The recovery address was removed/m.test(m.data)));
  });
});

describe('forgotten-password requests are limited (SPEC §16)', () => {
  // A server of its own: every request of the other tests comes from 127.0.0.1 too.
  let server: TestServer;
  let domain: string;
  before(async () => {
    server = await startTestServer({ RELAY_URL: 'smtp://127.0.0.1:9' }, { smtp: true });
    domain = (await aDomain(server.services)).name;
  });
  after(() => server.stop());

  test('requests are limited per address and per client, with the same answer until the limit', async () => {
    const box = await aMailbox(server.services, { domain });
    const statuses: number[] = [];
    for (let i = 0; i <= FORGOT_PER_ADDRESS; i++) statuses.push((await postForm(request.agent(server.url), '/login/forgot', '/login/forgot', { email: box.address })).status);
    assert.deepEqual(statuses, [...Array<number>(FORGOT_PER_ADDRESS).fill(200), 429]);
    assert.equal(FORGOT_PER_ADDRESS, 3);
    const other: number[] = [];
    for (let i = 0; i < FORGOT_PER_CLIENT; i++) other.push((await postForm(request.agent(server.url), '/login/forgot', '/login/forgot', { email: `n${i}@${domain}` })).status);
    assert.ok(other.includes(429), 'one client address is limited across addresses');
  });

});

describe('without a relay, no link is offered', () => {
  let server: TestServer;
  let agent: Agent;
  before(async () => {
    server = await startTestServer();
    const domain = (await aDomain(server.services)).name;
    const box = await aMailbox(server.services, { domain });
    agent = await loginAsMailbox(server.url, box.address, box.password);
  });
  after(() => server.stop());

  test('no `Forgot password?`, no form, no recovery address', async () => {
    assert.doesNotMatch((await request(server.url).get('/login')).text, /Forgot password/);
    assert.equal((await request(server.url).get('/login/forgot')).status, 404);
    assert.doesNotMatch((await agent.get('/account')).text, /Recovery address/);
  });
});
