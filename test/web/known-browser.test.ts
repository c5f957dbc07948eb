import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { aDomain, aMailbox, anAdmin } from '../helpers/builders.js';
import { csrfOf, postForm, startTestServer, type Agent, type TestServer } from '../helpers/server.js';

// A stranger can use up any login's attempts; a browser that has logged in as that login before
// proves it with its mp_known cookie and keeps a budget of its own. The per-address limit holds all.
const PER_LOGIN = 3;

let server: TestServer;
let domain: string;

before(async () => {
  server = await startTestServer({ LOGIN_MAX_ATTEMPTS: String(PER_LOGIN), LOGIN_MAX_ATTEMPTS_PER_IP: '1000' });
  domain = (await aDomain(server.services)).name;
});
after(() => server.stop());

const attempt = (agent: Agent, email: string, password: string) => postForm(agent, '/login', '/login', { email, password });
const cookieLines = (res: { headers: Record<string, unknown> }) => (res.headers['set-cookie'] as string[] | undefined) ?? [];

/** Logs in, then out: the session is gone, the mp_known cookie stays in the agent's jar. */
async function knownBrowser(email: string, password: string) {
  const agent = request.agent(server.url);
  const res = await attempt(agent, email, password);
  assert.equal(res.status, 303);
  const lines = cookieLines(res);
  assert.match(lines[0]!, /^mailpass\.sid=/, 'the session cookie comes first');
  const known = lines.find((l) => l.startsWith('mp_known='));
  assert.ok(known, 'a successful login marks the browser');
  const out = await postForm(agent, '/account', '/logout', {});
  assert.equal(out.status, 303);
  return { agent, known };
}

describe('known browsers and the per-login limit', () => {
  test('the mark is HttpOnly, SameSite=Lax, scoped to the login page, and lasts 30 days', async () => {
    const { address, password } = await aMailbox(server.services, { domain });
    const { known } = await knownBrowser(address, password);
    assert.match(known, /; HttpOnly/);
    assert.match(known, /; SameSite=Lax/);
    assert.match(known, /; Path=\/login(;|$)/);
    assert.match(known, /; Max-Age=2592000(;|$)/);
    assert.doesNotMatch(known, new RegExp(address.split('@')[0]!), 'the cookie does not name the login');
  });

  test('after a stranger used up the address, its known browser still logs in; others get 429', async () => {
    const alice = await aMailbox(server.services, { domain });
    const bob = await aMailbox(server.services, { domain });
    const { agent: alicesBrowser } = await knownBrowser(alice.address, alice.password);
    const { agent: bobsBrowser } = await knownBrowser(bob.address, bob.password);

    const stranger: number[] = [];
    for (let i = 0; i <= PER_LOGIN; i++) stranger.push((await attempt(request.agent(server.url), alice.address, `Guess#${i}-Wrong`)).status);
    assert.deepEqual(stranger, [...Array(PER_LOGIN).fill(401), 429]);

    // Bob's mark is for bob: it does not open alice's login.
    assert.equal((await attempt(bobsBrowser, alice.address, alice.password)).status, 429);
    // Alice's browser is not held by her login's limit: a typo is a 401, the right password logs in.
    assert.equal((await attempt(alicesBrowser, alice.address, 'Typo#Pass-1x')).status, 401);
    assert.equal((await attempt(alicesBrowser, alice.address, alice.password)).status, 303);
    // Her login does not give the stranger fresh guesses: the shared count stays where it was.
    assert.equal((await attempt(request.agent(server.url), alice.address, 'Guess#again-Wrong')).status, 429);
  });

  test('a known browser has a budget of its own; its failures still count for the others', async () => {
    const { address, password } = await aMailbox(server.services, { domain });
    const { agent: guessing } = await knownBrowser(address, password);
    const { agent: other } = await knownBrowser(address, password);
    const codes: number[] = [];
    for (let i = 0; i <= PER_LOGIN; i++) codes.push((await attempt(guessing, address, `Guess#${i}-Wrong`)).status);
    assert.deepEqual(codes, [...Array(PER_LOGIN).fill(401), 429], 'a stolen mark buys no more guesses than the login had');
    assert.equal((await attempt(guessing, address, password)).status, 429);
    assert.equal((await attempt(other, address, password)).status, 303);
    // Its failures still count for everyone else, as any browser's would.
    assert.equal((await attempt(request.agent(server.url), address, password)).status, 429);
  });

  test('a tampered or expired mark is ignored', async () => {
    const { address, password } = await aMailbox(server.services, { domain });
    const { known } = await knownBrowser(address, password);
    for (let i = 0; i < PER_LOGIN; i++) await attempt(request.agent(server.url), address, `Guess#${i}-Wrong`);
    const [expires, nonce, mac] = known.split(';')[0]!.slice('mp_known='.length).split('.') as [string, string, string];
    const flipped = `${mac.slice(0, 10)}${mac[10] === 'A' ? 'B' : 'A'}${mac.slice(11)}`;
    const otherNonce = `${nonce[0] === 'A' ? 'B' : 'A'}${nonce.slice(1)}`;
    for (const value of [`${expires}.${nonce}.${flipped}`, `${Number(expires) + 1}.${nonce}.${mac}`, `${expires}.${otherNonce}.${mac}`, `1.${nonce}.${mac}`]) {
      // A look at the login page starts no session (issue 29): the mark is the only cookie sent.
      const page = await request(server.url).get('/login');
      const res = await request(server.url)
        .post('/login')
        .set('Cookie', `mp_known=${value}`)
        .type('form')
        .send({ email: address, password, _csrf: csrfOf(page.text) });
      assert.equal(res.status, 429, value);
    }
    // The same request with the real mark logs in.
    const page = await request(server.url).get('/login');
    const res = await request(server.url).post('/login').set('Cookie', known.split(';')[0]!).type('form').send({ email: address, password, _csrf: csrfOf(page.text) });
    assert.equal(res.status, 303);
  });
});

describe('the per-address limit', () => {
  const PER_IP = 3;
  let small: TestServer;
  before(async () => (small = await startTestServer({ LOGIN_MAX_ATTEMPTS: '5', LOGIN_MAX_ATTEMPTS_PER_IP: String(PER_IP) })));
  after(() => small.stop());

  test('still holds a known browser; the admin login has a mark of its own', async () => {
    const admin = await anAdmin(small.services, { isSuper: true });
    const agent = request.agent(small.url);
    const res = await postForm(agent, '/admin/login', '/admin/login', { username: admin.username, password: admin.password });
    assert.equal(res.status, 303);
    assert.match(cookieLines(res).find((l) => l.startsWith('mp_known='))!, /; Path=\/admin\/login(;|$)/);
    assert.equal((await postForm(agent, '/admin/domains', '/admin/logout', {})).status, 303);
    // Every request here comes from 127.0.0.1, whose limit counts failures (the login above was
    // none); the browser's own budget (5) is larger, so the address's limit is what answers 429.
    const codes: number[] = [];
    for (let i = 1; i <= PER_IP + 1; i++) codes.push((await postForm(agent, '/admin/login', '/admin/login', { username: admin.username, password: `Guess#${i}-Wrong` })).status);
    assert.deepEqual(codes, [...Array(PER_IP).fill(401), 429]);
  });
});
