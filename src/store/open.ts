import type pg from 'pg';
import type { Config } from '../config.js';
import type { Stores } from '../core/ports.js';
import type { StoredLimitCounters } from './limit-counters.js';
import { createPool, migrate } from './postgres/db.js';
import { createPostgresLimitCounters } from './postgres/limit-counters.js';
import { createPostgresStores } from './postgres/stores.js';
import { openSealer, sealSecrets } from './sealed-secrets.js';
import { openDatabase, type Db } from './sqlite/db.js';
import { createSqliteLimitCounters } from './sqlite/limit-counters.js';
import { createSqliteStores } from './sqlite/stores.js';

export interface OpenedStore {
  /** Every port, with their secrets sealed at rest (sealed-secrets.ts). */
  stores: Stores;
  counters: StoredLimitCounters;
  /** The main SQLite connection (null on PostgreSQL): fault tests set pragmas on it. */
  db: Db | null;
  /** The SQLite connection that writes web sessions and sending counts (see createSqliteStores; null on PostgreSQL). */
  sessionsDb: Db | null;
  pool: pg.Pool | null;
  end(): Promise<void>;
}

/** The ports over their key file: a missing or wrong key closes what was opened and throws. */
async function sealed(plain: Stores, keyFile: string, closeOnError: () => unknown): Promise<Stores> {
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
    // Web sessions and sending counts are written on a connection with synchronous=NORMAL: not worth an fsync each.
    const relaxed = openDatabase(config.dbFile, { migrate: false, synchronous: 'NORMAL' });
    const plain = createSqliteStores(db, { relaxed });
    const stores = await sealed(plain, config.secretKeyFile, () => plain.database.close());
    return { stores, counters: createSqliteLimitCounters(config.dbFile), db, sessionsDb: relaxed, pool: null, end: async () => stores.database.close() };
  }
  const pool = createPool(config.database.url, config.database.poolSize);
  try {
    await migrate(pool);
  } catch (err) {
    await pool.end();
    const why = (err as { code?: string }).code ?? (err as Error).message;
    throw new Error(`DATABASE_URL: cannot open the database (${why})`, { cause: err });
  }
  const stores = await sealed(createPostgresStores(pool), config.secretKeyFile, () => pool.end());
  return { stores, counters: createPostgresLimitCounters(pool), db: null, sessionsDb: null, pool, end: () => pool.end() };
}
