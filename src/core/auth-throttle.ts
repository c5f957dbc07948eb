import { createHmac, randomBytes } from 'node:crypto';

/** A client that authenticated as a login in this window is never locked out of that login by others' failures. */
export const TRUSTED_CLIENT_SECONDS = 24 * 3600;
/** How long an attempt waits for a slot while other attempts of its login or client are in flight. */
const MAX_WAIT_MS = 10_000;
/** Keys kept at most; beyond it the oldest are forgotten (a flood of new keys cannot exhaust memory). */
const MAX_KEYS = 100_000;

interface Counter {
  /** Times (ms) of counted failures, oldest first, at most `maxFailures`. */
  failures: number[];
  /** Fingerprints of the wrong passwords counted: the same one again counts once. */
  seen: Set<string>;
  inFlight: number;
  waiters: Array<() => void>;
}

export interface Attempt {
  /**
   * Reports the outcome: a failure counts against the login and the client, a success trusts the
   * client for that login; an aborted attempt (the store failed) counts neither way.
   */
  finish(outcome: 'success' | 'failure' | 'aborted'): void;
}

export interface AuthThrottle {
  /**
   * Admits one attempt of `login` from `ip`; refuses it as 'locked' when either is locked out
   * (SMTP 454), or as 'busy' when it waited its turn too long without any lock-out (SMTP 451).
   * Attempts in flight count against the limit, so parallel guesses cannot slip past it: an attempt
   * that could exceed the limit waits until the ones in flight are decided.
   */
  begin(login: string, ip: string, password: string): Promise<Attempt | { refused: 'locked' | 'busy' }>;
}

/**
 * SPEC §6 lock-outs: after `maxFailures` failures in `windowSeconds` per login and per client
 * address. The same wrong password repeated counts once; a client that authenticated as the
 * login in the last 24 hours is exempt from that login's lock-out (not from its own).
 */
export function createAuthThrottle({
  maxFailures,
  windowSeconds,
  nowMs = () => Date.now(),
  maxWaitMs = MAX_WAIT_MS,
}: {
  maxFailures: number;
  windowSeconds: number;
  nowMs?: () => number;
  maxWaitMs?: number;
}): AuthThrottle {
  const key = randomBytes(32);
  const counters = new Map<string, Counter>();
  const trusted = new Map<string, number>();
  const windowMs = windowSeconds * 1000;

  const fingerprint = (...parts: string[]) => {
    const h = createHmac('sha256', key);
    for (const p of parts) h.update(p).update('\0');
    return h.digest('base64').slice(0, 22);
  };

  const counter = (k: string): Counter => {
    let c = counters.get(k);
    if (!c) {
      c = { failures: [], seen: new Set(), inFlight: 0, waiters: [] };
      counters.set(k, c);
      if (counters.size > MAX_KEYS) {
        for (const [old, oc] of counters) {
          if (oc.inFlight === 0 && oc.waiters.length === 0) {
            counters.delete(old);
            break;
          }
        }
      }
    }
    return c;
  };

  const expire = (c: Counter, now: number) => {
    while (c.failures.length > 0 && c.failures[0]! <= now - windowMs) c.failures.shift();
    if (c.failures.length === 0) c.seen.clear();
  };
  const locked = (c: Counter, now: number) => {
    expire(c, now);
    return c.failures.length >= maxFailures;
  };
  const full = (c: Counter) => c.failures.length + c.inFlight >= maxFailures;

  const isTrusted = (login: string, ip: string, now: number) => {
    const t = trusted.get(`${login}\0${ip}`);
    return t !== undefined && t > now - TRUSTED_CLIENT_SECONDS * 1000;
  };

  const release = (c: Counter) => {
    c.inFlight--;
    c.waiters.shift()?.();
  };

  return {
    async begin(login, ip, password) {
      const deadline = nowMs() + maxWaitMs;
      const byIp = counter(`ip:${ip}`);
      const byLogin = counter(`login:${login}`);
      for (;;) {
        const now = nowMs();
        const exempt = isTrusted(login, ip, now);
        if (locked(byIp, now) || (!exempt && locked(byLogin, now))) return { refused: 'locked' };
        const blocking = full(byIp) ? byIp : !exempt && full(byLogin) ? byLogin : null;
        if (!blocking) break;
        // Waiting is not failing: a legitimate burst that waited too long is told to retry, not locked out.
        if (now >= deadline) return { refused: 'busy' };
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, deadline - now);
          blocking.waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      byIp.inFlight++;
      byLogin.inFlight++;
      let done = false;
      return {
        finish(outcome) {
          if (done) return;
          done = true;
          const now = nowMs();
          if (outcome === 'success') {
            trusted.delete(`${login}\0${ip}`);
            trusted.set(`${login}\0${ip}`, now);
            if (trusted.size > MAX_KEYS) trusted.delete(trusted.keys().next().value!);
          } else if (outcome === 'failure') {
            const fLogin = fingerprint(password);
            const fIp = fingerprint(login, password);
            for (const [c, f] of [
              [byLogin, fLogin],
              [byIp, fIp],
            ] as const) {
              expire(c, now);
              if (!c.seen.has(f)) {
                c.seen.add(f);
                c.failures.push(now);
                if (c.failures.length > maxFailures) c.failures.shift();
              }
            }
          }
          release(byIp);
          release(byLogin);
        },
      };
    },
  };
}
