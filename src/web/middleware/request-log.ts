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
 * Gives each request an id (echoed as X-Request-Id) and a logger carrying it, and reports its
 * route and duration when the response ends. The route is the matched pattern
 * (`/api/domains/:domain/credentials`), never the raw path with its addresses. The logger is made
 * when a handler first asks for it (`req.log`): most requests never log, and a child logger for
 * each was a page's cost for nothing (issue 36.1).
 */
export const requestLog = (log: Logger, observe?: RequestObserver): RequestHandler => {
  const own = Symbol('log');
  let defined = false;
  return (req, res, next) => {
    if (!defined) {
      // On this app's request prototype, once: `req.log` of any request of the app.
      Object.defineProperty(Object.getPrototypeOf(req), 'log', {
        configurable: true,
        get(this: typeof req & { [own]?: Logger }) {
          return (this[own] ??= log.child({ reqId: this.id }));
        },
      });
      defined = true;
    }
    req.id = randomUUID();
    res.setHeader('X-Request-Id', req.id);
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const route = req.route ? `${req.baseUrl}${req.route.path as string}` : 'unmatched';
      observe?.(req.method, route, res.statusCode, seconds);
      log.debug({ reqId: req.id, method: req.method, route, status: res.statusCode, ms: Math.round(seconds * 1000) }, 'request');
    });
    next();
  };
};
