import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import request from 'supertest';
import { cliActor } from '../../src/core/actors.js';
import { aDomain, aMailbox } from '../helpers/builders.js';
import { startIdp, throughIdp, type Idp } from '../helpers/oidc-provider.js';
import { csrfOf, startTestServer, type TestServer } from '../helpers/server.js';

// SPEC §18: OpenID Connect single sign-on against a real provider (oidc-provider on loopback):
// admins made and kept in step from groups, owners by a verified address, and every check of the
// protocol refusing what it must (state, a replayed code, nonce, an expired ID token).

const REFUSED = /The single sign-on did not log you in/;

let idp: Idp;
let server: TestServer;
let trusting: TestServer;
let domain: string;

const env = (more: Record<string, string> = {}) => ({
  OIDC_ISSUER: idp.issuer,
  OIDC_CLIENT_ID: idp.clientId,
  OIDC_CLIENT_SECRET: idp.clientSecret,
  OIDC_SUPER_ADMIN_GROUP: 'mail-superadmins',
  OIDC_DOMAIN_ADMIN_GROUP_PREFIX: 'mail-admin-',
  OIDC_USERS: 'true',
  OIDC_CLOCK_TOLERANCE_SECONDS: '1',
  ...more,
});

before(async () => {
  idp = await startIdp();
  [server, trusting] = await Promise.all([startTestServer(env()), startTestServer(env({ OIDC_TRUST_MFA: 'true' }))]);
  idp.register(server.url, trusting.url);
  domain = (await aDomain(server.services)).name;
});
after(async () => {
  await server.stop();
  await trusting.stop();
  await idp.stop();
});

/** A whole single sign-on as `user`, from `startPath`: the mailpass agent and the callback's answer. */
async function sso(user: string, startPath: string, on = server, amr?: string[]) {
  idp.next = { user, amr };
  const agent = request.agent(on.url);
  const callback = await throughIdp(agent, request.agent(idp.issuer), on.url, startPath);
  return { agent, callback, res: await agent.get(callback) };
}

const audited = async (action: string, target: string) =>
  (await server.adapters.stores.audit.listAudit({ limit: 500, offset: 0 })).items.filter((e) => e.action === action && e.target === target);

describe('single sign-on for admins', () => {
  test("both login pages offer `Log in with SSO`", async () => {
    assert.match((await request(server.url).get('/admin/login')).text, /<a class="button secondary" href="\/admin\/login\/oidc">Log in with SSO<\/a>/);
    assert.match((await request(server.url).get('/login')).text, /<a class="button secondary" href="\/login\/oidc">Log in with SSO<\/a>/);
  });

  test('groups make the admin, keep its rights in step, and end its access when they are gone', async () => {
    idp.users.set('alice', { preferred_username: 'alice', groups: ['staff', `mail-admin-${domain}`] });
    const first = await sso('alice', '/admin/login/oidc');
    assert.equal(first.res.status, 303);
    assert.equal(first.res.headers.location, '/admin/domains');
    const page = await first.agent.get('/admin/domains');
    assert.equal(page.status, 200);
    assert.match(page.text, new RegExp(domain.replace('.', '\\.')));
    const alice = (await server.adapters.stores.admins.findAdminByUsername('alice'))!;
    assert.deepEqual({ isSuper: alice.isSuper, mustChange: alice.mustChangePassword }, { isSuper: false, mustChange: false });
    assert.equal(alice.domainIds.length, 1);
    assert.equal((await audited('admin-login.success', 'alice')).at(0)?.detail, 'oidc');

    idp.users.set('alice', { preferred_username: 'alice', groups: ['mail-superadmins'] });
    assert.equal((await sso('alice', '/admin/login/oidc')).res.status, 303);
    assert.equal((await server.adapters.stores.admins.findAdminByUsername('alice'))!.isSuper, true);

    idp.users.set('alice', { preferred_username: 'alice', groups: ['staff'] });
    const gone = await sso('alice', '/admin/login/oidc');
    assert.equal(gone.res.status, 403);
    assert.match(gone.res.text, REFUSED);
    assert.match((await audited('admin-login.failure', 'alice')).at(0)?.detail ?? '', /in no admin group/);
    assert.equal((await gone.agent.get('/admin/domains')).headers.location, '/admin/login');
  });

  test('a disabled admin cannot log in through SSO either', async () => {
    idp.users.set('dora', { preferred_username: 'dora', groups: [`mail-admin-${domain}`] });
    assert.equal((await sso('dora', '/admin/login/oidc')).res.status, 303);
    await server.services.admins.setDisabled(cliActor, 'dora', true);
    const refused = await sso('dora', '/admin/login/oidc');
    assert.equal(refused.res.status, 403);
    assert.match((await audited('admin-login.failure', 'dora')).at(0)?.detail ?? '', /disabled/);
  });

  test("logging out ends the panel's session, then the provider's (RP-initiated logout)", async () => {
    idp.users.set('erin', { preferred_username: 'erin', groups: ['mail-superadmins'] });
    const { agent } = await sso('erin', '/admin/login/oidc');
    const page = await agent.get('/admin/domains');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    const out = await agent.post('/admin/logout').type('form').send({ _csrf: csrf });
    assert.equal(out.status, 303);
    const end = new URL(out.headers.location!);
    assert.equal(end.origin, idp.issuer);
    assert.equal(end.searchParams.get('post_logout_redirect_uri'), `${server.url}/admin/login`);
    assert.ok(end.searchParams.get('id_token_hint'));
    assert.equal((await agent.get('/admin/domains')).headers.location, '/admin/login');
  });
});

describe('single sign-on for mailbox owners', () => {
  test('a verified email logs its mailbox in, in the login history as web / oidc; an unverified one is refused', async () => {
    const box = await aMailbox(server.services, { domain });
    idp.users.set('bob', { email: box.address.toUpperCase(), email_verified: true });
    const { res, agent } = await sso('bob', '/login/oidc');
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, '/account');
    assert.equal((await agent.get('/account')).status, 200);
    await server.adapters.batcher.flush();
    const history = await server.adapters.stores.loginHistory.listLoginHistory(box.mailbox.id, 50);
    assert.ok(history.some((h) => h.protocol === 'web' && h.mechanism === 'oidc' && h.result === 'ok'), JSON.stringify(history));

    idp.users.set('bob', { email: box.address, email_verified: false });
    const unverified = await sso('bob', '/login/oidc');
    assert.equal(unverified.res.status, 403);
    assert.match((await audited('login.failure', box.address)).at(0)?.detail ?? '', /email not verified/);
  });

  test('a disabled mailbox cannot log in through SSO', async () => {
    const box = await aMailbox(server.services, { domain });
    await server.services.mailboxes.setDisabled(cliActor, await server.services.domains.requireDomain(cliActor, domain), box.address, true);
    idp.users.set('carl', { email: box.address, email_verified: true });
    assert.equal((await sso('carl', '/login/oidc')).res.status, 403);
  });

  test('the local second factor is kept, unless the provider asserts one and OIDC_TRUST_MFA=true', async () => {
    const box = await aMailbox(server.services, { domain });
    const secret = new Secret();
    // Both servers share nothing: the TOTP is set in each one's database.
    for (const on of [server, trusting]) {
      const account = (await on.adapters.stores.accounts.findAccountByLogin(box.address)) ?? (await aMailbox(on.services, { domain: (await aDomain(on.services, { name: domain })).name, local: box.address.split('@')[0] })).mailbox;
      await on.adapters.stores.secondFactors.addTotp(`mailbox:${account.id}`, secret.base32, 0, [], 0, { at: 0, actor: 'test', action: 'second-factor.add', target: box.address, ip: null });
    }
    idp.users.set('fay', { email: box.address, email_verified: true });
    const kept = await sso('fay', '/login/oidc', server, ['pwd', 'mfa']);
    assert.equal(kept.res.headers.location, '/login/second-factor');
    // The second step completes the login; the provider's logout still gets the ID token as hint.
    const step = await kept.agent.get('/login/second-factor');
    const done = await kept.agent.post('/login/second-factor').type('form').send({ code: new TOTP({ secret }).generate(), _csrf: csrfOf(step.text) });
    assert.equal(done.headers.location, '/account');
    const account = await kept.agent.get('/account');
    const out = await kept.agent.post('/logout').type('form').send({ _csrf: csrfOf(account.text) });
    assert.ok(new URL(out.headers.location!).searchParams.get('id_token_hint'), out.headers.location);
    const trusted = await sso('fay', '/login/oidc', trusting, ['pwd', 'mfa']);
    assert.equal(trusted.res.headers.location, '/account');
    const notAsserted = await sso('fay', '/login/oidc', trusting, ['pwd']);
    assert.equal(notAsserted.res.headers.location, '/login/second-factor');
  });
});

describe('the protocol refuses what it must', () => {
  test('a wrong state', async () => {
    idp.users.set('gil', { preferred_username: 'gil', groups: ['mail-superadmins'] });
    idp.next = { user: 'gil' };
    const agent = request.agent(server.url);
    const callback = await throughIdp(agent, request.agent(idp.issuer), server.url, '/admin/login/oidc');
    const res = await agent.get(callback.replace(/state=[^&]+/, 'state=forged'));
    assert.equal(res.status, 403);
    assert.match(res.text, REFUSED);
    assert.equal((await agent.get('/admin/domains')).headers.location, '/admin/login');
  });

  test('a callback without a login started here, and a replayed code', async () => {
    idp.users.set('hal', { preferred_username: 'hal', groups: ['mail-superadmins'] });
    const first = await sso('hal', '/admin/login/oidc');
    assert.equal(first.res.status, 303);
    // The same callback again: nothing is under way in this session any more.
    const again = await first.agent.get(first.callback);
    assert.equal(again.status, 400);
    assert.match(again.text, /expired or was not started here/);
    // A new login under way, answered with the used code (and the new state): the provider refuses it.
    const fresh = request.agent(server.url);
    const started = await fresh.get('/admin/login/oidc');
    const state = new URL(started.headers.location!).searchParams.get('state')!;
    const replay = await fresh.get(first.callback.replace(/state=[^&]+/, `state=${state}`));
    assert.equal(replay.status, 403);
    assert.match((await audited('admin-login.failure', '(malformed name)')).map((e) => e.detail ?? '').join(' '), /invalid_grant/);
  });

  test('a wrong nonce', async () => {
    idp.users.set('ivy', { preferred_username: 'ivy', groups: ['mail-superadmins'] });
    idp.next = { user: 'ivy' };
    const agent = request.agent(server.url);
    const a = new URL((await agent.get('/admin/login/oidc')).headers.location!);
    const b = new URL((await agent.get('/admin/login/oidc')).headers.location!);
    // Login A's request with B's state and PKCE challenge: only the nonce is A's, not the session's.
    a.searchParams.set('state', b.searchParams.get('state')!);
    a.searchParams.set('code_challenge', b.searchParams.get('code_challenge')!);
    assert.notEqual(a.searchParams.get('nonce'), b.searchParams.get('nonce'));
    const provider = request.agent(idp.issuer);
    let res = await provider.get(a.pathname + a.search);
    let callback = '';
    for (let i = 0; i < 10 && !callback; i++) {
      const next = new URL(res.headers.location!, idp.issuer);
      if (next.pathname === '/oidc/callback') callback = next.pathname + next.search;
      else res = await provider.get(next.pathname + next.search);
    }
    const refused = await agent.get(callback);
    assert.equal(refused.status, 403);
    assert.match((await audited('admin-login.failure', '(malformed name)')).map((e) => e.detail ?? '').join(' '), /nonce/);
  });

  test('an expired ID token', async () => {
    idp.users.set('jon', { preferred_username: 'jon', groups: ['mail-superadmins'] });
    idp.next = { user: 'jon' };
    // The ID token is made when the code is exchanged: one already 10 s past its end, beyond the tolerance.
    idp.idTokenTtl = -10;
    try {
      const agent = request.agent(server.url);
      const callback = await throughIdp(agent, request.agent(idp.issuer), server.url, '/admin/login/oidc');
      const res = await agent.get(callback);
      assert.equal(res.status, 403);
      assert.match((await audited('admin-login.failure', '(malformed name)')).map((e) => e.detail ?? '').join(' '), /exp/);
    } finally {
      idp.idTokenTtl = 300;
    }
  });
});
