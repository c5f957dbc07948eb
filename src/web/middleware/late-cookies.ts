import type { RequestHandler, Response } from 'express';

const QUEUE = Symbol('late-cookies');
type Queued = Response & { [QUEUE]?: string[] };

/** Queues a Set-Cookie header line to go out after the session's. */
export function queueCookie(res: Response, line: string): void {
  ((res as Queued)[QUEUE] ??= []).push(line);
}

/**
 * Mounted before the session middleware: its writeHead wrapper runs after the session's, so the
 * session cookie stays the first Set-Cookie of a response and queued cookies follow it.
 */
export const lateCookies: RequestHandler = (_req, res, next) => {
  const writeHead = res.writeHead;
  res.writeHead = function (this: Response, ...args: Parameters<Response['writeHead']>) {
    const queued = (res as Queued)[QUEUE];
    if (queued?.length && !res.headersSent) {
      const prev = res.getHeader('Set-Cookie');
      res.setHeader('Set-Cookie', [...(prev === undefined ? [] : Array.isArray(prev) ? prev : [String(prev)]), ...queued]);
    }
    return writeHead.apply(this, args) as Response;
  } as Response['writeHead'];
  next();
};
