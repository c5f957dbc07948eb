import type pg from 'pg';
import type { TokenStore } from '../../core/ports.js';
import { TOKEN_SELECT, toToken, tokenScopeColumns, type TokenRow } from '../rows.js';
import { appendAudit } from './audit.js';
import { queries } from './query.js';

export function createPostgresTokens(pool: pg.Pool): TokenStore {
  const { rows, one, run, tx } = queries(pool);
  return {
    async insertToken({ adminId, name, prefix, tokenHash, now, scope }, entry) {
      const s = tokenScopeColumns(scope);
      const id = await tx(async (c) => {
        const { id } = (await one<{ id: number }>(
          'INSERT INTO api_tokens (admin_id, name, prefix, token_hash, created_at, read_only, domains, expires_at, allow_ips) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id',
          [adminId, name, prefix, tokenHash, now, scope.readOnly, s.domains, s.expiresAt, s.allowIps],
          c,
        ))!;
        await appendAudit(c, entry);
        return id;
      });
      return toToken((await one<TokenRow>(`${TOKEN_SELECT} WHERE t.id = $1`, [id]))!);
    },
    async findTokenByHash(tokenHash) {
      const row = await one<TokenRow>(`${TOKEN_SELECT} WHERE t.token_hash = $1`, [tokenHash]);
      return row ? toToken(row) : null;
    },
    async listTokens(adminId) {
      return (await rows<TokenRow>(`${TOKEN_SELECT} WHERE $1::bigint IS NULL OR t.admin_id = $1 ORDER BY t.created_at DESC, t.id DESC`, [adminId ?? null])).map(toToken);
    },
    async revokeToken(id, now, entry) {
      return tx(async (c) => {
        const revoked = (await run('UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [now, id], c)) === 1;
        if (revoked) await appendAudit(c, entry);
        return revoked;
      });
    },
    async touchToken(id, now, ip) {
      await run('UPDATE api_tokens SET last_used_at = $1, last_used_ip = $2 WHERE id = $3', [now, ip, id]);
    },
  };
}
