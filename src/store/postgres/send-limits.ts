import type pg from 'pg';
import type { AuditEntry } from '../../core/ports.js';
import { SEND_WINDOWS, type LimitReached, type SendLimitStore, type SendLimitValues, type SendWindow } from '../../core/ports/send-limits.js';
import { appendAudit } from './audit.js';
import { inTransaction } from './db.js';

type Q = Pick<pg.PoolClient, 'query'>;
type LimitsRow = { per_hour: number | null; per_day: number | null; max_recipients: number | null };
const NONE: SendLimitValues = { perHour: null, perDay: null, maxRecipients: null };
const values = (r: LimitsRow | undefined): SendLimitValues => (r ? { perHour: r.per_hour, perDay: r.per_day, maxRecipients: r.max_recipients } : { ...NONE });
const isNone = (v: SendLimitValues) => v.perHour === null && v.perDay === null && v.maxRecipients === null;

/** The advisory lock class of reservations: with the account id, one lock per login. */
const RESERVE_LOCK = 7_316_015;

/** SPEC §15 on PostgreSQL: the same answers as SQLite's; a reservation holds its login's advisory lock, so nodes take turns per login. */
export function createPostgresSendLimits(pool: pg.Pool): SendLimitStore {
  const tx = <T>(fn: (c: Q) => Promise<T>) => inTransaction(pool, fn);
  const setLimits = (table: 'domain_send_limits' | 'account_send_limits', key: 'domain_id' | 'account_id') => (id: number, v: SendLimitValues, e: AuditEntry) =>
    tx(async (c) => {
      if (isNone(v)) await c.query(`DELETE FROM ${table} WHERE ${key} = $1`, [id]);
      else
        await c.query(
          `INSERT INTO ${table} (${key}, per_hour, per_day, max_recipients) VALUES ($1, $2, $3, $4)
           ON CONFLICT (${key}) DO UPDATE SET per_hour = excluded.per_hour, per_day = excluded.per_day, max_recipients = excluded.max_recipients`,
          [id, v.perHour, v.perDay, v.maxRecipients],
        );
      await appendAudit(c, e);
    });
  const hourSlots = SEND_WINDOWS.hour / 60;
  const daySlots = SEND_WINDOWS.day / 60;
  const SUMS = `SELECT coalesce(sum(CASE WHEN minute > $1 THEN count END), 0) AS hour, coalesce(sum(count), 0) AS day
    FROM send_counts WHERE account_id = $2 AND minute > $3`;

  const store: SendLimitStore = {
    async domainLimits(domainId) {
      const { rows } = await pool.query<LimitsRow>('SELECT per_hour, per_day, max_recipients FROM domain_send_limits WHERE domain_id = $1', [domainId]);
      return values(rows[0]);
    },
    async accountLimits(accountId) {
      const { rows } = await pool.query<LimitsRow & { d_per_hour: number | null; d_per_day: number | null; d_max_recipients: number | null }>(
        `SELECT l.per_hour, l.per_day, l.max_recipients, d.per_hour AS d_per_hour, d.per_day AS d_per_day, d.max_recipients AS d_max_recipients
         FROM accounts a LEFT JOIN account_send_limits l ON l.account_id = a.id LEFT JOIN domain_send_limits d ON d.domain_id = a.domain_id
         WHERE a.id = $1`,
        [accountId],
      );
      const r = rows[0];
      if (!r) return null;
      return { account: values(r), domain: { perHour: r.d_per_hour, perDay: r.d_per_day, maxRecipients: r.d_max_recipients } };
    },
    async accountLimitsOfDomain(domainId) {
      const { rows } = await pool.query<LimitsRow & { account_id: number }>(
        'SELECT l.account_id, l.per_hour, l.per_day, l.max_recipients FROM account_send_limits l JOIN accounts a ON a.id = l.account_id WHERE a.domain_id = $1',
        [domainId],
      );
      return new Map(rows.map((r) => [Number(r.account_id), values(r)]));
    },
    setDomainLimits: setLimits('domain_send_limits', 'domain_id'),
    setAccountLimits: setLimits('account_send_limits', 'account_id'),
    reserve: (accountId, minute, count, limits) =>
      tx(async (c) => {
        await c.query('SELECT pg_advisory_xact_lock($1, $2)', [RESERVE_LOCK, accountId]);
        const s = (await c.query<{ hour: string; day: string }>(SUMS, [minute - hourSlots, accountId, minute - daySlots])).rows[0]!;
        if (limits.perHour > 0 && Number(s.hour) + count > limits.perHour) return 'hour';
        if (limits.perDay > 0 && Number(s.day) + count > limits.perDay) return 'day';
        await c.query(
          `INSERT INTO send_counts (account_id, minute, count) VALUES ($1, $2, $3)
           ON CONFLICT (account_id, minute) DO UPDATE SET count = send_counts.count + excluded.count`,
          [accountId, minute, count],
        );
        return null;
      }),
    async release(accountId, minute, count) {
      await pool.query('UPDATE send_counts SET count = greatest(count - $1, 0) WHERE account_id = $2 AND minute = $3', [count, accountId, minute]);
    },
    async sentByDomain(domainId, minute) {
      const { rows } = await pool.query<{ hour: string; day: string }>(
        `SELECT coalesce(sum(CASE WHEN s.minute > $1 THEN s.count END), 0) AS hour, coalesce(sum(s.count), 0) AS day
         FROM send_counts s JOIN accounts a ON a.id = s.account_id WHERE a.domain_id = $2 AND s.minute > $3`,
        [minute - hourSlots, domainId, minute - daySlots],
      );
      return { lastHour: Number(rows[0]!.hour), lastDay: Number(rows[0]!.day) };
    },
    async sent(accountIds, minute) {
      const out = new Map<number, { lastHour: number; lastDay: number }>();
      if (accountIds.length === 0) return out;
      const { rows } = await pool.query<{ account_id: number; hour: string; day: string }>(
        `SELECT account_id, coalesce(sum(CASE WHEN minute > $1 THEN count END), 0) AS hour, coalesce(sum(count), 0) AS day
         FROM send_counts WHERE account_id = ANY($2::bigint[]) AND minute > $3 GROUP BY account_id`,
        [minute - hourSlots, accountIds, minute - daySlots],
      );
      for (const r of rows) if (Number(r.day) > 0) out.set(Number(r.account_id), { lastHour: Number(r.hour), lastDay: Number(r.day) });
      return out;
    },
    async markReached(accountId, window, at) {
      const { rowCount } = await pool.query(
        `INSERT INTO send_limit_reached (account_id, period, at) VALUES ($1, $2, $3)
         ON CONFLICT (account_id, period) DO UPDATE SET at = excluded.at WHERE send_limit_reached.at <= excluded.at - $4`,
        [accountId, window, at, SEND_WINDOWS[window]],
      );
      return (rowCount ?? 0) > 0;
    },
    async reachedSince(domainId, since) {
      const { rows } = await pool.query<{ account_id: number; login: string; kind: 'mailbox' | 'credential'; period: SendWindow; at: number }>(
        `SELECT r.account_id, a.login, a.kind, r.period, r.at FROM send_limit_reached r JOIN accounts a ON a.id = r.account_id
         WHERE a.domain_id = $1 AND r.at >= $2 ORDER BY r.at DESC, a.login`,
        [domainId, since],
      );
      return rows.map((r): LimitReached => ({ accountId: Number(r.account_id), login: r.login, kind: r.kind, window: r.period, at: Number(r.at) }));
    },
    async prune(minute, at) {
      await pool.query('DELETE FROM send_counts WHERE minute < $1', [minute - daySlots]);
      await pool.query('DELETE FROM send_limit_reached WHERE at < $1', [at - SEND_WINDOWS.day]);
    },
  };
  return store;
}
