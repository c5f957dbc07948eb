import type { AuditEntry, WebhookStore } from '../../core/ports.js';
import { DELIVERY_COLUMNS, eventsColumn, toDelivery, toDueEvent, toLeased, toWebhook, WEBHOOK_SELECT, type DeliveryRow, type LeasedRow, type WebhookRow } from '../rows.js';
import { auditWriter } from './audit.js';
import type { Db } from './db.js';

/**
 * `relaxed`: the connection with synchronous=NORMAL (see createSqliteStores) writes the delivery
 * bookkeeping (leases, attempts): losing its last writes to a power cut sends an event again,
 * which at-least-once allows; the events themselves are written by their changes' transactions.
 */
export function createSqliteWebhooks(db: Db, relaxed: Db = db): WebhookStore {
  const writeAudit = auditWriter(db);
  const q = {
    insert: db.prepare(`INSERT INTO webhooks (id, url, events, domain_id, secret, created_by, created_at)
      VALUES (@id, @url, @events, @domainId, @secret, @createdBy, @createdAt)`),
    byId: db.prepare(`${WEBHOOK_SELECT} WHERE w.id = ?`),
    all: db.prepare(`${WEBHOOK_SELECT} ORDER BY w.created_at, w.id`),
    ofDomains: db.prepare(`${WEBHOOK_SELECT} WHERE w.domain_id IN (SELECT value FROM json_each(?)) ORDER BY w.created_at, w.id`),
    delete: db.prepare('DELETE FROM webhooks WHERE id = ?'),
    pause: db.prepare('UPDATE webhooks SET paused_at = ? WHERE id = ?'),
    resume: db.prepare('UPDATE webhooks SET paused_at = NULL, failing_since = NULL WHERE id = ?'),
    restartHead: db.prepare(`UPDATE webhook_events SET attempts = 0, next_at = ? WHERE id =
      (SELECT id FROM webhook_events WHERE webhook_id = ? AND state = 'pending' ORDER BY id LIMIT 1)`),
    addEvent: db.prepare(`INSERT INTO webhook_events (message_id, webhook_id, type, payload, created_at, next_at)
      VALUES ('msg_' || lower(hex(randomblob(16))), ?, ?, ?, ?, ?)`),
    deliveries: db.prepare(`SELECT ${DELIVERY_COLUMNS} FROM webhook_events WHERE webhook_id = ? ORDER BY id DESC LIMIT CAST(? AS INTEGER)`),
    anyDue: relaxed.prepare(`SELECT 1 FROM webhooks w WHERE w.paused_at IS NULL AND w.lease_until < @now
        AND (SELECT e.next_at FROM webhook_events e WHERE e.webhook_id = w.id AND e.state = 'pending' ORDER BY e.id LIMIT 1) <= @now
      LIMIT 1`),
    lease: relaxed.prepare(`UPDATE webhooks SET lease_owner = @owner, lease_until = @until
      WHERE id IN (SELECT w.id FROM webhooks w WHERE w.paused_at IS NULL AND w.lease_until < @now
        AND (SELECT e.next_at FROM webhook_events e WHERE e.webhook_id = w.id AND e.state = 'pending' ORDER BY e.id LIMIT 1) <= @now
        ORDER BY w.lease_until LIMIT CAST(@limit AS INTEGER))
      RETURNING id, url, domain_id, secret, failing_since`),
    release: relaxed.prepare('UPDATE webhooks SET lease_owner = NULL, lease_until = 0 WHERE id = ? AND lease_owner = ?'),
    due: db.prepare(`SELECT id, message_id, payload, created_at, attempts, next_at FROM webhook_events
      WHERE webhook_id = ? AND state = 'pending' ORDER BY id LIMIT CAST(? AS INTEGER)`),
    attempt: relaxed.prepare(`UPDATE webhook_events SET state = @state, attempts = @attempts, next_at = @nextAt, last_status = @lastStatus,
        last_error = @lastError, done_at = CASE WHEN @state = 'pending' THEN NULL ELSE @at END
      WHERE id = @id AND webhook_id = @webhookId`),
    hold: relaxed.prepare('UPDATE webhooks SET failing_since = ?, lease_until = ? WHERE id = ? AND lease_owner = ?'),
    prune: relaxed.prepare("DELETE FROM webhook_events WHERE state <> 'pending' AND done_at < ?"),
  };
  const insertTx = db.transaction((w: Parameters<WebhookStore['insertWebhook']>[0], entry: AuditEntry) => {
    q.insert.run({ ...w, events: eventsColumn(w.events) });
    writeAudit(entry);
  });
  const deleteTx = db.transaction((id: string, entry: AuditEntry) => {
    const gone = q.delete.run(id).changes === 1;
    if (gone) writeAudit(entry);
    return gone;
  });
  const pauseTx = db.transaction((id: string, pausedAt: number | null, now: number, entry: AuditEntry) => {
    const changed = (pausedAt === null ? q.resume.run(id) : q.pause.run(pausedAt, id)).changes === 1;
    if (!changed) return false;
    if (pausedAt === null) q.restartHead.run(now, id);
    writeAudit(entry);
    return true;
  });
  const addEventTx = db.transaction((webhookId: string, e: { type: string; payload: string; at: number }, entry: AuditEntry) => {
    q.addEvent.run(webhookId, e.type, e.payload, e.at, e.at);
    writeAudit(entry);
  });
  const attemptTx = relaxed.transaction((id: number, webhookId: string, owner: string, r: Parameters<WebhookStore['recordAttempt']>[3], failingSince: number | null, leaseUntil: number) => {
    if (q.hold.run(failingSince, leaseUntil, webhookId, owner).changes !== 1) return false;
    return q.attempt.run({ id, webhookId, ...r }).changes === 1;
  });
  return {
    async insertWebhook(webhook, entry) {
      insertTx.immediate(webhook, entry);
      return toWebhook(q.byId.get(webhook.id) as WebhookRow);
    },
    async listWebhooks(domainIds) {
      return ((domainIds === null ? q.all.all() : q.ofDomains.all(JSON.stringify(domainIds))) as WebhookRow[]).map(toWebhook);
    },
    async findWebhook(id) {
      const row = q.byId.get(id) as WebhookRow | undefined;
      return row ? toWebhook(row) : null;
    },
    async deleteWebhook(id, entry) {
      return deleteTx.immediate(id, entry);
    },
    async setWebhookPaused(id, pausedAt, now, entry) {
      return pauseTx.immediate(id, pausedAt, now, entry);
    },
    async addWebhookEvent(webhookId, event, entry) {
      addEventTx.immediate(webhookId, event, entry);
    },
    async listDeliveries(webhookId, limit) {
      return (q.deliveries.all(webhookId, limit) as DeliveryRow[]).map(toDelivery);
    },
    async leaseDueWebhooks(owner, now, until, limit) {
      if (!q.anyDue.get({ now })) return [];
      return (q.lease.all({ owner, now, until, limit }) as LeasedRow[]).map(toLeased);
    },
    async releaseLease(webhookId, owner) {
      q.release.run(webhookId, owner);
    },
    async dueEvents(webhookId, now, limit) {
      const rows = (q.due.all(webhookId, limit) as Array<Parameters<typeof toDueEvent>[0]>).map(toDueEvent);
      return rows[0] && rows[0].nextAt <= now ? rows : [];
    },
    async recordAttempt(eventId, webhookId, owner, result, failingSince, leaseUntil) {
      return attemptTx.immediate(eventId, webhookId, owner, result, failingSince, leaseUntil);
    },
    async pruneDeliveries(before) {
      return q.prune.run(before).changes;
    },
  };
}
