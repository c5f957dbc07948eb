import type { RequestHandler } from 'express';
import type { Actor } from '../../core/actors.js';
import type { Services } from '../../services.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      actor: Actor | null;
    }
  }
}

const end = (req: Parameters<RequestHandler>[0]) =>
  new Promise<void>((resolve, reject) => req.session.destroy((err) => (err ? reject(err) : resolve())));

/**
 * Ends a stale session in the middle of a request and leaves an empty one in its place, as an
 * anonymous visitor has: what runs next (the CSRF token of the page, the redirect) needs a session.
 */
const restart = (req: Parameters<RequestHandler>[0]) =>
  new Promise<void>((resolve, reject) => req.session.regenerate((err) => (err ? reject(err) : resolve())));

/**
 * Turns the session into an actor. A session whose password version is stale (the password
 * changed), whose account is gone or disabled, or that outlived its absolute limit, ends here.
 */
export const loadActor = (svc: Services): RequestHandler => async (req, res, next) => {
  res.locals.actor = null;
  const owner = req.session?.owner;
  if (!owner) return next();
  const maxAge = svc.config.session.maxHours * 3600;
  const [kind, idText] = owner.split(':');
  const id = Number(idText);
  if ((req.session.createdAt ?? 0) + maxAge <= svc.clock.now()) {
    await restart(req);
    return next();
  }
  if (kind === 'admin') {
    const admin = await svc.store.findAdminById(id);
    if (admin && admin.passwordVersion === req.session.pwv) {
      res.locals.actor = { kind: 'admin', id, username: admin.username, isSuper: admin.isSuper, domainIds: admin.domainIds, via: 'web' };
      return next();
    }
  } else if (kind === 'mailbox') {
    const account = await svc.store.findAccountById(id);
    if (account && account.passwordVersion === req.session.pwv && !account.disabled && account.domainVerified) {
      res.locals.actor = { kind: 'mailbox', id, login: account.login };
      return next();
    }
  }
  await restart(req);
  next();
};

export const requireMailbox: RequestHandler = (req, res, next) => {
  if (res.locals.actor?.kind === 'mailbox') return next();
  res.redirect(303, '/login');
};

export const requireAdmin: RequestHandler = (req, res, next) => {
  if (res.locals.actor?.kind === 'admin') return next();
  res.redirect(303, '/admin/login');
};

/** Pages only a super admin may see answer 404 to a domain admin, as if they did not exist. */
export const requireSuperAdmin: RequestHandler = (req, res, next) => {
  const actor = res.locals.actor;
  if (actor?.kind === 'admin' && actor.isSuper) return next();
  if (actor?.kind === 'admin') return next('route');
  res.redirect(303, '/admin/login');
};

/** Regenerates the session id at login (no fixation) and records its owner. */
export function startSession(req: Parameters<RequestHandler>[0], owner: `mailbox:${number}` | `admin:${number}`, pwv: number, now: number) {
  return new Promise<void>((resolve, reject) =>
    req.session.regenerate((err) => {
      if (err) return reject(err);
      req.session.owner = owner;
      req.session.pwv = pwv;
      req.session.createdAt = now;
      resolve();
    }),
  );
}

export { end as endSession };
