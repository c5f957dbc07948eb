import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConflictError } from '../../src/core/errors.js';
import type { AuditEntry, NetworkSeen, Store } from '../../src/core/ports.js';
import { openStore } from '../../src/store/open.js';
import { tempDataDir, testConfig, TEST_STORE } from '../helpers/env.js';

// SPEC §12: one contract for both stores. `npm test` runs this file twice: on SQLite, then on
// PostgreSQL in a private cluster; each case would fail on a store that answered differently.

const entry = (action: string, target = 'x'): AuditEntry => ({ at: 1_700_000_000, actor: 'test', action, target, ip: null });
const hash = '$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA';

describe(`the store contract (${TEST_STORE})`, () => {
  const { dir, cleanup } = tempDataDir();
  let store: Store;
  let close: () => Promise<void>;
  let domainId: number;
  before(async () => {
    const opened = await openStore(testConfig(dir));
    store = opened.store;
    close = async () => {
      await opened.counters.close();
      await opened.end();
    };
    domainId = (await store.insertDomain('contract.test', true, 1)).id;
  });
  after(async () => {
    await close();
    cleanup();
  });

  const account = (login: string) =>
    store.insertAccount({ kind: 'mailbox', domainId, login, localPart: login.split('@')[0]!, name: '', guid: null, passwordHash: hash, now: 1 });

  test('only a credential has a guid, and findCredentialByGuid finds credentials only (issue 30: the two stores read it differently)', async () => {
    const guid = '0f6f1c2e-3b7a-4c1d-9e2f-5a6b7c8d9e0f';
    await assert.rejects(store.insertAccount({ kind: 'mailbox', domainId, login: 'guid@contract.test', localPart: 'guid', name: '', guid, passwordHash: hash, now: 1 }));
    assert.equal(await store.findCredentialByGuid(guid), null);
    assert.equal(await store.findAccountByLogin('guid@contract.test'), null);
    const cred = '1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d';
    await store.insertAccount({ kind: 'credential', domainId, login: 'app-abcd@contract.test', localPart: 'app-abcd', name: 'App', guid: cred, passwordHash: hash, now: 1 });
    assert.equal((await store.findCredentialByGuid(cred))?.login, 'app-abcd@contract.test');
  });

  test('a name taken twice is a ConflictError, and nothing of the second is stored', async () => {
    await assert.rejects(store.insertDomain('contract.test', true, 2), ConflictError);
    await account('dup@contract.test');
    await assert.rejects(account('dup@contract.test'), ConflictError);
    assert.equal((await store.listAccounts(domainId, 'mailbox', { search: 'dup@', limit: 10, offset: 0 })).total, 1);
  });

  test('a password write with a stale version changes nothing; a current one bumps the version and ends sessions in one go', async () => {
    const a = await account('version@contract.test');
    await store.setSession('s1', `mailbox:${a.id}`, '{}', 9_999_999_999);
    assert.equal(await store.setPasswordAndEndSessions(a.id, 'new-hash', 5, a.passwordVersion + 7, entry('password.reset')), null);
    assert.equal((await store.findAccountById(a.id))!.passwordHash, hash);
    assert.equal(await store.countSessions(`mailbox:${a.id}`), 1);
    assert.equal(await store.setPasswordAndEndSessions(a.id, 'new-hash', 5, a.passwordVersion, entry('password.reset')), a.passwordVersion + 1);
    assert.equal(await store.countSessions(`mailbox:${a.id}`), 0);
    assert.deepEqual((await store.readAccountVersions([a.id])).get(a.id), { passwordVersion: a.passwordVersion + 1, disabled: false });
  });

  test('the last enabled super admin cannot be disabled or deleted', async () => {
    const only = await store.insertAdmin({ username: 'root-contract', passwordHash: hash, isSuper: true, domainIds: [], mustChangePassword: false, now: 1 });
    const supers = (await store.listAdmins()).filter((a) => a.isSuper && !a.disabled);
    for (const other of supers.filter((a) => a.id !== only.id)) assert.equal(await store.updateAdmin(other.id, { disabled: true }, 2, entry('admin.disable')), true);
    assert.equal(await store.updateAdmin(only.id, { disabled: true }, 3, entry('admin.disable')), false);
    assert.equal(await store.deleteAdmin(only.id, entry('admin.delete')), false);
    assert.equal((await store.findAdminById(only.id))!.disabled, false);
    const helper = await store.insertAdmin({ username: 'dom-contract', passwordHash: hash, isSuper: false, domainIds: [domainId], mustChangePassword: true, now: 4 });
    assert.deepEqual((await store.findAdminByUsername('dom-contract'))!.domainIds, [domainId]);
    assert.equal(helper.mustChangePassword, true);
  });

  test('a login batch adds up history rows per day and key, and tells which networks are new', async () => {
    const a = await account('batch@contract.test');
    const row = { accountId: a.id, day: 19_000, protocol: 'smtp', mechanism: 'PLAIN', result: 'bad-password' as const, ip: '192.0.2.1', client: 'TLSv1.3' };
    const seen = (network: string): NetworkSeen => ({ owner: `mailbox:${a.id}`, network, ip: network.replace('0/24', '9'), protocol: 'smtp', at: 10 });
    assert.deepEqual(await store.applyLoginBatch({ logins: [], rehashes: [], audit: [], history: [{ ...row, firstAt: 10, lastAt: 20, count: 2 }], networks: [seen('192.0.2.0/24')] }), [], 'a first network is not new');
    const fresh = await store.applyLoginBatch({
      logins: [{ accountId: a.id, at: 30, ip: '192.0.2.1' }],
      rehashes: [],
      audit: [entry('login.failure', 'batch@contract.test')],
      history: [{ ...row, client: 'TLSv1.2', firstAt: 5, lastAt: 30, count: 3 }],
      networks: [seen('192.0.2.0/24'), seen('198.51.100.0/24')],
    });
    assert.deepEqual(fresh.map((n) => n.network), ['198.51.100.0/24']);
    const [h, ...more] = await store.listLoginHistory(a.id, 10);
    assert.equal(more.length, 0);
    assert.deepEqual({ count: h!.count, firstAt: h!.firstAt, lastAt: h!.lastAt, client: h!.client }, { count: 5, firstAt: 5, lastAt: 30, client: 'TLSv1.2' });
    assert.equal((await store.findAccountById(a.id))!.lastLoginAt, 30);
    assert.deepEqual(await store.applyLoginBatch({ logins: [], rehashes: [], audit: [], networks: [seen('198.51.100.0/24')] }), []);
  });

  test('notices: the newest 20 are kept, taken oldest first, once', async () => {
    for (let i = 1; i <= 25; i++) await store.addNotice('admin:999', { kind: 'new-network', detail: `{"n":${i}}`, at: i });
    const taken = await store.takeNotices('admin:999');
    assert.deepEqual(taken.map((n) => n.at), Array.from({ length: 20 }, (_, i) => i + 6));
    assert.deepEqual(await store.takeNotices('admin:999'), []);
  });

  test('a TOTP step and a recovery code are each accepted once', async () => {
    const owner = 'mailbox:424242' as const;
    await store.addTotp(owner, 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', 100, ['code-a', 'code-b'], 1, entry('second-factor.add'));
    assert.equal(await store.hasSecondFactor(owner), true);
    assert.equal(await store.useTotpStep(owner, 101), true);
    assert.equal(await store.useTotpStep(owner, 101), false);
    assert.equal(await store.useTotpStep(owner, 100), false);
    assert.equal(await store.useRecoveryCode(owner, 'code-a', 2), true);
    assert.equal(await store.useRecoveryCode(owner, 'code-a', 3), false);
    assert.equal((await store.getSecondFactors(owner)).recoveryLeft, 1);
    await store.removeSecondFactors(owner, entry('second-factor.remove'));
    assert.equal(await store.hasSecondFactor(owner), false);
  });

  test('a login search is a byte-wise prefix range, and a value with NUL finds nothing', async () => {
    for (const l of ['zeta@contract.test', 'zé@contract.test', 'zz@contract.test', 'z-upper@contract.test']) await account(l);
    const page = await store.listAccounts(domainId, 'mailbox', { search: 'z', limit: 10, offset: 0 });
    assert.deepEqual(page.items.map((a) => a.login), ['z-upper@contract.test', 'zeta@contract.test', 'zz@contract.test', 'zé@contract.test']);
    assert.equal(page.total, 4);
    assert.equal(await store.findAccountByLogin('zeta\0@contract.test'), null);
    assert.equal((await store.listAccounts(domainId, 'mailbox', { search: 'z\0', limit: 10, offset: 0 })).total, 0);
  });
});
