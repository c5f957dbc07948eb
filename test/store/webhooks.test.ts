import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { eventOf } from '../../src/core/webhook-events.js';
import { TEST_STORE } from '../helpers/env.js';
import { entry, useStores } from '../helpers/stores.js';

// SPEC §19's outbox, the same on both stores: an event is written by the transaction of its
// change, once per subscribed webhook of its domain (or of every domain); a webhook's lease goes
// to one of several takers at once; its events come out oldest first, from the first while due.

describe(`webhooks and their outbox (${TEST_STORE})`, () => {
  const s = useStores('hooks.test');
  const hook = (id: string, events: string[], domainId: number | null) =>
    s.stores.webhooks.insertWebhook({ id, url: `https://receiver.example/${id}`, events, domainId, secret: `whsec_${Buffer.from(id).toString('base64')}`, createdBy: 'test', createdAt: 1 }, entry('webhook.create', id));
  const told = (action: string, target: string, at = 100) => ({ ...entry(action, target, at), event: eventOf(action, 'admin:test', target, null, null, at) });
  // The page lists newest first; oldest first here.
  const pending = async (id: string) => (await s.stores.webhooks.listDeliveries(id, 100)).filter((d) => d.state === 'pending').reverse();

  test('a change writes one event per webhook subscribed to it, of its domain or of every domain', async () => {
    const otherDomain = (await s.stores.domains.insertDomain('elsewhere.test', true, 1, entry('domain.create'))).id;
    await hook('wh_mine', ['mailbox.created', 'mailbox.deleted'], s.domainId);
    await hook('wh_all', ['mailbox.created'], null);
    await hook('wh_other', ['mailbox.created'], otherDomain);
    await hook('wh_locks', ['login.locked'], s.domainId);
    const box = await s.stores.accounts.insertAccount(
      { kind: 'mailbox', domainId: s.domainId, login: 'new@hooks.test', localPart: 'new', name: '', guid: null, passwordHash: 'h', now: 100 },
      told('mailbox.create', 'new@hooks.test'),
    );
    assert.deepEqual((await pending('wh_mine')).map((d) => d.type), ['mailbox.created']);
    assert.deepEqual((await pending('wh_all')).map((d) => d.type), ['mailbox.created']);
    assert.deepEqual(await pending('wh_other'), [], "another domain's webhook is not told");
    assert.deepEqual(await pending('wh_locks'), [], 'a webhook not subscribed to the type is not told');
    const [event] = await s.stores.webhooks.dueEvents('wh_mine', 100, 10);
    assert.deepEqual(JSON.parse(event!.payload), { type: 'mailbox.created', timestamp: '1970-01-01T00:01:40Z', data: { address: 'new@hooks.test', domain: 'hooks.test', actor: 'admin:test' } });
    assert.match(event!.messageId, /^msg_[0-9a-f]{32}$/);
    const [other] = await s.stores.webhooks.dueEvents('wh_all', 100, 10);
    assert.notEqual(other!.messageId, event!.messageId, 'each webhook has its own message id');
    // A paused webhook is told nothing new; a change without an event tells nobody.
    await s.stores.webhooks.setWebhookPaused('wh_all', 150, 150, entry('webhook.pause'));
    await s.stores.accounts.deleteAccountAndEndSessions(box.id, told('mailbox.delete', box.login, 200));
    await s.stores.accounts.insertAccount({ kind: 'mailbox', domainId: s.domainId, login: 'quiet@hooks.test', localPart: 'quiet', name: '', guid: null, passwordHash: 'h', now: 210 }, entry('mailbox.create', 'quiet@hooks.test', 210));
    assert.deepEqual((await pending('wh_mine')).map((d) => d.type), ['mailbox.created', 'mailbox.deleted']);
    assert.equal((await pending('wh_all')).length, 1);
  });

  test('of several takers at once, one leases each due webhook; events come out in order, the first holding the rest', async () => {
    await hook('wh_lease', ['mailbox.disabled'], s.domainId);
    const box = await s.account('lease@hooks.test');
    for (const at of [300, 301, 302]) await s.stores.accounts.setDisabledAndEndSessions(box.id, true, at, told('mailbox.disable', box.login, at));
    const takers = await Promise.all(['a', 'b', 'c', 'd'].map((owner) => s.stores.webhooks.leaseDueWebhooks(owner, 400, 460, 100)));
    const leased = takers.map((t, i) => t.filter((w) => w.id === 'wh_lease').map(() => i)).flat();
    assert.equal(leased.length, 1, `leased by ${leased.length} takers`);
    const owner = ['a', 'b', 'c', 'd'][leased[0]!]!;
    const winner = takers[leased[0]!]!.find((w) => w.id === 'wh_lease')!;
    assert.equal(winner.secret, `whsec_${Buffer.from('wh_lease').toString('base64')}`, 'the secret comes back opened');
    assert.deepEqual(await s.stores.webhooks.leaseDueWebhooks('e', 401, 461, 100).then((l) => l.filter((w) => w.id === 'wh_lease')), [], 'held until its lease ends');

    const due = await s.stores.webhooks.dueEvents('wh_lease', 400, 10);
    assert.deepEqual(due.map((d) => d.createdAt), [300, 301, 302]);
    const result = { state: 'pending' as const, attempts: 1, nextAt: 405, lastStatus: 500, lastError: null, at: 400 };
    assert.equal(await s.stores.webhooks.recordAttempt(due[0]!.id, 'wh_lease', 'someone-else', result, 400, 470), false, 'only the lease holder records');
    assert.equal(await s.stores.webhooks.recordAttempt(due[0]!.id, 'wh_lease', owner, result, 400, 470), true);
    assert.deepEqual((await s.stores.webhooks.leaseDueWebhooks('x', 465, 525, 100)).filter((w) => w.id === 'wh_lease'), [], 'a recorded attempt extends the lease (to 470)');
    assert.deepEqual(await s.stores.webhooks.dueEvents('wh_lease', 404, 10), [], 'the first waits for its retry, and the rest behind it');
    assert.deepEqual((await s.stores.webhooks.dueEvents('wh_lease', 405, 10)).map((d) => d.attempts), [1, 0, 0]);
    assert.equal((await s.stores.webhooks.findWebhook('wh_lease'))!.failingSince, 400);
    await s.stores.webhooks.releaseLease('wh_lease', owner);
    assert.deepEqual((await s.stores.webhooks.leaseDueWebhooks('e', 404, 464, 100)).filter((w) => w.id === 'wh_lease'), [], 'not due yet');
    assert.equal((await s.stores.webhooks.leaseDueWebhooks('e', 405, 465, 100)).filter((w) => w.id === 'wh_lease').length, 1);
    assert.equal(await s.stores.webhooks.recordAttempt(due[0]!.id, 'wh_lease', owner, result, 400, 500), false, 'a lease taken over: its old holder records nothing');

    // Delivered and failed events are pruned once old; pending ones stay.
    assert.equal(await s.stores.webhooks.recordAttempt(due[0]!.id, 'wh_lease', 'e', { ...result, state: 'delivered', attempts: 2, lastStatus: 204, at: 406 }, null, 466), true);
    assert.equal(await s.stores.webhooks.pruneDeliveries(407), 1);
    assert.equal((await s.stores.webhooks.listDeliveries('wh_lease', 10)).length, 2);
  });

  test('a resume starts the oldest pending event afresh; deleting a webhook deletes its outbox', async () => {
    await hook('wh_resume', ['mailbox.disabled'], s.domainId);
    const box = await s.account('resume@hooks.test');
    await s.stores.accounts.setDisabledAndEndSessions(box.id, true, 500, told('mailbox.disable', box.login, 500));
    const [lease] = (await s.stores.webhooks.leaseDueWebhooks('x', 500, 560, 100)).filter((w) => w.id === 'wh_resume');
    const [first] = await s.stores.webhooks.dueEvents(lease!.id, 500, 1);
    await s.stores.webhooks.recordAttempt(first!.id, 'wh_resume', 'x', { state: 'pending', attempts: 9, nextAt: 90_000, lastStatus: null, lastError: 'timeout', at: 500 }, 1, 560);
    await s.stores.webhooks.releaseLease('wh_resume', 'x');
    assert.equal(await s.stores.webhooks.setWebhookPaused('wh_resume', 600, 600, entry('webhook.pause')), true);
    assert.deepEqual((await s.stores.webhooks.leaseDueWebhooks('x', 100_000, 100_060, 100)).filter((w) => w.id === 'wh_resume'), [], 'a paused webhook is not leased');
    assert.equal(await s.stores.webhooks.setWebhookPaused('wh_resume', null, 700, entry('webhook.resume')), true);
    const resumed = await s.stores.webhooks.findWebhook('wh_resume');
    assert.equal(resumed!.pausedAt, null);
    assert.equal(resumed!.failingSince, null);
    assert.deepEqual((await s.stores.webhooks.dueEvents('wh_resume', 700, 1)).map((d) => [d.attempts, d.nextAt]), [[0, 700]]);
    await s.stores.webhooks.addWebhookEvent('wh_resume', { type: 'webhook.test', payload: '{"type":"webhook.test"}', at: 701 }, entry('webhook.test'));
    assert.deepEqual((await s.stores.webhooks.dueEvents('wh_resume', 701, 5)).map((d) => d.payload.includes('webhook.test')), [false, true], 'a test event waits behind the pending ones');
    assert.equal(await s.stores.webhooks.deleteWebhook('wh_resume', entry('webhook.delete')), true);
    assert.equal(await s.stores.webhooks.findWebhook('wh_resume'), null);
    assert.deepEqual(await s.stores.webhooks.listDeliveries('wh_resume', 10), []);
    assert.equal(await s.audited('webhook.delete'), 1);
  });
});
