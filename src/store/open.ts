import type pg from 'pg';
import type { Config } from '../config.js';
import type { Store } from '../core/ports.js';
import type { SendLimitStore } from '../core/ports/send-limits.js';
import type { StoredLimitCounters } from './limit-counters.js';
import { createPool, migrate } from './postgres/db.js';
import { createPostgresLimitCounters } from './postgres/limit-counters.js';
import { createPostgresStore } from './postgres/pg-store.js';
import { createPostgresSendLimits } from './postgres/send-limits.js';
import { openSealer, sealSecrets } from './sealed-secrets.js';
import { openDatabase, type Db } from './sqlite/db.js';
import { createSqliteLimitCounters } from './sqlite/limit-counters.js';
import { createSqliteSendLimits } from './sqlite/send-limits.js';
import { createSqliteStore } from './sqlite/sqlite-store.js';

export interface OpenedStore {
  /** With its secrets sealed at rest (sealed-secrets.ts). */
  store: Store;
  counters: StoredLimitCounters;
  sendLimits: SendLimitStore;
  /** The main SQLite connection (null on PostgreSQL): fault tests set pragmas on it. */
  db: Db | null;
  /** The SQLite connection that writes web sessions (see createSqliteStore; null on PostgreSQL). */
  sessionsDb: Db | null;
  pool: pg.Pool | null;
  end(): Promise<void>;
}

/** The store over its key file: a missing or wrong key closes what was opened and throws. */
async function sealed(plain: Store, keyFile: string, closeOnError: () => unknown): Promise<Store> {
  try {
    return sealSecrets(plain, await openSealer(plain, keyFile));
  } catch (err) {
    await closeOnError();
    throw err;
  }
}

/** The store of `config`: the SQLite file in DATA_DIR, or PostgreSQL at DATABASE_URL (SPEC §12), its schema brought up to date. */
export async function openStore(config: Config): Promise<OpenedStore> {
  if (!config.database) {
    const db = openDatabase(config.dbFile);
    const sessions = openDatabase(config.dbFile, { migrate: false, synchronous: 'NORMAL' });
    const plain = createSqliteStore(db, { sessions });
    const store = await sealed(plain, config.secretKeyFile, () => plain.close());
    // Sending counts are written on the sessions' connection (synchronous=NORMAL): one per recipient is not worth an fsync.
    const sendLimits = createSqliteSendLimits(db, sessions);
    return { store, counters: createSqliteLimitCounters(config.dbFile), sendLimits, db, sessionsDb: sessions, pool: null, end: async () => store.close() };
  }
  const pool = createPool(config.database.url, config.database.poolSize);
  try {
    await migrate(pool);
  } catch (err) {
    await pool.end();
    const why = (err as { code?: string }).code ?? (err as Error).message;
    throw new Error(`DATABASE_URL: cannot open the database (${why})`, { cause: err });
  }
  const store = await sealed(createPostgresStore(pool), config.secretKeyFile, () => pool.end());
  return { store, counters: createPostgresLimitCounters(pool), sendLimits: createPostgresSendLimits(pool), db: null, sessionsDb: null, pool, end: () => pool.end() };
}
