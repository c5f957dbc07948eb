import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConflictError } from '../../src/core/errors.js';
import { entry, useStores } from '../helpers/stores.js';
import { TEST_STORE } from '../helpers/env.js';

// Domains, their DKIM keys and DNS checks, the settings, the audit log and the database as a
// whole, on the store under test: `npm test` runs it on both stores.

describe(`domains, DKIM keys, DNS checks, settings, audit and the database (${TEST_STORE})`, () => {
  const s = useStores('domains.test');

  test('a domain taken twice is a ConflictError with no second entry; the list counts and filters', async () => {
    await assert.rejects(s.stores.domains.insertDomain('domains.test', true, 2, entry('domain.create', 'domains.test')), ConflictError);
    assert.equal(await s.audited('domain.create', 'domains.test'), 1);
    const other = await s.stores.domains.insertDomain('other.test', false, 3, entry('domain.create', 'other.test'));
    assert.equal(other.verified, false);
    await s.account('a@domains.test');
    await s.account('app-x@domains.test', 'credential', '2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e');
    const all = await s.stores.domains.listDomains();
    assert.deepEqual(all.map((d) => [d.name, d.mailboxCount, d.credentialCount, d.dnsProblems]), [['domains.test', 1, 1, null], ['other.test', 0, 0, null]]);
    assert.deepEqual((await s.stores.domains.listDomains([other.id])).map((d) => d.name), ['other.test']);
  });

  test('issue 36: the counts kept by the store follow every insert, import and delete, and equal a count of the rows', async () => {
    const d = await s.stores.domains.insertDomain('kept.test', true, 4, entry('domain.create', 'kept.test'));
    const counts = async () => (await s.stores.domains.listDomains([d.id])).map((x) => [x.mailboxCount, x.credentialCount])[0];
    const total = async (kind: 'mailbox' | 'credential', search = '') => (await s.stores.accounts.listAccounts(d.id, kind, { search, limit: 1, offset: 0 })).total;
    const insert = (login: string, kind: 'mailbox' | 'credential' = 'mailbox') =>
      s.stores.accounts.insertAccount({ kind, domainId: d.id, login, localPart: login.split('@')[0]!, name: '', guid: kind === 'credential' ? `00000000-0000-4000-8000-${String(login.length).padStart(12, '0')}` : null, passwordHash: 'h', now: 5 }, entry(`${kind}.create`, login));
    const a = await insert('a@kept.test');
    await insert('app-1@kept.test', 'credential');
    assert.deepEqual(await counts(), [1, 1]);
    const mailboxes = Array.from({ length: 1200 }, (_, i) => ({ login: `m${i}@kept.test`, localPart: `m${i}`, domain: 'kept.test', name: '', passwordHash: 'h', disabled: false }));
    // A login already there is left as it is, and not counted twice.
    await s.stores.accounts.importMailboxes({ domains: [], mailboxes: [...mailboxes, { ...mailboxes[0]!, login: 'a@kept.test', localPart: 'a' }], now: 6 }, entry('mailbox.import'));
    assert.deepEqual(await counts(), [1201, 1]);
    assert.equal(await total('mailbox'), 1201);
    assert.equal(await total('credential'), 1);
    assert.equal(await total('mailbox', 'm11'), 111, 'a search counts its matches (m11, m110-m119, m1100-m1199)');
    await s.stores.accounts.deleteAccountAndEndSessions(a.id, entry('mailbox.delete', a.login));
    assert.deepEqual(await counts(), [1200, 1]);
    assert.equal((await s.stores.accounts.listAccounts(d.id, 'mailbox', { search: 'm', limit: 1, offset: 0 })).total, 1200, 'the kept count equals a count of the rows');
  });

  test('DKIM keys: added together, listed oldest first, a taken selector refused whole, removed once', async () => {
    const key = (selector: string, createdAt: number) => ({ domainId: s.domainId, selector, algorithm: 'ed25519' as const, privateKey: `pem-${selector}`, publicKey: `p-${selector}`, createdAt });
    await s.stores.dkimKeys.insertDkimKeys([key('b1', 1), key('a1', 1)], entry('dkim.add', 'domains.test'));
    await assert.rejects(s.stores.dkimKeys.insertDkimKeys([key('c1', 2), key('a1', 2)], entry('dkim.add', 'domains.test')), ConflictError);
    assert.deepEqual((await s.stores.dkimKeys.listDkimKeys(s.domainId)).map((k) => [k.selector, k.privateKey]), [['a1', 'pem-a1'], ['b1', 'pem-b1']]);
    assert.equal(await s.audited('dkim.add', 'domains.test'), 1);
    assert.equal(await s.stores.dkimKeys.deleteDkimKey(s.domainId, 'a1', entry('dkim.remove', 'domains.test')), true);
    assert.equal(await s.stores.dkimKeys.deleteDkimKey(s.domainId, 'a1', entry('dkim.remove', 'domains.test')), false);
    assert.equal(await s.audited('dkim.remove', 'domains.test'), 1);
  });

  test("a domain's last DNS check replaces the one before, and the list shows its problems", async () => {
    assert.equal(await s.stores.dnsChecks.getDnsCheck(s.domainId), null);
    await s.stores.dnsChecks.saveDnsCheck(s.domainId, { checkedAt: 5, problems: 3, results: '[]' });
    await s.stores.dnsChecks.saveDnsCheck(s.domainId, { checkedAt: 6, problems: 1, results: '[1]' });
    assert.deepEqual(await s.stores.dnsChecks.getDnsCheck(s.domainId), { checkedAt: 6, problems: 1, results: '[1]' });
    assert.equal((await s.stores.domains.listDomains([s.domainId]))[0]!.dnsProblems, 1);
  });

  test('settings: made once, whatever a second maker would make; read without making', async () => {
    assert.equal(await s.stores.settings.readSetting('contract-key'), null);
    assert.equal(await s.stores.settings.getOrCreateSetting('contract-key', () => 'first'), 'first');
    assert.equal(await s.stores.settings.getOrCreateSetting('contract-key', () => 'second'), 'first');
    assert.equal(await s.stores.settings.readSetting('contract-key'), 'first');
  });

  test('the audit log: newest first, paged, counted, pruned by age; a NUL is kept readable', async () => {
    for (let i = 1; i <= 3; i++) await s.stores.audit.appendAudit(entry('login.failure', `page-${i}`, 10 + i));
    await s.stores.audit.appendAudit({ ...entry('login.failure', 'nul\0name', 20), detail: 'a\0b' });
    const { items, total } = await s.stores.audit.listAudit({ limit: 2, offset: 0 });
    assert.equal(items[0]!.target.replace('\\0', '\0'), 'nul\0name');
    assert.equal(items[1]!.target, 'page-3');
    assert.ok(total >= 4);
    assert.equal(await s.stores.audit.pruneAudit(14), 3);
    assert.equal(await s.audited('login.failure', 'page-1'), 0);
  });

  test('the database answers a ping, and rewrites each kind of secret once', async () => {
    await s.stores.database.ping();
    const seen: string[] = [];
    // The secrets are sealed already (the store opened with its key): nothing to rewrite.
    assert.equal(await s.stores.database.rewriteSecrets((kind, where, value) => (seen.push(`${kind}:${where}`), value.startsWith('sealed:') ? null : value)), 0);
    assert.ok(seen.includes('dkim:' + s.domainId + ':b1'), seen.join(' '));
    assert.ok(seen.some((w) => w.startsWith('setting:')));
  });
});
