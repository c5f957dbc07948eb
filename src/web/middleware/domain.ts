import type { Request, Response, NextFunction } from 'express';
import type { Domain } from '../../core/ports.js';
import type { Services } from '../../services.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      /** The domain named in the URL, resolved once per request for the actor (404 when it may not see it). */
      domain?: Domain;
    }
  }
}

/**
 * `router.param('domain', ...)`: resolves `:domain` once per request and passes it on resolved.
 * Without an admin (the route's guard then redirects to the login) nothing is read.
 */
export const resolveDomain =
  (svc: Services, { verified = false } = {}) =>
  (_req: Request, res: Response, next: NextFunction, name: string) => {
    const actor = res.locals.actor;
    if (actor?.kind !== 'admin') return next();
    (verified ? svc.domains.requireVerifiedDomain(actor, name) : svc.domains.requireDomain(actor, name)).then((domain) => {
      res.locals.domain = domain;
      next();
    }, next);
  };

/** The resolved domain of the request (routes with `:domain` only). */
export const domainOf = (res: Response): Domain => res.locals.domain!;
