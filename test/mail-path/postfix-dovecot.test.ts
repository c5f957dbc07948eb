import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import nodemailer from 'nodemailer';
import { cliActor } from '../../src/core/actors.js';
import { aDomain, aMailbox, strongPassword } from '../helpers/builders.js';
import { DOVECOT, freePort, imapFetchAll, imapLogin, needsDovecot, startDovecot, type RunningDovecot } from '../helpers/dovecot.js';
import { POSTFIX, needsPostfix, startPostfix, type RunningPostfix } from '../helpers/postfix.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { RawSmtp } from '../helpers/smtp-client.js';

// SPEC §9, the whole mail path with no mock on it: a mail client authenticates to mailpass, which
// relays before queueing to a real Postfix, which delivers into Maildirs that a real Dovecot
// serves over IMAP with the same passwords. CI installs postfix, dovecot-imapd and dovecot-sqlite.

const run = promisify(execFile);

describe('mail through mailpass reaches the mailbox: Postfix delivers, Dovecot serves it', () => {
  let server: TestServer;
  let dovecot: RunningDovecot;
  let postfix: RunningPostfix;
  let domain: string;
  let jane: { address: string; password: string };
  let app: { login: string; password: string };

  before(async () => {
    if (!DOVECOT || !POSTFIX) return;
    const relayPort = await freePort();
    server = await startTestServer({ RELAY_URL: `smtp://127.0.0.1:${relayPort}` }, { smtp: true });
    domain = (await aDomain(server.services, { name: 'mail-path.test' })).name;
    jane = await aMailbox(server.services, { domain, local: 'jane' });
    const created = await server.services.credentials.createCredential(cliActor, await server.services.domains.requireDomain(cliActor, domain), 'Billing');
    app = { login: created.credential.login, password: created.password };
    dovecot = await startDovecot(DOVECOT, server.dataDir);
    postfix = await startPostfix({ port: relayPort, domain, mailboxes: [jane.address], mailRoot: dovecot.mailRoot, uid: dovecot.mailUid, gid: dovecot.mailGid });
  });
  after(async () => {
    await postfix?.stop();
    await dovecot?.stop();
    await server?.stop();
  });

  /** The messages of Jane's INBOX once `count` have arrived (Postfix delivers within a second or so). */
  const inbox = async (count: number, password = jane.password) => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const messages = await imapFetchAll(dovecot.port, jane.address, password);
      if (messages.length >= count || Date.now() > deadline) return messages;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };

  test('nodemailer with a mailbox password and Python smtplib with an SMTP credential; both read back over IMAP with their Received: headers', async (t) => {
    if (!needsDovecot(t) || !needsPostfix(t)) return;
    const ca = readFileSync(path.join(server.dataDir, 'tls', 'cert.pem'));
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: server.smtpPorts.smtp,
      secure: false,
      requireTLS: true,
      tls: { ca, servername: 'mail.test' },
      auth: { user: jane.address, pass: jane.password },
    });
    const sent = await transport.sendMail({ from: jane.address, to: jane.address, subject: 'Note to self', text: 'Sent through mailpass by nodemailer.' });
    assert.match(sent.response, /^250 /);
    transport.close();

    const script = [
      'import smtplib, ssl, sys',
      'from email.message import EmailMessage',
      'ctx = ssl.create_default_context(cafile=sys.argv[2])',
      'ctx.check_hostname = False',
      'm = EmailMessage()',
      "m['From'] = 'billing@' + sys.argv[5]",
      "m['To'] = sys.argv[6]",
      "m['Subject'] = 'Invoice 42'",
      "m.set_content('Sent through mailpass by smtplib.')",
      "with smtplib.SMTP_SSL('127.0.0.1', int(sys.argv[1]), context=ctx, timeout=30) as s:",
      '    s.login(sys.argv[3], sys.argv[4])',
      '    s.send_message(m)',
    ].join('\n');
    await run('python3', ['-c', script, String(server.smtpPorts.smtps), path.join(server.dataDir, 'tls', 'cert.pem'), app.login, app.password, domain, jane.address], { timeout: 30_000 });

    const messages = await inbox(2);
    assert.equal(messages.length, 2, postfix.log());
    const bySubject = (s: string) => messages.find((m) => m.includes(`Subject: ${s}`))!;
    for (const [subject, body] of [['Note to self', 'by nodemailer'], ['Invoice 42', 'by smtplib']] as const) {
      const m = bySubject(subject);
      assert.ok(m, `${subject} did not arrive`);
      assert.match(m, new RegExp(body));
      // Postfix's own trace header on top, then mailpass's, exactly one.
      const traces = m.split('\r\n\r\n')[0]!.match(/^Received: [^]*?(?=\r\n\S)/gm) ?? [];
      assert.equal(traces.filter((r) => r.includes('(mailpass) with ESMTPSA')).length, 1, m);
      assert.match(traces[0]!, /by mx\.test \(Postfix\)/);
    }
  });

  test('a password reset in between: the old password fails over SMTP and IMAP, the new one works for both, and the alert of it is in the inbox', async (t) => {
    if (!needsDovecot(t) || !needsPostfix(t)) return;
    const next = strongPassword('Reset');
    const d = await server.services.domains.requireDomain(cliActor, domain);
    await server.services.mailboxes.resetPassword(cliActor, d, jane.address, { password: next });
    const smtp = (password: string) => RawSmtp.authCode(server, jane.address, password);
    assert.equal(await smtp(jane.password), 535);
    assert.match(await imapLogin(dovecot.port, jane.address, jane.password), /^a1 NO \[AUTHENTICATIONFAILED\]/);
    assert.equal(await smtp(next), 235);
    assert.match(await imapLogin(dovecot.port, jane.address, next), /^a1 OK/);
    // Issue 17: the reset is told to the owner through the relay, and Postfix delivers it like any mail.
    const messages = await inbox(3, next);
    assert.equal(messages.length, 3);
    const alert = messages.find((m) => /^Subject: Your password was changed$/m.test(m));
    assert.ok(alert, 'the alert of the reset reached the mailbox');
    assert.match(alert, /^From: postmaster@/m);
    assert.match(alert, /^Auto-Submitted: auto-generated$/m);
    assert.match(alert, /^Return-Path: <>$/m, 'from the null sender: it cannot bounce');
    assert.match(alert, /reset by an administrator/);
    assert.ok(!alert.includes(next), 'the new password is not in it');
    jane.password = next;
  });

  test('SPEC §15: a credential over its hourly limit delivers exactly its limit, 451 4.7.1 for the rest; a raised limit sends again at once', async (t) => {
    if (!needsDovecot(t) || !needsPostfix(t)) return;
    const d = await server.services.domains.requireDomain(cliActor, domain);
    const { credential, password } = await server.services.credentials.createCredential(cliActor, d, 'Newsletter');
    await server.services.sendLimits.setAccount(cliActor, credential, { perHour: 3, perDay: null, maxRecipients: null });
    const before = (await imapFetchAll(dovecot.port, jane.address, jane.password)).length;
    const c = await RawSmtp.ready(server.smtpPorts.smtps, { implicitTls: true, dataDir: server.dataDir });
    const send = async (n: number) => {
      assert.equal((await c.cmd(`MAIL FROM:<news@${domain}>`)).code, 250);
      const rcpt = await c.cmd(`RCPT TO:<${jane.address}>`);
      if (rcpt.code !== 250) {
        await c.cmd('RSET');
        return rcpt.text;
      }
      assert.equal((await c.cmd('DATA')).code, 354);
      c.write(`From: news@${domain}\r\nTo: ${jane.address}\r\nSubject: Limited ${n}\r\n\r\nIssue ${n}.\r\n.\r\n`);
      return (await c.read()).text;
    };
    try {
      assert.equal((await c.authPlain(credential.login, password)).code, 235);
      const replies = [];
      for (let n = 1; n <= 5; n++) replies.push(await send(n));
      assert.deepEqual(replies.map((r) => r.slice(0, 3)), ['250', '250', '250', '451', '451']);
      assert.equal(replies[3], '451 4.7.1 Sending limit reached, try again later');
      // Raised: the same session sends its next message at once.
      await server.services.sendLimits.setAccount(cliActor, credential, { perHour: 10, perDay: null, maxRecipients: null });
      assert.match(await send(6), /^250 /);
    } finally {
      c.close();
    }
    const messages = await inbox(before + 4);
    const limited = messages.map((m) => /^Subject: (Limited \d)$/m.exec(m)?.[1]).filter(Boolean).sort();
    assert.deepEqual(limited, ['Limited 1', 'Limited 2', 'Limited 3', 'Limited 6'], postfix.log());
    assert.equal(messages.length, before + 4);
  });
});
