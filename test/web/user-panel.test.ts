import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { aDomain, aMailbox, strongPassword } from '../helpers/builders.js';
import { unmaskToken } from '../../src/web/app.js';
import { csrfOf, loginAsMailbox, postForm, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let domain: string;

before(async () => {
  server = await startTestServer({ LOGIN_MAX_ATTEMPTS: '5' });
  domain = (await aDomain(server.services)).name;
});
after(() => server.stop());

describe('user login', () => {
  test('the login page has the exact labels and button', async () => {
    const res = await request(server.url).get('/login');
    assert.equal(res.status, 200);
    assert.match(res.text, /<label for="email">Email address<\/label>/);
    assert.match(res.text, /<label for="password">Password<\/label>/);
    assert.match(res.text, /<button type="submit">Log in<\/button>/);
  });

  test('unknown address, wrong password and disabled mailbox answer alike with 401', async () => {
    const { address, password } = await aMailbox(server.services, { domain });
    const disabled = await aMailbox(server.services, { domain });
    await server.services.mailboxes.setDisabled({ kind: 'system', name: 'test' }, await server.services.domains.requireDomain({ kind: 'system', name: 'test' }, domain), disabled.address, true);
    const bodies: string[] = [];
    for (const [email, pw] of [
      [`nobody@${domain}`, password],
      [address, `${password}x`],
      [disabled.address, disabled.password],
    ]) {
      const res = await postForm(request.agent(server.url), '/login', '/login', { email: email!, password: pw! });
      assert.equal(res.status, 401);
      bodies.push(res.text.replace(/value="[^"]*"/g, ''));
    }
    assert.equal(bodies[0], bodies[1]);
    assert.equal(bodies[1], bodies[2]);
    assert.match(bodies[0]!, /The email address or password is incorrect\./);
  });

  test('the session id changes at login and the cookie is HttpOnly and SameSite=Lax', async () => {
    const { address, password } = await aMailbox(server.services, { domain });
    const other = await aMailbox(server.services, { domain });
    const agent = request.agent(server.url);
    const page = await agent.get('/login');
    // Looking at the login page starts no session (issue 29): the form's token is a cookie of its own.
    assert.ok(!((page.headers['set-cookie'] ?? []) as unknown as string[]).some((c) => c.startsWith('mailpass.sid=')));
    const res = await agent.post('/login').type('form').send({ email: address, password, _csrf: csrfOf(page.text) });
    assert.equal(res.status, 303);
    const cookie = res.headers['set-cookie']![0]!;
    const first = /mailpass\.sid=([^;]+)/.exec(cookie)![1];
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Lax/);
    // A session that exists before a login is not the one after it (no fixation).
    const again = await agent.post('/login').type('form').send({ email: other.address, password: other.password, _csrf: csrfOf((await agent.get('/account')).text) });
    assert.equal(again.status, 303);
    assert.notEqual(/mailpass\.sid=([^;]+)/.exec(again.headers['set-cookie']![0]!)![1], first);
  });

  test('failed logins per address are limited: 429 after the limit; the same wrong password counts once', async () => {
    const { address } = await aMailbox(server.services, { domain });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await postForm(request.agent(server.url), '/login', '/login', { email: address, password: 'Wrong#Pass1x' })).status);
    for (let i = 0; i < 5; i++) {
      statuses.push((await postForm(request.agent(server.url), '/login', '/login', { email: address, password: `Wrong#Pass${i + 2}x` })).status);
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 401, 401, 429]);
  });

  test('a POST without a CSRF token is refused with 403 and changes nothing', async () => {
    const { address, password } = await aMailbox(server.services, { domain });
    const agent = await loginAsMailbox(server.url, address, password);
    const res = await agent.post('/account').type('form').send({ current_password: password, new_password: strongPassword('N'), confirm_password: strongPassword('N') });
    assert.equal(res.status, 403);
    const again = await loginAsMailbox(server.url, address, password);
    assert.equal((await again.get('/account')).status, 200);
  });
});

describe('changing one\'s own password', () => {
  test('the account page shows the address, last connection and the exact form', async () => {
    const { address, password } = await aMailbox(server.services, { domain });
    const res = await (await loginAsMailbox(server.url, address, password)).get('/account');
    assert.equal(res.status, 200);
    assert.ok(res.text.includes(address));
    assert.match(res.text, /Last SMTP connection/);
    for (const label of ['Current password', 'New password', 'Confirm new password']) assert.ok(res.text.includes(`>${label}</label>`), label);
    assert.match(res.text, /Update password and log me out from everywhere/);
    assert.match(res.text, />Generate</);
    assert.match(res.text, /at least one uppercase letter/);
  });

  test('wrong current password → 422 beside the field, hash unchanged', async () => {
    const { address, password, mailbox } = await aMailbox(server.services, { domain });
    const agent = await loginAsMailbox(server.url, address, password);
    const res = await postForm(agent, '/account', '/account', { current_password: 'Not#The1Password', new_password: strongPassword('N'), confirm_password: strongPassword('N') });
    assert.equal(res.status, 422);
    assert.match(res.text, /id="current_password-errors"[\s\S]*Is not correct\./);
    const after = await server.adapters.stores.accounts.findAccountById(mailbox.id);
    assert.equal(after!.passwordHash, mailbox.passwordHash);
    assert.equal(after!.passwordVersion, mailbox.passwordVersion);
  });

  test('a new password that breaks the policy → 422 naming each rule, nothing stored', async () => {
    const { address, password, mailbox } = await aMailbox(server.services, { domain });
    const agent = await loginAsMailbox(server.url, address, password);
    const res = await postForm(agent, '/account', '/account', { current_password: password, new_password: 'short', confirm_password: 'short' });
    assert.equal(res.status, 422);
    for (const reason of ['at least 8 characters', 'uppercase letter', 'digit', 'special character']) assert.ok(res.text.includes(reason), reason);
    assert.equal((await server.adapters.stores.accounts.findAccountById(mailbox.id))!.passwordHash, mailbox.passwordHash);
    assert.ok(!res.text.includes('value="short"'), 'passwords are never echoed back');
  });

  test('the same password again, or a mismatched confirmation, is refused', async () => {
    const { address, password } = await aMailbox(server.services, { domain });
    const agent = await loginAsMailbox(server.url, address, password);
    const same = await postForm(agent, '/account', '/account', { current_password: password, new_password: password, confirm_password: password });
    assert.equal(same.status, 422);
    assert.match(same.text, /Must differ from the current password/);
    const mismatch = await postForm(agent, '/account', '/account', { current_password: password, new_password: strongPassword('N'), confirm_password: strongPassword('M') });
    assert.equal(mismatch.status, 422);
    assert.match(mismatch.text, /Does not match the new password/);
  });

  test('success ends every session of the mailbox, this one and a second agent\'s, and lands on /login', async () => {
    const { address, password, mailbox } = await aMailbox(server.services, { domain });
    const first = await loginAsMailbox(server.url, address, password);
    const second = await loginAsMailbox(server.url, address, password);
    assert.equal(await server.adapters.stores.sessions.countSessions(`mailbox:${mailbox.id}`), 2);
    const next = strongPassword('New');
    const res = await postForm(first, '/account', '/account', { current_password: password, new_password: next, confirm_password: next });
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, '/login?updated=1');
    assert.match((await first.get('/login?updated=1')).text, /Your password was updated\./);
    assert.equal(await server.adapters.stores.sessions.countSessions(`mailbox:${mailbox.id}`), 0);
    for (const agent of [first, second]) {
      const page = await agent.get('/account');
      assert.equal(page.status, 303);
      assert.equal(page.headers.location, '/login');
    }
    const old = await postForm(request.agent(server.url), '/login', '/login', { email: address, password });
    assert.equal(old.status, 401);
    await loginAsMailbox(server.url, address, next);
  });

  test('Generate answers a policy-compliant password (JSON for the script, the filled form without it)', async () => {
    const { address, password } = await aMailbox(server.services, { domain });
    const agent = await loginAsMailbox(server.url, address, password);
    const page = await agent.get('/account');
    const json = await agent.post('/account/generate').set('Accept', 'application/json').type('form').send({ _csrf: csrfOf(page.text) });
    assert.equal(json.status, 200);
    assert.equal(Array.from(json.body.password as string).length, 20);
    const html = await agent.post('/account/generate').type('form').send({ _csrf: csrfOf(page.text) });
    assert.equal(html.status, 200);
    assert.match(html.text, /id="new_password" name="new_password" type="text"[^>]*value="[^"]{20}"/);
  });

  test('POST /logout ends the session', async () => {
    const { address, password } = await aMailbox(server.services, { domain });
    const agent = await loginAsMailbox(server.url, address, password);
    const page = await agent.get('/account');
    assert.equal((await agent.post('/logout').type('form').send({ _csrf: csrfOf(page.text) })).status, 303);
    assert.equal((await agent.get('/account')).status, 303);
  });
});

describe('headers', () => {
  test('a Content-Security-Policy allows no inline script', async () => {
    const res = await request(server.url).get('/login');
    const csp = res.headers['content-security-policy']!;
    assert.match(csp, /script-src 'self'/);
    assert.ok(!csp.includes('unsafe-inline'));
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
  });

  test('/healthz answers ok', async () => {
    const res = await request(server.url).get('/healthz');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { status: 'ok' });
  });
});

test("a page's CSRF token is the session's 32 random bytes, masked afresh", async () => {
  const { address, password } = await aMailbox(server.services, { domain });
  const agent = await loginAsMailbox(server.url, address, password);
  const first = csrfOf((await agent.get('/account')).text);
  const second = csrfOf((await agent.get('/account')).text);
  assert.notEqual(first, second);
  // 64 hex digits: csrf-sync's default (128 bytes) made a page's masked token 685 characters.
  assert.match(unmaskToken(first)!, /^[0-9a-f]{64}$/);
  assert.equal(unmaskToken(second), unmaskToken(first));
  assert.equal(first.length, 173);
});
