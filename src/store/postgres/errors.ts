import { ConflictError, UnavailableError } from '../../core/errors.js';

// Class 08: connection exceptions; 53: insufficient resources; 57P: the server shutting down;
// 55P03: lock_timeout; 40001/40P01: serialization failure and deadlock (the caller may retry).
const UNAVAILABLE_STATE = /^(08|53|57P|55P03|40001|40P01)/;
const UNAVAILABLE_CODE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

/** Maps PostgreSQL's errors to the core's, once, for every store method. */
export function translatePgError(err: unknown): unknown {
  const code = (err as { code?: unknown })?.code;
  if (code === '23505') return new ConflictError('conflict', 'Already exists', { cause: err });
  if (typeof code === 'string' && (UNAVAILABLE_STATE.test(code) || UNAVAILABLE_CODE.has(code))) return new UnavailableError(undefined, { cause: err });
  // The pool's own failures (a connection timeout, a connection that ended) carry no code.
  if (err instanceof Error && /timeout exceeded when trying to connect|Connection terminated|connection ended/i.test(err.message)) return new UnavailableError(undefined, { cause: err });
  return err;
}
