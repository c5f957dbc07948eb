import type { AuditEntry } from './audit.js';

/**
 * SPEC §16: a link mailpass mailed, kept as the SHA-256 of its random token. `confirm`: it proves
 * a new recovery address reads its mail; `reset`: it lets the owner of a forgotten password choose
 * a new one.
 */
export type RecoveryPurpose = 'confirm' | 'reset';

export interface RecoveryLink {
  tokenHash: string;
  accountId: number;
  purpose: RecoveryPurpose;
  /** `confirm`: the address it confirms; `reset`: the recovery address it was sent to. */
  address: string;
  /** The account's password version when the link was made: a password changed since voids it. */
  passwordVersion: number;
  createdAt: number;
  expiresAt: number;
}

export interface RecoveryState {
  /** The confirmed recovery address: forgotten-password links go there. */
  confirmed: { address: string; confirmedAt: number } | null;
  /** A new address waiting for its confirmation (the newest link of that purpose, unexpired). */
  pending: { address: string; expiresAt: number } | null;
}

/** Mailboxes' recovery addresses and the links mailed to them (SPEC §16). */
export interface RecoveryStore {
  getRecovery(accountId: number, now: number): Promise<RecoveryState>;
  /** A new link; a `confirm` link replaces the account's earlier ones (one address waits at a time). */
  addRecoveryLink(link: RecoveryLink, audit: AuditEntry): Promise<void>;
  /** A link of this purpose, unexpired (null: unknown, used or expired). Reading it changes nothing. */
  findRecoveryLink(tokenHash: string, purpose: RecoveryPurpose, now: number): Promise<RecoveryLink | null>;
  /**
   * Takes a link once: deletes it and returns it if it was there and unexpired, else null. Of two
   * callers with the same token, one gets it.
   */
  deleteRecoveryLink(tokenHash: string, purpose: RecoveryPurpose, now: number): Promise<RecoveryLink | null>;
  /** A confirm link becomes its account's recovery address (replacing the old one) and is used up; false when it was not there. */
  setConfirmedRecoveryAddress(tokenHash: string, now: number, audit: AuditEntry): Promise<boolean>;
  /** The account has no recovery address any more, confirmed or waiting. */
  removeRecoveryAddress(accountId: number, audit: AuditEntry): Promise<void>;
  /** Deletes links expired before `now`; returns how many. */
  pruneRecoveryLinks(now: number): Promise<number>;
}
