import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { cliActor } from '../../src/core/actors.js';
import { aToken, apiClient } from '../helpers/api.js';
import { aDomain, aMailbox, anAdmin } from '../helpers/builders.js';
import { ADMIN_PASSWORD } from '../helpers/env.js';
import { loginAsAdmin, loginAsMailbox, postForm, startTestServer, type TestServer } from '../helpers/server.js';
import { RawSmtp } from '../helpers/smtp-client.js';

// SPEC §10: every login attempt on an account, counted per day and (protocol, mechanism, result,
// client address), shown to its owner and its admins, kept LOGIN_HISTORY_DAYS.

let server: TestServer;
let domain: string;

before(async () => {
  server = await startTestServer({ API_RATE_LIMIT: '1000' }, { smtp: true });
  domain = (await aDomain(server.services)).name;
});
after(() => server.stop());

async function smtpAuth(login: string, password: string, localAddress = '127.0.0.1') {
  const c = await RawSmtp.ready(server.smtpPorts.smtps, { implicitTls: true, dataDir: server.dataDir, localAddress });
  try {
    return (await c.authPlain(login, password)).code;
  } finally {
    c.close();
  }
}

const rows = async (accountId: number) => {
  await server.adapters.batcher.flush();
  return server.adapters.stores.loginHistory.listLoginHistory(accountId, 100);
};

describe('what is recorded', () => {
  test('SMTP: failures and successes of one day and address are one row each, counted, with mechanism and TLS', async () => {
    const box = await aMailbox(server.services, { domain });
    for (let i = 0; i < 3; i++) assert.equal(await smtpAuth(box.address, `Wrong#${i}-pass`), 535);
    assert.equal(await smtpAuth(box.address, 'Wrong#0-pass'), 535, 'a repeat, answered from the negative cache, is still recorded');
    assert.equal(await smtpAuth(box.address, box.password), 235);
    assert.equal(await smtpAuth(box.address, box.password, '127.0.0.2'), 235);
    const history = await rows(box.mailbox.id);
    const pick = (result: string, ip: string) => history.find((h) => h.result === result && h.ip === ip);
    assert.equal(history.length, 3, JSON.stringify(history));
    assert.equal(pick('bad-password', '127.0.0.1')!.count, 4);
    assert.equal(pick('ok', '127.0.0.1')!.count, 1);
    assert.equal(pick('ok', '127.0.0.2')!.count, 1);
    for (const h of history) {
      assert.equal(h.protocol, 'smtp');
      assert.equal(h.mechanism, 'PLAIN');
      assert.match(h.client, /^TLSv1\.[23]$/);
    }
  });

  test('web: the login form (with the browser) and a wrong current password on /account; a disabled mailbox with its right password is "disabled"', async () => {
    const box = await aMailbox(server.services, { domain });
    const agent = request.agent(server.url);
    const ua = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
    agent.set('User-Agent', ua);
    assert.equal((await postForm(agent, '/login', '/login', { email: box.address, password: 'Nope#1-wrong' })).status, 401);
    assert.equal((await postForm(agent, '/login', '/login', { email: box.address, password: box.password })).status, 303);
    assert.equal((await postForm(agent, '/account', '/account', { current_password: 'Nope#2-wrong', new_password: 'x', confirm_password: 'x' })).status, 422);
    await server.services.mailboxes.setDisabled(cliActor, await server.services.domains.requireDomain(cliActor, domain), box.address, true);
    assert.equal((await postForm(request.agent(server.url), '/login', '/login', { email: box.address, password: box.password })).status, 401);
    const history = await rows(box.mailbox.id);
    const kinds = history.map((h) => `${h.protocol}/${h.mechanism}/${h.result}`).sort();
    assert.deepEqual(kinds, ['web/current-password/bad-password', 'web/password/bad-password', 'web/password/disabled', 'web/password/ok']);
    assert.equal(history.find((h) => h.result === 'ok')!.client, 'Firefox on Linux');
  });

  test('an unknown login records nothing; a flood for one account adds to its rows, at most 10,000 failure rows, the oldest dropped', async () => {
    const before = (await server.query<{ n: number }>('SELECT count(*) AS n FROM login_history'))[0]!.n;
    assert.equal(await smtpAuth(`nobody@${domain}`, 'Whatever#1x'), 535);
    await server.adapters.batcher.flush();
    assert.equal((await server.query<{ n: number }>('SELECT count(*) AS n FROM login_history'))[0]!.n, before);

    const box = await aMailbox(server.services, { domain });
    const day = Math.floor(server.services.clock.now() / 86_400);
    const history = Array.from({ length: 10_005 }, (_, i) => ({
      accountId: box.mailbox.id, day, protocol: 'smtp', mechanism: 'PLAIN', result: 'bad-password' as const,
      ip: `10.0.${i >> 8}.${i & 255}`, client: 'TLSv1.3', firstAt: 1_000 + i, lastAt: 1_000 + i, count: 1,
    }));
    await server.adapters.stores.loginHistory.applyLoginBatch({ logins: [], rehashes: [], audit: [], history });
    const kept = (await server.query<{ n: number; oldest: number }>("SELECT count(*) AS n, min(last_at) AS oldest FROM login_history WHERE account_id = ? AND result <> 'ok'", box.mailbox.id))[0]!;
    assert.equal(kept.n, 10_000);
    assert.equal(kept.oldest, 1_005);
  });

  test('LOGIN_HISTORY_DAYS and AUDIT_RETENTION_DAYS: older rows and entries are pruned', async () => {
    const box = await aMailbox(server.services, { domain });
    const now = server.services.clock.now();
    const old = now - 31 * 86_400;
    const row = (lastAt: number, ip: string) => ({ accountId: box.mailbox.id, day: Math.floor(lastAt / 86_400), protocol: 'web', mechanism: 'password', result: 'ok' as const, ip, client: '', firstAt: lastAt, lastAt, count: 1 });
    await server.adapters.stores.loginHistory.applyLoginBatch({ logins: [], rehashes: [], audit: [], history: [row(old, '192.0.2.1'), row(now, '192.0.2.2')] });
    await server.adapters.stores.audit.appendAudit({ at: now - 366 * 86_400, actor: 'test', action: 'old', target: 'x', ip: null });
    await server.adapters.stores.audit.appendAudit({ at: now - 364 * 86_400, actor: 'test', action: 'young', target: 'x', ip: null });
    await server.services.database.prune();
    assert.deepEqual((await rows(box.mailbox.id)).map((h) => h.ip), ['192.0.2.2']);
    const actions = (await server.query<{ action: string }>("SELECT action FROM audit_log WHERE actor = 'test'")).map((r) => r.action);
    assert.deepEqual(actions, ['young']);
  });
});

describe('who sees it', () => {
  test('the owner on /account ("Recent activity", and "This wasn\'t me" leading to the password change)', async () => {
    const box = await aMailbox(server.services, { domain });
    assert.equal(await smtpAuth(box.address, 'Guess#1-wrong', '127.0.0.9'), 535);
    await server.adapters.batcher.flush();
    const page = await (await loginAsMailbox(server.url, box.address, box.password)).get('/account');
    assert.match(page.text, /<h2 id="activity">Recent activity<\/h2>/);
    assert.match(page.text, /<td data-label="From">127\.0\.0\.9<\/td>\s*<td data-label="Result">Wrong password<\/td>/);
    assert.match(page.text, /<a href="#change-password"[^>]*>This wasn't me: change my password<\/a>/);
    assert.match(page.text, /<h2 id="change-password">Change your password<\/h2>/);
  });

  test("its domain's admin on the mailbox and credential pages and over the API, newest first; another domain's admin gets 404", async () => {
    const box = await aMailbox(server.services, { domain });
    const { credential, password } = await server.services.credentials.createCredential(cliActor, await server.services.domains.requireDomain(cliActor, domain), 'Shop');
    assert.equal(await smtpAuth(box.address, 'Guess#2-wrong'), 535);
    assert.equal(await smtpAuth(box.address, box.password), 235);
    assert.equal(await smtpAuth(credential.login, password), 235);
    await server.adapters.batcher.flush();

    const admin = await loginAsAdmin(server.url, 'admin', ADMIN_PASSWORD);
    const mailboxPage = await admin.get(`/admin/domains/${domain}/mailboxes/${box.address}`);
    assert.match(mailboxPage.text, /<h2>Login history<\/h2>/);
    assert.match(mailboxPage.text, /Mail app \(SMTP PLAIN\), TLSv1\.[23]/);
    const credentialPage = await admin.get(`/admin/domains/${domain}/credentials/${credential.guid}`);
    assert.equal(credentialPage.status, 200);
    assert.match(credentialPage.text, /Logged in/);

    const api = apiClient(server.url, (await aToken(server.services, 'admin')).plaintext);
    const res = await api.get(`/domains/${domain}/mailboxes/${box.address}/logins`);
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(res.body.data.logins[0]).sort(), ['count', 'first_at', 'ip', 'last_at', 'mechanism', 'protocol', 'result']);
    assert.deepEqual(res.body.data.logins.map((l: { result: string }) => l.result), ['ok', 'bad-password']);
    const lasts = res.body.data.logins.map((l: { last_at: number }) => l.last_at);
    assert.deepEqual(lasts, [...lasts].sort((a: number, b: number) => b - a));
    const cred = await api.get(`/domains/${domain}/credentials/${credential.guid}/logins`);
    assert.deepEqual(cred.body.data.logins.map((l: { protocol: string; result: string }) => `${l.protocol}/${l.result}`), ['smtp/ok']);

    const other = await aDomain(server.services);
    const outsider = await anAdmin(server.services, { domains: [other.name] });
    const theirs = apiClient(server.url, (await aToken(server.services, outsider.username)).plaintext);
    assert.equal((await theirs.get(`/domains/${domain}/mailboxes/${box.address}/logins`)).status, 404);
    assert.equal((await (await loginAsAdmin(server.url, outsider.username, outsider.password)).get(`/admin/domains/${domain}/credentials/${credential.guid}`)).status, 404);
  });
});
