import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fchmodSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Database, SettingStore, Stores } from '../core/ports.js';

/**
 * Issue 29: the secrets the database holds (the TOTP secrets, the DKIM private keys, the keys of
 * the session cookies, the known-browser marks and the throttle, the webhooks' signing secrets) are sealed with AES-256-GCM under
 * a key that is not in the database: a key file beside it (SECRET_KEY_FILE, by default
 * DATA_DIR/secret.key, mode 0600). A copy of the database, a backup or Dovecot's read of the
 * SQLite file reveals none of them. Each value is bound to where it belongs (GCM's associated
 * data), so that a sealed value moved to another row does not open.
 */
const PREFIX = 'sealed:v1:';
const KEY_CHECK = 'secret-key-check';
const KEY_CHECK_TEXT = 'mailpass secret key';

export interface Sealer {
  seal(plain: string, context: string): string;
  /** The plain text of a sealed value; a value sealed before sealing existed is returned as it is. */
  open(value: string, context: string): string;
}

export const isSealed = (value: string) => value.startsWith(PREFIX);

export function createSealer(key: Buffer): Sealer {
  return {
    seal(plain, context) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(context));
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return PREFIX + Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
    },
    open(value, context) {
      if (!isSealed(value)) return value;
      const raw = Buffer.from(value.slice(PREFIX.length), 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12)).setAAD(Buffer.from(context));
      decipher.setAuthTag(raw.subarray(raw.length - 16));
      return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString('utf8');
    },
  };
}

/** Where each kind of secret is bound: a sealed value opens only there. */
export const contexts = {
  setting: (key: string) => `setting:${key}`,
  totp: (owner: string) => `totp:${owner}`,
  dkim: (domainId: number, selector: string) => `dkim:${domainId}:${selector}`,
  webhook: (id: string) => `webhook:${id}`,
};

export class SecretKeyError extends Error {}

/** Whether `sealer` opens a database's check value (a wrong key fails GCM's tag, or opens to other text). */
const opensCheck = (sealer: Sealer, check: string) => {
  try {
    return sealer.open(check, KEY_CHECK) === KEY_CHECK_TEXT;
  } catch {
    return false;
  }
};

/** Reads the key file, or makes it (32 random bytes, base64, mode 0600) when `create`; null when missing and not made. */
export function readSecretKey(file: string, create: boolean): Buffer | null {
  if (!existsSync(file)) {
    if (!create) return null;
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o600);
    } catch (err) {
      // Another process of the same installation made it first: use theirs.
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readSecretKey(file, false);
      throw err;
    }
    try {
      fchmodSync(fd, 0o600);
      writeSync(fd, `${randomBytes(32).toString('base64')}\n`);
    } finally {
      closeSync(fd);
    }
  }
  const { mode } = statSync(file);
  if ((mode & 0o077) !== 0) throw new SecretKeyError(`SECRET_KEY_FILE: ${file} may be read by others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new SecretKeyError(`SECRET_KEY_FILE: ${file} does not hold a key (32 bytes in base64)`);
  return key;
}

/**
 * Throws unless the key at `keyFile` opens secrets sealed under `check` (a database's check value;
 * null: it has no sealed secrets, any key will do). `restore` asks before it swaps a backup in.
 */
export function assertKeyOpens(check: string | null, keyFile: string) {
  if (check === null) return;
  const key = readSecretKey(keyFile, false);
  if (!key) throw new SecretKeyError(`its secrets are sealed with a key that is not at ${keyFile}: put the installation's key file there first (or set SECRET_KEY_FILE)`);
  if (!opensCheck(createSealer(key), check)) throw new SecretKeyError(`its secrets are sealed with another key than the one at ${keyFile}`);
}

/**
 * The sealer of this database: the key file is read (made on a database that has no sealed
 * secrets yet) and checked against the database's check value, then secrets still stored in the
 * clear (a database of an earlier version) are sealed in place.
 */
export async function openSealer({ settings, database }: { settings: SettingStore; database: Database }, keyFile: string): Promise<Sealer> {
  const check = await settings.readSetting(KEY_CHECK);
  const key = readSecretKey(keyFile, check === null);
  if (!key) {
    throw new SecretKeyError(
      `the database's secrets are sealed with a key that is not at ${keyFile}: put that key file back (or set SECRET_KEY_FILE to it); see SECURITY.md, "Secrets at rest"`,
    );
  }
  const sealer = createSealer(key);
  const stored = check ?? (await settings.getOrCreateSetting(KEY_CHECK, () => sealer.seal(KEY_CHECK_TEXT, KEY_CHECK)));
  if (!opensCheck(sealer, stored)) {
    throw new SecretKeyError(`SECRET_KEY_FILE: the key at ${path.resolve(keyFile)} does not open this database's secrets (another installation's key?)`);
  }
  // rewriteSecrets names each row as `contexts` binds it: `<kind>:<where>`.
  await database.rewriteSecrets((kind, where, value) => (isSealed(value) || (kind === 'setting' && where === KEY_CHECK) ? null : sealer.seal(value, `${kind}:${where}`)));
  return sealer;
}

/**
 * The ports that hold secrets, sealed on the way in and opened on the way out: the use cases see
 * plain values, the database holds sealed ones. One decorator for both stores.
 */
export function sealSecrets(stores: Stores, sealer: Sealer): Stores {
  const { settings, secondFactors, dkimKeys, webhooks } = stores;
  return {
    ...stores,
    settings: {
      ...settings,
      getOrCreateSetting: async (key, create) => sealer.open(await settings.getOrCreateSetting(key, () => sealer.seal(create(), contexts.setting(key))), contexts.setting(key)),
      readSetting: async (key) => {
        const value = await settings.readSetting(key);
        return value === null ? null : sealer.open(value, contexts.setting(key));
      },
    },
    secondFactors: {
      ...secondFactors,
      addTotp: (owner, secret, ...rest) => secondFactors.addTotp(owner, sealer.seal(secret, contexts.totp(owner)), ...rest),
      getSecondFactors: async (owner) => {
        const factors = await secondFactors.getSecondFactors(owner);
        return factors.totp ? { ...factors, totp: { ...factors.totp, secret: sealer.open(factors.totp.secret, contexts.totp(owner)) } } : factors;
      },
    },
    dkimKeys: {
      ...dkimKeys,
      insertDkimKeys: (keys, audit) => dkimKeys.insertDkimKeys(keys.map((k) => ({ ...k, privateKey: sealer.seal(k.privateKey, contexts.dkim(k.domainId, k.selector)) })), audit),
      listDkimKeys: async (domainId) => (await dkimKeys.listDkimKeys(domainId)).map((k) => ({ ...k, privateKey: sealer.open(k.privateKey, contexts.dkim(k.domainId, k.selector)) })),
    },
    webhooks: {
      ...webhooks,
      insertWebhook: (w, audit) => webhooks.insertWebhook({ ...w, secret: sealer.seal(w.secret, contexts.webhook(w.id)) }, audit),
      leaseDueWebhooks: async (...args) => (await webhooks.leaseDueWebhooks(...args)).map((w) => ({ ...w, secret: sealer.open(w.secret, contexts.webhook(w.id)) })),
    },
  };
}
