import { ConflictError, UnavailableError } from '../../core/errors.js';

const UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|READONLY|FULL|IOERR|CANTOPEN|PROTOCOL)/;

/** Maps SQLite's result codes to the core's errors, once, for every store method. */
export function translateSqliteError(err: unknown): unknown {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'string') return err;
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    return new ConflictError('conflict', 'Already exists', { cause: err });
  }
  if (UNAVAILABLE.test(code)) return new UnavailableError(undefined, { cause: err });
  return err;
}
