import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AuditEntry, Stores } from '../../src/core/ports.js';
import type { SendLimitStore } from '../../src/core/ports/send-limits.js';
import { openStore } from '../../src/store/open.js';
import { tempDataDir, testConfig, TEST_STORE } from '../helpers/env.js';

// SPEC §15's store, one contract on both stores (`npm test` runs this file on each).

const hash = '$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA';
const entry = (target: string): AuditEntry => ({ at: 1_700_000_000, actor: 'test', action: 'send-limits.set', target, ip: null });
const NOW_MINUTE = 28_000_000;

describe(`the sending-limit store (${TEST_STORE})`, () => {
  const { dir, cleanup } = tempDataDir();
  let stores: Stores;
  let limits: SendLimitStore;
  let close: () => Promise<void>;
  let domainId: number;
  before(async () => {
    const opened = await openStore(testConfig(dir));
    stores = opened.stores;
    limits = stores.sendLimits;
    close = async () => {
      await opened.counters.close();
      await opened.end();
    };
    domainId = (await stores.domains.insertDomain('limits.test', true, 1, { ...entry('limits.test'), action: 'domain.create' })).id;
  });
  after(async () => {
    await close();
    cleanup();
  });
  const account = (login: string) =>
    stores.accounts.insertAccount({ kind: 'mailbox', domainId, login, localPart: login.split('@')[0]!, name: '', guid: null, passwordHash: hash, now: 1 }, { ...entry(login), action: 'mailbox.create' });
  const audited = async (target: string) => (await stores.audit.listAudit({ limit: 100, offset: 0 })).items.filter((i) => i.action === 'send-limits.set' && i.target === target).length;

  test('overrides: set with their audit entry, read back per level, all-null clears them', async () => {
    const a = await account('over@limits.test');
    assert.deepEqual(await limits.accountLimits(a.id), { account: { perHour: null, perDay: null, maxRecipients: null }, domain: { perHour: null, perDay: null, maxRecipients: null } });
    await limits.setDomainLimits(domainId, { perHour: 50, perDay: null, maxRecipients: 0 }, entry('limits.test'));
    await limits.setAccountLimits(a.id, { perHour: 5, perDay: 7, maxRecipients: null }, entry('over@limits.test'));
    assert.deepEqual(await limits.domainLimits(domainId), { perHour: 50, perDay: null, maxRecipients: 0 });
    assert.deepEqual(await limits.accountLimits(a.id), { account: { perHour: 5, perDay: 7, maxRecipients: null }, domain: { perHour: 50, perDay: null, maxRecipients: 0 } });
    assert.deepEqual([...(await limits.accountLimitsOfDomain(domainId))], [[a.id, { perHour: 5, perDay: 7, maxRecipients: null }]]);
    assert.equal(await audited('over@limits.test'), 1);
    assert.equal(await audited('limits.test'), 1);
    await limits.setAccountLimits(a.id, { perHour: null, perDay: null, maxRecipients: null }, entry('over@limits.test'));
    assert.equal((await limits.accountLimitsOfDomain(domainId)).size, 0);
    await limits.setDomainLimits(domainId, { perHour: null, perDay: null, maxRecipients: null }, entry('limits.test'));
    assert.equal(await limits.accountLimits(999_999), null);
  });

  test('a reservation counts within the hour and the day, and refuses what would pass either', async () => {
    const a = await account('count@limits.test');
    const caps = { perHour: 3, perDay: 4 };
    assert.equal(await limits.reserve(a.id, NOW_MINUTE - 70, 1, caps), null); // more than an hour ago
    assert.equal(await limits.reserve(a.id, NOW_MINUTE - 10, 2, caps), null);
    assert.equal(await limits.reserve(a.id, NOW_MINUTE, 1, caps), null);
    assert.equal(await limits.reserve(a.id, NOW_MINUTE, 1, caps), 'hour'); // 3 in the hour
    assert.deepEqual((await limits.sent([a.id], NOW_MINUTE)).get(a.id), { lastHour: 3, lastDay: 4 });
    assert.equal(await limits.reserve(a.id, NOW_MINUTE + 60, 1, caps), 'day'); // the hour has room, the day not
    assert.equal(await limits.reserve(a.id, NOW_MINUTE + 60, 1, { perHour: 0, perDay: 0 }), null); // 0: no limit
    await limits.release(a.id, NOW_MINUTE + 60, 1);
    await limits.release(a.id, NOW_MINUTE, 5); // never below nothing
    assert.deepEqual((await limits.sent([a.id], NOW_MINUTE)).get(a.id), { lastHour: 2, lastDay: 3 });
    // A day later the old slots no longer count; prune ends them.
    assert.equal((await limits.sent([a.id], NOW_MINUTE + 1440)).get(a.id), undefined);
    await limits.prune(NOW_MINUTE + 1440, (NOW_MINUTE + 1440) * 60);
    assert.equal((await limits.sent([a.id], NOW_MINUTE)).get(a.id), undefined);
  });

  test('parallel reservations of one login never pass its limit together', async () => {
    const a = await account('race@limits.test');
    const results = await Promise.all(Array.from({ length: 40 }, () => limits.reserve(a.id, NOW_MINUTE, 1, { perHour: 25, perDay: 0 })));
    assert.equal(results.filter((r) => r === null).length, 25);
    assert.equal(results.filter((r) => r === 'hour').length, 15);
    assert.deepEqual((await limits.sent([a.id], NOW_MINUTE)).get(a.id), { lastHour: 25, lastDay: 25 });
  });

  test('reaching a limit is marked once per window, and the domain lists it', async () => {
    const a = await account('reach@limits.test');
    const at = NOW_MINUTE * 60;
    const marks = await Promise.all(Array.from({ length: 8 }, () => limits.markReached(a.id, 'hour', at)));
    assert.equal(marks.filter(Boolean).length, 1);
    assert.equal(await limits.markReached(a.id, 'hour', at + 3_599), false);
    assert.equal(await limits.markReached(a.id, 'day', at + 10), true);
    assert.equal(await limits.markReached(a.id, 'hour', at + 3_600), true);
    const listed = await limits.reachedSince(domainId, at - 1);
    assert.deepEqual(
      listed.map((r) => [r.login, r.kind, r.window, r.at]),
      [
        ['reach@limits.test', 'mailbox', 'hour', at + 3_600],
        ['reach@limits.test', 'mailbox', 'day', at + 10],
      ],
    );
    assert.deepEqual(await limits.reachedSince(domainId, at + 3_601), []);
  });

  test("an account's counts, overrides and marks go with it", async () => {
    const a = await account('gone@limits.test');
    await limits.setAccountLimits(a.id, { perHour: 1, perDay: null, maxRecipients: null }, entry('gone@limits.test'));
    await limits.reserve(a.id, NOW_MINUTE, 1, { perHour: 0, perDay: 0 });
    await limits.markReached(a.id, 'day', NOW_MINUTE * 60);
    await stores.accounts.deleteAccountAndEndSessions(a.id, { ...entry('gone@limits.test'), action: 'mailbox.delete' });
    assert.equal((await limits.sent([a.id], NOW_MINUTE)).get(a.id), undefined);
    assert.equal((await limits.reachedSince(domainId, 0)).filter((r) => r.accountId === a.id).length, 0);
  });
});
