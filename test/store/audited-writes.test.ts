import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { entry, HASH, useStores } from '../helpers/stores.js';
import { FULL_SCOPE } from '../../src/core/ports/tokens.js';
import { TEST_STORE } from '../helpers/env.js';
import { eventOf, WEBHOOK_EVENTS } from '../../src/core/webhook-events.js';

// Issue 30: every change a store port makes writes its audit entry in its own transaction.
// Two halves: every write method of every port takes an AuditEntry (or is named below with why
// it needs none), and, with an audit log that refuses every insert, every audited write fails
// and leaves nothing behind, on the store under test.

const PORTS = new URL('../../src/core/ports/', import.meta.url);
const WRITE = /^(insert|set|save|delete|add|remove|update|revoke|import)[A-Z]/;

/** Writes that change nothing an audit log is for, and why. */
const UNAUDITED: Record<string, string> = {
  'sessions.setSession': 'a web session is the login it follows, which is audited',
  'app-passwords.setAppPasswordSelector': 'a lookup key derived from the app password at its first login; no change of access',
  'dns-checks.saveDnsCheck': 'a reading of DNS, not a change of anything mailpass serves',
  'notices.addNotice': 'a notice tells of an event that is audited itself',
  'accounts.setAccountLanguage': 'a display preference (SPEC §17), no change of access',
  'admins.setAdminLanguage': 'a display preference (SPEC §17), no change of access',
  'recovery.deleteRecoveryLink': 'a reset link used up: the password change it allows writes the entry, in its own transaction',
};

describe('every write of a store port takes its audit entry', () => {
  test('the ports, read as written', () => {
    const missing: string[] = [];
    let writes = 0;
    for (const file of readdirSync(PORTS).filter((f) => f.endsWith('.ts'))) {
      const text = readFileSync(new URL(file, PORTS), 'utf8');
      for (const m of text.matchAll(/^ {2}([a-zA-Z]+)\(([\s\S]*?)\): Promise</gm)) {
        const [, name, params] = m;
        if (!WRITE.test(name!)) continue;
        writes++;
        const key = `${file.replace(/\.ts$/, '')}.${name}`;
        if (!/\bAuditEntry\b/.test(params!) && !(key in UNAUDITED)) missing.push(key);
      }
    }
    assert.ok(writes >= 25, `only ${writes} writes found: the pattern no longer reads the ports`);
    assert.deepEqual(missing, [], 'a write without an audit entry: give it one, or say in UNAUDITED why it needs none');
  });
});

describe(`an audited write and its entry commit together (${TEST_STORE})`, () => {
  const s = useStores('audited.test');

  /** While it runs, the audit log refuses every insert. */
  const refusingAudit = async (run: () => Promise<void>) => {
    if (s.opened.db) s.opened.db.exec("CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit refused'); END");
    else {
      await s.opened.pool!.query(`CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit refused'; END $$;
        CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_audit()`);
    }
    try {
      await run();
    } finally {
      if (s.opened.db) s.opened.db.exec('DROP TRIGGER refuse_audit');
      else await s.opened.pool!.query('DROP TRIGGER refuse_audit ON audit_log; DROP FUNCTION refuse_audit()');
    }
  };

  test('with the audit log refusing, each write fails and changes nothing', async () => {
    const { stores, domainId } = s;
    const box = await s.account('box@audited.test');
    const owner = `mailbox:${box.id}` as const;
    const admin = await stores.admins.insertAdmin({ username: 'aud-admin', passwordHash: HASH, isSuper: true, domainIds: [], mustChangePassword: false, now: 1 }, entry('admin.create'));
    await stores.admins.insertAdmin({ username: 'aud-other', passwordHash: HASH, isSuper: true, domainIds: [], mustChangePassword: false, now: 1 }, entry('admin.create'));
    const token = await stores.tokens.insertToken({ adminId: admin.id, name: 't', prefix: 'mp_aaaaaaa', tokenHash: 'aud-digest', now: 1, scope: FULL_SCOPE }, entry('token.create'));
    const app = await stores.appPasswords.insertAppPassword({ accountId: box.id, name: 'Phone', tag: 'tagx', selector: 's', passwordHash: 'h', now: 1 }, entry('app-password.create'));
    await stores.secondFactors.addTotp('admin:99', 'JBSWY3DPEHPK3PXP', 1, ['r'], 1, entry('second-factor.add'));
    const key = { domainId, selector: 'k1', algorithm: 'ed25519' as const, privateKey: 'pem', publicKey: 'p', createdAt: 1 };
    await stores.dkimKeys.insertDkimKeys([key], entry('dkim.add'));
    const link = { accountId: box.id, address: 'me@elsewhere.test', passwordVersion: box.passwordVersion, createdAt: 1, expiresAt: 4_000_000_000 };
    await stores.recovery.addRecoveryLink({ ...link, tokenHash: 'aud-confirm', purpose: 'confirm' }, entry('recovery.request'));
    await stores.recovery.setConfirmedRecoveryAddress('aud-confirm', 1, entry('recovery.confirm'));
    await stores.recovery.addRecoveryLink({ ...link, tokenHash: 'aud-pending', purpose: 'confirm', address: 'next@elsewhere.test' }, entry('recovery.request'));
    // SPEC §19: a webhook subscribed to what the writes below tell; a refused change tells it nothing.
    const hook = await stores.webhooks.insertWebhook({ id: 'wh_audited', url: 'https://hooks.example/', events: [...WEBHOOK_EVENTS], domainId: null, secret: 'whsec_x', createdBy: 'test', createdAt: 1 }, entry('webhook.create'));
    const told = (action: string, target: string) => ({ ...entry(action, target), event: eventOf(action, 'test', target, null, null, 2) });
    const state = async () =>
      JSON.stringify([
        await stores.domains.listDomains(),
        await stores.accounts.findAccountById(box.id),
        await stores.accounts.findAccountByLogin('new@audited.test'),
        await stores.admins.listAdmins(),
        await stores.tokens.listTokens(),
        await stores.appPasswords.listAppPasswords(box.id),
        await stores.secondFactors.getSecondFactors(owner),
        await stores.secondFactors.getSecondFactors('admin:99'),
        await stores.secondFactors.listPasskeys(owner),
        await stores.dkimKeys.listDkimKeys(domainId),
        await stores.sendLimits.domainLimits(domainId),
        await stores.sendLimits.accountLimits(box.id),
        await stores.recovery.getRecovery(box.id, 2),
        await stores.recovery.findRecoveryLink('aud-pending', 'confirm', 2),
        await stores.webhooks.listWebhooks(null),
        await stores.webhooks.listDeliveries(hook.id, 100),
      ]);
    const before = await state();
    const audited = (await stores.audit.listAudit({ limit: 1, offset: 0 })).total;
    const writes: Record<string, () => Promise<unknown>> = {
      insertDomain: () => stores.domains.insertDomain('refused.test', true, 2, entry('domain.create')),
      insertAccount: () => stores.accounts.insertAccount({ kind: 'mailbox', domainId, login: 'new@audited.test', localPart: 'new', name: '', guid: null, passwordHash: HASH, now: 2 }, told('mailbox.create', 'new@audited.test')),
      setPasswordAndEndSessions: () => stores.accounts.setPasswordAndEndSessions(box.id, 'other', 2, undefined, entry('password.reset')),
      setDisabledAndEndSessions: () => stores.accounts.setDisabledAndEndSessions(box.id, true, 2, entry('mailbox.disable')),
      deleteAccountAndEndSessions: () => stores.accounts.deleteAccountAndEndSessions(box.id, told('mailbox.delete', box.login)),
      importMailboxes: () => stores.accounts.importMailboxes({ domains: ['imp.test'], mailboxes: [{ login: 'new@audited.test', localPart: 'new', domain: 'audited.test', name: '', passwordHash: HASH, disabled: false }], now: 2 }, entry('mailbox.import')),
      insertAdmin: () => stores.admins.insertAdmin({ username: 'aud-new', passwordHash: HASH, isSuper: false, domainIds: [domainId], mustChangePassword: true, now: 2 }, entry('admin.create')),
      setAdminPasswordAndEndSessions: () => stores.admins.setAdminPasswordAndEndSessions(admin.id, 'other', 2, { mustChangePassword: true, audit: entry('admin.password') }),
      updateAdmin: () => stores.admins.updateAdmin(admin.id, { isSuper: false, domainIds: [domainId] }, 2, entry('admin.update')),
      deleteAdmin: () => stores.admins.deleteAdmin(admin.id, entry('admin.delete')),
      insertToken: () => stores.tokens.insertToken({ adminId: admin.id, name: 'u', prefix: 'mp_bbbbbbb', tokenHash: 'aud-2', now: 2, scope: FULL_SCOPE }, entry('token.create')),
      revokeToken: () => stores.tokens.revokeToken(token.id, 2, entry('token.revoke')),
      addTotp: () => stores.secondFactors.addTotp(owner, 'JBSWY3DPEHPK3PXP', 1, ['r'], 2, entry('second-factor.add')),
      addPasskey: () => stores.secondFactors.addPasskey({ id: 'pk', owner, publicKey: new Uint8Array([1]), counter: 0, transports: [], createdAt: 2, lastUsedAt: null }, [], entry('second-factor.add')),
      removeSecondFactors: () => stores.secondFactors.removeSecondFactors('admin:99', entry('second-factor.remove')),
      insertAppPassword: () => stores.appPasswords.insertAppPassword({ accountId: box.id, name: 'Tablet', tag: 'tagy', selector: 't', passwordHash: 'h', now: 2 }, entry('app-password.create')),
      deleteAppPassword: () => stores.appPasswords.deleteAppPassword(box.id, app.id, entry('app-password.revoke')),
      insertDkimKeys: () => stores.dkimKeys.insertDkimKeys([{ ...key, selector: 'k2' }], entry('dkim.add')),
      deleteDkimKey: () => stores.dkimKeys.deleteDkimKey(domainId, 'k1', entry('dkim.remove')),
      setDomainLimits: () => stores.sendLimits.setDomainLimits(domainId, { perHour: 1, perDay: 2, maxRecipients: 3 }, entry('send-limits.set')),
      setAccountLimits: () => stores.sendLimits.setAccountLimits(box.id, { perHour: 1, perDay: 2, maxRecipients: 3 }, entry('send-limits.set')),
      addRecoveryLink: () => stores.recovery.addRecoveryLink({ ...link, tokenHash: 'aud-new', purpose: 'confirm', address: 'other@elsewhere.test' }, entry('recovery.request')),
      setConfirmedRecoveryAddress: () => stores.recovery.setConfirmedRecoveryAddress('aud-pending', 2, entry('recovery.confirm')),
      removeRecoveryAddress: () => stores.recovery.removeRecoveryAddress(box.id, entry('recovery.remove')),
      insertWebhook: () => stores.webhooks.insertWebhook({ id: 'wh_refused', url: 'https://hooks.example/', events: ['mailbox.created'], domainId, secret: 'whsec_y', createdBy: 'test', createdAt: 2 }, entry('webhook.create')),
      deleteWebhook: () => stores.webhooks.deleteWebhook(hook.id, entry('webhook.delete')),
      setWebhookPaused: () => stores.webhooks.setWebhookPaused(hook.id, 2, 2, entry('webhook.pause')),
      addWebhookEvent: () => stores.webhooks.addWebhookEvent(hook.id, { type: 'webhook.test', payload: '{}', at: 2 }, entry('webhook.test')),
    };
    const wrote: string[] = [];
    await refusingAudit(async () => {
      for (const [name, write] of Object.entries(writes)) {
        const ok = await write().then(
          () => true,
          () => false,
        );
        if (ok) wrote.push(name);
      }
    });
    assert.deepEqual(wrote, [], 'these writes went through without their audit entry');
    assert.equal(await state(), before, 'a refused write left something behind');
    assert.equal((await stores.audit.listAudit({ limit: 1, offset: 0 })).total, audited);
  });
});
