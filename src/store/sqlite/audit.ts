import type { AuditEntry, AuditRecord, AuditStore } from '../../core/ports.js';
import type { Db } from './db.js';

/** Appends audit entries on `db`, inside whatever transaction of `db` is running: every SQLite store file writes them so. */
export function auditWriter(db: Db): (entry: AuditEntry) => void {
  const insert = db.prepare('INSERT INTO audit_log (at, actor, action, target, ip, detail) VALUES (@at, @actor, @action, @target, @ip, @detail)');
  return (e) => void insert.run({ at: e.at, actor: e.actor, action: e.action, target: e.target, ip: e.ip, detail: e.detail ?? null });
}

export function createSqliteAudit(db: Db): AuditStore {
  const writeAudit = auditWriter(db);
  const q = {
    list: db.prepare('SELECT * FROM audit_log ORDER BY id DESC LIMIT ? OFFSET ?'),
    count: db.prepare('SELECT count(*) AS n FROM audit_log'),
    prune: db.prepare('DELETE FROM audit_log WHERE at < ?'),
  };
  return {
    async appendAudit(entry) {
      writeAudit(entry);
    },
    async listAudit({ limit, offset }) {
      const items = (q.list.all(limit, offset) as AuditRecord[]).map((r) => ({ ...r }));
      return { items, total: (q.count.get() as { n: number }).n };
    },
    async pruneAudit(before) {
      return q.prune.run(before).changes;
    },
  };
}
