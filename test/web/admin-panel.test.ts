import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { aDomain, aMailbox, anAdmin, strongPassword } from '../helpers/builders.js';
import { ADMIN_PASSWORD } from '../helpers/env.js';
import { csrfOf, loginAsAdmin, loginAsMailbox, postForm, startTestServer, type Agent, type TestServer } from '../helpers/server.js';

let server: TestServer;
let superAgent: Agent;

before(async () => {
  server = await startTestServer();
  superAgent = await loginAsAdmin(server.url, 'admin', ADMIN_PASSWORD);
});
after(() => server.stop());

describe('admin login', () => {
  test('has the exact labels; a wrong password answers 401 like an unknown user', async () => {
    const page = await request(server.url).get('/admin/login');
    assert.match(page.text, />Username<\/label>/);
    assert.match(page.text, />Password<\/label>/);
    const wrong = await postForm(request.agent(server.url), '/admin/login', '/admin/login', { username: 'admin', password: 'Wrong#Pass12' });
    const unknown = await postForm(request.agent(server.url), '/admin/login', '/admin/login', { username: 'nobody', password: 'Wrong#Pass12' });
    assert.equal(wrong.status, 401);
    assert.equal(unknown.status, 401);
    assert.equal(wrong.text.replace(/value="[^"]*"/g, ''), unknown.text.replace(/value="[^"]*"/g, ''));
  });

  test('admin pages send an anonymous visitor to the login page', async () => {
    const res = await request(server.url).get('/admin/domains');
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, '/admin/login');
  });

  test('a mailbox session is not an admin session', async () => {
    const domain = await aDomain(server.services);
    const { address, password } = await aMailbox(server.services, { domain: domain.name });
    const agent = await loginAsMailbox(server.url, address, password);
    assert.equal((await agent.get('/admin/domains')).status, 303);
  });
});

describe('the journey of the foundation issue', () => {
  test('add a domain and a mailbox, the mailbox logs in and changes its password', async () => {
    const add = await postForm(superAgent, '/admin/domains', '/admin/domains', { domain: 'Journey.Example' });
    assert.equal(add.status, 303);
    assert.equal(add.headers.location, '/admin/domains/journey.example');
    const list = await superAgent.get('/admin/domains');
    assert.match(list.text, /<label for="domain">Select domain<\/label>/);
    assert.match(list.text, /journey\.example/);
    const selected = await superAgent.get('/admin/domains?domain=journey.example');
    assert.equal(selected.headers.location, '/admin/domains/journey.example');

    const pw = strongPassword('J');
    const created = await postForm(superAgent, '/admin/domains/journey.example/mailboxes/new', '/admin/domains/journey.example/mailboxes', {
      address: 'jane',
      name: 'Jane',
      password: pw,
    });
    assert.equal(created.status, 303);
    const page = await superAgent.get('/admin/domains/journey.example');
    assert.match(page.text, /jane@journey\.example/);

    const user = await loginAsMailbox(server.url, 'jane@journey.example', pw);
    const next = strongPassword('K');
    const change = await postForm(user, '/account', '/account', { current_password: pw, new_password: next, confirm_password: next });
    assert.equal(change.headers.location, '/login?updated=1');
    await loginAsMailbox(server.url, 'jane@journey.example', next);
  });

  test('a mailbox added with an empty password gets a generated one, shown once', async () => {
    const domain = await aDomain(server.services);
    const res = await postForm(superAgent, `/admin/domains/${domain.name}/mailboxes/new`, `/admin/domains/${domain.name}/mailboxes`, { address: `gen@${domain.name}`, password: '' });
    assert.equal(res.status, 201);
    assert.equal(res.headers['cache-control'], 'no-store');
    const password = /<code id="created-password">([^<]+)<\/code>/.exec(res.text)![1]!;
    await loginAsMailbox(server.url, `gen@${domain.name}`, password);
    const again = await superAgent.get(`/admin/domains/${domain.name}/mailboxes/gen@${domain.name}`);
    assert.ok(!again.text.includes(password));
  });
});

describe('mailbox administration', () => {
  test('edit has Password, Generate, Copy and Update user; the reset ends the mailbox\'s sessions', async () => {
    const domain = await aDomain(server.services);
    const { address, password, mailbox } = await aMailbox(server.services, { domain: domain.name });
    const userAgent = await loginAsMailbox(server.url, address, password);
    const editUrl = `/admin/domains/${domain.name}/mailboxes/${encodeURIComponent(address)}`;
    const edit = await superAgent.get(editUrl);
    assert.match(edit.text, /<label for="password">Password<\/label>/);
    assert.match(edit.text, />Generate</);
    assert.match(edit.text, />Copy</);
    assert.match(edit.text, /<button type="submit">Update user<\/button>/);
    const next = strongPassword('R');
    const res = await postForm(superAgent, editUrl, `${editUrl}/password`, { password: next });
    assert.equal(res.status, 303);
    assert.equal((await userAgent.get('/account')).status, 303);
    assert.equal(await server.adapters.stores.sessions.countSessions(`mailbox:${mailbox.id}`), 0);
    await loginAsMailbox(server.url, address, next);
  });

  test('a reset that breaks the policy answers 422 and keeps the hash', async () => {
    const domain = await aDomain(server.services);
    const { address, mailbox } = await aMailbox(server.services, { domain: domain.name });
    const editUrl = `/admin/domains/${domain.name}/mailboxes/${encodeURIComponent(address)}`;
    const res = await postForm(superAgent, editUrl, `${editUrl}/password`, { password: 'password' });
    assert.equal(res.status, 422);
    assert.match(res.text, /commonly used password/);
    assert.equal((await server.adapters.stores.accounts.findAccountById(mailbox.id))!.passwordHash, mailbox.passwordHash);
  });

  test('Generate fills the field with a policy-compliant password', async () => {
    const domain = await aDomain(server.services);
    const { address } = await aMailbox(server.services, { domain: domain.name });
    const editUrl = `/admin/domains/${domain.name}/mailboxes/${encodeURIComponent(address)}`;
    const res = await postForm(superAgent, editUrl, `${editUrl}/generate`, {});
    assert.equal(res.status, 200);
    const value = /id="password" name="password"[^>]*value="([^"]+)"/.exec(res.text)![1]!;
    assert.equal(value.length, 20);
  });

  test('search finds mailboxes by the start of the address, 50 a page', async () => {
    const domain = await aDomain(server.services);
    for (let i = 0; i < 55; i++) await aMailbox(server.services, { domain: domain.name, local: `bulk${String(i).padStart(2, '0')}` });
    await aMailbox(server.services, { domain: domain.name, local: 'zed' });
    const first = await superAgent.get(`/admin/domains/${domain.name}`);
    assert.equal((first.text.match(/aria-label="Edit /g) ?? []).length, 50);
    assert.match(first.text, /Page 1 of 2/);
    const second = await superAgent.get(`/admin/domains/${domain.name}?page=2`);
    assert.equal((second.text.match(/aria-label="Edit /g) ?? []).length, 6);
    const found = await superAgent.get(`/admin/domains/${domain.name}?q=ze`);
    assert.equal((found.text.match(/aria-label="Edit /g) ?? []).length, 1);
    assert.match(found.text, /zed@/);
  });

  test('disable ends sessions and blocks login; delete asks first and is final', async () => {
    const domain = await aDomain(server.services);
    const { address, password } = await aMailbox(server.services, { domain: domain.name });
    const userAgent = await loginAsMailbox(server.url, address, password);
    const editUrl = `/admin/domains/${domain.name}/mailboxes/${encodeURIComponent(address)}`;
    assert.equal((await postForm(superAgent, editUrl, `${editUrl}/disable`, {})).status, 303);
    assert.equal((await userAgent.get('/account')).status, 303);
    assert.equal((await postForm(request.agent(server.url), '/login', '/login', { email: address, password })).status, 401);
    assert.equal((await postForm(superAgent, editUrl, `${editUrl}/enable`, {})).status, 303);
    await loginAsMailbox(server.url, address, password);
    const confirm = await superAgent.get(`${editUrl}/delete`);
    assert.match(confirm.text, /cannot be undone/);
    assert.equal((await postForm(superAgent, `${editUrl}/delete`, `${editUrl}/delete`, {})).status, 303);
    assert.equal((await superAgent.get(editUrl)).status, 404);
  });

  test('a mailbox name holding <script> is rendered escaped', async () => {
    const domain = await aDomain(server.services);
    await aMailbox(server.services, { domain: domain.name, name: '<script>alert(1)</script>' });
    const page = await superAgent.get(`/admin/domains/${domain.name}`);
    assert.ok(!page.text.includes('<script>alert(1)</script>'));
    assert.ok(page.text.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  });
});

describe('domain scoping', () => {
  test('a domain admin sees its domains only; any other answers 404', async () => {
    const mine = await aDomain(server.services);
    const other = await aDomain(server.services);
    const { address } = await aMailbox(server.services, { domain: other.name });
    const { username, password } = await anAdmin(server.services, { domains: [mine.name] });
    const agent = await loginAsAdmin(server.url, username, password);
    const list = await agent.get('/admin/domains');
    assert.ok(list.text.includes(mine.name));
    assert.ok(!list.text.includes(other.name));
    assert.equal((await agent.get(`/admin/domains/${mine.name}`)).status, 200);
    assert.equal((await agent.get(`/admin/domains/${other.name}`)).status, 404);
    assert.equal((await agent.get(`/admin/domains/${other.name}/mailboxes/${address}`)).status, 404);
    assert.equal((await agent.get(`/admin/domains?domain=${other.name}`)).status, 404);
    const editUrl = `/admin/domains/${other.name}/mailboxes/${address}`;
    const page = await agent.get(`/admin/domains/${mine.name}`);
    const reset = await agent.post(`${editUrl}/password`).type('form').send({ password: strongPassword('X'), _csrf: csrfOf(page.text) });
    assert.equal(reset.status, 404);
    // The same 404 for a domain that does not exist at all.
    assert.equal((await agent.get('/admin/domains/nowhere.example')).status, 404);
  });

  test('super-admin pages answer 404 to a domain admin', async () => {
    const mine = await aDomain(server.services);
    const { username, password } = await anAdmin(server.services, { domains: [mine.name] });
    const agent = await loginAsAdmin(server.url, username, password);
    assert.equal((await agent.get('/admin/audit')).status, 404);
    assert.equal((await agent.get('/admin/admins')).status, 404);
    const page = await agent.get('/admin/domains');
    assert.equal((await agent.post('/admin/domains').type('form').send({ domain: 'sneaky.example', _csrf: csrfOf(page.text) })).status, 404);
    assert.equal(await server.adapters.stores.domains.findDomainByName('sneaky.example'), null);
  });
});

describe('audit log', () => {
  test('records logins, failures and resets with actor, target and IP, never a password', async () => {
    const domain = await aDomain(server.services);
    const { address, password } = await aMailbox(server.services, { domain: domain.name });
    await postForm(request.agent(server.url), '/login', '/login', { email: address, password: 'Wrong#Pass12' });
    await loginAsMailbox(server.url, address, password);
    const page = await superAgent.get('/admin/audit');
    assert.equal(page.status, 200);
    assert.match(page.text, /login\.failure/);
    assert.match(page.text, /login\.success/);
    assert.ok(page.text.includes(address));
    assert.ok(page.text.includes('127.0.0.1'));
    assert.ok(!page.text.includes(password));
    assert.ok(!page.text.includes('Wrong#Pass12'));
  });
});
