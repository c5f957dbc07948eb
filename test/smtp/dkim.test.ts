import assert from 'node:assert/strict';
import { promises as dns } from 'node:dns';
import { after, before, describe, test } from 'node:test';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { cliActor } from '../../src/core/actors.js';
import { aDomain, aMailbox } from '../helpers/builders.js';
import { runCli } from '../helpers/cli.js';
import { startDnsServer } from '../helpers/dns-server.js';
import { startDownstream } from '../helpers/downstream.js';
import { ADMIN_PASSWORD } from '../helpers/env.js';
import { loginAsAdmin, postForm, startTestServer, type TestServer } from '../helpers/server.js';
import { RawSmtp } from '../helpers/smtp-client.js';

// SPEC §14: relayed mail of a domain with DKIM keys is signed with each of them, and the signatures
// verify (mailauth's verifier) against the records the domain publishes, served here by a DNS
// server on loopback.

type Downstream = Awaited<ReturnType<typeof startDownstream>>;

describe('DKIM', () => {
  let down: Downstream;
  let server: TestServer;
  let dnsServer: Awaited<ReturnType<typeof startDnsServer>>;
  let resolver: dns.Resolver;
  before(async () => {
    down = await startDownstream();
    server = await startTestServer({ RELAY_URL: `smtp://127.0.0.1:${down.port}` }, { smtp: true });
    dnsServer = await startDnsServer(new Map());
    resolver = new dns.Resolver();
    resolver.setServers([`127.0.0.1:${dnsServer.port}`]);
  });
  after(async () => {
    await server.stop();
    await down.stop();
    await dnsServer.stop();
  });

  /** Sends one message as `box` and returns it as the downstream relay received it. */
  async function relay(box: { address: string; password: string }, subject: string) {
    const before = down.received.length;
    const c = await RawSmtp.ready(server.smtpPorts.smtps, { implicitTls: true, dataDir: server.dataDir });
    try {
      assert.equal((await c.authPlain(box.address, box.password)).code, 235);
      assert.equal((await c.cmd(`MAIL FROM:<${box.address}>`)).code, 250);
      assert.equal((await c.cmd('RCPT TO:<friend@example.org>')).code, 250);
      assert.equal((await c.cmd('DATA')).code, 354);
      c.write(`From: ${box.address}\r\nTo: friend@example.org\r\nSubject: ${subject}\r\nDate: Fri, 04 Dec 2026 10:00:00 +0000\r\nMessage-ID: <${subject.replace(/\W/g, '')}@test>\r\n\r\nHello,\r\n.leading dot stays\r\n\r\nBye.\r\n.\r\n`);
      assert.equal((await c.read()).code, 250);
    } finally {
      c.close();
    }
    assert.equal(down.received.length, before + 1);
    return down.received[before]!.data;
  }

  const verify = async (message: string) =>
    (await dkimVerify(Buffer.from(message), { resolver: (name: string, rr: string) => resolver.resolve(name, rr as 'TXT') } as never)) as unknown as {
      results: Array<{ signingDomain: string; selector: string; algo: string; status: { result: string } }>;
    };

  test('`dkim add` prints the two records (no private key); relayed mail carries both signatures, and they verify against DNS', async () => {
    const domain = (await aDomain(server.services)).name;
    const box = await aMailbox(server.services, { domain });
    const r = await runCli(['dkim', 'add', domain, '--selector', 'test', '--data-dir', server.dataDir]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /PRIVATE KEY/);
    const records = r.stdout.trim().split('\n').map((l) => l.split('\t') as [string, string]);
    assert.deepEqual(records.map(([name]) => name), [`test-ed._domainkey.${domain}`, `test-rsa._domainkey.${domain}`]);
    assert.match(records[0]![1], /^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/);
    assert.match(records[1]![1], /^v=DKIM1; k=rsa; p=MIIBIjAN[A-Za-z0-9+/=]+$/);
    for (const [name, value] of records) dnsServer.records.set(name, [value]);

    const message = await relay(box, 'Signed one');
    assert.equal((message.match(/^DKIM-Signature:/gim) ?? []).length, 2);
    const { results } = await verify(message);
    assert.deepEqual(
      results.map((x) => [x.selector, x.algo, x.status.result]).sort(),
      [
        ['test-ed', 'ed25519-sha256', 'pass'],
        ['test-rsa', 'rsa-sha256', 'pass'],
      ],
    );
    assert.ok(results.every((x) => x.signingDomain === domain));

    // A changed body no longer verifies: the signature covers it.
    const tampered = await verify(message.replace('Bye.', 'Bye!'));
    assert.ok(tampered.results.every((x) => x.status.result === 'fail' || x.status.result === 'neutral'), JSON.stringify(tampered.results.map((x) => x.status)));
  });

  test('rotation: a new pair signs beside the old one until the old one is removed', async () => {
    const d = await aDomain(server.services);
    const box = await aMailbox(server.services, { domain: d.name });
    for (const k of await server.services.dkim.add(cliActor, d, 'old')) dnsServer.records.set(k.name, [k.value]);
    for (const k of await server.services.dkim.add(cliActor, d, 'new')) dnsServer.records.set(k.name, [k.value]);
    await assert.rejects(server.services.dkim.add(cliActor, d, 'new'), /in use/);
    const both = await verify(await relay(box, 'Rotating'));
    assert.deepEqual(both.results.map((x) => `${x.selector}:${x.status.result}`).sort(), ['new-ed:pass', 'new-rsa:pass', 'old-ed:pass', 'old-rsa:pass']);
    await server.services.dkim.remove(cliActor, d, 'old-ed');
    await server.services.dkim.remove(cliActor, d, 'old-rsa');
    const after = await verify(await relay(box, 'Rotated'));
    assert.deepEqual(after.results.map((x) => `${x.selector}:${x.status.result}`).sort(), ['new-ed:pass', 'new-rsa:pass']);
    await assert.rejects(server.services.dkim.remove(cliActor, d, 'old-ed'), /not found/);
  });

  test('mail of a domain without keys goes out unsigned, as it was sent', async () => {
    const domain = (await aDomain(server.services)).name;
    const box = await aMailbox(server.services, { domain });
    const message = await relay(box, 'Plain');
    assert.doesNotMatch(message, /^DKIM-Signature:/im);
    assert.match(message, /\r\n\.leading dot stays\r\n/);
  });

  test('the domain page: add keys (their records, with Copy), rotate, remove; audited', async () => {
    const d = await aDomain(server.services);
    const admin = await loginAsAdmin(server.url, 'admin', ADMIN_PASSWORD);
    const page = `/admin/domains/${d.name}`;
    assert.match((await admin.get(page)).text, /No DKIM keys yet: mail of this domain goes out unsigned\./);
    const added = await postForm(admin, page, `${page}/dkim`, { selector: 'panel' });
    assert.equal(added.status, 303);
    assert.equal(added.headers.location, `${page}#dkim`);
    const shown = (await admin.get(page)).text;
    assert.match(shown, /DKIM keys panel-ed and panel-rsa added: publish their TXT records below\./);
    assert.match(shown, new RegExp(`<code>panel-ed\\._domainkey\\.${d.name.replace(/\./g, '\\.')}</code><br><code class="wrap" id="dkim-0">v=DKIM1; k=ed25519; p=`));
    assert.match(shown, /data-copy="dkim-1"/);
    assert.doesNotMatch(shown, /PRIVATE KEY/);
    assert.match(shown, /Add new DKIM keys \(rotate\)/);
    const taken = await postForm(admin, page, `${page}/dkim`, { selector: 'panel' });
    assert.equal(taken.status, 303);
    assert.match((await admin.get(page)).text, /Selector panel is in use/);
    const removed = await postForm(admin, page, `${page}/dkim/panel-ed/remove`, {});
    assert.equal(removed.status, 303);
    assert.deepEqual((await server.services.dkim.list(cliActor, d)).map((k) => k.selector), ['panel-rsa']);
    const actions = (await server.query<{ action: string; detail: string }>("SELECT action, detail FROM audit_log WHERE target = ? AND action LIKE 'dkim.%' ORDER BY id", d.name)).map((a) => `${a.action} ${a.detail}`);
    assert.deepEqual(actions, ['dkim.add panel-ed panel-rsa', 'dkim.remove panel-ed']);
  });

  test('a bad selector is refused, naming it; a domain admin of another domain cannot add keys', async () => {
    const d = await aDomain(server.services);
    const bad = await runCli(['dkim', 'add', d.name, '--selector', 'no good', '--data-dir', server.dataDir]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^mailpass: --selector must be letters, digits and dashes/);
    await assert.rejects(server.services.dkim.add(cliActor, d, 'no good'), (err: Error & { fields?: Record<string, string[]> }) => /Must be letters/.test(JSON.stringify(err.fields ?? err.message)));
    const other = await aDomain(server.services);
    const { admin } = await (await import('../helpers/builders.js')).anAdmin(server.services, { domains: [other.name] });
    const actor = { kind: 'admin' as const, id: admin.id, username: admin.username, isSuper: false, domainIds: admin.domainIds, via: 'web' as const };
    await assert.rejects(server.services.dkim.add(actor, d), /Domain not found/);
  });
});
