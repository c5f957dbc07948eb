import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TEST_STORE } from '../helpers/env.js';
import { entry, useStores } from '../helpers/stores.js';

// SPEC §16's recovery addresses and mailed links, the same on both stores: a link is found only
// while unexpired, taken once, a confirm link replaces the one before, and an account's rows go
// with it.

describe(`recovery addresses and links (${TEST_STORE})`, () => {
  const s = useStores('recovery.test');
  const link = (accountId: number, tokenHash: string, purpose: 'confirm' | 'reset', address: string, expiresAt = 2_000) => ({
    tokenHash,
    accountId,
    purpose,
    address,
    passwordVersion: 1,
    createdAt: 1_000,
    expiresAt,
  });

  test('a confirm link waits, replaces the one before, and becomes the recovery address once', async () => {
    const box = await s.account('owner@recovery.test');
    assert.deepEqual(await s.stores.recovery.getRecovery(box.id, 1_500), { confirmed: null, pending: null });
    await s.stores.recovery.addRecoveryLink(link(box.id, 'c1', 'confirm', 'first@elsewhere.test'), entry('recovery.request', box.login));
    await s.stores.recovery.addRecoveryLink(link(box.id, 'c2', 'confirm', 'second@elsewhere.test'), entry('recovery.request', box.login));
    assert.deepEqual((await s.stores.recovery.getRecovery(box.id, 1_500)).pending, { address: 'second@elsewhere.test', expiresAt: 2_000 });
    assert.equal(await s.stores.recovery.findRecoveryLink('c1', 'confirm', 1_500), null, 'the earlier link was replaced');
    assert.equal(await s.stores.recovery.findRecoveryLink('c2', 'reset', 1_500), null, 'a link is of one purpose');
    assert.equal(await s.stores.recovery.setConfirmedRecoveryAddress('c2', 2_000, entry('recovery.confirm', box.login)), false, 'expired at its time');
    assert.equal(await s.stores.recovery.setConfirmedRecoveryAddress('c2', 1_600, entry('recovery.confirm', box.login)), true);
    assert.equal(await s.stores.recovery.setConfirmedRecoveryAddress('c2', 1_601, entry('recovery.confirm', box.login)), false, 'used once');
    assert.deepEqual(await s.stores.recovery.getRecovery(box.id, 1_700), { confirmed: { address: 'second@elsewhere.test', confirmedAt: 1_600 }, pending: null });
    assert.equal(await s.audited('recovery.confirm', box.login), 1);
    assert.equal(await s.audited('recovery.request', box.login), 2);
  });

  test('a reset link is taken once, by one of two takers; expired links are pruned', async () => {
    const box = await s.account('reset@recovery.test');
    await s.stores.recovery.addRecoveryLink(link(box.id, 'r1', 'reset', 'me@elsewhere.test'), entry('password.reset-link', box.login));
    await s.stores.recovery.addRecoveryLink(link(box.id, 'r2', 'reset', 'me@elsewhere.test', 1_200), entry('password.reset-link', box.login));
    assert.equal((await s.stores.recovery.findRecoveryLink('r1', 'reset', 1_500))?.address, 'me@elsewhere.test');
    const taken = await Promise.all([1, 2, 3].map(() => s.stores.recovery.deleteRecoveryLink('r1', 'reset', 1_500)));
    assert.equal(taken.filter((t) => t !== null).length, 1);
    assert.deepEqual(taken.find((t) => t !== null), link(box.id, 'r1', 'reset', 'me@elsewhere.test'));
    assert.equal(await s.stores.recovery.deleteRecoveryLink('r2', 'reset', 1_500), null, 'expired');
    assert.equal(await s.stores.recovery.pruneRecoveryLinks(1_500), 1);
  });

  test('removing the address ends a waiting one too; deleting the account deletes its rows', async () => {
    const box = await s.account('gone@recovery.test');
    await s.stores.recovery.addRecoveryLink(link(box.id, 'g1', 'confirm', 'a@elsewhere.test'), entry('recovery.request', box.login));
    await s.stores.recovery.setConfirmedRecoveryAddress('g1', 1_100, entry('recovery.confirm', box.login));
    await s.stores.recovery.addRecoveryLink(link(box.id, 'g2', 'confirm', 'b@elsewhere.test'), entry('recovery.request', box.login));
    await s.stores.recovery.removeRecoveryAddress(box.id, entry('recovery.remove', box.login));
    assert.deepEqual(await s.stores.recovery.getRecovery(box.id, 1_500), { confirmed: null, pending: null });

    await s.stores.recovery.addRecoveryLink(link(box.id, 'g3', 'confirm', 'c@elsewhere.test'), entry('recovery.request', box.login));
    await s.stores.recovery.setConfirmedRecoveryAddress('g3', 1_100, entry('recovery.confirm', box.login));
    await s.stores.recovery.addRecoveryLink(link(box.id, 'g4', 'reset', 'c@elsewhere.test'), entry('password.reset-link', box.login));
    await s.stores.accounts.deleteAccountAndEndSessions(box.id, entry('mailbox.delete', box.login));
    assert.deepEqual(await s.stores.recovery.getRecovery(box.id, 1_500), { confirmed: null, pending: null });
    assert.equal(await s.stores.recovery.findRecoveryLink('g4', 'reset', 1_500), null);
  });
});
