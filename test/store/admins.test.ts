import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { entry, HASH, useStores } from '../helpers/stores.js';
import { FULL_SCOPE } from '../../src/core/ports/tokens.js';
import { TEST_STORE } from '../helpers/env.js';

// The admins and tokens ports on the store under test: `npm test` runs it on both.

describe(`admins and tokens (${TEST_STORE})`, () => {
  const s = useStores();
  const admin = (username: string, isSuper: boolean, domainIds: number[] = []) =>
    s.stores.admins.insertAdmin({ username, passwordHash: HASH, isSuper, domainIds, mustChangePassword: !isSuper, now: 1 }, entry('admin.create', username));

  test('the last enabled super admin cannot be disabled or deleted, and a refused change writes no entry', async () => {
    const only = await admin('root-contract', true);
    const supers = (await s.stores.admins.listAdmins()).filter((a) => a.isSuper && !a.disabled);
    for (const other of supers.filter((a) => a.id !== only.id)) assert.equal(await s.stores.admins.updateAdmin(other.id, { disabled: true }, 2, entry('admin.disable')), true);
    const before = await s.audited('admin.disable', 'root-contract');
    assert.equal(await s.stores.admins.updateAdmin(only.id, { disabled: true }, 3, entry('admin.disable', 'root-contract')), false);
    assert.equal(await s.stores.admins.deleteAdmin(only.id, entry('admin.delete', 'root-contract')), false);
    assert.equal((await s.stores.admins.findAdminById(only.id))!.disabled, false);
    assert.equal(await s.audited('admin.disable', 'root-contract'), before);
    assert.equal(await s.audited('admin.delete', 'root-contract'), 0);
    const helper = await admin('dom-contract', false, [s.domainId]);
    assert.deepEqual((await s.stores.admins.findAdminByUsername('dom-contract'))!.domainIds, [s.domainId]);
    assert.equal(helper.mustChangePassword, true);
    assert.equal(await s.audited('admin.create', 'dom-contract'), 1);
  });

  test("an admin's new password ends its sessions and revokes its tokens; a re-hash only while the version holds", async () => {
    const a = await admin('pw-contract', true);
    await s.stores.sessions.setSession('a1', `admin:${a.id}`, '{}', 9_999_999_999);
    const token = await s.stores.tokens.insertToken({ adminId: a.id, name: 'ci', prefix: 'mp_abcdefg', tokenHash: 'digest-1', now: 1, scope: FULL_SCOPE }, entry('token.create', 'pw-contract/ci'));
    assert.equal(token.adminUsername, 'pw-contract');
    await s.stores.admins.setAdminPasswordAndEndSessions(a.id, 'hash-2', 5, { mustChangePassword: false, audit: entry('admin.password', 'pw-contract') });
    assert.equal(await s.stores.sessions.countSessions(`admin:${a.id}`), 0);
    assert.equal((await s.stores.tokens.findTokenByHash('digest-1'))!.revokedAt, 5);
    await s.stores.admins.rehashAdminPassword(a.id, a.passwordVersion, 'stale');
    assert.equal((await s.stores.admins.findAdminById(a.id))!.passwordHash, 'hash-2');
    await s.stores.admins.rehashAdminPassword(a.id, a.passwordVersion + 1, 'hash-3');
    assert.equal((await s.stores.admins.findAdminById(a.id))!.passwordHash, 'hash-3');
    assert.equal(await s.audited('admin.password', 'pw-contract'), 1);
  });

  test('a token is revoked once, with one entry; listing per admin, newest first', async () => {
    const a = await admin('tok-contract', true);
    const t1 = await s.stores.tokens.insertToken({ adminId: a.id, name: 'one', prefix: 'mp_1111111', tokenHash: 'digest-one', now: 10, scope: FULL_SCOPE }, entry('token.create'));
    const t2 = await s.stores.tokens.insertToken({ adminId: a.id, name: 'two', prefix: 'mp_2222222', tokenHash: 'digest-two', now: 20, scope: FULL_SCOPE }, entry('token.create'));
    assert.deepEqual((await s.stores.tokens.listTokens(a.id)).map((t) => t.id), [t2.id, t1.id]);
    assert.equal(await s.stores.tokens.revokeToken(t1.id, 30, entry('token.revoke', 'tok-contract/one')), true);
    assert.equal(await s.stores.tokens.revokeToken(t1.id, 31, entry('token.revoke', 'tok-contract/one')), false);
    assert.equal((await s.stores.tokens.findTokenByHash('digest-one'))!.revokedAt, 30);
    assert.equal(await s.audited('token.revoke', 'tok-contract/one'), 1);
    await s.stores.tokens.touchToken(t2.id, 40, '192.0.2.7');
    assert.equal((await s.stores.tokens.findTokenByHash('digest-two'))!.lastUsedAt, 40);
    assert.equal((await s.stores.tokens.findTokenByHash('digest-two'))!.lastUsedIp, '192.0.2.7');
  });

  test('SPEC §18: a token keeps its scope; one made without keeps everything its admin may do', async () => {
    const a = await admin('scope-contract', true);
    const scope = { readOnly: true, domains: ['example.com', 'example.org'], expiresAt: 1_900_000_000, allowIps: ['192.0.2.0/24', '2001:db8::1'] };
    const scoped = await s.stores.tokens.insertToken({ adminId: a.id, name: 'ro', prefix: 'mp_ro00000', tokenHash: 'digest-ro', now: 50, scope }, entry('token.create'));
    assert.deepEqual({ readOnly: scoped.readOnly, domains: scoped.domains, expiresAt: scoped.expiresAt, allowIps: scoped.allowIps }, scope);
    assert.deepEqual((await s.stores.tokens.findTokenByHash('digest-ro'))!.domains, scope.domains);
    const full = await s.stores.tokens.insertToken({ adminId: a.id, name: 'all', prefix: 'mp_all0000', tokenHash: 'digest-all', now: 51, scope: FULL_SCOPE }, entry('token.create'));
    assert.deepEqual({ readOnly: full.readOnly, domains: full.domains, expiresAt: full.expiresAt, allowIps: full.allowIps, lastUsedIp: full.lastUsedIp }, { ...FULL_SCOPE, lastUsedIp: null });
  });
});
