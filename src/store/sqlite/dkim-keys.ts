import type { AuditEntry, DkimKey, DkimKeyStore } from '../../core/ports.js';
import { toDkim, type DkimRow } from '../rows.js';
import { auditWriter } from './audit.js';
import type { Db } from './db.js';

export function createSqliteDkimKeys(db: Db): DkimKeyStore {
  const writeAudit = auditWriter(db);
  const q = {
    insert: db.prepare('INSERT INTO dkim_keys (domain_id, selector, algorithm, private_key, public_key, created_at) VALUES (@domainId, @selector, @algorithm, @privateKey, @publicKey, @createdAt)'),
    list: db.prepare('SELECT * FROM dkim_keys WHERE domain_id = ? ORDER BY created_at, selector'),
    delete: db.prepare('DELETE FROM dkim_keys WHERE domain_id = ? AND selector = ?'),
  };
  const insertTx = db.transaction((keys: readonly DkimKey[], entry: AuditEntry) => {
    for (const k of keys) q.insert.run(k);
    writeAudit(entry);
  });
  const deleteTx = db.transaction((domainId: number, selector: string, entry: AuditEntry) => {
    const gone = q.delete.run(domainId, selector).changes === 1;
    if (gone) writeAudit(entry);
    return gone;
  });
  return {
    async insertDkimKeys(keys, entry) {
      insertTx.immediate(keys, entry);
    },
    async listDkimKeys(domainId) {
      return (q.list.all(domainId) as DkimRow[]).map(toDkim);
    },
    async deleteDkimKey(domainId, selector, entry) {
      return deleteTx.immediate(domainId, selector, entry);
    },
  };
}
