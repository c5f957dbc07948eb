import { RateLimiterSQLite } from 'rate-limiter-flexible';
import { translateSqliteError } from './sqlite-store.js';
import type { LimitCounters } from '../../core/ports.js';
import { BUSY_TIMEOUT_MS, openDatabase } from './db.js';

const TABLE = 'login_limits';

export interface SqliteLimitCounters extends LimitCounters {
  /** Deletes expired counters; the server calls it once a minute. */
  prune(): Promise<void>;
  close(): void;
}

/**
 * The throttle's counters in the database file, through rate-limiter-flexible's SQLite limiter
 * (atomic upserts, windows that expire by time), on a connection of their own: a counter is not
 * worth an fsync, so this connection commits with synchronous=NORMAL (in WAL mode: durable over a
 * crash of the process, not always over a power cut), while the main one keeps FULL for passwords.
 */
export function createSqliteLimitCounters(dbFile: string): SqliteLimitCounters {
  const db = openDatabase(dbFile, { migrate: false });
  db.pragma('synchronous = NORMAL');
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  // One limiter per window length; they share the table (a key's window is fixed at its first point).
  const limiters = new Map<number, RateLimiterSQLite>();
  const limiter = (seconds: number) => {
    let l = limiters.get(seconds);
    if (!l) {
      l = new RateLimiterSQLite({
        storeClient: db,
        storeType: 'better-sqlite3',
        tableName: TABLE,
        tableCreated: true,
        clearExpiredByTimeout: false,
        keyPrefix: 'l',
        points: Number.MAX_SAFE_INTEGER,
        duration: seconds,
      });
      limiters.set(seconds, l);
    }
    return l;
  };
  const any = limiter(1);
  const translated = async <T>(op: () => Promise<T>): Promise<T> => {
    try {
      return await op();
    } catch (err) {
      throw translateSqliteError(err);
    }
  };
  return {
    get: (key) =>
      translated(async () => {
        const res = await any.get(key);
        return res ? { count: res.consumedPoints, msLeft: Math.max(0, res.msBeforeNext) } : { count: 0, msLeft: 0 };
      }),
    add: (key, windowSeconds) => translated(async () => (await limiter(windowSeconds).penalty(key, 1)).consumedPoints),
    mark: (key, seconds) => translated(async () => void (await limiter(seconds).set(key, 1, seconds))),
    delete: (key) => translated(async () => void (await any.delete(key))),
    prune: () => translated(() => (any as unknown as { clearExpired(nowMs: number): Promise<void> }).clearExpired(Date.now())),
    close() {
      if (db.open) db.close();
    },
  };
}
