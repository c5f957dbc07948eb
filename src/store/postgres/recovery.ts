import type pg from 'pg';
import type { RecoveryStore } from '../../core/ports.js';
import { toRecoveryLink, type RecoveryLinkRow } from '../rows.js';
import { appendAudit } from './audit.js';
import { queries } from './query.js';

export function createPostgresRecovery(pool: pg.Pool): RecoveryStore {
  const { one, run, tx } = queries(pool);
  const take = `DELETE FROM recovery_links WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3 RETURNING *`;
  return {
    async getRecovery(accountId, now) {
      const [c, p] = await Promise.all([
        one<{ address: string; confirmed_at: number }>('SELECT address, confirmed_at FROM recovery_addresses WHERE account_id = $1', [accountId]),
        one<{ address: string; expires_at: number }>(
          `SELECT address, expires_at FROM recovery_links WHERE account_id = $1 AND purpose = 'confirm' AND expires_at > $2 ORDER BY created_at DESC LIMIT 1`,
          [accountId, now],
        ),
      ]);
      return { confirmed: c ? { address: c.address, confirmedAt: c.confirmed_at } : null, pending: p ? { address: p.address, expiresAt: p.expires_at } : null };
    },
    async addRecoveryLink(link, entry) {
      await tx(async (c) => {
        if (link.purpose === 'confirm') await run("DELETE FROM recovery_links WHERE account_id = $1 AND purpose = 'confirm'", [link.accountId], c);
        await run(
          `INSERT INTO recovery_links (token_hash, account_id, purpose, address, password_version, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [link.tokenHash, link.accountId, link.purpose, link.address, link.passwordVersion, link.createdAt, link.expiresAt],
          c,
        );
        await appendAudit(c, entry);
      });
    },
    async findRecoveryLink(tokenHash, purpose, now) {
      const row = await one<RecoveryLinkRow>('SELECT * FROM recovery_links WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3', [tokenHash, purpose, now]);
      return row ? toRecoveryLink(row) : null;
    },
    async deleteRecoveryLink(tokenHash, purpose, now) {
      const row = await one<RecoveryLinkRow>(take, [tokenHash, purpose, now]);
      return row ? toRecoveryLink(row) : null;
    },
    async setConfirmedRecoveryAddress(tokenHash, now, entry) {
      return tx(async (c) => {
        const row = await one<RecoveryLinkRow>(take, [tokenHash, 'confirm', now], c);
        if (!row) return false;
        await run(
          `INSERT INTO recovery_addresses (account_id, address, confirmed_at) VALUES ($1, $2, $3)
           ON CONFLICT (account_id) DO UPDATE SET address = excluded.address, confirmed_at = excluded.confirmed_at`,
          [row.account_id, row.address, now],
          c,
        );
        await appendAudit(c, entry);
        return true;
      });
    },
    async removeRecoveryAddress(accountId, entry) {
      await tx(async (c) => {
        await run('DELETE FROM recovery_addresses WHERE account_id = $1', [accountId], c);
        await run("DELETE FROM recovery_links WHERE account_id = $1 AND purpose = 'confirm'", [accountId], c);
        await appendAudit(c, entry);
      });
    },
    async pruneRecoveryLinks(now) {
      return run('DELETE FROM recovery_links WHERE expires_at <= $1', [now]);
    },
  };
}
