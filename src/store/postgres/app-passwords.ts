import type pg from 'pg';
import type { AppPasswordStore } from '../../core/ports.js';
import { toApp, type AppRow } from '../rows.js';
import { appendAudit } from './audit.js';
import { queries } from './query.js';

export function createPostgresAppPasswords(pool: pg.Pool): AppPasswordStore {
  const { rows, one, run, tx } = queries(pool);
  return {
    async insertAppPassword({ accountId, name, tag, selector, passwordHash, now }, entry) {
      return tx(async (c) => {
        const row = (await one<AppRow>('INSERT INTO app_passwords (account_id, name, tag, selector, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *', [accountId, name, tag, selector, passwordHash, now], c))!;
        await appendAudit(c, entry);
        return toApp(row);
      });
    },
    async setAppPasswordSelector(id, selector) {
      await run('UPDATE app_passwords SET selector = $1 WHERE id = $2 AND selector IS NULL', [selector, id]);
    },
    async listAppPasswords(accountId) {
      return (await rows<AppRow>('SELECT * FROM app_passwords WHERE account_id = $1 ORDER BY created_at, id', [accountId])).map(toApp);
    },
    async findAppPassword(accountId, tag) {
      const row = await one<AppRow>('SELECT * FROM app_passwords WHERE account_id = $1 AND tag = $2', [accountId, tag]);
      return row ? toApp(row) : null;
    },
    async deleteAppPassword(accountId, id, entry) {
      return tx(async (c) => {
        const gone = (await run('DELETE FROM app_passwords WHERE account_id = $1 AND id = $2', [accountId, id], c)) === 1;
        if (gone) await appendAudit(c, entry);
        return gone;
      });
    },
  };
}
