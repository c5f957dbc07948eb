import type pg from 'pg';
import type { SessionStore } from '../../core/ports.js';
import { queries } from './query.js';

export function createPostgresSessions(pool: pg.Pool): SessionStore {
  const { one, run } = queries(pool);
  return {
    async getSession(key, now) {
      const row = await one<{ data: string; expires_at: number }>('SELECT data, expires_at FROM sessions WHERE key = $1 AND expires_at > $2', [key, now]);
      return row ? { data: row.data, expiresAt: row.expires_at } : null;
    },
    async setSession(key, sessionOwner, data, expiresAt) {
      await run(
        `INSERT INTO sessions (key, owner, data, expires_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, data = excluded.data, expires_at = excluded.expires_at`,
        [key, sessionOwner, data, expiresAt],
      );
    },
    async touchSession(key, expiresAt) {
      await run('UPDATE sessions SET expires_at = $1 WHERE key = $2', [expiresAt, key]);
    },
    async destroySession(key) {
      await run('DELETE FROM sessions WHERE key = $1', [key]);
    },
    async countSessions(sessionOwner) {
      return (await one<{ n: number }>('SELECT count(*) AS n FROM sessions WHERE owner = $1', [sessionOwner]))!.n;
    },
    async pruneSessions(now) {
      return run('DELETE FROM sessions WHERE expires_at <= $1', [now]);
    },
  };
}
