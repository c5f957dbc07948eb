import type pg from 'pg';
import type { WebhookStore } from '../../core/ports.js';
import { DELIVERY_COLUMNS, eventsColumn, toDelivery, toDueEvent, toLeased, toWebhook, WEBHOOK_SELECT, type DeliveryRow, type LeasedRow, type WebhookRow } from '../rows.js';
import { appendAudit, printable } from './audit.js';
import { queries } from './query.js';

export function createPostgresWebhooks(pool: pg.Pool): WebhookStore {
  const { rows, one, run, tx } = queries(pool);
  return {
    async insertWebhook(w, entry) {
      await tx(async (c) => {
        await run(
          'INSERT INTO webhooks (id, url, events, domain_id, secret, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
          [w.id, w.url, eventsColumn(w.events), w.domainId, w.secret, w.createdBy, w.createdAt],
          c,
        );
        await appendAudit(c, entry);
      });
      return toWebhook((await one<WebhookRow>(`${WEBHOOK_SELECT} WHERE w.id = $1`, [w.id]))!);
    },
    async listWebhooks(domainIds) {
      const list = await rows<WebhookRow>(`${WEBHOOK_SELECT} WHERE $1::bigint[] IS NULL OR w.domain_id = ANY($1) ORDER BY w.created_at, w.id`, [domainIds === null ? null : [...domainIds]]);
      return list.map(toWebhook);
    },
    async findWebhook(id) {
      const row = await one<WebhookRow>(`${WEBHOOK_SELECT} WHERE w.id = $1`, [id]);
      return row ? toWebhook(row) : null;
    },
    async deleteWebhook(id, entry) {
      return tx(async (c) => {
        const gone = (await run('DELETE FROM webhooks WHERE id = $1', [id], c)) === 1;
        if (gone) await appendAudit(c, entry);
        return gone;
      });
    },
    async setWebhookPaused(id, pausedAt, now, entry) {
      return tx(async (c) => {
        const changed =
          pausedAt === null
            ? await run('UPDATE webhooks SET paused_at = NULL, failing_since = NULL WHERE id = $1', [id], c)
            : await run('UPDATE webhooks SET paused_at = $1 WHERE id = $2', [pausedAt, id], c);
        if (changed !== 1) return false;
        if (pausedAt === null) {
          await run(
            `UPDATE webhook_events SET attempts = 0, next_at = $1 WHERE id = (SELECT id FROM webhook_events WHERE webhook_id = $2 AND state = 'pending' ORDER BY id LIMIT 1)`,
            [now, id],
            c,
          );
        }
        await appendAudit(c, entry);
        return true;
      });
    },
    async addWebhookEvent(webhookId, e, entry) {
      await tx(async (c) => {
        await run(
          `INSERT INTO webhook_events (message_id, webhook_id, type, payload, created_at, next_at) VALUES ('msg_' || replace(gen_random_uuid()::text, '-', ''), $1, $2, $3, $4, $4)`,
          [webhookId, e.type, printable(e.payload), e.at],
          c,
        );
        await appendAudit(c, entry);
      });
    },
    async listDeliveries(webhookId, limit) {
      return (await rows<DeliveryRow>(`SELECT ${DELIVERY_COLUMNS} FROM webhook_events WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2`, [webhookId, limit])).map(toDelivery);
    },
    async leaseDueWebhooks(owner, now, until, limit) {
      // Most polls find nothing due: a read answers them, and no row is locked or written.
      const due = `w.paused_at IS NULL AND w.lease_until < $1
        AND (SELECT e.next_at FROM webhook_events e WHERE e.webhook_id = w.id AND e.state = 'pending' ORDER BY e.id LIMIT 1) <= $1`;
      if (!(await one(`SELECT 1 FROM webhooks w WHERE ${due} LIMIT 1`, [now]))) return [];
      // The outer conditions are checked again on a row another node updated meanwhile: one lease each.
      const leased = await rows<LeasedRow>(
        `UPDATE webhooks SET lease_owner = $2, lease_until = $3
         WHERE paused_at IS NULL AND lease_until < $1 AND id IN (SELECT w.id FROM webhooks w WHERE ${due} ORDER BY w.lease_until LIMIT $4 FOR UPDATE SKIP LOCKED)
         RETURNING id, url, domain_id, secret, failing_since`,
        [now, owner, until, limit],
      );
      return leased.map(toLeased);
    },
    async releaseLease(webhookId, owner) {
      await run('UPDATE webhooks SET lease_owner = NULL, lease_until = 0 WHERE id = $1 AND lease_owner = $2', [webhookId, owner]);
    },
    async dueEvents(webhookId, now, limit) {
      const list = (
        await rows<Parameters<typeof toDueEvent>[0]>(
          `SELECT id, message_id, payload, created_at, attempts, next_at FROM webhook_events WHERE webhook_id = $1 AND state = 'pending' ORDER BY id LIMIT $2`,
          [webhookId, limit],
        )
      ).map(toDueEvent);
      return list[0] && list[0].nextAt <= now ? list : [];
    },
    async recordAttempt(eventId, webhookId, owner, r, failingSince, leaseUntil) {
      return tx(async (c) => {
        // Held, and held on: the lease covers the next event too.
        if ((await run('UPDATE webhooks SET failing_since = $1, lease_until = $2 WHERE id = $3 AND lease_owner = $4', [failingSince, leaseUntil, webhookId, owner], c)) !== 1) return false;
        return (
          (await run(
            `UPDATE webhook_events SET state = $1, attempts = $2, next_at = $3, last_status = $4, last_error = $5, done_at = CASE WHEN $1 = 'pending' THEN NULL ELSE $6::bigint END
             WHERE id = $7 AND webhook_id = $8`,
            [r.state, r.attempts, r.nextAt, r.lastStatus, printable(r.lastError), r.at, eventId, webhookId],
            c,
          )) === 1
        );
      });
    },
    async pruneDeliveries(before) {
      return run("DELETE FROM webhook_events WHERE state <> 'pending' AND done_at < $1", [before]);
    },
  };
}
