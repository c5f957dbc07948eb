import { randomBytes } from 'node:crypto';
import type { Config } from './config.js';
import { createDkimService } from './core/dkim.js';
import { createDnsRecordsService } from './core/dns-records.js';
import { createAdminService } from './core/admins.js';
import { createAlerts } from './core/alerts.js';
import { createAppPasswordService } from './core/app-passwords.js';
import { createAudit } from './core/audit.js';
import { createAutoconfigService } from './core/autoconfig.js';
import { createCredentialService } from './core/credentials.js';
import { createDomainService } from './core/domains.js';
import { createAccountEvents } from './core/events.js';
import { createLoginThrottle } from './core/login-throttle.js';
import { createLoginHistoryService } from './core/login-history.js';
import { createLogins, type LoginEvent } from './core/logins.js';
import { createAppSelectors } from './core/app-selectors.js';
import { createImports } from './core/imports.js';
import { createMailboxService } from './core/mailboxes.js';
import { createPasswordRules } from './core/password-rules.js';
import { createSecondFactorService, type SecondFactorService } from './core/second-factors.js';
import { createSendLimits } from './core/send-limits.js';
import { createSessionService } from './core/sessions.js';
import { createSubmission } from './core/submission.js';
import { createTokenService } from './core/tokens.js';
import { systemClock, type AccountEvents, type Clock, type Hasher, type LimitCounters, type DkimSigner, type DnsResolver, type Domain, type ImapSessions, type LoginBatcher, type Logger, type Mailer, type MessageSpool, type Relay, type SessionOwner, type Store, type StrengthEstimator } from './core/ports.js';
import type { SendLimitStore, SendWindow } from './core/ports/send-limits.js';

/** What the use cases run on: persistence and the adapters that are not rules. Only composition roots hold them. */
export interface Adapters {
  store: Store;
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
  /** SPEC §15: sending limits and counts. */
  sendLimits: SendLimitStore;
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
export function createServices({ config, adapters, log, clock = systemClock, events = createAccountEvents(), onLogin, onAuthVerify, onSendLimitReached }: ServiceDeps) {
  const { store, hasher, estimator, batcher, counters, mailer, imap, dkimSigner, dns, relay, spool } = adapters;
  const alerts = createAlerts({ store, clock, log: log.child({ component: 'alerts' }), mailer });
  const audit = createAudit({ store, clock, log: log.child({ component: 'audit' }) });
  const rules = createPasswordRules({ hasher, minScore: config.minPasswordScore, estimator });
  const domains = createDomainService({ store, clock, audit });
  let throttleKey: Promise<Buffer> | null = null;
  const throttle = createLoginThrottle({
    counters,
    secret: () => (throttleKey ??= store.getOrCreateSetting('throttle-key', () => randomBytes(32).toString('base64')).then((k) => Buffer.from(k, 'base64'))),
    limits: {
      smtp: { perLogin: config.smtp.maxFailures, perAddress: config.smtp.maxFailures, windowSeconds: config.smtp.windowSeconds },
      web: { perLogin: config.login.maxAttempts, perAddress: config.login.maxAttemptsPerIp, windowSeconds: config.login.windowSeconds },
      api: { perLogin: config.login.maxAttempts, perAddress: config.login.maxAttemptsPerIp, windowSeconds: config.login.windowSeconds },
    },
    onError: (err) => log.warn({ err, component: 'login-throttle' }, 'login count not written'),
  });
  const selectors = createAppSelectors(store);
  const logins = createLogins({
    store,
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
    // Bound below: the second-factor service needs the mailboxes, which need the logins.
    secondFactors: { has: (owner) => secondFactors.has(owner), check: (owner, label, proof) => secondFactors.check(owner, label, proof) },
  });
  const writeDeps = { store, hasher, clock, events, imap };
  const mailboxes = createMailboxService({ ...writeDeps, audit, alerts, domains, rules, logins });
  const credentials = createCredentialService({ ...writeDeps, audit, rules });
  const secondFactors: SecondFactorService = createSecondFactorService({ store, clock, audit, mailboxes, alerts, counters });
  const days = (n: number) => clock.now() - n * 86_400;
  const sendLimits = createSendLimits({
    store: adapters.sendLimits,
    clock,
    audit,
    alerts,
    log: log.child({ component: 'send-limits' }),
    defaults: config.sendLimits,
    adminsOf: async (domainName) => {
      const domain = await store.findDomainByName(domainName);
      const admins = domain ? (await store.listAdmins()).filter((a) => !a.disabled && (a.isSuper || a.domainIds.includes(domain.id))) : [];
      return admins.map((a): SessionOwner => `admin:${a.id}`);
    },
    onReached: onSendLimitReached,
  });
  const dkim = createDkimService({ store, clock, audit, signer: dkimSigner });
  const autoconfig = createAutoconfigService({
    domains,
    servers: {
      smtp: { host: config.clients.smtpHost, submissionPort: config.clients.submissionPort, submissionsPort: config.clients.submissionsPort },
      imap: config.clients.imap,
    },
  });
  return {
    config,
    clock,
    events,
    rules,
    domains,
    logins,
    /** SPEC §4.2's audit log (read by super admins); every use case writes its own entries. */
    audit: { list: audit.list },
    sessions: createSessionService({ store, clock, maxHours: config.session.maxHours, requireAdminSecondFactor: config.requireAdminSecondFactor }),
    /** SPEC §11: TOTP and recovery codes for the panel login. */
    secondFactors,
    /** SPEC §11: a mailbox's app passwords for SMTP and IMAP. */
    appPasswords: createAppPasswordService({ store, hasher, clock, audit, rules, mailboxes, events, imap, alerts, selectors }),
    /** SPEC §14: what mail clients of a verified domain are told. */
    autoconfig,
    /** SPEC §14: the DNS records a domain needs, and Check DNS. */
    dnsRecords: createDnsRecordsService({ store, clock, resolver: dns, servers: autoconfig.servers }),
    /** Issue 17: what owners are told of changes to their accounts and logins from new networks. */
    alerts,
    mailboxes,
    /** SPEC §14: DKIM keys of domains, and signatures of relayed mail. */
    dkim,
    /** SPEC §15: sending limits of domains, mailboxes and credentials, and what each login sent. */
    sendLimits,
    /** SPEC §6, §9, §14, §15: a logged-in client's mail, from MAIL FROM to the relay or the spool. */
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
    }),
    /** SPEC §13: mailboxes with their old hashes, from another server. */
    imports: createImports({ store, clock, audit, allowWeak: config.allowLegacySchemes }),
    /** SPEC §13: a domain's mailboxes that still hold an imported hash, per scheme (the domain resolved and checked by the caller). */
    importedSchemes: (domain: Domain) => store.countImportedSchemes(domain.id),
    credentials,
    /** SPEC §10: accounts' login histories, for their owners and admins. */
    loginHistory: createLoginHistoryService({ store, mailboxes, credentials }),
    admins: createAdminService({ store, hasher, clock, audit, rules, logins, alerts }),
    tokens: createTokenService({ store, clock, audit }),
    database: {
      /** Answers while the database can be read (/healthz). */
      ping: () => store.ping(),
      /** A consistent copy of the database, taken while it is in use. */
      backup: (file: string) => store.backup(file),
      /** Ends what LOGIN_HISTORY_DAYS and AUDIT_RETENTION_DAYS no longer keep; the server calls it once a minute. */
      prune: async () => {
        await sendLimits.prune();
        return store.pruneHistory(days(config.retention.loginHistoryDays), days(config.retention.auditDays));
      },
    },
  };
}

export type Services = ReturnType<typeof createServices>;
