import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { NetworkSeen } from '../../src/core/ports.js';
import { entry, useStores } from '../helpers/stores.js';
import { TEST_STORE } from '../helpers/env.js';

// What a panel owner has besides its account, port by port, on the store under test: sessions,
// login history, second factors, app passwords, notices. `npm test` runs it on both stores.

describe(`an owner's sessions, history, second factors, app passwords and notices (${TEST_STORE})`, () => {
  const s = useStores();

  test('sessions: read until they expire, moved, ended one by one, pruned', async () => {
    await s.stores.sessions.setSession('k1', 'admin:7', '{"a":1}', 100);
    await s.stores.sessions.setSession('k2', 'admin:7', '{}', 200);
    assert.deepEqual(await s.stores.sessions.getSession('k1', 50), { data: '{"a":1}', expiresAt: 100 });
    assert.equal(await s.stores.sessions.getSession('k1', 100), null);
    await s.stores.sessions.touchSession('k1', 300);
    assert.equal((await s.stores.sessions.getSession('k1', 150))?.expiresAt, 300);
    assert.equal(await s.stores.sessions.countSessions('admin:7'), 2);
    await s.stores.sessions.destroySession('k2');
    assert.equal(await s.stores.sessions.pruneSessions(300), 1);
    assert.equal(await s.stores.sessions.countSessions('admin:7'), 0);
  });

  test('a login batch adds up history rows per day and key, and tells which networks are new', async () => {
    const a = await s.account('batch@contract.test');
    const row = { accountId: a.id, day: 19_000, protocol: 'smtp', mechanism: 'PLAIN', result: 'bad-password' as const, ip: '192.0.2.1', client: 'TLSv1.3' };
    const seen = (network: string): NetworkSeen => ({ owner: `mailbox:${a.id}`, network, ip: network.replace('0/24', '9'), protocol: 'smtp', at: 10 });
    const batch = s.stores.loginHistory;
    assert.deepEqual(await batch.applyLoginBatch({ logins: [], rehashes: [], audit: [], history: [{ ...row, firstAt: 10, lastAt: 20, count: 2 }], networks: [seen('192.0.2.0/24')] }), [], 'a first network is not new');
    const fresh = await batch.applyLoginBatch({
      logins: [{ accountId: a.id, at: 30, ip: '192.0.2.1' }],
      rehashes: [],
      audit: [entry('login.failure', 'batch@contract.test')],
      history: [{ ...row, client: 'TLSv1.2', firstAt: 5, lastAt: 30, count: 3 }],
      networks: [seen('192.0.2.0/24'), seen('198.51.100.0/24')],
    });
    assert.deepEqual(fresh.map((n) => n.network), ['198.51.100.0/24']);
    const [h, ...more] = await batch.listLoginHistory(a.id, 10);
    assert.equal(more.length, 0);
    assert.deepEqual({ count: h!.count, firstAt: h!.firstAt, lastAt: h!.lastAt, client: h!.client }, { count: 5, firstAt: 5, lastAt: 30, client: 'TLSv1.2' });
    assert.equal((await s.stores.accounts.findAccountById(a.id))!.lastLoginAt, 30);
    assert.equal(await s.audited('login.failure', 'batch@contract.test'), 1);
    assert.deepEqual(await batch.applyLoginBatch({ logins: [], rehashes: [], audit: [], networks: [seen('198.51.100.0/24')] }), []);
    assert.equal(await batch.pruneLoginHistory(31), 1);
    assert.deepEqual(await batch.listLoginHistory(a.id, 10), []);
  });

  test('notices: the newest 20 are kept, taken oldest first, once', async () => {
    for (let i = 1; i <= 25; i++) await s.stores.notices.addNotice('admin:999', { kind: 'new-network', detail: `{"n":${i}}`, at: i });
    const taken = await s.stores.notices.takeNotices('admin:999');
    assert.deepEqual(taken.map((n) => n.at), Array.from({ length: 20 }, (_, i) => i + 6));
    assert.deepEqual(await s.stores.notices.takeNotices('admin:999'), []);
  });

  test('a TOTP step and a recovery code are each accepted once; removing the factors ends the sessions', async () => {
    const owner = 'mailbox:424242' as const;
    const factors = s.stores.secondFactors;
    await factors.addTotp(owner, 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', 100, ['code-a', 'code-b'], 1, entry('second-factor.add', owner));
    assert.equal(await factors.hasSecondFactor(owner), true);
    assert.equal((await factors.getSecondFactors(owner)).totp?.secret, 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', 'the port answers the secret as it was given');
    assert.equal(await factors.useTotpStep(owner, 101), true);
    assert.equal(await factors.useTotpStep(owner, 101), false);
    assert.equal(await factors.useTotpStep(owner, 100), false);
    assert.equal(await factors.useRecoveryCode(owner, 'code-a', 2), true);
    assert.equal(await factors.useRecoveryCode(owner, 'code-a', 3), false);
    assert.equal((await factors.getSecondFactors(owner)).recoveryLeft, 1);
    await s.stores.sessions.setSession('f1', owner, '{}', 9_999_999_999);
    await factors.removeSecondFactors(owner, entry('second-factor.remove', owner));
    assert.equal(await factors.hasSecondFactor(owner), false);
    assert.equal(await s.stores.sessions.countSessions(owner), 0);
    assert.equal(await s.audited('second-factor.add', owner), 1);
    assert.equal(await s.audited('second-factor.remove', owner), 1);
  });

  test('a passkey is a second factor; its counter only moves forward', async () => {
    const owner = 'admin:4343' as const;
    const factors = s.stores.secondFactors;
    await factors.addPasskey({ id: 'cred-1', owner, publicKey: new Uint8Array([1, 2, 3]), counter: 5, transports: ['usb', 'nfc'], createdAt: 1, lastUsedAt: null }, ['r1'], entry('second-factor.add', owner));
    assert.equal(await factors.hasSecondFactor(owner), true);
    const [p] = await factors.listPasskeys(owner);
    assert.deepEqual({ id: p!.id, key: [...p!.publicKey], transports: p!.transports }, { id: 'cred-1', key: [1, 2, 3], transports: ['usb', 'nfc'] });
    assert.equal(await factors.usePasskey('cred-1', 5, 9), false);
    assert.equal(await factors.usePasskey('cred-1', 6, 9), true);
    assert.equal((await factors.listPasskeys(owner))[0]!.lastUsedAt, 9);
  });

  test('app passwords: found by tag, a selector given once, deleted once with one entry', async () => {
    const a = await s.account('apps@contract.test');
    const apps = s.stores.appPasswords;
    const made = await apps.insertAppPassword({ accountId: a.id, name: 'Phone', tag: 'abcd', selector: 'sel', passwordHash: 'h', now: 2 }, entry('app-password.create', a.login));
    assert.equal((await apps.findAppPassword(a.id, 'abcd'))?.id, made.id);
    assert.equal(await apps.findAppPassword(a.id, 'zzzz'), null);
    await apps.setAppPasswordSelector(made.id, 'other');
    assert.equal((await apps.listAppPasswords(a.id))[0]!.selector, 'sel', 'a selector once set stays');
    assert.equal(await apps.deleteAppPassword(a.id, made.id, entry('app-password.revoke', a.login)), true);
    assert.equal(await apps.deleteAppPassword(a.id, made.id, entry('app-password.revoke', a.login)), false);
    assert.equal(await s.audited('app-password.create', a.login), 1);
    assert.equal(await s.audited('app-password.revoke', a.login), 1);
  });
});
