/**
 * What the core needs from the outside world. The store's ports, one per aggregate, are in
 * ./ports/ (re-exported here); the rest are here. Implementations live in src/store and src/adapters.
 */

export type * from './ports/accounts.js';
export type * from './ports/admins.js';
export type * from './ports/app-passwords.js';
export type * from './ports/audit.js';
export type * from './ports/database.js';
export type * from './ports/dkim-keys.js';
export type * from './ports/dns-checks.js';
export type * from './ports/domains.js';
export type * from './ports/login-history.js';
export type * from './ports/notices.js';
export type * from './ports/recovery.js';
export type * from './ports/second-factors.js';
export type * from './ports/sessions.js';
export type * from './ports/settings.js';
export type * from './ports/stores.js';
export type * from './ports/tokens.js';
export type * from './ports/webhooks.js';
import type { DkimKey } from './ports/dkim-keys.js';
import type { AuditEntry } from './ports/audit.js';
import type { LoginAttemptRecord, LoginRecord, NetworkSeen, Rehash } from './ports/login-history.js';

export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  pageSize: number;
}

/** Signs a message with DKIM keys of its sender's domain (RFC 6376, RFC 8463 for Ed25519). */
export interface DkimSigner {
  /** The DKIM-Signature header fields (CRLF-terminated) to put on top of `message`. */
  sign(message: Buffer, domain: string, keys: readonly DkimKey[]): Promise<string>;
}

/** One DNS question of a check (SPEC §14's DNS page). */
export interface DnsQuery {
  name: string;
  type: 'TXT' | 'SRV' | 'CNAME' | 'A' | 'AAAA';
}

/**
 * What DNS answered: the values (TXT strings of a record joined; SRV as `priority weight port
 * target`; CNAME's target; addresses), `none` (no such name or no record of that type), or
 * `failed` (no answer: a timeout, SERVFAIL, a refusal).
 */
export type DnsAnswer = { kind: 'values'; values: string[] } | { kind: 'none' } | { kind: 'failed'; reason: string };

/** Asks DNS (DNS_SERVERS, or the system's resolvers) every question of a check, within one time budget. */
export interface DnsResolver {
  lookup(queries: readonly DnsQuery[]): Promise<DnsAnswer[]>;
}

/** SPEC §13: ends an account's IMAP and POP3 sessions in Dovecot (a kick); never fails the caller. */
export interface ImapSessions {
  end(login: string): void;
}

/** Sends a short plain-text message of mailpass's own (SPEC §9's relay carries it). */
export interface Mailer {
  send(message: { to: string; from: string; subject: string; text: string }): Promise<void>;
}

export interface Hasher {
  hash(password: string): Promise<string>;
  /**
   * `queue`: at most `queue.limit` verifications of `queue.key` (a client address) at once; the rest
   * wait their turn in the hasher, which hands a finished one's slot on to the next by itself.
   */
  verify(hash: string, password: string, queue?: { key: string; limit: number }): Promise<boolean>;
  /** True when the hash was made with other parameters than the configured ones. */
  needsRehash(hash: string): boolean;
}

/** The zxcvbn verdict on a password (the adapter runs it off the event loop). */
export interface Assessment {
  /** zxcvbn score 0-4 of the first 64 code points. */
  score: number;
  /** On the list of common passwords that ships with zxcvbn-ts (case-insensitive). */
  common: boolean;
}

export interface StrengthEstimator {
  assess(password: string, userInputs: string[]): Promise<Assessment>;
  close(): Promise<void>;
}

/** Writes that may wait a second: last connections, re-hashes and login audit entries, batched. */
export interface LoginBatcher {
  recordLogin(record: LoginRecord): void;
  recordRehash(rehash: Rehash): void;
  recordAudit(entry: AuditEntry): void;
  recordAttempt(attempt: LoginAttemptRecord): void;
  recordAppLogin(record: { appPasswordId: number; at: number; ip: string | null }): void;
  recordNetwork(seen: NetworkSeen): void;
  /** Writes what is pending now; the server calls it at shutdown. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Counters that expire by time, shared by every process on the database and kept over restarts:
 * the login throttle's failures, lock-outs, trusted clients and known browsers.
 */
export interface LimitCounters {
  /** The count of `key` in its current window and the milliseconds until the window ends (0 and 0 when none). */
  get(key: string): Promise<{ count: number; msLeft: number }>;
  /** Adds one to `key`; a window of `windowSeconds` starts at its first point. Returns the new count. */
  add(key: string, windowSeconds: number): Promise<number>;
  /** Sets `key` to 1 for `seconds` from now, whatever it held. */
  mark(key: string, seconds: number): Promise<void>;
  delete(key: string): Promise<void>;
}

/** What the spool keeps of a message beside it (SPEC §6). */
export interface Envelope {
  mailFrom: string;
  rcptTo: string[];
  login: string;
  clientAddress: string | null;
  receivedAt: number;
}

export type SpoolResult = { ok: true; id: string; bytes: number } | { ok: false; reason: 'bare-line-ending' | 'too-large' | 'header-too-long' | 'sender-not-allowed' };

/** SPEC §6: accepted mail kept in `data/spool/` when there is no relay. */
export interface MessageSpool {
  readonly dir: string;
  /** Makes the spool's directories (the SMTP server does before it listens). */
  ready(): Promise<void>;
  /**
   * Streams a message into the spool: `<id>.eml`, then `<id>.json` with the envelope, each written
   * to a temporary file, fsynced and renamed, so that a reader (or a crash) never sees half of one.
   * The `.json` file is written last: its presence marks a complete message. `sizeExceeded`: the
   * SMTP edge's own count went past the maximum.
   */
  accept(data: AsyncIterable<Buffer>, sizeExceeded: () => boolean, envelope: Envelope, headersAllowed?: (headers: string) => boolean): Promise<SpoolResult>;
}

/** The relay's answer to one command: its code and text, passed to the client as they are. */
export interface RelayVerdict {
  code: number;
  /** The reply text, beginning with an enhanced status code (RFC 3463). */
  text: string;
}

/**
 * One mail transaction on the relay, command by command (SPEC §9): the relay's verdict on each
 * is the client's. Methods reject with RelayUnavailable (SMTP 451 4.4.1) or RelayMisconfigured
 * (451 4.7.0); a transaction that is over goes back to the pool with `release`.
 */
export interface RelayTransaction {
  mailFrom(address: string): Promise<RelayVerdict>;
  rcptTo(address: string): Promise<RelayVerdict>;
  /**
   * DATA, then `message` (its lines as the client sent them, unstuffed), then the end of data.
   * `complete()` is asked before the end is sent: false (a bare LF, an over-size message) aborts
   * the transaction so that the relay discards what it received, and the answer is null.
   */
  data(message: AsyncIterable<Buffer>, complete: () => boolean): Promise<RelayVerdict | null>;
  /** Ends the transaction (RSET when one is open) and returns the connection to the pool. */
  release(): void;
}

export interface Relay {
  /** A transaction on a pooled connection; waits while every connection is busy (a slow relay slows senders). */
  begin(): Promise<RelayTransaction>;
  close(): Promise<void>;
}

export class RelayUnavailable extends Error {
  override name = 'RelayUnavailable';
}

/** The relay refused mailpass itself (its login, or TLS that RELAY_URL requires). */
export class RelayMisconfigured extends Error {
  override name = 'RelayMisconfigured';
}

export interface Clock {
  /** Unix seconds. */
  now(): number;
}

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  child(bindings: object): Logger;
}

/** Tells listeners in this process that an account's password or state changed. */
export interface AccountEvents {
  emitChanged(accountId: number): void;
  onChanged(listener: (accountId: number) => void): () => void;
  /** An app password was revoked: the SMTP sessions that logged in with it end. */
  emitAppPasswordRevoked(appPasswordId: number): void;
  onAppPasswordRevoked(listener: (appPasswordId: number) => void): () => void;
}

export const systemClock: Clock = { now: () => Math.floor(Date.now() / 1000) };
