import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, newJourney, type Journey } from '../helpers/browser.js';
import { aDomain, aMailbox, strongPassword } from '../helpers/builders.js';
import { DOVECOT, freePort, imapFetchAll, imapLogin, startDovecot, type RunningDovecot } from '../helpers/dovecot.js';
import { POSTFIX, startPostfix, type RunningPostfix } from '../helpers/postfix.js';
import { startRoundcube, type RunningRoundcube } from '../helpers/roundcube.js';
import { loginAsMailbox, startTestServer, type Agent, type TestServer } from '../helpers/server.js';
import { RawSmtp } from '../helpers/smtp-client.js';

// SPEC §16 with no mock on it: Debian's Roundcube, served privately by PHP, reads mail over IMAP
// from a private Dovecot that reads mailpass's database and sends through mailpass's submission
// port, which relays to a private Postfix that delivers to Dovecot. Its `password` plugin posts to
// mailpass (`httpapi` driver, docs/webmail.md). Chromium changes the password in Settings > Password.

/** `MAILPASS_SCREENSHOTS=docs`: the Password page after the change is written there (docs/roundcube-password.png). */
const SCREENSHOTS = process.env.MAILPASS_SCREENSHOTS;

describe('Roundcube changes the password through mailpass (SPEC §16)', () => {
  let server: TestServer;
  let dovecot: RunningDovecot;
  let postfix: RunningPostfix;
  let roundcube: RunningRoundcube;
  let browser: Browser;
  let journey: Journey;
  let domain: string;
  let jane: { address: string; password: string; mailbox: { id: number } };

  before(async () => {
    assert.ok(DOVECOT && POSTFIX, 'dovecot and postfix are needed: install dovecot-imapd, dovecot-sqlite and postfix');
    const relayPort = await freePort();
    const doveadmPort = await freePort();
    const apiKey = randomBytes(18).toString('base64url');
    server = await startTestServer(
      { RELAY_URL: `smtp://127.0.0.1:${relayPort}`, WEBMAIL_CLIENTS: '127.0.0.1', DOVEADM_URL: `http://127.0.0.1:${doveadmPort}`, DOVEADM_API_KEY: apiKey },
      { smtp: true },
    );
    domain = (await aDomain(server.services, { name: 'webmail.test' })).name;
    jane = await aMailbox(server.services, { domain, local: 'jane' });
    dovecot = await startDovecot(DOVECOT, server.dataDir, { doveadm: { port: doveadmPort, apiKey } });
    postfix = await startPostfix({ port: relayPort, domain, mailboxes: [jane.address], mailRoot: dovecot.mailRoot, uid: dovecot.mailUid, gid: dovecot.mailGid });
    roundcube = await startRoundcube({ imapPort: dovecot.port, smtpPort: server.smtpPorts.smtp, passwordUrl: `${server.url}/api/webmail/password` });
    browser = await launchBrowser();
    journey = await newJourney(browser, roundcube.url);
  });
  after(async () => {
    await journey?.close();
    await browser?.close();
    await roundcube?.stop();
    await postfix?.stop();
    await dovecot?.stop();
    await server?.stop();
  });

  const smtpAuth = (password: string) => RawSmtp.authCode(server, jane.address, password);

  /** Settings > Password, as a user gets there: the task menu, then the section. */
  const change = async (page: Page, current: string, next: string) => {
    // Roundcube ignores a command while a request of its own is under way (a busy page under load).
    const idle = () => page.waitForFunction(() => {
      const rc = (window as unknown as { rcmail?: { busy: boolean } }).rcmail;
      return rc !== undefined && !rc.busy;
    });
    if (!page.url().includes('_task=settings')) {
      await idle();
      await page.click('#taskmenu a.settings');
      await page.waitForURL(/_task=settings/);
    }
    await idle();
    await page.click('#settingstabpluginpassword a');
    await page.waitForURL(/_action=plugin\.password/);
    await page.fill('#curpasswd', current);
    await page.fill('#newpasswd', next);
    await page.fill('#confpasswd', next);
    await page.locator('.formbuttons .button.mainaction').click();
  };
  const message = (page: Page) => page.locator('#messagestack div').last();

  test('log in, send a message, and change the password in Settings > Password: the old one is refused over IMAP and SMTP at once', async () => {
    const { page } = journey;
    await page.goto('/');
    await page.fill('#rcmloginuser', jane.address);
    await page.fill('#rcmloginpwd', jane.password);
    await page.click('#rcmloginsubmit');
    await page.waitForURL(/_task=mail/);

    // Sent through mailpass's submission port, relayed to Postfix, delivered to Dovecot.
    await page.goto('/?_task=mail&_action=compose');
    await page.locator('#_to').fill(jane.address);
    await page.fill('#compose-subject', 'Written in the webmail');
    await page.fill('#composebody', 'Sent by Roundcube through mailpass.');
    await page.locator('button.send, a.send').first().click();
    await page.waitForURL(/_task=mail(?!.*_action=compose)/);
    const deadline = Date.now() + 15_000;
    let inbox: string[] = [];
    while (Date.now() < deadline && !inbox.some((m) => m.includes('Subject: Written in the webmail'))) {
      inbox = await imapFetchAll(dovecot.port, jane.address, jane.password);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const sent = inbox.find((m) => m.includes('Subject: Written in the webmail'));
    assert.ok(sent, `the message did not arrive: ${postfix.log().slice(-2000)}`);
    assert.match(sent, /\(mailpass\) with ESMTPSA/);

    const panel: Agent = await loginAsMailbox(server.url, jane.address, jane.password);
    const next = strongPassword('Roundcube');
    await change(page, jane.password, next);
    await assert.doesNotReject(message(page).filter({ hasText: 'Successfully saved.' }).waitFor());
    if (SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOTS, 'roundcube-password.png') });

    assert.match(await imapLogin(dovecot.port, jane.address, jane.password), /^a1 NO \[AUTHENTICATIONFAILED\]/);
    assert.equal(await smtpAuth(jane.password), 535);
    assert.match(await imapLogin(dovecot.port, jane.address, next), /^a1 OK/);
    assert.equal(await smtpAuth(next), 235);
    assert.equal((await panel.get('/account')).status, 303, "mailpass's own session of the mailbox ended");
    await server.adapters.batcher.flush();
    const history = await server.query<{ protocol: string; result: string }>("SELECT protocol, result FROM login_history WHERE account_id = ? AND protocol = 'webmail'", jane.mailbox.id);
    assert.deepEqual(history, [{ protocol: 'webmail', result: 'ok' }]);
    const account = await (await loginAsMailbox(server.url, jane.address, next)).get('/account');
    assert.match(account.text, /Webmail, password change/);
    jane.password = next;

    // Roundcube keeps its session with the new password: the inbox still opens.
    await page.goto('/?_task=mail');
    await page.locator('#messagelist').waitFor({ state: 'attached' });
    assert.ok(!page.url().includes('_task=login'), 'still logged in to Roundcube');
  });

  test("a password the policy refuses shows Roundcube's error and changes nothing", async () => {
    const { page } = journey;
    await change(page, jane.password, 'password1');
    await assert.doesNotReject(message(page).filter({ hasText: /Could not save new password/ }).waitFor());
    assert.match(await imapLogin(dovecot.port, jane.address, jane.password), /^a1 OK/);
    assert.equal(await smtpAuth(jane.password), 235);
    await server.adapters.batcher.flush();
    // mailpass was asked: the right current password is one more login of the day's row; the refusal was the policy's.
    const history = await server.query<{ result: string; count: number }>("SELECT result, count FROM login_history WHERE account_id = ? AND protocol = 'webmail'", jane.mailbox.id);
    assert.deepEqual(history.map((h) => [h.result, Number(h.count)]), [['ok', 2]]);
    assert.match(roundcube.log(), /400 Bad Request[^]*The new password was refused: .*Must contain an uppercase letter/);
    assert.deepEqual(journey.problems.filter((p) => !/favicon/.test(p)), []);
  });
});
