/** What the core needs from the outside world. Implementations live in src/store and src/main.ts. */

export interface Domain {
  id: number;
  name: string;
  verified: boolean;
  createdAt: number;
}

export interface DomainSummary extends Domain {
  mailboxCount: number;
  credentialCount: number;
  /** Records the last DNS check found not right (SPEC §14); null: never checked. */
  dnsProblems: number | null;
}

/** The last DNS check of a domain, as kept: when, how many problems, and each record's result (JSON). */
export interface StoredDnsCheck {
  checkedAt: number;
  problems: number;
  results: string;
}

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

export interface Admin {
  id: number;
  username: string;
  passwordHash: string;
  passwordVersion: number;
  isSuper: boolean;
  domainIds: number[];
  disabled: boolean;
  /** Set when the password was generated and printed: the admin must choose its own at the next login. */
  mustChangePassword: boolean;
  createdAt: number;
}

export interface ApiToken {
  id: number;
  adminId: number;
  adminUsername: string;
  name: string;
  prefix: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export interface AuditEntry {
  at: number;
  actor: string;
  action: string;
  target: string;
  ip: string | null;
  detail?: string | null;
}

export interface AuditRecord extends AuditEntry {
  id: number;
}

export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  pageSize: number;
}

export interface LoginRecord {
  accountId: number;
  at: number;
  ip: string | null;
}

/** `second-factor-pending`: the password was right and the second factor was asked (whether it followed or not). */
export type LoginHistoryResult = 'ok' | 'bad-password' | 'second-factor-pending' | 'second-factor-failed' | 'locked' | 'disabled';

/** One login attempt on an account, as its history keeps it (SPEC §10). */
export interface LoginAttemptRecord {
  accountId: number;
  at: number;
  protocol: 'web' | 'smtp' | 'api';
  /** `PLAIN`, `LOGIN` (SMTP), `password`, `current-password` (web). */
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

/** A mailbox as `mailpass import` brings it in: its hash as stored, `{SCHEME}...` or argon2id. */
export interface ImportedMailbox {
  login: string;
  localPart: string;
  domain: string;
  name: string;
  passwordHash: string;
  disabled: boolean;
}

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

/** A successful panel-owner login and the network (IPv4 /24, IPv6 /64) it came from. */
export interface NetworkSeen {
  owner: SessionOwner;
  network: string;
  ip: string;
  protocol: 'web' | 'smtp';
  at: number;
}

/** What an owner is told about (issue 17): by mail through the relay, else on its next panel visit. */
export type NoticeKind = 'password-changed' | 'second-factor-added' | 'second-factor-removed' | 'new-network' | 'password-accepted' | 'second-factor-guessed' | 'app-password-created' | 'send-limit-reached';

export interface Notice {
  kind: NoticeKind;
  /** JSON of the event's details (who, from where); never a secret. */
  detail: string;
  at: number;
}

/** A DKIM key of a domain (SPEC §14); `publicKey` is the `p=` of its DNS record. */
export interface DkimKey {
  domainId: number;
  selector: string;
  algorithm: 'ed25519' | 'rsa';
  /** PKCS#8 PEM; never shown, never logged. */
  privateKey: string;
  publicKey: string;
  createdAt: number;
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

/** A hash made with old parameters, replaced only while the password is still the one it was made from. */
export interface Rehash {
  accountId: number;
  passwordVersion: number;
  hash: string;
}

/** Who owns a web session; every session of an owner ends with its password change. */
export type SessionOwner = `mailbox:${number}` | `admin:${number}`;

export interface SessionRow {
  data: string;
  expiresAt: number;
}

/**
 * All persistence, as use-case sized atomic operations. Times are Unix seconds.
 * Every method may reject with UnavailableError (locked, read-only, disk full)
 * or ConflictError (a unique name taken); none leaks a transaction handle.
 */
export interface Store {
  insertDomain(name: string, verified: boolean, now: number): Promise<Domain>;
  findDomainByName(name: string): Promise<Domain | null>;
  /** Domains with counts; `ids` limits them to a domain admin's. */
  listDomains(ids?: readonly number[]): Promise<DomainSummary[]>;

  insertAccount(account: NewAccount): Promise<Account>;
  findAccountByLogin(login: string): Promise<Account | null>;
  findAccountById(id: number): Promise<Account | null>;
  findCredentialByGuid(guid: string): Promise<Account | null>;
  /** The password versions and states of these accounts, for invalidating caches and live sessions. */
  readAccountVersions(ids: readonly number[]): Promise<Map<number, { passwordVersion: number; disabled: boolean }>>;
  listAccounts(
    domainId: number,
    kind: AccountKind,
    query: { search?: string; limit: number; offset: number },
  ): Promise<{ items: Account[]; total: number }>;
  /**
   * Stores a new hash, bumps the password version, ends the owner's web sessions and appends
   * `audit`, in one transaction: a change is never stored without its audit entry, nor the reverse.
   */
  /** Also revokes the account's app passwords (SPEC §16), in the same transaction. */
  setPasswordAndEndSessions(accountId: number, hash: string, now: number, expectedVersion?: number, audit?: AuditEntry): Promise<number | null>;
  setDisabledAndEndSessions(accountId: number, disabled: boolean, now: number): Promise<void>;
  deleteAccountAndEndSessions(accountId: number): Promise<void>;
  /**
   * Last connections, re-hashes, audit entries and networks of many logins, in one transaction.
   * Returns the networks that were new for an owner that had logged in from another before.
   */
  applyLoginBatch(batch: LoginBatch): Promise<NetworkSeen[]>;

  insertAdmin(input: { username: string; passwordHash: string; isSuper: boolean; domainIds: number[]; mustChangePassword: boolean; now: number }, audit?: AuditEntry): Promise<Admin>;
  findAdminByUsername(username: string): Promise<Admin | null>;
  findAdminById(id: number): Promise<Admin | null>;
  listAdmins(): Promise<Admin[]>;
  countAdmins(): Promise<number>;
  /**
   * Stores an admin's new hash, bumps its password version, ends its web sessions, revokes its API
   * tokens and appends `audit`, in one transaction.
   */
  setAdminPasswordAndEndSessions(adminId: number, hash: string, now: number, options: { mustChangePassword: boolean; audit: AuditEntry }): Promise<void>;
  /**
   * Changes an admin (its role and domains, or its state) in one transaction with `audit`, ending its
   * sessions when it is disabled. Refused (false, nothing written) when the change would leave no
   * enabled super admin.
   */
  updateAdmin(adminId: number, change: { isSuper: boolean; domainIds: number[] } | { disabled: boolean }, now: number, audit: AuditEntry): Promise<boolean>;
  /** Deletes an admin with its sessions and tokens; refused (false) for the last enabled super admin. */
  deleteAdmin(adminId: number, audit: AuditEntry): Promise<boolean>;
  rehashAdminPassword(adminId: number, passwordVersion: number, hash: string): Promise<void>;

  insertToken(input: { adminId: number; name: string; prefix: string; tokenHash: string; now: number }): Promise<ApiToken>;
  findTokenByHash(tokenHash: string): Promise<ApiToken | null>;
  listTokens(adminId?: number): Promise<ApiToken[]>;
  revokeToken(id: number, now: number): Promise<void>;
  touchToken(id: number, now: number): Promise<void>;

  getSession(key: string, now: number): Promise<SessionRow | null>;
  setSession(key: string, owner: SessionOwner | null, data: string, expiresAt: number): Promise<void>;
  touchSession(key: string, expiresAt: number): Promise<void>;
  destroySession(key: string): Promise<void>;
  countSessions(owner: SessionOwner): Promise<number>;
  pruneSessions(now: number): Promise<number>;

  appendAudit(entry: AuditEntry): Promise<void>;
  /** An account's login history, newest first. */
  listLoginHistory(accountId: number, limit: number): Promise<LoginHistoryRow[]>;
  /** Deletes login history last seen before `historyBefore` and audit entries before `auditBefore`. */
  pruneHistory(historyBefore: number, auditBefore: number): Promise<{ history: number; audit: number }>;
  listAudit(query: { limit: number; offset: number }): Promise<{ items: AuditRecord[]; total: number }>;

  /** The value of an installation setting, created with `create()` on first use. */
  getOrCreateSetting(key: string, create: () => string): Promise<string>;
  /** A setting's value, or null when there is none (nothing is made). */
  readSetting(key: string): Promise<string | null>;
  /**
   * Issue 29: rewrites stored secrets in one transaction: each setting (`where`: its key), TOTP
   * secret (its owner) and DKIM private key (`<domain id>:<selector>`) is passed to `rewrite`, and
   * replaced when it returns a value. Returns how many were replaced.
   */
  rewriteSecrets(rewrite: (kind: 'setting' | 'totp' | 'dkim', where: string, value: string) => string | null): Promise<number>;

  /** SPEC §11: an owner's second factors (null: none). */
  getSecondFactors(owner: SessionOwner): Promise<{ totp: { secret: string; lastStep: number; createdAt: number } | null; recoveryLeft: number }>;
  /** Turns TOTP on with its first accepted step and a new set of recovery codes, with `audit`, in one transaction. */
  addTotp(owner: SessionOwner, secret: string, step: number, recoveryHashes: readonly string[], now: number, audit: AuditEntry): Promise<void>;
  /** Accepts a TOTP step once: true only when it is newer than every step accepted before. */
  useTotpStep(owner: SessionOwner, step: number): Promise<boolean>;
  /** Uses a recovery code once: true only when it existed unused. */
  useRecoveryCode(owner: SessionOwner, hash: string, now: number): Promise<boolean>;
  insertAppPassword(input: { accountId: number; name: string; tag: string; selector: string; passwordHash: string; now: number }, audit: AuditEntry): Promise<AppPassword>;
  /** Gives an app password made before selectors its selector (known once it logs in). */
  setAppPasswordSelector(id: number, selector: string): Promise<void>;
  listAppPasswords(accountId: number): Promise<AppPassword[]>;
  /** The app password of a mailbox whose tag this is (the first characters of a typed password). */
  findAppPassword(accountId: number, tag: string): Promise<AppPassword | null>;
  /** Deletes an app password of the mailbox, with `audit`; false when there was none. */
  deleteAppPassword(accountId: number, id: number, audit: AuditEntry): Promise<boolean>;
  listPasskeys(owner: SessionOwner): Promise<Passkey[]>;
  /** Whether the owner has any second factor (one indexed read; SMTP asks it on every mailbox login). */
  hasSecondFactor(owner: SessionOwner): Promise<boolean>;
  /** Adds a passkey and a new set of recovery codes, with `audit`, in one transaction. */
  addPasskey(passkey: Passkey, recoveryHashes: readonly string[], audit: AuditEntry): Promise<void>;
  /** Records a use: the new signature counter, only if it moved forward (or both are 0). */
  usePasskey(id: string, counter: number, now: number): Promise<boolean>;
  /** Removes every second factor and recovery code of the owner and ends its sessions, with `audit`. */
  removeSecondFactors(owner: SessionOwner, audit: AuditEntry): Promise<void>;

  /**
   * SPEC §13: creates `domains` and inserts the mailboxes whose login is not taken, with `audit`,
   * in one transaction; a mailbox whose login exists is left as it is.
   */
  importMailboxes(input: { domains: readonly string[]; mailboxes: readonly ImportedMailbox[]; now: number }, audit: AuditEntry): Promise<{ created: number; existing: number }>;
  /** Mailboxes of a domain that still hold an imported hash, per scheme (the text of its {SCHEME}). */
  countImportedSchemes(domainId: number): Promise<Array<{ scheme: string; count: number }>>;

  /** SPEC §14: adds DKIM keys to a domain, with `audit`, in one transaction (ConflictError: a selector is taken). */
  insertDkimKeys(keys: readonly DkimKey[], audit: AuditEntry): Promise<void>;
  /** A domain's DKIM keys, oldest first. */
  listDkimKeys(domainId: number): Promise<DkimKey[]>;
  /** Removes one DKIM key of a domain, with `audit`; false when there was none. */
  deleteDkimKey(domainId: number, selector: string, audit: AuditEntry): Promise<boolean>;
  /** SPEC §14: the last DNS check of a domain (one a domain; a new one replaces it). */
  saveDnsCheck(domainId: number, check: StoredDnsCheck): Promise<void>;
  getDnsCheck(domainId: number): Promise<StoredDnsCheck | null>;

  /** Keeps a notice for the owner's next panel visit (its newest 20 are kept). */
  addNotice(owner: SessionOwner, notice: Notice): Promise<void>;
  /** The owner's notices, oldest first; they are gone once taken. */
  takeNotices(owner: SessionOwner): Promise<Notice[]>;

  /** A consistent copy of the database, taken while it is in use. */
  backup(file: string): Promise<void>;
  /** Answers while the database can be read. */
  ping(): Promise<void>;
  close(): void;
}

export interface Hasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
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

/** A WebAuthn credential of a panel login (SPEC §11). */
export interface Passkey {
  /** The credential ID, base64url. */
  id: string;
  owner: SessionOwner;
  publicKey: Uint8Array;
  counter: number;
  transports: string[];
  createdAt: number;
  lastUsedAt: number | null;
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
