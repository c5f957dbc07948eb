import type { Language } from '../languages.js';
import type { AuditEntry } from './audit.js';

export type AccountKind = 'mailbox' | 'credential';

/** Anything that logs in over SMTP: a mailbox or an application's SMTP credential. One namespace. */
export interface Account {
  id: number;
  kind: AccountKind;
  domainId: number;
  domainName: string;
  domainVerified: boolean;
  login: string;
  localPart: string;
  name: string;
  guid: string | null;
  passwordHash: string;
  passwordVersion: number;
  disabled: boolean;
  createdAt: number;
  updatedAt: number;
  lastLoginAt: number | null;
  lastLoginIp: string | null;
  /** SPEC §17: the language its owner chose in the panel (null: none). */
  language: Language | null;
}

export interface NewAccount {
  kind: AccountKind;
  domainId: number;
  login: string;
  localPart: string;
  name: string;
  guid: string | null;
  passwordHash: string;
  now: number;
}

/** A mailbox as `mailpass import` brings it in: its hash as stored, `{SCHEME}...` or argon2id. */
export interface ImportedMailbox {
  login: string;
  localPart: string;
  domain: string;
  name: string;
  passwordHash: string;
  disabled: boolean;
}

/** Mailboxes and SMTP credentials. Every change writes its `audit` entry in its own transaction. */
export interface AccountStore {
  /** ConflictError: the login is taken. */
  insertAccount(account: NewAccount, audit: AuditEntry): Promise<Account>;
  findAccountByLogin(login: string): Promise<Account | null>;
  findAccountById(id: number): Promise<Account | null>;
  /** SPEC §17: the language the mailbox's owner chose (null: none). */
  setAccountLanguage(id: number, language: Language | null): Promise<void>;
  /** A credential by its guid (null for any other kind of account). */
  findCredentialByGuid(guid: string): Promise<Account | null>;
  /** The password versions and states of these accounts, for invalidating caches and live sessions. */
  readAccountVersions(ids: readonly number[]): Promise<Map<number, { passwordVersion: number; disabled: boolean }>>;
  listAccounts(domainId: number, kind: AccountKind, query: { search?: string; limit: number; offset: number }): Promise<{ items: Account[]; total: number }>;
  /**
   * Stores a new hash, bumps the password version, ends the owner's web sessions, revokes its app
   * passwords (SPEC §16) and appends `audit`, in one transaction: a change is never stored without
   * its audit entry, nor the reverse. With `expectedVersion`, only if nobody changed it meanwhile (null).
   */
  setPasswordAndEndSessions(accountId: number, hash: string, now: number, expectedVersion: number | undefined, audit: AuditEntry): Promise<number | null>;
  setDisabledAndEndSessions(accountId: number, disabled: boolean, now: number, audit: AuditEntry): Promise<void>;
  /** Deletes the account with its sessions, second factors, networks and notices. */
  deleteAccountAndEndSessions(accountId: number, audit: AuditEntry): Promise<void>;
  /**
   * SPEC §13: creates `domains` and inserts the mailboxes whose login is not taken, with `audit`,
   * in one transaction; a mailbox whose login exists is left as it is. `mailboxes` is consumed
   * inside that transaction (the import parses its file as it goes): if it throws, nothing is kept.
   */
  importMailboxes(input: { domains: readonly string[]; mailboxes: Iterable<ImportedMailbox>; now: number }, audit: AuditEntry): Promise<{ created: number; existing: number }>;
  /** Mailboxes of a domain that still hold an imported hash, per scheme (the text of its {SCHEME}). */
  countImportedSchemes(domainId: number): Promise<Array<{ scheme: string; count: number }>>;
}
