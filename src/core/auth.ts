import { randomBytes } from 'node:crypto';
import { tryParseAddress } from './addresses.js';
import type { AuthCache } from './auth-cache.js';
import type { LoginBatcher } from './login-batcher.js';
import { MAX_PASSWORD_BYTES } from './passwords.js';
import type { Account, AccountKind, Admin, Clock, Hasher, Store } from './ports.js';

export type AuthResult =
  | { ok: true; account: Account; cached: boolean }
  | { ok: false; reason: 'bad-credentials' | 'too-long' };

export interface AuthService {
  /**
   * Checks a login and password of a mailbox or an SMTP credential. Unknown logins, wrong passwords,
   * disabled accounts and unverified domains all fail alike, after the same argon2 work.
   */
  authenticate(login: string, password: string, options: { kinds: readonly AccountKind[]; ip: string | null; recordConnection: boolean }): Promise<AuthResult>;
  authenticateAdmin(username: string, password: string): Promise<Admin | null>;
  /** Makes the dummy hash ahead of the first unknown login, which would otherwise cost one hash more. */
  warmUp(): Promise<void>;
}

export interface AuthDeps {
  store: Store;
  hasher: Hasher;
  clock: Clock;
  batcher: LoginBatcher;
  cache: AuthCache | null;
  onVerify?: (result: 'hit' | 'miss') => void;
}

export function createAuthService({ store, hasher, clock, batcher, cache, onVerify }: AuthDeps): AuthService {
  // Verified when the login is unknown, so that an unknown login costs what a wrong password costs.
  let dummy: Promise<string> | null = null;
  const dummyHash = () => (dummy ??= hasher.hash(randomBytes(16).toString('base64')));
  const burn = async (password: string) => {
    await hasher.verify(await dummyHash(), password);
  };

  return {
    async warmUp() {
      await dummyHash();
    },

    async authenticate(login, password, { kinds, ip, recordConnection }) {
      if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) return { ok: false, reason: 'too-long' };
      const parsed = tryParseAddress(login);
      const account = parsed ? await store.findAccountByLogin(parsed.address) : null;
      if (!account || !kinds.includes(account.kind)) {
        await burn(password);
        return { ok: false, reason: 'bad-credentials' };
      }
      const usable = !account.disabled && account.domainVerified;
      const now = clock.now();
      const hit = cache?.get(account.login, password, now * 1000);
      let cached = false;
      let ok: boolean;
      if (hit && hit.accountId === account.id && hit.passwordVersion === account.passwordVersion) {
        ok = true;
        cached = true;
        onVerify?.('hit');
      } else {
        ok = await hasher.verify(account.passwordHash, password);
        onVerify?.('miss');
        if (ok) {
          // The password may have changed while argon2 ran: the old one must not get through.
          const current = (await store.readAccountVersions([account.id])).get(account.id);
          if (!current || current.passwordVersion !== account.passwordVersion || current.disabled) return { ok: false, reason: 'bad-credentials' };
          cache?.set(account.login, password, account.id, account.passwordVersion, now * 1000);
          // The new hash is made after the reply: a login never waits for a second argon2 run.
          if (hasher.needsRehash(account.passwordHash)) {
            const { id: accountId, passwordVersion } = account;
            hasher.hash(password).then((hash) => batcher.recordRehash({ accountId, passwordVersion, hash }), () => {});
          }
        }
      }
      if (!ok || !usable) return { ok: false, reason: 'bad-credentials' };
      if (recordConnection) batcher.recordLogin({ accountId: account.id, at: now, ip });
      return { ok: true, account, cached };
    },

    async authenticateAdmin(username, password) {
      if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) return null;
      const admin = typeof username === 'string' && username.length <= 64 ? await store.findAdminByUsername(username.trim().toLowerCase()) : null;
      if (!admin) {
        await burn(password);
        return null;
      }
      if (!(await hasher.verify(admin.passwordHash, password))) return null;
      if (hasher.needsRehash(admin.passwordHash)) {
        await store.rehashAdminPassword(admin.id, admin.passwordVersion, await hasher.hash(password));
      }
      return admin;
    },
  };
}
