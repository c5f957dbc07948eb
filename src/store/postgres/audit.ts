import type pg from 'pg';
import type { AuditEntry, AuditRecord, AuditStore } from '../../core/ports.js';
import { queries } from './query.js';

/** PostgreSQL's text holds no NUL: the audit log keeps what was sent, a NUL written as \0. */
export const printable = (text: string | null | undefined) => (text == null ? null : text.replace(/\0/g, '\\0'));

/**
 * Appends an audit entry on `c`, in the transaction it is in: every PostgreSQL store file writes
 * them so. An entry with an event (SPEC §19) writes, in the same statement, one outbox row per
 * webhook subscribed to it: the change and what it tells commit together.
 */
export async function appendAudit(c: Pick<pg.PoolClient, 'query'>, e: AuditEntry): Promise<void> {
  const values = [e.at, printable(e.actor), e.action, printable(e.target), e.ip, printable(e.detail)];
  if (!e.event) {
    await c.query('INSERT INTO audit_log (at, actor, action, target, ip, detail) VALUES ($1, $2, $3, $4, $5, $6)', values);
    return;
  }
  await c.query(
    `WITH entry AS (INSERT INTO audit_log (at, actor, action, target, ip, detail) VALUES ($1, $2, $3, $4, $5, $6))
     INSERT INTO webhook_events (message_id, webhook_id, type, payload, created_at, next_at)
     SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), w.id, $7::text, $8::text, $1, $1 FROM webhooks w
     WHERE w.paused_at IS NULL AND position(',' || $7::text || ',' IN w.events) > 0
       AND (w.domain_id IS NULL OR w.domain_id = (SELECT id FROM domains WHERE name = $9::text))
     ORDER BY w.id`,
    [...values, e.event.type, printable(e.event.payload), e.event.domain],
  );
}

export function createPostgresAudit(pool: pg.Pool): AuditStore {
  const { rows, one, run } = queries(pool);
  return {
    async appendAudit(entry) {
      await appendAudit(pool, entry);
    },
    async listAudit({ limit, offset }) {
      const items = await rows<AuditRecord>('SELECT * FROM audit_log ORDER BY id DESC LIMIT $1 OFFSET $2', [limit, offset]);
      return { items, total: (await one<{ n: number }>('SELECT count(*) AS n FROM audit_log'))!.n };
    },
    async pruneAudit(before) {
      return run('DELETE FROM audit_log WHERE at < $1', [before]);
    },
  };
}
