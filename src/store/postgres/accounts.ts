import type pg from 'pg';
import type { AccountStore, ImportedMailbox } from '../../core/ports.js';
import { ACCOUNT_SELECT, loginRange, owner, toAccount, type AccountRow } from '../rows.js';
import { appendAudit } from './audit.js';
import { endSessions, forgetOwner } from './owners.js';
import { queries, type Q } from './query.js';

/** Mailboxes of an import written by one statement. */
const IMPORT_BATCH = 5000;
/** Imported mailboxes from which the table is vacuumed and analysed after the import. */
const VACUUM_AFTER = 10_000;

export function createPostgresAccounts(pool: pg.Pool): AccountStore {
  const { rows, one, run, tx } = queries(pool);
  const byId = async (id: number, c: Q = pool) => {
    const row = await one<AccountRow>(`${ACCOUNT_SELECT} WHERE a.id = $1`, [id], c);
    return row ? toAccount(row) : null;
  };
  return {
    async insertAccount(a, entry) {
      const id = await tx(async (c) => {
        const { id } = (await one<{ id: number }>(
          `INSERT INTO accounts (kind, domain_id, login, local_part, name, guid, password_hash, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id`,
          [a.kind, a.domainId, a.login, a.localPart, a.name, a.guid, a.passwordHash, a.now],
          c,
        ))!;
        await appendAudit(c, entry);
        return id;
      });
      return (await byId(id))!;
    },
    async findAccountByLogin(login) {
      const row = await one<AccountRow>(`${ACCOUNT_SELECT} WHERE a.login = $1`, [login]);
      return row ? toAccount(row) : null;
    },
    findAccountById: (id) => byId(id),
    async setAccountLanguage(id, language) {
      await run('UPDATE accounts SET language = $1 WHERE id = $2', [language, id]);
    },
    async findCredentialByGuid(guid) {
      const row = await one<AccountRow>(`${ACCOUNT_SELECT} WHERE a.guid = $1 AND a.kind = 'credential'`, [guid]);
      return row ? toAccount(row) : null;
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
      // Without a search, the domain's kept count (migration 011); a search counts its matches.
      const { n } = (await one<{ n: number }>(
        search === '' ? `SELECT ${kind === 'mailbox' ? 'mailbox_count' : 'credential_count'} AS n FROM domains WHERE id = $1` : `SELECT count(*) AS n FROM accounts a ${where}`,
        search === '' ? [domainId] : [domainId, kind, lo, hi],
      ))!;
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
        await endSessions(c, owner('mailbox', id));
        // SPEC §16: a new password revokes the app passwords made under the old one.
        await run('DELETE FROM app_passwords WHERE account_id = $1', [id], c);
        await appendAudit(c, entry);
        return row.password_version;
      });
    },
    async setDisabledAndEndSessions(id, disabled, now, entry) {
      await tx(async (c) => {
        await run('UPDATE accounts SET disabled = $1, password_version = password_version + 1, updated_at = $2 WHERE id = $3', [disabled ? 1 : 0, now, id], c);
        await endSessions(c, owner('mailbox', id));
        await appendAudit(c, entry);
      });
    },
    async deleteAccountAndEndSessions(id, entry) {
      await tx(async (c) => {
        await run('DELETE FROM accounts WHERE id = $1', [id], c);
        await forgetOwner(c, owner('mailbox', id));
        await appendAudit(c, entry);
      });
    },
    async importMailboxes({ domains, mailboxes, now }, entry) {
      const result = await tx(async (c) => {
        if (domains.length > 0) await run('INSERT INTO domains (name, verified, created_at) SELECT unnest($1::text[]), 1, $2 ON CONFLICT (name) DO NOTHING', [domains, now], c);
        let created = 0;
        let total = 0;
        // In batches of arrays, one statement each: a million mailboxes are 200 statements, not a
        // million round trips (issue 36); a batch at a time, as the import's second pass reads them.
        const insert = async (batch: ImportedMailbox[]) => {
          total += batch.length;
          created += await run(
            `INSERT INTO accounts (kind, domain_id, login, local_part, name, password_hash, disabled, created_at, updated_at)
             SELECT 'mailbox', d.id, m.login, m.local_part, m.name, m.password_hash, m.disabled, $7, $7
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::smallint[], $6::text[]) WITH ORDINALITY AS m(login, local_part, name, password_hash, disabled, domain, n)
             JOIN domains d ON d.name = m.domain
             ORDER BY m.n
             ON CONFLICT (login) DO NOTHING`,
            [batch.map((m) => m.login), batch.map((m) => m.localPart), batch.map((m) => m.name), batch.map((m) => m.passwordHash), batch.map((m) => (m.disabled ? 1 : 0)), batch.map((m) => m.domain), now],
            c,
          );
        };
        let batch: ImportedMailbox[] = [];
        for (const m of mailboxes) {
          batch.push(m);
          if (batch.length === IMPORT_BATCH) {
            await insert(batch);
            batch = [];
          }
        }
        if (batch.length > 0) await insert(batch);
        await appendAudit(c, { ...entry, detail: `${entry.detail ?? ''}created:${created}` });
        return { created, existing: total - created };
      });
      // A big import: the planner's statistics and the visibility map brought up to date at once
      // (as migrate-store does), so the domain pages read the index alone, not after autovacuum.
      if (result.created >= VACUUM_AFTER) await pool.query('VACUUM (ANALYZE) accounts');
      return result;
    },
    async countImportedSchemes(domainId) {
      return rows<{ scheme: string; count: number }>(
        `SELECT substr(password_hash, 2, position('}' in password_hash) - 2) AS scheme, count(*) AS count FROM accounts
         WHERE domain_id = $1 AND substr(password_hash, 1, 1) = '{' GROUP BY 1 ORDER BY 1`,
        [domainId],
      );
    },
  };
}
