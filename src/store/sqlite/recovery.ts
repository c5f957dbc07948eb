import type { AuditEntry, RecoveryLink, RecoveryPurpose, RecoveryStore } from '../../core/ports.js';
import { toRecoveryLink, type RecoveryLinkRow } from '../rows.js';
import { auditWriter } from './audit.js';
import type { Db } from './db.js';

export function createSqliteRecovery(db: Db): RecoveryStore {
  const writeAudit = auditWriter(db);
  const q = {
    confirmed: db.prepare('SELECT address, confirmed_at FROM recovery_addresses WHERE account_id = ?'),
    pending: db.prepare(`SELECT address, expires_at FROM recovery_links WHERE account_id = ? AND purpose = 'confirm' AND expires_at > ?
      ORDER BY created_at DESC LIMIT 1`),
    insert: db.prepare(`INSERT INTO recovery_links (token_hash, account_id, purpose, address, password_version, created_at, expires_at)
      VALUES (@tokenHash, @accountId, @purpose, @address, @passwordVersion, @createdAt, @expiresAt)`),
    dropPending: db.prepare("DELETE FROM recovery_links WHERE account_id = ? AND purpose = 'confirm'"),
    find: db.prepare('SELECT * FROM recovery_links WHERE token_hash = ? AND purpose = ? AND expires_at > ?'),
    take: db.prepare('DELETE FROM recovery_links WHERE token_hash = ? AND purpose = ? AND expires_at > ? RETURNING *'),
    confirm: db.prepare(`INSERT INTO recovery_addresses (account_id, address, confirmed_at) VALUES (?, ?, ?)
      ON CONFLICT (account_id) DO UPDATE SET address = excluded.address, confirmed_at = excluded.confirmed_at`),
    remove: db.prepare('DELETE FROM recovery_addresses WHERE account_id = ?'),
    prune: db.prepare('DELETE FROM recovery_links WHERE expires_at <= ?'),
  };
  const addTx = db.transaction((link: RecoveryLink, entry: AuditEntry) => {
    if (link.purpose === 'confirm') q.dropPending.run(link.accountId);
    q.insert.run(link);
    writeAudit(entry);
  });
  const confirmTx = db.transaction((tokenHash: string, now: number, entry: AuditEntry) => {
    const row = q.take.get(tokenHash, 'confirm', now) as RecoveryLinkRow | undefined;
    if (!row) return false;
    q.confirm.run(row.account_id, row.address, now);
    writeAudit(entry);
    return true;
  });
  const removeTx = db.transaction((accountId: number, entry: AuditEntry) => {
    q.remove.run(accountId);
    q.dropPending.run(accountId);
    writeAudit(entry);
  });
  return {
    async getRecovery(accountId, now) {
      const c = q.confirmed.get(accountId) as { address: string; confirmed_at: number } | undefined;
      const p = q.pending.get(accountId, now) as { address: string; expires_at: number } | undefined;
      return { confirmed: c ? { address: c.address, confirmedAt: c.confirmed_at } : null, pending: p ? { address: p.address, expiresAt: p.expires_at } : null };
    },
    async addRecoveryLink(link, entry) {
      addTx.immediate(link, entry);
    },
    async findRecoveryLink(tokenHash, purpose: RecoveryPurpose, now) {
      const row = q.find.get(tokenHash, purpose, now) as RecoveryLinkRow | undefined;
      return row ? toRecoveryLink(row) : null;
    },
    async deleteRecoveryLink(tokenHash, purpose, now) {
      const row = q.take.get(tokenHash, purpose, now) as RecoveryLinkRow | undefined;
      return row ? toRecoveryLink(row) : null;
    },
    async setConfirmedRecoveryAddress(tokenHash, now, entry) {
      return confirmTx.immediate(tokenHash, now, entry);
    },
    async removeRecoveryAddress(accountId, entry) {
      removeTx.immediate(accountId, entry);
    },
    async pruneRecoveryLinks(now) {
      return q.prune.run(now).changes;
    },
  };
}
