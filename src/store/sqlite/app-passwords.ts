import type { AppPasswordStore, AuditEntry } from '../../core/ports.js';
import { toApp, type AppRow } from '../rows.js';
import { auditWriter } from './audit.js';
import type { Db } from './db.js';

export function createSqliteAppPasswords(db: Db): AppPasswordStore {
  const writeAudit = auditWriter(db);
  const q = {
    insert: db.prepare(`INSERT INTO app_passwords (account_id, name, tag, selector, password_hash, created_at)
      VALUES (@accountId, @name, @tag, @selector, @passwordHash, @now) RETURNING *`),
    setSelector: db.prepare('UPDATE app_passwords SET selector = ? WHERE id = ? AND selector IS NULL'),
    list: db.prepare('SELECT * FROM app_passwords WHERE account_id = ? ORDER BY created_at, id'),
    find: db.prepare('SELECT * FROM app_passwords WHERE account_id = ? AND tag = ?'),
    delete: db.prepare('DELETE FROM app_passwords WHERE account_id = ? AND id = ?'),
  };
  const insertTx = db.transaction((input: { accountId: number; name: string; tag: string; selector: string; passwordHash: string; now: number }, entry: AuditEntry) => {
    const row = q.insert.get(input) as AppRow;
    writeAudit(entry);
    return row;
  });
  const deleteTx = db.transaction((accountId: number, id: number, entry: AuditEntry) => {
    const gone = q.delete.run(accountId, id).changes === 1;
    if (gone) writeAudit(entry);
    return gone;
  });
  return {
    async insertAppPassword(input, entry) {
      return toApp(insertTx.immediate(input, entry));
    },
    async setAppPasswordSelector(id, selector) {
      q.setSelector.run(selector, id);
    },
    async listAppPasswords(accountId) {
      return (q.list.all(accountId) as AppRow[]).map(toApp);
    },
    async findAppPassword(accountId, tag) {
      const row = q.find.get(accountId, tag) as AppRow | undefined;
      return row ? toApp(row) : null;
    },
    async deleteAppPassword(accountId, id, entry) {
      return deleteTx.immediate(accountId, id, entry);
    },
  };
}
