import type { Request, RequestHandler, Response } from 'express';
import { AuthError } from '../../core/errors.js';
import type { Actor } from '../../core/actors.js';
import type { Language } from '../../core/languages.js';
import type { SessionOwner } from '../../core/ports.js';
import type { Services } from '../../services.js';
import { setFlash } from '../flash.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      actor: Actor | null;
      /** Set for an admin whose password was printed: every page but its account page sends it there. */
      mustChangePassword?: boolean;
      /** REQUIRE_ADMIN_SECOND_FACTOR without one: every page but the security page sends the admin there. */
      mustAddSecondFactor?: boolean;
      /** SPEC §17: the language the signed-in owner chose (null: none). */
      savedLanguage?: Language | null;
    }
  }
}

const end = (req: Request) => new Promise<void>((resolve, reject) => req.session.destroy((err) => (err ? reject(err) : resolve())));

/**
 * Ends a stale session in the middle of a request and leaves an empty one in its place, as an
 * anonymous visitor has: what runs next (the CSRF token of the page, the redirect) needs a session.
 */
const restart = (req: Request) => new Promise<void>((resolve, reject) => req.session.regenerate((err) => (err ? reject(err) : resolve())));

/** Turns the session into an actor through the session service; a session it refuses ends here. */
export const loadActor = (svc: Services): RequestHandler => async (req, res, next) => {
  res.locals.actor = null;
  const claim = req.session;
  if (!claim?.owner) return next();
  const actor = await svc.sessions.resolve(claim);
  if (!actor) {
    await restart(req);
    return next();
  }
  const { mustChangePassword, mustAddSecondFactor, language, ...plain } = actor;
  res.locals.savedLanguage = language ?? null;
  res.locals.actor = plain;
  res.locals.mustChangePassword = mustChangePassword === true;
  res.locals.mustAddSecondFactor = mustAddSecondFactor === true;
  next();
};

type PanelKind = 'mailbox' | 'admin';

/**
 * The session's actor, of one of `kinds`, for a handler behind requireMailbox/requireAdmin (which
 * redirect first); a mismatch is a bug in the route table and answers like a bad login.
 */
export function actorOf<K extends PanelKind>(res: Response, ...kinds: K[]): Extract<Actor, { kind: K }> {
  const actor = res.locals.actor;
  if (!actor || !(kinds as string[]).includes(actor.kind)) throw new AuthError();
  return actor as Extract<Actor, { kind: K }>;
}

export const requireMailbox: RequestHandler = (req, res, next) => {
  if (res.locals.actor?.kind === 'mailbox') return next();
  res.redirect(303, '/login');
};

/** SPEC §8: an admin with a printed password chooses its own before any other page opens. */
export const ADMIN_ACCOUNT_PATHS = new Set(['/admin/account', '/admin/account/generate', '/admin/logout']);

/** SPEC §11: an admin that must add a second factor may reach only these. */
export const ADMIN_SECURITY_PATHS = new Set(['/admin/account/security', '/admin/account/security/confirm', '/admin/account/security/totp', '/admin/account/security/passkey', '/admin/account/security/passkey/options', '/admin/logout']);

export const requireAdmin: RequestHandler = (req, res, next) => {
  if (res.locals.actor?.kind !== 'admin') return res.redirect(303, '/admin/login');
  if (res.locals.mustChangePassword && !ADMIN_ACCOUNT_PATHS.has(req.path)) return res.redirect(303, '/admin/account');
  if (!res.locals.mustChangePassword && res.locals.mustAddSecondFactor && !ADMIN_SECURITY_PATHS.has(req.path)) return res.redirect(303, '/admin/account/security');
  next();
};

/** Pages only a super admin may see answer 404 to a domain admin, as if they did not exist. */
export const requireSuperAdmin: RequestHandler = (req, res, next) => {
  requireAdmin(req, res, (err?: unknown) => {
    if (err) return next(err);
    if (res.locals.actor?.kind === 'admin' && res.locals.actor.isSuper) return next();
    next('route');
  });
};

/**
 * Issue 29: what makes a lasting way in needs a password typed within RECENT_PASSWORD_SECONDS;
 * else the owner is sent to its security page, which asks for it (JSON callers get 403).
 */
export const requireRecentPassword =
  (svc: Services, security: string): RequestHandler =>
  (req, res, next) => {
    if (svc.sessions.passwordIsRecent(req.session)) return next();
    if (req.is('application/json') || req.path.endsWith('/options')) {
      return void res.status(403).json({ message: res.locals.m('Enter your password again on this page first.') });
    }
    setFlash(req, 'error', RECONFIRM);
    res.redirect(303, security);
  };

/** Why a form sent the owner back to its security page. */
export const RECONFIRM = 'For your safety, enter your password again before you add a way to log in.';

/** A password accepted, a second factor to come: a new session that has no owner yet (SPEC §11). */
export function startPending(req: Request, owner: SessionOwner, pwv: number, now: number) {
  return new Promise<void>((resolve, reject) =>
    req.session.regenerate((err) => {
      if (err) return reject(err);
      req.session.pending = { owner, pwv, at: now };
      resolve();
    }),
  );
}

/**
 * Regenerates the session id at login (no fixation) and records its owner; `passwordAt` is when
 * the password was typed (earlier than now after a second step).
 */
export function startSession(req: Request, owner: SessionOwner, pwv: number, now: number, passwordAt = now) {
  return new Promise<void>((resolve, reject) =>
    req.session.regenerate((err) => {
      if (err) return reject(err);
      req.session.owner = owner;
      req.session.pwv = pwv;
      req.session.createdAt = now;
      req.session.passwordAt = passwordAt;
      resolve();
    }),
  );
}

export { end as endSession };
