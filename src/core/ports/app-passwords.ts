import type { AuditEntry } from './audit.js';

/** A named app password of a mailbox (SPEC §11); the password itself is shown once and stored hashed. */
export interface AppPassword {
  id: number;
  accountId: number;
  name: string;
  tag: string;
  /** What Dovecot finds it by (issue 29); null for one made before selectors, until its next SMTP login. */
  selector: string | null;
  passwordHash: string;
  createdAt: number;
  lastLoginAt: number | null;
  lastLoginIp: string | null;
}

/** SPEC §11: a mailbox's app passwords (a password change revokes them: AccountStore). */
export interface AppPasswordStore {
  insertAppPassword(input: { accountId: number; name: string; tag: string; selector: string; passwordHash: string; now: number }, audit: AuditEntry): Promise<AppPassword>;
  /** Gives an app password made before selectors its selector (known once it logs in). */
  setAppPasswordSelector(id: number, selector: string): Promise<void>;
  listAppPasswords(accountId: number): Promise<AppPassword[]>;
  /** The app password of a mailbox whose tag this is (the first characters of a typed password). */
  findAppPassword(accountId: number, tag: string): Promise<AppPassword | null>;
  /** Deletes an app password of the mailbox, with `audit`; false when there was none. */
  deleteAppPassword(accountId: number, id: number, audit: AuditEntry): Promise<boolean>;
}
