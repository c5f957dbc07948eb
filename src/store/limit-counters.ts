import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { LimitCounters } from '../core/ports.js';

export interface StoredLimitCounters extends LimitCounters {
  /** Deletes expired counters; the server calls it once a minute. */
  prune(): Promise<void>;
  close(): void | Promise<void>;
}

/**
 * The throttle's counters over one of rate-limiter-flexible's database limiters (atomic upserts,
 * windows that expire by time): `limiterFor(seconds)` makes the limiter of one window length;
 * they share one table (a key's window is fixed at its first point).
 */
export function countersOver(
  limiterFor: (seconds: number) => RateLimiterAbstract,
  { translate, close }: { translate: (err: unknown) => unknown; close: () => void | Promise<void> },
): StoredLimitCounters {
  const limiters = new Map<number, RateLimiterAbstract>();
  const limiter = (seconds: number) => {
    let l = limiters.get(seconds);
    if (!l) limiters.set(seconds, (l = limiterFor(seconds)));
    return l;
  };
  const any = limiter(1);
  const translated = async <T>(op: () => Promise<T>): Promise<T> => {
    try {
      return await op();
    } catch (err) {
      throw translate(err);
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
    close,
  };
}

/** What every limiter of the throttle shares: the table exists (a migration made it), no timers. */
export const LIMITER_OPTIONS = { tableName: 'login_limits', tableCreated: true, clearExpiredByTimeout: false, keyPrefix: 'l', points: Number.MAX_SAFE_INTEGER } as const;
