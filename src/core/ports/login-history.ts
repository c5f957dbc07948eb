import type { AuditEntry } from './audit.js';
import type { SessionOwner } from './sessions.js';

export interface LoginRecord {
  accountId: number;
  at: number;
  ip: string | null;
}

/** A hash made with old parameters, replaced only while the password is still the one it was made from. */
export interface Rehash {
  accountId: number;
  passwordVersion: number;
  hash: string;
}

/**
 * `second-factor-pending`: the password was right and the second factor was asked (whether it
 * followed or not). `second-factor-required`: the password was right, but where it was typed
 * (a webmail's password change) cannot ask the second factor, so nothing was done.
 */
export type LoginHistoryResult = 'ok' | 'bad-password' | 'second-factor-pending' | 'second-factor-required' | 'second-factor-failed' | 'locked' | 'disabled';

/** One login attempt on an account, as its history keeps it (SPEC §10). */
export interface LoginAttemptRecord {
  accountId: number;
  at: number;
  protocol: 'web' | 'smtp' | 'api' | 'webmail';
  /** `PLAIN`, `LOGIN` (SMTP), `password`, `current-password` (web), `password-change` (webmail). */
  mechanism: string;
  result: LoginHistoryResult;
  ip: string | null;
  /** TLS version (SMTP) or browser (web). */
  client: string;
}

/** Attempts of one day and (protocol, mechanism, result, address), counted. */
export interface LoginHistoryRow {
  accountId: number;
  day: number;
  protocol: string;
  mechanism: string;
  result: LoginHistoryResult;
  ip: string;
  client: string;
  firstAt: number;
  lastAt: number;
  count: number;
}

/** A successful panel-owner login and the network (IPv4 /24, IPv6 /64) it came from. */
export interface NetworkSeen {
  owner: SessionOwner;
  network: string;
  ip: string;
  protocol: 'web' | 'smtp';
  at: number;
}

export interface LoginBatch {
  logins: readonly LoginRecord[];
  rehashes: readonly Rehash[];
  audit: readonly AuditEntry[];
  /** Aggregated attempts; added to the rows of their day. */
  history?: readonly LoginHistoryRow[];
  /** Last connections of app passwords. */
  appLogins?: readonly { appPasswordId: number; at: number; ip: string | null }[];
  /** Networks owners logged in from; the store answers which of them were new. */
  networks?: readonly NetworkSeen[];
}

/** What logins leave behind: last connections, re-hashes, their audit entries, histories (SPEC §10) and networks. */
export interface LoginHistoryStore {
  /**
   * Last connections, re-hashes, audit entries and networks of many logins, in one transaction.
   * Returns the networks that were new for an owner that had logged in from another before.
   */
  applyLoginBatch(batch: LoginBatch): Promise<NetworkSeen[]>;
  /** An account's login history, newest first. */
  listLoginHistory(accountId: number, limit: number): Promise<LoginHistoryRow[]>;
  /** Deletes rows last seen before `before`; returns how many. */
  pruneLoginHistory(before: number): Promise<number>;
}
