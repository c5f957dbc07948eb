import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, ConflictError, ForbiddenError, NotFoundError, RateLimitedError, UnavailableError, ValidationError } from '../../core/errors.js';
import type { Logger } from '../../core/ports.js';

export const fail = (message: string, extra: object = {}) => ({ success: false as const, message, ...extra });

/** Input that SPEC answers with 400 rather than 422 (§15's limits): the message names the field. */
export class BadRequestError extends ValidationError {}

export const apiNotFound: RequestHandler = (_req, res) => {
  res.status(404).json(fail('Not found'));
};

/** The API's one error translator: SPEC §5's `{success:false,message}` for every refusal; details only in the log. */
export const handleApiErrors = (log: Logger): ErrorRequestHandler => (err, req, res, _next) => {
  if (err instanceof BadRequestError) return res.status(400).json(fail(err.message, { errors: err.fields }));
  if (err instanceof ValidationError) return res.status(422).json(fail('Validation failed', { errors: err.fields }));
  if (err instanceof NotFoundError) return res.status(404).json(fail(err.message));
  if (err instanceof ForbiddenError) return res.status(403).json(fail(err.message));
  if (err instanceof ConflictError) return res.status(409).json(fail(err.message));
  if (err instanceof RateLimitedError) {
    res.set('Retry-After', String(err.retryAfterSeconds));
    return res.status(429).json(fail(err.message));
  }
  if (err instanceof UnavailableError) {
    (req.log ?? log).warn({ err: err.cause ?? err }, 'store unavailable');
    res.set('Retry-After', '5');
    return res.status(503).json(fail('Service temporarily unavailable.'));
  }
  if (!(err instanceof AppError)) {
    const type = (err as { type?: unknown }).type;
    const status = (err as { status?: unknown }).status;
    if (type === 'entity.parse.failed') return res.status(400).json(fail('Malformed JSON in the request body.'));
    if (type === 'entity.too.large' || status === 413) return res.status(413).json(fail('Request body too large (limit 100 kB).'));
    if (type === 'encoding.unsupported' || type === 'charset.unsupported') return res.status(415).json(fail('Unsupported body encoding.'));
    if (typeof status === 'number' && status >= 400 && status < 500) return res.status(status).json(fail('The request could not be processed.'));
  }
  (req.log ?? log).error({ err }, 'api request failed');
  res.status(500).json(fail('An error occurred while processing the request.'));
};
