import { RateLimiterSQLite } from 'rate-limiter-flexible';
import { translateSqliteError } from './errors.js';
import { countersOver, LIMITER_OPTIONS, type StoredLimitCounters } from '../limit-counters.js';
import { openDatabase } from './db.js';

/**
 * The throttle's counters in the database file, through rate-limiter-flexible's SQLite limiter,
 * on a connection of their own: a counter is not worth an fsync, so this connection commits with
 * synchronous=NORMAL (in WAL mode: durable over a crash of the process, not always over a power
 * cut), while the main one keeps FULL for passwords.
 */
export function createSqliteLimitCounters(dbFile: string): StoredLimitCounters {
  const db = openDatabase(dbFile, { migrate: false, synchronous: 'NORMAL' });
  return countersOver((duration) => new RateLimiterSQLite({ ...LIMITER_OPTIONS, storeClient: db, storeType: 'better-sqlite3', duration }), {
    translate: translateSqliteError,
    close: () => {
      if (db.open) db.close();
    },
  });
}
