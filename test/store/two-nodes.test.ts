import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createDatabase } from '../../scripts/pg-cluster.mjs';
import { aDomain, aMailbox, strongPassword } from '../helpers/builders.js';
import { apiClient, aToken } from '../helpers/api.js';
import { tempDataDir } from '../helpers/env.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { RawSmtp } from '../helpers/smtp-client.js';
import { startReceiver } from '../helpers/webhook-receiver.js';
import { cliActor } from '../../src/core/actors.js';

// SPEC §12: two mailpass nodes on one PostgreSQL database. A change answered by one holds on the
// other when the answer is sent; the other's live SMTP sessions end within 2 seconds (NOTIFY);
// the login limits are one count for both. (PostgreSQL half of `npm test` only: it needs the cluster.)

const url = createDatabase(process.env.MAILPASS_TEST_PG!, `n_${randomBytes(6).toString('hex')}`);

async function session(node: TestServer, login: string, password: string, localAddress = '127.0.0.1') {
  const c = await RawSmtp.ready(node.smtpPorts.smtps, { implicitTls: true, dataDir: node.dataDir, localAddress });
  return { c, code: (await c.authPlain(login, password)).code };
}

async function authCode(node: TestServer, login: string, password: string, localAddress?: string) {
  const { c, code } = await session(node, login, password, localAddress);
  c.close();
  return code;
}

/** Waits for the server to end an idle session; resolves with its reply and how long it took. */
async function ended(c: RawSmtp, since: number) {
  const reply = await c.read(5_000);
  return { reply, ms: Date.now() - since };
}

describe('two nodes on one PostgreSQL database', () => {
  let a: TestServer;
  let b: TestServer;
  let domain: string;
  // Nodes with data directories of their own share one key that seals the database's secrets.
  const keyDir = tempDataDir();
  const shared = { DATABASE_URL: url, SECRET_KEY_FILE: path.join(keyDir.dir, 'secret.key'), WEBHOOK_ALLOW_PRIVATE: 'true' };
  after(keyDir.cleanup);
  before(async () => {
    a = await startTestServer(shared, { smtp: true });
    b = await startTestServer(shared, { smtp: true });
    domain = (await aDomain(a.services)).name;
  });
  after(async () => {
    await a.stop();
    await b.stop();
  });

  test("a reset answered by node A (API): the old password fails on node B at once, and B's live session ends within 2 s", async (t) => {
    const box = await aMailbox(a.services, { domain });
    const live = await session(b, box.address, box.password);
    assert.equal(live.code, 235);
    const api = apiClient(a.url, (await aToken(a.services, 'admin')).plaintext);
    const next = strongPassword('NodeA');
    const since = Date.now();
    const res = await api.put(`/domains/${domain}/mailboxes/${box.address}/password`, { password: next });
    assert.equal(res.status, 200);
    assert.equal(res.body.data.synced, true);
    assert.equal(await authCode(b, box.address, box.password), 535, 'the old password still works on B');
    assert.equal(await authCode(b, box.address, next), 235);
    const { reply, ms } = await ended(live.c, since);
    t.diagnostic(`B's live session ended ${ms} ms after A's reset`);
    assert.equal(reply.code, 421);
    assert.match(reply.text, /4\.7\.0/);
    assert.ok(ms < 2_000, `ended after ${ms} ms`);
  });

  test("an app password revoked on node A ends its live session on node B (NOTIFY: B's polling reads only password versions)", async (t) => {
    const box = await aMailbox(a.services, { domain });
    const actor = { kind: 'mailbox' as const, id: box.mailbox.id, login: box.address };
    const { appPassword, password } = await a.services.appPasswords.create(actor, 'Laptop');
    const live = await session(b, box.address, password);
    assert.equal(live.code, 235);
    const since = Date.now();
    await a.services.appPasswords.revoke(actor, appPassword.id);
    const { reply, ms } = await ended(live.c, since);
    t.diagnostic(`B's app password session ended ${ms} ms after A's revocation`);
    assert.equal(reply.code, 421);
    assert.ok(ms < 2_000, `ended after ${ms} ms`);
    assert.equal(await authCode(b, box.address, password), 535);
  });

  test('a LISTEN connection that the database ends comes back, and changes reach the node again', async () => {
    const listeners = async () =>
      (await a.query<{ n: number }>("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'mailpass-listen' AND datname = current_database()"))[0]!.n;
    assert.equal(await listeners(), 2);
    await a.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mailpass-listen' AND datname = current_database()");
    const deadline = Date.now() + 10_000;
    while ((await listeners()) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await listeners(), 2, 'both nodes listen again');
    const box = await aMailbox(a.services, { domain });
    const actor = { kind: 'mailbox' as const, id: box.mailbox.id, login: box.address };
    const { appPassword, password } = await a.services.appPasswords.create(actor, 'Tablet');
    const live = await session(b, box.address, password);
    assert.equal(live.code, 235);
    const since = Date.now();
    await a.services.appPasswords.revoke(actor, appPassword.id);
    const { reply, ms } = await ended(live.c, since);
    assert.equal(reply.code, 421);
    assert.ok(ms < 2_000, `ended after ${ms} ms`);
  });

  test('ten wrong passwords spread over both nodes lock the login on both', async () => {
    const box = await aMailbox(a.services, { domain });
    // Each guess from an address of its own: the per-login count is what locks, shared by the nodes.
    for (let i = 0; i < 10; i++) {
      const node = i % 2 === 0 ? a : b;
      assert.equal(await authCode(node, box.address, `Wrong-guess-${i}!`, `127.0.3.${i + 1}`), 535, `guess ${i}`);
    }
    assert.equal(await authCode(a, box.address, box.password, '127.0.3.100'), 454, 'A still lets the owner in from a new address');
    assert.equal(await authCode(b, box.address, box.password, '127.0.3.101'), 454, 'B still lets the owner in from a new address');
  });

  test("SPEC §19: changes made on both nodes reach a webhook once each, in the order they were made, whichever node sends them", async () => {
    const receiver = await startReceiver();
    try {
      const d = await a.services.domains.requireDomain(cliActor, domain);
      const { webhook } = await b.services.webhooks.add(cliActor, { url: receiver.url, events: ['credential.created'], domain });
      const made: string[] = [];
      for (let i = 0; i < 20; i++) made.push((await (i % 2 === 0 ? a : b).services.credentials.createCredential(cliActor, d, `Node app ${i}`)).credential.login);
      const got = await receiver.waitFor(20, 30_000);
      // Time for a second delivery of any of them, were two nodes sending.
      await new Promise((r) => setTimeout(r, 2_500));
      assert.equal(receiver.received.length, 20, 'each event sent once');
      assert.deepEqual(got.map((x) => x.json.data.username), made);
      assert.equal(new Set(got.map((x) => x.id)).size, 20);
      await a.services.webhooks.remove(cliActor, webhook.id);
    } finally {
      await receiver.close();
    }
  });
});
