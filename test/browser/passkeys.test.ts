import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { aDomain, aMailbox } from '../helpers/builders.js';
import { launchBrowser, logInAsMailbox, newJourney, type Journey } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// SPEC §11: a passkey as the second factor, with Chromium's virtual authenticator (WebAuthn over
// the DevTools protocol) standing in for a phone or a security key. WebAuthn needs a host name
// (not an IP address) as its relying party: the browser uses localhost.

let server: TestServer;
let browser: Browser;
let domain: string;
const journeys: Journey[] = [];

before(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchBrowser()]);
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
  const history = await server.adapters.store.listLoginHistory(box.mailbox.id, 20);
  assert.ok(history.some((h) => h.mechanism === 'passkey' && h.result === 'ok'), JSON.stringify(history));
  const [passkey] = await server.adapters.store.listPasskeys(`mailbox:${box.mailbox.id}`);
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
