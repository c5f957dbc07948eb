import type { Language } from './languages.js';
import { randomBytes } from 'node:crypto';
import { stillIn } from './account-state.js';
import type { Actor } from './actors.js';
import type { SecondFactorCheck } from './second-factor-check.js';
import type { Clock, SessionOwner, SessionRow, Stores } from './ports.js';

/** What a web session records of its owner at login. */
export interface SessionClaim {
  owner?: SessionOwner;
  /** The owner's password version at login: a change ends the session. */
  pwv?: number;
  createdAt?: number;
  /** When the owner last typed its password in this session (the login, or a confirmation since). */
  passwordAt?: number;
}

/**
 * Issue 29 (SPEC §16): a lasting way in (an app password, TOTP, a passkey, an Apple profile) is
 * made only within this long of the owner's last password entry; else it types it again, so a
 * stolen session alone cannot become lasting access.
 */
export const RECENT_PASSWORD_SECONDS = 300;

export type SessionActor = Extract<Actor, { kind: 'mailbox' | 'admin' }> & {
  mustChangePassword?: boolean;
  /** REQUIRE_ADMIN_SECOND_FACTOR and none added yet: every page but the security page sends the admin there. */
  mustAddSecondFactor?: boolean;
  /** SPEC §17: the language the owner chose (null: none). */
  language?: Language | null;
};

export interface SessionService {
  /**
   * The actor of a session, or null when the session must end: its absolute limit passed, its
   * owner is gone or disabled, or the owner's password changed since it began.
   */
  resolve(claim: SessionClaim): Promise<SessionActor | null>;
  /** Storage for express-session's store; rows carry their owner so that a password change ends them all. */
  get(key: string): Promise<SessionRow | null>;
  set(key: string, owner: SessionOwner | null, data: string, expiresAt: number): Promise<void>;
  touch(key: string, expiresAt: number): Promise<void>;
  destroy(key: string): Promise<void>;
  prune(): Promise<number>;
  /** The key that signs session cookies, made once per installation and kept in the database. */
  cookieSecret(): Promise<string>;
  readonly maxAgeSeconds: number;
  /** Whether the session's owner typed its password within RECENT_PASSWORD_SECONDS. */
  passwordIsRecent(claim: SessionClaim): boolean;
}

export function createSessionService({
  stores,
  secondFactors,
  clock,
  maxHours,
  requireAdminSecondFactor = false,
}: {
  stores: Pick<Stores, 'accounts' | 'admins' | 'sessions' | 'settings'>;
  secondFactors: Pick<SecondFactorCheck, 'has'>;
  clock: Clock;
  maxHours: number;
  requireAdminSecondFactor?: boolean;
}): SessionService {
  const maxAgeSeconds = maxHours * 3600;
  return {
    maxAgeSeconds,
    async resolve({ owner, pwv, createdAt }) {
      if (!owner || (createdAt ?? 0) + maxAgeSeconds <= clock.now()) return null;
      const [kind, idText] = owner.split(':');
      const id = Number(idText);
      if (kind === 'admin') {
        const admin = await stores.admins.findAdminById(id);
        if (!admin || !stillIn({ kind: 'admin', admin }, pwv)) return null;
        // A passkey is a second factor too: an admin who added only one is not sent back.
        const mustAddSecondFactor = requireAdminSecondFactor && !(await secondFactors.has(`admin:${id}`));
        return { kind: 'admin', id, username: admin.username, isSuper: admin.isSuper, domainIds: admin.domainIds, via: 'web', mustChangePassword: admin.mustChangePassword, mustAddSecondFactor, language: admin.language };
      }
      if (kind === 'mailbox') {
        const account = await stores.accounts.findAccountById(id);
        if (!account || !stillIn({ kind: 'mailbox', account }, pwv)) return null;
        return { kind: 'mailbox', id, login: account.login, language: account.language };
      }
      return null;
    },
    passwordIsRecent: (claim) => (claim.passwordAt ?? 0) + RECENT_PASSWORD_SECONDS > clock.now(),
    get: (key) => stores.sessions.getSession(key, clock.now()),
    set: (key, owner, data, expiresAt) => stores.sessions.setSession(key, owner, data, expiresAt),
    touch: (key, expiresAt) => stores.sessions.touchSession(key, expiresAt),
    destroy: (key) => stores.sessions.destroySession(key),
    prune: () => stores.sessions.pruneSessions(clock.now()),
    cookieSecret: () => stores.settings.getOrCreateSetting('session-secret', () => randomBytes(32).toString('base64')),
  };
}
