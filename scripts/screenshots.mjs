// `npm run screenshots`: starts the panel on a throw-away database with example data, and writes
// PNGs of its main pages into docs/ for the README. Uses Debian's chromium, like the browser tests.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { loadConfig } from '../src/config.ts';
import { cliActor } from '../src/core/actors.ts';
import { createLogger } from '../src/log.ts';
import { startServer } from '../src/main.ts';
import { startDnsServer } from '../test/helpers/dns-server.ts';
import { startDownstream } from '../test/helpers/downstream.ts';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const OUT = path.join(ROOT, 'docs');
const ADMIN_PASSWORD = 'Sup3r-Bo55.Pass';
const JANE_PASSWORD = 'Kv7#pLq2!wZr';
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 375, height: 740 };

if (!existsSync(CHROMIUM)) {
  console.error(`${CHROMIUM} is missing: install Debian's chromium package`);
  process.exit(1);
}

// The DNS page's check asks a DNS server on loopback that serves example.com's zone (see seedZone).
const dns = await startDnsServer(new Map());
// A relay that keeps what it is given: with one, SPEC §16's forgotten-password page is offered.
const relay = await startDownstream();
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'mailpass-screenshots-'));
const config = loadConfig({
  HOST: '127.0.0.1',
  PORT: '0',
  SMTP_PORT: '587',
  SMTPS_PORT: '465',
  SMTP_HOSTNAME: 'mail.example.com',
  DATA_DIR: dataDir,
  LOG_LEVEL: 'silent',
  ARGON2_MEMORY_KIB: '1024',
  ARGON2_TIME_COST: '1',
  INITIAL_ADMIN_PASSWORD: ADMIN_PASSWORD,
  IMAP_HOST: 'imap.example.com',
  DNS_SERVERS: `127.0.0.1:${dns.port}`,
  RELAY_URL: `smtp://127.0.0.1:${relay.port}`,
});
const server = await startServer(config, { log: createLogger('silent'), print: () => {}, smtpBind: { smtp: null, smtps: null } });
const base = `http://127.0.0.1:${server.httpPort}`;
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  // The panel as mailpass.example.com, the name its DNS page expects autoconfig to lead to.
  args: ['--host-resolver-rules=MAP mailpass.example.com 127.0.0.1', '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--hide-scrollbars'],
});

try {
  await seed(server.services, server.adapters.stores.loginHistory);
  mkdirSync(OUT, { recursive: true });
  const written = [];
  const shot = async (page, name) => {
    const file = path.join(OUT, `${name}.png`);
    await page.mouse.move(0, 0);
    await page.evaluate(() => document.activeElement?.blur());
    await page.screenshot({ path: file, fullPage: true, animations: 'disabled', caret: 'hide' });
    written.push(path.relative(ROOT, file));
  };

  /** Jane logs in on /login (`beforeSubmit` runs with the address typed) and lands on /account. */
  const logInAsJane = async (page, beforeSubmit = async () => {}) => {
    await page.goto('/login');
    await page.getByLabel('Email address').fill('jane@example.com');
    await beforeSubmit();
    await page.getByLabel('Password', { exact: true }).fill(JANE_PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL('**/account');
  };

  const user = await browser.newContext({ baseURL: base, viewport: DESKTOP, deviceScaleFactor: 1 });
  const u = await user.newPage();
  await logInAsJane(u, () => shot(u, 'user-login'));
  await u.getByLabel('Current password').fill(JANE_PASSWORD);
  await u.getByLabel('New password', { exact: true }).fill('summer2024');
  await u.locator('#new_password-strength[data-score]').waitFor();
  await shot(u, 'account');
  // The security page: a second factor to add (QR code and secret), app passwords, passkeys.
  await u.goto('/account/security');
  await u.getByLabel('Name').fill('Phone');
  await u.getByRole('button', { name: 'Create app password' }).click();
  await u.locator('#app-password').waitFor();
  await shot(u, 'account-security');
  await user.close();

  // SPEC §17: the account page for a French and a German browser, from their language alone.
  for (const [locale, name] of [['fr-FR', 'account-fr'], ['de-DE', 'account-de']]) {
    const context = await browser.newContext({ baseURL: base, viewport: DESKTOP, deviceScaleFactor: 1, locale });
    const page = await context.newPage();
    await page.goto('/login');
    await page.locator('#email').fill('jane@example.com');
    await page.locator('#password').fill(JANE_PASSWORD);
    await page.locator('form.card button[type="submit"]').click();
    await page.waitForURL('**/account');
    await page.locator('#current_password').fill(JANE_PASSWORD);
    await page.locator('#new_password').fill('summer2024');
    await page.locator('#new_password-strength[data-score]').waitFor();
    await shot(page, name);
    await context.close();
  }

  // SPEC §16: the forgotten-password page, as a visitor sees it once it asked.
  const visitor = await browser.newContext({ baseURL: base, viewport: DESKTOP, deviceScaleFactor: 1 });
  const v = await visitor.newPage();
  await v.goto('/login');
  await v.getByRole('link', { name: 'Forgot password?' }).click();
  await v.getByLabel('Email address').fill('jane@example.com');
  await v.getByRole('button', { name: 'Send reset link' }).click();
  await v.getByText('a link to reset its password is on its way').waitFor();
  await shot(v, 'forgot-password');
  await visitor.close();

  const phone = await browser.newContext({ baseURL: base, viewport: PHONE, deviceScaleFactor: 1, isMobile: true, hasTouch: true });
  const p = await phone.newPage();
  await logInAsJane(p);
  await p.getByLabel('Current password').fill(JANE_PASSWORD);
  await p.getByLabel('New password', { exact: true }).fill('Correct-Horse-7-Battery');
  await p.locator('#new_password-strength[data-score]').waitFor();
  await shot(p, 'account-375px');
  await phone.close();

  const admin = await browser.newContext({ baseURL: base.replace('127.0.0.1', 'mailpass.example.com'), viewport: DESKTOP, deviceScaleFactor: 1 });
  const a = await admin.newPage();
  await a.goto('/admin/login');
  await a.getByLabel('Username').fill('admin');
  await a.getByLabel('Password', { exact: true }).fill(ADMIN_PASSWORD);
  await a.getByRole('button', { name: 'Log in' }).click();
  await a.waitForURL('**/admin/domains');
  await a.getByLabel('Select domain').selectOption('example.com');
  await a.getByRole('button', { name: 'Select domain' }).click();
  await a.waitForURL('**/admin/domains/example.com');
  await shot(a, 'admin-domain');
  await a.getByRole('link', { name: 'Edit jane@example.com' }).click();
  await a.getByRole('button', { name: 'Generate' }).click();
  await a.locator('#password-strength[data-score]').waitFor();
  await shot(a, 'mailbox-edit');
  await a.goto('/admin/domains/example.com/credentials/new');
  await a.getByLabel('Name').fill('Newsletter');
  await a.getByRole('button', { name: 'Create credential' }).click();
  await a.getByRole('heading', { name: 'SMTP credential created' }).waitFor();
  await shot(a, 'credential-created');
  await a.goto('/admin/domains/example.com/dns');
  await a.getByRole('button', { name: 'Check DNS' }).click();
  await a.getByText(/DNS checked/).waitFor();
  await shot(a, 'dns');
  await admin.close();

  // What Thunderbird fetches when jane@example.com is typed into its account set-up (SPEC §14).
  const thunderbird = await browser.newContext({ viewport: DESKTOP, baseURL: base });
  const t = await thunderbird.newPage();
  const ask = '/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=jane@example.com';
  const xml = await (await fetch(base + ask)).text();
  const escape = (text) => text.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]);
  await t.setContent(
    `<body style="margin:0;padding:24px;font:15px/1.45 system-ui,sans-serif;background:#f6f7f9"><p style="margin:0 0 12px">Thunderbird, given <b>jane@example.com</b>, asks <code>GET https://example.com${escape(ask)}</code>; mailpass answers:</p><pre style="margin:0;padding:16px;background:#fff;border:1px solid #d5d9e0;border-radius:6px;font:13px/1.4 monospace">${escape(xml)}</pre></body>`,
  );
  await shot(t, 'thunderbird-autoconfig');
  await thunderbird.close();

  console.log(written.join('\n'));
} finally {
  await browser.close();
  await server.close();
  await dns.stop();
  await relay.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

/** Example data: two domains, a few mailboxes (some with a last SMTP connection and a login history) and credentials. */
async function seed(svc, store) {
  await svc.domains.addDomain(cliActor, 'example.com', { verified: true });
  await svc.domains.addDomain(cliActor, 'example.org', { verified: true });
  await svc.domains.addDomain(cliActor, 'shop.example.net', { verified: false });
  const boxes = [
    ['jane', 'Jane Doe', JANE_PASSWORD],
    ['john', 'John Smith'],
    ['accounts', 'Accounts team'],
    ['info', ''],
    ['sales', 'Sales'],
    ['support', 'Support desk'],
  ];
  const now = Math.floor(Date.now() / 1000);
  const logins = [];
  for (const [i, [local, name, password]] of boxes.entries()) {
    const { mailbox } = await svc.mailboxes.addMailbox(cliActor, password ? { address: `${local}@example.com`, name, password } : { address: `${local}@example.com`, name, generate: true });
    if (i % 2 === 0) logins.push({ accountId: mailbox.id, at: now - 3600 * (i + 1) - 420, ip: `192.0.2.${10 + i}` });
  }
  await svc.mailboxes.addMailbox(cliActor, { address: 'hello@example.org', name: 'Hello', generate: true });
  const exampleCom = await svc.domains.requireDomain(cliActor, 'example.com');
  const wordpress = await svc.credentials.createCredential(cliActor, exampleCom, 'WordPress');
  await svc.credentials.createCredential(cliActor, exampleCom, 'CRM');
  logins.push({ accountId: wordpress.credential.id, at: now - 900, ip: '198.51.100.7' });
  const jane = logins[0].accountId;
  const row = (ago, protocol, mechanism, result, ip, client, count) => {
    const at = now - ago;
    return { accountId: jane, day: Math.floor(at / 86_400), protocol, mechanism, result, ip, client, firstAt: at - 3600, lastAt: at, count };
  };
  const history = [
    row(420 + 3600, 'smtp', 'PLAIN', 'ok', '192.0.2.10', 'TLSv1.3', 12),
    row(5400, 'web', 'password', 'ok', '192.0.2.10', 'Firefox on Linux', 1),
    row(86_400 + 600, 'smtp', 'LOGIN', 'bad-password', '203.0.113.66', 'TLSv1.2', 3),
  ];
  await store.applyLoginBatch({ logins, rehashes: [], audit: [], history });
  // DKIM keys, and a zone where most is right: DMARC only reports, IMAP's SRV record is missing.
  const keys = await svc.dkim.add(cliActor, exampleCom, 'mp2026');
  const zone = [
    ['example.com', ['v=spf1 mx a:mail.example.com ~all']],
    ...keys.map((k) => [k.name, [k.value]]),
    ['_dmarc.example.com', ['v=DMARC1; p=none; rua=mailto:dmarc@example.com']],
    ['_submission._tcp.example.com', { SRV: ['0 1 587 mail.example.com.'] }],
    ['_submissions._tcp.example.com', { SRV: ['0 1 465 mail.example.com.'] }],
    ['autoconfig.example.com', { CNAME: 'mailpass.example.com.' }],
    ['autodiscover.example.com', { CNAME: 'mailpass.example.com.' }],
  ];
  for (const [name, value] of zone) dns.records.set(name, value);
}
