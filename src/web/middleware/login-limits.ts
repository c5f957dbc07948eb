import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { RateLimitedError } from '../../core/errors.js';
import { queueCookie } from './late-cookies.js';

export interface LoginLimits {
  /**
   * Counts one attempt of this client and login; throws RateLimitedError (429) when either is over
   * its limit, after `onRefused` (which audits the refused attempt, as SMTP audits its 454s). A
   * browser that logged in as this login before is not held by the login's limit, only by its own.
   */
  consume(req: Request, login: string, onRefused?: () => Promise<void>): Promise<void>;
  /** A successful login clears its count (the login's, or a known browser's own) and marks the browser as known for it. */
  reward(req: Request, res: Response, login: string): Promise<void>;
}

const KNOWN_COOKIE = 'mp_known';
const KNOWN_DAYS = 30;

/**
 * Web login attempts per client address and per login name, over a sliding window.
 *
 * A stranger can exhaust any login's limit; SMTP answers that by exempting a client address that
 * logged in as the login lately. Browsers share addresses (NAT, proxies), so here the proof is a
 * cookie instead: after a successful login the browser gets `mp_known` (an expiry, a random nonce
 * and an HMAC of them with the login under `secret`, which is kept in the database), scoped to the
 * login page's path, so user and admin logins keep one each. Such a browser is held by a limit of its own of the same size instead of
 * the login's shared one, so strangers cannot lock it out and a stolen cookie buys no more guesses
 * than the login had. Its attempts still count towards the shared limit, and its successes reset
 * only its own count: an owner logging in during an attack gives the attacker no fresh guesses.
 * The per-address limit applies to everyone.
 */
export function createLoginLimits({ maxAttempts, maxAttemptsPerIp, windowSeconds, secret }: { maxAttempts: number; maxAttemptsPerIp: number; windowSeconds: number; secret: Buffer }): LoginLimits {
  const perIp = new RateLimiterMemory({ keyPrefix: 'ip', points: maxAttemptsPerIp, duration: windowSeconds });
  const perLogin = new RateLimiterMemory({ keyPrefix: 'login', points: maxAttempts, duration: windowSeconds });
  const perKnownBrowser = new RateLimiterMemory({ keyPrefix: 'known', points: maxAttempts, duration: windowSeconds });
  const key = (login: string) => login.trim().toLowerCase().slice(0, 320);
  const mac = (login: string, expires: number, nonce: string) => createHmac('sha256', secret).update(`${key(login)}\0${expires}\0${nonce}`).digest();

  const cookiePattern = new RegExp(`(?:^|;\\s*)${KNOWN_COOKIE}=(\\d{1,12})\\.([A-Za-z0-9_-]{22})\\.([A-Za-z0-9_-]{43})(?:;|$)`);
  /** The browser's own limiter key when it carries a valid mark for this login, else null. */
  const knownBrowser = (req: Request, login: string) => {
    const raw = cookiePattern.exec(req.headers.cookie ?? '');
    if (!raw) return null;
    const expires = Number(raw[1]);
    const valid = expires * 1000 > Date.now() && timingSafeEqual(Buffer.from(raw[3]!, 'base64url'), mac(login, expires, raw[2]!));
    return valid ? `${key(login)}\0${raw[2]}` : null;
  };

  return {
    async consume(req, login, onRefused) {
      try {
        const browser = knownBrowser(req, login);
        const shared = perLogin.consume(key(login));
        // A known browser's attempt counts towards the shared limit without being held by it.
        if (browser) shared.catch(() => {});
        await Promise.all([perIp.consume(req.ip ?? 'unknown'), browser ? perKnownBrowser.consume(browser) : shared]);
      } catch (err) {
        if (!(err instanceof RateLimiterRes)) throw err;
        await onRefused?.();
        throw new RateLimitedError(Math.max(1, Math.ceil(err.msBeforeNext / 1000)));
      }
    },
    async reward(req, res, login) {
      const browser = knownBrowser(req, login);
      await (browser ? perKnownBrowser.delete(browser) : perLogin.delete(key(login)));
      const expires = Math.floor(Date.now() / 1000) + KNOWN_DAYS * 86_400;
      const attributes = [`Max-Age=${KNOWN_DAYS * 86_400}`, `Path=${req.path}`, 'HttpOnly', 'SameSite=Lax', ...(req.secure ? ['Secure'] : [])];
      const nonce = randomBytes(16).toString('base64url');
      queueCookie(res, [`${KNOWN_COOKIE}=${expires}.${nonce}.${mac(login, expires, nonce).toString('base64url')}`, ...attributes].join('; '));
    },
  };
}
