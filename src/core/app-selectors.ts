import { createHash, randomBytes } from 'node:crypto';
import type { SettingStore } from './ports.js';

/** How many leading characters of an app password are its stored tag (of 20 generated ones): mailpass finds it by them. */
export const APP_TAG_LENGTH = 6;

/**
 * Bits of an app password's selector: enough to tell a mailbox's (at most 20) app passwords apart
 * (a new one is drawn again on a clash), few enough that the selector of a typed password tells
 * next to nothing of it. A whole number of bytes, as Dovecot's `truncate=` keeps them.
 */
export const SELECTOR_BITS = 16;

export interface AppSelectors {
  /** The installation's salt (hex), made once and kept in the database; Dovecot's query names it. */
  salt(): Promise<string>;
  /** The selector of a password: the first SELECTOR_BITS of SHA-256(salt || password), in hex. */
  of(password: string): Promise<string>;
}

/**
 * Issue 29: Dovecot finds the app password that a typed password may be by this selector, which
 * it computes itself (`%{sha256;truncate=16,salt=...:password}`), so that no part of the password
 * is ever SQL text (a statement log would keep it).
 */
export function createAppSelectors(settings: Pick<SettingStore, 'getOrCreateSetting'>): AppSelectors {
  let salt: Promise<string> | null = null;
  const get = () => (salt ??= settings.getOrCreateSetting('app-selector-salt', () => randomBytes(16).toString('hex')));
  return {
    salt: get,
    of: async (password) =>
      createHash('sha256')
        .update(await get())
        .update(password)
        .digest()
        .subarray(0, SELECTOR_BITS / 8)
        .toString('hex'),
  };
}
