import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import type { Browser, Page } from 'playwright-core';
import { aDomain, aMailbox } from '../helpers/builders.js';
import { PHONE, launchBrowser, logInAsMailbox, newJourney, overflowsHorizontally, seriousAxeViolations, type Journey } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// SPEC §11 in the browser: TOTP read off the page and computed here, recovery codes, app passwords,
// and a passkey with Chromium's virtual authenticator (WebAuthn over the DevTools protocol)
// standing in for a phone or a security key. WebAuthn needs a host name (not an IP address) as its
// relying party: the browser uses localhost.

let server: TestServer;
let browser: Browser;
let domain: string;
const journeys: Journey[] = [];

before(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchBrowser({ hosts: ['mail.lan.test'] })]);
  domain = (await aDomain(server.services)).name;
});
after(async () => {
  await Promise.all(journeys.map((j) => j.close()));
  await browser?.close();
  await server?.stop();
});

async function withAuthenticator() {
  const j = await newJourney(browser, `http://localhost:${server.httpPort}`);
  journeys.push(j);
  const cdp = await j.context.newCDPSession(j.page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = (await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  })) as { authenticatorId: string };
  return { j, cdp, authenticatorId };
}

test('over plain HTTP on a host name (no Sec-Fetch-Site sent), the login forms still post with their Origin and log in', async () => {
  // Browsers send Sec-Fetch-Site only to trustworthy origins (https, localhost, 127.0.0.1); the
  // login's same-site check then reads Origin, which a `no-referrer` policy turns into "null".
  const box = await aMailbox(server.services, { domain });
  const j = await newJourney(browser, `http://mail.lan.test:${server.httpPort}`);
  journeys.push(j);
  const posted: Array<Record<string, string>> = [];
  j.page.on('request', (r) => {
    if (r.method() === 'POST') posted.push(r.headers());
  });
  await logInAsMailbox(j.page, box.address, box.password);
  assert.equal(posted[0]!['sec-fetch-site'], undefined, 'this origin gets no Sec-Fetch-Site');
  assert.equal(posted[0]!.origin, `http://mail.lan.test:${server.httpPort}`);
  const page = await j.page.goto('/account');
  assert.equal(page?.headers()['referrer-policy'], 'same-origin', 'no referrer leaves the panel');
});

test('a mailbox owner adds a passkey (10 recovery codes once), then logs in with password and passkey; a stranger browser without it cannot', async () => {
  const box = await aMailbox(server.services, { domain });
  const { j } = await withAuthenticator();
  const { page } = j;
  await logInAsMailbox(page, box.address, box.password);
  await page.goto('/account/security');
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await page.locator('#passkey-codes li').nth(9).waitFor();
  assert.equal(await page.locator('#passkey-codes li').count(), 10);
  assert.match(await page.locator('#passkey-status').innerText(), /passkey was added/);
  await page.reload();
  assert.match(await page.locator('ul.passkeys').innerText(), /Added \d{4}-\d{2}-\d{2}, last used never/);

  // Log out, then in again: the password leads to the second step, the passkey completes it.
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.goto('/login');
  await page.getByLabel('Email address').fill(box.address);
  await page.getByLabel('Password', { exact: true }).fill(box.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL('**/login/second-factor');
  await page.getByRole('button', { name: 'Use a passkey' }).click();
  await page.waitForURL('**/account');
  assert.deepEqual(j.problems, []);

  await server.adapters.batcher.flush();
  const history = await server.adapters.stores.loginHistory.listLoginHistory(box.mailbox.id, 20);
  assert.ok(history.some((h) => h.mechanism === 'passkey' && h.result === 'ok'), JSON.stringify(history));
  const [passkey] = await server.adapters.stores.secondFactors.listPasskeys(`mailbox:${box.mailbox.id}`);
  assert.ok(passkey!.counter > 0 || passkey!.lastUsedAt !== null);

  // Another browser with an authenticator of its own (a different key) gets past the password, not the second step.
  const other = await withAuthenticator();
  await other.j.page.goto('/login');
  await other.j.page.getByLabel('Email address').fill(box.address);
  await other.j.page.getByLabel('Password', { exact: true }).fill(box.password);
  await other.j.page.getByRole('button', { name: 'Log in' }).click();
  await other.j.page.waitForURL('**/login/second-factor');
  await other.j.page.getByRole('button', { name: 'Use a passkey' }).click();
  await other.j.page.locator('#passkey-status').filter({ hasText: /.+/ }).waitFor();
  assert.ok(other.j.page.url().endsWith('/login/second-factor'), 'a foreign authenticator logged in');
  assert.equal((await other.j.page.goto('/account'))!.url().endsWith('/login'), true);
});

const codeOf = (secret: string, offsetSteps = 0) =>
  new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' }).generate({ timestamp: Date.now() + offsetSteps * 30_000 });

/** The page is axe clean and readable at 1280 and at 375 px. */
async function clean(page: Page, what: string) {
  assert.deepEqual(await seriousAxeViolations(page), [], `${what}: axe at 1280 px`);
  await page.setViewportSize(PHONE);
  assert.deepEqual(await seriousAxeViolations(page, { colorContrast: false }), [], `${what}: axe at 375 px`);
  assert.equal(await overflowsHorizontally(page), false, `${what}: wider than 375 px`);
  await page.setViewportSize({ width: 1280, height: 800 });
}

async function passwordStep(page: Page, address: string, password: string) {
  await page.goto('/login');
  await page.getByLabel('Email address').fill(address);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL('**/login/second-factor');
}

test('TOTP: read the secret off the page, turn it on, log in with a code, then with a recovery code', async () => {
  const box = await aMailbox(server.services, { domain });
  const j = await newJourney(browser, `http://localhost:${server.httpPort}`);
  journeys.push(j);
  const { page } = j;
  await logInAsMailbox(page, box.address, box.password);
  await page.getByRole('link', { name: 'Second factor for this panel' }).click();
  await page.waitForURL('**/account/security');
  await clean(page, 'security page');
  const secret = (await page.locator('#totp-secret').innerText()).replace(/\s/g, '');
  await page.getByLabel('Code').fill(codeOf(secret));
  await page.getByRole('button', { name: 'Turn on' }).click();
  const codes = (await page.locator('#recovery-codes li').allInnerTexts()).map((c) => c.trim());
  assert.equal(codes.length, 10);
  await clean(page, 'recovery codes');

  await page.getByRole('button', { name: 'Log out' }).click();
  await passwordStep(page, box.address, box.password);
  await clean(page, 'second step');
  await page.getByLabel('Code').fill(codeOf(secret, 1));
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL('**/account');

  await page.getByRole('button', { name: 'Log out' }).click();
  await passwordStep(page, box.address, box.password);
  await page.getByLabel('Code').fill(codes[0]!);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL('**/account');
  assert.deepEqual(j.problems, []);
});

test('app passwords: create one (shown once, with Copy), see it listed, revoke it', async () => {
  const box = await aMailbox(server.services, { domain });
  const j = await newJourney(browser, `http://localhost:${server.httpPort}`);
  journeys.push(j);
  const { page } = j;
  await logInAsMailbox(page, box.address, box.password);
  await page.goto('/account/security');
  await page.getByLabel('Name').fill('Phone');
  await page.getByRole('button', { name: 'Create app password' }).click();
  const shown = await page.locator('#app-password').innerText();
  assert.equal(shown.length, 20);
  await clean(page, 'app password created');
  await page.goto('/account/security');
  assert.equal(await page.locator('#app-password').count(), 0, 'shown once');
  assert.match(await page.locator('table').innerText(), /Phone/);
  await page.getByRole('button', { name: 'Revoke Phone' }).click();
  await page.waitForURL('**/account/security');
  assert.match(await page.locator('.notice').innerText(), /App password Phone revoked/);
  assert.deepEqual(j.problems, []);
});
