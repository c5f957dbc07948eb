import { isIP } from 'node:net';
import { LANGUAGES, type Language } from './core/languages.js';
import { isNetwork } from './core/networks.js';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().min(0);
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v === '' ? undefined : v));

/** Every setting of mailpass, by its environment variable, with its default. */
const schema = z.object({
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: port.default(8080),
  SMTP_HOST: optionalText,
  SMTP_PORT: port.default(2587),
  SMTPS_PORT: port.default(2465),
  SMTP_HOSTNAME: z
    .string()
    .regex(/^[A-Za-z0-9.-]{1,253}$/, 'must be a host name')
    .default(os.hostname() || 'localhost'),
  DATA_DIR: z.string().min(1).default('./data'),
  TLS_CERT_FILE: optionalText,
  TLS_KEY_FILE: optionalText,
  INITIAL_ADMIN_PASSWORD: optionalText,
  SECRET_KEY_FILE: optionalText,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ARGON2_MEMORY_KIB: z.coerce.number().int().min(1024).max(4_194_304).default(19456),
  ARGON2_TIME_COST: z.coerce.number().int().min(1).max(100).default(2),
  ARGON2_PARALLELISM: z.coerce.number().int().min(1).max(64).default(1),
  MIN_PASSWORD_SCORE: z.coerce.number().int().min(0).max(4).default(2),
  API_RATE_LIMIT: positiveInt.default(60),
  LOGIN_MAX_ATTEMPTS: positiveInt.default(10),
  LOGIN_MAX_ATTEMPTS_PER_IP: positiveInt.default(20),
  LOGIN_WINDOW_SECONDS: positiveInt.default(900),
  LOGIN_FAILURE_DELAY_MS: nonNegativeInt.max(10_000).default(300),
  SMTP_AUTH_MAX_FAILURES: positiveInt.default(10),
  SMTP_AUTH_WINDOW_SECONDS: positiveInt.default(900),
  SMTP_MAX_MESSAGE_BYTES: positiveInt.default(25 * 1024 * 1024),
  SMTP_MAX_CLIENTS: positiveInt.default(200),
  SMTP_MAX_CLIENTS_PER_IP: positiveInt.default(20),
  SMTP_SOCKET_TIMEOUT_SECONDS: positiveInt.default(300),
  SMTP_REVERSE_DNS: bool.default(false),
  SEND_LIMIT_PER_HOUR: nonNegativeInt.max(100_000_000).default(1000),
  SEND_LIMIT_PER_DAY: nonNegativeInt.max(100_000_000).default(10_000),
  SEND_MAX_RECIPIENTS: nonNegativeInt.max(100_000_000).default(100),
  AUTH_CACHE_SIZE: nonNegativeInt.default(10_000),
  AUTH_CACHE_TTL_SECONDS: nonNegativeInt.default(3600),
  SESSION_IDLE_MINUTES: positiveInt.default(30),
  SESSION_MAX_HOURS: positiveInt.default(12),
  TRUST_PROXY: optionalText,
  RELAY_URL: optionalText,
  RELAY_MAX_CONNECTIONS: positiveInt.max(1000).default(10),
  RELAY_TIMEOUT_SECONDS: positiveInt.max(3600).default(60),
  RELAY_TLS_CA_FILE: optionalText,
  SMTP_TRACE_CLIENT_IP: bool.default(true),
  WEBHOOK_ALLOW_PRIVATE: bool.default(false),
  LOGIN_HISTORY_DAYS: positiveInt.max(3650).default(30),
  REQUIRE_ADMIN_SECOND_FACTOR: bool.default(false),
  PUBLIC_SMTP_HOST: z
    .string()
    .regex(/^[A-Za-z0-9.-]{1,253}$/, 'must be a host name')
    .optional(),
  // SPEC §14: unset, the ports mailpass listens on, so that a plain start never names a port where nothing listens.
  PUBLIC_SMTP_PORT: port.optional(),
  PUBLIC_SMTPS_PORT: port.optional(),
  IMAP_HOST: z
    .string()
    .regex(/^[A-Za-z0-9.-]{1,253}$/, 'must be a host name')
    .optional(),
  IMAP_PORT: port.default(993),
  // The panel's address as its users reach it (issue 29): passkeys are bound to it, never to a Host header.
  PUBLIC_URL: z
    .string()
    .regex(/^https?:\/\/[A-Za-z0-9.-]{1,253}(:\d{1,5})?\/?$/, 'must be the panel\'s origin, like https://mail.example.com')
    .optional(),
  AUDIT_RETENTION_DAYS: positiveInt.max(36500).default(365),
  METRICS_TOKEN: optionalText,
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\/\S+$/, 'must be a postgres:// URL (unset: the SQLite file in DATA_DIR)')
    .optional(),
  DATABASE_POOL_SIZE: positiveInt.max(1000).default(10),
  WORKERS: positiveInt.max(64).default(1),
  ALLOW_LEGACY_SCHEMES: bool.default(true),
  DOVEADM_URL: z
    .string()
    .regex(/^https?:\/\/\S+$/, 'must be the http:// or https:// URL of Dovecot\'s doveadm HTTP listener')
    .optional(),
  DOVEADM_API_KEY: optionalText,
  DNS_SERVERS: optionalText,
  // SPEC §16: how long a forgotten-password link works, and who may call the webmail password API.
  RESET_LINK_MINUTES: positiveInt.max(1440).default(30),
  // SPEC §17: the panel's language when neither the owner, its cookie nor its browser chose one.
  DEFAULT_LANGUAGE: z.enum(LANGUAGES).default('en'),
  WEBMAIL_CLIENTS: optionalText,
  // SPEC §18: OpenID Connect single sign-on (all three turn it on).
  OIDC_ISSUER: z
    .string()
    .regex(/^https?:\/\/\S+$/, 'must be the issuer URL, like https://id.example.com/realms/mail')
    .optional(),
  OIDC_CLIENT_ID: optionalText,
  OIDC_CLIENT_SECRET: optionalText,
  OIDC_NAME: z.string().trim().min(1).max(40).default('SSO'),
  OIDC_ADMIN_CLAIM: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,100}$/, 'must be a claim name')
    .default('preferred_username'),
  OIDC_SUPER_ADMIN_GROUP: optionalText,
  OIDC_DOMAIN_ADMIN_GROUP_PREFIX: optionalText,
  OIDC_USERS: bool.default(false),
  OIDC_TRUST_MFA: bool.default(false),
  OIDC_CLOCK_TOLERANCE_SECONDS: nonNegativeInt.max(600).default(30),
});

/** The names of every setting, as the environment spells them. */
export const SETTING_NAMES: readonly string[] = Object.freeze(Object.keys(schema.shape));

export type Env = Record<string, string | undefined>;

export interface Config {
  readonly host: string;
  readonly port: number;
  readonly smtpHost: string;
  readonly smtpPort: number;
  readonly smtpsPort: number;
  /** The name in the SMTP greeting, the self-signed certificate and the panel's connection help. */
  readonly smtpHostname: string;
  readonly dataDir: string;
  readonly dbFile: string;
  /** The key that seals the database's secrets (issue 29): SECRET_KEY_FILE, else DATA_DIR/secret.key. */
  readonly secretKeyFile: string;
  /** SPEC §12: PostgreSQL instead of the SQLite file (null: SQLite). */
  readonly database: { readonly url: string; readonly poolSize: number } | null;
  /** SPEC §12: processes of this host on the same listeners (node:cluster); 1: this process alone. */
  readonly workers: number;
  /** SPEC §13: whether `mailpass import` takes weak schemes (MD5-CRYPT). */
  readonly allowLegacySchemes: boolean;
  /** SPEC §13: Dovecot's doveadm HTTP API, to end IMAP sessions on a change (null: not set). */
  readonly doveadm: { readonly url: string; readonly apiKey: string } | null;
  readonly tlsCertFile: string | undefined;
  readonly tlsKeyFile: string | undefined;
  readonly initialAdminPassword: string | undefined;
  readonly logLevel: string;
  readonly argon2: { readonly memoryKib: number; readonly timeCost: number; readonly parallelism: number };
  readonly minPasswordScore: number;
  readonly apiRateLimit: number;
  /** `failureDelayMs`: a failed password login answers no sooner than this after it began (issue 29). */
  readonly login: { readonly maxAttempts: number; readonly maxAttemptsPerIp: number; readonly windowSeconds: number; readonly failureDelayMs: number };
  readonly smtp: {
    readonly maxFailures: number;
    readonly windowSeconds: number;
    readonly maxMessageBytes: number;
    readonly maxClients: number;
    readonly maxClientsPerIp: number;
    readonly socketTimeoutSeconds: number;
    readonly reverseDns: boolean;
  };
  /** SPEC §15: the installation's sending limits, in recipients (0: no limit). */
  readonly sendLimits: { readonly perHour: number; readonly perDay: number; readonly maxRecipients: number };
  readonly authCache: { readonly size: number; readonly ttlSeconds: number };
  readonly session: { readonly idleMinutes: number; readonly maxHours: number };
  /** Express's `trust proxy` value: a hop count, `true`, or a list of addresses. */
  readonly trustProxy: boolean | number | string;
  readonly metricsToken: string | undefined;
  /** SPEC §9: where accepted mail goes; null: it is spooled in data/spool/. */
  readonly relay: RelayConfig | null;
  /** SMTP_TRACE_CLIENT_IP: the client's address in the Received: header of relayed mail. */
  readonly traceClientIp: boolean;
  /** WEBHOOK_ALLOW_PRIVATE (SPEC §19): webhooks may target loopback, private and link-local addresses, and http://. */
  readonly webhookAllowPrivate: boolean;
  /**
   * SPEC §14: what mail clients are told (autoconfiguration, the credential and account pages, the
   * DNS page): the public SMTP host and ports (0: not told), and IMAP when IMAP_HOST is set. Behind a
   * port mapping or a proxy they differ from what mailpass listens on.
   */
  /** PUBLIC_URL without a trailing slash (null: unset, and passkeys only work on localhost). */
  readonly publicUrl: string | null;
  readonly clients: {
    readonly smtpHost: string;
    readonly submissionPort: number;
    readonly submissionsPort: number;
    readonly imap: { readonly host: string; readonly port: number } | null;
  };
  /** SPEC §14: the resolvers `Check DNS` asks (`ip` or `ip:port`, `[ipv6]:port`); empty: the system's. */
  readonly dnsServers: readonly string[];
  /** SPEC §11: an admin without a second factor must add one before any other page. */
  readonly requireAdminSecondFactor: boolean;
  /** SPEC §17: the language of pages and alerts when nobody chose one. */
  readonly defaultLanguage: Language;
  /** SPEC §16: minutes a forgotten-password link works. */
  readonly resetLinkMinutes: number;
  /** SPEC §16: the addresses and networks (`10.0.0.5`, `10.0.0.0/24`, `::1`) that may call the webmail password API; empty: nobody. */
  readonly webmailClients: readonly string[];
  /** SPEC §18: OpenID Connect single sign-on; null: off. */
  readonly oidc: OidcConfig | null;
  /** SPEC §10: days of login history, and of the audit log, kept. */
  readonly retention: { readonly loginHistoryDays: number; readonly auditDays: number };
}

export interface OidcConfig {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The button's `Log in with <name>`. */
  readonly name: string;
  /** The ID token's claim that names an admin. */
  readonly adminClaim: string;
  /** With either set, the `groups` claim creates and updates admins. */
  readonly superAdminGroup: string | null;
  readonly domainAdminGroupPrefix: string | null;
  /** Mailbox owners log in with SSO too, by a verified `email` claim. */
  readonly users: boolean;
  /** An `amr` that shows a second factor stands in for the local one. */
  readonly trustMfa: boolean;
  readonly clockToleranceSeconds: number;
}

export interface RelayConfig {
  /** RELAY_URL without its password, for logs and the panel. */
  readonly shown: string;
  readonly host: string;
  readonly port: number;
  /** smtps:// */
  readonly implicitTls: boolean;
  /** STARTTLS when offered, required (`?tls=required`), or never (`?tls=none`). */
  readonly starttls: 'may' | 'required' | 'none';
  readonly auth: { readonly user: string; readonly pass: string } | null;
  readonly caFile: string | undefined;
  readonly maxConnections: number;
  readonly timeoutSeconds: number;
}

/** RELAY_URL: `smtp://[user:pass@]host[:port][?tls=required|none]` or `smtps://[user:pass@]host[:port]`. */
function parseRelayUrl(value: string): Omit<RelayConfig, 'caFile' | 'maxConnections' | 'timeoutSeconds'> {
  const bad = (why: string) => new ConfigError(`RELAY_URL: ${why} (e.g. smtp://127.0.0.1:25 or smtps://user:pass@smarthost.example:465)`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw bad('is not a URL');
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw bad(`must start with smtp:// or smtps://, not ${url.protocol}//`);
  if (!url.hostname) throw bad('names no host');
  if (url.pathname !== '' && url.pathname !== '/') throw bad('takes no path');
  const implicitTls = url.protocol === 'smtps:';
  const tls = url.searchParams.get('tls');
  for (const key of url.searchParams.keys()) if (key !== 'tls') throw bad(`has an unknown option ${key}`);
  if (tls !== null && !['required', 'none'].includes(tls)) throw bad('tls= must be required or none');
  if (implicitTls && tls !== null) throw bad('smtps:// is TLS from the start; tls= is for smtp://');
  const user = decodeURIComponent(url.username);
  const pass = decodeURIComponent(url.password);
  if ((user === '') !== (pass === '')) throw bad('needs both a user and a password, or neither');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port ? Number(url.port) : implicitTls ? 465 : 25;
  const shown = `${url.protocol}//${user ? `${encodeURIComponent(user)}:***@` : ''}${url.host}${url.search}`;
  return { shown, host, port, implicitTls, starttls: implicitTls ? 'none' : ((tls as 'required' | 'none' | null) ?? 'may'), auth: user ? { user, pass } : null };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** DNS_SERVERS: addresses, with a port when it is not 53 (`127.0.0.1:5353`, `[::1]:5353`). */
function parseDnsServers(value: string | undefined): readonly string[] {
  if (value === undefined) return Object.freeze([]);
  const servers = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const s of servers) {
    const m = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(s) ?? /^([\d.]+)(?::(\d{1,5}))?$/.exec(s);
    const address = m ? m[1]! : s;
    const port = m?.[2] === undefined ? 53 : Number(m[2]);
    const family = isIP(address);
    if (family === 0 || (m?.[0].startsWith('[') && family !== 6) || port < 1 || port > 65535) {
      throw new ConfigError(`DNS_SERVERS: must be IP addresses, each with an optional port (e.g. 127.0.0.1:5353 or [::1]:5353), separated by commas (got ${JSON.stringify(s)})`);
    }
  }
  return Object.freeze(servers);
}

/** SPEC §18: OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET together turn single sign-on on; one alone is a mistake. */
function parseOidc(e: z.infer<typeof schema>): OidcConfig | null {
  const given = [e.OIDC_ISSUER, e.OIDC_CLIENT_ID, e.OIDC_CLIENT_SECRET].filter((v) => v !== undefined).length;
  if (given === 0) return null;
  if (given < 3) throw new ConfigError('OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET: set all three to turn on single sign-on, or none');
  const issuer = new URL(e.OIDC_ISSUER!);
  // The issuer's keys and tokens come over TLS; plain HTTP only on this machine (a provider beside it, a test).
  if (issuer.protocol !== 'https:' && !['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname)) {
    throw new ConfigError('OIDC_ISSUER: must be an https:// URL (http:// only on 127.0.0.1, localhost or [::1])');
  }
  return Object.freeze({
    issuer: e.OIDC_ISSUER!,
    clientId: e.OIDC_CLIENT_ID!,
    clientSecret: e.OIDC_CLIENT_SECRET!,
    name: e.OIDC_NAME,
    adminClaim: e.OIDC_ADMIN_CLAIM,
    superAdminGroup: e.OIDC_SUPER_ADMIN_GROUP ?? null,
    domainAdminGroupPrefix: e.OIDC_DOMAIN_ADMIN_GROUP_PREFIX ?? null,
    users: e.OIDC_USERS,
    trustMfa: e.OIDC_TRUST_MFA,
    clockToleranceSeconds: e.OIDC_CLOCK_TOLERANCE_SECONDS,
  });
}

/** WEBMAIL_CLIENTS: addresses and CIDR networks, separated by commas. */
function parseNetworks(name: string, value: string | undefined): readonly string[] {
  if (value === undefined) return Object.freeze([]);
  const entries = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const entry of entries) {
    if (!isNetwork(entry)) {
      throw new ConfigError(`${name}: must be IP addresses or networks (e.g. 127.0.0.1, 10.0.0.0/24, ::1), separated by commas (got ${JSON.stringify(entry)})`);
    }
  }
  return Object.freeze(entries);
}

function parseTrustProxy(value: string | undefined): boolean | number | string {
  if (value === undefined || value === 'false' || value === '0') return false;
  // `true` trusts every hop, so any client could choose its address (and its rate limits) with X-Forwarded-For.
  if (value === 'true') throw new ConfigError('TRUST_PROXY: true would trust any client\'s X-Forwarded-For; give the number of proxies in front (e.g. 1) or their addresses (e.g. loopback or 10.0.0.1)');
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}

/** Reads and validates the settings; throws a ConfigError naming the first bad variable. */
const SECRET_SETTINGS = new Set(['DATABASE_URL', 'RELAY_URL', 'INITIAL_ADMIN_PASSWORD', 'METRICS_TOKEN', 'DOVEADM_API_KEY']);

export function loadConfig(env: Env, cwd = process.cwd()): Config {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined) input[key] = value;
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'environment');
    // Settings that may hold a password are never echoed back.
    const shown = SECRET_SETTINGS.has(name) ? '' : ` (got ${JSON.stringify(env[name] ?? '')})`;
    throw new ConfigError(`${name}: ${issue.message}${shown}`);
  }
  const e = parsed.data;
  if (e.DOVEADM_URL !== undefined && e.DOVEADM_API_KEY === undefined) throw new ConfigError('DOVEADM_API_KEY: must be set with DOVEADM_URL (Dovecot\'s doveadm_api_key)');
  if ((e.TLS_CERT_FILE === undefined) !== (e.TLS_KEY_FILE === undefined)) {
    const missing = e.TLS_CERT_FILE === undefined ? 'TLS_CERT_FILE' : 'TLS_KEY_FILE';
    throw new ConfigError(`${missing}: must be set together with ${missing === 'TLS_CERT_FILE' ? 'TLS_KEY_FILE' : 'TLS_CERT_FILE'}`);
  }
  const dataDir = path.resolve(cwd, e.DATA_DIR);
  return Object.freeze({
    host: e.HOST,
    port: e.PORT,
    smtpHost: e.SMTP_HOST ?? e.HOST,
    smtpPort: e.SMTP_PORT,
    smtpsPort: e.SMTPS_PORT,
    smtpHostname: e.SMTP_HOSTNAME,
    dataDir,
    dbFile: path.join(dataDir, 'mailpass.db'),
    secretKeyFile: e.SECRET_KEY_FILE ? path.resolve(cwd, e.SECRET_KEY_FILE) : path.join(dataDir, 'secret.key'),
    database: e.DATABASE_URL ? Object.freeze({ url: e.DATABASE_URL, poolSize: e.DATABASE_POOL_SIZE }) : null,
    workers: e.WORKERS,
    allowLegacySchemes: e.ALLOW_LEGACY_SCHEMES,
    doveadm: e.DOVEADM_URL ? Object.freeze({ url: e.DOVEADM_URL, apiKey: e.DOVEADM_API_KEY! }) : null,
    tlsCertFile: e.TLS_CERT_FILE && path.resolve(cwd, e.TLS_CERT_FILE),
    tlsKeyFile: e.TLS_KEY_FILE && path.resolve(cwd, e.TLS_KEY_FILE),
    initialAdminPassword: e.INITIAL_ADMIN_PASSWORD,
    logLevel: e.LOG_LEVEL,
    argon2: Object.freeze({ memoryKib: e.ARGON2_MEMORY_KIB, timeCost: e.ARGON2_TIME_COST, parallelism: e.ARGON2_PARALLELISM }),
    minPasswordScore: e.MIN_PASSWORD_SCORE,
    apiRateLimit: e.API_RATE_LIMIT,
    login: Object.freeze({
      maxAttempts: e.LOGIN_MAX_ATTEMPTS,
      maxAttemptsPerIp: e.LOGIN_MAX_ATTEMPTS_PER_IP,
      windowSeconds: e.LOGIN_WINDOW_SECONDS,
      failureDelayMs: e.LOGIN_FAILURE_DELAY_MS,
    }),
    smtp: Object.freeze({
      maxFailures: e.SMTP_AUTH_MAX_FAILURES,
      windowSeconds: e.SMTP_AUTH_WINDOW_SECONDS,
      maxMessageBytes: e.SMTP_MAX_MESSAGE_BYTES,
      maxClients: e.SMTP_MAX_CLIENTS,
      maxClientsPerIp: e.SMTP_MAX_CLIENTS_PER_IP,
      socketTimeoutSeconds: e.SMTP_SOCKET_TIMEOUT_SECONDS,
      reverseDns: e.SMTP_REVERSE_DNS,
    }),
    sendLimits: Object.freeze({ perHour: e.SEND_LIMIT_PER_HOUR, perDay: e.SEND_LIMIT_PER_DAY, maxRecipients: e.SEND_MAX_RECIPIENTS }),
    authCache: Object.freeze({ size: e.AUTH_CACHE_SIZE, ttlSeconds: e.AUTH_CACHE_TTL_SECONDS }),
    session: Object.freeze({ idleMinutes: e.SESSION_IDLE_MINUTES, maxHours: e.SESSION_MAX_HOURS }),
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    metricsToken: e.METRICS_TOKEN,
    relay: e.RELAY_URL
      ? Object.freeze({
          ...parseRelayUrl(e.RELAY_URL),
          caFile: e.RELAY_TLS_CA_FILE && path.resolve(cwd, e.RELAY_TLS_CA_FILE),
          maxConnections: e.RELAY_MAX_CONNECTIONS,
          timeoutSeconds: e.RELAY_TIMEOUT_SECONDS,
        })
      : null,
    traceClientIp: e.SMTP_TRACE_CLIENT_IP,
    webhookAllowPrivate: e.WEBHOOK_ALLOW_PRIVATE,
    requireAdminSecondFactor: e.REQUIRE_ADMIN_SECOND_FACTOR,
    dnsServers: parseDnsServers(e.DNS_SERVERS),
    publicUrl: e.PUBLIC_URL ? e.PUBLIC_URL.replace(/\/$/, '') : null,
    clients: Object.freeze({
      smtpHost: e.PUBLIC_SMTP_HOST ?? e.SMTP_HOSTNAME,
      submissionPort: e.PUBLIC_SMTP_PORT ?? e.SMTP_PORT,
      submissionsPort: e.PUBLIC_SMTPS_PORT ?? e.SMTPS_PORT,
      imap: e.IMAP_HOST ? Object.freeze({ host: e.IMAP_HOST, port: e.IMAP_PORT }) : null,
    }),
    defaultLanguage: e.DEFAULT_LANGUAGE,
    resetLinkMinutes: e.RESET_LINK_MINUTES,
    webmailClients: parseNetworks('WEBMAIL_CLIENTS', e.WEBMAIL_CLIENTS),
    oidc: parseOidc(e),
    retention: Object.freeze({ loginHistoryDays: e.LOGIN_HISTORY_DAYS, auditDays: e.AUDIT_RETENTION_DAYS }),
  });
}
