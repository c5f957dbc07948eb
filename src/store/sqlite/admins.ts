import type { Admin, AdminStore, AuditEntry } from '../../core/ports.js';
import { LastSuperAdmin, unlessLastSuper } from '../last-super-admin.js';
import { owner, toAdmin, type AdminRow } from '../rows.js';
import { auditWriter } from './audit.js';
import type { Db } from './db.js';
import { ownerRows } from './owners.js';

const ADMIN_SELECT = `SELECT a.id, a.username, a.password_hash, a.password_version, a.is_super, a.disabled,
  a.must_change_password, a.created_at, a.language,
  (SELECT group_concat(domain_id) FROM admin_domains WHERE admin_id = a.id) AS domain_ids
  FROM admins a`;

export function createSqliteAdmins(db: Db): AdminStore {
  const writeAudit = auditWriter(db);
  const owners = ownerRows(db);
  const q = {
    insert: db.prepare(`INSERT INTO admins (username, password_hash, is_super, must_change_password, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
    deleteDomains: db.prepare('DELETE FROM admin_domains WHERE admin_id = ?'),
    insertDomain: db.prepare('INSERT INTO admin_domains (admin_id, domain_id) VALUES (?, ?)'),
    setRole: db.prepare('UPDATE admins SET is_super = ?, updated_at = ? WHERE id = ?'),
    setDisabled: db.prepare(`UPDATE admins SET disabled = ?, password_version = password_version + 1, updated_at = ?
      WHERE id = ?`),
    delete: db.prepare('DELETE FROM admins WHERE id = ?'),
    setLanguage: db.prepare('UPDATE admins SET language = ? WHERE id = ?'),
    enabledSupers: db.prepare('SELECT count(*) AS n FROM admins WHERE is_super = 1 AND disabled = 0'),
    revokeTokens: db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE admin_id = ? AND revoked_at IS NULL'),
    byUsername: db.prepare(`${ADMIN_SELECT} WHERE a.username = ?`),
    byId: db.prepare(`${ADMIN_SELECT} WHERE a.id = ?`),
    list: db.prepare(`${ADMIN_SELECT} ORDER BY a.username`),
    count: db.prepare('SELECT count(*) AS n FROM admins'),
    setPassword: db.prepare(`UPDATE admins SET password_hash = ?, password_version = password_version + 1,
      must_change_password = ?, updated_at = ? WHERE id = ?`),
    rehash: db.prepare('UPDATE admins SET password_hash = ? WHERE id = ? AND password_version = ?'),
  };
  const byId = (id: number): Admin | null => {
    const row = q.byId.get(id) as AdminRow | undefined;
    return row ? toAdmin(row) : null;
  };

  const insertTx = db.transaction((username: string, hash: string, isSuper: boolean, domainIds: number[], mustChange: boolean, now: number, entry: AuditEntry): number => {
    const { id } = q.insert.get(username, hash, isSuper ? 1 : 0, mustChange ? 1 : 0, now, now) as { id: number };
    for (const d of domainIds) q.insertDomain.run(id, d);
    writeAudit(entry);
    return id;
  });
  const setPasswordTx = db.transaction((id: number, hash: string, now: number, mustChange: boolean, entry: AuditEntry) => {
    q.setPassword.run(hash, mustChange ? 1 : 0, now, id);
    owners.endSessions(owner('admin', id));
    q.revokeTokens.run(now, id);
    writeAudit(entry);
  });
  /** Whether at least one enabled super admin is left; a change that breaks it is rolled back. */
  const superLeft = () => (q.enabledSupers.get() as { n: number }).n > 0;
  const updateTx = db.transaction((id: number, change: { isSuper: boolean; domainIds: number[] } | { disabled: boolean }, now: number, entry: AuditEntry) => {
    if ('disabled' in change) {
      q.setDisabled.run(change.disabled ? 1 : 0, now, id);
      if (change.disabled) owners.endSessions(owner('admin', id));
    } else {
      q.setRole.run(change.isSuper ? 1 : 0, now, id);
      q.deleteDomains.run(id);
      for (const d of change.isSuper ? [] : change.domainIds) q.insertDomain.run(id, d);
    }
    if (!superLeft()) throw new LastSuperAdmin();
    writeAudit(entry);
  });
  const deleteTx = db.transaction((id: number, entry: AuditEntry) => {
    owners.forget(owner('admin', id));
    q.delete.run(id);
    if (!superLeft()) throw new LastSuperAdmin();
    writeAudit(entry);
  });

  return {
    async insertAdmin({ username, passwordHash, isSuper, domainIds, mustChangePassword, now }, entry) {
      return byId(insertTx.immediate(username, passwordHash, isSuper, domainIds, mustChangePassword, now, entry))!;
    },
    async findAdminByUsername(username) {
      const row = q.byUsername.get(username) as AdminRow | undefined;
      return row ? toAdmin(row) : null;
    },
    async findAdminById(id) {
      return byId(id);
    },
    async listAdmins() {
      return (q.list.all() as AdminRow[]).map(toAdmin);
    },
    async countAdmins() {
      return (q.count.get() as { n: number }).n;
    },
    async setAdminPasswordAndEndSessions(id, hash, now, { mustChangePassword, audit: entry }) {
      setPasswordTx.immediate(id, hash, now, mustChangePassword, entry);
    },
    async updateAdmin(id, change, now, entry) {
      return unlessLastSuper(() => updateTx.immediate(id, change, now, entry));
    },
    async deleteAdmin(id, entry) {
      return unlessLastSuper(() => deleteTx.immediate(id, entry));
    },
    async setAdminLanguage(id, language) {
      q.setLanguage.run(language, id);
    },
    async rehashAdminPassword(id, version, hash) {
      q.rehash.run(hash, id, version);
    },
  };
}
