import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { aDomain, aMailbox } from '../helpers/builders.js';
import { launchBrowser, newJourney, type Journey } from '../helpers/browser.js';
import { startIdp, type Idp } from '../helpers/oidc-provider.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// SPEC §18 in Chromium: an admin and a mailbox owner click `Log in with SSO`, pass the identity
// provider (oidc-provider on loopback) and land in the panel; logging out ends both sessions.

let idp: Idp;
let server: TestServer;
let browser: Browser;
let domain: string;
const journeys: Journey[] = [];

before(async () => {
  idp = await startIdp();
  [server, browser] = await Promise.all([
    startTestServer({
      OIDC_ISSUER: idp.issuer,
      OIDC_CLIENT_ID: idp.clientId,
      OIDC_CLIENT_SECRET: idp.clientSecret,
      OIDC_DOMAIN_ADMIN_GROUP_PREFIX: 'mail-admin-',
      OIDC_USERS: 'true',
    }),
    launchBrowser(),
  ]);
  idp.register(server.url);
  domain = (await aDomain(server.services)).name;
});
after(async () => {
  await Promise.all(journeys.map((j) => j.close()));
  await browser?.close();
  await server?.stop();
  await idp?.stop();
});

async function journey() {
  const j = await newJourney(browser, server.url);
  journeys.push(j);
  return j;
}

describe('single sign-on in the browser', () => {
  test('an admin made from its group logs in with SSO, sees its domain, and logs out of both', async () => {
    idp.users.set('kim', { preferred_username: 'kim', groups: [`mail-admin-${domain}`] });
    idp.next = { user: 'kim' };
    const j = await journey();
    const { page } = j;
    await page.goto('/admin/login');
    await page.getByRole('link', { name: 'Log in with SSO' }).click();
    await page.waitForURL(`${server.url}/admin/domains`, { waitUntil: 'commit' });
    await page.getByRole('link', { name: domain }).first().waitFor();
    await page.getByRole('button', { name: 'Log out' }).click();
    // Through the provider's logout, back to the panel's login.
    await page.waitForURL(`${server.url}/admin/login`, { waitUntil: 'commit' });
    await page.goto('/admin/domains');
    assert.equal(new URL(page.url()).pathname, '/admin/login');
    assert.deepEqual(j.problems.filter((p) => p.includes(server.url)), []);
  });

  test('a mailbox owner logs in with SSO by its verified address and lands on its account', async () => {
    const box = await aMailbox(server.services, { domain });
    idp.users.set('lou', { email: box.address, email_verified: true });
    idp.next = { user: 'lou' };
    const j = await journey();
    const { page } = j;
    await page.goto('/login');
    await page.getByRole('link', { name: 'Log in with SSO' }).click();
    await page.waitForURL(`${server.url}/account`);
    await page.getByRole('heading', { name: 'Your account', level: 1 }).waitFor();
    assert.ok(await page.getByText(box.address).first().isVisible());
    assert.deepEqual(j.problems.filter((p) => p.includes(server.url)), []);
  });
});
