import type { Account, AccountEvents, AuditEntry, Clock, Hasher, ImapSessions, Stores } from './ports.js';

export interface AccountWriteDeps {
  stores: Pick<Stores, 'accounts'>;
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
export async function writePassword(deps: AccountWriteDeps, account: Account, password: string, expectedVersion: number | undefined, audit: AuditEntry): Promise<number | null> {
  const hash = await deps.hasher.hash(password);
  const version = await deps.stores.accounts.setPasswordAndEndSessions(account.id, hash, deps.clock.now(), expectedVersion, audit);
  if (version !== null) {
    deps.events.emitChanged(account.id);
    kick(deps, account);
  }
  return version;
}

/** Disables or enables an account, ending its sessions, with `audit` in the same transaction. */
export async function writeDisabled(deps: AccountWriteDeps, account: Account, disabled: boolean, audit: AuditEntry): Promise<void> {
  await deps.stores.accounts.setDisabledAndEndSessions(account.id, disabled, deps.clock.now(), audit);
  deps.events.emitChanged(account.id);
  if (disabled) kick(deps, account);
}

/** Deletes an account with what it leaves behind, with `audit` in the same transaction. */
export async function removeAccount(deps: AccountWriteDeps, account: Account, audit: AuditEntry): Promise<void> {
  await deps.stores.accounts.deleteAccountAndEndSessions(account.id, audit);
  deps.events.emitChanged(account.id);
  kick(deps, account);
}
