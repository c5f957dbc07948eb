import express, { Router, type RequestHandler, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import { RateLimitedError } from '../../core/errors.js';
import type { ApiToken, Logger } from '../../core/ports.js';
import { domainInScope, OUT_OF_SCOPE, scopeAllows } from '../../core/tokens.js';
import type { Services } from '../../services.js';
import { BODY_LIMIT } from '../limits.js';
import { requireUtf8Json } from '../middleware/require-utf8.js';
import { apiNotFound, fail, handleApiErrors } from './errors.js';
import {
  createCredential,
  credentialLimits,
  credentialLogins,
  deleteCredential,
  domainLimits,
  listCredentials,
  listDomains,
  listMailboxes,
  mailboxLimits,
  mailboxLogins,
  resetCredential,
  setCredentialLimits,
  setDomainLimits,
  setMailboxLimits,
  setMailboxPassword,
} from './handlers.js';
import { openApiDocument } from './openapi.js';

export type Method = 'get' | 'post' | 'put' | 'delete';

/** Every API route, in one table; the OpenAPI document and its test are checked against it. */
export const API_ROUTES: ReadonlyArray<{ method: Method; path: string; handler: (svc: Services) => RequestHandler }> = [
  { method: 'get', path: '/domains', handler: listDomains },
  { method: 'get', path: '/domains/:domain/credentials', handler: listCredentials },
  { method: 'post', path: '/domains/:domain/credentials', handler: createCredential },
  { method: 'put', path: '/domains/:domain/credentials/:credential/reset-password', handler: resetCredential },
  { method: 'delete', path: '/domains/:domain/credentials/:credential', handler: deleteCredential },
  { method: 'get', path: '/domains/:domain/mailboxes', handler: listMailboxes },
  { method: 'put', path: '/domains/:domain/mailboxes/:address/password', handler: setMailboxPassword },
  { method: 'get', path: '/domains/:domain/mailboxes/:address/logins', handler: mailboxLogins },
  { method: 'get', path: '/domains/:domain/credentials/:credential/logins', handler: credentialLogins },
  { method: 'get', path: '/domains/:domain/limits', handler: domainLimits },
  { method: 'put', path: '/domains/:domain/limits', handler: setDomainLimits },
  { method: 'get', path: '/domains/:domain/mailboxes/:address/limits', handler: mailboxLimits },
  { method: 'put', path: '/domains/:domain/mailboxes/:address/limits', handler: setMailboxLimits },
  { method: 'get', path: '/domains/:domain/credentials/:credential/limits', handler: credentialLimits },
  { method: 'put', path: '/domains/:domain/credentials/:credential/limits', handler: setCredentialLimits },
];

const BEARER = /^Bearer ([^\s]+)$/;

/**
 * Resolves the bearer token to an actor (an admin acting through the API) through the logins use
 * case, which limits the failures of a client address; refusing is left to requireToken.
 */
const resolveToken = (svc: Services): RequestHandler => async (req, res, next) => {
  res.locals.actor = null;
  const m = BEARER.exec(req.get('authorization') ?? '');
  if (!m) return next();
  const result = await svc.logins.attempt({ protocol: 'api', token: m[1]!, ip: req.ip ?? null });
  // Refused after the rate limiter has run, so that the 429 carries its headers too.
  if (!result.ok && result.reason !== 'bad-credentials') res.locals.loginRetryAfter = result.retryAfterSeconds;
  if (result.ok && result.principal.kind === 'token') {
    const { admin, token } = result.principal;
    res.locals.tokenId = token.id;
    res.locals.token = token;
    // SPEC §18: a token for some domains acts as an admin of those alone.
    res.locals.actor = await svc.tokens.actorOf(admin, token);
  }
  next();
};

/** SPEC §18: 403 for a request outside the token's scope, before anything is read or written. */
const outOfScope = (res: Response) => res.status(403).json(fail(OUT_OF_SCOPE));
const requireScope: RequestHandler = (req, res, next) => {
  const token = res.locals.token;
  if (token && !scopeAllows(token, { write: req.method !== 'GET' && req.method !== 'HEAD', ip: req.ip ?? null })) return void outOfScope(res);
  next();
};

const requireToken: RequestHandler = (_req, res, next) => {
  if (res.locals.loginRetryAfter !== undefined) throw new RateLimitedError(res.locals.loginRetryAfter);
  if (res.locals.actor) return next();
  res.set('WWW-Authenticate', 'Bearer');
  res.status(401).json(fail('Unauthorized'));
};

/** The JSON API of SPEC §5 under /api: Bearer tokens, a rate limit per token, one error translator. */
export function apiRouter(svc: Services, log: Logger): Router {
  const r = Router();
  r.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });
  r.use(resolveToken(svc));
  // Per token; requests without a valid token share a limit per client address.
  r.use(
    rateLimit({
      windowMs: 60_000,
      limit: svc.config.apiRateLimit,
      standardHeaders: false,
      legacyHeaders: true,
      keyGenerator: (req, res) => (res.locals.tokenId ? `token:${res.locals.tokenId}` : `ip:${req.ip}`),
      handler: (_req, res) => {
        res.status(429).json(fail('Too many attempts. Please try again later.'));
      },
      validate: { keyGeneratorIpFallback: false },
    }),
  );
  r.get('/openapi.json', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300');
    res.json(openApiDocument(svc.config.apiRateLimit));
  });
  r.use(requireToken);
  r.use(requireScope);
  // A body in another format is refused, not read as "no body" (which would mean "generate").
  r.use((req, res, next) => {
    const empty = req.headers['content-length'] === '0';
    if (!empty && req.is('application/json') === false) return void res.status(415).json(fail('Content-Type must be application/json.'));
    next();
  });
  r.param('domain', (_req, res, next, domain: string) => {
    const token = res.locals.token;
    if (token && !domainInScope(token, domain)) return void outOfScope(res);
    next();
  });
  r.use(express.json({ limit: BODY_LIMIT, verify: requireUtf8Json }));
  for (const route of API_ROUTES) r[route.method](route.path, route.handler(svc));
  r.use(apiNotFound);
  r.use(handleApiErrors(log));
  return r;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      tokenId?: number;
      /** The bearer token of this request, with its scope (SPEC §18). */
      token?: ApiToken;
      /** Set when the client address is over its limit of failed tokens. */
      loginRetryAfter?: number;
    }
  }
}
