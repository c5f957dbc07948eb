import type { Request } from 'express';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { RateLimitedError } from '../../core/errors.js';

export interface LoginLimits {
  /**
   * Counts one attempt of this client and login; throws RateLimitedError (429) when either is over
   * its limit, after `onRefused` (which audits the refused attempt, as SMTP audits its 454s).
   */
  consume(req: Request, login: string, onRefused?: () => Promise<void>): Promise<void>;
  /** A successful login clears the count of its login name. */
  reward(login: string): Promise<void>;
}

/** Web login attempts per client address and per login name, over a sliding window. */
export function createLoginLimits({ maxAttempts, maxAttemptsPerIp, windowSeconds }: { maxAttempts: number; maxAttemptsPerIp: number; windowSeconds: number }): LoginLimits {
  const perIp = new RateLimiterMemory({ keyPrefix: 'ip', points: maxAttemptsPerIp, duration: windowSeconds });
  const perLogin = new RateLimiterMemory({ keyPrefix: 'login', points: maxAttempts, duration: windowSeconds });
  const key = (login: string) => login.trim().toLowerCase().slice(0, 320);
  return {
    async consume(req, login, onRefused) {
      try {
        await Promise.all([perIp.consume(req.ip ?? 'unknown'), perLogin.consume(key(login))]);
      } catch (err) {
        if (!(err instanceof RateLimiterRes)) throw err;
        await onRefused?.();
        throw new RateLimitedError(Math.max(1, Math.ceil(err.msBeforeNext / 1000)));
      }
    },
    async reward(login) {
      await perLogin.delete(key(login));
    },
  };
}
