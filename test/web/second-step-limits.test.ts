import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { MAX_TOTP_FAILURES } from '../../src/core/alerts.js';
import { aDomain, aMailbox, anAdmin } from '../helpers/builders.js';
import { csrfOf, loginAsAdmin, loginAsMailbox, postForm, startTestServer, type Agent, type TestServer } from '../helpers/server.js';
import { codeAt, turnOnTotp } from '../helpers/totp.js';

// Issue 29, item 2: the second step of a login is not a door strangers can close. Wrong passwords
// never reach it; wrong codes count on a name of their own, which only someone past the password
// step can raise; a browser that logged in before keeps a budget of its own there too; and TOTP
// guessing ends after MAX_TOTP_FAILURES codes in a row (NIST SP 800-63B), with an alert.
const PER_LOGIN = 3;

let server: TestServer;
let domain: string;

before(async () => {
  server = await startTestServer({ LOGIN_MAX_ATTEMPTS: String(PER_LOGIN), LOGIN_MAX_ATTEMPTS_PER_IP: '10000' });
  domain = (await aDomain(server.services)).name;
});
after(() => server.stop());

/** A 6-digit code that is none of the codes valid around now (±2 steps). */
const wrongCode = (secret: string, n: number) => {
  const valid = new Set([-2, -1, 0, 1, 2].map((d) => codeAt(secret, d)));
  for (let i = n; ; i++) {
    const code = String(i % 1_000_000).padStart(6, '0');
    if (!valid.has(code)) return code;
  }
};

const realms = {
  mailbox: { login: '/login', step: '/login/second-factor', security: '/account/security', home: '/account', field: 'email' },
  admin: { login: '/admin/login', step: '/admin/login/second-factor', security: '/admin/account/security', home: '/admin/domains', field: 'username' },
} as const;
type Realm = (typeof realms)[keyof typeof realms];

const passwordStep = (agent: Agent, r: Realm, name: string, password: string) => postForm(agent, r.login, r.login, { [r.field]: name, password });
const codeStep = (agent: Agent, r: Realm, code: string) => postForm(agent, r.step, r.step, { code });

/** A browser that completed both steps once (it carries the known-browser mark), logged out again. */
/** (Each TOTP code works once and only a newer one after it: these logins use recovery codes.) */
async function knownBrowser(r: Realm, name: string, password: string, recoveryCode: string) {
  const agent = request.agent(server.url);
  assert.equal((await passwordStep(agent, r, name, password)).headers.location, r.step);
  const done = await codeStep(agent, r, recoveryCode);
  assert.equal(done.status, 303);
  assert.equal(done.headers.location, r.home);
  await agent.post('/logout').type('form').send({ _csrf: csrfOf((await agent.get(r.home)).text) });
  return agent;
}

describe('the second step and the limits (issue 29)', () => {
  const subjects = [
    {
      name: 'a mailbox owner',
      r: realms.mailbox,
      make: async () => {
        const box = await aMailbox(server.services, { domain });
        const { secret, codes } = await turnOnTotp(await loginAsMailbox(server.url, box.address, box.password), realms.mailbox.security);
        return { name: box.address, password: box.password, secret, codes };
      },
    },
    {
      name: 'an admin',
      r: realms.admin,
      make: async () => {
        const adm = await anAdmin(server.services, { domains: [domain] });
        const { secret, codes } = await turnOnTotp(await loginAsAdmin(server.url, adm.username, adm.password), realms.admin.security);
        return { name: adm.username, password: adm.password, secret, codes };
      },
    },
  ];

  for (const { name: who, r, make } of subjects) {
    test(`${who}: a stranger's wrong passwords lock the login, yet its own browser passes both steps`, async () => {
      const owner = await make();
      const own = await knownBrowser(r, owner.name, owner.password, owner.codes[0]!);
      const stranger = request.agent(server.url);
      for (let i = 0; i < PER_LOGIN; i++) assert.equal((await passwordStep(stranger, r, owner.name, `Wrong#${i}-guess`)).status, 401);
      assert.equal((await passwordStep(stranger, r, owner.name, owner.password)).status, 429, 'the shared count is locked');
      assert.equal((await passwordStep(own, r, owner.name, owner.password)).headers.location, r.step);
      // Before the fix the second step read the shared count and answered 429 here.
      const step = await codeStep(own, r, codeAt(owner.secret, 1));
      assert.equal(step.status, 303);
      assert.equal(step.headers.location, r.home);
    });
  }

  test('wrong codes count on their own: the one who knows the password uses them up, the owner\'s browser still gets in', async () => {
    const owner = await subjects[0]!.make();
    const r = realms.mailbox;
    const own = await knownBrowser(r, owner.name, owner.password, owner.codes[0]!);
    const thief = request.agent(server.url);
    assert.equal((await passwordStep(thief, r, owner.name, owner.password)).headers.location, r.step);
    for (let i = 0; i < PER_LOGIN; i++) assert.equal((await codeStep(thief, r, wrongCode(owner.secret, 100 + i))).status, 401);
    assert.equal((await codeStep(thief, r, codeAt(owner.secret))).status, 429, 'the second step of a new browser is locked');
    // The wrong codes did not touch the password count: a new browser still passes the password step.
    assert.equal((await passwordStep(request.agent(server.url), r, owner.name, owner.password)).headers.location, r.step);
    assert.equal((await passwordStep(own, r, owner.name, owner.password)).headers.location, r.step);
    assert.equal((await codeStep(own, r, codeAt(owner.secret, 1))).status, 303);
  });

  test(`${MAX_TOTP_FAILURES} wrong TOTP codes in a row: codes are refused, the owner is alerted; a recovery code ends the run`, async () => {
    const box = await aMailbox(server.services, { domain });
    const { secret, codes } = await turnOnTotp(await loginAsMailbox(server.url, box.address, box.password), realms.mailbox.security);
    const owner = `mailbox:${box.mailbox.id}` as const;
    const check = (code: string) => server.services.secondFactors.check(owner, box.address, { code });
    const run = async () => (await server.adapters.counters.get(`totp-failures:${owner}`)).count;
    await server.services.alerts.take(owner);
    for (let i = 0; i < 5; i++) assert.equal(await check(wrongCode(secret, 1000 + i)), false);
    assert.equal(await run(), 5);
    assert.equal(await check(codes[9]!), true);
    assert.equal(await run(), 0, 'a second step that passed ends the run');
    for (let i = 0; i < MAX_TOTP_FAILURES; i++) assert.equal(await check(wrongCode(secret, 5000 + i)), false);
    // Unused and newer than the code that turned TOTP on: right, but refused past the cap.
    assert.equal(await check(codeAt(secret, 1)), false, 'past the cap a right code is refused too');
    await server.services.alerts.settled();
    const told = await server.services.alerts.take(owner);
    assert.equal(told.length, 1);
    assert.match(told[0]!.text, new RegExp(`${MAX_TOTP_FAILURES} wrong authenticator codes in a row`));
    assert.equal(await check(codes[0]!), true, 'a recovery code still logs in');
    assert.equal(await check(codeAt(secret, 1)), true, 'and then the authenticator works again');
  });

  test('a right password whose second step is abandoned is in the owner\'s history, and told to it from a new browser only', async () => {
    const box = await aMailbox(server.services, { domain });
    const { secret, codes } = await turnOnTotp(await loginAsMailbox(server.url, box.address, box.password), realms.mailbox.security);
    const owner = `mailbox:${box.mailbox.id}` as const;
    const own = await knownBrowser(realms.mailbox, box.address, box.password, codes[0]!);
    await server.services.alerts.settled();
    await server.services.alerts.take(owner);
    // From the owner's own browser: in the history, no alert.
    assert.equal((await passwordStep(own, realms.mailbox, box.address, box.password)).headers.location, realms.mailbox.step);
    await server.services.alerts.settled();
    assert.deepEqual(await server.services.alerts.take(owner), []);
    // From a browser that never logged in as it, and nobody types the code: history and an alert.
    const thief = request.agent(server.url);
    assert.equal((await passwordStep(thief, realms.mailbox, box.address, box.password)).headers.location, realms.mailbox.step);
    await server.services.alerts.settled();
    const told = await server.services.alerts.take(owner);
    assert.equal(told.length, 1);
    assert.match(told[0]!.text, /was entered correctly .* from 127\.0\.0\.1, from a browser that had not logged in as it before/);
    await server.adapters.batcher.flush();
    const history = await server.adapters.stores.loginHistory.listLoginHistory(box.mailbox.id, 100);
    const pending = history.find((h) => h.result === 'second-factor-pending');
    assert.ok(pending, JSON.stringify(history));
    assert.equal(pending.protocol, 'web');
    assert.equal(pending.count, 3, 'the known browser twice and the new one once');
    // The owner reads it on its account page.
    const mine = await loginAsMailboxWithCode(box.address, box.password, secret, own);
    assert.match((await mine.get('/account')).text, /Password right, second factor asked/);
  });
});

async function loginAsMailboxWithCode(address: string, password: string, secret: string, agent: Agent) {
  assert.equal((await passwordStep(agent, realms.mailbox, address, password)).headers.location, realms.mailbox.step);
  assert.equal((await codeStep(agent, realms.mailbox, codeAt(secret, 1))).status, 303);
  return agent;
}
