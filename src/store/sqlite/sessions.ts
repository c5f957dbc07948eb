import type { SessionStore } from '../../core/ports.js';
import type { Db } from './db.js';

/**
 * `writer`: the connection that writes web sessions (new ones and moved expiries). The server
 * gives it one of its own with synchronous=NORMAL: a session is not worth an fsync on the event
 * loop for every login (0.3-0.9 ms each under mail load on a virtual disk, more on a slow one).
 * In WAL mode such a commit survives a crash of the process, and a power cut once any later commit
 * of the main connection (FULL) has synced the log; what a power cut can take is a login, which
 * the user repeats. Ending sessions (logout, a password change) stays on the main connection.
 */
export function createSqliteSessions(db: Db, writer: Db = db): SessionStore {
  const q = {
    get: db.prepare('SELECT data, expires_at FROM sessions WHERE key = ? AND expires_at > ?'),
    set: writer.prepare(`INSERT INTO sessions (key, owner, data, expires_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, data = excluded.data, expires_at = excluded.expires_at`),
    touch: writer.prepare('UPDATE sessions SET expires_at = ? WHERE key = ?'),
    destroy: db.prepare('DELETE FROM sessions WHERE key = ?'),
    count: db.prepare('SELECT count(*) AS n FROM sessions WHERE owner = ?'),
    prune: db.prepare('DELETE FROM sessions WHERE expires_at <= ?'),
  };
  return {
    async getSession(key, now) {
      const row = q.get.get(key, now) as { data: string; expires_at: number } | undefined;
      return row ? { data: row.data, expiresAt: row.expires_at } : null;
    },
    async setSession(key, sessionOwner, data, expiresAt) {
      q.set.run(key, sessionOwner, data, expiresAt);
    },
    async touchSession(key, expiresAt) {
      q.touch.run(expiresAt, key);
    },
    async destroySession(key) {
      q.destroy.run(key);
    },
    async countSessions(sessionOwner) {
      return (q.count.get(sessionOwner) as { n: number }).n;
    },
    async pruneSessions(now) {
      return q.prune.run(now).changes;
    },
  };
}
