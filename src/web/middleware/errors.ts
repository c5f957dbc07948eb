import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import { AppError, ConflictError, ForbiddenError, NotFoundError, RateLimitedError, UnavailableError, ValidationError } from '../../core/errors.js';
import type { Logger } from '../../core/ports.js';

const VIEW_ERROR = 'error';

export const notFound: RequestHandler = (req, res) => {
  res.status(404).render(VIEW_ERROR, { titleKey: 'error.not-found', message: 'This page does not exist.' });
};

/** HTTP status of errors raised by Express's own middleware (body parsers, csrf-sync). */
function httpStatus(err: unknown): number | null {
  const status = (err as { status?: unknown; statusCode?: unknown })?.status ?? (err as { statusCode?: unknown })?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : null;
}

const MESSAGES: Record<number, string> = {
  400: 'The request could not be read.',
  403: 'The form has expired or was not sent by this site. Go back, reload the page and try again.',
  413: 'The request is too large.',
  415: 'This content type is not accepted.',
};

const ENDING = Symbol('ending');

/**
 * Marks a response whose end was asked for. Mounted after compression and before the session: a
 * compressed page ends only once its stream has flushed, later than `writableEnded` turns true for
 * a plain one, and the handler below must not cut off a page that was already complete.
 */
export const markEnding: RequestHandler = (_req, res, next) => {
  const end = res.end;
  res.end = function (this: Response, ...args: unknown[]) {
    (res as Response & { [ENDING]?: boolean })[ENDING] = true;
    return (end as (...a: unknown[]) => Response).apply(this, args);
  } as Response['end'];
  next();
};

/**
 * An error that arrives once the response was sent: express-session saves the session after the
 * page went out, and when that fails (a lock, a read-only or full disk) the page was already
 * served. Rendering again would throw, and Express's fallback would drop the connection, possibly
 * before the page is flushed; only a response that was never ended is cut off.
 */
function failedAfterResponse(err: unknown, req: Request, res: Response, log: Logger) {
  log.warn({ err: err instanceof UnavailableError ? (err.cause ?? err) : err, reqId: req.id }, 'request failed after its response was sent');
  if (!res.writableEnded && !(res as Response & { [ENDING]?: boolean })[ENDING]) res.destroy();
}

/** The one error handler of the HTML panel: domain errors become statuses and pages; a stack only reaches the log. */
export const handleErrors = (log: Logger): ErrorRequestHandler => (err, req, res, _next) => {
  if (res.headersSent) return failedAfterResponse(err, req, res, log);
  const form = res.locals.form;
  if (err instanceof ValidationError || (err instanceof ConflictError && form)) {
    const errors = err instanceof ValidationError ? err.fields : { form: [err.message] };
    if (form) {
      return res.status(422).render(form.view, { ...form.locals, values: form.values, errors });
    }
    return res.status(422).render(VIEW_ERROR, { titleKey: 'error.invalid', message: Object.values(errors).flat() });
  }
  if (err instanceof NotFoundError) return res.status(404).render(VIEW_ERROR, { titleKey: 'error.not-found', message: err.message });
  if (err instanceof ForbiddenError) return res.status(403).render(VIEW_ERROR, { titleKey: 'error.forbidden', message: err.message });
  if (err instanceof ConflictError) return res.status(409).render(VIEW_ERROR, { titleKey: 'error.conflict', message: err.message });
  if (err instanceof RateLimitedError) {
    res.set('Retry-After', String(err.retryAfterSeconds));
    if (form) return res.status(429).render(form.view, { ...form.locals, values: form.values, errors: { form: [err.message] } });
    return res.status(429).render(VIEW_ERROR, { titleKey: 'error.too-many', message: err.message });
  }
  if (err instanceof UnavailableError) {
    (req.log ?? log).warn({ err: err.cause ?? err }, 'store unavailable');
    res.set('Retry-After', '5');
    return res.status(503).render(VIEW_ERROR, { titleKey: 'error.unavailable', message: err.message });
  }
  const status = err instanceof AppError ? null : httpStatus(err);
  if (status) {
    return res.status(status).render(VIEW_ERROR, { titleKey: 'error.refused', message: MESSAGES[status] ?? 'The request was refused.' });
  }
  (req.log ?? log).error({ err }, 'request failed');
  res.status(500).render(VIEW_ERROR, { titleKey: 'error.error', message: 'An error occurred while processing the request.' });
};

/**
 * Mounted after handleErrors: the error page it rendered saves the session too, and when that save
 * fails again (the store that made the page a 503 is still down) express-session passes the error
 * on from there, past every handler, to Express's fallback, which drops the connection with the
 * 503 page half sent. Here it is logged, and the page is let finish.
 */
export const handleLateErrors = (log: Logger): ErrorRequestHandler => (err, req, res, next) => {
  if (res.headersSent) return failedAfterResponse(err, req, res, log);
  next(err);
};
