import { chmodSync } from 'node:fs';
import type { Statement } from 'better-sqlite3';
import { ConflictError, UnavailableError } from '../../core/errors.js';
import type {
  Account,
  Admin,
  AuditEntry,
  AuditRecord,
  DomainSummary,
  LoginBatch,
  DkimKey,
  ImportedMailbox,
  LoginHistoryRow,
  NetworkSeen,
  Notice,
  Passkey,
  SessionOwner,
  Store,
  StoredDnsCheck,
} from '../../core/ports.js';
import { auditWriter } from './audit.js';
import type { Db } from './db.js';
import { translatingErrors } from '../translate-errors.js';
import { ACCOUNT_SELECT, MAX_FAILURE_ROWS, TOKEN_SELECT, toDkim, type DkimRow, MAX_NOTICES, loginRange as range, owner, toAccount, toAdmin, toApp, toDomain, toToken, type AccountRow, type AdminRow, type AppRow, type TokenRow } from '../rows.js';

const UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|READONLY|FULL|IOERR|CANTOPEN|PROTOCOL)/;

/** Maps SQLite's result codes to the core's errors, once, for every store method. */
export function translateSqliteError(err: unknown): unknown {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'string') return err;
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    return new ConflictError('conflict', 'Already exists', { cause: err });
  }
  if (UNAVAILABLE.test(code)) return new UnavailableError(undefined, { cause: err });
  return err;
}


const ADMIN_SELECT = `SELECT a.id, a.username, a.password_hash, a.password_version, a.is_super, a.disabled,
  a.must_change_password, a.created_at,
  (SELECT group_concat(domain_id) FROM admin_domains WHERE admin_id = a.id) AS domain_ids
  FROM admins a`;


/** The domain page's list and count: one kind of account of one domain, by login prefix, in login order (the index test explains these). */
export const LIST_ACCOUNTS_SQL = `${ACCOUNT_SELECT}
      WHERE a.domain_id = @domainId AND a.kind = @kind AND a.login >= @lo AND a.login < @hi
      ORDER BY a.login LIMIT @limit OFFSET @offset`;
export const COUNT_ACCOUNTS_SQL = `SELECT count(*) AS n FROM accounts
      WHERE domain_id = @domainId AND kind = @kind AND login >= @lo AND login < @hi`;


/** The Store port over one better-sqlite3 handle. Every statement is prepared once. */
/**
 * `sessions`: the connection that writes web sessions (new ones and moved expiries). The server
 * gives it one of its own with synchronous=NORMAL: a session is not worth an fsync on the event
 * loop for every login (0.3-0.9 ms each under mail load on a virtual disk, more on a slow one).
 * In WAL mode such a commit survives a crash of the process, and a power cut once any later commit
 * of the main connection (FULL) has synced the log; what a power cut can take is a login, which
 * the user repeats. Ending sessions (logout, a password change) stays on the main connection.
 */
export function createSqliteStore(db: Db, { sessions = db }: { sessions?: Db } = {}): Store {
  const q = {
    insertDomain: db.prepare('INSERT INTO domains (name, verified, created_at) VALUES (?, ?, ?) RETURNING *'),
    domainByName: db.prepare('SELECT * FROM domains WHERE name = ?'),
    listDomains: db.prepare(`SELECT d.*,
        (SELECT count(*) FROM accounts WHERE domain_id = d.id AND kind = 'mailbox') AS mailbox_count,
        (SELECT count(*) FROM accounts WHERE domain_id = d.id AND kind = 'credential') AS credential_count,
        (SELECT problems FROM dns_checks WHERE domain_id = d.id) AS dns_problems
      FROM domains d ORDER BY d.name`),
    insertAccount: db.prepare(`INSERT INTO accounts
        (kind, domain_id, login, local_part, name, guid, password_hash, created_at, updated_at)
        VALUES (@kind, @domainId, @login, @localPart, @name, @guid, @passwordHash, @now, @now) RETURNING id`),
    accountByLogin: db.prepare(`${ACCOUNT_SELECT} WHERE a.login = ?`),
    accountById: db.prepare(`${ACCOUNT_SELECT} WHERE a.id = ?`),
    credentialByGuid: db.prepare(`${ACCOUNT_SELECT} WHERE a.guid = ?`),
    accountVersion: db.prepare('SELECT id, password_version, disabled FROM accounts WHERE id = ?'),
    listAccounts: db.prepare(LIST_ACCOUNTS_SQL),
    countAccounts: db.prepare(COUNT_ACCOUNTS_SQL),
    setPassword: db.prepare(`UPDATE accounts SET password_hash = ?, password_version = password_version + 1,
      updated_at = ? WHERE id = ? RETURNING password_version`),
    setPasswordIfVersion: db.prepare(`UPDATE accounts SET password_hash = ?, password_version = password_version + 1,
      updated_at = ? WHERE id = ? AND password_version = ? RETURNING password_version`),
    setDisabled: db.prepare(`UPDATE accounts SET disabled = ?, password_version = password_version + 1, updated_at = ?
      WHERE id = ?`),
    deleteAccount: db.prepare('DELETE FROM accounts WHERE id = ?'),
    rehash: db.prepare('UPDATE accounts SET password_hash = ? WHERE id = ? AND password_version = ?'),
    recordLogin: db.prepare(`UPDATE accounts SET last_login_at = @at, last_login_ip = @ip
      WHERE id = @accountId AND (last_login_at IS NULL OR last_login_at <= @at)`),

    insertAdmin: db.prepare(`INSERT INTO admins (username, password_hash, is_super, must_change_password, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
    deleteAdminDomains: db.prepare('DELETE FROM admin_domains WHERE admin_id = ?'),
    setAdminRole: db.prepare('UPDATE admins SET is_super = ?, updated_at = ? WHERE id = ?'),
    setAdminDisabled: db.prepare(`UPDATE admins SET disabled = ?, password_version = password_version + 1, updated_at = ?
      WHERE id = ?`),
    deleteAdmin: db.prepare('DELETE FROM admins WHERE id = ?'),
    enabledSupers: db.prepare('SELECT count(*) AS n FROM admins WHERE is_super = 1 AND disabled = 0'),
    revokeTokensOf: db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE admin_id = ? AND revoked_at IS NULL'),
    insertAdminDomain: db.prepare('INSERT INTO admin_domains (admin_id, domain_id) VALUES (?, ?)'),
    adminByUsername: db.prepare(`${ADMIN_SELECT} WHERE a.username = ?`),
    adminById: db.prepare(`${ADMIN_SELECT} WHERE a.id = ?`),
    listAdmins: db.prepare(`${ADMIN_SELECT} ORDER BY a.username`),
    countAdmins: db.prepare('SELECT count(*) AS n FROM admins'),
    setAdminPassword: db.prepare(`UPDATE admins SET password_hash = ?, password_version = password_version + 1,
      must_change_password = ?, updated_at = ? WHERE id = ?`),
    rehashAdmin: db.prepare('UPDATE admins SET password_hash = ? WHERE id = ? AND password_version = ?'),

    insertToken: db.prepare(`INSERT INTO api_tokens (admin_id, name, prefix, token_hash, created_at)
      VALUES (?, ?, ?, ?, ?) RETURNING id`),
    tokenById: db.prepare(`${TOKEN_SELECT} WHERE t.id = ?`),
    tokenByHash: db.prepare(`${TOKEN_SELECT} WHERE t.token_hash = ?`),
    listTokens: db.prepare(`${TOKEN_SELECT} ORDER BY t.created_at DESC, t.id DESC`),
    listTokensOf: db.prepare(`${TOKEN_SELECT} WHERE t.admin_id = ? ORDER BY t.created_at DESC, t.id DESC`),
    revokeToken: db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
    touchToken: db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?'),

    getSession: db.prepare('SELECT data, expires_at FROM sessions WHERE key = ? AND expires_at > ?'),
    setSession: sessions.prepare(`INSERT INTO sessions (key, owner, data, expires_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, data = excluded.data, expires_at = excluded.expires_at`),
    touchSession: sessions.prepare('UPDATE sessions SET expires_at = ? WHERE key = ?'),
    destroySession: db.prepare('DELETE FROM sessions WHERE key = ?'),
    endSessionsOf: db.prepare('DELETE FROM sessions WHERE owner = ?'),
    countSessions: db.prepare('SELECT count(*) AS n FROM sessions WHERE owner = ?'),
    pruneSessions: db.prepare('DELETE FROM sessions WHERE expires_at <= ?'),

    addHistory: db.prepare(`INSERT INTO login_history (account_id, day, protocol, mechanism, result, ip, client, first_at, last_at, count)
      SELECT @accountId, @day, @protocol, @mechanism, @result, @ip, @client, @firstAt, @lastAt, @count
      WHERE EXISTS (SELECT 1 FROM accounts WHERE id = @accountId)
      ON CONFLICT (account_id, day, protocol, mechanism, result, ip) DO UPDATE SET
        count = count + excluded.count,
        first_at = min(first_at, excluded.first_at),
        client = CASE WHEN excluded.last_at >= last_at THEN excluded.client ELSE client END,
        last_at = max(last_at, excluded.last_at)`),
    countFailureRows: db.prepare("SELECT count(*) AS n FROM login_history WHERE account_id = ? AND result <> 'ok'"),
    trimFailureRows: db.prepare(`DELETE FROM login_history WHERE account_id = @accountId AND result <> 'ok' AND last_at <= (
        SELECT last_at FROM login_history WHERE account_id = @accountId AND result <> 'ok'
        ORDER BY last_at DESC LIMIT 1 OFFSET @keep)`),
    listHistory: db.prepare(`SELECT account_id, day, protocol, mechanism, result, ip, client, first_at, last_at, count
      FROM login_history WHERE account_id = ? ORDER BY last_at DESC LIMIT ?`),
    pruneHistory: db.prepare('DELETE FROM login_history WHERE last_at < ?'),
    pruneAudit: db.prepare('DELETE FROM audit_log WHERE at < ?'),
    listAudit: db.prepare('SELECT * FROM audit_log ORDER BY id DESC LIMIT ? OFFSET ?'),
    countAudit: db.prepare('SELECT count(*) AS n FROM audit_log'),
    totpOf: db.prepare("SELECT secret, last_step, created_at FROM second_factors WHERE owner = ? AND kind = 'totp'"),
    recoveryLeft: db.prepare('SELECT count(*) AS n FROM recovery_codes WHERE owner = ? AND used_at IS NULL'),
    insertTotp: db.prepare(`INSERT INTO second_factors (owner, kind, secret, last_step, created_at) VALUES (?, 'totp', ?, ?, ?)
      ON CONFLICT (owner, kind) DO UPDATE SET secret = excluded.secret, last_step = excluded.last_step, created_at = excluded.created_at`),
    deleteRecovery: db.prepare('DELETE FROM recovery_codes WHERE owner = ?'),
    insertRecovery: db.prepare('INSERT INTO recovery_codes (owner, code_hash) VALUES (?, ?)'),
    useStep: db.prepare("UPDATE second_factors SET last_step = ? WHERE owner = ? AND kind = 'totp' AND last_step < ?"),
    useRecovery: db.prepare('UPDATE recovery_codes SET used_at = ? WHERE owner = ? AND code_hash = ? AND used_at IS NULL'),
    deleteFactors: db.prepare('DELETE FROM second_factors WHERE owner = ?'),
    deletePasskeys: db.prepare('DELETE FROM passkeys WHERE owner = ?'),
    insertApp: db.prepare(`INSERT INTO app_passwords (account_id, name, tag, selector, password_hash, created_at)
      VALUES (@accountId, @name, @tag, @selector, @passwordHash, @now) RETURNING *`),
    setAppSelector: db.prepare('UPDATE app_passwords SET selector = ? WHERE id = ? AND selector IS NULL'),
    listApps: db.prepare('SELECT * FROM app_passwords WHERE account_id = ? ORDER BY created_at, id'),
    findApp: db.prepare('SELECT * FROM app_passwords WHERE account_id = ? AND tag = ?'),
    deleteApp: db.prepare('DELETE FROM app_passwords WHERE account_id = ? AND id = ?'),
    deleteApps: db.prepare('DELETE FROM app_passwords WHERE account_id = ?'),
    appLogin: db.prepare('UPDATE app_passwords SET last_login_at = @at, last_login_ip = @ip WHERE id = @appPasswordId AND (last_login_at IS NULL OR last_login_at <= @at)'),
    insertDomainIfNew: db.prepare('INSERT INTO domains (name, verified, created_at) VALUES (?, 1, ?) ON CONFLICT (name) DO NOTHING'),
    importMailbox: db.prepare(`INSERT INTO accounts (kind, domain_id, login, local_part, name, password_hash, disabled, created_at, updated_at)
      SELECT 'mailbox', d.id, @login, @localPart, @name, @passwordHash, @disabled, @now, @now FROM domains d WHERE d.name = @domain
      ON CONFLICT (login) DO NOTHING`),
    importedSchemes: db.prepare(`SELECT substr(password_hash, 2, instr(password_hash, '}') - 2) AS scheme, count(*) AS count FROM accounts
      WHERE domain_id = ? AND substr(password_hash, 1, 1) = '{' GROUP BY scheme ORDER BY scheme`),
    insertDkim: db.prepare('INSERT INTO dkim_keys (domain_id, selector, algorithm, private_key, public_key, created_at) VALUES (@domainId, @selector, @algorithm, @privateKey, @publicKey, @createdAt)'),
    listDkim: db.prepare('SELECT * FROM dkim_keys WHERE domain_id = ? ORDER BY created_at, selector'),
    deleteDkim: db.prepare('DELETE FROM dkim_keys WHERE domain_id = ? AND selector = ?'),
    saveDnsCheck: db.prepare(`INSERT INTO dns_checks (domain_id, checked_at, problems, results) VALUES (@domainId, @checkedAt, @problems, @results)
      ON CONFLICT (domain_id) DO UPDATE SET checked_at = excluded.checked_at, problems = excluded.problems, results = excluded.results`),
    dnsCheck: db.prepare('SELECT checked_at AS checkedAt, problems, results FROM dns_checks WHERE domain_id = ?'),
    insertNetwork: db.prepare('INSERT INTO login_networks (owner, network, first_at) VALUES (@owner, @network, @at) ON CONFLICT DO NOTHING'),
    hasOtherNetwork: db.prepare('SELECT 1 FROM login_networks WHERE owner = ? AND network <> ? LIMIT 1'),
    deleteNetworks: db.prepare('DELETE FROM login_networks WHERE owner = ?'),
    insertNotice: db.prepare('INSERT INTO notices (owner, kind, detail, at) VALUES (?, ?, ?, ?)'),
    trimNotices: db.prepare('DELETE FROM notices WHERE owner = ? AND id <= (SELECT id FROM notices WHERE owner = ? ORDER BY id DESC LIMIT 1 OFFSET ?)'),
    hasNotice: db.prepare('SELECT 1 FROM notices WHERE owner = ? LIMIT 1'),
    noticesOf: db.prepare('SELECT kind, detail, at FROM notices WHERE owner = ? ORDER BY id'),
    deleteNotices: db.prepare('DELETE FROM notices WHERE owner = ?'),
    listPasskeys: db.prepare('SELECT * FROM passkeys WHERE owner = ? ORDER BY created_at'),
    hasFactor: db.prepare('SELECT EXISTS (SELECT 1 FROM second_factors WHERE owner = @o) OR EXISTS (SELECT 1 FROM passkeys WHERE owner = @o) AS yes'),
    insertPasskey: db.prepare(`INSERT INTO passkeys (id, owner, public_key, counter, transports, created_at)
      VALUES (@id, @owner, @publicKey, @counter, @transports, @createdAt)`),
    usePasskey: db.prepare('UPDATE passkeys SET counter = ?, last_used_at = ? WHERE id = ? AND (counter < ? OR (counter = 0 AND ? = 0))'),
    ping: db.prepare('SELECT 1'),
    getSetting: db.prepare('SELECT value FROM settings WHERE key = ?'),
    insertSetting: db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING'),
  };

  const accountById = (id: number): Account | null => {
    const row = q.accountById.get(id) as AccountRow | undefined;
    return row ? toAccount(row) : null;
  };
  const adminById = (id: number): Admin | null => {
    const row = q.adminById.get(id) as AdminRow | undefined;
    return row ? toAdmin(row) : null;
  };

  const writeAudit = auditWriter(db);
  const setPasswordTx = db.transaction(
    (id: number, hash: string, now: number, expectedVersion: number | undefined, audit: AuditEntry | undefined): number | null => {
      const row = (
        expectedVersion === undefined ? q.setPassword.get(hash, now, id) : q.setPasswordIfVersion.get(hash, now, id, expectedVersion)
      ) as { password_version: number } | undefined;
      if (!row) return null;
      q.endSessionsOf.run(owner('mailbox', id));
      // SPEC §16: a new password revokes the app passwords made under the old one.
      q.deleteApps.run(id);
      if (audit) writeAudit(audit);
      return row.password_version;
    },
  );
  const setDisabledTx = db.transaction((id: number, disabled: boolean, now: number) => {
    q.setDisabled.run(disabled ? 1 : 0, now, id);
    q.endSessionsOf.run(owner('mailbox', id));
  });
  /** An owner's second factors go with it: a new account that reuses nothing could otherwise inherit none, but rows would linger. */
  const forgetFactors = (o: SessionOwner) => {
    q.deleteFactors.run(o);
    q.deletePasskeys.run(o);
    q.deleteRecovery.run(o);
  };
  /** What an owner leaves behind that is not tied to it by a foreign key. */
  const forgetOwner = (o: SessionOwner) => {
    q.endSessionsOf.run(o);
    forgetFactors(o);
    q.deleteNetworks.run(o);
    q.deleteNotices.run(o);
  };
  const insertAppTx = db.transaction((input: { accountId: number; name: string; tag: string; selector: string; passwordHash: string; now: number }, entry: AuditEntry) => {
    const row = q.insertApp.get(input) as AppRow;
    writeAudit(entry);
    return row;
  });
  const deleteAppTx = db.transaction((accountId: number, id: number, entry: AuditEntry) => {
    const gone = q.deleteApp.run(accountId, id).changes === 1;
    if (gone) writeAudit(entry);
    return gone;
  });
  const addPasskeyTx = db.transaction((p: Passkey, hashes: readonly string[], entry: AuditEntry) => {
    q.insertPasskey.run({ id: p.id, owner: p.owner, publicKey: Buffer.from(p.publicKey), counter: p.counter, transports: p.transports.join(','), createdAt: p.createdAt });
    q.deleteRecovery.run(p.owner);
    for (const h of hashes) q.insertRecovery.run(p.owner, h);
    writeAudit(entry);
  });
  const deleteAccountTx = db.transaction((id: number) => {
    q.deleteAccount.run(id);
    forgetOwner(owner('mailbox', id));
  });
  const addTotpTx = db.transaction((o: SessionOwner, secret: string, step: number, hashes: readonly string[], now: number, entry: AuditEntry) => {
    q.insertTotp.run(o, secret, step, now);
    q.deleteRecovery.run(o);
    for (const h of hashes) q.insertRecovery.run(o, h);
    writeAudit(entry);
  });
  const removeFactorsTx = db.transaction((o: SessionOwner, entry: AuditEntry) => {
    forgetFactors(o);
    q.endSessionsOf.run(o);
    writeAudit(entry);
  });
  const loginBatchTx = db.transaction(({ logins, rehashes, audit, history = [], appLogins = [], networks = [] }: LoginBatch): NetworkSeen[] => {
    for (const r of logins) q.recordLogin.run(r);
    for (const r of appLogins) q.appLogin.run(r);
    for (const r of rehashes) q.rehash.run(r.hash, r.accountId, r.passwordVersion);
    for (const e of audit) writeAudit(e);
    const failed = new Set<number>();
    for (const h of history) {
      q.addHistory.run(h);
      if (h.result !== 'ok') failed.add(h.accountId);
    }
    // SPEC §10: at most MAX_FAILURE_ROWS failure rows an account; the oldest go first.
    for (const accountId of failed) {
      if ((q.countFailureRows.get(accountId) as { n: number }).n > MAX_FAILURE_ROWS) q.trimFailureRows.run({ accountId, keep: MAX_FAILURE_ROWS });
    }
    // A network is new when it was not known and the owner had logged in from another before
    // (an owner's first network is nothing to tell).
    return networks.filter((n) => q.insertNetwork.run(n).changes === 1 && q.hasOtherNetwork.get(n.owner, n.network) !== undefined);
  });
  const importTx = db.transaction(({ domains, mailboxes, now }: { domains: readonly string[]; mailboxes: readonly ImportedMailbox[]; now: number }, entry: AuditEntry) => {
    for (const d of domains) q.insertDomainIfNew.run(d, now);
    let created = 0;
    for (const m of mailboxes) {
      created += q.importMailbox.run({ ...m, disabled: m.disabled ? 1 : 0, now }).changes;
    }
    writeAudit({ ...entry, detail: `${entry.detail ?? ''}created:${created}` });
    return { created, existing: mailboxes.length - created };
  });
  const insertDkimTx = db.transaction((keys: readonly DkimKey[], entry: AuditEntry) => {
    for (const k of keys) q.insertDkim.run(k);
    writeAudit(entry);
  });
  const deleteDkimTx = db.transaction((domainId: number, selector: string, entry: AuditEntry) => {
    const gone = q.deleteDkim.run(domainId, selector).changes === 1;
    if (gone) writeAudit(entry);
    return gone;
  });
  const addNoticeTx = db.transaction((o: SessionOwner, n: Notice) => {
    q.insertNotice.run(o, n.kind, n.detail, n.at);
    q.trimNotices.run(o, o, MAX_NOTICES);
  });
  const takeNoticesTx = db.transaction((o: SessionOwner) => {
    const rows = q.noticesOf.all(o) as Notice[];
    if (rows.length > 0) q.deleteNotices.run(o);
    return rows;
  });
  const audit = (entry: AuditEntry | undefined) => {
    if (entry) writeAudit(entry);
  };
  const insertAdminTx = db.transaction(
    (username: string, hash: string, isSuper: boolean, domainIds: number[], mustChange: boolean, now: number, entry?: AuditEntry): number => {
      const { id } = q.insertAdmin.get(username, hash, isSuper ? 1 : 0, mustChange ? 1 : 0, now, now) as { id: number };
      for (const d of domainIds) q.insertAdminDomain.run(id, d);
      audit(entry);
      return id;
    },
  );
  const setAdminPasswordTx = db.transaction((id: number, hash: string, now: number, mustChange: boolean, entry: AuditEntry) => {
    q.setAdminPassword.run(hash, mustChange ? 1 : 0, now, id);
    q.endSessionsOf.run(owner('admin', id));
    q.revokeTokensOf.run(now, id);
    audit(entry);
  });
  /** Whether at least one enabled super admin is left; a change that breaks it is rolled back. */
  const superLeft = () => (q.enabledSupers.get() as { n: number }).n > 0;
  class LastSuperAdmin extends Error {}
  const updateAdminTx = db.transaction((id: number, change: { isSuper: boolean; domainIds: number[] } | { disabled: boolean }, now: number, entry: AuditEntry) => {
    if ('disabled' in change) {
      q.setAdminDisabled.run(change.disabled ? 1 : 0, now, id);
      if (change.disabled) q.endSessionsOf.run(owner('admin', id));
    } else {
      q.setAdminRole.run(change.isSuper ? 1 : 0, now, id);
      q.deleteAdminDomains.run(id);
      for (const d of change.isSuper ? [] : change.domainIds) q.insertAdminDomain.run(id, d);
    }
    if (!superLeft()) throw new LastSuperAdmin();
    audit(entry);
  });
  const deleteAdminTx = db.transaction((id: number, entry: AuditEntry) => {
    forgetOwner(owner('admin', id));
    q.deleteAdmin.run(id);
    if (!superLeft()) throw new LastSuperAdmin();
    audit(entry);
  });
  const unlessLastSuper = (run: () => void) => {
    try {
      run();
      return true;
    } catch (err) {
      if (err instanceof LastSuperAdmin) return false;
      throw err;
    }
  };


  const store: Store = {
    async insertDomain(name, verified, now) {
      return toDomain(q.insertDomain.get(name, verified ? 1 : 0, now) as never);
    },
    async findDomainByName(name) {
      const row = q.domainByName.get(name) as never;
      return row ? toDomain(row) : null;
    },
    async listDomains(ids) {
      const rows = q.listDomains.all() as Array<Parameters<typeof toDomain>[0] & { mailbox_count: number; credential_count: number; dns_problems: number | null }>;
      const allowed = ids ? new Set(ids) : null;
      return rows
        .filter((r) => !allowed || allowed.has(r.id))
        .map((r): DomainSummary => ({ ...toDomain(r), mailboxCount: r.mailbox_count, credentialCount: r.credential_count, dnsProblems: r.dns_problems }));
    },

    async insertAccount(a) {
      const { id } = q.insertAccount.get(a) as { id: number };
      return accountById(id)!;
    },
    async findAccountByLogin(login) {
      const row = q.accountByLogin.get(login) as AccountRow | undefined;
      return row ? toAccount(row) : null;
    },
    async findAccountById(id) {
      return accountById(id);
    },
    async findCredentialByGuid(guid) {
      const row = q.credentialByGuid.get(guid) as AccountRow | undefined;
      return row && row.kind === 'credential' ? toAccount(row) : null;
    },
    async readAccountVersions(ids) {
      const out = new Map<number, { passwordVersion: number; disabled: boolean }>();
      for (const id of ids) {
        const row = q.accountVersion.get(id) as { id: number; password_version: number; disabled: number } | undefined;
        if (row) out.set(row.id, { passwordVersion: row.password_version, disabled: row.disabled === 1 });
      }
      return out;
    },
    async listAccounts(domainId, kind, { search, limit, offset }) {
      const params = { domainId, kind, ...range(search), limit, offset };
      const items = (q.listAccounts.all(params) as AccountRow[]).map(toAccount);
      const { n } = q.countAccounts.get(params) as { n: number };
      return { items, total: n };
    },
    async setPasswordAndEndSessions(id, hash, now, expectedVersion, audit) {
      return setPasswordTx.immediate(id, hash, now, expectedVersion, audit);
    },
    async setDisabledAndEndSessions(id, disabled, now) {
      setDisabledTx.immediate(id, disabled, now);
    },
    async deleteAccountAndEndSessions(id) {
      deleteAccountTx.immediate(id);
    },
    async applyLoginBatch(batch) {
      const size = batch.logins.length + batch.rehashes.length + batch.audit.length + (batch.history?.length ?? 0) + (batch.appLogins?.length ?? 0) + (batch.networks?.length ?? 0);
      return size > 0 ? loginBatchTx.immediate(batch) : [];
    },

    async insertAdmin({ username, passwordHash, isSuper, domainIds, mustChangePassword, now }, entry) {
      return adminById(insertAdminTx.immediate(username, passwordHash, isSuper, domainIds, mustChangePassword, now, entry))!;
    },
    async findAdminByUsername(username) {
      const row = q.adminByUsername.get(username) as AdminRow | undefined;
      return row ? toAdmin(row) : null;
    },
    async findAdminById(id) {
      return adminById(id);
    },
    async listAdmins() {
      return (q.listAdmins.all() as AdminRow[]).map(toAdmin);
    },
    async countAdmins() {
      return (q.countAdmins.get() as { n: number }).n;
    },
    async setAdminPasswordAndEndSessions(id, hash, now, { mustChangePassword, audit: entry }) {
      setAdminPasswordTx.immediate(id, hash, now, mustChangePassword, entry);
    },
    async updateAdmin(id, change, now, entry) {
      return unlessLastSuper(() => updateAdminTx.immediate(id, change, now, entry));
    },
    async deleteAdmin(id, entry) {
      return unlessLastSuper(() => deleteAdminTx.immediate(id, entry));
    },
    async rehashAdminPassword(id, version, hash) {
      q.rehashAdmin.run(hash, id, version);
    },

    async insertToken({ adminId, name, prefix, tokenHash, now }) {
      const { id } = q.insertToken.get(adminId, name, prefix, tokenHash, now) as { id: number };
      return toToken(q.tokenById.get(id) as TokenRow);
    },
    async findTokenByHash(tokenHash) {
      const row = q.tokenByHash.get(tokenHash) as TokenRow | undefined;
      return row ? toToken(row) : null;
    },
    async listTokens(adminId) {
      const rows = (adminId === undefined ? q.listTokens.all() : q.listTokensOf.all(adminId)) as TokenRow[];
      return rows.map(toToken);
    },
    async revokeToken(id, now) {
      q.revokeToken.run(now, id);
    },
    async touchToken(id, now) {
      q.touchToken.run(now, id);
    },

    async getSession(key, now) {
      const row = q.getSession.get(key, now) as { data: string; expires_at: number } | undefined;
      return row ? { data: row.data, expiresAt: row.expires_at } : null;
    },
    async setSession(key, sessionOwner, data, expiresAt) {
      q.setSession.run(key, sessionOwner, data, expiresAt);
    },
    async touchSession(key, expiresAt) {
      q.touchSession.run(expiresAt, key);
    },
    async destroySession(key) {
      q.destroySession.run(key);
    },
    async countSessions(sessionOwner) {
      return (q.countSessions.get(sessionOwner) as { n: number }).n;
    },
    async pruneSessions(now) {
      return q.pruneSessions.run(now).changes;
    },

    async appendAudit(entry) {
      writeAudit(entry);
    },
    async listLoginHistory(accountId, limit) {
      const rows = q.listHistory.all(accountId, limit) as Array<{ account_id: number; day: number; protocol: string; mechanism: string; result: LoginHistoryRow['result']; ip: string; client: string; first_at: number; last_at: number; count: number }>;
      return rows.map((r) => ({ accountId: r.account_id, day: r.day, protocol: r.protocol, mechanism: r.mechanism, result: r.result, ip: r.ip, client: r.client, firstAt: r.first_at, lastAt: r.last_at, count: r.count }));
    },
    async pruneHistory(historyBefore, auditBefore) {
      return { history: q.pruneHistory.run(historyBefore).changes, audit: q.pruneAudit.run(auditBefore).changes };
    },
    async listAudit({ limit, offset }) {
      const items = (q.listAudit.all(limit, offset) as AuditRecord[]).map((r) => ({ ...r }));
      return { items, total: (q.countAudit.get() as { n: number }).n };
    },

    async importMailboxes(input, entry) {
      return importTx.immediate(input, entry);
    },
    async countImportedSchemes(domainId) {
      return q.importedSchemes.all(domainId) as Array<{ scheme: string; count: number }>;
    },

    async insertDkimKeys(keys, entry) {
      insertDkimTx.immediate(keys, entry);
    },
    async listDkimKeys(domainId) {
      return (q.listDkim.all(domainId) as DkimRow[]).map(toDkim);
    },
    async deleteDkimKey(domainId, selector, entry) {
      return deleteDkimTx.immediate(domainId, selector, entry);
    },
    async saveDnsCheck(domainId, check) {
      q.saveDnsCheck.run({ domainId, ...check });
    },
    async getDnsCheck(domainId) {
      return (q.dnsCheck.get(domainId) as StoredDnsCheck | undefined) ?? null;
    },

    async addNotice(o, notice) {
      addNoticeTx.immediate(o, notice);
    },
    async takeNotices(o) {
      // Most visits find none: a read, not a write transaction.
      if (!q.hasNotice.get(o)) return [];
      return takeNoticesTx.immediate(o);
    },

    async readSetting(key) {
      return (q.getSetting.get(key) as { value: string } | undefined)?.value ?? null;
    },
    async rewriteSecrets(rewrite) {
      // Read first: a start that has nothing to rewrite (every start but the first) takes no write lock.
      const updates: Array<[Statement, unknown[]]> = [];
      for (const r of db.prepare('SELECT key, value FROM settings').all() as Array<{ key: string; value: string }>) {
        const v = rewrite('setting', r.key, r.value);
        if (v !== null) updates.push([db.prepare('UPDATE settings SET value = ? WHERE key = ? AND value = ?'), [v, r.key, r.value]]);
      }
      for (const r of db.prepare('SELECT owner, kind, secret FROM second_factors').all() as Array<{ owner: string; kind: string; secret: string }>) {
        const v = rewrite('totp', r.owner, r.secret);
        if (v !== null) updates.push([db.prepare('UPDATE second_factors SET secret = ? WHERE owner = ? AND kind = ? AND secret = ?'), [v, r.owner, r.kind, r.secret]]);
      }
      for (const r of db.prepare('SELECT domain_id, selector, private_key FROM dkim_keys').all() as Array<{ domain_id: number; selector: string; private_key: string }>) {
        const v = rewrite('dkim', `${r.domain_id}:${r.selector}`, r.private_key);
        if (v !== null) updates.push([db.prepare('UPDATE dkim_keys SET private_key = ? WHERE domain_id = ? AND selector = ? AND private_key = ?'), [v, r.domain_id, r.selector, r.private_key]]);
      }
      if (updates.length === 0) return 0;
      // Each update names the value it read: one another process rewrote meanwhile is left alone.
      return db.transaction(() => updates.reduce((n, [statement, params]) => n + statement.run(...params).changes, 0)).immediate();
    },
    async getOrCreateSetting(key, create) {
      const existing = q.getSetting.get(key) as { value: string } | undefined;
      if (existing) return existing.value;
      q.insertSetting.run(key, create());
      return (q.getSetting.get(key) as { value: string }).value;
    },
    async getSecondFactors(o) {
      const row = q.totpOf.get(o) as { secret: string; last_step: number; created_at: number } | undefined;
      return { totp: row ? { secret: row.secret, lastStep: row.last_step, createdAt: row.created_at } : null, recoveryLeft: (q.recoveryLeft.get(o) as { n: number }).n };
    },
    async addTotp(o, secret, step, hashes, now, entry) {
      addTotpTx.immediate(o, secret, step, hashes, now, entry);
    },
    async useTotpStep(o, step) {
      return q.useStep.run(step, o, step).changes === 1;
    },
    async useRecoveryCode(o, hash, now) {
      return q.useRecovery.run(now, o, hash).changes === 1;
    },
    async insertAppPassword(input, entry) {
      return toApp(insertAppTx.immediate(input, entry));
    },
    async setAppPasswordSelector(id, selector) {
      q.setAppSelector.run(selector, id);
    },
    async listAppPasswords(accountId) {
      return (q.listApps.all(accountId) as AppRow[]).map(toApp);
    },
    async findAppPassword(accountId, tag) {
      const row = q.findApp.get(accountId, tag) as AppRow | undefined;
      return row ? toApp(row) : null;
    },
    async deleteAppPassword(accountId, id, entry) {
      return deleteAppTx.immediate(accountId, id, entry);
    },
    async hasSecondFactor(o) {
      return (q.hasFactor.get({ o }) as { yes: number }).yes === 1;
    },
    async listPasskeys(o) {
      const rows = q.listPasskeys.all(o) as Array<{ id: string; owner: SessionOwner; public_key: Buffer; counter: number; transports: string; created_at: number; last_used_at: number | null }>;
      return rows.map((r) => ({ id: r.id, owner: r.owner, publicKey: new Uint8Array(r.public_key), counter: r.counter, transports: r.transports ? r.transports.split(',') : [], createdAt: r.created_at, lastUsedAt: r.last_used_at }));
    },
    async addPasskey(p, hashes, entry) {
      addPasskeyTx.immediate(p, hashes, entry);
    },
    async usePasskey(id, counter, now) {
      return q.usePasskey.run(counter, now, id, counter, counter).changes === 1;
    },
    async removeSecondFactors(o, entry) {
      removeFactorsTx.immediate(o, entry);
    },
    async backup(file) {
      await db.backup(file);
      // A backup holds every hash and key of the installation: its owner's only.
      chmodSync(file, 0o600);
    },
    async ping() {
      q.ping.get();
    },
    close() {
      if (sessions.open) sessions.close();
      if (db.open) db.close();
    },
  };

  return translatingErrors(store, translateSqliteError);
}
