import type { AuditEntry, TokenStore } from '../../core/ports.js';
import { TOKEN_SELECT, toToken, tokenScopeColumns, type TokenRow } from '../rows.js';
import { auditWriter } from './audit.js';
import type { Db } from './db.js';

export function createSqliteTokens(db: Db): TokenStore {
  const writeAudit = auditWriter(db);
  const q = {
    insert: db.prepare(`INSERT INTO api_tokens (admin_id, name, prefix, token_hash, created_at, read_only, domains, expires_at, allow_ips)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
    byId: db.prepare(`${TOKEN_SELECT} WHERE t.id = ?`),
    byHash: db.prepare(`${TOKEN_SELECT} WHERE t.token_hash = ?`),
    list: db.prepare(`${TOKEN_SELECT} ORDER BY t.created_at DESC, t.id DESC`),
    listOf: db.prepare(`${TOKEN_SELECT} WHERE t.admin_id = ? ORDER BY t.created_at DESC, t.id DESC`),
    revoke: db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
    touch: db.prepare('UPDATE api_tokens SET last_used_at = ?, last_used_ip = ? WHERE id = ?'),
  };
  const insertTx = db.transaction((i: Parameters<TokenStore['insertToken']>[0], entry: AuditEntry) => {
    const c = tokenScopeColumns(i.scope);
    const { id } = q.insert.get(i.adminId, i.name, i.prefix, i.tokenHash, i.now, i.scope.readOnly ? 1 : 0, c.domains, c.expiresAt, c.allowIps) as { id: number };
    writeAudit(entry);
    return id;
  });
  const revokeTx = db.transaction((id: number, now: number, entry: AuditEntry) => {
    const revoked = q.revoke.run(now, id).changes === 1;
    if (revoked) writeAudit(entry);
    return revoked;
  });
  return {
    async insertToken(input, entry) {
      return toToken(q.byId.get(insertTx.immediate(input, entry)) as TokenRow);
    },
    async findTokenByHash(tokenHash) {
      const row = q.byHash.get(tokenHash) as TokenRow | undefined;
      return row ? toToken(row) : null;
    },
    async listTokens(adminId) {
      return ((adminId === undefined ? q.list.all() : q.listOf.all(adminId)) as TokenRow[]).map(toToken);
    },
    async revokeToken(id, now, entry) {
      return revokeTx.immediate(id, now, entry);
    },
    async touchToken(id, now, ip) {
      q.touch.run(now, ip, id);
    },
  };
}
