import { canSeeDomain, type Actor } from './actors.js';
import type { Alerts } from './alerts.js';
import type { Audit } from './audit.js';
import { NotFoundError, ValidationError } from './errors.js';
import type { Account, Clock, Domain, Logger, SessionOwner } from './ports.js';
import type { SendLimitStore, SendLimitValues, SendWindow, SentCounts, LimitReached } from './ports/send-limits.js';

/** SPEC §15's three numbers as they apply: 0 is "no limit". */
export interface EffectiveLimits {
  perHour: number;
  perDay: number;
  maxRecipients: number;
}

/** The largest number a limit may be set to (a day of a very busy relay). */
export const MAX_LIMIT = 100_000_000;

/** SPEC §15's field names, in the API's JSON and the panel's form. */
export const LIMIT_FIELDS = { perHour: 'per_hour', perDay: 'per_day', maxRecipients: 'max_recipients' } as const;

/** What a login is shown with: its own limits, the ones that apply, and what it sent. */
export interface LimitsView {
  limits: SendLimitValues;
  effective: EffectiveLimits;
  /** What applies where a value is not set (the level above's). */
  inherited: EffectiveLimits;
  sent: SentCounts;
}

/** The level below overrides the level above where it sets a value (null: inherited). */
export const effectiveOf = (defaults: EffectiveLimits, ...levels: SendLimitValues[]): EffectiveLimits => {
  const pick = (k: keyof EffectiveLimits) => levels.reduce<number>((v, level) => level[k] ?? v, defaults[k]);
  return { perHour: pick('perHour'), perDay: pick('perDay'), maxRecipients: pick('maxRecipients') };
};

/**
 * One limit from the panel's form (a string; empty: inherited) or the API's JSON (a number or
 * null). `clearWord` ("default" for the CLI) also clears it.
 */
export function parseLimits(
  input: Record<string, unknown>,
  { names = LIMIT_FIELDS, clearWord, json = false }: { names?: Record<keyof SendLimitValues, string>; clearWord?: string; json?: boolean } = {},
): SendLimitValues {
  const errors: Record<string, string[]> = {};
  // JSON is exact: numbers or null, and no other key (a misspelt one would otherwise clear a limit).
  if (json) {
    const known = new Set(Object.values(names));
    for (const key of Object.keys(input)) if (!known.has(key)) errors[key] = [`Is not a limit (${[...known].join(', ')})`];
  }
  const one = (key: keyof SendLimitValues): number | null => {
    const v = input[names[key]];
    if (v === undefined || v === null || (!json && v === '') || (clearWord !== undefined && v === clearWord)) return null;
    const n = typeof v === 'number' ? v : !json && typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < 0 || n > MAX_LIMIT) {
      errors[names[key]] = [json ? `Must be a whole number from 0 to ${MAX_LIMIT} (0: no limit), or null for the level above's` : `Must be a whole number from 0 to ${MAX_LIMIT} (0: no limit), or empty for the level above's`];
      return null;
    }
    return n;
  };
  const values = { perHour: one('perHour'), perDay: one('perDay'), maxRecipients: one('maxRecipients') };
  if (Object.keys(errors).length > 0) throw new ValidationError(errors);
  return values;
}

/** A sender as the submission use case knows it. */
export interface LimitedLogin {
  accountId: number;
  login: string;
  kind: 'mailbox' | 'credential';
  domainName: string;
}

export interface SendLimitsDeps {
  store: SendLimitStore;
  clock: Clock;
  audit: Audit;
  alerts: Alerts;
  log: Logger;
  defaults: EffectiveLimits;
  /** The admins to tell of a domain's login at its limit (the domain's admins and the super admins). */
  adminsOf: (domainName: string) => Promise<SessionOwner[]>;
  /** SPEC §15: `mailpass_send_limit_reached_total`. */
  onReached?: (window: SendWindow) => void;
}

export const minuteOf = (seconds: number) => Math.floor(seconds / 60);

export function createSendLimits({ store, clock, audit, alerts, log, defaults, adminsOf, onReached }: SendLimitsDeps) {
  const visible = (actor: Actor, domainId: number) => {
    if (!canSeeDomain(actor, domainId)) throw new NotFoundError('domain-not-found', 'Domain not found');
  };
  const sentOf = async (accountId: number) => (await store.sent([accountId], minuteOf(clock.now()))).get(accountId) ?? { lastHour: 0, lastDay: 0 };

  return {
    defaults,
    /** The limits that apply to a login now (read at each message, so a changed limit holds at the next). */
    async effective(accountId: number): Promise<EffectiveLimits> {
      const levels = await store.accountLimits(accountId);
      return levels ? effectiveOf(defaults, levels.domain, levels.account) : defaults;
    },
    /** Counts `count` recipients if the login's hour and day stay within `limits`; else the window that refused. */
    reserve: (accountId: number, count: number, limits: EffectiveLimits) => {
      const minute = minuteOf(clock.now());
      return store.reserve(accountId, minute, count, limits).then((refused) => ({ refused, minute }));
    },
    release: (accountId: number, minute: number, count: number) => store.release(accountId, minute, count),

    /**
     * SPEC §15: a login was refused by its `window` limit. The first time in that window (once across
     * every process and node): the audit entry, a notice to the domain's admins, an alert to a
     * mailbox's owner and the metric. Never fails the reply it comes with.
     */
    async reached(login: LimitedLogin, window: SendWindow, limit: number, ip: string | null) {
      try {
        if (!(await store.markReached(login.accountId, window, clock.now()))) return;
        onReached?.(window);
        await audit.record('smtp', 'send-limit.reached', login.login, ip, `${window}: ${limit} recipients`);
        const detail = { ip, window, limit, login: login.login } as const;
        for (const admin of await adminsOf(login.domainName)) alerts.raise(admin, 'send-limit-reached', detail);
        if (login.kind === 'mailbox') alerts.raise(`mailbox:${login.accountId}`, 'send-limit-reached', detail);
      } catch (err) {
        log.warn({ err, login: login.login }, 'sending limit reached, not told');
      }
    },

    /** A domain's own limits; `sent`: what its logins sent together. */
    async ofDomain(actor: Actor, domain: Domain): Promise<LimitsView> {
      visible(actor, domain.id);
      const limits = await store.domainLimits(domain.id);
      return { limits, effective: effectiveOf(defaults, limits), inherited: defaults, sent: await store.sentByDomain(domain.id, minuteOf(clock.now())) };
    },
    async setDomain(actor: Actor, domain: Domain, values: SendLimitValues, ip: string | null = null) {
      visible(actor, domain.id);
      const entry = audit.entry(actor, 'send-limits.set', domain.name, ip, describeLimits(values));
      await store.setDomainLimits(domain.id, values, entry);
      audit.logged(entry);
    },
    /** `account`: a mailbox or credential the actor was allowed to see (MailboxService / CredentialService). */
    async ofAccount(actor: Actor, account: Account): Promise<LimitsView> {
      visible(actor, account.domainId);
      const none = { perHour: null, perDay: null, maxRecipients: null };
      const levels = (await store.accountLimits(account.id)) ?? { account: none, domain: none };
      const inherited = effectiveOf(defaults, levels.domain);
      return { limits: levels.account, effective: effectiveOf(inherited, levels.account), inherited, sent: await sentOf(account.id) };
    },
    async setAccount(actor: Actor, account: Account, values: SendLimitValues, ip: string | null = null) {
      visible(actor, account.domainId);
      const entry = audit.entry(actor, 'send-limits.set', account.login, ip, describeLimits(values));
      await store.setAccountLimits(account.id, values, entry);
      audit.logged(entry);
    },
    /** What each of `accounts` (one page of a domain's list) sent, against the limit that applies to it. */
    async sentByAccount(actor: Actor, domain: Domain, accounts: readonly Account[]): Promise<Map<number, { sent: SentCounts; effective: EffectiveLimits }>> {
      visible(actor, domain.id);
      const [domainLimits, own, sent] = await Promise.all([
        store.domainLimits(domain.id),
        store.accountLimitsOfDomain(domain.id),
        store.sent(accounts.map((a) => a.id), minuteOf(clock.now())),
      ]);
      const none = { perHour: null, perDay: null, maxRecipients: null };
      return new Map(accounts.map((a) => [a.id, { sent: sent.get(a.id) ?? { lastHour: 0, lastDay: 0 }, effective: effectiveOf(defaults, domainLimits, own.get(a.id) ?? none) }]));
    },
    /** The domain's logins that reached a limit in the last 24 hours, newest first. */
    async reachedToday(actor: Actor, domain: Domain): Promise<LimitReached[]> {
      visible(actor, domain.id);
      return store.reachedSince(domain.id, clock.now() - 86_400);
    },
    /** Ends counts older than a day; the server calls it once a minute. */
    prune: () => store.prune(minuteOf(clock.now()), clock.now()),
  };
}

/** `per_hour=100 per_day=default max_recipients=default`: what an audit entry says was set. */
const describeLimits = (v: SendLimitValues) =>
  (Object.keys(LIMIT_FIELDS) as Array<keyof SendLimitValues>).map((k) => `${LIMIT_FIELDS[k]}=${v[k] ?? 'default'}`).join(' ');

export type SendLimits = ReturnType<typeof createSendLimits>;
