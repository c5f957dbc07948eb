import type { AuditEntry } from './audit.js';

/** SPEC §15: one level's sending limits as set; null is "the level above's" (0 is "no limit"). */
export interface SendLimitValues {
  perHour: number | null;
  perDay: number | null;
  maxRecipients: number | null;
}

/** Recipients of accepted messages in the last 60 minutes and the last 24 hours. */
export interface SentCounts {
  lastHour: number;
  lastDay: number;
}

/** The two windows a count is limited in, and their length. */
export const SEND_WINDOWS = { hour: 3_600, day: 86_400 } as const;
export type SendWindow = keyof typeof SEND_WINDOWS;

/** A login of a domain that reached a limit, for the domain page. */
export interface LimitReached {
  accountId: number;
  login: string;
  kind: 'mailbox' | 'credential';
  window: SendWindow;
  at: number;
}

/**
 * SPEC §15's limits and counts: the overrides of domains and accounts, and each account's
 * recipients counted in one-minute slots (a slot holds the recipients reserved in its minute),
 * shared by every process and node. A reservation is checked and added in one transaction, so
 * parallel senders of one login never pass its limit together.
 */
export interface SendLimitStore {
  /** The overrides of one domain (all null when it has none). */
  domainLimits(domainId: number): Promise<SendLimitValues>;
  /** The overrides of one account, and of its domain, in one read (each message's MAIL FROM). */
  accountLimits(accountId: number): Promise<{ account: SendLimitValues; domain: SendLimitValues } | null>;
  /** The overrides of a domain's accounts that have any, by account id. */
  accountLimitsOfDomain(domainId: number): Promise<Map<number, SendLimitValues>>;
  /** Sets a domain's overrides with `audit`, in one transaction. */
  setDomainLimits(domainId: number, values: SendLimitValues, audit: AuditEntry): Promise<void>;
  /** Sets an account's overrides with `audit`, in one transaction. */
  setAccountLimits(accountId: number, values: SendLimitValues, audit: AuditEntry): Promise<void>;
  /**
   * Adds `count` recipients to the account's slot `minute` when the sums of the slots of the
   * last 60 and 1440 minutes stay within `perHour` and `perDay` (0: no limit); else adds nothing.
   * Returns which window refused it (null: added).
   */
  reserve(accountId: number, minute: number, count: number, limits: { perHour: number; perDay: number }): Promise<SendWindow | null>;
  /** Takes back `count` recipients reserved in the slot `minute` (a refused or abandoned message). */
  release(accountId: number, minute: number, count: number): Promise<void>;
  /** What all accounts of a domain sent together in the 60 and 1440 minutes up to `minute`. */
  sentByDomain(domainId: number, minute: number): Promise<SentCounts>;
  /** What accounts sent in the 60 and 1440 minutes up to `minute` (accounts that sent nothing are left out). */
  sent(accountIds: readonly number[], minute: number): Promise<Map<number, SentCounts>>;
  /**
   * Marks that the account reached its `window` limit at `at`: true the first time in that window
   * (nothing marked in the `window`'s length before `at`), exactly once across processes.
   */
  markReached(accountId: number, window: SendWindow, at: number): Promise<boolean>;
  /** A domain's logins marked since `since`, newest first. */
  reachedSince(domainId: number, since: number): Promise<LimitReached[]>;
  /** Deletes slots before `minute` and marks older than a day; the server calls it once a minute. */
  prune(minute: number, at: number): Promise<void>;
}
