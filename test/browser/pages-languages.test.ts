import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { cliActor } from '../../src/core/actors.js';
import { LOCALES_DIR, readCatalogues } from '../../src/adapters/i18n.js';
import { aDomain, aMailbox } from '../helpers/builders.js';
import { ADMIN_PASSWORD } from '../helpers/env.js';
import { addSession, checkPage, launchBrowser, newJourney, withAxe, type Journey } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startDownstream } from '../helpers/downstream.js';

// The pages test (pages.test.ts) again, for a French and a German browser: a file of its own so
// that the runner runs it beside the English one.

let server: TestServer;
let browser: Browser;
let domain: string;
let credentialGuid: string;
/** A relay: the forgotten-password page is offered only with one. */
let relay: Awaited<ReturnType<typeof startDownstream>>;
const journeys: Journey[] = [];

before(async () => {
  relay = await startDownstream();
  [server, browser] = await Promise.all([startTestServer({ RELAY_URL: `smtp://127.0.0.1:${relay.port}` }), launchBrowser()]);
  domain = (await aDomain(server.services)).name;
  await aMailbox(server.services, { domain, name: 'Jane Doe' });
  const { credential } = await server.services.credentials.createCredential(cliActor, await server.services.domains.requireDomain(cliActor, domain), 'WordPress');
  credentialGuid = credential.guid!;
  await server.adapters.stores.audit.appendAudit({ at: server.services.clock.now(), actor: 'test', action: 'login.success', target: `jane@${domain}`, ip: '192.0.2.1' });
});
after(async () => {
  await Promise.all(journeys.map((j) => j.close()));
  await browser?.close();
  await server?.stop();
  await relay?.stop();
});

async function journey(locale: string) {
  const j = await newJourney(browser, server.url, { locale });
  journeys.push(j);
  await withAxe(j.context);
  return j;
}

const base = () => `/admin/domains/${domain}`;

// SPEC §17: the same pages in French and German (longer words, other quotes and dates) pass the
// same checks: a browser whose language is one of them gets the panel in it, with no English
// sentence of the catalogues left on it.
const catalogues = readCatalogues(LOCALES_DIR);
async function checkTranslated(j: Journey, lang: 'fr' | 'de', name: string, open: (page: Page) => Promise<unknown>) {
  await checkPage(j, name, open);
  const english = Object.entries(catalogues.en)
    .filter(([key, value]) => value.length >= 12 && !value.includes('{{') && !value.includes('<') && catalogues[lang][key] !== value)
    .map(([, value]) => value);
  const text = await j.page.locator('body').innerText();
  assert.deepEqual(english.filter((sentence) => text.includes(sentence)), [], `${name}: English left on the page`);
}

for (const [locale, lang] of [['fr-FR', 'fr'], ['de-DE', 'de']] as const) {
  describe(`every page in ${lang}: no serious axe violation, readable at 375 px`, () => {
    test(`visitors', an owner's and an admin's pages in ${lang}`, async () => {
      const visitor = await journey(locale);
      for (const url of ['/login', '/login/forgot', '/admin/login']) await checkTranslated(visitor, lang, `${lang} ${url}`, (p) => p.goto(url));
      await checkTranslated(visitor, lang, `${lang} failed login`, async (p) => {
        await p.goto('/login');
        await p.locator('#email').fill(`nobody@${domain}`);
        await p.locator('#password').fill('Wrong#Pass12');
        await p.locator('form.card button[type="submit"]').click();
        await p.locator('.notice.error').waitFor();
      });
      await checkTranslated(visitor, lang, `${lang} error page`, (p) => p.goto('/no-such-page'));
      assert.equal(await visitor.page.getAttribute('html', 'lang'), lang);

      const owner = await aMailbox(server.services, { domain });
      const o = await journey(locale);
      await addSession(o.context, server.url, 'mailbox', owner.address, owner.password);
      for (const url of ['/account', '/account/security']) await checkTranslated(o, lang, `${lang} ${url}`, (p) => p.goto(url));
      await checkTranslated(o, lang, `${lang} account with errors`, async (p) => {
        await p.goto('/account');
        await p.locator('#current_password').fill('Not#The1Password');
        await p.locator('#new_password').fill('short');
        await p.locator('#confirm_password').fill('other');
        await p.locator('form[action="/account"] .form-actions button[type="submit"]').click();
        await p.locator('#current_password-errors').waitFor();
      });

      const a = await journey(locale);
      await addSession(a.context, server.url, 'admin', 'admin', ADMIN_PASSWORD);
      const box = `${base()}/mailboxes/${encodeURIComponent(owner.address)}`;
      for (const url of [
        '/admin/domains', base(), `${base()}/dns`, `${base()}?q=nobody`, `${base()}/mailboxes/new`, box, `${box}/delete`,
        `${base()}/credentials/new`, `${base()}/credentials/${credentialGuid}`, `${base()}/credentials/${credentialGuid}/reset`,
        `${base()}/credentials/${credentialGuid}/delete`, '/admin/tokens', '/admin/webhooks', '/admin/audit', '/admin/admins', '/admin/admins/admin',
        '/admin/account', '/admin/account/security', '/admin/domains/nowhere.example',
      ]) await checkTranslated(a, lang, `${lang} ${url}`, (p) => p.goto(url));
      assert.equal(await a.page.getAttribute('html', 'lang'), lang);
    });
  });
}
