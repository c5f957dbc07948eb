import express, { Router, type ErrorRequestHandler, type RequestHandler } from 'express';
import { UnavailableError } from '../../core/errors.js';
import { networkMatcher } from '../../core/networks.js';
import type { Logger } from '../../core/ports.js';
import type { Services } from '../../services.js';
import { BODY_LIMIT } from '../limits.js';
import { requireUtf8Form } from '../middleware/require-utf8.js';

// SPEC §16: the URL a webmail's password page posts to (Roundcube's `password` plugin, driver
// `httpapi`): form fields `user`, `curpass`, `newpass`; `200 ok`, or a status and one line of text.

const text = (res: Parameters<RequestHandler>[1], status: number, body: string) => res.status(status).type('text/plain; charset=utf-8').send(body);

export function webmailRouter(svc: Services, log: Logger): Router {
  const r = Router();
  const allowed = networkMatcher(svc.config.webmailClients);

  r.use((req, res, next) => {
    res.set('Cache-Control', 'no-store');
    if (allowed(req.ip)) return next();
    text(res, 403, 'This client may not change passwords here: its address is not in WEBMAIL_CLIENTS.');
  });
  r.post('/password', express.urlencoded({ extended: false, limit: BODY_LIMIT, parameterLimit: 10, verify: requireUtf8Form }), async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const answer = await svc.webmail.change({ user: body.user, curpass: body.curpass, newpass: body.newpass }, req.ip ?? null);
    if (answer.ok) return text(res, 200, 'ok');
    if (answer.retryAfterSeconds !== undefined) res.set('Retry-After', String(answer.retryAfterSeconds));
    text(res, answer.status, answer.reason);
  });
  r.all('/password', (_req, res) => {
    res.set('Allow', 'POST');
    text(res, 405, 'Use POST with the form fields user, curpass and newpass.');
  });
  r.use((_req, res) => text(res, 404, 'Not found.'));
  const errors: ErrorRequestHandler = (err, req, res, _next) => {
    if (err instanceof UnavailableError) {
      (req.log ?? log).warn({ err: err.cause ?? err }, 'store unavailable');
      res.set('Retry-After', '5');
      return text(res, 503, 'Service temporarily unavailable.');
    }
    const status = (err as { status?: unknown }).status;
    if (status === 413) return text(res, 413, 'Request body too large.');
    if (typeof status === 'number' && status >= 400 && status < 500) return text(res, 400, 'The request could not be read: send the form fields user, curpass and newpass.');
    (req.log ?? log).error({ err }, 'webmail request failed');
    text(res, 500, 'An error occurred while processing the request.');
  };
  r.use(errors);
  return r;
}
