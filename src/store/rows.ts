import type { Account, AccountKind, Admin, ApiToken, AppPassword, DeliveryState, DkimKey, Domain, DueEvent, LeasedWebhook, LoginHistoryRow, Passkey, RecoveryLink, RecoveryPurpose, SessionOwner, Webhook, WebhookDelivery } from '../core/ports.js';

import { isLanguage } from '../core/languages.js';

// Rows as both stores read them (the same columns on SQLite and PostgreSQL), and what they become.

export interface AccountRow {
  id: number;
  kind: AccountKind;
  domain_id: number;
  domain_name: string;
  domain_verified: number;
  login: string;
  local_part: string;
  name: string;
  guid: string | null;
  password_hash: string;
  password_version: number;
  disabled: number;
  created_at: number;
  updated_at: number;
  last_login_at: number | null;
  last_login_ip: string | null;
  language: string | null;
}

export interface AdminRow {
  id: number;
  username: string;
  password_hash: string;
  password_version: number;
  is_super: number;
  disabled: number;
  must_change_password: number;
  domain_ids: string | null;
  created_at: number;
  language: string | null;
}

export interface TokenRow {
  id: number;
  admin_id: number;
  admin_username: string;
  name: string;
  prefix: string;
  created_at: number;
  last_used_at: number | null;
  last_used_ip: string | null;
  revoked_at: number | null;
  read_only: number | boolean;
  domains: string | null;
  expires_at: number | string | null;
  allow_ips: string | null;
}

export interface AppRow {
  id: number;
  account_id: number;
  name: string;
  tag: string;
  selector: string | null;
  password_hash: string;
  created_at: number;
  last_login_at: number | null;
  last_login_ip: string | null;
}

export const toApp = (r: AppRow): AppPassword => ({
  id: r.id,
  accountId: r.account_id,
  name: r.name,
  tag: r.tag,
  selector: r.selector ?? null,
  passwordHash: r.password_hash,
  createdAt: r.created_at,
  lastLoginAt: r.last_login_at,
  lastLoginIp: r.last_login_ip,
});

export const toDomain = (r: { id: number; name: string; verified: number; created_at: number }): Domain => ({
  id: r.id,
  name: r.name,
  verified: r.verified === 1,
  createdAt: r.created_at,
});

export const toAccount = (r: AccountRow): Account => ({
  id: r.id,
  kind: r.kind,
  domainId: r.domain_id,
  domainName: r.domain_name,
  domainVerified: r.domain_verified === 1,
  login: r.login,
  localPart: r.local_part,
  name: r.name,
  guid: r.guid,
  passwordHash: r.password_hash,
  passwordVersion: r.password_version,
  disabled: r.disabled === 1,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  lastLoginAt: r.last_login_at,
  lastLoginIp: r.last_login_ip,
  language: isLanguage(r.language) ? r.language : null,
});

export const toAdmin = (r: AdminRow): Admin => ({
  id: r.id,
  username: r.username,
  passwordHash: r.password_hash,
  passwordVersion: r.password_version,
  isSuper: r.is_super === 1,
  domainIds: r.domain_ids ? r.domain_ids.split(',').map(Number) : [],
  disabled: r.disabled === 1,
  mustChangePassword: r.must_change_password === 1,
  createdAt: r.created_at,
  language: isLanguage(r.language) ? r.language : null,
});

export const toToken = (r: TokenRow): ApiToken => ({
  id: r.id,
  adminId: r.admin_id,
  adminUsername: r.admin_username,
  name: r.name,
  prefix: r.prefix,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  lastUsedIp: r.last_used_ip,
  revokedAt: r.revoked_at,
  readOnly: Boolean(r.read_only),
  domains: r.domains === null ? null : (JSON.parse(r.domains) as string[]),
  expiresAt: r.expires_at === null ? null : Number(r.expires_at),
  allowIps: r.allow_ips === null ? [] : (JSON.parse(r.allow_ips) as string[]),
});

/** A scope's columns, as both stores write them (lists as JSON). */
export const tokenScopeColumns = (s: { readOnly: boolean; domains: string[] | null; expiresAt: number | null; allowIps: string[] }) => ({
  domains: s.domains === null ? null : JSON.stringify(s.domains),
  expiresAt: s.expiresAt,
  allowIps: s.allowIps.length === 0 ? null : JSON.stringify(s.allowIps),
});

/** SPEC §10: failure rows kept at most per account (a flood of guesses from many addresses). */
export const MAX_FAILURE_ROWS = 10_000;
/** Notices kept for an owner's next visit; older ones go (the audit log keeps every event). */
export const MAX_NOTICES = 20;

/** The highest code point: a search for logins starting with `p` is the index range [p, p + MAX). */
export const MAX_CHAR = '\u{10FFFF}';

export const owner = (kind: 'mailbox' | 'admin', id: number): SessionOwner => `${kind}:${id}`;

/** A prefix search of logins is the index range [lo, lo + the highest code point). */
export const loginRange = (search: string | undefined) => {
  const lo = (search ?? '').toLowerCase();
  return { lo, hi: lo + MAX_CHAR };
};

/** An account with its domain's name and state, as both stores read it. */
export const ACCOUNT_SELECT = `SELECT a.id, a.kind, a.domain_id, d.name AS domain_name, d.verified AS domain_verified,
  a.login, a.local_part, a.name, a.guid, a.password_hash, a.password_version, a.disabled,
  a.created_at, a.updated_at, a.last_login_at, a.last_login_ip, a.language
  FROM accounts a JOIN domains d ON d.id = a.domain_id`;

/** An API token with its admin's name. */
export const TOKEN_SELECT = `SELECT t.id, t.admin_id, a.username AS admin_username, t.name, t.prefix, t.created_at,
  t.last_used_at, t.last_used_ip, t.revoked_at, t.read_only, t.domains, t.expires_at, t.allow_ips
  FROM api_tokens t JOIN admins a ON a.id = t.admin_id`;

export interface DkimRow {
  domain_id: number;
  selector: string;
  algorithm: 'ed25519' | 'rsa';
  private_key: string;
  public_key: string;
  created_at: number;
}

export const toDkim = (r: DkimRow): DkimKey => ({ domainId: r.domain_id, selector: r.selector, algorithm: r.algorithm, privateKey: r.private_key, publicKey: r.public_key, createdAt: r.created_at });

export interface HistoryRow {
  account_id: number;
  day: number;
  protocol: string;
  mechanism: string;
  result: LoginHistoryRow['result'];
  ip: string;
  client: string;
  first_at: number;
  last_at: number;
  count: number;
}

export const toHistory = (r: HistoryRow): LoginHistoryRow => ({
  accountId: r.account_id,
  day: r.day,
  protocol: r.protocol,
  mechanism: r.mechanism,
  result: r.result,
  ip: r.ip,
  client: r.client,
  firstAt: r.first_at,
  lastAt: r.last_at,
  count: r.count,
});

export interface PasskeyRow {
  id: string;
  owner: SessionOwner;
  public_key: Buffer;
  counter: number;
  transports: string;
  created_at: number;
  last_used_at: number | null;
}

export const toPasskey = (r: PasskeyRow): Passkey => ({
  id: r.id,
  owner: r.owner,
  publicKey: new Uint8Array(r.public_key),
  counter: r.counter,
  transports: r.transports ? r.transports.split(',') : [],
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
});

export interface RecoveryLinkRow {
  token_hash: string;
  account_id: number;
  purpose: RecoveryPurpose;
  address: string;
  password_version: number;
  created_at: number;
  expires_at: number;
}

export const toRecoveryLink = (r: RecoveryLinkRow): RecoveryLink => ({
  tokenHash: r.token_hash,
  accountId: r.account_id,
  purpose: r.purpose,
  address: r.address,
  passwordVersion: r.password_version,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

/** SPEC §19: a webhook's row, with its domain's name. */
export interface WebhookRow {
  id: string;
  url: string;
  events: string;
  domain_id: number | null;
  domain_name: string | null;
  created_by: string;
  created_at: number;
  paused_at: number | null;
  failing_since: number | null;
}

export const WEBHOOK_SELECT = `SELECT w.id, w.url, w.events, w.domain_id, d.name AS domain_name, w.created_by, w.created_at, w.paused_at, w.failing_since
  FROM webhooks w LEFT JOIN domains d ON d.id = w.domain_id`;

/** Subscribed types are stored between commas (`,a,b,`), so that one `instr` finds a type whole. */
export const eventsColumn = (events: readonly string[]) => `,${events.join(',')},`;

export const toWebhook = (r: WebhookRow): Webhook => ({
  id: r.id,
  url: r.url,
  events: r.events.split(',').filter(Boolean),
  domainId: r.domain_id,
  domainName: r.domain_name,
  createdBy: r.created_by,
  createdAt: r.created_at,
  pausedAt: r.paused_at,
  failingSince: r.failing_since,
});

export interface DeliveryRow {
  id: number;
  message_id: string;
  type: string;
  created_at: number;
  state: DeliveryState;
  attempts: number;
  next_at: number;
  last_status: number | null;
  last_error: string | null;
  done_at: number | null;
}

export const DELIVERY_COLUMNS = 'id, message_id, type, created_at, state, attempts, next_at, last_status, last_error, done_at';

export const toDelivery = (r: DeliveryRow): WebhookDelivery => ({
  id: r.id,
  messageId: r.message_id,
  type: r.type,
  createdAt: r.created_at,
  state: r.state,
  attempts: r.attempts,
  nextAt: r.next_at,
  lastStatus: r.last_status,
  lastError: r.last_error,
  doneAt: r.done_at,
});

export interface LeasedRow {
  id: string;
  url: string;
  domain_id: number | null;
  secret: string;
  failing_since: number | null;
}

export const toLeased = (r: LeasedRow): LeasedWebhook => ({ id: r.id, url: r.url, domainId: r.domain_id, secret: r.secret, failingSince: r.failing_since });

export const toDueEvent = (r: { id: number; message_id: string; payload: string; created_at: number; attempts: number; next_at: number }): DueEvent => ({
  id: r.id,
  messageId: r.message_id,
  payload: r.payload,
  createdAt: r.created_at,
  attempts: r.attempts,
  nextAt: r.next_at,
});
