import type pg from 'pg';
import type { Database } from '../../core/ports.js';
import { queries } from './query.js';

/** The PostgreSQL database as a whole; the pool is the composition root's to end (the login counters share it). */
export function createPostgresDatabase(pool: pg.Pool): Database {
  const { rows, run, tx } = queries(pool);
  return {
    async backup() {
      throw new Error('backup: on PostgreSQL, use pg_dump (docs/operations.md)');
    },
    async ping() {
      await pool.query('SELECT 1');
    },
    async rewriteSecrets(rewrite) {
      // Read first: a start that has nothing to rewrite (every start but the first) writes nothing.
      const updates: Array<[string, unknown[]]> = [];
      for (const r of await rows<{ key: string; value: string }>('SELECT key, value FROM settings')) {
        const v = rewrite('setting', r.key, r.value);
        if (v !== null) updates.push(['UPDATE settings SET value = $1 WHERE key = $2 AND value = $3', [v, r.key, r.value]]);
      }
      for (const r of await rows<{ owner: string; kind: string; secret: string }>('SELECT owner, kind, secret FROM second_factors')) {
        const v = rewrite('totp', r.owner, r.secret);
        if (v !== null) updates.push(['UPDATE second_factors SET secret = $1 WHERE owner = $2 AND kind = $3 AND secret = $4', [v, r.owner, r.kind, r.secret]]);
      }
      for (const r of await rows<{ domain_id: number; selector: string; private_key: string }>('SELECT domain_id, selector, private_key FROM dkim_keys')) {
        const v = rewrite('dkim', `${r.domain_id}:${r.selector}`, r.private_key);
        if (v !== null) updates.push(['UPDATE dkim_keys SET private_key = $1 WHERE domain_id = $2 AND selector = $3 AND private_key = $4', [v, r.domain_id, r.selector, r.private_key]]);
      }
      if (updates.length === 0) return 0;
      // Each update names the value it read: one another node rewrote meanwhile is left alone.
      return tx(async (c) => {
        let n = 0;
        for (const [sql, params] of updates) n += await run(sql, params, c);
        return n;
      });
    },
    close() {},
  };
}
