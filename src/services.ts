import { randomBytes } from 'node:crypto';
import type { Config } from './config.js';
import { adminMayBeIn } from './core/account-state.js';
import { createDkimService, type DkimService } from './core/dkim.js';
import { createDnsRecordsService, type DnsRecordsService } from './core/dns-records.js';
import { createAdminService, type AdminService } from './core/admins.js';
import { createSso, type OidcPort, type Sso } from './core/sso.js';
import { createAlerts, type Alerts } from './core/alerts.js';
import { createAppPasswordService, type AppPasswordService } from './core/app-passwords.js';
import { createAudit, type Audit } from './core/audit.js';
import { createAutoconfigService, type AutoconfigService } from './core/autoconfig.js';
import { createCredentialService, type CredentialService } from './core/credentials.js';
import { createDomainService, type DomainService } from './core/domains.js';
import { createAccountEvents } from './core/events.js';
import { createLoginThrottle } from './core/login-throttle.js';
import { createLoginHistoryService, type LoginHistoryService } from './core/login-history.js';
import { createLogins, type LoginEvent, type Logins } from './core/logins.js';
import { createAppSelectors } from './core/app-selectors.js';
import { createImports, type Imports } from './core/imports.js';
import { createMailboxService, type MailboxService } from './core/mailboxes.js';
import { createPasswordRules, type PasswordRules } from './core/password-rules.js';
import { createRecovery, type Recovery } from './core/recovery.js';
import { createSecondFactorCheck } from './core/second-factor-check.js';
import { createSecondFactorService, type SecondFactorService } from './core/second-factors.js';
import { createSendLimits, type SendLimits } from './core/send-limits.js';
import { createSessionService, type SessionService } from './core/sessions.js';
import { createSubmission, type Submission } from './core/submission.js';
import { createTokenService, type TokenService } from './core/tokens.js';
import { createWebmailPasswords, type WebmailPasswords } from './core/webmail.js';
import { createWebhookDelivery, createWebhookService, DELIVERIES_KEPT_DAYS, type WebhookDispatch, type WebhookSender, type WebhookService } from './core/webhooks.js';
import { systemClock, type AccountEvents, type Clock, type Hasher, type LimitCounters, type DkimSigner, type DnsResolver, type Domain, type ImapSessions, type LoginBatcher, type Logger, type Mailer, type MessageSpool, type Relay, type SessionOwner, type Stores, type StrengthEstimator } from './core/ports.js';
import type { SendWindow } from './core/ports/send-limits.js';
import type { Actor } from './core/actors.js';
import type { Language, Translator } from './core/languages.js';

/** How many owners' worth of failures one webmail's address may make in a window before it is held. */
const WEBMAIL_OWNERS_PER_ADDRESS = 50;

/** What the use cases run on: persistence and the adapters that are not rules. Only composition roots hold them. */
export interface Adapters {
  /** Persistence, one port per aggregate (core/ports/). */
  stores: Stores;
  hasher: Hasher;
  estimator: StrengthEstimator;
  batcher: LoginBatcher;
  counters: LimitCounters;
  /** Sends alerts through the relay (null: no RELAY_URL; alerts become notices). */
  mailer: Mailer | null;
  dkimSigner: DkimSigner;
  /** Check DNS (SPEC §14): DNS_SERVERS or the system's resolvers. */
  dns: DnsResolver;
  /** DOVEADM_URL: ends IMAP sessions in Dovecot on a change (null: not set). */
  imap: (ImapSessions & { settled(): Promise<void> }) | null;
  /** SPEC §9: the relay accepted mail goes to (null: no RELAY_URL; mail is spooled). */
  relay: Relay | null;
  /** SPEC §6: data/spool/, where accepted mail goes without a relay. */
  spool: MessageSpool;
  /** SPEC §17: the catalogues of the eight languages. */
  translator: Translator;
  /** SPEC §18: the OpenID Connect issuer (null: single sign-on is off). */
  oidc: OidcPort | null;
  /** SPEC §19: sends webhook deliveries (refusing private targets unless WEBHOOK_ALLOW_PRIVATE). */
  webhookSender: WebhookSender;
}

export interface ServiceDeps {
  config: Config;
  adapters: Adapters;
  log: Logger;
  clock?: Clock;
  events?: AccountEvents;
  /** One call per login attempt of any protocol (metrics count them). */
  onLogin?: (event: LoginEvent) => void;
  onAuthVerify?: (result: 'hit' | 'miss') => void;
  /** SPEC §15: a login reached a sending limit for the first time in its window. */
  onSendLimitReached?: (window: SendWindow) => void;
}

/**
 * The use cases over one set of adapters: the web panel, the API, the SMTP server and the CLI
 * share them. Edges get these and nothing else: no store, hasher or batcher (STYLE: the one door).
 */
export interface Services {
  config: Config;
  clock: Clock;
  events: AccountEvents;
  rules: PasswordRules;
  domains: DomainService;
  /** SPEC §4.1, §6, §8: every login of every protocol. */
  logins: Logins;
  /** SPEC §4.2's audit log (read by super admins); every use case writes its own entries. */
  audit: Pick<Audit, 'list'>;
  sessions: SessionService;
  /** SPEC §11: TOTP, passkeys and recovery codes for the panel login. */
  secondFactors: SecondFactorService;
  /** SPEC §11: a mailbox's app passwords for SMTP and IMAP. */
  appPasswords: AppPasswordService;
  /** SPEC §14: what mail clients of a verified domain are told. */
  autoconfig: AutoconfigService;
  /** SPEC §14: the DNS records a domain needs, and Check DNS. */
  dnsRecords: DnsRecordsService;
  /** Issue 17: what owners are told of changes to their accounts and logins from new networks. */
  alerts: Alerts;
  mailboxes: MailboxService;
  /** SPEC §16: recovery addresses and forgotten passwords. */
  recovery: Recovery;
  /** SPEC §16: a webmail's password page, through mailpass. */
  webmail: WebmailPasswords;
  /** SPEC §18: single sign-on through OpenID Connect; null when OIDC_ISSUER is not set. */
  sso: Sso | null;
  /** SPEC §17: the catalogues, and the language an owner chose. */
  i18n: Translator & { save(actor: Extract<Actor, { kind: 'mailbox' | 'admin' }>, language: Language | null): Promise<void> };
  /** SPEC §14: DKIM keys of domains, and signatures of relayed mail. */
  dkim: DkimService;
  /** SPEC §15: sending limits of domains, mailboxes and credentials, and what each login sent. */
  sendLimits: SendLimits;
  /** SPEC §6, §9, §14, §15: a logged-in client's mail, from MAIL FROM to the relay or the spool. */
  submission: Submission;
  /** SPEC §13: mailboxes with their old hashes, from another server. */
  imports: Imports;
  /** SPEC §13: a domain's mailboxes that still hold an imported hash, per scheme (the domain resolved and checked by the caller). */
  importedSchemes(domain: Domain): Promise<Array<{ scheme: string; count: number }>>;
  credentials: CredentialService;
  /** SPEC §10: accounts' login histories, for their owners and admins. */
  loginHistory: LoginHistoryService;
  admins: AdminService;
  tokens: TokenService;
  /** SPEC §19: webhooks, for the panel and the CLI. */
  webhooks: WebhookService;
  /** SPEC §19: delivers the outbox; the server starts it, the CLI does not. */
  webhookDeliveries: WebhookDispatch;
  database: {
    /** Answers while the database can be read (/healthz). */
    ping(): Promise<void>;
    /** A consistent copy of the database, taken while it is in use. */
    backup(file: string): Promise<void>;
    /** Ends what LOGIN_HISTORY_DAYS and AUDIT_RETENTION_DAYS no longer keep; the server calls it once a minute. */
    prune(): Promise<{ history: number; audit: number }>;
  };
}

/** Builds the use cases over `adapters`, each given only the ports it uses. */
export function createServices({ config, adapters, log, clock = systemClock, events = createAccountEvents(), onLogin, onAuthVerify, onSendLimitReached }: ServiceDeps): Services {
  const { stores, hasher, estimator, batcher, counters, mailer, imap, dkimSigner, dns, relay, spool, translator } = adapters;
  const alerts = createAlerts({ stores, clock, log: log.child({ component: 'alerts' }), mailer, translator, defaultLanguage: config.defaultLanguage });
  const audit = createAudit({ stores, clock, log: log.child({ component: 'audit' }) });
  const rules = createPasswordRules({ hasher, minScore: config.minPasswordScore, estimator });
  const domains = createDomainService({ stores, clock, audit });
  let throttleKey: Promise<Buffer> | null = null;
  const throttle = createLoginThrottle({
    counters,
    secret: () => (throttleKey ??= stores.settings.getOrCreateSetting('throttle-key', () => randomBytes(32).toString('base64')).then((k) => Buffer.from(k, 'base64'))),
    limits: {
      smtp: { perLogin: config.smtp.maxFailures, perAddress: config.smtp.maxFailures, windowSeconds: config.smtp.windowSeconds },
      web: { perLogin: config.login.maxAttempts, perAddress: config.login.maxAttemptsPerIp, windowSeconds: config.login.windowSeconds },
      api: { perLogin: config.login.maxAttempts, perAddress: config.login.maxAttemptsPerIp, windowSeconds: config.login.windowSeconds },
      // Every owner's change comes from the webmail's one address (WEBMAIL_CLIENTS): the name is
      // what is limited; the address only as a whole webmail's worth of owners.
      webmail: { perLogin: config.login.maxAttempts, perAddress: config.login.maxAttemptsPerIp * WEBMAIL_OWNERS_PER_ADDRESS, windowSeconds: config.login.windowSeconds },
    },
    onError: (err) => log.warn({ err, component: 'login-throttle' }, 'login count not written'),
  });
  const selectors = createAppSelectors(stores.settings);
  // The check of a second step: logins and sessions need it; the enrolment below needs the mailboxes.
  const factorCheck = createSecondFactorCheck({ stores, clock, alerts, counters });
  const logins = createLogins({
    stores,
    selectors,
    hasher,
    clock,
    batcher,
    audit,
    throttle,
    authCache: config.authCache,
    negativeTtlSeconds: Math.max(config.smtp.windowSeconds, config.login.windowSeconds),
    failureDelayMs: config.login.failureDelayMs,
    onEvent: onLogin,
    onVerify: onAuthVerify,
    alerts,
    secondFactors: factorCheck,
  });
  const writeDeps = { stores, hasher, clock, events, imap };
  const mailboxes = createMailboxService({ ...writeDeps, audit, alerts, domains, rules, logins });
  const credentials = createCredentialService({ ...writeDeps, audit, rules });
  const recovery = createRecovery({
    ...writeDeps,
    translator,
    defaultLanguage: config.defaultLanguage,
    stores,
    mailer,
    audit,
    alerts,
    rules,
    logins,
    secondFactors: factorCheck,
    counters,
    log: log.child({ component: 'recovery' }),
    resetLinkMinutes: config.resetLinkMinutes,
    maxCodeFailures: config.login.maxAttempts,
    policyContext: mailboxes.policyContext,
  });
  const secondFactors = createSecondFactorService({ stores, clock, audit, mailboxes, alerts, check: factorCheck });
  const days = (n: number) => clock.now() - n * 86_400;
  /** The admins to tell of something of a domain (its admins and the super admins), or of every domain (null: the super admins). */
  const adminsOf = async (domainId: number | null) =>
    (await stores.admins.listAdmins())
      .filter((a) => adminMayBeIn(a) && (a.isSuper || (domainId !== null && a.domainIds.includes(domainId))))
      .map((a): SessionOwner => `admin:${a.id}`);
  const sendLimits = createSendLimits({
    store: stores.sendLimits,
    clock,
    audit,
    alerts,
    log: log.child({ component: 'send-limits' }),
    defaults: config.sendLimits,
    adminsOf: async (domainName) => {
      const domain = await stores.domains.findDomainByName(domainName);
      return domain ? adminsOf(domain.id) : [];
    },
    onReached: onSendLimitReached,
  });
  const dkim = createDkimService({ stores, clock, audit, signer: dkimSigner });
  const autoconfig = createAutoconfigService({
    domains,
    servers: {
      smtp: { host: config.clients.smtpHost, submissionPort: config.clients.submissionPort, submissionsPort: config.clients.submissionsPort },
      imap: config.clients.imap,
    },
  });
  const admins = createAdminService({ stores, hasher, clock, audit, rules, logins, alerts });
  return {
    config,
    clock,
    events,
    rules,
    domains,
    logins,
    audit: { list: audit.list },
    sessions: createSessionService({ stores, secondFactors: factorCheck, clock, maxHours: config.session.maxHours, requireAdminSecondFactor: config.requireAdminSecondFactor }),
    secondFactors,
    appPasswords: createAppPasswordService({ stores, hasher, clock, audit, rules, mailboxes, events, imap, alerts, selectors }),
    autoconfig,
    dnsRecords: createDnsRecordsService({ stores, clock, resolver: dns, servers: autoconfig.servers }),
    alerts,
    mailboxes,
    recovery,
    i18n: {
      ...translator,
      save: (actor, language) => (actor.kind === 'admin' ? stores.admins.setAdminLanguage(actor.id, language) : stores.accounts.setAccountLanguage(actor.id, language)),
    },
    webmail: createWebmailPasswords({ ...writeDeps, logins, rules, audit, alerts, policyContext: mailboxes.policyContext }),
    dkim,
    sendLimits,
    submission: createSubmission({
      relay,
      spool,
      limits: sendLimits,
      signerFor: (domain) => dkim.signerFor(domain),
      clock,
      log: log.child({ component: 'smtp' }),
      maxMessageBytes: config.smtp.maxMessageBytes,
      hostname: config.smtpHostname,
      traceClientIp: config.traceClientIp,
      // Written like SMTP's login entries, through the batcher: a relay down costs one write a second.
      relayFailed: (sender, ip, reason) => {
        const entry = audit.entry('smtp', 'relay.failed', sender.login, ip, reason);
        audit.logged(entry);
        batcher.recordAudit(entry);
      },
    }),
    imports: createImports({ stores, clock, audit, allowWeak: config.allowLegacySchemes }),
    importedSchemes: (domain: Domain) => stores.accounts.countImportedSchemes(domain.id),
    credentials,
    loginHistory: createLoginHistoryService({ stores, mailboxes, credentials }),
    admins,
    sso:
      adapters.oidc && config.oidc
        ? createSso({ oidc: adapters.oidc, settings: config.oidc, stores, admins, logins, secondFactors: factorCheck })
        : null,
    tokens: createTokenService({ stores, clock, audit }),
    webhooks: createWebhookService({ stores, clock, audit, allowPrivate: config.webhookAllowPrivate }),
    webhookDeliveries: createWebhookDelivery({
      stores,
      clock,
      audit,
      sender: adapters.webhookSender,
      log: log.child({ component: 'webhooks' }),
      adminsOf,
      tell: (admin, url) => alerts.raise(admin, 'webhook-paused', { url }),
    }),
    database: {
      ping: () => stores.database.ping(),
      backup: (file: string) => stores.database.backup(file),
      prune: async () => {
        await sendLimits.prune();
        await recovery.prune();
        await stores.webhooks.pruneDeliveries(days(DELIVERIES_KEPT_DAYS));
        return { history: await stores.loginHistory.pruneLoginHistory(days(config.retention.loginHistoryDays)), audit: await stores.audit.pruneAudit(days(config.retention.auditDays)) };
      },
    },
  };
}

