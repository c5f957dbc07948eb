import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Router } from 'express';
import request from 'supertest';
import { cliActor } from '../../src/core/actors.js';
import { createLogger } from '../../src/log.js';
import { API_ROUTES, apiRouter } from '../../src/web/api/router.js';
import { sessionKey } from '../../src/web/middleware/session-store.js';
import { panelRoutes } from '../../src/web/routes.js';
import { aToken } from '../helpers/api.js';
import { aDomain, aMailbox, anAdmin, strongPassword } from '../helpers/builders.js';
import { ADMIN_PASSWORD } from '../helpers/env.js';
import { csrfOf, loginAsAdmin, loginAsMailbox, sessionIdOf, startTestServer, type Agent, type TestServer } from '../helpers/server.js';
import { dumpDatabase } from './inspect.js';

// Every route of the panel and the API, against everyone who must not use it. The tables below
// are checked against the routers themselves: a route added without an entry fails this suite.

/** Who may use a panel route. */
type PanelAccess =
  | 'public'
  | 'mailbox' // a mailbox owner's session
  | 'admin' // any admin; what it shows is scoped to the admin's domains
  | 'domain' // an admin of the domain in the URL
  | 'own token' // the admin that owns the token (or a super admin)
  | 'super'; // super admins only

const PANEL: Record<string, PanelAccess> = {
  'GET /': 'public',
  'GET /login': 'public',
  'POST /login': 'public',
  'GET /login/second-factor': 'public',
  'POST /login/second-factor': 'public',
  'POST /login/second-factor/passkey/options': 'public',
  'POST /login/second-factor/passkey': 'public',
  'POST /logout': 'public',
  // SPEC §16: opened from links in mail; each checks its link (test/web/recovery.test.ts).
  'GET /login/forgot': 'public',
  'POST /login/forgot': 'public',
  'GET /login/reset/:token': 'public',
  'POST /login/reset/:token/code': 'public',
  'POST /login/reset/:token': 'public',
  'GET /login/recovery/:token': 'public',
  'POST /login/recovery/:token': 'public',
  // SPEC §18: single sign-on; each answers 404 unless OIDC_ISSUER is set, and the callback checks its login (test/web/sso.test.ts).
  'GET /login/oidc': 'public',
  'GET /admin/login/oidc': 'public',
  'GET /oidc/callback': 'public',
  // SPEC §17: the footer's language selector; a signed-in owner's POST saves the choice (test/web/languages.test.ts).
  'GET /language': 'public',
  'POST /language': 'public',
  'GET /account': 'mailbox',
  'POST /account': 'mailbox',
  'POST /account/generate': 'mailbox',
  'POST /account/recovery': 'mailbox',
  'GET /account/security': 'mailbox',
  'GET /account/mobileconfig': 'mailbox',
  'POST /account/mobileconfig': 'mailbox',
  'POST /account/security/confirm': 'mailbox',
  'POST /account/security/totp': 'mailbox',
  'POST /account/security/passkey/options': 'mailbox',
  'POST /account/security/passkey': 'mailbox',
  'POST /account/security/app-passwords': 'mailbox',
  'POST /account/security/app-passwords/:id/revoke': 'mailbox',
  'GET /admin': 'public',
  'GET /admin/login': 'public',
  'POST /admin/login': 'public',
  'GET /admin/login/second-factor': 'public',
  'POST /admin/login/second-factor': 'public',
  'POST /admin/login/second-factor/passkey/options': 'public',
  'POST /admin/login/second-factor/passkey': 'public',
  'POST /admin/logout': 'public',
  'GET /admin/account': 'admin',
  'POST /admin/account': 'admin',
  'POST /admin/account/generate': 'admin',
  'GET /admin/account/security': 'admin',
  'POST /admin/account/security/confirm': 'admin',
  'POST /admin/account/security/totp': 'admin',
  'POST /admin/account/security/passkey/options': 'admin',
  'POST /admin/account/security/passkey': 'admin',
  'GET /admin/domains': 'admin',
  'POST /admin/domains': 'super',
  'GET /admin/domains/:domain': 'domain',
  'POST /admin/domains/:domain/limits': 'domain',
  'GET /admin/domains/:domain/mailboxes/new': 'domain',
  'POST /admin/domains/:domain/mailboxes': 'domain',
  'POST /admin/domains/:domain/mailboxes/generate': 'domain',
  'GET /admin/domains/:domain/mailboxes/:address': 'domain',
  'POST /admin/domains/:domain/mailboxes/:address/password': 'domain',
  'POST /admin/domains/:domain/mailboxes/:address/generate': 'domain',
  'POST /admin/domains/:domain/mailboxes/:address/disable': 'domain',
  'POST /admin/domains/:domain/mailboxes/:address/second-factors/remove': 'super',
  'POST /admin/domains/:domain/mailboxes/:address/enable': 'domain',
  'POST /admin/domains/:domain/mailboxes/:address/limits': 'domain',
  'GET /admin/domains/:domain/mailboxes/:address/delete': 'domain',
  'POST /admin/domains/:domain/mailboxes/:address/delete': 'domain',
  'POST /admin/domains/:domain/dkim': 'domain',
  'POST /admin/domains/:domain/dkim/:selector/remove': 'domain',
  'GET /admin/domains/:domain/dns': 'domain',
  'POST /admin/domains/:domain/dns': 'domain',
  'GET /admin/domains/:domain/credentials/new': 'domain',
  'POST /admin/domains/:domain/credentials': 'domain',
  'GET /admin/domains/:domain/credentials/:guid': 'domain',
  'GET /admin/domains/:domain/credentials/:guid/reset': 'domain',
  'POST /admin/domains/:domain/credentials/:guid/reset': 'domain',
  'POST /admin/domains/:domain/credentials/:guid/limits': 'domain',
  'GET /admin/domains/:domain/credentials/:guid/delete': 'domain',
  'POST /admin/domains/:domain/credentials/:guid/delete': 'domain',
  'GET /admin/tokens': 'admin',
  'POST /admin/tokens': 'admin',
  'POST /admin/tokens/:id/revoke': 'own token',
  'GET /admin/admins': 'super',
  'POST /admin/admins': 'super',
  'GET /admin/admins/:username': 'super',
  'POST /admin/admins/:username': 'super',
  'POST /admin/admins/:username/disable': 'super',
  'POST /admin/admins/:username/enable': 'super',
  'POST /admin/admins/:username/delete': 'super',
  'POST /admin/admins/:username/second-factors/remove': 'super',
  'GET /admin/audit': 'super',
  'GET /admin/webhooks': 'admin',
  'POST /admin/webhooks': 'admin',
  'GET /admin/webhooks/:webhook': 'domain',
  'POST /admin/webhooks/:webhook/test': 'domain',
  'POST /admin/webhooks/:webhook/resume': 'domain',
  'POST /admin/webhooks/:webhook/delete': 'domain',
};

/** API routes: only the OpenAPI document is public; the rest need a token of an admin of `{domain}`. */
const API: Record<string, 'public' | 'token' | 'domain'> = {
  'GET /openapi.json': 'public',
  'GET /domains': 'token',
  'GET /domains/:domain/credentials': 'domain',
  'POST /domains/:domain/credentials': 'domain',
  'PUT /domains/:domain/credentials/:credential/reset-password': 'domain',
  'DELETE /domains/:domain/credentials/:credential': 'domain',
  'GET /domains/:domain/mailboxes': 'domain',
  'PUT /domains/:domain/mailboxes/:address/password': 'domain',
  'GET /domains/:domain/mailboxes/:address/logins': 'domain',
  'GET /domains/:domain/credentials/:credential/logins': 'domain',
  'GET /domains/:domain/limits': 'domain',
  'PUT /domains/:domain/limits': 'domain',
  'GET /domains/:domain/mailboxes/:address/limits': 'domain',
  'PUT /domains/:domain/mailboxes/:address/limits': 'domain',
  'GET /domains/:domain/credentials/:credential/limits': 'domain',
  'PUT /domains/:domain/credentials/:credential/limits': 'domain',
};

function routesOf(router: Router): string[] {
  return router.stack.flatMap((layer) => {
    const route = layer.route as { path: string; methods: Record<string, boolean> } | undefined;
    return route ? Object.keys(route.methods).map((m) => `${m.toUpperCase()} ${route.path}`) : [];
  });
}

let server: TestServer;
/** The domain under attack, with a mailbox, a credential and its own admin. */
let victim: { domain: string; address: string; password: string; guid: string; webhook: string };
let otherDomain: string;
let thirdDomain: string;
let tokens: { none: null; revoked: string; outsider: string; twoDomains: string; superToken: string };
let superTokenId: number;
const sessions = {} as Record<'super' | 'outsider' | 'mailbox' | 'idle' | 'loggedOut', Agent>;

before(async () => {
  server = await startTestServer({ API_RATE_LIMIT: '100000', LOGIN_MAX_ATTEMPTS: '100000', LOGIN_MAX_ATTEMPTS_PER_IP: '100000', WEBHOOK_ALLOW_PRIVATE: 'true' });
  const svc = server.services;
  const domain = (await aDomain(svc)).name;
  otherDomain = (await aDomain(svc)).name;
  thirdDomain = (await aDomain(svc)).name;
  const box = await aMailbox(svc, { domain });
  const { credential } = await svc.credentials.createCredential(cliActor, await svc.domains.requireDomain(cliActor, domain), 'CRM');
  // SPEC §19: a webhook of the victim's domain (on loopback's discard port: nothing answers).
  const { webhook } = await svc.webhooks.add(cliActor, { url: 'http://127.0.0.1:9/', events: ['mailbox.created'], domain });
  victim = { domain, address: box.address, password: box.password, guid: credential.guid!, webhook: webhook.id };
  await aMailbox(svc, { domain: otherDomain });

  const outsider = await anAdmin(svc, { domains: [otherDomain] });
  const twoDomains = await anAdmin(svc, { domains: [domain, thirdDomain] });
  const revoked = await aToken(svc, outsider.username, 'revoked');
  await svc.tokens.revokeToken(cliActor, revoked.token.id);
  const superToken = await aToken(svc, 'admin', 'super');
  superTokenId = superToken.token.id;
  tokens = {
    none: null,
    revoked: revoked.plaintext,
    outsider: (await aToken(svc, outsider.username)).plaintext,
    twoDomains: (await aToken(svc, twoDomains.username)).plaintext,
    superToken: superToken.plaintext,
  };

  sessions.super = await loginAsAdmin(server.url, 'admin', ADMIN_PASSWORD);
  sessions.outsider = await loginAsAdmin(server.url, outsider.username, outsider.password);
  sessions.mailbox = await loginAsMailbox(server.url, box.address, box.password);
  // Super admin sessions that ended: by idle time (the row's expiry passed, as SESSION_IDLE_MINUTES
  // sets it), by the absolute limit (created more than SESSION_MAX_HOURS ago) and by logging out.
  sessions.idle = await loginAsAdmin(server.url, 'admin', ADMIN_PASSWORD);
  sessions.loggedOut = await loginAsAdmin(server.url, 'admin', ADMIN_PASSWORD);
  for (const s of Object.values(sessions)) await readCsrf(s);
  await server.query('UPDATE sessions SET expires_at = ? WHERE key = ?', svc.clock.now() - 1, sessionKey(sessionIdOf(sessions.idle)));
  const out = await sessions.loggedOut.post('/admin/logout').type('form').send({ _csrf: csrf.get(sessions.loggedOut) });
  assert.equal(out.status, 303);
});
after(() => server.stop());

/** Each session's CSRF token, read while it was alive: a forged or stale form is refused before any access check. */
const csrf = new Map<Agent, string>();
/** Any page with a form carries the session's token: the login page of the other area will do. */
async function readCsrf(s: Agent) {
  csrf.set(s, csrfOf((await s.get(s === sessions.mailbox ? '/admin/login' : '/login')).text));
}

/**
 * A super admin session past SESSION_MAX_HOURS whose row is still there (e.g. the limit was lowered
 * since it began). Its first request ends it, so each check gets a new one.
 */
async function agedSession(): Promise<Agent> {
  const agent = await loginAsAdmin(server.url, 'admin', ADMIN_PASSWORD);
  await readCsrf(agent);
  const key = sessionKey(sessionIdOf(agent));
  const row = (await server.query<{ data: string }>('SELECT data FROM sessions WHERE key = ?', key))[0]!;
  const createdAt = server.services.clock.now() - (server.services.config.session.maxHours * 3600 + 60);
  await server.query('UPDATE sessions SET data = ? WHERE key = ?', JSON.stringify({ ...JSON.parse(row.data), createdAt }), key);
  return agent;
}

const fill = (path: string, domain = victim.domain) =>
  path.replace(':domain', domain).replace(':address', victim.address).replace(':guid', victim.guid).replace(':credential', victim.guid).replace(':id', String(superTokenId)).replace(':username', 'admin').replace(':selector', 'none-ed').replace(':webhook', victim.webhook);

/** A body that would do harm if the route let the request through. */
const HARMFUL = { password: strongPassword('X'), address: 'intruder', name: 'Intruder', domain: 'evil.test', username: 'evil', super: '1', domains: 'evil.test' };

async function panelRequest(agent: Agent | null, key: string) {
  const [method, path] = key.split(' ') as ['GET' | 'POST', string];
  const client = agent ?? request.agent(server.url);
  if (method === 'GET') return client.get(fill(path));
  // An anonymous visitor gets a CSRF token with its first page, as a browser would.
  const token = agent ? csrf.get(agent)! : csrfOf((await client.get('/login')).text);
  return client.post(fill(path)).type('form').send({ ...HARMFUL, _csrf: token });
}

describe('the tables cover every route', () => {
  test('panel: every route of panelRoutes has an entry, and no entry is stale', () => {
    const actual = routesOf(panelRoutes(server.services)).sort();
    assert.deepEqual(actual, Object.keys(PANEL).sort());
  });

  test('API: every route of the API router (and API_ROUTES) has an entry, and no entry is stale', () => {
    const actual = routesOf(apiRouter(server.services, createLogger('silent'))).sort();
    assert.deepEqual(actual, Object.keys(API).sort());
    for (const r of API_ROUTES) assert.ok(`${r.method.toUpperCase()} ${r.path}` in API, r.path);
  });
});

describe('panel routes', () => {
  const guarded = () => Object.entries(PANEL).filter(([, access]) => access !== 'public');
  const loginPage = (access: PanelAccess) => (access === 'mailbox' ? '/login' : '/admin/login');

  test('a super admin reaches every admin page (so the refusals below are meaningful)', async () => {
    for (const [key, access] of guarded()) {
      if (!key.startsWith('GET ') || access === 'mailbox') continue;
      const res = await panelRequest(sessions.super, key);
      assert.ok(res.status === 200 || (res.status === 303 && !/login/.test(res.headers.location ?? '')), `${key}: ${res.status}`);
    }
    assert.equal((await panelRequest(sessions.mailbox, 'GET /account')).status, 200);
  });

  test('no session: 303 to the login page of the area', async () => {
    const before = (await dumpDatabase(server));
    for (const [key, access] of guarded()) {
      const res = await panelRequest(null, key);
      assert.equal(res.status, 303, key);
      assert.equal(res.headers.location, loginPage(access), key);
    }
    assert.equal((await dumpDatabase(server)), before);
  });

  test('a mailbox session: 303 to /admin/login on every admin route', async () => {
    const before = (await dumpDatabase(server));
    for (const [key, access] of guarded()) {
      if (access === 'mailbox') continue;
      const res = await panelRequest(sessions.mailbox, key);
      assert.equal(res.status, 303, key);
      assert.equal(res.headers.location, '/admin/login', key);
    }
    assert.equal((await dumpDatabase(server)), before);
  });

  test('an admin session is not a mailbox session: 303 to /login on the account pages', async () => {
    for (const [key, access] of guarded()) {
      if (access !== 'mailbox') continue;
      const res = await panelRequest(sessions.super, key);
      assert.equal(res.status, 303, key);
      assert.equal(res.headers.location, '/login', key);
    }
  });

  test('an ended session (idle, past its absolute limit, logged out): 303 to the login page; a form from it 403', async () => {
    const before = (await dumpDatabase(server));
    for (const name of ['idle', 'aged', 'loggedOut'] as const) {
      for (const [key, access] of guarded()) {
        const res = await panelRequest(name === 'aged' ? await agedSession() : sessions[name], key);
        // The CSRF token lived in the session: once the row is gone, its forms are refused first.
        if (res.status === 403) {
          assert.ok(key.startsWith('POST ') && name !== 'aged', `${name} ${key}: 403`);
          continue;
        }
        assert.equal(res.status, 303, `${name} ${key}`);
        assert.equal(res.headers.location, loginPage(access), `${name} ${key}`);
      }
    }
    assert.equal((await dumpDatabase(server)), before);
  });

  test("a domain admin outside the domain: 404 as if it did not exist, on every domain route, super-admin page and another admin's token", async () => {
    const before = (await dumpDatabase(server));
    for (const [key, access] of guarded()) {
      if (access === 'mailbox' || access === 'admin') continue;
      const res = await panelRequest(sessions.outsider, key);
      assert.equal(res.status, 404, key);
      assert.doesNotMatch(res.text, new RegExp(victim.domain.replace('.', '\\.')), `${key} names the domain`);
    }
    assert.equal((await dumpDatabase(server)), before);
    // Pages for every admin show only its own domains.
    const list = await sessions.outsider.get('/admin/domains');
    assert.equal(list.status, 200);
    assert.doesNotMatch(list.text, new RegExp(victim.domain.replace('.', '\\.')));
    assert.match(list.text, new RegExp(otherDomain.replace('.', '\\.')));
    assert.equal((await sessions.outsider.get(`/admin/domains?domain=${victim.domain}`)).status, 404);
    assert.doesNotMatch((await sessions.outsider.get('/admin/tokens')).text, /super<\/td>/);
  });
});

describe('API routes', () => {
  const call = (key: string, auth: string | null, domain = victim.domain, cookie?: string) => {
    const [method, path] = key.split(' ') as [string, string];
    const req = request(server.url)[method.toLowerCase() as 'get' | 'post' | 'put' | 'delete'](`/api${fill(path, domain)}`);
    if (auth) req.set('Authorization', auth);
    if (cookie) req.set('Cookie', cookie);
    return req.send({ name: 'Intruder', password: strongPassword('X') });
  };
  const guarded = () => Object.entries(API).filter(([, access]) => access !== 'public');
  const UNAUTHORIZED = { success: false, message: 'Unauthorized' };

  test('the OpenAPI document is public; everything else answers 401 without a valid token', async () => {
    assert.equal((await call('GET /openapi.json', null)).status, 200);
    const before = (await dumpDatabase(server));
    const sessionCookie = `mailpass.sid=${encodeURIComponent(`s:${sessionIdOf(sessions.super)}`)}`;
    for (const [key] of guarded()) {
      for (const [label, auth, cookie] of [
        ['no credentials', null, undefined],
        ['a revoked token', `Bearer ${tokens.revoked}`, undefined],
        ['a token with one character changed', `Bearer ${tokens.superToken.slice(0, -1)}${tokens.superToken.endsWith('A') ? 'B' : 'A'}`, undefined],
        ['the token as Basic credentials', `Basic ${Buffer.from(`admin:${tokens.superToken}`).toString('base64')}`, undefined],
        ["a super admin's panel session cookie", null, sessionCookie],
      ] as const) {
        const res = await call(key, auth, victim.domain, cookie);
        assert.equal(res.status, 401, `${key} with ${label}`);
        assert.deepEqual(res.body, UNAUTHORIZED, `${key} with ${label}`);
        assert.equal(res.headers['www-authenticate'], 'Bearer');
      }
    }
    assert.equal((await dumpDatabase(server)), before);
  });

  test("a token of another domain's admin: 404 Domain not found on every domain route; its list shows only its domains", async () => {
    const before = (await dumpDatabase(server));
    for (const [key, access] of guarded()) {
      if (access !== 'domain') continue;
      const res = await call(key, `Bearer ${tokens.outsider}`);
      assert.equal(res.status, 404, key);
      assert.deepEqual(res.body, { success: false, message: 'Domain not found' }, key);
    }
    assert.equal((await dumpDatabase(server)), before);
    const list = await call('GET /domains', `Bearer ${tokens.outsider}`);
    assert.deepEqual(
      list.body.data.domains.map((d: { name: string }) => d.name),
      [otherDomain],
    );
  });

  test("a credential of one of the admin's domains named under its other domain: 403; under a foreign domain: 404", async () => {
    const before = (await dumpDatabase(server));
    for (const key of ['PUT /domains/:domain/credentials/:credential/reset-password', 'DELETE /domains/:domain/credentials/:credential']) {
      const wrongDomain = await call(key, `Bearer ${tokens.twoDomains}`, thirdDomain);
      assert.equal(wrongDomain.status, 403, key);
      assert.deepEqual(wrongDomain.body, { success: false, message: 'Credential does not belong to the specified domain' });
      const foreign = await call(key, `Bearer ${tokens.outsider}`, otherDomain);
      assert.equal(foreign.status, 404, key);
      assert.deepEqual(foreign.body, { success: false, message: 'Credential not found' });
    }
    // A mailbox of another domain, named under the admin's own domain, does not exist there either.
    const mailbox = await call('PUT /domains/:domain/mailboxes/:address/password', `Bearer ${tokens.outsider}`, otherDomain);
    assert.equal(mailbox.status, 404);
    assert.equal((await dumpDatabase(server)), before);
  });
});
