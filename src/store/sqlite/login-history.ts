import type { LoginBatch, LoginHistoryRow, LoginHistoryStore, NetworkSeen } from '../../core/ports.js';
import { MAX_FAILURE_ROWS, toHistory, type HistoryRow } from '../rows.js';
import { auditWriter } from './audit.js';
import type { Db } from './db.js';

export function createSqliteLoginHistory(db: Db): LoginHistoryStore {
  const writeAudit = auditWriter(db);
  const q = {
    recordLogin: db.prepare(`UPDATE accounts SET last_login_at = @at, last_login_ip = @ip
      WHERE id = @accountId AND (last_login_at IS NULL OR last_login_at <= @at)`),
    appLogin: db.prepare('UPDATE app_passwords SET last_login_at = @at, last_login_ip = @ip WHERE id = @appPasswordId AND (last_login_at IS NULL OR last_login_at <= @at)'),
    rehash: db.prepare('UPDATE accounts SET password_hash = ? WHERE id = ? AND password_version = ?'),
    add: db.prepare(`INSERT INTO login_history (account_id, day, protocol, mechanism, result, ip, client, first_at, last_at, count)
      SELECT @accountId, @day, @protocol, @mechanism, @result, @ip, @client, @firstAt, @lastAt, @count
      WHERE EXISTS (SELECT 1 FROM accounts WHERE id = @accountId)
      ON CONFLICT (account_id, day, protocol, mechanism, result, ip) DO UPDATE SET
        count = count + excluded.count,
        first_at = min(first_at, excluded.first_at),
        client = CASE WHEN excluded.last_at >= last_at THEN excluded.client ELSE client END,
        last_at = max(last_at, excluded.last_at)`),
    countFailureRows: db.prepare("SELECT count(*) AS n FROM login_history WHERE account_id = ? AND result <> 'ok'"),
    trimFailureRows: db.prepare(`DELETE FROM login_history WHERE account_id = @accountId AND result <> 'ok' AND last_at <= (
        SELECT last_at FROM login_history WHERE account_id = @accountId AND result <> 'ok'
        ORDER BY last_at DESC LIMIT 1 OFFSET @keep)`),
    list: db.prepare(`SELECT account_id, day, protocol, mechanism, result, ip, client, first_at, last_at, count
      FROM login_history WHERE account_id = ? ORDER BY last_at DESC LIMIT CAST(? AS INTEGER)`),
    prune: db.prepare('DELETE FROM login_history WHERE last_at < ?'),
    insertNetwork: db.prepare('INSERT INTO login_networks (owner, network, first_at) VALUES (@owner, @network, @at) ON CONFLICT DO NOTHING'),
    hasOtherNetwork: db.prepare('SELECT 1 FROM login_networks WHERE owner = ? AND network <> ? LIMIT 1'),
  };
  const batchTx = db.transaction(({ logins, rehashes, audit, history = [], appLogins = [], networks = [] }: LoginBatch): NetworkSeen[] => {
    for (const r of logins) q.recordLogin.run(r);
    for (const r of appLogins) q.appLogin.run(r);
    for (const r of rehashes) q.rehash.run(r.hash, r.accountId, r.passwordVersion);
    for (const e of audit) writeAudit(e);
    const failed = new Set<number>();
    for (const h of history) {
      q.add.run(h);
      if (h.result !== 'ok') failed.add(h.accountId);
    }
    // SPEC §10: at most MAX_FAILURE_ROWS failure rows an account; the oldest go first.
    for (const accountId of failed) {
      if ((q.countFailureRows.get(accountId) as { n: number }).n > MAX_FAILURE_ROWS) q.trimFailureRows.run({ accountId, keep: MAX_FAILURE_ROWS });
    }
    // A network is new when it was not known and the owner had logged in from another before
    // (an owner's first network is nothing to tell).
    return networks.filter((n) => q.insertNetwork.run(n).changes === 1 && q.hasOtherNetwork.get(n.owner, n.network) !== undefined);
  });
  return {
    async applyLoginBatch(batch) {
      const size = batch.logins.length + batch.rehashes.length + batch.audit.length + (batch.history?.length ?? 0) + (batch.appLogins?.length ?? 0) + (batch.networks?.length ?? 0);
      return size > 0 ? batchTx.immediate(batch) : [];
    },
    async listLoginHistory(accountId, limit): Promise<LoginHistoryRow[]> {
      return (q.list.all(accountId, limit) as HistoryRow[]).map(toHistory);
    },
    async pruneLoginHistory(before) {
      return q.prune.run(before).changes;
    },
  };
}
