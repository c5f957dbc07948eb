import type { AuditEntry } from '../../core/ports.js';
import { SEND_WINDOWS, type LimitReached, type SendLimitStore, type SendLimitValues, type SendWindow } from '../../core/ports/send-limits.js';
import { auditWriter } from './audit.js';
import type { Db } from './db.js';

type LimitsRow = { per_hour: number | null; per_day: number | null; max_recipients: number | null };
const NONE: SendLimitValues = { perHour: null, perDay: null, maxRecipients: null };
const values = (r: LimitsRow | undefined): SendLimitValues => (r ? { perHour: r.per_hour, perDay: r.per_day, maxRecipients: r.max_recipients } : { ...NONE });
const isNone = (v: SendLimitValues) => v.perHour === null && v.perDay === null && v.maxRecipients === null;

/**
 * SPEC §15 on SQLite. `db` writes the overrides with their audit entries (the main connection);
 * `counts` writes the counts (a connection with synchronous=NORMAL, as the login throttle's: a
 * count is not worth an fsync per recipient; in WAL mode it survives a crash of the process).
 * A reservation is one IMMEDIATE transaction: processes sharing the file take turns.
 */
/**
 * A domain's rows of the small tables (limits set, the last day's counts, limits reached), read
 * with CROSS JOIN, which SQLite keeps in the order written: from the small table to the account,
 * not through every account of the domain (issue 36: 8-12 ms each at 200,000 mailboxes). The
 * send-limits store test reads their plans.
 */
export const DOMAIN_SQL = {
  limits: `SELECT l.account_id, l.per_hour, l.per_day, l.max_recipients
      FROM account_send_limits l CROSS JOIN accounts a ON a.id = l.account_id WHERE a.domain_id = ?`,
  sums: `SELECT coalesce(sum(CASE WHEN s.minute > ? THEN s.count END), 0) AS hour, coalesce(sum(s.count), 0) AS day
      FROM send_counts s CROSS JOIN accounts a ON a.id = s.account_id WHERE a.domain_id = ? AND s.minute > ?`,
  reached: `SELECT r.account_id, a.login, a.kind, r.period, r.at FROM send_limit_reached r CROSS JOIN accounts a ON a.id = r.account_id
      WHERE a.domain_id = ? AND r.at >= ? ORDER BY r.at DESC, a.login`,
};

export function createSqliteSendLimits(db: Db, counts: Db = db): SendLimitStore {
  const q = {
    domain: db.prepare('SELECT per_hour, per_day, max_recipients FROM domain_send_limits WHERE domain_id = ?'),
    account: db.prepare(`SELECT a.id, l.per_hour, l.per_day, l.max_recipients,
        d.per_hour AS d_per_hour, d.per_day AS d_per_day, d.max_recipients AS d_max_recipients
      FROM accounts a LEFT JOIN account_send_limits l ON l.account_id = a.id LEFT JOIN domain_send_limits d ON d.domain_id = a.domain_id
      WHERE a.id = ?`),
    ofDomain: db.prepare(DOMAIN_SQL.limits),
    setDomain: db.prepare(`INSERT INTO domain_send_limits (domain_id, per_hour, per_day, max_recipients) VALUES (@id, @perHour, @perDay, @maxRecipients)
      ON CONFLICT (domain_id) DO UPDATE SET per_hour = excluded.per_hour, per_day = excluded.per_day, max_recipients = excluded.max_recipients`),
    clearDomain: db.prepare('DELETE FROM domain_send_limits WHERE domain_id = ?'),
    setAccount: db.prepare(`INSERT INTO account_send_limits (account_id, per_hour, per_day, max_recipients) VALUES (@id, @perHour, @perDay, @maxRecipients)
      ON CONFLICT (account_id) DO UPDATE SET per_hour = excluded.per_hour, per_day = excluded.per_day, max_recipients = excluded.max_recipients`),
    clearAccount: db.prepare('DELETE FROM account_send_limits WHERE account_id = ?'),
    sums: counts.prepare(`SELECT coalesce(sum(CASE WHEN minute > ? THEN count END), 0) AS hour, coalesce(sum(count), 0) AS day
      FROM send_counts WHERE account_id = ? AND minute > ?`),
    domainSums: counts.prepare(DOMAIN_SQL.sums),
    add: counts.prepare(`INSERT INTO send_counts (account_id, minute, count) VALUES (?, ?, ?)
      ON CONFLICT (account_id, minute) DO UPDATE SET count = count + excluded.count`),
    take: counts.prepare('UPDATE send_counts SET count = max(count - ?, 0) WHERE account_id = ? AND minute = ?'),
    mark: counts.prepare(`INSERT INTO send_limit_reached (account_id, period, at) VALUES (?, ?, ?)
      ON CONFLICT (account_id, period) DO UPDATE SET at = excluded.at WHERE send_limit_reached.at <= excluded.at - ?`),
    reached: db.prepare(DOMAIN_SQL.reached),
    pruneCounts: counts.prepare('DELETE FROM send_counts WHERE minute < ?'),
    pruneReached: counts.prepare('DELETE FROM send_limit_reached WHERE at < ?'),
  };
  const writeAudit = auditWriter(db);
  const setDomainTx = db.transaction((id: number, v: SendLimitValues, e: AuditEntry) => {
    if (isNone(v)) q.clearDomain.run(id);
    else q.setDomain.run({ id, ...v });
    writeAudit(e);
  });
  const setAccountTx = db.transaction((id: number, v: SendLimitValues, e: AuditEntry) => {
    if (isNone(v)) q.clearAccount.run(id);
    else q.setAccount.run({ id, ...v });
    writeAudit(e);
  });
  const hourSlots = SEND_WINDOWS.hour / 60;
  const daySlots = SEND_WINDOWS.day / 60;
  const reserveTx = counts.transaction((accountId: number, minute: number, count: number, limits: { perHour: number; perDay: number }): SendWindow | null => {
    const s = q.sums.get(minute - hourSlots, accountId, minute - daySlots) as { hour: number; day: number };
    if (limits.perHour > 0 && s.hour + count > limits.perHour) return 'hour';
    if (limits.perDay > 0 && s.day + count > limits.perDay) return 'day';
    q.add.run(accountId, minute, count);
    return null;
  });

  const store: SendLimitStore = {
    async domainLimits(domainId) {
      return values(q.domain.get(domainId) as LimitsRow | undefined);
    },
    async accountLimits(accountId) {
      const r = q.account.get(accountId) as (LimitsRow & { d_per_hour: number | null; d_per_day: number | null; d_max_recipients: number | null }) | undefined;
      if (!r) return null;
      return { account: values(r), domain: { perHour: r.d_per_hour, perDay: r.d_per_day, maxRecipients: r.d_max_recipients } };
    },
    async accountLimitsOfDomain(domainId) {
      const rows = q.ofDomain.all(domainId) as Array<LimitsRow & { account_id: number }>;
      return new Map(rows.map((r) => [r.account_id, values(r)]));
    },
    async setDomainLimits(domainId, v, audit) {
      setDomainTx(domainId, v, audit);
    },
    async setAccountLimits(accountId, v, audit) {
      setAccountTx(accountId, v, audit);
    },
    async reserve(accountId, minute, count, limits) {
      return reserveTx.immediate(accountId, minute, count, limits);
    },
    async release(accountId, minute, count) {
      q.take.run(count, accountId, minute);
    },
    async sentByDomain(domainId, minute) {
      const s = q.domainSums.get(minute - hourSlots, domainId, minute - daySlots) as { hour: number; day: number };
      return { lastHour: s.hour, lastDay: s.day };
    },
    async sent(accountIds, minute) {
      const out = new Map<number, { lastHour: number; lastDay: number }>();
      for (const id of accountIds) {
        const s = q.sums.get(minute - hourSlots, id, minute - daySlots) as { hour: number; day: number };
        if (s.day > 0) out.set(id, { lastHour: s.hour, lastDay: s.day });
      }
      return out;
    },
    async markReached(accountId, window, at) {
      return q.mark.run(accountId, window, at, SEND_WINDOWS[window]).changes > 0;
    },
    async reachedSince(domainId, since) {
      const rows = q.reached.all(domainId, since) as Array<{ account_id: number; login: string; kind: 'mailbox' | 'credential'; period: SendWindow; at: number }>;
      return rows.map((r): LimitReached => ({ accountId: r.account_id, login: r.login, kind: r.kind, window: r.period, at: r.at }));
    },
    async prune(minute, at) {
      q.pruneCounts.run(minute - daySlots);
      q.pruneReached.run(at - SEND_WINDOWS.day);
    },
  };
  return store;
}
