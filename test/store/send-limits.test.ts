import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AuditEntry } from '../../src/core/ports.js';
import { TEST_STORE } from '../helpers/env.js';
import { useStores } from '../helpers/stores.js';

// SPEC §15's store, one contract on both stores (`npm test` runs this file on each).

const entry = (target: string): AuditEntry => ({ at: 1_700_000_000, actor: 'test', action: 'send-limits.set', target, ip: null });
const NOW_MINUTE = 28_000_000;

describe(`the sending-limit store (${TEST_STORE})`, () => {
  const s = useStores('limits.test');
  const account = (login: string) => s.account(login);
  const audited = (target: string) => s.audited('send-limits.set', target);

  test('overrides: set with their audit entry, read back per level, all-null clears them', async () => {
    const a = await account('over@limits.test');
    assert.deepEqual(await s.stores.sendLimits.accountLimits(a.id), { account: { perHour: null, perDay: null, maxRecipients: null }, domain: { perHour: null, perDay: null, maxRecipients: null } });
    await s.stores.sendLimits.setDomainLimits(s.domainId, { perHour: 50, perDay: null, maxRecipients: 0 }, entry('limits.test'));
    await s.stores.sendLimits.setAccountLimits(a.id, { perHour: 5, perDay: 7, maxRecipients: null }, entry('over@limits.test'));
    assert.deepEqual(await s.stores.sendLimits.domainLimits(s.domainId), { perHour: 50, perDay: null, maxRecipients: 0 });
    assert.deepEqual(await s.stores.sendLimits.accountLimits(a.id), { account: { perHour: 5, perDay: 7, maxRecipients: null }, domain: { perHour: 50, perDay: null, maxRecipients: 0 } });
    assert.deepEqual([...(await s.stores.sendLimits.accountLimitsOfDomain(s.domainId))], [[a.id, { perHour: 5, perDay: 7, maxRecipients: null }]]);
    assert.equal(await audited('over@limits.test'), 1);
    assert.equal(await audited('limits.test'), 1);
    await s.stores.sendLimits.setAccountLimits(a.id, { perHour: null, perDay: null, maxRecipients: null }, entry('over@limits.test'));
    assert.equal((await s.stores.sendLimits.accountLimitsOfDomain(s.domainId)).size, 0);
    await s.stores.sendLimits.setDomainLimits(s.domainId, { perHour: null, perDay: null, maxRecipients: null }, entry('limits.test'));
    assert.equal(await s.stores.sendLimits.accountLimits(999_999), null);
  });

  test('a reservation counts within the hour and the day, and refuses what would pass either', async () => {
    const a = await account('count@limits.test');
    const caps = { perHour: 3, perDay: 4 };
    assert.equal(await s.stores.sendLimits.reserve(a.id, NOW_MINUTE - 70, 1, caps), null); // more than an hour ago
    assert.equal(await s.stores.sendLimits.reserve(a.id, NOW_MINUTE - 10, 2, caps), null);
    assert.equal(await s.stores.sendLimits.reserve(a.id, NOW_MINUTE, 1, caps), null);
    assert.equal(await s.stores.sendLimits.reserve(a.id, NOW_MINUTE, 1, caps), 'hour'); // 3 in the hour
    assert.deepEqual((await s.stores.sendLimits.sent([a.id], NOW_MINUTE)).get(a.id), { lastHour: 3, lastDay: 4 });
    assert.equal(await s.stores.sendLimits.reserve(a.id, NOW_MINUTE + 60, 1, caps), 'day'); // the hour has room, the day not
    assert.equal(await s.stores.sendLimits.reserve(a.id, NOW_MINUTE + 60, 1, { perHour: 0, perDay: 0 }), null); // 0: no limit
    await s.stores.sendLimits.release(a.id, NOW_MINUTE + 60, 1);
    await s.stores.sendLimits.release(a.id, NOW_MINUTE, 5); // never below nothing
    assert.deepEqual((await s.stores.sendLimits.sent([a.id], NOW_MINUTE)).get(a.id), { lastHour: 2, lastDay: 3 });
    // A day later the old slots no longer count; prune ends them.
    assert.equal((await s.stores.sendLimits.sent([a.id], NOW_MINUTE + 1440)).get(a.id), undefined);
    await s.stores.sendLimits.prune(NOW_MINUTE + 1440, (NOW_MINUTE + 1440) * 60);
    assert.equal((await s.stores.sendLimits.sent([a.id], NOW_MINUTE)).get(a.id), undefined);
  });

  test('parallel reservations of one login never pass its limit together', async () => {
    const a = await account('race@limits.test');
    const results = await Promise.all(Array.from({ length: 40 }, () => s.stores.sendLimits.reserve(a.id, NOW_MINUTE, 1, { perHour: 25, perDay: 0 })));
    assert.equal(results.filter((r) => r === null).length, 25);
    assert.equal(results.filter((r) => r === 'hour').length, 15);
    assert.deepEqual((await s.stores.sendLimits.sent([a.id], NOW_MINUTE)).get(a.id), { lastHour: 25, lastDay: 25 });
  });

  test('reaching a limit is marked once per window, and the domain lists it', async () => {
    const a = await account('reach@limits.test');
    const at = NOW_MINUTE * 60;
    const marks = await Promise.all(Array.from({ length: 8 }, () => s.stores.sendLimits.markReached(a.id, 'hour', at)));
    assert.equal(marks.filter(Boolean).length, 1);
    assert.equal(await s.stores.sendLimits.markReached(a.id, 'hour', at + 3_599), false);
    assert.equal(await s.stores.sendLimits.markReached(a.id, 'day', at + 10), true);
    assert.equal(await s.stores.sendLimits.markReached(a.id, 'hour', at + 3_600), true);
    const listed = await s.stores.sendLimits.reachedSince(s.domainId, at - 1);
    assert.deepEqual(
      listed.map((r) => [r.login, r.kind, r.window, r.at]),
      [
        ['reach@limits.test', 'mailbox', 'hour', at + 3_600],
        ['reach@limits.test', 'mailbox', 'day', at + 10],
      ],
    );
    assert.deepEqual(await s.stores.sendLimits.reachedSince(s.domainId, at + 3_601), []);
  });

  test("an account's counts, overrides and marks go with it", async () => {
    const a = await account('gone@limits.test');
    await s.stores.sendLimits.setAccountLimits(a.id, { perHour: 1, perDay: null, maxRecipients: null }, entry('gone@limits.test'));
    await s.stores.sendLimits.reserve(a.id, NOW_MINUTE, 1, { perHour: 0, perDay: 0 });
    await s.stores.sendLimits.markReached(a.id, 'day', NOW_MINUTE * 60);
    await s.stores.accounts.deleteAccountAndEndSessions(a.id, { ...entry('gone@limits.test'), action: 'mailbox.delete' });
    assert.equal((await s.stores.sendLimits.sent([a.id], NOW_MINUTE)).get(a.id), undefined);
    assert.equal((await s.stores.sendLimits.reachedSince(s.domainId, 0)).filter((r) => r.accountId === a.id).length, 0);
  });
});
