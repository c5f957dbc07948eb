import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import nodemailer from 'nodemailer';
import { cliActor } from '../../src/core/actors.js';
import { aDomain, aMailbox, strongPassword } from '../helpers/builders.js';
import { runCliProcess } from '../helpers/cli-process.js';
import { RawSmtp } from '../helpers/smtp-client.js';
import { loginAsMailbox, postForm, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let domain: string;
const MAX_BYTES = 20_000;

before(async () => {
  server = await startTestServer({ SMTP_AUTH_MAX_FAILURES: '1000', SMTP_MAX_MESSAGE_BYTES: String(MAX_BYTES) }, { smtp: true });
  domain = (await aDomain(server.services)).name;
});
after(() => server.stop());

const listeners = [
  { name: 'STARTTLS', implicitTls: false, port: () => server.smtpPorts.smtp },
  { name: 'implicit TLS', implicitTls: true, port: () => server.smtpPorts.smtps },
];

const ready = (l: (typeof listeners)[number]) => RawSmtp.ready(l.port(), { implicitTls: l.implicitTls, dataDir: server.dataDir });

/** Logs in as the mailbox and opens a message to one recipient: the next bytes written are its data. */
async function inMessage(l: (typeof listeners)[number], address: string, password: string) {
  const c = await ready(l);
  assert.equal((await c.authPlain(address, password)).code, 235);
  assert.equal((await c.cmd(`MAIL FROM:<${address}>`)).code, 250);
  assert.equal((await c.cmd('RCPT TO:<friend@example.net>')).code, 250);
  assert.equal((await c.cmd('DATA')).code, 354);
  return c;
}
const spooled = () => readdirSync(path.join(server.dataDir, 'spool')).filter((f) => f.endsWith('.json')).length;

describe('before TLS', () => {
  test('the STARTTLS port offers STARTTLS, hides AUTH, and refuses AUTH with 538 before TLS', async () => {
    const c = await RawSmtp.connect(server.smtpPorts.smtp, { dataDir: server.dataDir });
    assert.equal((await c.read()).code, 220);
    const ehlo = await c.cmd('EHLO client.test');
    assert.match(ehlo.text, /STARTTLS/);
    assert.doesNotMatch(ehlo.text, /AUTH/);
    const auth = await c.authPlain('x@y.test', 'whatever');
    assert.match(auth.text, /^538 5\.7\.11 /);
    await c.startTls();
    const secure = await c.cmd('EHLO client.test');
    assert.match(secure.text, /AUTH PLAIN LOGIN/);
    c.close();
  });
});

for (const l of listeners) {
  describe(`replies over ${l.name}`, () => {
    test('235 2.7.0 for a mailbox and its password (PLAIN and LOGIN)', async () => {
      const { address, password } = await aMailbox(server.services, { domain });
      const c = await ready(l);
      assert.match((await c.authPlain(address, password)).text, /^235 2\.7\.0 /);
      c.close();
      const d = await ready(l);
      assert.equal((await d.cmd('AUTH LOGIN')).code, 334);
      assert.equal((await d.cmd(Buffer.from(address).toString('base64'))).code, 334);
      assert.match((await d.cmd(Buffer.from(password).toString('base64'))).text, /^235 2\.7\.0 /);
      d.close();
    });

    test('535 5.7.8 alike for a wrong password, an unknown login, a disabled mailbox and an unverified domain', async () => {
      const { address, password } = await aMailbox(server.services, { domain });
      const disabled = await aMailbox(server.services, { domain });
      await server.services.mailboxes.setDisabled(cliActor, await server.services.domains.requireDomain(cliActor, domain), disabled.address, true);
      const pending = await aDomain(server.services, { verified: false });
      const unverified = await aMailbox(server.services, { domain: pending.name });
      const replies: string[] = [];
      for (const [login, pw] of [
        [address, `${password}x`],
        [`nobody@${domain}`, password],
        [disabled.address, disabled.password],
        [unverified.address, unverified.password],
        ['not an address', password],
      ]) {
        const c = await ready(l);
        replies.push((await c.authPlain(login!, pw!)).text);
        c.close();
      }
      for (const r of replies) assert.equal(r, '535 5.7.8 Authentication credentials invalid');
    });

    test('an over-long password is refused with 535 before any hashing', async () => {
      const { address } = await aMailbox(server.services, { domain });
      const c = await ready(l);
      assert.equal((await c.authPlain(address, 'A1!a'.repeat(200))).code, 535);
      c.close();
    });

    test('530 5.7.0 for MAIL FROM without AUTH', async () => {
      const c = await ready(l);
      assert.match((await c.cmd(`MAIL FROM:<x@${domain}>`)).text, /^530 5\.7\.0 /);
      c.close();
    });

    test('553 5.7.1 for a MAIL FROM the mailbox does not own; its own address is accepted', async () => {
      const { address, password } = await aMailbox(server.services, { domain });
      const c = await ready(l);
      await c.authPlain(address, password);
      assert.match((await c.cmd(`MAIL FROM:<someone-else@${domain}>`)).text, /^553 5\.7\.1 /);
      assert.equal((await c.cmd(`MAIL FROM:<${address.toUpperCase()}>`)).code, 250);
      c.close();
    });

    test('an accepted message is spooled as <id>.eml and <id>.json before 250', async () => {
      const { address, password } = await aMailbox(server.services, { domain });
      const c = await inMessage(l, address, password);
      const reply = await c.cmd(`Subject: hello\r\n\r\nHi there.\r\n..leading dot\r\n.`);
      assert.equal(reply.code, 250);
      const id = /queued as ([0-9a-f-]{36})/.exec(reply.text)![1]!;
      const meta = JSON.parse(readFileSync(path.join(server.dataDir, 'spool', `${id}.json`), 'utf8'));
      assert.equal(meta.mailFrom, address);
      assert.deepEqual(meta.rcptTo, ['friend@example.net']);
      assert.equal(meta.login, address);
      assert.equal(meta.clientAddress, '127.0.0.1');
      assert.equal(readFileSync(path.join(server.dataDir, 'spool', `${id}.eml`), 'utf8'), 'Subject: hello\r\n\r\nHi there.\r\n.leading dot\r\n');
      c.close();
    });

    test('550 5.6.0 for data with a bare LF or a bare CR, and nothing is spooled', async () => {
      const { address, password } = await aMailbox(server.services, { domain });
      for (const body of ['Subject: a\r\n\r\nline one\nline two\r\n', 'Subject: b\r\n\r\nline one\rline two\r\n', 'Subject: c\r\n\r\nsmuggled\n.\nMAIL FROM:<x@y>\r\n']) {
        const before = spooled();
        const c = await inMessage(l, address, password);
        c.write(`${body}.\r\n`);
        const reply = await c.read();
        assert.match(reply.text, /^550 5\.6\.0 /, JSON.stringify(body));
        assert.equal(spooled(), before);
        // One message, one reply: nothing smuggled after the bare line ending runs as a command.
        assert.equal((await c.cmd('NOOP')).code, 250);
        c.close();
      }
    });

    test('552 for a message over SMTP_MAX_MESSAGE_BYTES, nothing spooled', async () => {
      const { address, password } = await aMailbox(server.services, { domain });
      const before = spooled();
      const c = await inMessage(l, address, password);
      c.write(`Subject: big\r\n\r\n${'x'.repeat(998)}\r\n`.repeat(Math.ceil(MAX_BYTES / 1000) + 2) + '.\r\n');
      assert.match((await c.read()).text, /^552 /);
      assert.equal(spooled(), before);
      c.close();
    });
  });
}

describe('a password change takes effect at once', () => {
  test('via the web: the old password gets 535, the new one 235, and an idle session ends with 421 4.7.0', async () => {
    const { address, password } = await aMailbox(server.services, { domain });
    const idle = await ready(listeners[0]!);
    assert.equal((await idle.authPlain(address, password)).code, 235);
    const agent = await loginAsMailbox(server.url, address, password);
    const next = strongPassword('W');
    const res = await postForm(agent, '/account', '/account', { current_password: password, new_password: next, confirm_password: next });
    assert.equal(res.status, 303);
    assert.match((await idle.read()).text, /^421 4\.7\.0 /);
    for (const l of listeners) {
      const c = await ready(l);
      assert.equal((await c.authPlain(address, password)).code, 535);
      c.close();
      const d = await ready(l);
      assert.equal((await d.authPlain(address, next)).code, 235);
      d.close();
    }
  });

  test('a session in the middle of a message finishes it, then gets 421 4.7.0', async () => {
    const { address, password } = await aMailbox(server.services, { domain });
    const c = await inMessage(listeners[1]!, address, password);
    c.write('Subject: during\r\n\r\nfirst half\r\n');
    await server.services.mailboxes.resetPassword(cliActor, await server.services.domains.requireDomain(cliActor, domain), address, { generate: true });
    c.write('second half\r\n.\r\n');
    assert.equal((await c.read()).code, 250);
    assert.match((await c.read()).text, /^421 4\.7\.0 /);
    c.close();
  });

  test('via the CLI in another process: old refused at once, and live sessions end within a few seconds', async () => {
    const { address, password } = await aMailbox(server.services, { domain });
    const idle = await ready(listeners[0]!);
    assert.equal((await idle.authPlain(address, password)).code, 235);
    const next = strongPassword('C');
    const cli = await runCliProcess(['mailbox', 'passwd', address, '--password-stdin', '--data-dir', server.dataDir], next);
    assert.equal(cli.code, 0, cli.stderr);
    const c = await ready(listeners[1]!);
    assert.equal((await c.authPlain(address, password)).code, 535);
    c.close();
    const d = await ready(listeners[1]!);
    assert.equal((await d.authPlain(address, next)).code, 235);
    assert.match((await idle.read(5000)).text, /^421 4\.7\.0 /);
    // The session that logged in with the new password is not ended with the stale one.
    assert.equal((await d.cmd('NOOP')).code, 250);
    d.close();
  });
});

describe('real clients', () => {
  test('50 concurrent logins of distinct mailboxes all succeed (nodemailer over STARTTLS)', async () => {
    const ca = readFileSync(path.join(server.dataDir, 'tls', 'cert.pem'));
    const boxes = await Promise.all(Array.from({ length: 50 }, () => aMailbox(server.services, { domain })));
    const results = await Promise.all(
      boxes.map(({ address, password }) =>
        nodemailer
          .createTransport({ host: '127.0.0.1', port: server.smtpPorts.smtp, secure: false, requireTLS: true, auth: { user: address, pass: password }, tls: { ca, servername: 'mail.test' } })
          .verify(),
      ),
    );
    assert.deepEqual(results, boxes.map(() => true));
  });

  test('nodemailer sends a message over implicit TLS and it is spooled', async () => {
    const ca = readFileSync(path.join(server.dataDir, 'tls', 'cert.pem'));
    const { address, password } = await aMailbox(server.services, { domain });
    const info = await nodemailer
      .createTransport({ host: '127.0.0.1', port: server.smtpPorts.smtps, secure: true, auth: { user: address, pass: password }, tls: { ca, servername: 'mail.test' } })
      .sendMail({ from: address, to: 'friend@example.net', subject: 'Hi', text: 'Hello\nworld' });
    const id = /queued as ([0-9a-f-]{36})/.exec(info.response)![1]!;
    assert.match(readFileSync(path.join(server.dataDir, 'spool', `${id}.eml`), 'utf8'), /Hello\r\nworld/);
  });

  test('the last connection shows on /account and in the admin list within 5 s', async () => {
    const { address, password } = await aMailbox(server.services, { domain });
    const c = await ready(listeners[0]!);
    await c.authPlain(address, password);
    c.close();
    const agent = await loginAsMailbox(server.url, address, password);
    const deadline = Date.now() + 5000;
    let page = await agent.get('/account');
    while (!/from 127\.0\.0\.1/.test(page.text) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      page = await agent.get('/account');
    }
    assert.match(page.text, /UTC<\/time> from 127\.0\.0\.1/);
    const account = await server.adapters.stores.accounts.findAccountByLogin(address);
    assert.ok(account!.lastLoginAt! >= Math.floor(Date.now() / 1000) - 10);
    assert.ok(!/Never/.test(page.text.split('Last SMTP connection')[1]!.slice(0, 200)));
  });
});
