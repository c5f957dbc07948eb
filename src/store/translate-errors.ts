/**
 * Wraps every method of a store so that its driver's errors reach the core as the core's own
 * (ConflictError, UnavailableError): the core never sees a SqliteError or a pg error.
 */
export function translatingErrors<T extends object>(store: T, translate: (err: unknown) => unknown): T {
  for (const key of Object.keys(store) as Array<keyof T>) {
    const fn = store[key] as (...args: unknown[]) => unknown;
    if (key === 'close' || typeof fn !== 'function') continue;
    (store as Record<keyof T, unknown>)[key] = async (...args: unknown[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        throw translate(err);
      }
    };
  }
  return store;
}
