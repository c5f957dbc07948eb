import type pg from 'pg';
import type { LoginHistoryRow, LoginHistoryStore, NetworkSeen } from '../../core/ports.js';
import { MAX_FAILURE_ROWS, toHistory, type HistoryRow } from '../rows.js';
import { printable } from './audit.js';
import { queries } from './query.js';

export function createPostgresLoginHistory(pool: pg.Pool): LoginHistoryStore {
  const { rows, run, tx } = queries(pool);
  return {
    async applyLoginBatch({ logins, rehashes, audit, history = [], appLogins = [], networks = [] }) {
      if (logins.length + rehashes.length + audit.length + history.length + appLogins.length + networks.length === 0) return [];
      return tx(async (c) => {
        // Each kind of row in one statement over arrays: a batch costs a few round trips, whatever its size.
        // Last connections of accounts and of app passwords: a later one is never overwritten by an earlier.
        const lastLogins = async (table: 'accounts' | 'app_passwords', rows: ReadonlyArray<{ id: number; at: number; ip: string | null }>) => {
          if (rows.length === 0) return;
          await run(
            `UPDATE ${table} t SET last_login_at = r.at, last_login_ip = r.ip
             FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS r (id, at, ip)
             WHERE t.id = r.id AND (t.last_login_at IS NULL OR t.last_login_at <= r.at)`,
            [rows.map((r) => r.id), rows.map((r) => r.at), rows.map((r) => r.ip)],
            c,
          );
        };
        await lastLogins('accounts', logins.map((r) => ({ id: r.accountId, at: r.at, ip: r.ip })));
        await lastLogins('app_passwords', appLogins.map((r) => ({ id: r.appPasswordId, at: r.at, ip: r.ip })));
        for (const r of rehashes) await run('UPDATE accounts SET password_hash = $1 WHERE id = $2 AND password_version = $3', [r.hash, r.accountId, r.passwordVersion], c);
        if (audit.length > 0) {
          await run(
            'INSERT INTO audit_log (at, actor, action, target, ip, detail) SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])',
            [audit.map((e) => e.at), audit.map((e) => printable(e.actor)), audit.map((e) => e.action), audit.map((e) => printable(e.target)), audit.map((e) => e.ip), audit.map((e) => printable(e.detail))],
            c,
          );
        }
        if (history.length > 0) {
          const col = <K extends keyof LoginHistoryRow>(k: K) => history.map((h) => h[k]);
          await run(
            `INSERT INTO login_history AS h (account_id, day, protocol, mechanism, result, ip, client, first_at, last_at, count)
             SELECT r.* FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[])
               AS r (account_id, day, protocol, mechanism, result, ip, client, first_at, last_at, count)
             WHERE EXISTS (SELECT 1 FROM accounts WHERE id = r.account_id)
             ON CONFLICT (account_id, day, protocol, mechanism, result, ip) DO UPDATE SET
               count = h.count + excluded.count,
               first_at = LEAST(h.first_at, excluded.first_at),
               client = CASE WHEN excluded.last_at >= h.last_at THEN excluded.client ELSE h.client END,
               last_at = GREATEST(h.last_at, excluded.last_at)`,
            [col('accountId'), col('day'), col('protocol'), col('mechanism'), col('result'), col('ip'), col('client'), col('firstAt'), col('lastAt'), col('count')],
            c,
          );
          // SPEC §10: at most MAX_FAILURE_ROWS failure rows an account; the oldest go first.
          for (const accountId of new Set(history.filter((h) => h.result !== 'ok').map((h) => h.accountId))) {
            await run(
              `DELETE FROM login_history WHERE account_id = $1 AND result <> 'ok' AND last_at <= (
                 SELECT last_at FROM login_history WHERE account_id = $1 AND result <> 'ok' ORDER BY last_at DESC LIMIT 1 OFFSET $2)`,
              [accountId, MAX_FAILURE_ROWS],
              c,
            );
          }
        }
        if (networks.length === 0) return [];
        // New for an owner that had logged in from another network before (a first network is nothing to tell).
        const fresh = await rows<{ owner: string; network: string }>(
          `WITH added AS (
             INSERT INTO login_networks (owner, network, first_at) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
             ON CONFLICT DO NOTHING RETURNING owner, network)
           SELECT owner, network FROM added a
           WHERE EXISTS (SELECT 1 FROM login_networks n WHERE n.owner = a.owner AND n.network <> a.network)`,
          [networks.map((n) => n.owner), networks.map((n) => n.network), networks.map((n) => n.at)],
          c,
        );
        const isFresh = new Set(fresh.map((f) => `${f.owner}\0${f.network}`));
        return networks.filter((n: NetworkSeen) => isFresh.has(`${n.owner}\0${n.network}`));
      });
    },
    async listLoginHistory(accountId, limit) {
      return (await rows<HistoryRow>('SELECT * FROM login_history WHERE account_id = $1 ORDER BY last_at DESC LIMIT $2', [accountId, limit])).map(toHistory);
    },
    async pruneLoginHistory(before) {
      return run('DELETE FROM login_history WHERE last_at < $1', [before]);
    },
  };
}
