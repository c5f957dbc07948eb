import { createHmac, randomBytes } from 'node:crypto';

interface Entry {
  accountId: number;
  passwordVersion: number;
  expiresAt: number;
}

export interface AuthCache {
  /** The account and password version a login and password were last verified for, if remembered. */
  get(login: string, password: string, nowMs: number): { accountId: number; passwordVersion: number } | null;
  set(login: string, password: string, accountId: number, passwordVersion: number, nowMs: number): void;
  forgetAccount(accountId: number): void;
  readonly size: number;
}

/**
 * Remembers successful verifications by a keyed hash of login and password (HMAC-SHA-256 with a
 * key that lives only in this process), never the password. A hit is only a hint: the caller
 * still compares the password version read from the database, so a change made anywhere wins.
 */
export function createAuthCache({ size, ttlSeconds }: { size: number; ttlSeconds: number }): AuthCache | null {
  if (size <= 0 || ttlSeconds <= 0) return null;
  const key = randomBytes(32);
  // A Map iterates in insertion order: re-inserting on a hit makes it an LRU.
  const entries = new Map<string, Entry>();
  const digest = (login: string, password: string) =>
    createHmac('sha256', key).update(login).update('\0').update(password).digest('base64');
  return {
    get(login, password, nowMs) {
      const k = digest(login, password);
      const e = entries.get(k);
      if (!e) return null;
      entries.delete(k);
      if (e.expiresAt <= nowMs) return null;
      entries.set(k, e);
      return { accountId: e.accountId, passwordVersion: e.passwordVersion };
    },
    set(login, password, accountId, passwordVersion, nowMs) {
      const k = digest(login, password);
      entries.delete(k);
      entries.set(k, { accountId, passwordVersion, expiresAt: nowMs + ttlSeconds * 1000 });
      while (entries.size > size) entries.delete(entries.keys().next().value!);
    },
    forgetAccount(accountId) {
      for (const [k, e] of entries) if (e.accountId === accountId) entries.delete(k);
    },
    get size() {
      return entries.size;
    },
  };
}
