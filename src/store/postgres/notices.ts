import type pg from 'pg';
import type { Notice, NoticeStore } from '../../core/ports.js';
import { MAX_NOTICES } from '../rows.js';
import { queries } from './query.js';

export function createPostgresNotices(pool: pg.Pool): NoticeStore {
  const { rows, run, tx } = queries(pool);
  return {
    async addNotice(o, n) {
      await tx(async (c) => {
        await run('INSERT INTO notices (owner, kind, detail, at) VALUES ($1, $2, $3, $4)', [o, n.kind, n.detail, n.at], c);
        await run('DELETE FROM notices WHERE owner = $1 AND id <= (SELECT id FROM notices WHERE owner = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)', [o, MAX_NOTICES], c);
      });
    },
    async takeNotices(o) {
      // One statement: two nodes serving the same owner show each notice once.
      return rows<Notice>('WITH taken AS (DELETE FROM notices WHERE owner = $1 RETURNING id, kind, detail, at) SELECT kind, detail, at FROM taken ORDER BY id', [o]);
    },
  };
}
