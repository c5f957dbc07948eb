import type { Notice, NoticeStore, SessionOwner } from '../../core/ports.js';
import { MAX_NOTICES } from '../rows.js';
import type { Db } from './db.js';

export function createSqliteNotices(db: Db): NoticeStore {
  const q = {
    insert: db.prepare('INSERT INTO notices (owner, kind, detail, at) VALUES (?, ?, ?, ?)'),
    trim: db.prepare('DELETE FROM notices WHERE owner = ? AND id <= (SELECT id FROM notices WHERE owner = ? ORDER BY id DESC LIMIT 1 OFFSET ?)'),
    has: db.prepare('SELECT 1 FROM notices WHERE owner = ? LIMIT 1'),
    of: db.prepare('SELECT kind, detail, at FROM notices WHERE owner = ? ORDER BY id'),
    delete: db.prepare('DELETE FROM notices WHERE owner = ?'),
  };
  const addTx = db.transaction((o: SessionOwner, n: Notice) => {
    q.insert.run(o, n.kind, n.detail, n.at);
    q.trim.run(o, o, MAX_NOTICES);
  });
  const takeTx = db.transaction((o: SessionOwner) => {
    const rows = q.of.all(o) as Notice[];
    if (rows.length > 0) q.delete.run(o);
    return rows;
  });
  return {
    async addNotice(o, notice) {
      addTx.immediate(o, notice);
    },
    async takeNotices(o) {
      // Most visits find none: a read, not a write transaction.
      if (!q.has.get(o)) return [];
      return takeTx.immediate(o);
    },
  };
}
