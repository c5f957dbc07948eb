import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { aDomain, aMailbox } from '../helpers/builders.js';
import { RawSmtp } from '../helpers/smtp-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let domain: string;
const MAX = 4;

before(async () => {
  server = await startTestServer({ SMTP_AUTH_MAX_FAILURES: String(MAX), SMTP_AUTH_WINDOW_SECONDS: '900' }, { smtp: true });
  domain = (await aDomain(server.services)).name;
});
after(() => server.stop());

/** One AUTH PLAIN over implicit TLS from a chosen loopback source address; the reply line. */
async function authFrom(localAddress: string, login: string, password: string): Promise<string> {
  const c = await RawSmtp.ready(server.smtpPorts.smtps, { implicitTls: true, dataDir: server.dataDir, localAddress });
  const reply = await c.authPlain(login, password);
  c.close();
  return reply.text;
}

test('a login is locked out with 454 4.7.0 after the failures, but a client that logged in before is exempt', async () => {
  const { address, password } = await aMailbox(server.services, { domain });
  assert.match(await authFrom('127.0.0.2', address, password), /^235 /);
  for (let i = 0; i < MAX; i++) assert.match(await authFrom('127.0.0.3', address, `Wrong#${i}Pass`), /^535 5\.7\.8 /);
  // Even the right password is refused for a stranger while the login is locked out.
  assert.match(await authFrom('127.0.0.4', address, password), /^454 4\.7\.0 /);
  // The owner's usual client is not locked out by someone else's guesses.
  assert.match(await authFrom('127.0.0.2', address, password), /^235 2\.7\.0 /);
});

test('the same wrong password repeated counts once', async () => {
  const { address, password } = await aMailbox(server.services, { domain });
  for (let i = 0; i < MAX * 2; i++) assert.match(await authFrom('127.0.0.5', address, 'Same#Wrong1'), /^535 /);
  assert.match(await authFrom('127.0.0.6', address, password), /^235 /);
});

test('a client address is locked out after spraying one password over many logins; others still log in', async () => {
  const boxes = await Promise.all(Array.from({ length: MAX + 2 }, () => aMailbox(server.services, { domain })));
  const replies: string[] = [];
  for (const b of boxes) replies.push(await authFrom('127.0.0.7', b.address, 'Spray#Pass1'));
  assert.deepEqual(replies.map((r) => r.slice(0, 3)), [...Array(MAX).fill('535'), '454', '454']);
  assert.match(await authFrom('127.0.0.7', boxes[0]!.address, boxes[0]!.password), /^454 /);
  assert.match(await authFrom('127.0.0.8', boxes[1]!.address, boxes[1]!.password), /^235 /);
});

test('parallel guesses cannot slip past the limit: attempts in flight count', async () => {
  const { address } = await aMailbox(server.services, { domain });
  const replies = await Promise.all(Array.from({ length: MAX * 3 }, (_, i) => authFrom('127.0.0.9', address, `Guess#${i}Xy`)));
  const failures = replies.filter((r) => r.startsWith('535')).length;
  assert.equal(failures, MAX, replies.join(' | '));
  assert.equal(replies.filter((r) => r.startsWith('454')).length, MAX * 2);
});

test('an over-long AUTH line is refused without taking the process down', async () => {
  const c = await RawSmtp.ready(server.smtpPorts.smtps, { implicitTls: true, dataDir: server.dataDir });
  c.write(`AUTH PLAIN ${'A'.repeat(10_000)}\r\n`);
  const r = await c.read().catch(() => null);
  assert.ok(r === null || r.code >= 400, r?.text);
  c.close();
  const d = await RawSmtp.ready(server.smtpPorts.smtp, { dataDir: server.dataDir });
  assert.equal((await d.cmd('NOOP')).code, 250);
  d.close();
});
