import assert from 'node:assert/strict';
import { MALFORMED_NAME } from '../../src/core/logins.js';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { aDomain, aMailbox } from '../helpers/builders.js';
import { RawSmtp, type Reply } from '../helpers/smtp-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// What a hostile or broken SMTP client sends: malformed AUTH data, over-long lines and passwords,
// commands out of order, pipelined garbage, line-ending tricks that try to smuggle a second
// message past the end of data, and more connections than the server takes.

const MAX_CLIENTS = 50;
let server: TestServer;
let domain: string;
let box: { address: string; password: string };
/** argon2 verifications since the last reset: counted on the services' own hasher. */
let verifications = 0;

before(async () => {
  server = await startTestServer({ SMTP_MAX_CLIENTS: String(MAX_CLIENTS), SMTP_AUTH_MAX_FAILURES: '1000' }, { smtp: true });
  domain = (await aDomain(server.services)).name;
  box = await aMailbox(server.services, { domain });
  const hasher = server.adapters.hasher;
  const verify = hasher.verify.bind(hasher);
  hasher.verify = (hash, password) => {
    verifications++;
    return verify(hash, password);
  };
});
after(() => server.stop());

const ready = () => RawSmtp.ready(server.smtpPorts.smtps, { implicitTls: true, dataDir: server.dataDir });
const spooled = () => readdirSync(path.join(server.dataDir, 'spool')).filter((f) => f.endsWith('.json')).length;
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

/** The connection still answers: a NOOP gets 250 (and no reply is left over from before). */
async function assertUsable(c: RawSmtp) {
  const r = await c.cmd('NOOP');
  assert.equal(r.code, 250, r.text);
  assert.match(r.text, /OK/);
}

async function auditCount(action: string, target: string): Promise<number> {
  return (await server.query<{ n: number }>('SELECT count(*) AS n FROM audit_log WHERE action = ? AND target = ?', action, target))[0]!.n;
}

async function waitForAudit(action: string, target: string, n: number) {
  const deadline = Date.now() + 5000;
  while ((await auditCount(action, target)) < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return auditCount(action, target);
}

describe('AUTH data', () => {
  test('invalid base64 or a token without its NUL separators in AUTH PLAIN: 501, nothing verified', async () => {
    for (const token of ['!!!!', '%%%%====', b64('no separators'), b64(`${box.address}\0${box.password}`), b64(`\0${box.address}\0pw\0extra`), '*']) {
      const c = await ready();
      verifications = 0;
      const r = await c.cmd(`AUTH PLAIN ${token}`);
      assert.equal(r.code, 501, `${token}: ${r.text}`);
      assert.equal(verifications, 0, token);
      await assertUsable(c);
      c.close();
    }
  });

  test('AUTH PLAIN sent as a continuation line: invalid base64 gets 501 the same way', async () => {
    const c = await ready();
    assert.equal((await c.cmd('AUTH PLAIN')).code, 334);
    assert.equal((await c.cmd('!!!! not base64 ####')).code, 501);
    await assertUsable(c);
    c.close();
  });

  test('AUTH LOGIN with invalid base64 or control characters: refused like a wrong password, or 501', async () => {
    const cases: Array<[string, string]> = [
      ['!!!!', b64(box.password)],
      [b64(`${box.address}\u0000x`), b64(box.password)],
      [b64(box.address), '!!!! not base64'],
      [b64('\u001b[31m'), b64('x')],
    ];
    for (const [user, pass] of cases) {
      const c = await ready();
      assert.equal((await c.cmd('AUTH LOGIN')).code, 334);
      let r = await c.cmd(user);
      if (r.code === 334) r = await c.cmd(pass);
      assert.ok(r.code === 535 || r.code === 501, `${user} / ${pass}: ${r.text}`);
      if (r.code === 535) assert.equal(r.text, '535 5.7.8 Authentication credentials invalid');
      await assertUsable(c);
      c.close();
    }
  });

  test('an AUTH line over the command length limit: 421 4.4.2 and the connection ends, nothing verified', async () => {
    for (const line of [`AUTH PLAIN ${'A'.repeat(10_000)}`, `AUTH PLAIN ${b64(`\0${box.address}\0${'x'.repeat(5000)}`)}`, `AUTH ${'X'.repeat(100_000)}`]) {
      const c = await ready();
      verifications = 0;
      const r = await c.cmd(line);
      assert.equal(r.text, '421 4.4.2 Error: Command line too long');
      assert.equal(verifications, 0);
      const deadline = Date.now() + 2000;
      while (!c.closed && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
      assert.ok(c.closed, 'the connection stayed open');
    }
    const d = await ready();
    await assertUsable(d);
    d.close();
  });

  test('an over-long password or login is refused with 535 before any hashing, and audited', async () => {
    const fresh = await aMailbox(server.services, { domain });
    const longPassword = 'A1!a'.repeat(200);
    const longLogin = `${'x'.repeat(400)}@${domain}`;
    for (const [login, password] of [
      [fresh.address, longPassword],
      [longLogin, fresh.password],
    ] as const) {
      const c = await ready();
      verifications = 0;
      assert.equal((await c.authPlain(login, password)).text, '535 5.7.8 Authentication credentials invalid');
      assert.equal(verifications, 0, 'argon2 ran for an over-long input');
      c.close();
    }
    // A wrong password of a normal length does cost one verification (the counter works).
    const c = await ready();
    verifications = 0;
    assert.equal((await c.authPlain(fresh.address, 'Wrong#Pass-12')).code, 535);
    assert.equal(verifications, 1);
    c.close();
    assert.equal(await waitForAudit('login.failure', fresh.address, 2), 2, 'the over-long attempt was not audited');
    // Never as typed (a malformed name is often a password typed into the wrong field).
    assert.ok((await waitForAudit('login.failure', MALFORMED_NAME, 1)) >= 1, 'the over-long login was not audited');
  });
});

describe('protocol order and garbage', () => {
  test('commands before EHLO get 503 5.5.1; AUTH, MAIL, RCPT and DATA out of order are refused', async () => {
    const c = await RawSmtp.connect(server.smtpPorts.smtps, { implicitTls: true, dataDir: server.dataDir });
    assert.equal((await c.read()).code, 220);
    for (const cmd of ['MAIL FROM:<a@b.test>', 'RCPT TO:<a@b.test>', 'DATA', `AUTH PLAIN ${b64(`\0${box.address}\0${box.password}`)}`]) {
      const r = await c.cmd(cmd);
      assert.equal(r.code, 503, `${cmd}: ${r.text}`);
      assert.match(r.text, /^503 5\.5\.1 /);
    }
    assert.equal((await c.cmd('EHLO client.test')).code, 250);
    assert.equal((await c.cmd('RCPT TO:<a@b.test>')).code, 503);
    assert.equal((await c.cmd('DATA')).code, 503);
    c.close();
  });

  test('pipelined garbage: every line is answered, the client is cut off after too many, the server stays up', async () => {
    const c = await RawSmtp.connect(server.smtpPorts.smtps, { implicitTls: true, dataDir: server.dataDir });
    assert.equal((await c.read()).code, 220);
    const garbage = [
      'HELO',
      '\u0000\u0001\u0002',
      'GET / HTTP/1.1',
      'Host: example.com',
      "MAIL FROM:<' OR 1=1 -->",
      'XYZZY',
      '\u00ff\u00fe\u00fd',
      'RCPT',
      'AUTH CRAM-MD5',
      'BDAT 10 LAST',
      'VRFY root',
      'EXPN all',
      'TURN',
      'ETRN x',
      'QUIT QUIT',
    ];
    c.write(`${garbage.join('\r\n')}\r\n`);
    const replies: Reply[] = [];
    for (;;) {
      const r = await c.read(3000).catch(() => null);
      if (!r) break;
      replies.push(r);
      if (r.code === 421 || r.code === 221) break;
    }
    assert.ok(replies.length > 0);
    for (const r of replies) assert.ok(r.code >= 400, r.text);
    assert.ok(replies.some((r) => r.code === 421) || c.closed || replies.length === garbage.length, replies.map((r) => r.text).join(' | '));
    c.close();
    const d = await ready();
    await assertUsable(d);
    d.close();
    assert.equal((await request(server.url).get('/healthz')).status, 200);
  });
});

describe('end-of-data tricks (SMTP smuggling)', () => {
  const smuggled = (from: string) => `MAIL FROM:<${from}>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\nSubject: smuggled\r\n\r\nsmuggled\r\n`;
  const TRICKS: Array<[string, string]> = [
    ['\\n.\\n', '\n.\n'],
    ['\\r.\\r', '\r.\r'],
    ['\\n.\\r\\n', '\n.\r\n'],
    ['\\r\\n.\\n', '\r\n.\n'],
    ['\\r.\\r\\n', '\r.\r\n'],
    ['\\r\\n.\\r', '\r\n.\r'],
    ['\\n..\\n', '\n..\n'],
  ];
  for (const [label, terminator] of TRICKS) {
    test(`a fake terminator ${label} does not split one message into two`, async () => {
      const c = await ready();
      assert.equal((await c.authPlain(box.address, box.password)).code, 235);
      assert.equal((await c.cmd(`MAIL FROM:<${box.address}>`)).code, 250);
      assert.equal((await c.cmd('RCPT TO:<friend@example.net>')).code, 250);
      assert.equal((await c.cmd('DATA')).code, 354);
      const before = spooled();
      c.write(`Subject: first\r\n\r\nfirst${terminator}${smuggled(box.address)}.\r\n`);
      const reply = await c.read();
      assert.match(reply.text, /^550 5\.6\.0 /, reply.text);
      assert.equal(spooled(), before, 'something was spooled');
      // One message, one reply: none of the smuggled commands ran (their replies would come first).
      await assertUsable(c);
      c.close();
    });
  }

  test('a proper message with dot-stuffed lines is one message, spooled once', async () => {
    const c = await ready();
    await c.authPlain(box.address, box.password);
    await c.cmd(`MAIL FROM:<${box.address}>`);
    await c.cmd('RCPT TO:<friend@example.net>');
    await c.cmd('DATA');
    const before = spooled();
    const reply = await c.cmd(`Subject: dots\r\n\r\n..\r\n.. not the end\r\n...\r\n.`);
    assert.equal(reply.code, 250, reply.text);
    assert.equal(spooled(), before + 1);
    await assertUsable(c);
    c.close();
  });
});

describe('connection limits', () => {
  test(`1,000 connections at once: ${MAX_CLIENTS} are served, the rest get 421, the process stays up`, async () => {
    const TOTAL = 1000;
    const sockets: net.Socket[] = [];
    const firstLines = await Promise.all(
      Array.from(
        { length: TOTAL },
        () =>
          new Promise<string>((resolve) => {
            const s = net.connect({ host: '127.0.0.1', port: server.smtpPorts.smtp });
            sockets.push(s);
            let data = '';
            const timer = setTimeout(() => resolve(data || 'timeout'), 15_000);
            s.on('data', (d: Buffer) => {
              data += d.toString('latin1');
              if (data.includes('\r\n')) {
                clearTimeout(timer);
                resolve(data.slice(0, data.indexOf('\r\n')));
              }
            });
            s.on('error', () => {
              clearTimeout(timer);
              resolve(data || 'error');
            });
            s.on('close', () => {
              clearTimeout(timer);
              resolve(data || 'closed');
            });
          }),
      ),
    );
    try {
      const greeted = firstLines.filter((l) => l.startsWith('220 ')).length;
      const refused = firstLines.filter((l) => /^421 .*Too many connected clients/.test(l)).length;
      assert.ok(greeted <= MAX_CLIENTS, `${greeted} greeted`);
      assert.ok(greeted >= MAX_CLIENTS * 0.8, `only ${greeted} greeted`);
      assert.equal(greeted + refused, TOTAL, [...new Set(firstLines.filter((l) => !l.startsWith('220') && !l.startsWith('421')))].join(' | '));
      assert.equal((await request(server.url).get('/healthz')).status, 200);
    } finally {
      for (const s of sockets) s.destroy();
    }
    // Once they are gone, a new client is served again.
    const deadline = Date.now() + 5000;
    let c: RawSmtp | null = null;
    while (!c && Date.now() < deadline) {
      const attempt = await RawSmtp.connect(server.smtpPorts.smtp, { dataDir: server.dataDir });
      const greeting = await attempt.read();
      if (greeting.code === 220) c = attempt;
      else {
        attempt.close();
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.ok(c, 'no greeting after the flood');
    assert.equal((await c.cmd('EHLO client.test')).code, 250);
    c.close();
  });
});
