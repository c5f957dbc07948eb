import { chmodSync } from 'node:fs';
import type { Statement } from 'better-sqlite3';
import type { Database } from '../../core/ports.js';
import type { Db } from './db.js';

/** The SQLite file as a whole: `connections` are closed with it (the main one last). */
export function createSqliteDatabase(db: Db, connections: readonly Db[] = []): Database {
  const ping = db.prepare('SELECT 1');
  return {
    async backup(file) {
      await db.backup(file);
      // A backup holds every hash and key of the installation: its owner's only.
      chmodSync(file, 0o600);
    },
    async ping() {
      ping.get();
    },
    async rewriteSecrets(rewrite) {
      // Read first: a start that has nothing to rewrite (every start but the first) takes no write lock.
      const updates: Array<[Statement, unknown[]]> = [];
      const update = {
        setting: db.prepare('UPDATE settings SET value = ? WHERE key = ? AND value = ?'),
        totp: db.prepare('UPDATE second_factors SET secret = ? WHERE owner = ? AND kind = ? AND secret = ?'),
        dkim: db.prepare('UPDATE dkim_keys SET private_key = ? WHERE domain_id = ? AND selector = ? AND private_key = ?'),
      };
      for (const r of db.prepare('SELECT key, value FROM settings').all() as Array<{ key: string; value: string }>) {
        const v = rewrite('setting', r.key, r.value);
        if (v !== null) updates.push([update.setting, [v, r.key, r.value]]);
      }
      for (const r of db.prepare('SELECT owner, kind, secret FROM second_factors').all() as Array<{ owner: string; kind: string; secret: string }>) {
        const v = rewrite('totp', r.owner, r.secret);
        if (v !== null) updates.push([update.totp, [v, r.owner, r.kind, r.secret]]);
      }
      for (const r of db.prepare('SELECT domain_id, selector, private_key FROM dkim_keys').all() as Array<{ domain_id: number; selector: string; private_key: string }>) {
        const v = rewrite('dkim', `${r.domain_id}:${r.selector}`, r.private_key);
        if (v !== null) updates.push([update.dkim, [v, r.domain_id, r.selector, r.private_key]]);
      }
      if (updates.length === 0) return 0;
      // Each update names the value it read: one another process rewrote meanwhile is left alone.
      return db.transaction(() => updates.reduce((n, [statement, params]) => n + statement.run(...params).changes, 0)).immediate();
    },
    close() {
      for (const c of connections) if (c.open) c.close();
      if (db.open) db.close();
    },
  };
}
