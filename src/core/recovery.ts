import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { accountMayBeIn } from './account-state.js';
import { writePassword, type AccountWriteDeps } from './account-writes.js';
import type { Actor } from './actors.js';
import { parseAddress } from './addresses.js';
import type { Alerts } from './alerts.js';
import type { Audit } from './audit.js';
import { NotFoundError, RateLimitedError, ValidationError, type FieldErrors } from './errors.js';
import { addressKey, displayAddress, normalizeLoginName } from './login-names.js';
import type { Logins } from './logins.js';
import type { PasswordRules } from './password-rules.js';
import type { Language, Translator } from './languages.js';
import type { PolicyContext } from './passwords.js';
import type { Account, LimitCounters, Logger, Mailer, RecoveryLink, RecoveryPurpose, RecoveryState, Stores } from './ports.js';
import type { SecondFactorCheck } from './second-factor-check.js';

// SPEC §16: an owner who forgot its password gets it back without an admin, through a recovery
// address it confirmed beforehand. What a stranger can learn here is nothing: the forgotten-password
// form answers the same, at once, for every address, and does its work after answering.

/** How long a recovery address's confirmation link works (SPEC §16). */
export const CONFIRM_LINK_HOURS = 24;
/** Forgotten-password requests per typed address and per client address in an hour; beyond, 429. */
export const FORGOT_PER_ADDRESS = 3;
export const FORGOT_PER_CLIENT = 20;
const FORGOT_WINDOW_SECONDS = 3600;
/** A second factor's code at a reset link: as many wrong ones as a login name gets, per window. */
const CODE_WINDOW_SECONDS = 900;
/** After the right code, the password form is good for this long. */
const PROOF_SECONDS = 15 * 60;
/** Requests whose work is still under way at most; beyond, new ones are answered and dropped (a flood). */
const MAX_QUEUED = 100;

const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const digest = (token: string) => createHash('sha256').update(token).digest('hex');
/** A link's token, checked for shape before anything is read: anything else is no link. */
const tokenHash = (token: unknown) => (typeof token === 'string' && TOKEN.test(token) ? digest(token) : null);

const invalidLink = () => new NotFoundError('link-not-found', 'This link does not work: it was used already, it expired, or the password was changed since it was sent. Ask for a new one.');

/** The mailbox a reset link may change, and whether its second factor must be asked first. */
export interface OpenReset {
  login: string;
  secondFactor: boolean;
}

export interface Recovery {
  /** Whether links can be mailed at all (a relay is set): without, nothing here is offered. */
  readonly available: boolean;
  /** The owner's recovery address, confirmed and waiting. */
  state(actor: Extract<Actor, { kind: 'mailbox' }>): Promise<RecoveryState>;
  /**
   * `Save recovery address`: with the current password, a new address gets a confirmation link
   * (valid 24 hours; the address is used only once confirmed); an empty one removes it.
   */
  saveAddress(
    actor: Extract<Actor, { kind: 'mailbox' }>,
    input: { address: unknown; current: unknown },
    base: string,
    ip: string | null,
    userAgent?: string,
    /** The page's language: the confirmation mail's, unless the owner saved one. */
    lang?: Language,
  ): Promise<'sent' | 'removed'>;
  /** The address a confirmation link confirms (NotFoundError: no such link). */
  openConfirm(token: unknown): Promise<{ login: string; address: string }>;
  /** The link is used: its address becomes the recovery address; the owner is told. */
  confirm(token: unknown, ip: string | null): Promise<{ login: string; address: string }>;
  /**
   * `Send reset link`: counts the request (RateLimitedError past the limits) and returns; the link
   * is made and mailed afterwards, only to a confirmed recovery address of a mailbox that may log in.
   */
  forgot(email: unknown, base: string, ip: string | null, lang?: Language): Promise<void>;
  /** What a reset link opens (NotFoundError: no such link). */
  openReset(token: unknown): Promise<OpenReset>;
  /** The second factor at a reset link: returns the proof the password form carries (ValidationError: wrong code). */
  proveReset(token: unknown, code: unknown, ip: string | null): Promise<string>;
  /**
   * The new password: the policy of §3, the proof when a second factor is on, then the link is used
   * up, every session ends, app passwords are revoked, and the mailbox and its recovery address are told.
   */
  reset(token: unknown, input: { proof?: unknown; next: unknown; confirm: unknown }, ip: string | null): Promise<{ login: string }>;
  /** Resolves when every forgotten-password request taken so far has done its work. */
  settled(): Promise<void>;
  /** Deletes links that expired. */
  prune(): Promise<number>;
}

export interface RecoveryDeps extends AccountWriteDeps {
  stores: Pick<Stores, 'accounts' | 'recovery' | 'settings'>;
  mailer: Mailer | null;
  audit: Audit;
  alerts: Pick<Alerts, 'raise'>;
  rules: PasswordRules;
  logins: Pick<Logins, 'confirmPassword'>;
  secondFactors: Pick<SecondFactorCheck, 'has' | 'check'>;
  counters: LimitCounters;
  log: Logger;
  resetLinkMinutes: number;
  /** A failed code counts against this many per name and window, as a login does. */
  maxCodeFailures: number;
  policyContext(address: string): PolicyContext;
  /** SPEC §17: the mails' words, in the owner's saved language, else the page's, else this. */
  translator: Translator;
  defaultLanguage: Language;
}

const domainOf = (login: string) => login.slice(login.lastIndexOf('@') + 1);

export function createRecovery(deps: RecoveryDeps): Recovery {
  const { stores, mailer, clock, audit, alerts, rules, logins, secondFactors, counters, log, translator } = deps;
  const queued = new Set<Promise<void>>();

  let proofKey: Promise<Buffer> | null = null;
  const key = () => (proofKey ??= stores.settings.getOrCreateSetting('reset-proof-key', () => randomBytes(32).toString('base64')).then((k) => Buffer.from(k, 'base64')));
  const mac = async (hash: string, expires: number) => createHmac('sha256', await key()).update(`reset-proof\0${hash}\0${expires}`).digest('base64url');

  /** A mail's words: in the owner's saved language, else the page's, else DEFAULT_LANGUAGE (SPEC §17). */
  const wordsFor = (account: Account, pageLang: Language | undefined) => {
    const lang = account.language ?? pageLang ?? deps.defaultLanguage;
    return {
      t: (key: string, values?: Record<string, unknown>) => translator.t(lang, key, values),
      when: (unixSeconds: number) => translator.when(lang, unixSeconds),
    };
  };

  const send = (to: string, login: string, subject: string, text: string) => mailer!.send({ to, from: `postmaster@${domainOf(login)}`, subject, text });

  /** A new link of `purpose` for `account`, stored with its audit entry; returns its URL. */
  const newLink = async (account: Account, purpose: RecoveryPurpose, address: string, minutes: number, base: string, entry: ReturnType<Audit['entry']>) => {
    const token = randomBytes(32).toString('base64url');
    const now = clock.now();
    const link: RecoveryLink = { tokenHash: digest(token), accountId: account.id, purpose, address, passwordVersion: account.passwordVersion, createdAt: now, expiresAt: now + minutes * 60 };
    await stores.recovery.addRecoveryLink(link, entry);
    audit.logged(entry);
    return { url: `${base}/login/${purpose === 'reset' ? 'reset' : 'recovery'}/${token}`, expiresAt: link.expiresAt };
  };

  /** A link of `purpose` and the mailbox it belongs to, while both are what they were when it was sent. */
  const open = async (token: unknown, purpose: RecoveryPurpose) => {
    const hash = tokenHash(token);
    const link = hash ? await stores.recovery.findRecoveryLink(hash, purpose, clock.now()) : null;
    const account = link ? await stores.accounts.findAccountById(link.accountId) : null;
    if (!link || !account || account.kind !== 'mailbox' || !accountMayBeIn(account) || account.passwordVersion !== link.passwordVersion) throw invalidLink();
    return { hash: hash!, link, account };
  };

  /** The work of a forgotten-password request, after its answer: nothing tells the requester how it went. */
  const mailResetLink = async (login: string, base: string, ip: string | null, pageLang: Language | undefined) => {
    const account = await stores.accounts.findAccountByLogin(login);
    if (!account || account.kind !== 'mailbox' || !accountMayBeIn(account)) return;
    const { confirmed } = await stores.recovery.getRecovery(account.id, clock.now());
    if (!confirmed) return;
    const entry = audit.entry(`forgot:${account.login}`, 'password.reset-link', account.login, ip, `sent to ${confirmed.address}`);
    const { url, expiresAt } = await newLink(account, 'reset', confirmed.address, deps.resetLinkMinutes, base, entry);
    const { t, when } = wordsFor(account, pageLang);
    const now = when(clock.now());
    await send(
      confirmed.address,
      account.login,
      t('mail.reset.subject'),
      [
        ip ? t('mail.reset.asked-from', { login: account.login, ip, when: now }) : t('mail.reset.asked', { login: account.login, when: now }),
        t('mail.reset.open-before', { until: when(expiresAt) }),
        '',
        url,
        '',
        t('mail.reset.once'),
      ].join('\n'),
    );
    log.info({ account: account.id }, 'reset link sent');
  };

  const checkProof = async (hash: string, proof: unknown) => {
    const m = typeof proof === 'string' ? /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(proof) : null;
    if (!m || Number(m[1]) <= clock.now()) return false;
    return timingSafeEqual(Buffer.from(m[2]!), Buffer.from(await mac(hash, Number(m[1]))));
  };

  return {
    available: mailer !== null,

    state: (actor) => stores.recovery.getRecovery(actor.id, clock.now()),

    async saveAddress(actor, input, base, ip, userAgent, pageLang) {
      const account = await stores.accounts.findAccountById(actor.id);
      if (!account || account.kind !== 'mailbox') throw new NotFoundError('mailbox-not-found', 'Mailbox not found');
      const errors: FieldErrors = {};
      const typed = typeof input.address === 'string' ? input.address.trim() : '';
      let address: string | null = null;
      if (typed !== '') {
        try {
          address = parseAddress(typed, 'recovery_address').address;
          if (address === account.login) errors.recovery_address = ['Must be another address than this mailbox: a forgotten password would lock both.'];
        } catch (err) {
          if (!(err instanceof ValidationError)) throw err;
          Object.assign(errors, err.fields);
        }
      }
      if (!(await logins.confirmPassword(actor, input.current, ip, userAgent))) errors.recovery_password = ['Is not correct.'];
      if (Object.keys(errors).length > 0) throw new ValidationError(errors);
      if (address === null) {
        const entry = audit.entry(actor, 'recovery.remove', account.login, ip);
        await stores.recovery.removeRecoveryAddress(account.id, entry);
        audit.logged(entry);
        alerts.raise(`mailbox:${account.id}`, 'recovery-address-changed', { ip: displayAddress(ip) });
        return 'removed';
      }
      if (!mailer) throw new ValidationError({ recovery_address: ['This server sends no mail, so it cannot confirm an address.'] });
      const entry = audit.entry(actor, 'recovery.request', account.login, ip, address);
      const { url, expiresAt } = await newLink(account, 'confirm', address, CONFIRM_LINK_HOURS * 60, base, entry);
      const { t, when } = wordsFor(account, pageLang);
      try {
        await send(
          address,
          account.login,
          t('mail.confirm.subject'),
          [
            t('mail.confirm.given', { login: account.login, when: when(clock.now()) }),
            t('mail.confirm.open-before', { until: when(expiresAt) }),
            '',
            url,
            '',
            t('mail.confirm.unknown', { login: account.login }),
          ].join('\n'),
        );
      } catch (err) {
        log.warn({ err: (err as Error).message, account: account.id }, 'recovery address confirmation not sent');
        throw new ValidationError({ recovery_address: ['The confirmation message could not be sent: try again later.'] }, { cause: err });
      }
      return 'sent';
    },

    async openConfirm(token) {
      const { link, account } = await open(token, 'confirm');
      return { login: account.login, address: link.address };
    },

    async confirm(token, ip) {
      const { hash, link, account } = await open(token, 'confirm');
      const entry = audit.entry({ kind: 'mailbox', id: account.id, login: account.login }, 'recovery.confirm', account.login, ip, link.address);
      if (!(await stores.recovery.setConfirmedRecoveryAddress(hash, clock.now(), entry))) throw invalidLink();
      audit.logged(entry);
      alerts.raise(`mailbox:${account.id}`, 'recovery-address-changed', { ip: displayAddress(ip), address: link.address });
      return { login: account.login, address: link.address };
    },

    async forgot(email, base, ip, pageLang) {
      // Counted before anything is looked up, the same for every address: the answer says nothing.
      const login = normalizeLoginName(email, 'account');
      const shown = typeof email === 'string' ? email.trim().toLowerCase().slice(0, 320) : '';
      // A client is its address, or its IPv6 /64, as the login throttle counts it.
      const keys = { address: `forgot:login:${login ?? shown}`, client: `forgot:ip:${addressKey(ip)}` };
      const [perAddress, perClient] = await Promise.all([counters.add(keys.address, FORGOT_WINDOW_SECONDS), counters.add(keys.client, FORGOT_WINDOW_SECONDS)]);
      if (perAddress > FORGOT_PER_ADDRESS || perClient > FORGOT_PER_CLIENT) {
        const left = await counters.get(perClient > FORGOT_PER_CLIENT ? keys.client : keys.address);
        throw new RateLimitedError(Math.max(1, Math.ceil(left.msLeft / 1000)));
      }
      if (!mailer || login === null || queued.size >= MAX_QUEUED) return;
      const job: Promise<void> = mailResetLink(login, base, ip, pageLang)
        .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'reset link not sent'))
        .finally(() => queued.delete(job));
      queued.add(job);
    },

    async openReset(token) {
      const { account } = await open(token, 'reset');
      return { login: account.login, secondFactor: await secondFactors.has(`mailbox:${account.id}`) };
    },

    async proveReset(token, code, ip) {
      const { hash, link, account } = await open(token, 'reset');
      const owner = `mailbox:${account.id}` as const;
      const key = `reset-code:${account.id}`;
      const failures = await counters.get(key);
      if (failures.count >= deps.maxCodeFailures) throw new RateLimitedError(Math.max(1, Math.ceil(failures.msLeft / 1000)));
      if (!(await secondFactors.check(owner, account.login, { code }))) {
        await counters.add(key, CODE_WINDOW_SECONDS);
        await audit.record(`forgot:${account.login}`, 'login.failure', account.login, displayAddress(ip), 'second factor at a reset link');
        throw new ValidationError({ code: ['Is not correct.'] });
      }
      await counters.delete(key);
      const expires = Math.min(clock.now() + PROOF_SECONDS, link.expiresAt);
      return `${expires}.${await mac(hash, expires)}`;
    },

    async reset(token, input, ip) {
      const { hash, account } = await open(token, 'reset');
      if ((await secondFactors.has(`mailbox:${account.id}`)) && !(await checkProof(hash, input.proof))) {
        throw new ValidationError({ code: ['The second factor is asked first: open the link again.'] });
      }
      const errors: FieldErrors = {};
      try {
        await rules.assertAcceptable(input.next, deps.policyContext(account.login), 'new_password', account.passwordHash);
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        Object.assign(errors, err.fields);
      }
      if (input.confirm !== input.next) errors.confirm_password = ['Does not match the new password.'];
      if (Object.keys(errors).length > 0) throw new ValidationError(errors);
      // Used up before the password is written: of two posts of one link, one changes it.
      const link = await stores.recovery.deleteRecoveryLink(hash, 'reset', clock.now());
      if (!link) throw invalidLink();
      const actor = { kind: 'mailbox' as const, id: account.id, login: account.login };
      const entry = audit.entry(actor, 'password.recover', account.login, ip, `reset link sent to ${link.address}`);
      if ((await writePassword(deps, account, input.next as string, link.passwordVersion, entry)) === null) throw invalidLink();
      audit.logged(entry);
      const { confirmed } = await stores.recovery.getRecovery(account.id, clock.now());
      alerts.raise(`mailbox:${account.id}`, 'password-changed', { by: 'link', ip: displayAddress(ip) }, confirmed ? [confirmed.address] : []);
      return { login: account.login };
    },

    async settled() {
      while (queued.size > 0) await Promise.all([...queued]);
    },

    prune: () => stores.recovery.pruneRecoveryLinks(clock.now()),
  };
}
