import type { Store } from '../core/ports.js';

/**
 * Wraps every method of a store so that its driver's errors reach the core as the core's own
 * (ConflictError, UnavailableError): the core never sees a SqliteError or a pg error.
 */
export function translatingErrors(store: Store, translate: (err: unknown) => unknown): Store {
  for (const key of Object.keys(store) as Array<keyof Store>) {
    const fn = store[key] as (...args: unknown[]) => unknown;
    if (key === 'close') continue;
    (store as unknown as Record<string, unknown>)[key] = async (...args: unknown[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        throw translate(err);
      }
    };
  }
  return store;
}
