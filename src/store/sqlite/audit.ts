import type { AuditEntry } from '../../core/ports.js';
import type { Db } from './db.js';

/** Appends audit entries on `db`, inside whatever transaction of `db` is running: every SQLite store file writes them so. */
export function auditWriter(db: Db): (entry: AuditEntry) => void {
  const insert = db.prepare('INSERT INTO audit_log (at, actor, action, target, ip, detail) VALUES (@at, @actor, @action, @target, @ip, @detail)');
  return (e) => void insert.run({ at: e.at, actor: e.actor, action: e.action, target: e.target, ip: e.ip, detail: e.detail ?? null });
}
