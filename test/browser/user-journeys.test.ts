import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { PRODUCT_NAME, checkPolicy } from '../../src/core/passwords.js';
import { aDomain, aMailbox, strongPassword } from '../helpers/builders.js';
import { addSession, launchBrowser, logInAsMailbox, newJourney, type Journey } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

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

async function journey(options = {}) {
  const j = await newJourney(browser, server.url, options);
  journeys.push(j);
  return j;
}

/** The account page of a mailbox whose session was set up without the login form. */
async function openAccount(j: Journey, address: string, password: string) {
  await addSession(j.context, server.url, 'mailbox', address, password);
  await j.page.goto('/account');
}

async function fillPasswordForm(page: Page, current: string, next: string, confirm = next) {
  await page.getByLabel('Current password').fill(current);
  await page.getByLabel('New password', { exact: true }).fill(next);
  await page.getByLabel('Confirm new password').fill(confirm);
}

const submitChange = (page: Page) => page.getByRole('button', { name: 'Update password and log me out from everywhere' }).click();

describe('a mailbox owner changes its password in the browser', () => {
  test('success lands on /login with "Your password was updated."; a second browser of the same user is logged out', async () => {
    const { address, password } = await aMailbox(server.services, { domain });
    const laptop = await journey();
    const phone = await journey();
    await logInAsMailbox(laptop.page, address, password);
    await logInAsMailbox(phone.page, address, password);

    const next = strongPassword('Browser');
    await fillPasswordForm(laptop.page, password, next);
    await submitChange(laptop.page);
    await laptop.page.waitForURL('**/login?updated=1');
    assert.equal(await laptop.page.getByRole('status').filter({ hasText: 'Your password was updated.' }).count(), 1);

    await phone.page.reload();
    assert.match(new URL(phone.page.url()).pathname, /^\/login$/);
    await phone.page.goto('/account');
    assert.equal(new URL(phone.page.url()).pathname, '/login', 'the other session ended with the change');

    await laptop.page.getByLabel('Email address').fill(address);
    await laptop.page.getByLabel('Password', { exact: true }).fill(password);
    await laptop.page.getByRole('button', { name: 'Log in' }).click();
    await laptop.page.getByText('The email address or password is incorrect.').waitFor();
    await logInAsMailbox(phone.page, address, next);
    assert.deepEqual(laptop.problems, []);
    assert.deepEqual(phone.problems, []);
  });

  test('a wrong current password is named beside its field; the session and the password stay', async () => {
    const { address, password, mailbox } = await aMailbox(server.services, { domain });
    const j = await journey();
    const { page } = j;
    await openAccount(j, address, password);
    await fillPasswordForm(page, 'Not#The1Password', strongPassword('N'));
    await submitChange(page);
    const field = page.getByLabel('Current password');
    await page.locator('#current_password-errors').waitFor();
    assert.equal(await field.getAttribute('aria-invalid'), 'true');
    assert.equal(await field.getAttribute('aria-describedby'), 'current_password-errors');
    assert.match(await page.locator('#current_password-errors').innerText(), /Is not correct\./);
    assert.equal(new URL(page.url()).pathname, '/account');
    assert.equal((await server.adapters.stores.accounts.findAccountById(mailbox.id))!.passwordHash, mailbox.passwordHash);
    assert.deepEqual(j.problems, []);
  });

  test('each policy failure is shown beside the field it concerns, and nothing is echoed back', async () => {
    const { address, password } = await aMailbox(server.services, { domain });
    const j = await journey();
    const { page } = j;
    await openAccount(j, address, password);

    await fillPasswordForm(page, password, 'short');
    await submitChange(page);
    const errors = page.locator('#new_password-errors');
    await errors.waitFor();
    const text = await errors.innerText();
    for (const reason of ['at least 8 characters', 'uppercase letter', 'digit', 'special character']) assert.ok(text.includes(reason), reason);
    assert.equal(await page.getByLabel('New password', { exact: true }).inputValue(), '');
    assert.equal(await page.getByLabel('New password', { exact: true }).getAttribute('aria-describedby'), 'new_password-errors');

    const local = address.split('@')[0]!;
    await fillPasswordForm(page, password, `Xy7#${local}!`);
    await submitChange(page);
    await page.locator('#new_password-errors').getByText('Must not contain the address.').waitFor();

    await fillPasswordForm(page, password, strongPassword('N'), strongPassword('M'));
    await submitChange(page);
    await page.locator('#confirm_password-errors').getByText('Does not match the new password').waitFor();
    assert.equal(await page.locator('#new_password-errors').count(), 0);

    await fillPasswordForm(page, password, password);
    await submitChange(page);
    await page.locator('#new_password-errors').getByText('Must differ from the current password').waitFor();
  });

  test('the strength meter scores as the server does and lists the unmet rules as one types', async () => {
    const { address, password } = await aMailbox(server.services, { domain });
    const local = address.split('@')[0]!;
    const j = await journey();
    const { page } = j;
    await openAccount(j, address, password);
    const meter = page.locator('#new_password-strength');
    assert.equal(await meter.isVisible(), false, 'no meter before typing');
    const field = page.getByLabel('New password', { exact: true });
    await field.fill('abc');
    await page.waitForSelector('html[data-strength-ready]', { state: 'attached' });
    await meter.getByText('Still needed:').waitFor();
    const rules = await meter.locator('li').allInnerTexts();
    assert.deepEqual(rules, ['at least 8 characters (3 now)', 'an uppercase letter', 'a digit', 'a special character such as . , / ! @ # $ % ^ & *']);

    const words = ['Very weak', 'Weak', 'Fair', 'Good', 'Strong'];
    for (const candidate of ['password', 'summer2024', 'Tr0ub4dor&3', 'correct horse battery staple', `${local}2024`, `${domain.split('.')[0]}Summer!1`, 'q7#Kf9!vR2@mW4$z']) {
      await field.fill(candidate);
      const { score: expected } = await server.adapters.estimator.assess(candidate, [PRODUCT_NAME, local, domain]);
      await page.locator(`#new_password-strength[data-score="${expected}"]`).waitFor();
      assert.equal(await meter.locator('.strength-word').innerText(), words[expected], candidate);
    }
    assert.ok(await meter.locator('li').allInnerTexts().then((l) => l.length === 0), 'a strong password leaves no rule unmet');

    await field.fill('P@ssw0rd');
    await meter.getByText('not a common password').waitFor();
    const failures = await checkPolicy('P@ssw0rd', {}, server.services.config.minPasswordScore, server.adapters.estimator);
    assert.ok(failures.some((f) => f.rule === 'common-password'), 'the server refuses it too');
    await field.fill('');
    assert.equal(await meter.isVisible(), false);
    assert.deepEqual(j.problems, []);
  });

  test('Generate fills both fields with a password that meets the policy; Copy puts it on the clipboard', async () => {
    const { address, password } = await aMailbox(server.services, { domain });
    const j = await journey();
    const { page, context } = j;
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    await openAccount(j, address, password);
    await page.getByRole('button', { name: 'Generate' }).click();
    const field = page.getByLabel('New password', { exact: true });
    await page.waitForFunction(() => (document.getElementById('new_password') as HTMLInputElement).value.length > 0);
    const generated = await field.inputValue();
    assert.equal(await page.getByLabel('Confirm new password').inputValue(), generated);
    assert.equal(await field.getAttribute('type'), 'text', 'a generated password is shown');
    const [local, dom] = address.split('@') as [string, string];
    assert.deepEqual(await checkPolicy(generated, { localPart: local, domain: dom }, server.services.config.minPasswordScore, server.adapters.estimator), []);
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByRole('button', { name: 'Copied' }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), generated);
    await page.getByLabel('Current password').fill(password);
    await submitChange(page);
    await page.waitForURL('**/login?updated=1');
    await logInAsMailbox(page, address, generated);
  });

  test('without JavaScript, Generate asks the server and the form still changes the password', async () => {
    const { address, password } = await aMailbox(server.services, { domain });
    const { page } = await journey({ javaScriptEnabled: false });
    await logInAsMailbox(page, address, password);
    assert.equal(await page.getByRole('button', { name: 'Copy' }).count(), 0, 'Copy needs the script, so it stays hidden');
    await page.getByRole('button', { name: 'Generate' }).click();
    await page.waitForLoadState();
    const generated = await page.getByLabel('New password', { exact: true }).inputValue();
    assert.equal(Array.from(generated).length, 20);
    assert.equal(await page.getByLabel('Confirm new password').inputValue(), generated);
    await page.getByLabel('Current password').fill(password);
    await submitChange(page);
    await page.waitForURL('**/login?updated=1');
    await logInAsMailbox(page, address, generated);
  });

  test('the whole change works by keyboard alone, and the focus is always visible', async () => {
    const { address, password } = await aMailbox(server.services, { domain });
    const j = await journey();
    const { page } = j;
    await openAccount(j, address, password);
    const focused = () =>
      page.evaluate(() => {
        const el = document.activeElement as HTMLElement;
        const style = getComputedStyle(el);
        const visible = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
        return { id: el.id, text: el.textContent?.trim() ?? '', tag: el.tagName, visible };
      });
    const order: string[] = [];
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press('Tab');
      const f = await focused();
      assert.ok(f.visible, `focus on ${f.tag}#${f.id} "${f.text}" is visible`);
      order.push(f.id || f.text);
      if (f.id === 'confirm_password') break;
    }
    assert.deepEqual(order, ['Skip to content', 'mailpass', 'Log out', 'Second factor for this panel', 'not-me', 'current_password', 'new_password', 'Generate', 'Copy', 'confirm_password']);

    const next = strongPassword('Keys');
    for (let i = 0; i < 4; i++) await page.keyboard.press('Shift+Tab');
    await page.keyboard.type(password);
    await page.keyboard.press('Tab');
    await page.keyboard.type(next);
    for (let i = 0; i < 3; i++) await page.keyboard.press('Tab');
    await page.keyboard.type(next);
    await page.keyboard.press('Enter');
    await page.waitForURL('**/login?updated=1');
    assert.deepEqual(j.problems, []);
  });
});

// SPEC §17: the same journey for a French owner, from its browser's language alone: the login's
// labels, the strength meter's words and hints (zxcvbn-ts's French pack), a refusal, the change.
describe('a French owner, in French', () => {
  test('logs in, is refused a password without an upper-case letter, then changes it', async () => {
    const { address, password } = await aMailbox(server.services, { domain });
    const j = await journey({ locale: 'fr-FR' });
    const { page } = j;
    await page.goto('/login');
    assert.equal(await page.getAttribute('html', 'lang'), 'fr');
    await page.getByLabel('Adresse e-mail').fill(address);
    await page.getByLabel('Mot de passe', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Se connecter' }).click();
    await page.waitForURL('**/account');
    await page.getByRole('heading', { name: 'Votre compte', level: 1 }).waitFor();

    // The meter speaks French, its hint from zxcvbn-ts's French pack.
    const meter = page.locator('#new_password-strength');
    await page.getByLabel('Nouveau mot de passe', { exact: true }).fill('qwerty123');
    await page.locator('#new_password-strength[data-score]').waitFor();
    await meter.getByText('Robustesse :').waitFor();
    await meter.getByText('une majuscule').waitFor();
    assert.match(await meter.locator('.strength-word').innerText(), /^(Très faible|Faible|Moyen|Bon|Fort)$/);
    const hint = await meter.locator('.strength-warning').innerText();
    const french = await page.evaluate(() => Object.values((window as unknown as { zxcvbnts: { feedback: { warnings: Record<string, string> } } }).zxcvbnts.feedback.warnings));
    assert.ok(hint !== '' && french.includes(hint), `a hint of the French pack: ${hint}`);
    assert.ok(french.includes('Ce mot de passe est très utilisé.'));
    const weak = 'motdepasse1!';
    await page.getByLabel('Nouveau mot de passe', { exact: true }).fill(weak);

    await page.getByLabel('Mot de passe actuel').fill(password);
    await page.getByLabel('Confirmer le nouveau mot de passe').fill(weak);
    await page.getByRole('button', { name: 'Changer le mot de passe et me déconnecter partout' }).click();
    await page.locator('#new_password-errors').waitFor();
    assert.match(await page.locator('#new_password-errors').innerText(), /Doit contenir une majuscule\./);

    const next = strongPassword('Navigateur');
    await page.getByLabel('Mot de passe actuel').fill(password);
    await page.getByLabel('Nouveau mot de passe', { exact: true }).fill(next);
    await page.getByLabel('Confirmer le nouveau mot de passe').fill(next);
    await page.getByRole('button', { name: 'Changer le mot de passe et me déconnecter partout' }).click();
    await page.waitForURL('**/login?updated=1');
    assert.equal(await page.getByRole('status').filter({ hasText: 'Votre mot de passe a été mis à jour.' }).count(), 1);
    assert.deepEqual(j.problems, []);
  });
});
