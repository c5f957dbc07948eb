import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { checkPolicy } from '../../src/core/passwords.js';
import { aDomain, aMailbox } from '../helpers/builders.js';
import { ADMIN_PASSWORD } from '../helpers/env.js';
import { addSession, launchBrowser, logInAsAdmin, logInAsMailbox, newJourney, type Journey } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let browser: Browser;
const journeys: Journey[] = [];

before(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchBrowser()]);
});
after(async () => {
  await Promise.all(journeys.map((j) => j.close()));
  await browser?.close();
  await server?.stop();
});

/** The super admin in its own browser context, allowed to use the clipboard; logged in through the form when `viaForm`. */
async function adminJourney({ viaForm = false } = {}) {
  const j = await newJourney(browser, server.url);
  journeys.push(j);
  await j.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  if (viaForm) await logInAsAdmin(j.page, 'admin', ADMIN_PASSWORD);
  else {
    await addSession(j.context, server.url, 'admin', 'admin', ADMIN_PASSWORD);
    await j.page.goto('/admin/domains');
  }
  return j;
}

const clipboard = (page: Page) => page.evaluate(() => navigator.clipboard.readText());
const verifies = async (login: string, password: string) => {
  const account = await server.adapters.stores.accounts.findAccountByLogin(login);
  return !!account && (await server.adapters.hasher.verify(account.passwordHash, password));
};

describe('an admin in the browser', () => {
  test('selects a domain, finds a mailbox, generates, copies and saves its password; the owner logs in with it', async () => {
    const domain = (await aDomain(server.services)).name;
    await aDomain(server.services);
    const { address } = await aMailbox(server.services, { domain, local: 'zoe' });
    for (const local of ['adam', 'bea', 'carl']) await aMailbox(server.services, { domain, local });
    const j = await adminJourney({ viaForm: true });
    const { page } = j;

    await page.getByLabel('Select domain').selectOption(domain);
    await page.getByRole('button', { name: 'Select domain' }).click();
    await page.waitForURL(`**/admin/domains/${domain}`);
    assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), domain);

    await page.getByLabel('Search mailboxes').fill('zo');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/q=zo/);
    const rows = page.getByRole('table', { name: /mailbox/ }).locator('tbody tr');
    assert.equal(await rows.count(), 1);
    await page.getByRole('link', { name: `Edit ${address}` }).click();
    await page.waitForURL(`**/mailboxes/${encodeURIComponent(address)}`);

    const field = page.getByLabel('Password', { exact: true });
    assert.equal(await field.inputValue(), '');
    await page.getByRole('button', { name: 'Generate' }).click();
    await page.waitForFunction(() => (document.getElementById('password') as HTMLInputElement).value !== '');
    const generated = await field.inputValue();
    assert.equal(Array.from(generated).length, 20);
    assert.deepEqual(await checkPolicy(generated, { localPart: 'zoe', domain }, server.services.config.minPasswordScore, server.adapters.estimator), []);
    await page.locator('#password-strength').getByText('Strong').waitFor();

    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByRole('button', { name: 'Copied' }).waitFor();
    assert.equal(await clipboard(page), generated);

    await page.getByRole('button', { name: 'Update user' }).click();
    await page.waitForURL(`**/admin/domains/${domain}`);
    await page.getByRole('status').getByText(`Password of ${address} updated.`).waitFor();
    assert.ok(await verifies(address, generated));

    const owner = await newJourney(browser, server.url);
    journeys.push(owner);
    await logInAsMailbox(owner.page, address, generated);
    assert.deepEqual(j.problems, []);
    assert.deepEqual(owner.problems, []);
  });

  test('the same by keyboard alone: Enter in the password field saves it, it does not generate another', async () => {
    const domain = (await aDomain(server.services, { name: `keys${Date.now()}.test` })).name;
    const { address } = await aMailbox(server.services, { domain, local: 'kim' });
    const { page } = await adminJourney();
    const keys = async (...presses: string[]) => {
      for (const key of presses) await page.keyboard.press(key);
    };
    await page.goto('/admin/domains');
    await page.getByLabel('Select domain').focus();
    await page.keyboard.press('Home');
    while ((await page.getByLabel('Select domain').inputValue()) !== domain) await page.keyboard.press('ArrowDown');
    await keys('Tab', 'Enter');
    await page.waitForURL(`**/admin/domains/${domain}`);

    await page.getByLabel('Search mailboxes').focus();
    await page.keyboard.type('ki');
    await keys('Enter');
    await page.waitForURL(/q=ki/);
    await page.getByRole('link', { name: `Edit ${address}` }).focus();
    await keys('Enter');
    await page.waitForURL(`**/mailboxes/${encodeURIComponent(address)}`);

    await page.getByRole('button', { name: 'Generate' }).focus();
    await keys('Enter');
    await page.waitForFunction(() => (document.getElementById('password') as HTMLInputElement).value !== '');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'password', 'the focus goes to the generated password');
    const generated = await page.getByLabel('Password', { exact: true }).inputValue();
    await keys('Enter');
    await page.waitForURL(`**/admin/domains/${domain}`);
    await page.getByRole('status').getByText(`Password of ${address} updated.`).waitFor();
    assert.ok(await verifies(address, generated));
  });

  test('a password the policy refuses is named beside the field, and the hash stays', async () => {
    const domain = (await aDomain(server.services)).name;
    const { address, password } = await aMailbox(server.services, { domain });
    const { page } = await adminJourney();
    await page.goto(`/admin/domains/${domain}/mailboxes/${encodeURIComponent(address)}`);
    await page.getByLabel('Password', { exact: true }).fill('password');
    await page.getByRole('button', { name: 'Update user' }).click();
    await page.locator('#password-errors').getByText('Is a commonly used password.').waitFor();
    assert.equal(await page.getByLabel('Password', { exact: true }).getAttribute('aria-invalid'), 'true');
    assert.ok(await verifies(address, password));
  });

  test('SMTP credentials: add (shown once, with Copy), reset (asks, new password once), delete (asks)', async () => {
    const domain = (await aDomain(server.services)).name;
    const j = await adminJourney();
    const { page } = j;
    await page.goto(`/admin/domains/${domain}`);
    await page.getByText('No SMTP credentials yet.').waitFor();

    await page.getByRole('link', { name: 'Add credential' }).click();
    await page.getByLabel('Name').fill('WordPress');
    await page.getByRole('button', { name: 'Create credential' }).click();
    await page.getByRole('heading', { name: 'SMTP credential created' }).waitFor();
    const username = await page.locator('#cred-username').innerText();
    const password = await page.locator('#cred-password').innerText();
    assert.match(username, new RegExp(`^wordpress-[a-z0-9]{4}@${domain.replace(/\./g, '\\.')}$`));
    assert.equal(await page.locator('#cred-host').innerText(), 'mail.test');
    assert.ok(await verifies(username, password));
    await page.getByRole('button', { name: 'Copy username' }).click();
    await page.getByRole('button', { name: 'Copied the username' }).waitFor();
    assert.equal(await clipboard(page), username);
    await page.getByRole('button', { name: 'Copy password' }).click();
    await page.getByRole('button', { name: 'Copied the password' }).waitFor();
    assert.equal(await clipboard(page), password);

    await page.getByRole('link', { name: `Back to ${domain}` }).click();
    const table = page.getByRole('table', { name: `SMTP credentials of ${domain}` });
    const row = table.getByRole('row', { name: /WordPress/ });
    assert.match(await row.innerText(), new RegExp(username.replace(/\./g, '\\.')));
    assert.match(await row.innerText(), /Never/);
    assert.ok(!(await page.content()).includes(password), 'the password is shown only once');

    await page.getByRole('link', { name: 'Reset WordPress' }).click();
    await page.getByText('stops working at once').waitFor();
    await page.getByRole('button', { name: 'Reset password' }).click();
    await page.getByRole('heading', { name: 'New password for WordPress' }).waitFor();
    const fresh = await page.locator('#cred-password').innerText();
    assert.notEqual(fresh, password);
    assert.equal(await page.locator('#cred-username').innerText(), username, 'a reset keeps the username');
    assert.ok(await verifies(username, fresh));
    assert.equal(await verifies(username, password), false);

    await page.getByRole('link', { name: `Back to ${domain}` }).click();
    await page.getByRole('link', { name: 'Delete WordPress' }).click();
    await page.getByText('This cannot be undone').waitFor();
    assert.ok(await server.adapters.stores.accounts.findAccountByLogin(username), 'nothing is deleted before the confirmation');
    await page.getByRole('button', { name: 'Delete credential' }).click();
    await page.waitForURL(`**/admin/domains/${domain}`);
    await page.getByRole('status').getByText(`Credential WordPress (${username}) deleted.`).waitFor();
    await page.getByText('No SMTP credentials yet.').waitFor();
    assert.equal(await server.adapters.stores.accounts.findAccountByLogin(username), null);
    assert.deepEqual(j.problems, []);
  });

  test('an API token is created and shown once', async () => {
    const j = await adminJourney();
    const { page } = j;
    await page.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'API tokens' }).click();
    await page.waitForURL('**/admin/tokens');
    await page.getByLabel('Name').fill('deploy script');
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.getByRole('heading', { name: 'Token created' }).waitFor();
    const token = await page.locator('#token-value').innerText();
    assert.match(token, /^mp_[A-Za-z0-9_-]{43}$/);
    await page.getByRole('button', { name: 'Copy token' }).click();
    await page.getByRole('button', { name: 'Copied the token' }).waitFor();
    assert.equal(await clipboard(page), token);

    await page.getByRole('link', { name: 'Back to API tokens' }).click();
    const row = page.getByRole('row', { name: /deploy script/ });
    assert.match(await row.innerText(), new RegExp(token.slice(0, 10)));
    assert.ok(!(await page.content()).includes(token), 'the token is shown only once');
    assert.deepEqual(j.problems, []);
  });
});
