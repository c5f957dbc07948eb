import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { cliActor } from '../../src/core/actors.js';
import { aDomain, aMailbox, strongPassword } from '../helpers/builders.js';
import { ADMIN_PASSWORD } from '../helpers/env.js';
import { addSession, checkPage, launchBrowser, newJourney, withAxe, type Journey } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startDnsServer } from '../helpers/dns-server.js';
import { startDownstream } from '../helpers/downstream.js';

let server: TestServer;
let browser: Browser;
let domain: string;
let mailbox: Awaited<ReturnType<typeof aMailbox>>;
let credentialGuid: string;
let dns: Awaited<ReturnType<typeof startDnsServer>>;
/** The relay: SPEC §16's pages are offered only with one, and their links are read from what it got. */
let relay: Awaited<ReturnType<typeof startDownstream>>;
const journeys: Journey[] = [];

before(async () => {
  // Check DNS asks a DNS server on loopback (an SPF record right, a DMARC record wrong, the rest missing).
  dns = await startDnsServer(new Map());
  relay = await startDownstream();
  [server, browser] = await Promise.all([startTestServer({ DNS_SERVERS: `127.0.0.1:${dns.port}`, RELAY_URL: `smtp://127.0.0.1:${relay.port}` }), launchBrowser()]);
  domain = (await aDomain(server.services)).name;
  dns.records.set(domain, ['v=spf1 mx a:mail.test ~all']);
  dns.records.set(`_dmarc.${domain}`, ['v=DMARC1; p=none']);
  mailbox = await aMailbox(server.services, { domain, name: 'Jane Doe' });
  for (const local of ['info', 'sales']) await aMailbox(server.services, { domain, local });
  const { credential } = await server.services.credentials.createCredential(cliActor, await server.services.domains.requireDomain(cliActor, domain), 'WordPress');
  credentialGuid = credential.guid!;
  await server.adapters.stores.audit.appendAudit({ at: server.services.clock.now(), actor: 'test', action: 'login.success', target: mailbox.address, ip: '192.0.2.1' });
  // A login history with a success and a refusal, so that its table is checked too.
  const now = server.services.clock.now();
  const history = (['ok', 'bad-password'] as const).map((result, i) => ({
    accountId: mailbox.mailbox.id, day: Math.floor(now / 86_400), protocol: 'smtp', mechanism: 'PLAIN', result, ip: `192.0.2.${i + 1}`, client: 'TLSv1.3', firstAt: now - 60, lastAt: now - i, count: 2,
  }));
  await server.adapters.stores.loginHistory.applyLoginBatch({ logins: [], rehashes: [], audit: [], history });
});
after(async () => {
  await Promise.all(journeys.map((j) => j.close()));
  await browser?.close();
  await server?.stop();
  await dns?.stop();
  await relay?.stop();
});

async function journey() {
  const j = await newJourney(browser, server.url);
  journeys.push(j);
  await withAxe(j.context);
  return j;
}


const base = () => `/admin/domains/${domain}`;
const editUrl = () => `${base()}/mailboxes/${encodeURIComponent(mailbox.address)}`;

describe('every page: no CSP or script error, no serious axe violation, readable at 375 px', () => {
  test('pages of visitors: the logins, a failed login, a missing page', async () => {
    const j = await journey();
    await checkPage(j, 'user login', (p) => p.goto('/login'));
    await checkPage(j, 'failed user login', async (p) => {
      await p.getByLabel('Email address').fill(`nobody@${domain}`);
      await p.getByLabel('Password', { exact: true }).fill('Wrong#Pass12');
      await p.getByRole('button', { name: 'Log in' }).click();
      await p.getByText('The email address or password is incorrect.').waitFor();
    });
    await checkPage(j, 'admin login', (p) => p.goto('/admin/login'));
    await checkPage(j, 'error page', async (p) => {
      const res = await p.goto('/no-such-page');
      assert.equal(res?.status(), 404);
    });
  });

  test('SPEC §16: the recovery address, its confirmation, a forgotten password and its reset link', async () => {
    const owner = await aMailbox(server.services, { domain });
    const recovery = `pages-${domain}@elsewhere.test`;
    const linkTo = async (kind: 'recovery' | 'reset') => {
      await server.services.recovery.settled();
      const m = new RegExp(`/login/${kind}/[A-Za-z0-9_-]{43}`).exec(relay.received.filter((r) => r.to.includes(recovery)).at(-1)?.data ?? '');
      assert.ok(m, `no ${kind} link was mailed`);
      return m[0];
    };
    const j = await journey();
    await addSession(j.context, server.url, 'mailbox', owner.address, owner.password);
    await checkPage(j, 'account with a recovery address to set', (p) => p.goto('/account#recovery'));
    await checkPage(j, 'recovery address refused', async (p) => {
      await p.getByLabel('Recovery address').fill('not an address');
      await p.locator('#recovery_password').fill(owner.password);
      await p.getByRole('button', { name: 'Save recovery address' }).click();
      await p.locator('#recovery_address-errors').waitFor();
    });
    await checkPage(j, 'recovery address waiting', async (p) => {
      await p.getByLabel('Recovery address').fill(recovery);
      await p.locator('#recovery_password').fill(owner.password);
      await p.getByRole('button', { name: 'Save recovery address' }).click();
      await p.getByText('Waiting for confirmation').waitFor();
    });
    const visitor = await journey();
    await checkPage(visitor, 'recovery address to confirm', async (p) => p.goto(await linkTo('recovery')));
    await checkPage(visitor, 'recovery address confirmed', async (p) => {
      await p.getByRole('button', { name: 'Confirm recovery address' }).click();
      await p.getByText('is now the recovery address').waitFor();
    });
    await checkPage(visitor, 'login with the forgotten-password link', (p) => p.goto('/login'));
    await checkPage(visitor, 'forgotten password', (p) => p.getByRole('link', { name: 'Forgot password?' }).click());
    await checkPage(visitor, 'forgotten password asked', async (p) => {
      await p.getByLabel('Email address').fill(owner.address);
      await p.getByRole('button', { name: 'Send reset link' }).click();
      await p.getByText('a link to reset its password is on its way').waitFor();
    });
    const resetLink = await linkTo('reset');
    await checkPage(visitor, 'reset link', (p) => p.goto(resetLink));
    await checkPage(visitor, 'reset refused', async (p) => {
      await p.getByLabel('New password', { exact: true }).fill('short');
      await p.getByLabel('Confirm new password').fill('other');
      await p.getByRole('button', { name: 'Change password' }).click();
      await p.locator('#new_password-errors').waitFor();
    });
    await checkPage(visitor, 'reset done', async (p) => {
      const next = strongPassword('Forgot');
      await p.getByLabel('New password', { exact: true }).fill(next);
      await p.getByLabel('Confirm new password').fill(next);
      await p.getByRole('button', { name: 'Change password' }).click();
      await p.waitForURL('**/login?reset=1');
    });
    await checkPage(visitor, 'reset link used', async (p) => {
      const res = await p.goto(resetLink);
      assert.equal(res?.status(), 404);
    });
  });

  test("a mailbox owner's pages: the account, with and without errors, and after the change", async () => {
    const j = await journey();
    await addSession(j.context, server.url, 'mailbox', mailbox.address, mailbox.password);
    await checkPage(j, 'second factor setup', (p) => p.goto('/account/security'));
    await checkPage(j, 'account', (p) => p.goto('/account'));
    await checkPage(j, 'account with a typed new password', async (p) => {
      await p.getByLabel('New password', { exact: true }).fill('summer2024');
      await p.locator('#new_password-strength[data-score]').waitFor();
    });
    await checkPage(j, 'account with errors', async (p) => {
      await p.getByLabel('Current password').fill('Not#The1Password');
      await p.getByLabel('New password', { exact: true }).fill('short');
      await p.getByLabel('Confirm new password').fill('other');
      await p.getByRole('button', { name: 'Update password and log me out from everywhere' }).click();
      await p.locator('#current_password-errors').waitFor();
    });
    await checkPage(j, 'password updated', async (p) => {
      const next = strongPassword('Pages');
      await p.getByLabel('Current password').fill(mailbox.password);
      await p.getByLabel('New password', { exact: true }).fill(next);
      await p.getByLabel('Confirm new password').fill(next);
      await p.getByRole('button', { name: 'Update password and log me out from everywhere' }).click();
      await p.waitForURL('**/login?updated=1');
      mailbox.password = next;
    });
  });

  test("an admin's pages: domains, a domain, mailboxes, credentials, tokens, webhooks, audit log, admins, errors", async () => {
    const j = await journey();
    await addSession(j.context, server.url, 'admin', 'admin', ADMIN_PASSWORD);
    await checkPage(j, 'domains', (p) => p.goto('/admin/domains'));
    await checkPage(j, 'domain', (p) => p.goto(base()));
    await checkPage(j, 'dns', (p) => p.goto(`${base()}/dns`));
    await checkPage(j, 'dns checked', async (p) => {
      await p.getByRole('button', { name: 'Check DNS' }).click();
      await p.getByText(/DNS checked: \d+ records need attention/).waitFor();
    });
    await checkPage(j, 'domains with a dns check', (p) => p.goto('/admin/domains'));
    await checkPage(j, 'domain search without match', (p) => p.goto(`${base()}?q=nobody`));
    await checkPage(j, 'mailbox new', (p) => p.goto(`${base()}/mailboxes/new`));
    await checkPage(j, 'mailbox added with a generated password', async (p) => {
      await p.getByLabel('Address').fill('generated');
      await p.getByRole('button', { name: 'Add mailbox' }).click();
      await p.locator('#created-password').waitFor();
    });
    await checkPage(j, 'mailbox edit', (p) => p.goto(editUrl()));
    await checkPage(j, 'mailbox edit with a refused password', async (p) => {
      await p.getByLabel('Password', { exact: true }).fill('password');
      await p.getByRole('button', { name: 'Update user' }).click();
      await p.locator('#password-errors').waitFor();
    });
    await checkPage(j, 'mailbox delete', (p) => p.goto(`${editUrl()}/delete`));
    await checkPage(j, 'credential new', (p) => p.goto(`${base()}/credentials/new`));
    await checkPage(j, 'credential created', async (p) => {
      await p.getByLabel('Name').fill('CRM');
      await p.getByRole('button', { name: 'Create credential' }).click();
      await p.locator('#cred-password').waitFor();
    });
    await checkPage(j, 'credential', (p) => p.goto(`${base()}/credentials/${credentialGuid}`));
    await checkPage(j, 'credential reset', (p) => p.goto(`${base()}/credentials/${credentialGuid}/reset`));
    await checkPage(j, 'credential new password', async (p) => {
      await p.getByRole('button', { name: 'Reset password' }).click();
      await p.getByRole('heading', { name: 'New password for WordPress' }).waitFor();
    });
    await checkPage(j, 'credential delete', (p) => p.goto(`${base()}/credentials/${credentialGuid}/delete`));
    await checkPage(j, 'tokens', (p) => p.goto('/admin/tokens'));
    await checkPage(j, 'token created', async (p) => {
      await p.getByLabel('Name').fill('deploy');
      await p.getByRole('button', { name: 'Create token' }).click();
      await p.locator('#token-value').waitFor();
    });
    await checkPage(j, 'tokens with one', (p) => p.goto('/admin/tokens'));
    await checkPage(j, 'webhooks', (p) => p.goto('/admin/webhooks'));
    await checkPage(j, 'webhook with a refused URL', async (p) => {
      await p.getByLabel('URL').fill('http://crm.example.com/hooks');
      await p.getByRole('button', { name: 'Add webhook' }).click();
      await p.locator('#url-errors').waitFor();
    });
    await checkPage(j, 'webhook added', async (p) => {
      await p.getByLabel('URL').fill('https://crm.example.invalid/hooks');
      await p.getByLabel('mailbox.created').check();
      await p.getByRole('button', { name: 'Add webhook' }).click();
      await p.locator('#secret-value').waitFor();
    });
    await checkPage(j, 'webhook', async (p) => {
      await p.goto('/admin/webhooks');
      await p.getByRole('link', { name: 'https://crm.example.invalid/hooks' }).click();
      await p.getByRole('button', { name: 'Send test event' }).click();
      await p.getByRole('status').getByText('Test event queued.').waitFor();
    });
    await checkPage(j, 'audit log', (p) => p.goto('/admin/audit'));
    await checkPage(j, 'admins', (p) => p.goto('/admin/admins'));
    await checkPage(j, 'admin edit', (p) => p.goto('/admin/admins/admin'));
    await checkPage(j, 'own admin account', (p) => p.goto('/admin/account'));
    await checkPage(j, 'admin second factor setup', (p) => p.goto('/admin/account/security'));
    await checkPage(j, 'admin error page', async (p) => {
      const res = await p.goto('/admin/domains/nowhere.example');
      assert.equal(res?.status(), 404);
    });
  });
});
