import type { Account, AccountEvents, AuditEntry, Clock, Hasher, ImapSessions, Store } from './ports.js';

export interface AccountWriteDeps {
  store: Store;
  hasher: Hasher;
  clock: Clock;
  events: AccountEvents;
  /** DOVEADM_URL: a change ends the mailbox's IMAP sessions too (null: Dovecot is not told). */
  imap: ImapSessions | null;
}

/** A mailbox's IMAP sessions end with its password or state; SMTP credentials have none. */
const kick = (deps: AccountWriteDeps, account: Account) => {
  if (account.kind === 'mailbox') deps.imap?.end(account.login);
};

/**
 * The one way an account's password changes: hash, store with a new password version and end
 * the owner's web sessions in one transaction, then tell live SMTP sessions and caches.
 * When the promise resolves, the old password no longer authenticates anywhere.
 * With `expectedVersion`, the write happens only if nobody changed the password meanwhile (null otherwise).
 * `audit` is written in the same transaction.
 */
export async function writePassword(deps: AccountWriteDeps, account: Account, password: string, expectedVersion?: number, audit?: AuditEntry): Promise<number | null> {
  const hash = await deps.hasher.hash(password);
  const version = await deps.store.setPasswordAndEndSessions(account.id, hash, deps.clock.now(), expectedVersion, audit);
  if (version !== null) {
    deps.events.emitChanged(account.id);
    kick(deps, account);
  }
  return version;
}

export async function writeDisabled(deps: AccountWriteDeps, account: Account, disabled: boolean): Promise<void> {
  await deps.store.setDisabledAndEndSessions(account.id, disabled, deps.clock.now());
  deps.events.emitChanged(account.id);
  if (disabled) kick(deps, account);
}

export async function removeAccount(deps: AccountWriteDeps, account: Account): Promise<void> {
  await deps.store.deleteAccountAndEndSessions(account.id);
  deps.events.emitChanged(account.id);
  kick(deps, account);
}
