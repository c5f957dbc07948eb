import type pg from 'pg';
import type { AdminStore } from '../../core/ports.js';
import { LastSuperAdmin, unlessLastSuper } from '../last-super-admin.js';
import { owner, toAdmin, type AdminRow } from '../rows.js';
import { appendAudit } from './audit.js';
import { endSessions, forgetOwner } from './owners.js';
import { queries, type Q } from './query.js';

const ADMIN_SELECT = `SELECT a.id, a.username, a.password_hash, a.password_version, a.is_super, a.disabled,
  a.must_change_password, a.created_at, a.language,
  (SELECT string_agg(domain_id::text, ',') FROM admin_domains WHERE admin_id = a.id) AS domain_ids
  FROM admins a`;

/** One lock for the changes that must leave an enabled super admin: they run one at a time. */
const ADMINS_LOCK = 7_316_043;

export function createPostgresAdmins(pool: pg.Pool): AdminStore {
  const { rows, one, run, tx } = queries(pool);
  const byId = async (id: number) => {
    const row = await one<AdminRow>(`${ADMIN_SELECT} WHERE a.id = $1`, [id]);
    return row ? toAdmin(row) : null;
  };
  /** Runs an admin change that must leave an enabled super admin; false (rolled back) when it would not. */
  const leavingASuper = (change: (c: Q) => Promise<void>) =>
    unlessLastSuper(() =>
      tx(async (c) => {
        await c.query('SELECT pg_advisory_xact_lock($1)', [ADMINS_LOCK]);
        await change(c);
        const { n } = (await one<{ n: number }>('SELECT count(*) AS n FROM admins WHERE is_super = 1 AND disabled = 0', [], c))!;
        if (n === 0) throw new LastSuperAdmin();
      }),
    );
  return {
    async insertAdmin({ username, passwordHash, isSuper, domainIds, mustChangePassword, now }, entry) {
      const id = await tx(async (c) => {
        const { id } = (await one<{ id: number }>(
          'INSERT INTO admins (username, password_hash, is_super, must_change_password, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id',
          [username, passwordHash, isSuper ? 1 : 0, mustChangePassword ? 1 : 0, now],
          c,
        ))!;
        if (domainIds.length > 0) await run('INSERT INTO admin_domains (admin_id, domain_id) SELECT $1, unnest($2::bigint[])', [id, domainIds], c);
        await appendAudit(c, entry);
        return id;
      });
      return (await byId(id))!;
    },
    async findAdminByUsername(username) {
      const row = await one<AdminRow>(`${ADMIN_SELECT} WHERE a.username = $1`, [username]);
      return row ? toAdmin(row) : null;
    },
    findAdminById: (id) => byId(id),
    async listAdmins() {
      return (await rows<AdminRow>(`${ADMIN_SELECT} ORDER BY a.username`)).map(toAdmin);
    },
    async countAdmins() {
      return (await one<{ n: number }>('SELECT count(*) AS n FROM admins'))!.n;
    },
    async setAdminPasswordAndEndSessions(id, hash, now, { mustChangePassword, audit: entry }) {
      await tx(async (c) => {
        await run('UPDATE admins SET password_hash = $1, password_version = password_version + 1, must_change_password = $2, updated_at = $3 WHERE id = $4', [hash, mustChangePassword ? 1 : 0, now, id], c);
        await endSessions(c, owner('admin', id));
        await run('UPDATE api_tokens SET revoked_at = $1 WHERE admin_id = $2 AND revoked_at IS NULL', [now, id], c);
        await appendAudit(c, entry);
      });
    },
    async updateAdmin(id, change, now, entry) {
      return leavingASuper(async (c) => {
        if ('disabled' in change) {
          await run('UPDATE admins SET disabled = $1, password_version = password_version + 1, updated_at = $2 WHERE id = $3', [change.disabled ? 1 : 0, now, id], c);
          if (change.disabled) await endSessions(c, owner('admin', id));
        } else {
          await run('UPDATE admins SET is_super = $1, updated_at = $2 WHERE id = $3', [change.isSuper ? 1 : 0, now, id], c);
          await run('DELETE FROM admin_domains WHERE admin_id = $1', [id], c);
          if (!change.isSuper && change.domainIds.length > 0) await run('INSERT INTO admin_domains (admin_id, domain_id) SELECT $1, unnest($2::bigint[])', [id, change.domainIds], c);
        }
        await appendAudit(c, entry);
      });
    },
    async deleteAdmin(id, entry) {
      return leavingASuper(async (c) => {
        await forgetOwner(c, owner('admin', id));
        await run('DELETE FROM admins WHERE id = $1', [id], c);
        await appendAudit(c, entry);
      });
    },
    async setAdminLanguage(id, language) {
      await run('UPDATE admins SET language = $1 WHERE id = $2', [language, id]);
    },
    async rehashAdminPassword(id, version, hash) {
      await run('UPDATE admins SET password_hash = $1 WHERE id = $2 AND password_version = $3', [hash, id, version]);
    },
  };
}
