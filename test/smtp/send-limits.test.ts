import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { cliActor } from '../../src/core/actors.js';
import type { SendLimitValues } from '../../src/core/ports/send-limits.js';
import { aDomain, aMailbox, anAdmin } from '../helpers/builders.js';
import { startDownstream } from '../helpers/downstream.js';
import { tempDataDir } from '../helpers/env.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { RawSmtp } from '../helpers/smtp-client.js';

// SPEC §15 over SMTP, in front of a scriptable downstream relay: recipients of accepted messages
// count, refused ones do not; 452 4.5.3 past a message's limit, 451 4.7.1 past the hour's or day's.

type Downstream = Awaited<ReturnType<typeof startDownstream>>;
type Login = { address: string; password: string };

let down: Downstream;
let server: TestServer;
let domain: string;
before(async () => {
  const tls = tempDataDir();
  down = await startDownstream({ tlsDir: tls.dir });
  server = await startTestServer(
    { RELAY_URL: `smtp://127.0.0.1:${down.port}`, RELAY_MAX_CONNECTIONS: '20', SMTP_AUTH_MAX_FAILURES: '1000', METRICS_TOKEN: 'limits-metrics-token-0123456789' },
    { smtp: true },
  );
  domain = (await aDomain(server.services)).name;
});
after(async () => {
  await server.stop();
  await down.stop();
});

const none: SendLimitValues = { perHour: null, perDay: null, maxRecipients: null };
const domainOf = () => server.services.domains.requireDomain(cliActor, domain);
async function limitMailbox(address: string, values: Partial<SendLimitValues>) {
  const mailbox = await server.services.mailboxes.getMailbox(cliActor, await domainOf(), address);
  await server.services.sendLimits.setAccount(cliActor, mailbox, { ...none, ...values });
  return mailbox;
}
async function aCredential(name: string, values: Partial<SendLimitValues>): Promise<Login & { guid: string }> {
  const { credential, password } = await server.services.credentials.createCredential(cliActor, await domainOf(), name);
  await server.services.sendLimits.setAccount(cliActor, credential, { ...none, ...values });
  return { address: credential.login, password, guid: credential.guid! };
}
const sentOf = async (login: string) => {
  const d = await domainOf();
  const account = login.includes('-') ? (await server.services.credentials.listCredentials(cliActor, d)).find((c) => c.login === login)! : await server.services.mailboxes.getMailbox(cliActor, d, login);
  return (await server.services.sendLimits.ofAccount(cliActor, account)).sent;
};

async function session(login: Login) {
  const c = await RawSmtp.ready(server.smtpPorts.smtps, { implicitTls: true, dataDir: server.dataDir });
  assert.equal((await c.authPlain(login.address, login.password)).code, 235);
  return c;
}
/** One message on an open session: each RCPT's reply, and the end of data's (null: no recipient was accepted). */
async function message(c: RawSmtp, from: string, rcpts: string[]) {
  assert.equal((await c.cmd(`MAIL FROM:<${from}>`)).code, 250);
  const rcpt = [];
  for (const r of rcpts) rcpt.push(await c.cmd(`RCPT TO:<${r}>`));
  if (!rcpt.some((r) => r.code === 250)) {
    await c.cmd('RSET');
    return { rcpt, end: null };
  }
  assert.equal((await c.cmd('DATA')).code, 354);
  c.write(`From: ${from}\r\nSubject: limits\r\n\r\nHello.\r\n.\r\n`);
  return { rcpt, end: await c.read() };
}
const rcpts = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}@example.org`);

describe('sending limits over SMTP', () => {
  test('past the hour: 451 4.7.1 for the rest, the accepted recipients still go, counted once; the reach is told once', async () => {
    const box = await aMailbox(server.services, { domain });
    const mailbox = await limitMailbox(box.address, { perHour: 3 });
    const admin = await anAdmin(server.services, { domains: [domain] });
    const before = down.received.length;
    const c = await session(box);
    try {
      const first = await message(c, box.address, rcpts(5, 'h'));
      assert.deepEqual(first.rcpt.map((r) => r.code), [250, 250, 250, 451, 451]);
      assert.equal(first.rcpt[3]!.text, '451 4.7.1 Sending limit reached, try again later');
      assert.equal(first.end!.code, 250);
      assert.deepEqual(down.received.slice(before).filter((m) => m.from === box.address).map((m) => m.to.length), [3]);
      const second = await message(c, box.address, ['again@example.org']);
      assert.deepEqual(second.rcpt.map((r) => r.code), [451]);
    } finally {
      c.close();
    }
    assert.deepEqual(await sentOf(box.address), { lastHour: 3, lastDay: 3 });
    // Told once, though refused three times: the audit log, the owner (by mail through the relay), the domain's admin.
    const audit = await server.services.audit.list(cliActor, { page: '1' });
    assert.equal(audit.items.filter((e) => e.action === 'send-limit.reached' && e.target === box.address).length, 1);
    await server.services.alerts.settled();
    const alerts = down.received.filter((m) => m.to.includes(box.address) && m.data.includes('Subject: A sending limit was reached'));
    assert.equal(alerts.length, 1);
    assert.match(alerts[0]!.data.replace(/\r\n\s*/g, ' '), new RegExp(`${box.address} reached its sending limit of 3 recipients in the last hour`));
    assert.deepEqual(await server.services.alerts.take(`mailbox:${mailbox.id}`), []);
    const adminNotices = await server.services.alerts.take(`admin:${admin.admin.id}`);
    assert.equal(adminNotices.filter((n) => n.text.includes(box.address)).length, 1);
    const reached = await server.services.sendLimits.reachedToday(cliActor, await domainOf());
    assert.deepEqual(reached.filter((r) => r.login === box.address).map((r) => r.window), ['hour']);
    const metrics = await request(server.url).get('/metrics').set('Authorization', 'Bearer limits-metrics-token-0123456789');
    assert.match(metrics.text, /^mailpass_send_limit_reached_total\{window="hour"\} 1$/m);
    assert.match(metrics.text, /^mailpass_send_limit_reached_total\{window="day"\} 0$/m);
  });

  test('a raised limit lets the login send again at its next message', async () => {
    const cred = await aCredential('Raised', { perHour: 1 });
    const c = await session(cred);
    try {
      assert.deepEqual((await message(c, `app@${domain}`, ['a@example.org', 'b@example.org'])).rcpt.map((r) => r.code), [250, 451]);
      await server.services.sendLimits.setAccount(cliActor, (await server.services.credentials.getCredential(cliActor, await domainOf(), cred.guid)), { ...none, perHour: 10 });
      assert.deepEqual((await message(c, `app@${domain}`, ['b@example.org'])).rcpt.map((r) => r.code), [250]);
    } finally {
      c.close();
    }
    assert.deepEqual(await sentOf(cred.address), { lastHour: 2, lastDay: 2 });
  });

  test('past a message: 452 4.5.3, and the next message takes the rest; the domain default applies below the installation', async () => {
    const d = await domainOf();
    await server.services.sendLimits.setDomain(cliActor, d, { ...none, maxRecipients: 2 });
    try {
      const box = await aMailbox(server.services, { domain });
      const c = await session(box);
      try {
        const first = await message(c, box.address, rcpts(3, 'm'));
        assert.deepEqual(first.rcpt.map((r) => r.code), [250, 250, 452]);
        assert.equal(first.rcpt[2]!.text, '452 4.5.3 Too many recipients');
        assert.equal(first.end!.code, 250);
        assert.equal((await message(c, box.address, ['m2@example.org'])).end!.code, 250);
      } finally {
        c.close();
      }
      assert.deepEqual(await sentOf(box.address), { lastHour: 3, lastDay: 3 });
      // A mailbox's own value wins over its domain's.
      await limitMailbox(box.address, { maxRecipients: 0 });
      const c2 = await session(box);
      try {
        assert.deepEqual((await message(c2, box.address, rcpts(4, 'n'))).rcpt.map((r) => r.code), [250, 250, 250, 250]);
      } finally {
        c2.close();
      }
    } finally {
      await server.services.sendLimits.setDomain(cliActor, d, none);
    }
  });

  test('recipients the relay refuses, and those of a message never sent, are not counted', async () => {
    const box = await aMailbox(server.services, { domain });
    await limitMailbox(box.address, { perHour: 2 });
    down.state.refuse.set('nobody@example.org', { code: 550, text: '5.1.1 No such user' });
    const c = await session(box);
    try {
      // A refused recipient: the relay's own reply, and nothing counted.
      assert.deepEqual((await message(c, box.address, ['nobody@example.org', 'x@example.org'])).rcpt.map((r) => r.code), [550, 250]);
      // The relay refuses the message at its end: its recipient is given back.
      down.state.dataMode = 'reject';
      const refused = await message(c, box.address, ['y@example.org']);
      assert.equal(refused.end!.code, 554);
      down.state.dataMode = 'accept';
      // Recipients of a message abandoned before its data (RSET) are given back.
      assert.equal((await c.cmd(`MAIL FROM:<${box.address}>`)).code, 250);
      assert.equal((await c.cmd('RCPT TO:<z@example.org>')).code, 250);
      assert.equal((await c.cmd('RSET')).code, 250);
      assert.deepEqual((await message(c, box.address, ['w@example.org', 'v@example.org'])).rcpt.map((r) => r.code), [250, 451]);
    } finally {
      down.state.dataMode = 'accept';
      down.state.refuse.delete('nobody@example.org');
      c.close();
    }
    assert.deepEqual(await sentOf(box.address), { lastHour: 2, lastDay: 2 });
  });

  test("a mailbox's app passwords count towards the mailbox", async () => {
    const box = await aMailbox(server.services, { domain });
    const mailbox = await limitMailbox(box.address, { perDay: 2 });
    const { password } = await server.services.appPasswords.create({ kind: 'mailbox', id: mailbox.id, login: mailbox.login }, 'Phone', null);
    const c = await session(box);
    try {
      assert.equal((await message(c, box.address, ['p@example.org'])).end!.code, 250);
    } finally {
      c.close();
    }
    const app = await session({ address: box.address, password });
    try {
      assert.deepEqual((await message(app, box.address, ['q@example.org', 'r@example.org'])).rcpt.map((r) => r.code), [250, 451]);
    } finally {
      app.close();
    }
    assert.deepEqual(await sentOf(box.address), { lastHour: 2, lastDay: 2 });
  });

  test('sessions of one login sending at once never pass its limit together: it holds exactly', async () => {
    const cred = await aCredential('Parallel', { perHour: 12 });
    const before = down.received.length;
    const results = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const c = await session(cred);
        try {
          return await message(c, `app@${domain}`, rcpts(3, `p${i}-`));
        } finally {
          c.close();
        }
      }),
    );
    const accepted = results.flatMap((r) => r.rcpt).filter((r) => r.code === 250).length;
    assert.equal(accepted, 12);
    assert.equal(results.flatMap((r) => r.rcpt).filter((r) => r.code === 451).length, 12);
    const delivered = down.received.slice(before).reduce((n, m) => n + m.to.length, 0);
    assert.equal(delivered, 12);
    assert.deepEqual(await sentOf(cred.address), { lastHour: 12, lastDay: 12 });
  });
});
