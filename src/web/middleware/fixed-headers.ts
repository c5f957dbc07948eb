import type { RequestHandler } from 'express';

/**
 * The headers a middleware sets the same on every response (helmet's: CSP, X-Frame-Options and
 * the rest), worked out once by running it against a response that only records them, then set
 * with one loop per request instead of through its eleven middlewares (issue 36.1). Only for a
 * middleware whose headers depend on nothing in the request (helmet's, with no directive given as
 * a function); one that does more than set and remove headers fails here, at start.
 */
export function fixedHeaders(middleware: RequestHandler): RequestHandler {
  const headers: Array<[string, string]> = [];
  let called = false;
  const recorder = {
    setHeader: (name: string, value: string | number | readonly string[]) => void headers.push([name, String(value)]),
    removeHeader: () => {},
  };
  void middleware({} as never, recorder as never, (err?: unknown) => {
    if (err) throw err instanceof Error ? err : new Error(String(err));
    called = true;
  });
  if (!called) throw new Error('fixedHeaders: the middleware did not call next() at once');
  return (_req, res, next) => {
    for (const [name, value] of headers) res.setHeader(name, value);
    next();
  };
}
