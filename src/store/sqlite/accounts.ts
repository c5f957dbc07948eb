import type { Account, AccountStore, AuditEntry, ImportedMailbox } from '../../core/ports.js';
import { ACCOUNT_SELECT, loginRange, owner, toAccount, type AccountRow } from '../rows.js';
import { auditWriter } from './audit.js';
import type { Db } from './db.js';
import { ownerRows } from './owners.js';

/**
 * The domain page's list and count: one kind of account of one domain, by login prefix, in login
 * order (the index test explains these). `LIMIT CAST(? AS INTEGER)`, here and in every statement of
 * this store: SQLite (built with STAT4) plans with a bound LIMIT's value and so prepares the
 * statement again at every run with a new binding, 7 µs each time; a cast it cannot plan with.
 */
export const LIST_ACCOUNTS_SQL = `${ACCOUNT_SELECT}
      WHERE a.domain_id = @domainId AND a.kind = @kind AND a.login >= @lo AND a.login < @hi
      ORDER BY a.login LIMIT CAST(@limit AS INTEGER) OFFSET @offset`;
export const COUNT_ACCOUNTS_SQL = `SELECT count(*) AS n FROM accounts
      WHERE domain_id = @domainId AND kind = @kind AND login >= @lo AND login < @hi`;

export function createSqliteAccounts(db: Db): AccountStore {
  const writeAudit = auditWriter(db);
  const owners = ownerRows(db);
  const q = {
    insert: db.prepare(`INSERT INTO accounts
        (kind, domain_id, login, local_part, name, guid, password_hash, created_at, updated_at)
        VALUES (@kind, @domainId, @login, @localPart, @name, @guid, @passwordHash, @now, @now) RETURNING id`),
    byLogin: db.prepare(`${ACCOUNT_SELECT} WHERE a.login = ?`),
    byId: db.prepare(`${ACCOUNT_SELECT} WHERE a.id = ?`),
    credentialByGuid: db.prepare(`${ACCOUNT_SELECT} WHERE a.guid = ? AND a.kind = 'credential'`),
    version: db.prepare('SELECT id, password_version, disabled FROM accounts WHERE id = ?'),
    list: db.prepare(LIST_ACCOUNTS_SQL),
    count: db.prepare(COUNT_ACCOUNTS_SQL),
    kept: db.prepare("SELECT CASE @kind WHEN 'mailbox' THEN mailbox_count ELSE credential_count END AS n FROM domains WHERE id = @domainId"),
    setPassword: db.prepare(`UPDATE accounts SET password_hash = ?, password_version = password_version + 1,
      updated_at = ? WHERE id = ? RETURNING password_version`),
    setPasswordIfVersion: db.prepare(`UPDATE accounts SET password_hash = ?, password_version = password_version + 1,
      updated_at = ? WHERE id = ? AND password_version = ? RETURNING password_version`),
    setDisabled: db.prepare(`UPDATE accounts SET disabled = ?, password_version = password_version + 1, updated_at = ?
      WHERE id = ?`),
    delete: db.prepare('DELETE FROM accounts WHERE id = ?'),
    setLanguage: db.prepare('UPDATE accounts SET language = ? WHERE id = ?'),
    deleteApps: db.prepare('DELETE FROM app_passwords WHERE account_id = ?'),
    insertDomainIfNew: db.prepare('INSERT INTO domains (name, verified, created_at) VALUES (?, 1, ?) ON CONFLICT (name) DO NOTHING'),
    importMailbox: db.prepare(`INSERT INTO accounts (kind, domain_id, login, local_part, name, password_hash, disabled, created_at, updated_at)
      SELECT 'mailbox', d.id, @login, @localPart, @name, @passwordHash, @disabled, @now, @now FROM domains d WHERE d.name = @domain
      ON CONFLICT (login) DO NOTHING`),
    importedSchemes: db.prepare(`SELECT substr(password_hash, 2, instr(password_hash, '}') - 2) AS scheme, count(*) AS count FROM accounts
      WHERE domain_id = ? AND substr(password_hash, 1, 1) = '{' GROUP BY scheme ORDER BY scheme`),
  };
  const byId = (id: number): Account | null => {
    const row = q.byId.get(id) as AccountRow | undefined;
    return row ? toAccount(row) : null;
  };

  const insertTx = db.transaction((a: { kind: string }, entry: AuditEntry) => {
    const { id } = q.insert.get(a) as { id: number };
    writeAudit(entry);
    return id;
  });
  const setPasswordTx = db.transaction((id: number, hash: string, now: number, expectedVersion: number | undefined, entry: AuditEntry): number | null => {
    const row = (expectedVersion === undefined ? q.setPassword.get(hash, now, id) : q.setPasswordIfVersion.get(hash, now, id, expectedVersion)) as { password_version: number } | undefined;
    if (!row) return null;
    owners.endSessions(owner('mailbox', id));
    // SPEC §16: a new password revokes the app passwords made under the old one.
    q.deleteApps.run(id);
    writeAudit(entry);
    return row.password_version;
  });
  const setDisabledTx = db.transaction((id: number, disabled: boolean, now: number, entry: AuditEntry) => {
    q.setDisabled.run(disabled ? 1 : 0, now, id);
    owners.endSessions(owner('mailbox', id));
    writeAudit(entry);
  });
  const deleteTx = db.transaction((id: number, entry: AuditEntry) => {
    q.delete.run(id);
    owners.forget(owner('mailbox', id));
    writeAudit(entry);
  });
  // The mailboxes come from a synchronous iterator (the import reads its file with readSync): the
  // whole import is one transaction that nothing else on this connection can run inside.
  const importTx = db.transaction(({ domains, mailboxes, now }: { domains: readonly string[]; mailboxes: Iterable<ImportedMailbox>; now: number }, entry: AuditEntry) => {
    for (const d of domains) q.insertDomainIfNew.run(d, now);
    let created = 0;
    let total = 0;
    for (const m of mailboxes) {
      created += q.importMailbox.run({ ...m, disabled: m.disabled ? 1 : 0, now }).changes;
      total++;
    }
    writeAudit({ ...entry, detail: `${entry.detail ?? ''}created:${created}` });
    return { created, existing: total - created };
  });

  return {
    async insertAccount(a, entry) {
      return byId(insertTx.immediate(a, entry))!;
    },
    async findAccountByLogin(login) {
      const row = q.byLogin.get(login) as AccountRow | undefined;
      return row ? toAccount(row) : null;
    },
    async setAccountLanguage(id, language) {
      q.setLanguage.run(language, id);
    },
    async findAccountById(id) {
      return byId(id);
    },
    async findCredentialByGuid(guid) {
      const row = q.credentialByGuid.get(guid) as AccountRow | undefined;
      return row ? toAccount(row) : null;
    },
    async readAccountVersions(ids) {
      const out = new Map<number, { passwordVersion: number; disabled: boolean }>();
      for (const id of ids) {
        const row = q.version.get(id) as { id: number; password_version: number; disabled: number } | undefined;
        if (row) out.set(row.id, { passwordVersion: row.password_version, disabled: row.disabled === 1 });
      }
      return out;
    },
    async listAccounts(domainId, kind, { search, limit, offset }) {
      const params = { domainId, kind, ...loginRange(search), limit, offset };
      const items = (q.list.all(params) as AccountRow[]).map(toAccount);
      // Without a search, the domain's kept count (migration 019); a search counts its matches.
      const { n } = (search === '' ? q.kept.get({ domainId, kind }) : q.count.get(params)) as { n: number };
      return { items, total: n };
    },
    async setPasswordAndEndSessions(id, hash, now, expectedVersion, entry) {
      return setPasswordTx.immediate(id, hash, now, expectedVersion, entry);
    },
    async setDisabledAndEndSessions(id, disabled, now, entry) {
      setDisabledTx.immediate(id, disabled, now, entry);
    },
    async deleteAccountAndEndSessions(id, entry) {
      deleteTx.immediate(id, entry);
    },
    async importMailboxes(input, entry) {
      return importTx.immediate(input, entry);
    },
    async countImportedSchemes(domainId) {
      return q.importedSchemes.all(domainId) as Array<{ scheme: string; count: number }>;
    },
  };
}
