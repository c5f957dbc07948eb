import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '../../core/ports.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      id?: string;
      /** The request's logger: every line it writes carries the request id. */
      log?: Logger;
    }
  }
}

export type RequestObserver = (method: string, route: string, status: number, seconds: number) => void;

/**
 * Gives each request an id (echoed as X-Request-Id) and a child logger carrying it, and
 * reports its route and duration when the response ends. The route is the matched pattern
 * (`/api/domains/:domain/credentials`), never the raw path with its addresses.
 */
export const requestLog = (log: Logger, observe?: RequestObserver): RequestHandler => (req, res, next) => {
  req.id = randomUUID();
  req.log = log.child({ reqId: req.id });
  res.set('X-Request-Id', req.id);
  const start = process.hrtime.bigint();
  res.on('finish', () => {
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const route = req.route ? `${req.baseUrl}${req.route.path as string}` : 'unmatched';
    observe?.(req.method, route, res.statusCode, seconds);
    req.log!.debug({ method: req.method, route, status: res.statusCode, ms: Math.round(seconds * 1000) }, 'request');
  });
  next();
};
