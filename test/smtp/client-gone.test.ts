import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { cliActor } from '../../src/core/actors.js';
import { aDomain, aMailbox } from '../helpers/builders.js';
import { capturedLog } from '../helpers/log-lines.js';
import { RawSmtp } from '../helpers/smtp-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// A client that goes away in the middle of its message (a dropped phone, a killed script) is
// ordinary: nothing is kept of the message, its recipients are given back to its sending count,
// and the log says so at debug level, not as a failure of the server.
const { log, lines } = capturedLog('debug');

let server: TestServer;
before(async () => {
  server = await startTestServer({}, { smtp: true, log });
});
after(() => server.stop());

test('a client that leaves in the middle of DATA: nothing spooled, its recipients given back, no error logged', async () => {
  const domain = await aDomain(server.services);
  const { address, password } = await aMailbox(server.services, { domain: domain.name });
  const c = await RawSmtp.ready(server.smtpPorts.smtps, { implicitTls: true, dataDir: server.dataDir });
  assert.equal((await c.authPlain(address, password)).code, 235);
  assert.equal((await c.cmd(`MAIL FROM:<${address}>`)).code, 250);
  assert.equal((await c.cmd('RCPT TO:<someone@example.org>')).code, 250);
  assert.equal((await c.cmd('RCPT TO:<another@example.org>')).code, 250);
  assert.equal((await c.cmd('DATA')).code, 354);
  c.write(`From: <${address}>\r\nTo: <someone@example.org>\r\nSubject: half\r\n\r\nthe first half of a message\r\n`);
  await new Promise((resolve) => setTimeout(resolve, 100));
  c.close();

  const account = (await server.services.mailboxes.listMailboxes(cliActor, domain, { search: address, page: 1 })).items[0]!;
  const sentOf = async () => (await server.services.sendLimits.sentByAccount(cliActor, domain, [account])).get(account.id)!.sent.lastHour;
  for (let i = 0; i < 50 && (await sentOf()) !== 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(await sentOf(), 0, 'the two recipients counted at RCPT are given back');
  await new Promise((resolve) => setTimeout(resolve, 200));
  // Neither a message nor the part written of it (spool/tmp/).
  const spooled = readdirSync(path.join(server.dataDir, 'spool'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
  assert.deepEqual(spooled.map((e) => e.name), []);
  assert.deepEqual(
    lines.filter((l) => l.level >= 50).map((l) => l.msg),
    [],
  );
  assert.ok(lines.some((l) => l.level === 20 && l.msg === 'client left during its message'), 'a debug line says what happened');
});
