import type { AuditEntry, AuditRecord, AuditStore, OutboxEvent } from '../../core/ports.js';
import type { Db } from './db.js';

/**
 * Appends audit entries on `db`, inside whatever transaction of `db` is running: every SQLite store
 * file writes them so. An entry with an event (SPEC §19) writes one outbox row per webhook
 * subscribed to it in the same transaction: the change and what it tells commit together.
 */
export function auditWriter(db: Db): (entry: AuditEntry) => void {
  const insert = db.prepare('INSERT INTO audit_log (at, actor, action, target, ip, detail) VALUES (@at, @actor, @action, @target, @ip, @detail)');
  const fanOut = db.prepare(`INSERT INTO webhook_events (message_id, webhook_id, type, payload, created_at, next_at)
    SELECT 'msg_' || lower(hex(randomblob(16))), w.id, @type, @payload, @at, @at FROM webhooks w
    WHERE w.paused_at IS NULL AND instr(w.events, ',' || @type || ',') > 0
      AND (w.domain_id IS NULL OR w.domain_id = (SELECT id FROM domains WHERE name = @domain))
    ORDER BY w.id`);
  const entry = (e: AuditEntry) => void insert.run({ at: e.at, actor: e.actor, action: e.action, target: e.target, ip: e.ip, detail: e.detail ?? null });
  const withEvent = db.transaction((e: AuditEntry, event: OutboxEvent) => {
    entry(e);
    fanOut.run({ type: event.type, payload: event.payload, at: e.at, domain: event.domain });
  });
  return (e) => (e.event ? withEvent(e, e.event) : entry(e));
}

export function createSqliteAudit(db: Db): AuditStore {
  const writeAudit = auditWriter(db);
  const q = {
    list: db.prepare('SELECT * FROM audit_log ORDER BY id DESC LIMIT CAST(? AS INTEGER) OFFSET ?'),
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
