import type pg from 'pg';
import type { DkimKeyStore } from '../../core/ports.js';
import { toDkim, type DkimRow } from '../rows.js';
import { appendAudit } from './audit.js';
import { queries } from './query.js';

export function createPostgresDkimKeys(pool: pg.Pool): DkimKeyStore {
  const { rows, run, tx } = queries(pool);
  return {
    async insertDkimKeys(keys, entry) {
      await tx(async (c) => {
        for (const k of keys) {
          await run('INSERT INTO dkim_keys (domain_id, selector, algorithm, private_key, public_key, created_at) VALUES ($1, $2, $3, $4, $5, $6)', [k.domainId, k.selector, k.algorithm, k.privateKey, k.publicKey, k.createdAt], c);
        }
        await appendAudit(c, entry);
      });
    },
    async listDkimKeys(domainId) {
      return (await rows<DkimRow>('SELECT * FROM dkim_keys WHERE domain_id = $1 ORDER BY created_at, selector COLLATE "C"', [domainId])).map(toDkim);
    },
    async deleteDkimKey(domainId, selector, entry) {
      return tx(async (c) => {
        const gone = (await run('DELETE FROM dkim_keys WHERE domain_id = $1 AND selector = $2', [domainId, selector], c)) === 1;
        if (gone) await appendAudit(c, entry);
        return gone;
      });
    },
  };
}
