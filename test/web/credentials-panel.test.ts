import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { aDomain, anAdmin } from '../helpers/builders.js';
import { ADMIN_PASSWORD } from '../helpers/env.js';
import { apiClient } from '../helpers/api.js';
import { csrfOf, loginAsAdmin, postForm, startTestServer, type Agent, type TestServer } from '../helpers/server.js';
import { createArgon2Hasher } from '../../src/adapters/argon2-hasher.js';

let server: TestServer;
let admin: Agent;
const hasher = createArgon2Hasher({ memoryKib: 1024, timeCost: 1, parallelism: 1 });
const codeOf = (html: string, id: string) => new RegExp(`<code id="${id}">([^<]+)</code>`).exec(html)?.[1];

before(async () => {
  server = await startTestServer();
  admin = await loginAsAdmin(server.url, 'admin', ADMIN_PASSWORD);
});
after(() => server.stop());

describe('SMTP credentials in the panel', () => {
  test('add shows username, password (once), host and ports with Copy buttons; the list shows it without the password', async () => {
    const domain = (await aDomain(server.services)).name;
    const page = `/admin/domains/${domain}/credentials/new`;
    assert.match((await admin.get(page)).text, /<label for="name">Name<\/label>/);
    const res = await postForm(admin, page, `/admin/domains/${domain}/credentials`, { name: 'WordPress' });
    assert.equal(res.status, 201);
    assert.equal(res.headers['cache-control'], 'no-store');
    const username = codeOf(res.text, 'cred-username')!;
    const password = codeOf(res.text, 'cred-password')!;
    assert.match(username, new RegExp(`^wordpress-[a-z0-9]{4}@${domain}$`));
    assert.equal(password.length, 20);
    assert.equal(codeOf(res.text, 'cred-host'), 'mail.test');
    assert.equal((res.text.match(/data-copy=/g) ?? []).length >= 3, true);
    const stored = await server.adapters.stores.accounts.findAccountByLogin(username);
    assert.equal(await hasher.verify(stored!.passwordHash, password), true);
    const list = await admin.get(`/admin/domains/${domain}`);
    assert.ok(list.text.includes(username));
    assert.match(list.text, /Last connection/);
    assert.ok(!list.text.includes(password));
  });

  test('Reset asks first, then shows the new password once; the old one stops verifying', async () => {
    const domain = (await aDomain(server.services)).name;
    const created = await postForm(admin, `/admin/domains/${domain}/credentials/new`, `/admin/domains/${domain}/credentials`, { name: 'CRM' });
    const username = codeOf(created.text, 'cred-username')!;
    const oldPassword = codeOf(created.text, 'cred-password')!;
    const { guid } = (await server.adapters.stores.accounts.findAccountByLogin(username))!;
    const confirm = await admin.get(`/admin/domains/${domain}/credentials/${guid}/reset`);
    assert.match(confirm.text, /stops working at once/);
    const res = await admin.post(`/admin/domains/${domain}/credentials/${guid}/reset`).type('form').send({ _csrf: csrfOf(confirm.text) });
    assert.equal(res.status, 200);
    const fresh = codeOf(res.text, 'cred-password')!;
    assert.notEqual(fresh, oldPassword);
    const stored = await server.adapters.stores.accounts.findAccountByLogin(username);
    assert.equal(await hasher.verify(stored!.passwordHash, fresh), true);
    assert.equal(await hasher.verify(stored!.passwordHash, oldPassword), false);
  });

  test('Delete asks for confirmation and is irreversible', async () => {
    const domain = (await aDomain(server.services)).name;
    const created = await postForm(admin, `/admin/domains/${domain}/credentials/new`, `/admin/domains/${domain}/credentials`, { name: 'Gone' });
    const username = codeOf(created.text, 'cred-username')!;
    const { guid } = (await server.adapters.stores.accounts.findAccountByLogin(username))!;
    const confirm = await admin.get(`/admin/domains/${domain}/credentials/${guid}/delete`);
    assert.match(confirm.text, /cannot be undone/);
    assert.ok(await server.adapters.stores.accounts.findAccountByLogin(username));
    const res = await admin.post(`/admin/domains/${domain}/credentials/${guid}/delete`).type('form').send({ _csrf: csrfOf(confirm.text) });
    assert.equal(res.status, 303);
    assert.equal(await server.adapters.stores.accounts.findAccountByLogin(username), null);
    assert.equal((await admin.get(`/admin/domains/${domain}/credentials/${guid}/delete`)).status, 404);
  });

  test('a domain admin cannot reach another domain\'s credential: 404', async () => {
    const mine = (await aDomain(server.services)).name;
    const other = (await aDomain(server.services)).name;
    const created = await postForm(admin, `/admin/domains/${other}/credentials/new`, `/admin/domains/${other}/credentials`, { name: 'Theirs' });
    const { guid } = (await server.adapters.stores.accounts.findAccountByLogin(codeOf(created.text, 'cred-username')!))!;
    const { username, password } = await anAdmin(server.services, { domains: [mine] });
    const agent = await loginAsAdmin(server.url, username, password);
    assert.equal((await agent.get(`/admin/domains/${other}/credentials/${guid}/reset`)).status, 404);
    assert.equal((await agent.get(`/admin/domains/${mine}/credentials/${guid}/reset`)).status, 404);
  });
});

describe('API tokens in the panel', () => {
  test('a token is created and shown once, works on the API, and can be revoked', async () => {
    const page = await admin.get('/admin/tokens');
    assert.equal(page.status, 200);
    const res = await admin.post('/admin/tokens').type('form').send({ name: 'deploy', _csrf: csrfOf(page.text) });
    assert.equal(res.status, 201);
    const token = codeOf(res.text, 'token-value')!;
    assert.match(token, /^mp_[A-Za-z0-9_-]{43}$/);
    assert.equal((await apiClient(server.url, token).get('/domains')).status, 200);
    const list = await admin.get('/admin/tokens');
    assert.ok(!list.text.includes(token));
    assert.ok(list.text.includes(token.slice(0, 10)));
    const id = /action="\/admin\/tokens\/(\d+)\/revoke"/.exec(list.text)![1];
    assert.equal((await admin.post(`/admin/tokens/${id}/revoke`).type('form').send({ _csrf: csrfOf(list.text) })).status, 303);
    assert.equal((await apiClient(server.url, token).get('/domains')).status, 401);
  });

  test('a domain admin sees only its own tokens and cannot revoke another\'s', async () => {
    const d = (await aDomain(server.services)).name;
    const { username, password } = await anAdmin(server.services, { domains: [d] });
    const agent = await loginAsAdmin(server.url, username, password);
    const before = await admin.get('/admin/tokens');
    await admin.post('/admin/tokens').type('form').send({ name: 'super-only-token', _csrf: csrfOf(before.text) });
    const superList = await admin.get('/admin/tokens');
    const someId = /action="\/admin\/tokens\/(\d+)\/revoke"/.exec(superList.text)![1];
    const page = await agent.get('/admin/tokens');
    assert.ok(!page.text.includes('super-only-token'));
    assert.equal((await agent.post(`/admin/tokens/${someId}/revoke`).type('form').send({ _csrf: csrfOf(page.text) })).status, 404);
  });
});
