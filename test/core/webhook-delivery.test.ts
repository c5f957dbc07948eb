import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createAudit } from '../../src/core/audit.js';
import { eventOf } from '../../src/core/webhook-events.js';
import { createWebhookDelivery, RETRY_SECONDS, type WebhookSender } from '../../src/core/webhooks.js';
import { silentLog } from '../helpers/env.js';
import { entry, useStores } from '../helpers/stores.js';
import { verifySignature } from '../helpers/webhook-receiver.js';

// SPEC §19's delivery over the real store with a clock the test moves: the retry schedule to the
// second, a failed event giving way to the next, order kept under retries, the signature, and a
// webhook failing for 3 days paused with its admins told.

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

describe('webhook delivery', () => {
  const s = useStores('delivery.test');
  let now = 1_000_000;
  const clock = { now: () => now };

  /** A dispatcher whose sender answers `statuses(type, attempt)`; every request is recorded. */
  const dispatcher = (answer: (type: string, n: number) => number | 'timeout', told: string[] = []) => {
    const sent: Array<{ type: string; headers: Record<string, string>; body: string; at: number }> = [];
    const sender: WebhookSender = {
      async post(_url, headers, body) {
        const { type } = JSON.parse(body) as { type: string };
        const status = answer(type, sent.filter((x) => x.type === type).length + 1);
        sent.push({ type, headers, body, at: now });
        return status === 'timeout' ? { error: 'timeout' } : { status };
      },
    };
    const d = createWebhookDelivery({
      stores: s.stores,
      clock,
      sender,
      audit: createAudit({ stores: s.stores, clock, log: silentLog }),
      log: silentLog,
      adminsOf: async (domainId) => (domainId === s.domainId ? ['admin:1', 'admin:2'] : ['admin:1']),
      tell: (admin, url) => told.push(`${admin} ${url}`),
    });
    return { d, sent };
  };
  const hook = (id: string, events: string[]) =>
    s.stores.webhooks.insertWebhook({ id, url: `https://receiver.example/${id}`, events, domainId: s.domainId, secret: SECRET, createdBy: 'test', createdAt: now }, entry('webhook.create', id, now));
  const disable = async (login: string) => {
    const box = (await s.stores.accounts.findAccountByLogin(login)) ?? (await s.account(login));
    const e = { ...entry('mailbox.disable', login, now), event: eventOf('mailbox.disable', 'admin:test', login, null, null, now) };
    await s.stores.accounts.setDisabledAndEndSessions(box.id, true, now, e);
  };

  test('retried after 5 s, 30 s, 2 min, 10 min, 1 h, 6 h, then daily 3 times; failed after that, and paused at 3 days with its admins told', async () => {
    await hook('wh_down', ['mailbox.disabled']);
    const told: string[] = [];
    const { d, sent } = dispatcher(() => 503, told);
    const start = now;
    await disable('down@delivery.test');
    const times: number[] = [];
    for (let i = 0; i < 40 && times.length < 10; i++) {
      const before = sent.length;
      await d.runOnce();
      if (sent.length > before) times.push(now - start);
      // One second before the next attempt is due, nothing is sent; at its second, it is.
      const [next] = (await s.stores.webhooks.listDeliveries('wh_down', 1)).filter((x) => x.state === 'pending');
      if (!next) break;
      now = next.nextAt - 1;
      assert.equal(await d.runOnce(), 0, `sent before its time (${now - start} s)`);
      now = next.nextAt;
    }
    const expected = [0, ...RETRY_SECONDS.map((_, i) => RETRY_SECONDS.slice(0, i + 1).reduce((a, b) => a + b, 0))];
    assert.deepEqual(times, expected);
    const [last] = await s.stores.webhooks.listDeliveries('wh_down', 1);
    assert.equal(last!.state, 'failed');
    assert.equal(last!.attempts, 10);
    assert.equal(last!.lastStatus, 503);
    const paused = await s.stores.webhooks.findWebhook('wh_down');
    assert.equal(paused!.pausedAt, now, 'paused at the attempt that made 3 days of failing');
    assert.deepEqual(told, ['admin:1 https://receiver.example/wh_down', 'admin:2 https://receiver.example/wh_down']);
    assert.equal(await s.audited('webhook.pause', 'wh_down'), 1);
    // Paused: a new change tells it nothing, and nothing more is sent.
    await disable('down@delivery.test');
    now += 86_400;
    assert.equal(await d.runOnce(), 0);
    assert.equal((await s.stores.webhooks.listDeliveries('wh_down', 10)).length, 1);
  });

  test('order holds under retries: the second event waits until the first is answered 2xx', async () => {
    await hook('wh_order', ['mailbox.disabled']);
    let first = true;
    const { d, sent } = dispatcher(() => (first ? ((first = false), 500) : 204));
    for (const who of ['a', 'b', 'c']) {
      await disable(`${who}@order.delivery.test`.replace('order.', ''));
      now += 1;
    }
    await d.runOnce();
    assert.equal(sent.length, 1, 'only the first was tried');
    now += RETRY_SECONDS[0];
    await d.runOnce();
    const addresses = sent.map((x) => (JSON.parse(x.body) as { data: { address: string } }).data.address);
    assert.deepEqual(addresses, ['a@delivery.test', 'a@delivery.test', 'b@delivery.test', 'c@delivery.test']);
    // The same webhook-id at every attempt of one event; another for the next event.
    assert.equal(sent[0]!.headers['webhook-id'], sent[1]!.headers['webhook-id']);
    assert.notEqual(sent[1]!.headers['webhook-id'], sent[2]!.headers['webhook-id']);
    for (const x of sent) {
      assert.equal(x.headers['webhook-timestamp'], String(x.at));
      assert.ok(verifySignature(SECRET, { id: x.headers['webhook-id']!, timestamp: x.headers['webhook-timestamp']!, signature: x.headers['webhook-signature']!, body: x.body }), 'signed with the secret');
      assert.equal(verifySignature(`whsec_${Buffer.alloc(32, 8).toString('base64')}`, { id: x.headers['webhook-id']!, timestamp: x.headers['webhook-timestamp']!, signature: x.headers['webhook-signature']!, body: x.body }), false);
    }
    const states = (await s.stores.webhooks.listDeliveries('wh_order', 10)).map((x) => `${x.state}:${x.attempts}`);
    assert.deepEqual(states, ['delivered:1', 'delivered:1', 'delivered:2']);
    assert.equal((await s.stores.webhooks.findWebhook('wh_order'))!.failingSince, null, 'a delivery ends the failing');
  });

  test('a failed event gives way to the next; a timeout is a failed attempt', async () => {
    await s.stores.webhooks.deleteWebhook('wh_order', entry('webhook.delete'));
    await hook('wh_skip', ['mailbox.disabled']);
    const { d, sent } = dispatcher((_type, n) => (sent.length < 10 && n <= 10 ? 'timeout' : 200));
    await disable('x@delivery.test');
    await disable('y@delivery.test');
    for (let i = 0; i < 12; i++) {
      await d.runOnce();
      const [head] = (await s.stores.webhooks.listDeliveries('wh_skip', 10)).filter((x) => x.state === 'pending').reverse();
      if (!head) break;
      now = Math.max(now, head.nextAt);
    }
    const list = await s.stores.webhooks.listDeliveries('wh_skip', 10);
    assert.deepEqual(list.map((x) => [x.state, x.attempts, x.lastError]), [['delivered', 1, null], ['failed', 10, 'timeout']]);
    // It had been failing for more than 3 days: paused, so events after it wait for a resume.
    assert.notEqual((await s.stores.webhooks.findWebhook('wh_skip'))!.pausedAt, null);
    assert.equal(sent.length, 11);
  });
});
