import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConflictError } from '../../src/core/errors.js';
import { entry, HASH, useStores } from '../helpers/stores.js';
import { TEST_STORE } from '../helpers/env.js';

// The accounts port (core/ports/accounts.ts) on the store under test: `npm test` runs it on both.

describe(`accounts (${TEST_STORE})`, () => {
  const s = useStores();

  test('only a credential has a guid, and findCredentialByGuid finds credentials only (the two stores once read it differently)', async () => {
    const guid = '0f6f1c2e-3b7a-4c1d-9e2f-5a6b7c8d9e0f';
    await assert.rejects(s.account('guid@contract.test', 'mailbox', guid));
    assert.equal(await s.stores.accounts.findCredentialByGuid(guid), null);
    assert.equal(await s.stores.accounts.findAccountByLogin('guid@contract.test'), null);
    assert.equal(await s.audited('mailbox.create', 'guid@contract.test'), 0, 'a refused insert leaves no audit entry');
    const cred = '1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d';
    await s.account('app-abcd@contract.test', 'credential', cred);
    assert.equal((await s.stores.accounts.findCredentialByGuid(cred))?.login, 'app-abcd@contract.test');
    assert.equal(await s.audited('credential.create', 'app-abcd@contract.test'), 1);
  });

  test('a login taken twice is a ConflictError, and nothing of the second is stored', async () => {
    await s.account('dup@contract.test');
    await assert.rejects(s.account('dup@contract.test'), ConflictError);
    assert.equal((await s.stores.accounts.listAccounts(s.domainId, 'mailbox', { search: 'dup@', limit: 10, offset: 0 })).total, 1);
    assert.equal(await s.audited('mailbox.create', 'dup@contract.test'), 1);
  });

  test('a password write with a stale version changes nothing; a current one bumps the version, ends sessions and revokes app passwords in one go', async () => {
    const a = await s.account('version@contract.test');
    await s.stores.sessions.setSession('s1', `mailbox:${a.id}`, '{}', 9_999_999_999);
    await s.stores.appPasswords.insertAppPassword({ accountId: a.id, name: 'Phone', tag: 'tag1', selector: 'sel1', passwordHash: HASH, now: 1 }, entry('app-password.create'));
    assert.equal(await s.stores.accounts.setPasswordAndEndSessions(a.id, 'new-hash', 5, a.passwordVersion + 7, entry('password.reset', a.login)), null);
    assert.equal((await s.stores.accounts.findAccountById(a.id))!.passwordHash, HASH);
    assert.equal(await s.stores.sessions.countSessions(`mailbox:${a.id}`), 1);
    assert.equal(await s.audited('password.reset', a.login), 0, 'no change, no entry');
    assert.equal(await s.stores.accounts.setPasswordAndEndSessions(a.id, 'new-hash', 5, a.passwordVersion, entry('password.reset', a.login)), a.passwordVersion + 1);
    assert.equal(await s.stores.sessions.countSessions(`mailbox:${a.id}`), 0);
    assert.deepEqual(await s.stores.appPasswords.listAppPasswords(a.id), []);
    assert.deepEqual((await s.stores.accounts.readAccountVersions([a.id])).get(a.id), { passwordVersion: a.passwordVersion + 1, disabled: false });
    assert.equal(await s.audited('password.reset', a.login), 1);
  });

  test('disabling ends sessions and bumps the version; deleting takes the second factors and notices with it; each with its entry', async () => {
    const a = await s.account('gone@contract.test');
    const owner = `mailbox:${a.id}` as const;
    await s.stores.sessions.setSession('s2', owner, '{}', 9_999_999_999);
    await s.stores.accounts.setDisabledAndEndSessions(a.id, true, 7, entry('mailbox.disable', a.login));
    assert.equal(await s.stores.sessions.countSessions(owner), 0);
    assert.deepEqual((await s.stores.accounts.readAccountVersions([a.id])).get(a.id), { passwordVersion: a.passwordVersion + 1, disabled: true });
    await s.stores.secondFactors.addTotp(owner, 'JBSWY3DPEHPK3PXP', 1, ['c'], 1, entry('second-factor.add'));
    await s.stores.notices.addNotice(owner, { kind: 'new-network', detail: '{}', at: 1 });
    await s.stores.accounts.deleteAccountAndEndSessions(a.id, entry('mailbox.delete', a.login));
    assert.equal(await s.stores.accounts.findAccountById(a.id), null);
    assert.equal(await s.stores.secondFactors.hasSecondFactor(owner), false);
    assert.deepEqual(await s.stores.notices.takeNotices(owner), []);
    assert.equal(await s.audited('mailbox.disable', a.login), 1);
    assert.equal(await s.audited('mailbox.delete', a.login), 1);
  });

  test('a login search is a byte-wise prefix range, and a value with NUL finds nothing', async () => {
    for (const l of ['zeta@contract.test', 'zé@contract.test', 'zz@contract.test', 'z-upper@contract.test']) await s.account(l);
    const page = await s.stores.accounts.listAccounts(s.domainId, 'mailbox', { search: 'z', limit: 10, offset: 0 });
    assert.deepEqual(page.items.map((a) => a.login), ['z-upper@contract.test', 'zeta@contract.test', 'zz@contract.test', 'zé@contract.test']);
    assert.equal(page.total, 4);
    assert.equal(await s.stores.accounts.findAccountByLogin('zeta\0@contract.test'), null);
    assert.equal((await s.stores.accounts.listAccounts(s.domainId, 'mailbox', { search: 'z\0', limit: 10, offset: 0 })).total, 0);
  });

  test('an import creates missing domains, skips taken logins, counts imported schemes, with one entry', async () => {
    await s.account('kept@contract.test');
    const result = await s.stores.accounts.importMailboxes(
      {
        domains: ['imported.test'],
        mailboxes: [
          { login: 'kept@contract.test', localPart: 'kept', domain: 'contract.test', name: '', passwordHash: '{SSHA}abc', disabled: false },
          { login: 'new@imported.test', localPart: 'new', domain: 'imported.test', name: 'New', passwordHash: '{BLF-CRYPT}$2y$05$x', disabled: true },
        ],
        now: 3,
      },
      entry('mailbox.import', '2 mailboxes'),
    );
    assert.deepEqual(result, { created: 1, existing: 1 });
    const domain = (await s.stores.domains.findDomainByName('imported.test'))!;
    assert.deepEqual(await s.stores.accounts.countImportedSchemes(domain.id), [{ scheme: 'BLF-CRYPT', count: 1 }]);
    assert.equal((await s.stores.accounts.findAccountByLogin('new@imported.test'))!.disabled, true);
    assert.equal((await s.stores.accounts.findAccountByLogin('kept@contract.test'))!.passwordHash, HASH);
    assert.equal(await s.audited('mailbox.import'), 1);
  });
});
