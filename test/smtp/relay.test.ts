import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { aDomain, aMailbox } from '../helpers/builders.js';
import { startDownstream } from '../helpers/downstream.js';
import { tempDataDir } from '../helpers/env.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { RawSmtp } from '../helpers/smtp-client.js';

// SPEC §9: mailpass as a before-queue relay in front of a scriptable downstream (a real
// smtp-server on loopback that refuses, defers, stalls or drops on cue).

type Downstream = Awaited<ReturnType<typeof startDownstream>>;

/** Sends one message over implicit TLS; every reply on the way, and the final one. */
async function send(server: TestServer, login: { address: string; password: string }, rcpts: string[], body: string, from = login.address) {
  const c = await RawSmtp.ready(server.smtpPorts.smtps, { implicitTls: true, dataDir: server.dataDir });
  try {
    assert.equal((await c.authPlain(login.address, login.password)).code, 235);
    const mail = await c.cmd(`MAIL FROM:<${from}>`);
    if (mail.code !== 250) return { mail, rcpt: [], data: null, end: null };
    const rcpt = [];
    for (const r of rcpts) rcpt.push(await c.cmd(`RCPT TO:<${r}>`));
    if (!rcpt.some((r) => r.code === 250)) return { mail, rcpt, data: null, end: null };
    const data = await c.cmd('DATA');
    if (data.code !== 354) return { mail, rcpt, data, end: null };
    // Dot-stuffed as a client must (RFC 5321 §4.5.2): the server removes the added dots.
    c.write(`${body.split('\r\n').map((l) => (l.startsWith('.') ? `.${l}` : l)).join('\r\n')}\r\n.\r\n`);
    const end = await c.read();
    return { mail, rcpt, data, end };
  } finally {
    c.close();
  }
}

const message = (from: string, subject: string, lines: string[] = ['Hello.']) => [`From: ${from}`, 'To: friend@example.org', `Subject: ${subject}`, '', ...lines].join('\r\n');
const spooled = (server: TestServer) => (existsSync(path.join(server.dataDir, 'spool')) ? readdirSync(path.join(server.dataDir, 'spool')).filter((f) => f.endsWith('.eml')) : []);

describe('relaying', () => {
  let down: Downstream;
  let server: TestServer;
  let box: { address: string; password: string };
  const logLines: string[] = [];
  before(async () => {
    const tls = tempDataDir();
    down = await startDownstream({ tlsDir: tls.dir });
    const sink = new PassThrough();
    sink.on('data', (d: Buffer) => logLines.push(...d.toString('utf8').split('\n').filter(Boolean)));
    server = await startTestServer(
      { RELAY_URL: `smtp://127.0.0.1:${down.port}`, RELAY_TIMEOUT_SECONDS: '2', RELAY_MAX_CONNECTIONS: '2', METRICS_TOKEN: 'relay-metrics-token-0123456789' },
      { smtp: true, log: createLogger('info', sink) },
    );
    const domain = (await aDomain(server.services)).name;
    box = await aMailbox(server.services, { domain });
  });
  after(async () => {
    await server.stop();
    await down.stop();
  });

  test('a message reaches the relay with one Received: header on top, dot-stuffed lines intact, and nothing is spooled; the client gets the relay\'s 250', async () => {
    down.state.dataMode = 'accept';
    const before = down.received.length;
    const r = await send(server, box, ['friend@example.org', 'other@example.org'], message(box.address, 'hello', ['line one', '.starts with a dot', '..two dots', 'end']));
    assert.equal(r.end!.code, 250);
    assert.match(r.end!.text, /^250 2\.0\.0 Ok: queued as Q\d+$/);
    assert.equal(down.received.length, before + 1);
    const got = down.received.at(-1)!;
    assert.deepEqual(got.to, ['friend@example.org', 'other@example.org']);
    assert.equal(got.from, box.address);
    assert.equal(got.secure, true, 'STARTTLS was offered and not used');
    const [received, ...rest] = got.data.split(/\r\n(?![\t ])/);
    assert.match(received!, /^Received: from client\.test \(\[127\.0\.0\.1\]\)\r\n\tby mail\.test \(mailpass\) with ESMTPSA id [0-9a-f]{16};\r\n\t\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
    assert.equal(rest.filter((l) => l.startsWith('Received:')).length, 0, 'one trace header only');
    assert.match(got.data, /\r\nline one\r\n\.starts with a dot\r\n\.\.two dots\r\nend\r\n$/);
    assert.deepEqual(spooled(server), []);
  });

  test('a recipient the relay refuses is refused to the client with the relay\'s code and text; the others still get the message', async () => {
    down.state.dataMode = 'accept';
    down.state.refuse.set('nobody@example.org', { code: 550, text: '5.1.1 <nobody@example.org>: Recipient address rejected: User unknown' });
    down.state.refuse.set('full@example.org', { code: 452, text: '4.2.2 Mailbox full' });
    try {
      const before = down.received.length;
      const r = await send(server, box, ['nobody@example.org', 'full@example.org', 'friend@example.org'], message(box.address, 'some'));
      assert.equal(r.rcpt[0]!.text, '550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown');
      assert.equal(r.rcpt[1]!.text, '452 4.2.2 Mailbox full');
      assert.equal(r.rcpt[2]!.code, 250);
      assert.equal(r.end!.code, 250);
      assert.deepEqual(down.received.slice(before).map((m) => m.to), [['friend@example.org']]);
    } finally {
      down.state.refuse.clear();
    }
  });

  test("the relay's 5xx or 4xx after DATA is the client's reply, and nothing was delivered", async () => {
    const before = down.received.length;
    down.state.dataMode = 'reject';
    assert.equal((await send(server, box, ['friend@example.org'], message(box.address, 'no'))).end!.text, '554 5.7.1 Message refused by policy');
    down.state.dataMode = 'defer';
    assert.equal((await send(server, box, ['friend@example.org'], message(box.address, 'later'))).end!.text, '451 4.3.0 Try again later');
    down.state.dataMode = 'accept';
    assert.equal(down.received.length, before);
    assert.equal((await send(server, box, ['friend@example.org'], message(box.address, 'now'))).end!.code, 250, 'the pooled connection works after refusals');
  });

  test('the relay dropping the connection in the middle of DATA: 451, and the client\'s retry delivers exactly one copy', async () => {
    const before = down.received.length;
    down.state.dataMode = 'drop';
    const body = message(box.address, 'retry me', Array.from({ length: 2000 }, (_, i) => `line ${i} of a message long enough to arrive in several chunks`));
    const first = await send(server, box, ['friend@example.org'], body);
    assert.match(first.end!.text, /^451 4\.4\.1 /);
    down.state.dataMode = 'accept';
    const retry = await send(server, box, ['friend@example.org'], body);
    assert.equal(retry.end!.code, 250);
    assert.equal(down.received.slice(before).filter((m) => m.data.includes('Subject: retry me')).length, 1);
  });

  test('a forged From: or a bare LF never reaches the relay: 553 5.7.1 and 550 5.6.0', async () => {
    const before = down.received.length;
    const started = down.state.started;
    const forged = await send(server, box, ['friend@example.org'], message('ceo@example.org', 'forged'));
    assert.equal(forged.end!.text, '553 5.7.1 From: header address not allowed for this login');
    assert.equal(down.state.started, started, 'the relay got DATA for a forged message');
    const bare = await send(server, box, ['friend@example.org'], `${message(box.address, 'smuggle')}\n.\nMAIL FROM:<x@example.org>`);
    assert.equal(bare.end!.text, '550 5.6.0 Message refused: bare LF or CR in message data');
    assert.equal(down.received.length, before, 'a refused message was delivered');
  });

  test('a From: after more than 64 KiB of header lines is never relayed (552 5.6.0); one inside 64 KiB is checked like any other', async () => {
    const pad = (bytes: number) => Array.from({ length: Math.ceil(bytes / 100) }, (_, i) => `X-Pad-${i}: ${'p'.repeat(90)}`);
    const started = down.state.started;
    const before = down.received.length;
    // The review's message: 113 KB of filler, then the boss's From:, after the sender's own.
    const hidden = [`From: ${box.address}`, ...pad(113_000), 'From: "CEO" <ceo@example.org>', 'Subject: hidden', '', 'Pay this invoice.'].join('\r\n');
    const refused = await send(server, box, ['friend@example.org'], hidden);
    assert.equal(refused.end!.text, '552 5.6.0 Message refused: header block longer than 65536 bytes, its From: cannot be checked');
    // Even with no forged From: at all: a header block that cannot be read whole is not sent on.
    const long = await send(server, box, ['friend@example.org'], [`From: ${box.address}`, ...pad(70_000), 'Subject: long', '', 'Hi.'].join('\r\n'));
    assert.equal(long.end!.code, 552);
    assert.equal(down.state.started, started, 'the relay got DATA for a message whose header block was not checked');
    // 60 KB of filler then a forged From: is still read, and refused for what it is.
    const near = await send(server, box, ['friend@example.org'], [`From: ${box.address}`, ...pad(60_000), 'From: ceo@example.org', '', 'Hi.'].join('\r\n'));
    assert.equal(near.end!.text, '553 5.7.1 From: header address not allowed for this login');
    const fine = await send(server, box, ['friend@example.org'], [`From: ${box.address}`, ...pad(60_000), 'Subject: padded but fine', '', 'Hi.'].join('\r\n'));
    assert.equal(fine.end!.code, 250);
    assert.deepEqual(down.received.slice(before).map((m) => /Subject: ([^\r]*)/.exec(m.data)?.[1]), ['padded but fine']);
  });

  test('a bare CR or LF stops the stream to the relay where it is found, and the relay never gets the end of data', async () => {
    const before = down.received.length;
    const bytes = down.state.bytes;
    const tail = 'Z'.repeat(200_000);
    const bare = await send(server, box, ['friend@example.org'], `${message(box.address, 'cut short')}\rafter the bare CR\r\n${tail}`);
    assert.equal(bare.end!.text, '550 5.6.0 Message refused: bare LF or CR in message data');
    assert.equal(down.received.length, before, 'a refused message was delivered');
    assert.ok(down.state.bytes - bytes < tail.length, 'the data after the bare CR reached the relay');
  });

  test('connections to the relay are pooled and bounded (RELAY_MAX_CONNECTIONS=2): six senders at once, at most two connections, six messages', async () => {
    down.state.dataMode = 'accept';
    const others = await Promise.all(Array.from({ length: 6 }, () => aMailbox(server.services, { domain: box.address.split('@')[1]! })));
    const before = down.received.length;
    down.state.peak = down.state.open;
    const results = await Promise.all(others.map((o) => send(server, o, ['friend@example.org'], message(o.address, `pool ${o.address}`))));
    assert.deepEqual(results.map((r) => r.end!.code), Array(6).fill(250));
    assert.equal(down.received.length, before + 6);
    assert.ok(down.state.peak <= 2, `${down.state.peak} connections to the relay at once`);
  });

  test('a stalled relay: the sender gets 451 4.4.1 after RELAY_TIMEOUT_SECONDS, and the panel answers meanwhile', async () => {
    down.state.dataMode = 'stall';
    try {
      const pending = send(server, box, ['friend@example.org'], message(box.address, 'stalled'));
      const health = await request(server.url).get('/healthz');
      assert.equal(health.status, 200);
      assert.match((await pending).end!.text, /^451 4\.4\.1 /);
    } finally {
      down.state.dataMode = 'accept';
    }
  });

  test('/metrics counts relayed messages by result', async () => {
    const res = await request(server.url).get('/metrics').set('Authorization', 'Bearer relay-metrics-token-0123456789');
    const value = (result: string) => Number(new RegExp(`^mailpass_relayed_messages_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(res.text)?.[1]);
    assert.ok(value('relayed') >= 10, res.text);
    assert.ok(value('refused') >= 1);
    assert.ok(value('deferred') >= 1);
    assert.ok(value('failed') >= 2);
  });
});

describe('when the relay cannot be used', () => {
  test('unreachable: 451 4.4.1 at MAIL FROM', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const server = await startTestServer({ RELAY_URL: `smtp://127.0.0.1:${port}` }, { smtp: true });
    try {
      const box = await aMailbox(server.services, { domain: (await aDomain(server.services)).name });
      assert.match((await send(server, box, ['friend@example.org'], 'x')).mail.text, /^451 4\.4\.1 /);
    } finally {
      await server.stop();
    }
  });

  test("refusing mailpass's login: 451 4.7.0, and an error in the log that names RELAY_URL (never its password)", async () => {
    const down = await startDownstream({ auth: { user: 'mailpass', pass: 'right-secret' } });
    const lines: string[] = [];
    const sink = new PassThrough();
    sink.on('data', (d: Buffer) => lines.push(d.toString('utf8')));
    const server = await startTestServer({ RELAY_URL: `smtp://mailpass:wrong-secret@127.0.0.1:${down.port}` }, { smtp: true, log: createLogger('info', sink) });
    try {
      const box = await aMailbox(server.services, { domain: (await aDomain(server.services)).name });
      assert.match((await send(server, box, ['friend@example.org'], 'x')).mail.text, /^451 4\.7\.0 /);
      const log = lines.join('');
      assert.match(log, /"level":50[^\n]*RELAY_URL/);
      assert.ok(!log.includes('wrong-secret'), 'the relay password reached the log');
    } finally {
      await server.stop();
      await down.stop();
    }
  });

  test('a login that the relay accepts, and SMTP_TRACE_CLIENT_IP=false leaves the client address out', async () => {
    const down = await startDownstream({ auth: { user: 'mailpass', pass: 'right secret/+' } });
    const server = await startTestServer({ RELAY_URL: `smtp://mailpass:${encodeURIComponent('right secret/+')}@127.0.0.1:${down.port}`, SMTP_TRACE_CLIENT_IP: 'false' }, { smtp: true });
    try {
      const box = await aMailbox(server.services, { domain: (await aDomain(server.services)).name });
      assert.equal((await send(server, box, ['friend@example.org'], message(box.address, 'auth'))).end!.code, 250);
      const got = down.received.at(-1)!;
      assert.equal(got.user, 'mailpass');
      assert.match(got.data, /^Received: from client\.test\r\n\tby mail\.test \(mailpass\) with ESMTPSA id /);
      assert.ok(!got.data.includes('127.0.0.1'));
    } finally {
      await server.stop();
      await down.stop();
    }
  });

  test('?tls=required refuses a relay whose certificate cannot be verified: 451 4.7.0', async () => {
    const tls = tempDataDir();
    const down = await startDownstream({ tlsDir: tls.dir });
    const server = await startTestServer({ RELAY_URL: `smtp://127.0.0.1:${down.port}?tls=required` }, { smtp: true });
    try {
      const box = await aMailbox(server.services, { domain: (await aDomain(server.services)).name });
      assert.match((await send(server, box, ['friend@example.org'], 'x')).mail.text, /^451 4\.7\.0 /);
      assert.equal(down.received.length, 0);
    } finally {
      await server.stop();
      await down.stop();
      tls.cleanup();
    }
  });

  test('RELAY_URL is checked at start, naming the variable', () => {
    for (const bad of ['http://relay.example', 'smtp://', 'smtp://relay.example/path', 'smtp://u@relay.example', 'smtp://relay.example?tls=maybe', 'smtps://relay.example?tls=none', 'relay.example:25']) {
      assert.throws(() => loadConfig({ RELAY_URL: bad }), /^ConfigError: RELAY_URL: /, bad);
    }
    const ok = loadConfig({ RELAY_URL: 'smtps://user%40x:p%3Ass@smarthost.example' }).relay!;
    assert.deepEqual({ host: ok.host, port: ok.port, implicitTls: ok.implicitTls, auth: ok.auth, shown: ok.shown }, { host: 'smarthost.example', port: 465, implicitTls: true, auth: { user: 'user@x', pass: 'p:ss' }, shown: 'smtps://user%40x:***@smarthost.example' });
    assert.equal(loadConfig({ RELAY_URL: 'smtp://127.0.0.1' }).relay!.port, 25);
    assert.equal(loadConfig({}).relay, null);
  });
});

describe('without RELAY_URL', () => {
  test('a super admin is told that mail is only spooled; a domain admin is not', async () => {
    const server = await startTestServer();
    try {
      const { loginAsAdmin } = await import('../helpers/server.js');
      const { ADMIN_PASSWORD } = await import('../helpers/env.js');
      const page = await (await loginAsAdmin(server.url, 'admin', ADMIN_PASSWORD)).get('/admin/domains');
      assert.match(page.text, /Mail is not delivered: <code>RELAY_URL<\/code> is not set/);
      const { anAdmin } = await import('../helpers/builders.js');
      const domainAdmin = await anAdmin(server.services, { domains: [(await aDomain(server.services)).name] });
      const theirs = await (await loginAsAdmin(server.url, domainAdmin.username, domainAdmin.password)).get('/admin/domains');
      assert.equal(theirs.status, 200);
      assert.doesNotMatch(theirs.text, /RELAY_URL/);
    } finally {
      await server.stop();
    }
  });
});
