import type pg from 'pg';
import { ConflictError, UnavailableError } from '../../core/errors.js';
import type { AuditRecord, DomainSummary, LoginHistoryRow, NetworkSeen, Notice, Passkey, SessionOwner, Store, StoredDnsCheck } from '../../core/ports.js';
import { translatingErrors } from '../translate-errors.js';
import { appendAudit, printable } from './audit.js';
import { inTransaction } from './db.js';
import { ACCOUNT_SELECT, MAX_FAILURE_ROWS, TOKEN_SELECT, toDkim, type DkimRow, MAX_NOTICES, loginRange, owner, toAccount, toAdmin, toApp, toDomain, toToken, type AccountRow, type AdminRow, type AppRow, type TokenRow } from '../rows.js';

type Q = Pick<pg.PoolClient, 'query'>;

// Class 08: connection exceptions; 53: insufficient resources; 57P: the server shutting down;
// 55P03: lock_timeout; 40001/40P01: serialization failure and deadlock (the caller may retry).
const UNAVAILABLE_STATE = /^(08|53|57P|55P03|40001|40P01)/;
const UNAVAILABLE_CODE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

/** Maps PostgreSQL's errors to the core's, once, for every store method. */
export function translatePgError(err: unknown): unknown {
  const code = (err as { code?: unknown })?.code;
  if (code === '23505') return new ConflictError('conflict', 'Already exists', { cause: err });
  if (typeof code === 'string' && (UNAVAILABLE_STATE.test(code) || UNAVAILABLE_CODE.has(code))) return new UnavailableError(undefined, { cause: err });
  // The pool's own failures (a connection timeout, a connection that ended) carry no code.
  if (err instanceof Error && /timeout exceeded when trying to connect|Connection terminated|connection ended/i.test(err.message)) return new UnavailableError(undefined, { cause: err });
  return err;
}


const ADMIN_SELECT = `SELECT a.id, a.username, a.password_hash, a.password_version, a.is_super, a.disabled,
  a.must_change_password, a.created_at,
  (SELECT string_agg(domain_id::text, ',') FROM admin_domains WHERE admin_id = a.id) AS domain_ids
  FROM admins a`;


/** One lock for the changes that must leave an enabled super admin: they run one at a time. */
const ADMINS_LOCK = 7_316_043;

class LastSuperAdmin extends Error {}

/** The Store port over a node-postgres pool (SPEC §12): the same operations, transactions and answers as SQLite's. */
export function createPostgresStore(pool: pg.Pool): Store {
  // PostgreSQL's text holds no NUL, and no stored value has one (names are refused with it before
  // they reach a store): a lookup or change keyed by a value with a NUL finds no row, as on SQLite.
  const hasNul = (params: unknown[]) => params.some((p) => typeof p === 'string' && p.includes('\0'));
  const rows = async <T>(sql: string, params: unknown[] = [], c: Q = pool) => (hasNul(params) ? [] : ((await c.query(sql, params)).rows as T[]));
  const one = async <T>(sql: string, params: unknown[] = [], c: Q = pool) => (await rows<T>(sql, params, c))[0];
  const run = async (sql: string, params: unknown[] = [], c: Q = pool) => (hasNul(params) ? 0 : ((await c.query(sql, params)).rowCount ?? 0));

  const tx = <T>(fn: (c: Q) => Promise<T>) => inTransaction(pool, fn);

  const endSessionsOf = (c: Q, o: SessionOwner) => run('DELETE FROM sessions WHERE owner = $1', [o], c);
  const forgetFactors = async (c: Q, o: SessionOwner) => {
    await run('DELETE FROM second_factors WHERE owner = $1', [o], c);
    await run('DELETE FROM passkeys WHERE owner = $1', [o], c);
    await run('DELETE FROM recovery_codes WHERE owner = $1', [o], c);
  };
  const forgetOwner = async (c: Q, o: SessionOwner) => {
    await endSessionsOf(c, o);
    await forgetFactors(c, o);
    await run('DELETE FROM login_networks WHERE owner = $1', [o], c);
    await run('DELETE FROM notices WHERE owner = $1', [o], c);
  };
  const setRecovery = async (c: Q, o: SessionOwner, hashes: readonly string[]) => {
    await run('DELETE FROM recovery_codes WHERE owner = $1', [o], c);
    if (hashes.length > 0) await run('INSERT INTO recovery_codes (owner, code_hash) SELECT $1, unnest($2::text[])', [o, hashes], c);
  };
  const accountById = async (id: number, c: Q = pool) => {
    const row = await one<AccountRow>(`${ACCOUNT_SELECT} WHERE a.id = $1`, [id], c);
    return row ? toAccount(row) : null;
  };
  const adminById = async (id: number) => {
    const row = await one<AdminRow>(`${ADMIN_SELECT} WHERE a.id = $1`, [id]);
    return row ? toAdmin(row) : null;
  };
  /** Runs an admin change that must leave an enabled super admin; false (rolled back) when it would not. */
  const unlessLastSuper = async (change: (c: Q) => Promise<void>) => {
    try {
      await tx(async (c) => {
        await c.query('SELECT pg_advisory_xact_lock($1)', [ADMINS_LOCK]);
        await change(c);
        const { n } = (await one<{ n: number }>('SELECT count(*) AS n FROM admins WHERE is_super = 1 AND disabled = 0', [], c))!;
        if (n === 0) throw new LastSuperAdmin();
      });
      return true;
    } catch (err) {
      if (err instanceof LastSuperAdmin) return false;
      throw err;
    }
  };

  const store: Store = {
    async insertDomain(name, verified, now) {
      return toDomain((await one('INSERT INTO domains (name, verified, created_at) VALUES ($1, $2, $3) RETURNING *', [name, verified ? 1 : 0, now]))!);
    },
    async findDomainByName(name) {
      const row = await one<Parameters<typeof toDomain>[0]>('SELECT * FROM domains WHERE name = $1', [name]);
      return row ? toDomain(row) : null;
    },
    async listDomains(ids) {
      const list = await rows<Parameters<typeof toDomain>[0] & { mailbox_count: number; credential_count: number; dns_problems: number | null }>(
        `SELECT d.*,
          (SELECT count(*) FROM accounts WHERE domain_id = d.id AND kind = 'mailbox') AS mailbox_count,
          (SELECT count(*) FROM accounts WHERE domain_id = d.id AND kind = 'credential') AS credential_count,
          (SELECT problems FROM dns_checks WHERE domain_id = d.id) AS dns_problems
        FROM domains d WHERE $1::bigint[] IS NULL OR d.id = ANY ($1::bigint[]) ORDER BY d.name`,
        [ids ? [...ids] : null],
      );
      return list.map((r): DomainSummary => ({ ...toDomain(r), mailboxCount: r.mailbox_count, credentialCount: r.credential_count, dnsProblems: r.dns_problems }));
    },

    async insertAccount(a) {
      const { id } = (await one<{ id: number }>(
        `INSERT INTO accounts (kind, domain_id, login, local_part, name, guid, password_hash, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id`,
        [a.kind, a.domainId, a.login, a.localPart, a.name, a.guid, a.passwordHash, a.now],
      ))!;
      return (await accountById(id))!;
    },
    async findAccountByLogin(login) {
      const row = await one<AccountRow>(`${ACCOUNT_SELECT} WHERE a.login = $1`, [login]);
      return row ? toAccount(row) : null;
    },
    findAccountById: (id) => accountById(id),
    async findCredentialByGuid(guid) {
      const row = await one<AccountRow>(`${ACCOUNT_SELECT} WHERE a.guid = $1`, [guid]);
      return row && row.kind === 'credential' ? toAccount(row) : null;
    },
    async readAccountVersions(ids) {
      const list = await rows<{ id: number; password_version: number; disabled: number }>('SELECT id, password_version, disabled FROM accounts WHERE id = ANY ($1::bigint[])', [[...ids]]);
      return new Map(list.map((r) => [r.id, { passwordVersion: r.password_version, disabled: r.disabled === 1 }]));
    },
    async listAccounts(domainId, kind, { search, limit, offset }) {
      const { lo, hi } = loginRange(search);
      if (lo.includes('\0')) return { items: [], total: 0 };
      const where = 'WHERE a.domain_id = $1 AND a.kind = $2 AND a.login >= $3 AND a.login < $4';
      const items = await rows<AccountRow>(`${ACCOUNT_SELECT} ${where} ORDER BY a.login LIMIT $5 OFFSET $6`, [domainId, kind, lo, hi, limit, offset]);
      const { n } = (await one<{ n: number }>(`SELECT count(*) AS n FROM accounts a ${where}`, [domainId, kind, lo, hi]))!;
      return { items: items.map(toAccount), total: n };
    },
    async setPasswordAndEndSessions(id, hash, now, expectedVersion, entry) {
      return tx(async (c) => {
        const row = await one<{ password_version: number }>(
          `UPDATE accounts SET password_hash = $1, password_version = password_version + 1, updated_at = $2
           WHERE id = $3 AND ($4::bigint IS NULL OR password_version = $4) RETURNING password_version`,
          [hash, now, id, expectedVersion ?? null],
          c,
        );
        if (!row) return null;
        await endSessionsOf(c, owner('mailbox', id));
        // SPEC §16: a new password revokes the app passwords made under the old one.
        await run('DELETE FROM app_passwords WHERE account_id = $1', [id], c);
        if (entry) await appendAudit(c, entry);
        return row.password_version;
      });
    },
    async setDisabledAndEndSessions(id, disabled, now) {
      await tx(async (c) => {
        await run('UPDATE accounts SET disabled = $1, password_version = password_version + 1, updated_at = $2 WHERE id = $3', [disabled ? 1 : 0, now, id], c);
        await endSessionsOf(c, owner('mailbox', id));
      });
    },
    async deleteAccountAndEndSessions(id) {
      await tx(async (c) => {
        await run('DELETE FROM accounts WHERE id = $1', [id], c);
        await forgetOwner(c, owner('mailbox', id));
      });
    },
    async applyLoginBatch({ logins, rehashes, audit, history = [], appLogins = [], networks = [] }) {
      if (logins.length + rehashes.length + audit.length + history.length + appLogins.length + networks.length === 0) return [];
      return tx(async (c) => {
        // Each kind of row in one statement over arrays: a batch costs a few round trips, whatever its size.
        if (logins.length > 0) {
          await run(
            `UPDATE accounts a SET last_login_at = r.at, last_login_ip = r.ip
             FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS r (id, at, ip)
             WHERE a.id = r.id AND (a.last_login_at IS NULL OR a.last_login_at <= r.at)`,
            [logins.map((r) => r.accountId), logins.map((r) => r.at), logins.map((r) => r.ip)],
            c,
          );
        }
        if (appLogins.length > 0) {
          await run(
            `UPDATE app_passwords p SET last_login_at = r.at, last_login_ip = r.ip
             FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS r (id, at, ip)
             WHERE p.id = r.id AND (p.last_login_at IS NULL OR p.last_login_at <= r.at)`,
            [appLogins.map((r) => r.appPasswordId), appLogins.map((r) => r.at), appLogins.map((r) => r.ip)],
            c,
          );
        }
        for (const r of rehashes) await run('UPDATE accounts SET password_hash = $1 WHERE id = $2 AND password_version = $3', [r.hash, r.accountId, r.passwordVersion], c);
        if (audit.length > 0) {
          await run(
            'INSERT INTO audit_log (at, actor, action, target, ip, detail) SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])',
            [audit.map((e) => e.at), audit.map((e) => printable(e.actor)), audit.map((e) => e.action), audit.map((e) => printable(e.target)), audit.map((e) => e.ip), audit.map((e) => printable(e.detail))],
            c,
          );
        }
        if (history.length > 0) {
          const col = <K extends keyof LoginHistoryRow>(k: K) => history.map((h) => h[k]);
          await run(
            `INSERT INTO login_history AS h (account_id, day, protocol, mechanism, result, ip, client, first_at, last_at, count)
             SELECT r.* FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[])
               AS r (account_id, day, protocol, mechanism, result, ip, client, first_at, last_at, count)
             WHERE EXISTS (SELECT 1 FROM accounts WHERE id = r.account_id)
             ON CONFLICT (account_id, day, protocol, mechanism, result, ip) DO UPDATE SET
               count = h.count + excluded.count,
               first_at = LEAST(h.first_at, excluded.first_at),
               client = CASE WHEN excluded.last_at >= h.last_at THEN excluded.client ELSE h.client END,
               last_at = GREATEST(h.last_at, excluded.last_at)`,
            [col('accountId'), col('day'), col('protocol'), col('mechanism'), col('result'), col('ip'), col('client'), col('firstAt'), col('lastAt'), col('count')],
            c,
          );
          // SPEC §10: at most MAX_FAILURE_ROWS failure rows an account; the oldest go first.
          for (const accountId of new Set(history.filter((h) => h.result !== 'ok').map((h) => h.accountId))) {
            await run(
              `DELETE FROM login_history WHERE account_id = $1 AND result <> 'ok' AND last_at <= (
                 SELECT last_at FROM login_history WHERE account_id = $1 AND result <> 'ok' ORDER BY last_at DESC LIMIT 1 OFFSET $2)`,
              [accountId, MAX_FAILURE_ROWS],
              c,
            );
          }
        }
        if (networks.length === 0) return [];
        // New for an owner that had logged in from another network before (a first network is nothing to tell).
        const fresh = await rows<{ owner: string; network: string }>(
          `WITH added AS (
             INSERT INTO login_networks (owner, network, first_at) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
             ON CONFLICT DO NOTHING RETURNING owner, network)
           SELECT owner, network FROM added a
           WHERE EXISTS (SELECT 1 FROM login_networks n WHERE n.owner = a.owner AND n.network <> a.network)`,
          [networks.map((n) => n.owner), networks.map((n) => n.network), networks.map((n) => n.at)],
          c,
        );
        const isFresh = new Set(fresh.map((f) => `${f.owner}\0${f.network}`));
        return networks.filter((n: NetworkSeen) => isFresh.has(`${n.owner}\0${n.network}`));
      });
    },

    async insertAdmin({ username, passwordHash, isSuper, domainIds, mustChangePassword, now }, entry) {
      const id = await tx(async (c) => {
        const { id } = (await one<{ id: number }>(
          'INSERT INTO admins (username, password_hash, is_super, must_change_password, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id',
          [username, passwordHash, isSuper ? 1 : 0, mustChangePassword ? 1 : 0, now],
          c,
        ))!;
        if (domainIds.length > 0) await run('INSERT INTO admin_domains (admin_id, domain_id) SELECT $1, unnest($2::bigint[])', [id, domainIds], c);
        if (entry) await appendAudit(c, entry);
        return id;
      });
      return (await adminById(id))!;
    },
    async findAdminByUsername(username) {
      const row = await one<AdminRow>(`${ADMIN_SELECT} WHERE a.username = $1`, [username]);
      return row ? toAdmin(row) : null;
    },
    findAdminById: (id) => adminById(id),
    async listAdmins() {
      return (await rows<AdminRow>(`${ADMIN_SELECT} ORDER BY a.username`)).map(toAdmin);
    },
    async countAdmins() {
      return (await one<{ n: number }>('SELECT count(*) AS n FROM admins'))!.n;
    },
    async setAdminPasswordAndEndSessions(id, hash, now, { mustChangePassword, audit: entry }) {
      await tx(async (c) => {
        await run('UPDATE admins SET password_hash = $1, password_version = password_version + 1, must_change_password = $2, updated_at = $3 WHERE id = $4', [hash, mustChangePassword ? 1 : 0, now, id], c);
        await endSessionsOf(c, owner('admin', id));
        await run('UPDATE api_tokens SET revoked_at = $1 WHERE admin_id = $2 AND revoked_at IS NULL', [now, id], c);
        await appendAudit(c, entry);
      });
    },
    async updateAdmin(id, change, now, entry) {
      return unlessLastSuper(async (c) => {
        if ('disabled' in change) {
          await run('UPDATE admins SET disabled = $1, password_version = password_version + 1, updated_at = $2 WHERE id = $3', [change.disabled ? 1 : 0, now, id], c);
          if (change.disabled) await endSessionsOf(c, owner('admin', id));
        } else {
          await run('UPDATE admins SET is_super = $1, updated_at = $2 WHERE id = $3', [change.isSuper ? 1 : 0, now, id], c);
          await run('DELETE FROM admin_domains WHERE admin_id = $1', [id], c);
          if (!change.isSuper && change.domainIds.length > 0) await run('INSERT INTO admin_domains (admin_id, domain_id) SELECT $1, unnest($2::bigint[])', [id, change.domainIds], c);
        }
        await appendAudit(c, entry);
      });
    },
    async deleteAdmin(id, entry) {
      return unlessLastSuper(async (c) => {
        await forgetOwner(c, owner('admin', id));
        await run('DELETE FROM admins WHERE id = $1', [id], c);
        await appendAudit(c, entry);
      });
    },
    async rehashAdminPassword(id, version, hash) {
      await run('UPDATE admins SET password_hash = $1 WHERE id = $2 AND password_version = $3', [hash, id, version]);
    },

    async insertToken({ adminId, name, prefix, tokenHash, now }) {
      const { id } = (await one<{ id: number }>('INSERT INTO api_tokens (admin_id, name, prefix, token_hash, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id', [adminId, name, prefix, tokenHash, now]))!;
      return toToken((await one<TokenRow>(`${TOKEN_SELECT} WHERE t.id = $1`, [id]))!);
    },
    async findTokenByHash(tokenHash) {
      const row = await one<TokenRow>(`${TOKEN_SELECT} WHERE t.token_hash = $1`, [tokenHash]);
      return row ? toToken(row) : null;
    },
    async listTokens(adminId) {
      const list = await rows<TokenRow>(`${TOKEN_SELECT} WHERE $1::bigint IS NULL OR t.admin_id = $1 ORDER BY t.created_at DESC, t.id DESC`, [adminId ?? null]);
      return list.map(toToken);
    },
    async revokeToken(id, now) {
      await run('UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [now, id]);
    },
    async touchToken(id, now) {
      await run('UPDATE api_tokens SET last_used_at = $1 WHERE id = $2', [now, id]);
    },

    async getSession(key, now) {
      const row = await one<{ data: string; expires_at: number }>('SELECT data, expires_at FROM sessions WHERE key = $1 AND expires_at > $2', [key, now]);
      return row ? { data: row.data, expiresAt: row.expires_at } : null;
    },
    async setSession(key, sessionOwner, data, expiresAt) {
      await run(
        `INSERT INTO sessions (key, owner, data, expires_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, data = excluded.data, expires_at = excluded.expires_at`,
        [key, sessionOwner, data, expiresAt],
      );
    },
    async touchSession(key, expiresAt) {
      await run('UPDATE sessions SET expires_at = $1 WHERE key = $2', [expiresAt, key]);
    },
    async destroySession(key) {
      await run('DELETE FROM sessions WHERE key = $1', [key]);
    },
    async countSessions(sessionOwner) {
      return (await one<{ n: number }>('SELECT count(*) AS n FROM sessions WHERE owner = $1', [sessionOwner]))!.n;
    },
    async pruneSessions(now) {
      return run('DELETE FROM sessions WHERE expires_at <= $1', [now]);
    },

    async appendAudit(entry) {
      await appendAudit(pool, entry);
    },
    async listLoginHistory(accountId, limit) {
      const list = await rows<{ account_id: number; day: number; protocol: string; mechanism: string; result: LoginHistoryRow['result']; ip: string; client: string; first_at: number; last_at: number; count: number }>(
        'SELECT * FROM login_history WHERE account_id = $1 ORDER BY last_at DESC LIMIT $2',
        [accountId, limit],
      );
      return list.map((r) => ({ accountId: r.account_id, day: r.day, protocol: r.protocol, mechanism: r.mechanism, result: r.result, ip: r.ip, client: r.client, firstAt: r.first_at, lastAt: r.last_at, count: r.count }));
    },
    async pruneHistory(historyBefore, auditBefore) {
      return { history: await run('DELETE FROM login_history WHERE last_at < $1', [historyBefore]), audit: await run('DELETE FROM audit_log WHERE at < $1', [auditBefore]) };
    },
    async listAudit({ limit, offset }) {
      const items = await rows<AuditRecord>('SELECT * FROM audit_log ORDER BY id DESC LIMIT $1 OFFSET $2', [limit, offset]);
      return { items, total: (await one<{ n: number }>('SELECT count(*) AS n FROM audit_log'))!.n };
    },

    async importMailboxes({ domains, mailboxes, now }, entry) {
      return tx(async (c) => {
        if (domains.length > 0) await run('INSERT INTO domains (name, verified, created_at) SELECT unnest($1::text[]), 1, $2 ON CONFLICT (name) DO NOTHING', [domains, now], c);
        let created = 0;
        for (const m of mailboxes) {
          created += await run(
            `INSERT INTO accounts (kind, domain_id, login, local_part, name, password_hash, disabled, created_at, updated_at)
             SELECT 'mailbox', d.id, $1, $2, $3, $4, $5, $6, $6 FROM domains d WHERE d.name = $7 ON CONFLICT (login) DO NOTHING`,
            [m.login, m.localPart, m.name, m.passwordHash, m.disabled ? 1 : 0, now, m.domain],
            c,
          );
        }
        await appendAudit(c, { ...entry, detail: `${entry.detail ?? ''}created:${created}` });
        return { created, existing: mailboxes.length - created };
      });
    },
    async countImportedSchemes(domainId) {
      return rows<{ scheme: string; count: number }>(
        `SELECT substr(password_hash, 2, position('}' in password_hash) - 2) AS scheme, count(*) AS count FROM accounts
         WHERE domain_id = $1 AND substr(password_hash, 1, 1) = '{' GROUP BY 1 ORDER BY 1`,
        [domainId],
      );
    },

    async insertDkimKeys(keys, entry) {
      await tx(async (c) => {
        for (const k of keys) {
          await run('INSERT INTO dkim_keys (domain_id, selector, algorithm, private_key, public_key, created_at) VALUES ($1, $2, $3, $4, $5, $6)', [k.domainId, k.selector, k.algorithm, k.privateKey, k.publicKey, k.createdAt], c);
        }
        await appendAudit(c, entry);
      });
    },
    async listDkimKeys(domainId) {
      return (await rows<DkimRow>('SELECT * FROM dkim_keys WHERE domain_id = $1 ORDER BY created_at, selector COLLATE "C"', [domainId])).map(toDkim);
    },
    async deleteDkimKey(domainId, selector, entry) {
      return tx(async (c) => {
        const gone = (await run('DELETE FROM dkim_keys WHERE domain_id = $1 AND selector = $2', [domainId, selector], c)) === 1;
        if (gone) await appendAudit(c, entry);
        return gone;
      });
    },
    async saveDnsCheck(domainId, check) {
      await run(
        `INSERT INTO dns_checks (domain_id, checked_at, problems, results) VALUES ($1, $2, $3, $4)
         ON CONFLICT (domain_id) DO UPDATE SET checked_at = excluded.checked_at, problems = excluded.problems, results = excluded.results`,
        [domainId, check.checkedAt, check.problems, check.results],
      );
    },
    async getDnsCheck(domainId) {
      return (await one<StoredDnsCheck>('SELECT checked_at AS "checkedAt", problems, results FROM dns_checks WHERE domain_id = $1', [domainId])) ?? null;
    },

    async addNotice(o, n) {
      await tx(async (c) => {
        await run('INSERT INTO notices (owner, kind, detail, at) VALUES ($1, $2, $3, $4)', [o, n.kind, n.detail, n.at], c);
        await run('DELETE FROM notices WHERE owner = $1 AND id <= (SELECT id FROM notices WHERE owner = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)', [o, MAX_NOTICES], c);
      });
    },
    async takeNotices(o) {
      // One statement: two nodes serving the same owner show each notice once.
      return rows<Notice>('WITH taken AS (DELETE FROM notices WHERE owner = $1 RETURNING id, kind, detail, at) SELECT kind, detail, at FROM taken ORDER BY id', [o]);
    },

    async readSetting(key) {
      return (await one<{ value: string }>('SELECT value FROM settings WHERE key = $1', [key]))?.value ?? null;
    },
    async rewriteSecrets(rewrite) {
      // Read first: a start that has nothing to rewrite (every start but the first) writes nothing.
      const updates: Array<[string, unknown[]]> = [];
      for (const r of await rows<{ key: string; value: string }>('SELECT key, value FROM settings')) {
        const v = rewrite('setting', r.key, r.value);
        if (v !== null) updates.push(['UPDATE settings SET value = $1 WHERE key = $2 AND value = $3', [v, r.key, r.value]]);
      }
      for (const r of await rows<{ owner: string; kind: string; secret: string }>('SELECT owner, kind, secret FROM second_factors')) {
        const v = rewrite('totp', r.owner, r.secret);
        if (v !== null) updates.push(['UPDATE second_factors SET secret = $1 WHERE owner = $2 AND kind = $3 AND secret = $4', [v, r.owner, r.kind, r.secret]]);
      }
      for (const r of await rows<{ domain_id: number; selector: string; private_key: string }>('SELECT domain_id, selector, private_key FROM dkim_keys')) {
        const v = rewrite('dkim', `${r.domain_id}:${r.selector}`, r.private_key);
        if (v !== null) updates.push(['UPDATE dkim_keys SET private_key = $1 WHERE domain_id = $2 AND selector = $3 AND private_key = $4', [v, r.domain_id, r.selector, r.private_key]]);
      }
      if (updates.length === 0) return 0;
      // Each update names the value it read: one another node rewrote meanwhile is left alone.
      return tx(async (c) => {
        let n = 0;
        for (const [sql, params] of updates) n += await run(sql, params, c);
        return n;
      });
    },
    async getOrCreateSetting(key, create) {
      const existing = await one<{ value: string }>('SELECT value FROM settings WHERE key = $1', [key]);
      if (existing) return existing.value;
      await run('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, create()]);
      return (await one<{ value: string }>('SELECT value FROM settings WHERE key = $1', [key]))!.value;
    },
    async getSecondFactors(o) {
      const row = await one<{ secret: string; last_step: number; created_at: number }>("SELECT secret, last_step, created_at FROM second_factors WHERE owner = $1 AND kind = 'totp'", [o]);
      const { n } = (await one<{ n: number }>('SELECT count(*) AS n FROM recovery_codes WHERE owner = $1 AND used_at IS NULL', [o]))!;
      return { totp: row ? { secret: row.secret, lastStep: row.last_step, createdAt: row.created_at } : null, recoveryLeft: n };
    },
    async addTotp(o, secret, step, hashes, now, entry) {
      await tx(async (c) => {
        await run(
          `INSERT INTO second_factors (owner, kind, secret, last_step, created_at) VALUES ($1, 'totp', $2, $3, $4)
           ON CONFLICT (owner, kind) DO UPDATE SET secret = excluded.secret, last_step = excluded.last_step, created_at = excluded.created_at`,
          [o, secret, step, now],
          c,
        );
        await setRecovery(c, o, hashes);
        await appendAudit(c, entry);
      });
    },
    async useTotpStep(o, step) {
      return (await run("UPDATE second_factors SET last_step = $1 WHERE owner = $2 AND kind = 'totp' AND last_step < $1", [step, o])) === 1;
    },
    async useRecoveryCode(o, hash, now) {
      return (await run('UPDATE recovery_codes SET used_at = $1 WHERE owner = $2 AND code_hash = $3 AND used_at IS NULL', [now, o, hash])) === 1;
    },
    async insertAppPassword({ accountId, name, tag, selector, passwordHash, now }, entry) {
      return tx(async (c) => {
        const row = (await one<AppRow>('INSERT INTO app_passwords (account_id, name, tag, selector, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *', [accountId, name, tag, selector, passwordHash, now], c))!;
        await appendAudit(c, entry);
        return toApp(row);
      });
    },
    async setAppPasswordSelector(id, selector) {
      await run('UPDATE app_passwords SET selector = $1 WHERE id = $2 AND selector IS NULL', [selector, id]);
    },
    async listAppPasswords(accountId) {
      return (await rows<AppRow>('SELECT * FROM app_passwords WHERE account_id = $1 ORDER BY created_at, id', [accountId])).map(toApp);
    },
    async findAppPassword(accountId, tag) {
      const row = await one<AppRow>('SELECT * FROM app_passwords WHERE account_id = $1 AND tag = $2', [accountId, tag]);
      return row ? toApp(row) : null;
    },
    async deleteAppPassword(accountId, id, entry) {
      return tx(async (c) => {
        const gone = (await run('DELETE FROM app_passwords WHERE account_id = $1 AND id = $2', [accountId, id], c)) === 1;
        if (gone) await appendAudit(c, entry);
        return gone;
      });
    },
    async listPasskeys(o) {
      const list = await rows<{ id: string; owner: SessionOwner; public_key: Buffer; counter: number; transports: string; created_at: number; last_used_at: number | null }>(
        'SELECT * FROM passkeys WHERE owner = $1 ORDER BY created_at',
        [o],
      );
      return list.map((r): Passkey => ({ id: r.id, owner: r.owner, publicKey: new Uint8Array(r.public_key), counter: r.counter, transports: r.transports ? r.transports.split(',') : [], createdAt: r.created_at, lastUsedAt: r.last_used_at }));
    },
    async hasSecondFactor(o) {
      return (await one<{ yes: boolean }>('SELECT EXISTS (SELECT 1 FROM second_factors WHERE owner = $1) OR EXISTS (SELECT 1 FROM passkeys WHERE owner = $1) AS yes', [o]))!.yes;
    },
    async addPasskey(p, hashes, entry) {
      await tx(async (c) => {
        await run('INSERT INTO passkeys (id, owner, public_key, counter, transports, created_at) VALUES ($1, $2, $3, $4, $5, $6)', [p.id, p.owner, Buffer.from(p.publicKey), p.counter, p.transports.join(','), p.createdAt], c);
        await setRecovery(c, p.owner, hashes);
        await appendAudit(c, entry);
      });
    },
    async usePasskey(id, counter, now) {
      return (await run('UPDATE passkeys SET counter = $1, last_used_at = $2 WHERE id = $3 AND (counter < $1 OR (counter = 0 AND $1 = 0))', [counter, now, id])) === 1;
    },
    async removeSecondFactors(o, entry) {
      await tx(async (c) => {
        await forgetFactors(c, o);
        await endSessionsOf(c, o);
        await appendAudit(c, entry);
      });
    },

    async backup() {
      throw new Error('backup: on PostgreSQL, use pg_dump (docs/operations.md)');
    },
    async ping() {
      await pool.query('SELECT 1');
    },
    close() {
      // The pool is the composition root's to end (it may be shared with the login counters).
    },
  };

  return translatingErrors(store, translatePgError);
}
