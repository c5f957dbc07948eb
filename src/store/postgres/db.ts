import { fileURLToPath } from 'node:url';
import { readMigrationFiles, type Migration } from '../migration-files.js';
import pg from 'pg';

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

/** An arbitrary constant: the advisory lock that lets one node at a time migrate. */
const MIGRATION_LOCK = 7_316_042;

/** SPEC §7 on PostgreSQL: a statement that waits this long for a lock gives up (the edge answers 503 / 451). */
export const LOCK_TIMEOUT_MS = 250;

/** BIGINT (ids, Unix seconds, counts) as numbers: every value mailpass stores is far below 2^53. */
const INT8 = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === INT8 ? Number : pg.types.getTypeParser(oid, format as 'text'))) as typeof pg.types.getTypeParser,
};

/** A bounded pool on DATABASE_URL. Each connection waits at most LOCK_TIMEOUT_MS for a row lock. */
export function createPool(url: string, max: number): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    types,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    application_name: 'mailpass',
    options: `-c lock_timeout=${LOCK_TIMEOUT_MS} -c TimeZone=UTC`,
  } as pg.PoolConfig);
  // An idle connection the server ended (a restart, a fail-over) is dropped; the next query opens another.
  pool.on('error', () => {});
  return pool;
}

export type { Migration };

export const readMigrations = (dir = MIGRATIONS_DIR): Migration[] => readMigrationFiles(dir);

/**
 * Applies each pending migration in one transaction with its record, under an advisory lock:
 * nodes that start together migrate once. Returns the versions applied.
 */
export async function migrate(pool: pg.Pool, migrations = readMigrations()): Promise<number[]> {
  const c = await pool.connect();
  const done: number[] = [];
  try {
    await c.query('SET lock_timeout = 0');
    await c.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await c.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
      const applied = new Set((await c.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
      for (const m of migrations) {
        if (applied.has(m.version)) continue;
        await c.query('BEGIN');
        try {
          await c.query(m.sql);
          await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Math.floor(Date.now() / 1000)]);
          await c.query('COMMIT');
        } catch (err) {
          await c.query('ROLLBACK');
          throw err;
        }
        done.push(m.version);
      }
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
      await c.query(`SET lock_timeout = ${LOCK_TIMEOUT_MS}`);
    }
  } finally {
    c.release();
  }
  return done;
}

/** One transaction on one connection of `pool`; a connection that failed is not given back to the pool. */
export async function inTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  let broken: Error | undefined;
  try {
    await c.query('BEGIN');
    const result = await fn(c);
    await c.query('COMMIT');
    return result;
  } catch (err) {
    await c.query('ROLLBACK').catch((e: Error) => (broken = e));
    throw err;
  } finally {
    c.release(broken);
  }
}
