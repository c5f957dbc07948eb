import type pg from 'pg';
import { RateLimiterPostgres } from 'rate-limiter-flexible';
import { countersOver, LIMITER_OPTIONS, type StoredLimitCounters } from '../limit-counters.js';
import { translatePgError } from './errors.js';

/**
 * SPEC §12: the throttle's counters in PostgreSQL through rate-limiter-flexible's PostgreSQL
 * limiter, on the store's pool: every node counts into the same rows, and a lock-out holds on all.
 */
export function createPostgresLimitCounters(pool: pg.Pool): StoredLimitCounters {
  return countersOver((duration) => new RateLimiterPostgres({ ...LIMITER_OPTIONS, storeClient: pool, storeType: 'pool', duration }), {
    translate: translatePgError,
    close: () => {},
  });
}
