import type pg from 'pg';
import { inTransaction } from './db.js';

/** A pool or a transaction's connection: what a statement runs on. */
export type Q = Pick<pg.PoolClient, 'query'>;

/**
 * The three ways the PostgreSQL store files run a statement, on the pool or on a transaction's
 * connection. PostgreSQL's text holds no NUL, and no stored value has one (names are refused with
 * it before they reach a store): a lookup or change keyed by a value with a NUL finds no row, as on SQLite.
 */
export function queries(pool: pg.Pool) {
  const hasNul = (params: unknown[]) => params.some((p) => typeof p === 'string' && p.includes('\0'));
  const rows = async <T>(sql: string, params: unknown[] = [], c: Q = pool) => (hasNul(params) ? [] : ((await c.query(sql, params)).rows as T[]));
  return {
    rows,
    one: async <T>(sql: string, params: unknown[] = [], c: Q = pool) => (await rows<T>(sql, params, c))[0],
    run: async (sql: string, params: unknown[] = [], c: Q = pool) => (hasNul(params) ? 0 : ((await c.query(sql, params)).rowCount ?? 0)),
    tx: <T>(fn: (c: Q) => Promise<T>) => inTransaction(pool, fn),
  };
}
