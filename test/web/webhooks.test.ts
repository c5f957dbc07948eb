import assert from 'node:assert/strict';
import net from 'node:net';
import request from 'supertest';
import { after, before, describe, test } from 'node:test';
import { createWebhookSender } from '../../src/adapters/webhook-sender.js';
import { cliActor } from '../../src/core/actors.js';
import { aDomain, aMailbox, anAdmin, strongPassword } from '../helpers/builders.js';
import { runCli } from '../helpers/cli.js';
import { startDnsServer } from '../helpers/dns-server.js';
import { tempDataDir } from '../helpers/env.js';
import { loginAsAdmin, postForm, startTestServer, type TestServer } from '../helpers/server.js';
import { RawSmtp } from '../helpers/smtp-client.js';
import { startReceiver, verifySignature, type Receiver } from '../helpers/webhook-receiver.js';

// SPEC §19 end to end: webhooks added in the panel and the CLI, the events of real changes
// delivered signed and in order to an HTTP receiver on loopback (WEBHOOK_ALLOW_PRIVATE=true),
// what a domain admin may see, `Send test event`, a lock told once, the relay's failure and a
// sending limit told from SMTP, and private targets refused by default, through DNS too.

const secretOf = (html: string) => /<code id="secret-value">(whsec_[A-Za-z0-9+/=]+)<\/code>/.exec(html)?.[1] ?? null;

describe('webhooks, end to end', () => {
  let server: TestServer;
  let receiver: Receiver;
  let domain: string;
  let admin: { username: string; password: string };
  before(async () => {
    receiver = await startReceiver();
    server = await startTestServer({ WEBHOOK_ALLOW_PRIVATE: 'true', LOGIN_MAX_ATTEMPTS: '3' });
    domain = (await aDomain(server.services)).name;
    admin = await anAdmin(server.services, { isSuper: true });
  });
  after(async () => {
    await server.stop();
    await receiver.close();
  });

  test('added in the panel: the secret once; changes arrive signed, in order, with no secret in them', async () => {
    const agent = await loginAsAdmin(server.url, admin.username, admin.password);
    const page = await agent.get('/admin/webhooks');
    assert.equal(page.status, 200);
    assert.match(page.text, /Add webhook/);
    for (const e of ['mailbox.created', 'relay.failed', 'second_factor.changed']) assert.match(page.text, new RegExp(`value="${e}"`));
    const events = ['mailbox.created', 'mailbox.password_changed', 'mailbox.disabled', 'mailbox.deleted', 'credential.created', 'credential.password_reset', 'credential.deleted', 'app_password.created'];
    const res = await postForm(agent, '/admin/webhooks', '/admin/webhooks', { url: receiver.url, events, domain });
    assert.equal(res.status, 201);
    assert.equal(res.headers['cache-control'], 'no-store');
    const secret = secretOf(res.text);
    assert.ok(secret, 'the signing secret is on the page');
    const list = await agent.get('/admin/webhooks');
    assert.ok(list.text.includes(receiver.url));
    assert.equal(list.text.includes(secret), false, 'shown once');

    const svc = server.services;
    const d = await svc.domains.requireDomain(cliActor, domain);
    const { address, password } = await aMailbox(svc, { domain, local: 'hooked' });
    const { mailbox } = await svc.mailboxes.resetPassword(cliActor, d, address, { password: strongPassword('N') });
    const { password: appPassword } = await svc.appPasswords.create({ kind: 'mailbox', id: mailbox.id, login: address }, 'Phone');
    const { credential, password: credentialPassword } = await svc.credentials.createCredential(cliActor, d, 'Billing app');
    const { password: resetPassword } = await svc.credentials.resetCredential(cliActor, d, credential.guid);
    await svc.credentials.deleteCredential(cliActor, d, credential.guid);
    await svc.mailboxes.setDisabled(cliActor, d, address, true);
    await svc.mailboxes.deleteMailbox(cliActor, d, address);
    // An event of another domain is not this webhook's.
    await aMailbox(svc, { domain: (await aDomain(svc)).name });

    const got = await receiver.waitFor(8);
    assert.deepEqual(got.map((x) => x.json.type), ['mailbox.created', 'mailbox.password_changed', 'app_password.created', 'credential.created', 'credential.password_reset', 'credential.deleted', 'mailbox.disabled', 'mailbox.deleted']);
    assert.deepEqual(got[0]!.json.data, { address, domain, actor: 'cli' });
    assert.deepEqual(got[1]!.json.data, { address, domain, actor: 'cli', by: 'admin' });
    assert.equal(got[3]!.json.data.name, 'Billing app');
    assert.equal(got[3]!.json.data.username, credential.login);
    for (const x of got) {
      assert.ok(verifySignature(secret, x), `${x.json.type} is signed with the webhook's secret`);
      assert.match(x.json.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.ok(Math.abs(Number(x.timestamp) - Date.now() / 1000) < 30);
      for (const s of [password, strongPassword('N'), appPassword, credentialPassword, resetPassword, secret]) assert.equal(x.body.includes(s), false, `a secret in ${x.json.type}`);
    }
    assert.equal(new Set(got.map((x) => x.id)).size, 8, 'one webhook-id per event');

    // The webhook's page: the deliveries with their answers, and Send test event.
    const id = (await svc.webhooks.list(cliActor)).find((w) => w.url === receiver.url)!.id;
    const one = await agent.get(`/admin/webhooks/${id}`);
    assert.match(one.text, /mailbox\.deleted/);
    assert.match(one.text, /Send test event/);
    assert.ok((one.text.match(/>200</g) ?? []).length >= 8, 'each delivery shows its answer status');
    const queued = await postForm(agent, `/admin/webhooks/${id}`, `/admin/webhooks/${id}/test`, {});
    assert.equal(queued.status, 303);
    const test9 = (await receiver.waitFor(9))[8]!;
    assert.equal(test9.json.type, 'webhook.test');
    assert.ok(verifySignature(secret, test9));
    const del = await postForm(agent, `/admin/webhooks/${id}`, `/admin/webhooks/${id}/delete`, {});
    assert.equal(del.status, 303);
    assert.equal((await agent.get(`/admin/webhooks/${id}`)).status, 404);
  });

  test("a domain admin sees and adds only its domains' webhooks", async () => {
    const other = (await aDomain(server.services)).name;
    const theirs = await server.services.webhooks.add(cliActor, { url: receiver.url, events: ['mailbox.created'], domain: other });
    const everywhere = await server.services.webhooks.add(cliActor, { url: receiver.url, events: ['mailbox.created'] });
    const mine = await anAdmin(server.services, { domains: [domain] });
    const agent = await loginAsAdmin(server.url, mine.username, mine.password);
    const refused = await postForm(agent, '/admin/webhooks', '/admin/webhooks', { url: receiver.url, events: 'login.locked', domain: '' });
    assert.equal(refused.status, 422);
    assert.match(refused.text, /Choose one of your domains\./);
    const foreign = await postForm(agent, '/admin/webhooks', '/admin/webhooks', { url: receiver.url, events: 'login.locked', domain: other });
    assert.equal(foreign.status, 422);
    assert.match(foreign.text, /Is not a domain you administer\./);
    assert.equal((await agent.get(`/admin/webhooks/${theirs.webhook.id}`)).status, 404);
    assert.equal((await agent.get(`/admin/webhooks/${everywhere.webhook.id}`)).status, 404);
    const added = await postForm(agent, '/admin/webhooks', '/admin/webhooks', { url: receiver.url, events: 'login.locked', domain });
    assert.equal(added.status, 201);
    const list = await agent.get('/admin/webhooks');
    assert.equal(list.text.includes(theirs.webhook.id), false);
    const shown = [...list.text.matchAll(/href="\/admin\/webhooks\/(wh_[0-9a-f]+)"/g)].map((m) => m[1]!);
    assert.equal(shown.length, 1);
    for (const id of [theirs.webhook.id, everywhere.webhook.id, ...shown]) await server.services.webhooks.remove(cliActor, id);
  });

  test('a lock-out is told once, however many attempts it refuses', async () => {
    const { address } = await aMailbox(server.services, { domain, local: 'locked' });
    const before = receiver.accepted().length;
    const { webhook, secret } = await server.services.webhooks.add(cliActor, { url: receiver.url, events: ['login.locked'], domain });
    for (let i = 0; i < 7; i++) await postForm(request.agent(server.url), '/login', '/login', { email: address, password: `wrong-${i}` });
    const got = (await receiver.waitFor(before + 1)).slice(before);
    // Time for more to come, were it told at every refused attempt (deliveries are polled each second).
    await new Promise((r) => setTimeout(r, 1500));
    const locks = receiver.accepted().slice(before).filter((x) => x.json.type === 'login.locked');
    assert.equal(locks.length, 1, `told ${locks.length} times`);
    assert.deepEqual({ ...got[0]!.json.data, ip: null }, { login: address, realm: 'mailbox', protocol: 'web', ip: null });
    assert.ok(verifySignature(secret, got[0]!));
    await server.services.webhooks.remove(cliActor, webhook.id);
  });

  test('the CLI adds a webhook; bad events are a usage error naming --events, a private target is refused by default', async () => {
    const { dir, cleanup } = tempDataDir();
    try {
      const ok = await runCli(['webhook', 'add', receiver.url, '--events', 'mailbox.created,login.locked'], { env: { DATA_DIR: dir, WEBHOOK_ALLOW_PRIVATE: 'true' } });
      assert.equal(ok.code, 0, ok.stderr);
      const [id, secret] = ok.stdout.trim().split('\n');
      assert.match(id!, /^wh_[0-9a-f]{24}$/);
      assert.match(secret!, /^whsec_[A-Za-z0-9+/]{43}=$/);
      const bad = await runCli(['webhook', 'add', receiver.url, '--events', 'mailbox.created,mailbox.exploded'], { env: { DATA_DIR: dir, WEBHOOK_ALLOW_PRIVATE: 'true' } });
      assert.equal(bad.code, 2);
      assert.match(bad.stderr.split('\n')[0]!, /^mailpass: --events: unknown event mailbox\.exploded/);
      const local = await runCli(['webhook', 'add', 'https://127.0.0.1/hook', '--events', 'mailbox.created'], { env: { DATA_DIR: dir } });
      assert.equal(local.code, 1);
      assert.match(local.stderr, /loopback, private or link-local/);
      const plain = await runCli(['webhook', 'add', 'http://hooks.example.com/', '--events', 'mailbox.created'], { env: { DATA_DIR: dir } });
      assert.equal(plain.code, 1);
      assert.match(plain.stderr, /https:\/\//);
    } finally {
      cleanup();
    }
  });
});

describe('webhooks told from SMTP', () => {
  test('relay.failed when the relay cannot be reached, send_limit.reached at a limit', async () => {
    const receiver = await startReceiver();
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const down = await startTestServer({ WEBHOOK_ALLOW_PRIVATE: 'true', RELAY_URL: `smtp://127.0.0.1:${port}` }, { smtp: true });
    const spooling = await startTestServer({ WEBHOOK_ALLOW_PRIVATE: 'true' }, { smtp: true });
    try {
      for (const [server, events] of [
        [down, ['relay.failed']],
        [spooling, ['send_limit.reached']],
      ] as const) {
        const domain = (await aDomain(server.services)).name;
        await server.services.webhooks.add(cliActor, { url: receiver.url, events: [...events], domain });
        const box = await aMailbox(server.services, { domain });
        if (server === spooling) await server.services.sendLimits.setAccount(cliActor, box.mailbox, { perHour: 1, perDay: null, maxRecipients: null });
        const c = await RawSmtp.ready(server.smtpPorts.smtps, { implicitTls: true, dataDir: server.dataDir });
        assert.equal((await c.authPlain(box.address, box.password)).code, 235);
        const mail = await c.cmd(`MAIL FROM:<${box.address}>`);
        if (server === down) assert.match(mail.text, /^451 /);
        else {
          assert.equal((await c.cmd('RCPT TO:<a@example.org>')).code, 250);
          assert.notEqual((await c.cmd('RCPT TO:<b@example.org>')).code, 250);
        }
        c.close();
      }
      const got = await receiver.waitFor(2, 20_000);
      const byType = new Map(got.map((x) => [x.json.type, x.json.data]));
      assert.match(String(byType.get('relay.failed')?.reason), /^unreachable/);
      assert.match(String(byType.get('send_limit.reached')?.limit), /hour: 1 recipients/);
    } finally {
      await down.stop();
      await spooling.stop();
      await receiver.close();
    }
  });
});

describe('private targets (WEBHOOK_ALLOW_PRIVATE unset)', () => {
  test('refused in the panel, and at delivery through every DNS answer; redirects are not followed', async () => {
    const server = await startTestServer();
    const receiver = await startReceiver();
    const dns = await startDnsServer(
      new Map([
        ['internal.test', { A: ['127.0.0.1'] }],
        // One public answer among private ones refuses the name (before any connection is made).
        ['mixed.test', { A: ['93.184.215.14', '10.0.0.8'] }],
        ['metadata.test', { A: ['169.254.169.254'] }],
        ['v6metadata.test', { AAAA: ['fd00:ec2::254'] }],
        ['mapped.test', { AAAA: ['::ffff:7f00:1'] }],
      ]),
    );
    try {
      const admin = await anAdmin(server.services, { isSuper: true });
      const agent = await loginAsAdmin(server.url, admin.username, admin.password);
      for (const [url, reason] of [
        [receiver.url, /Must use https:\/\//],
        [`https://127.0.0.1:${receiver.port}/hook`, /loopback, private or link-local/],
        ['https://169.254.169.254/latest/meta-data/', /loopback, private or link-local/],
        ['https://[fd00:ec2::254]/', /loopback, private or link-local/],
        ['https://[::ffff:10.0.0.1]/', /loopback, private or link-local/],
        ['https://localhost/', /loopback, private or link-local/],
        ['https://user:pass@hooks.example.com/', /user name or password/],
        ['ftp://hooks.example.com/', /absolute http/],
      ] as const) {
        const res = await postForm(agent, '/admin/webhooks', '/admin/webhooks', { url, events: 'mailbox.created' });
        assert.equal(res.status, 422, url);
        assert.match(res.text, reason, url);
      }
      assert.deepEqual(await server.services.webhooks.list(cliActor), [], 'nothing added');

      // A name is checked at each delivery against every address it answers.
      const sender = createWebhookSender({ allowPrivate: false, dnsServers: [`127.0.0.1:${dns.port}`] });
      for (const name of ['internal.test', 'mixed.test', 'metadata.test', 'v6metadata.test', 'mapped.test']) {
        const answer = await sender.post(`https://${name}:${receiver.port}/hook`, {}, '{}');
        assert.ok('error' in answer && /^refused: /.test(answer.error), `${name}: ${JSON.stringify(answer)}`);
      }
      assert.deepEqual(await sender.post(`https://127.0.0.1:${receiver.port}/`, {}, '{}'), { error: `refused: 127.0.0.1 is not a public address` });
      assert.equal(receiver.received.length, 0, 'no connection was made');
      sender.close();

      // A redirect is an answer like any other: not followed, not a 2xx.
      const target = await startReceiver();
      const redirecting = await startReceiver({ answer: () => 307, location: target.url });
      const open = createWebhookSender({ allowPrivate: true });
      assert.deepEqual(await open.post(redirecting.url, {}, '{}'), { status: 307 });
      assert.equal(redirecting.received.length, 1);
      assert.equal(target.received.length, 0, 'the redirect was not followed');
      open.close();
      await target.close();
      await redirecting.close();
    } finally {
      await dns.stop();
      await receiver.close();
      await server.stop();
    }
  });
});
