import { createHmac } from 'node:crypto';
import type { LimitCounters } from './ports.js';

/** `webmail`: SPEC §16's password change through a webmail, whose current password is checked as a login. */
export type LoginProtocol = 'web' | 'smtp' | 'api' | 'webmail';

export interface ThrottleLimits {
  /** Failures of one login name in the window before it is locked. */
  perLogin: number;
  /** Failures from one client address (an IPv6 /64) in the window before it is locked. */
  perAddress: number;
  windowSeconds: number;
}

/** A client that authenticated as a login in this window is never locked out of that login by others' failures (SPEC §6). */
export const TRUSTED_CLIENT_SECONDS = 24 * 3600;
/** How long an attempt waits for a slot while other attempts of its login or client are in flight. */
const MAX_WAIT_MS = 10_000;

export interface Attempt {
  /**
   * Reports the outcome: a failure counts against the login and the client (the same wrong
   * password once), a success trusts the client for that login; an aborted attempt (the store
   * failed) counts neither way.
   */
  finish(outcome: 'success' | 'failure' | 'aborted'): Promise<void>;
}

/**
 * `first`: the lock's first refusal in its window (SPEC §19's `login.locked` is told once per lock,
 * not at every attempt it refuses).
 */
export type Admission = { attempt: Attempt } | { refused: 'locked'; retryAfterSeconds: number; first: boolean } | { refused: 'busy'; retryAfterSeconds: number };

export interface AttemptKey {
  protocol: LoginProtocol;
  /** The normalised login name; null for a bearer token, which only the client address limits. */
  name: string | null;
  /** The client's address key (an IPv6 /64). */
  address: string;
  password: string;
  /**
   * A browser's own key when it proved that it logged in as this name before (the known-browser
   * mark): it is held by a count of its own instead of the name's shared one.
   */
  knownBrowser?: string | null;
}

export interface LoginThrottle {
  /**
   * Admits one attempt, or refuses it as 'locked' (a limit is reached) or 'busy' (it waited its
   * turn too long without any limit reached). Attempts in flight count against the limits, so
   * parallel guesses cannot slip past them.
   */
  begin(key: AttemptKey): Promise<Admission>;
  /** Loads the fingerprint key ahead of the first attempt. */
  prepare(): Promise<void>;
}

interface Slots {
  inFlight: number;
  waiters: Array<() => void>;
  /** Attempts of this key finished so far: a read of the counts that saw this number change may miss their failures. */
  finished: number;
  /** Attempts reading the counts of this key now (the slot is kept for them). */
  readers: number;
}

/**
 * SPEC §4.1, §6 and §8: one throttle for every protocol, with counts kept in `counters` (shared by
 * every process on the database, kept over restarts, expiring by time: nothing evicts a lock).
 * Each protocol has its own limits and counts: a name's SMTP failures do not lock its web login.
 */
export function createLoginThrottle({
  counters,
  secret,
  limits,
  maxWaitMs = MAX_WAIT_MS,
  nowMs = () => Date.now(),
  onError = () => {},
}: {
  counters: LimitCounters;
  /** The key of the wrong-password fingerprints, the same in every process (the store keeps it). */
  secret: () => Promise<Buffer>;
  limits: Record<LoginProtocol, ThrottleLimits>;
  maxWaitMs?: number;
  nowMs?: () => number;
  /** A count that could not be written (the database locked or full): the login goes on, the failure is logged. */
  onError?: (err: unknown) => void;
}): LoginThrottle {
  const slots = new Map<string, Slots>();
  const slot = (k: string) => {
    let s = slots.get(k);
    if (!s) slots.set(k, (s = { inFlight: 0, waiters: [], finished: 0, readers: 0 }));
    return s;
  };
  const tidy = (k: string, s: Slots) => {
    if (s.inFlight === 0 && s.waiters.length === 0 && s.readers === 0) slots.delete(k);
  };
  const release = (k: string) => {
    const s = slots.get(k);
    if (!s) return;
    s.inFlight--;
    s.finished++;
    s.waiters.shift()?.();
    tidy(k, s);
  };
  const inFlight = (k: string) => slots.get(k)?.inFlight ?? 0;

  const fingerprint = async (...parts: string[]) => {
    const h = createHmac('sha256', await secret());
    for (const p of parts) h.update(p).update('\0');
    return h.digest('base64url').slice(0, 22);
  };

  /** Counts a failure once per wrong password: `seen` marks the fingerprint for the window. */
  const countOnce = async (counter: string, print: string, windowSeconds: number) => {
    if ((await counters.add(`seen:${counter}:${print}`, windowSeconds)) === 1) await counters.add(counter, windowSeconds);
  };

  return {
    async prepare() {
      await secret();
    },

    async begin({ protocol, name, address, password, knownBrowser = null }) {
      const { perLogin, perAddress, windowSeconds } = limits[protocol];
      const byAddress = `${protocol}:ip:${address}`;
      const shared = name === null ? null : `${protocol}:login:${name}`;
      // Counter keys are text in every store (PostgreSQL's holds no NUL): parts are joined by a space, which no normalised name, address or nonce has.
      const trustKey = name === null ? null : `${protocol}:trust:${name} ${address}`;
      // The count that holds this attempt back: a known browser's own, or the name's shared one,
      // or none for a client that logged in as this name lately (SMTP's exemption).
      const own = knownBrowser ? `${protocol}:known:${knownBrowser}` : null;
      const trust = trustKey && protocol === 'smtp' ? await counters.get(trustKey) : { count: 0, msLeft: 0 };
      const trusted = !own && trust.count > 0;
      const byLogin = own ?? (trusted ? null : shared);

      const deadline = nowMs() + maxWaitMs;
      const keys = [byAddress, ...(byLogin ? [byLogin] : [])];
      for (;;) {
        // An attempt that finishes while the counts are read may write its failure after the read
        // and free its slot before the check below: the check would then miss it twice (neither
        // counted nor in flight) and let one more guess through. The counts are then read again.
        const watched = keys.map((k) => slot(k));
        const finishedBefore = watched.map((s) => s.finished);
        for (const s of watched) s.readers++;
        let a: { count: number; msLeft: number };
        let l: { count: number; msLeft: number };
        try {
          a = await counters.get(byAddress);
          l = byLogin ? await counters.get(byLogin) : { count: 0, msLeft: 0 };
        } finally {
          watched.forEach((s, i) => {
            s.readers--;
            tidy(keys[i]!, s);
          });
        }
        if (watched.some((s, i) => s.finished !== finishedBefore[i])) {
          if (nowMs() >= deadline) return { refused: 'busy', retryAfterSeconds: 1 };
          continue;
        }
        const lockedAddress = a.count >= perAddress;
        const lockedLogin = l.count >= perLogin;
        if (lockedAddress || lockedLogin) {
          // Attempts waiting behind this one's keys would find the same lock: they are woken to
          // read it now, rather than when their wait runs out (a spurious wake only reads again).
          for (const k of keys) for (const wake of slots.get(k)?.waiters.splice(0) ?? []) wake();
          const msLeft = Math.max(lockedAddress ? a.msLeft : 0, lockedLogin ? l.msLeft : 0);
          // Read first: a lock refusing a flood writes its mark once, not at every refusal.
          const told = `told:${lockedLogin ? byLogin : byAddress}`;
          const first = await counters
            .get(told)
            .then(async ({ count }) => count === 0 && (await counters.add(told, Math.max(1, Math.ceil(msLeft / 1000)))) === 1)
            .catch((err: unknown) => (onError(err), false));
          return { refused: 'locked', retryAfterSeconds: Math.max(1, Math.ceil(msLeft / 1000)), first };
        }
        const blocking = a.count + inFlight(byAddress) >= perAddress ? byAddress : byLogin && l.count + inFlight(byLogin) >= perLogin ? byLogin : null;
        if (!blocking) break;
        // Waiting is not failing: a legitimate burst that waited too long is told to retry, not locked out.
        const now = nowMs();
        if (now >= deadline) return { refused: 'busy', retryAfterSeconds: 1 };
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, deadline - now);
          slot(blocking).waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      for (const k of keys) slot(k).inFlight++;
      let done = false;
      return {
        attempt: {
          async finish(outcome) {
            if (done) return;
            done = true;
            try {
              if (outcome === 'success') {
                // Renewed at most once an hour: a client that logs in all day costs no write per login.
                if (protocol === 'smtp' && trustKey && trust.msLeft < (TRUSTED_CLIENT_SECONDS - 3600) * 1000) await counters.mark(trustKey, TRUSTED_CLIENT_SECONDS);
                // A known browser's success clears its own count only: an owner logging in
                // during an attack gives the attacker no fresh guesses on the shared count.
                if (own) await counters.delete(own);
              } else if (outcome === 'failure') {
                const forAddress = await fingerprint(name ?? '', password);
                await countOnce(byAddress, forAddress, windowSeconds);
                if (name !== null) {
                  const forLogin = await fingerprint(password);
                  // Every failure counts towards the name's shared count, a known browser's too.
                  for (const k of own ? [own, shared!] : [shared!]) await countOnce(k, forLogin, windowSeconds);
                }
              }
            } catch (err) {
              // A login is answered from reads alone, so that it still works while a writer holds
              // the database (SPEC §7); only its count is lost then.
              onError(err);
            } finally {
              for (const k of keys) release(k);
            }
          },
        },
      };
    },
  };
}
