import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { accountMayBeIn, adminMayBeIn, stillIn } from './account-state.js';
import type { Actor } from './actors.js';
import type { Alerts } from './alerts.js';
import { APP_TAG_LENGTH, type AppSelectors } from './app-selectors.js';
import type { Audit, AuditAction } from './audit.js';
import { createAuthCache, type AuthCache } from './auth-cache.js';
import { RateLimitedError } from './errors.js';
import { addressKey, displayAddress, networkOf, normalizeLoginName, type LoginRealm } from './login-names.js';
import type { LoginProtocol, LoginThrottle } from './login-throttle.js';
import { MAX_PASSWORD_BYTES } from './passwords.js';
import { browserName } from './browser-name.js';
import type { SecondFactorCheck } from './second-factor-check.js';
import type { SecondFactorProof } from './second-factor-proof.js';
import type { Account, Admin, ApiToken, AppPassword, Clock, Hasher, LoginBatcher, LoginHistoryResult, SessionOwner, Stores } from './ports.js';

export type { LoginProtocol } from './login-throttle.js';
export type LoginEventResult = 'success' | 'failure' | 'locked';

/** One login attempt as metrics count it: every protocol emits exactly one per attempt. */
export interface LoginEvent {
  protocol: LoginProtocol;
  result: LoginEventResult;
}

export type Principal =
  | { kind: 'account'; account: Account }
  | { kind: 'admin'; admin: Admin }
  | { kind: 'token'; token: ApiToken; admin: Admin };

export type LoginResult =
  | {
      ok: true;
      principal: Principal;
      /**
       * Web logins: the password was right and a second factor is on; the login continues at the
       * second step. Webmail: the password was right, but the mailbox has a second factor.
       */
      secondFactor?: true;
      /** Web logins: the browser's new known-browser mark for this name (the edge sets it as a cookie). */
      browserMark?: string;
      /** True when the answer came from the cache of recent logins (no argon2 run). */
      cached: boolean;
      /** SMTP: the app password that logged in, if one did (its sessions end when it is revoked). */
      appPasswordId?: number;
    }
  | { ok: false; reason: 'bad-credentials' | 'locked' | 'busy'; retryAfterSeconds: number };

export type LoginRequest =
  | { protocol: 'smtp'; name: unknown; password: unknown; ip: string | null; mechanism?: string; tls?: string }
  | { protocol: 'web'; realm: LoginRealm; name: unknown; password: unknown; ip: string | null; browserMark?: string | null; userAgent?: string }
  /** SPEC §16: a webmail's password change, whose current password is checked as a mailbox login. */
  | { protocol: 'webmail'; name: unknown; password: unknown; ip: string | null }
  | { protocol: 'api'; token: unknown; ip: string | null };

export interface Logins {
  /**
   * SPEC §6, §4.1, §8: the one door for every login. Normalises the name once, throttles,
   * authenticates, audits and emits one login event. Unknown names, wrong passwords, disabled
   * accounts and unverified domains fail alike, after the same argon2 work.
   */
  attempt(request: LoginRequest): Promise<LoginResult>;
  /**
   * The current-password check of a password change: counted against the name's web limit like a
   * login (RateLimitedError when over it) and audited when wrong.
   */
  verifyCurrentPassword(actor: Extract<Actor, { kind: 'mailbox' | 'admin' }>, hash: string, password: string, ip: string | null, userAgent?: string): Promise<boolean>;
  /**
   * Issue 29: the owner of a session types its password again before it adds a lasting way in.
   * Counted and audited as the current-password check of a password change.
   */
  confirmPassword(actor: Extract<Actor, { kind: 'mailbox' | 'admin' }>, password: unknown, ip: string | null, userAgent?: string): Promise<boolean>;
  /**
   * SPEC §11: the second step of a web login whose password was right: a TOTP or recovery code,
   * counted against the name's web limit like a password, audited, in the login history.
   */
  secondStep(request: { realm: LoginRealm; owner: SessionOwner; pwv: number; proof: SecondFactorProof; ip: string | null; userAgent?: string; browserMark?: string | null }): Promise<LoginResult>;
  /**
   * SPEC §18: a login an identity provider made (OpenID Connect), after mailpass checked who it
   * is: audited, in the login history as protocol `web` with mechanism `oidc`, a new network told.
   */
  external(request: { realm: LoginRealm; principal: Extract<Principal, { kind: 'account' | 'admin' }>; ip: string | null; userAgent?: string }): Promise<void>;
  /** An identity provider's login mailpass refused (no such admin, disabled, unverified email): audited. */
  externalRefused(request: { realm: LoginRealm; name: string; ip: string | null; why: string }): Promise<void>;
  /** The password versions and states of these accounts: live SMTP sessions end when theirs changed. */
  accountStates(ids: readonly number[]): Promise<Map<number, { passwordVersion: number; disabled: boolean }>>;
  /** Makes the dummy hash ahead of the first unknown login, which would otherwise cost one hash more. */
  warmUp(): Promise<void>;
  /** Loads (or makes, on a new database) the keys of the throttle and the known-browser marks. */
  prepare(): Promise<void>;
}

export interface LoginDeps {
  stores: Pick<Stores, 'accounts' | 'admins' | 'appPasswords' | 'settings' | 'tokens'>;
  hasher: Hasher;
  clock: Clock;
  batcher: LoginBatcher;
  audit: Audit;
  throttle: LoginThrottle;
  authCache: { size: number; ttlSeconds: number };
  /** How long a failed verification is remembered (the throttle's window). */
  negativeTtlSeconds: number;
  /**
   * A failed password login answers no sooner than this many milliseconds after it began, without
   * spending CPU meanwhile (as Dovecot's auth_failure_delay): an unknown login, a wrong argon2id
   * password and a wrong imported bcrypt or SHA-crypt one then take the same time (issue 29).
   */
  failureDelayMs?: number;
  onEvent?: (event: LoginEvent) => void;
  onVerify?: (result: 'hit' | 'miss') => void;
  /** Issue 29: an app password made before selectors gets its selector at its first login since. */
  selectors?: Pick<AppSelectors, 'of'>;
  /** Owners are told of a right password whose second step was asked from a browser they never used. */
  alerts?: Pick<Alerts, 'raise'>;
  /** SPEC §11: who has a second factor, and the check of a second-step code. */
  secondFactors: Pick<SecondFactorCheck, 'has' | 'check'>;
}

/** What the audit log and the log say for a login name that is not one (issue 29). */
export const MALFORMED_NAME = '(malformed name)';

/** One address keeps at most this many argon2 verifications in flight; the rest wait their turn. */
export const MAX_VERIFICATIONS_PER_ADDRESS = 2;
const KNOWN_DAYS = 30;
const TOKEN = /^mp_[A-Za-z0-9_-]{43}$/;
/** last_used_at is written at most once a minute per token: API calls do not each cost a write. */
const TOUCH_EVERY_SECONDS = 60;

export const tokenDigest = (token: string) => createHash('sha256').update(token).digest('hex');

export function createLogins(deps: LoginDeps): Logins {
  const { stores, hasher, clock, batcher, audit, throttle, onEvent, onVerify, secondFactors, alerts, selectors } = deps;
  const positive: AuthCache | null = createAuthCache(deps.authCache);
  // Failed verifications by (name, password): a repeated wrong password is answered without argon2.
  const negative = createAuthCache({ size: 10_000, ttlSeconds: deps.negativeTtlSeconds })!;
  const addressQueue = (ip: string | null) => ({ key: addressKey(ip), limit: MAX_VERIFICATIONS_PER_ADDRESS });

  // Verified when the login is unknown, so that an unknown login costs what a wrong password costs.
  let dummy: Promise<string> | null = null;
  const dummyHash = () => (dummy ??= hasher.hash(randomBytes(16).toString('base64')));

  let markKey: Promise<Buffer> | null = null;
  const browserKey = () => (markKey ??= stores.settings.getOrCreateSetting('known-browser-key', () => randomBytes(32).toString('base64')).then((k) => Buffer.from(k, 'base64')));
  const mac = async (name: string, expires: number, nonce: string) => createHmac('sha256', await browserKey()).update(`${name}\0${expires}\0${nonce}`).digest();
  const MARK = /^(\d{1,12})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

  /** The browser's own throttle key when its mark is valid for this name, else null. */
  const knownBrowser = async (name: string, mark: string | null | undefined) => {
    const m = MARK.exec(mark ?? '');
    if (!m) return null;
    const expires = Number(m[1]);
    if (expires <= clock.now()) return null;
    const valid = timingSafeEqual(Buffer.from(m[3]!, 'base64url'), await mac(name, expires, m[2]!));
    return valid ? `${name} ${m[2]}` : null;
  };
  const issueMark = async (name: string) => {
    const expires = clock.now() + KNOWN_DAYS * 86_400;
    const nonce = randomBytes(16).toString('base64url');
    return `${expires}.${nonce}.${(await mac(name, expires, nonce)).toString('base64url')}`;
  };

  const claimant = (protocol: LoginProtocol, realm: LoginRealm, name: string) =>
    protocol === 'smtp' ? `smtp:${name}` : protocol === 'api' ? 'api' : protocol === 'webmail' ? `webmail:${name}` : realm === 'admin' ? `admin:${name}` : `login:${name}`;

  /** Audits and counts one attempt. SMTP's entries go through the batcher: a flood costs one write a second. */
  const record = async (protocol: LoginProtocol, realm: LoginRealm, result: LoginEventResult, name: string, ip: string | null, actor?: Actor, detail: string = protocol, lockTold = true) => {
    onEvent?.({ protocol, result });
    const prefix = realm === 'admin' ? 'admin-login' : 'login';
    const action = `${prefix}.${result === 'locked' ? 'failure-limited' : result}` as AuditAction;
    const entry = audit.entry(actor ?? claimant(protocol, realm, name), action, name, displayAddress(ip), detail);
    if (result === 'locked' && !lockTold) delete entry.event;
    if (protocol === 'smtp') {
      audit.logged(entry);
      batcher.recordAudit(entry);
    } else {
      await audit.write(entry);
    }
  };

  /**
   * Verifies `password` against `hash`, or answers from the caches: a hit of the positive cache
   * (same account, same password version) is a success, a hit of the negative one a failure.
   */
  const verify = async (cacheName: string, id: number, version: number, hash: string | null, password: string, ip: string | null) => {
    const nowMs = clock.now() * 1000;
    const hit = positive?.get(cacheName, password, nowMs);
    if (hash && hit && hit.accountId === id && hit.passwordVersion === version) {
      onVerify?.('hit');
      return { ok: true, cached: true };
    }
    const miss = negative.get(cacheName, password, nowMs);
    if (miss && miss.accountId === id && miss.passwordVersion === version) return { ok: false, cached: true };
    const ok = hash ? await hasher.verify(hash, password, addressQueue(ip)) : await hasher.verify(await dummyHash(), password, addressQueue(ip)).then(() => false);
    if (hash) onVerify?.('miss');
    if (!ok) negative.set(cacheName, password, id, version, nowMs);
    return { ok, cached: false };
  };

  const refusal = (reason: 'locked' | 'busy', retryAfterSeconds: number): LoginResult => ({ ok: false, reason, retryAfterSeconds });
  /** An attempt a lock refused; SPEC §19's `login.locked` is told at the lock's first refusal only (the throttle says which). */
  const recordLocked = (protocol: LoginProtocol, realm: LoginRealm, name: string, ip: string | null, first: boolean) =>
    record(protocol, realm, 'locked', name, ip, undefined, protocol, first);
  const badCredentials: LoginResult = { ok: false, reason: 'bad-credentials', retryAfterSeconds: 0 };

  /** SPEC §10: an attempt on an existing account goes into its history (batched, as SMTP's audit). */
  const remember = (account: Account, protocol: 'web' | 'smtp' | 'webmail', how: { mechanism: string; client: string }, result: LoginHistoryResult, ip: string | null) => {
    batcher.recordAttempt({ accountId: account.id, at: clock.now(), protocol, mechanism: how.mechanism, result, ip: displayAddress(ip), client: how.client });
    // A webmail calls from its own server's address: not a network its owner uses.
    if (result === 'ok' && account.kind === 'mailbox' && protocol !== 'webmail') seen(`mailbox:${account.id}`, protocol, ip);
  };

  /** A login of a panel owner: a network it never used is told to it once written (issue 17). */
  const seen = (owner: SessionOwner, protocol: 'web' | 'smtp', ip: string | null) => {
    const network = networkOf(ip);
    if (network) batcher.recordNetwork({ owner, network, ip: displayAddress(ip)!, protocol, at: clock.now() });
  };

  /** Mailbox and credential logins (SMTP; the user panel and a webmail's password change, for mailboxes). */
  const accountLogin = async (protocol: 'smtp' | 'web' | 'webmail', name: string, password: string, ip: string | null, browser: string | null, asked: { mechanism: string; client: string }): Promise<LoginResult> => {
    let how = asked;
    const admission = await throttle.begin({ protocol, name, address: addressKey(ip), password, knownBrowser: browser });
    if ('refused' in admission) {
      if (admission.refused === 'locked') {
        await recordLocked(protocol, 'account', name, ip, admission.first);
        const locked = await stores.accounts.findAccountByLogin(name);
        if (locked && (protocol === 'smtp' || locked.kind === 'mailbox')) remember(locked, protocol, how, 'locked', ip);
      }
      return refusal(admission.refused, admission.retryAfterSeconds);
    }
    const { attempt } = admission;
    let account: Account | null;
    let result: { ok: boolean; cached: boolean };
    let app: AppPassword | null = null;
    try {
      const found = await stores.accounts.findAccountByLogin(name);
      // The user panel is for mailboxes; an SMTP credential logs in over SMTP only.
      account = found && (protocol === 'smtp' || found.kind === 'mailbox') ? found : null;
      // SPEC §11 over SMTP: a password whose first characters are an app password's tag is that
      // app password; otherwise the mailbox password, unless a second factor is on (then only app
      // passwords log in, and the unknown-login work is done instead). Always one verification.
      let hash = account?.passwordHash ?? null;
      let blocked = false;
      if (account && protocol === 'smtp' && account.kind === 'mailbox') {
        app = password.length > APP_TAG_LENGTH ? await stores.appPasswords.findAppPassword(account.id, password.slice(0, APP_TAG_LENGTH)) : null;
        if (app) hash = app.passwordHash;
        else if (await secondFactors.has(`mailbox:${account.id}`)) [hash, blocked] = [null, true];
      }
      // Each secret is remembered under its own name; a refusal because of the second factor under
      // another, so that the mailbox password works again at once when the factor is removed.
      const cacheName = app ? `app:${app.id}` : blocked ? `blocked:${name}` : `account:${name}`;
      const cacheId = app ? app.id : (account?.id ?? 0);
      result = await verify(cacheName, cacheId, account?.passwordVersion ?? 0, hash, password, ip);
      if (account && result.ok && !result.cached) {
        // The password may have changed while argon2 ran: the old one must not get through.
        const current = (await stores.accounts.readAccountVersions([account.id])).get(account.id);
        if (!current || current.passwordVersion !== account.passwordVersion) result = { ok: false, cached: false };
        else if (current.disabled) account = { ...account, disabled: true };
        else positive?.set(cacheName, password, cacheId, account.passwordVersion, clock.now() * 1000);
      }
      if (app) how = { ...how, mechanism: `app-password:${app.id}` };
    } catch (err) {
      await attempt.finish('aborted');
      throw err;
    }
    const usable = account !== null && accountMayBeIn(account);
    if (!account || !result.ok || !usable) {
      await attempt.finish('failure');
      await record(protocol, 'account', 'failure', name, ip);
      if (account) remember(account, protocol, how, result.ok ? 'disabled' : 'bad-password', ip);
      return badCredentials;
    }
    await attempt.finish('success');
    if (protocol === 'webmail' && (await secondFactors.has(`mailbox:${account.id}`))) {
      // A webmail cannot ask the second factor: the password alone changes nothing here.
      remember(account, 'webmail', how, 'second-factor-required', ip);
      await audit.record({ kind: 'mailbox', id: account.id, login: account.login }, 'login.password-accepted', account.login, displayAddress(ip), 'webmail; second factor required');
      return { ok: true, principal: { kind: 'account', account }, cached: result.cached, secondFactor: true };
    }
    if (protocol === 'web' && (await secondFactors.has(`mailbox:${account.id}`))) {
      // Not a login yet, but the password is known to whoever typed it: the owner sees it in its
      // history whether or not the second step follows, and is told when the browser is new to it.
      await audit.record({ kind: 'mailbox', id: account.id, login: account.login }, 'login.password-accepted', account.login, displayAddress(ip), 'second factor pending');
      remember(account, 'web', how, 'second-factor-pending', ip);
      if (!browser) alerts?.raise(`mailbox:${account.id}`, 'password-accepted', { ip: displayAddress(ip) });
      return { ok: true, principal: { kind: 'account', account }, cached: result.cached, secondFactor: true };
    }
    remember(account, protocol, how, 'ok', ip);
    const now = clock.now();
    if (protocol === 'smtp') batcher.recordLogin({ accountId: account.id, at: now, ip: displayAddress(ip) });
    if (app) batcher.recordAppLogin({ appPasswordId: app.id, at: now, ip: displayAddress(ip) });
    if (app && app.selector === null && selectors) {
      const { id } = app;
      selectors.of(password).then((selector) => stores.appPasswords.setAppPasswordSelector(id, selector)).catch(() => {});
    }
    // The new hash is made after the reply: a login never waits for a second argon2 run.
    if (!app && !result.cached && hasher.needsRehash(account.passwordHash)) {
      const { id: accountId, passwordVersion } = account;
      hasher.hash(password).then((hash) => batcher.recordRehash({ accountId, passwordVersion, hash }), () => {});
    }
    await record(protocol, 'account', 'success', name, ip, protocol !== 'smtp' ? { kind: 'mailbox', id: account.id, login: account.login } : undefined);
    return {
      ok: true,
      principal: { kind: 'account', account },
      cached: result.cached,
      ...(app ? { appPasswordId: app.id } : {}),
      ...(protocol === 'web' ? { browserMark: await issueMark(`account:${name}`) } : {}),
    };
  };

  const adminLogin = async (name: string, password: string, ip: string | null, browser: string | null): Promise<LoginResult> => {
    const admission = await throttle.begin({ protocol: 'web', name: `admin:${name}`, address: addressKey(ip), password, knownBrowser: browser });
    if ('refused' in admission) {
      if (admission.refused === 'locked') await recordLocked('web', 'admin', name, ip, admission.first);
      return refusal(admission.refused, admission.retryAfterSeconds);
    }
    const { attempt } = admission;
    let admin: Admin | null;
    let ok: boolean;
    try {
      admin = await stores.admins.findAdminByUsername(name);
      ({ ok } = await verify(`admin:${name}`, admin?.id ?? 0, admin?.passwordVersion ?? 0, admin?.passwordHash ?? null, password, ip));
    } catch (err) {
      await attempt.finish('aborted');
      throw err;
    }
    if (!admin || !ok || !adminMayBeIn(admin)) {
      await attempt.finish('failure');
      await record('web', 'admin', 'failure', name, ip);
      return badCredentials;
    }
    await attempt.finish('success');
    if (await secondFactors.has(`admin:${admin.id}`)) {
      await audit.record(`admin:${admin.username}`, 'login.password-accepted', admin.username, displayAddress(ip), 'second factor pending');
      if (!browser) alerts?.raise(`admin:${admin.id}`, 'password-accepted', { ip: displayAddress(ip) });
      return { ok: true, principal: { kind: 'admin', admin }, cached: false, secondFactor: true };
    }
    if (hasher.needsRehash(admin.passwordHash)) {
      const { id, passwordVersion } = admin;
      hasher.hash(password).then((hash) => stores.admins.rehashAdminPassword(id, passwordVersion, hash), () => {}).catch(() => {});
    }
    seen(`admin:${admin.id}`, 'web', ip);
    await record('web', 'admin', 'success', name, ip, { kind: 'admin', id: admin.id, username: admin.username, isSuper: admin.isSuper, domainIds: admin.domainIds, via: 'web' });
    return { ok: true, principal: { kind: 'admin', admin }, cached: false, browserMark: await issueMark(`admin:${name}`) };
  };

  /** A bearer token: no name to count, so only the client address is limited (its failures, not its calls). */
  const tokenLogin = async (token: unknown, ip: string | null): Promise<LoginResult> => {
    const plaintext = typeof token === 'string' && TOKEN.test(token) ? token : null;
    const admission = await throttle.begin({ protocol: 'api', name: null, address: addressKey(ip), password: plaintext ?? String(token).slice(0, 100) });
    if ('refused' in admission) {
      if (admission.refused === 'locked') await recordLocked('api', 'account', '', ip, admission.first);
      return refusal(admission.refused, admission.retryAfterSeconds);
    }
    const { attempt } = admission;
    let found: ApiToken | null = null;
    let admin: Admin | null = null;
    try {
      found = plaintext ? await stores.tokens.findTokenByHash(tokenDigest(plaintext)) : null;
      admin = found && found.revokedAt === null ? await stores.admins.findAdminById(found.adminId) : null;
    } catch (err) {
      await attempt.finish('aborted');
      throw err;
    }
    // SPEC §18: an expired token is no token (401), like a revoked one.
    if (!found || !admin || !adminMayBeIn(admin) || (found.expiresAt !== null && found.expiresAt <= clock.now())) {
      await attempt.finish('failure');
      await record('api', 'account', 'failure', plaintext ? plaintext.slice(0, 10) : '', ip);
      return badCredentials;
    }
    await attempt.finish('success');
    // Successful API calls are not audited one by one (a script makes thousands); the metric counts them.
    onEvent?.({ protocol: 'api', result: 'success' });
    const now = clock.now();
    if (found.lastUsedAt === null || found.lastUsedAt <= now - TOUCH_EVERY_SECONDS) await stores.tokens.touchToken(found.id, now, ip);
    return { ok: true, principal: { kind: 'token', token: found, admin }, cached: false };
  };

  /** A login with a name and a password (web, SMTP or a webmail's password change). */
  const passwordLogin = async (request: Exclude<LoginRequest, { protocol: 'api' }>): Promise<LoginResult> => {
    const realm: LoginRealm = request.protocol === 'web' ? request.realm : 'account';
    const password = typeof request.password === 'string' ? request.password : '';
    const name = normalizeLoginName(request.name, realm);
    // A malformed name or an over-long password is refused before anything is counted or hashed:
    // no valid login is like that. It is still a failed login, and audited as one.
    if (name === null || password === '' || Buffer.byteLength(password) > MAX_PASSWORD_BYTES) {
      // A malformed name is never kept as typed: it is often a password typed into the wrong field.
      const shown = name ?? (typeof request.name === 'string' && request.name !== '' ? MALFORMED_NAME : '');
      await record(request.protocol, realm, 'failure', shown, request.ip);
      return badCredentials;
    }
    const mark = request.protocol === 'web' ? request.browserMark : null;
    const browser = mark ? await knownBrowser(`${realm}:${name}`, mark) : null;
    if (realm === 'admin') return adminLogin(name, password, request.ip, browser);
    const how =
      request.protocol === 'smtp'
        ? { mechanism: (request.mechanism ?? 'PLAIN').toUpperCase().slice(0, 20), client: (request.tls ?? '').slice(0, 40) }
        : request.protocol === 'webmail'
          ? { mechanism: 'password-change', client: '' }
          : { mechanism: 'password', client: browserName(request.userAgent) };
    return accountLogin(request.protocol, name, password, request.ip, browser, how);
  };

  const verifyCurrentPassword: Logins['verifyCurrentPassword'] = async (actor, hash, password, ip, userAgent) => {
    const name = actor.kind === 'admin' ? `admin:${actor.username}` : actor.login;
    // Only a signed-in owner gets here: it is held by a count of its own (as a known browser is),
    // so strangers who used up the name's logins do not keep it from changing its password.
    const admission = await throttle.begin({ protocol: 'web', name, address: addressKey(ip), password, knownBrowser: `signed-in ${name}` });
    if ('refused' in admission) throw new RateLimitedError(admission.retryAfterSeconds);
    let ok = false;
    try {
      ok = password !== '' && Buffer.byteLength(password) <= MAX_PASSWORD_BYTES && (await hasher.verify(hash, password, addressQueue(ip)));
    } catch (err) {
      await admission.attempt.finish('aborted');
      throw err;
    }
    await admission.attempt.finish(ok ? 'success' : 'failure');
    if (!ok) {
      onEvent?.({ protocol: 'web', result: 'failure' });
      if (actor.kind === 'mailbox') {
        batcher.recordAttempt({ accountId: actor.id, at: clock.now(), protocol: 'web', mechanism: 'current-password', result: 'bad-password', ip: displayAddress(ip), client: browserName(userAgent) });
      }
      const target = actor.kind === 'admin' ? actor.username : actor.login;
      await audit.record(actor, actor.kind === 'admin' ? 'admin-login.failure' : 'login.failure', target, displayAddress(ip), 'current password');
    }
    return ok;
  };

  return {
    async warmUp() {
      await dummyHash();
    },

    async prepare() {
      await Promise.all([throttle.prepare(), browserKey()]);
    },

    async attempt(request) {
      if (request.protocol === 'api') return tokenLogin(request.token, request.ip);
      const started = performance.now();
      const result = await passwordLogin(request);
      const wait = started + (deps.failureDelayMs ?? 0) - performance.now();
      if (!result.ok && result.reason === 'bad-credentials' && wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      return result;
    },


    verifyCurrentPassword,

    async confirmPassword(actor, password, ip, userAgent) {
      const hash = actor.kind === 'admin' ? (await stores.admins.findAdminById(actor.id))?.passwordHash : (await stores.accounts.findAccountById(actor.id))?.passwordHash;
      if (!hash) return false;
      return verifyCurrentPassword(actor, hash, typeof password === 'string' ? password : '', ip, userAgent);
    },

    async secondStep({ realm, owner, pwv, proof, ip, userAgent, browserMark }) {
      const [kind, idText] = owner.split(':');
      const id = Number(idText);
      const admin = kind === 'admin' ? await stores.admins.findAdminById(id) : null;
      const account = kind === 'mailbox' ? await stores.accounts.findAccountById(id) : null;
      const live = admin ? stillIn({ kind: 'admin', admin }, pwv) : account ? stillIn({ kind: 'mailbox', account }, pwv) : false;
      if (!live || (realm === 'admin') !== (kind === 'admin')) return badCredentials;
      const name = admin ? admin.username : account!.login;
      // The throttle's fingerprint of what was tried: the code, or which passkey answered.
      const tried = 'code' in proof ? (typeof proof.code === 'string' ? proof.code.slice(0, 64) : '') : `passkey:${String((proof.passkey as { id?: unknown } | null)?.id ?? '').slice(0, 200)}`;
      // Wrong codes count on a name of their own, which only someone past the password step can
      // raise: a stranger's wrong passwords never lock the owner out of its second step. A browser
      // that logged in as this name before is held by a count of its own here too (issue 29).
      const mark = browserMark ? await knownBrowser(`${realm}:${name}`, browserMark) : null;
      const admission = await throttle.begin({
        protocol: 'web',
        name: `second-step:${admin ? `admin:${name}` : name}`,
        address: addressKey(ip),
        password: tried,
        knownBrowser: mark ? `second-step:${mark}` : null,
      });
      if ('refused' in admission) {
        if (admission.refused === 'locked') await recordLocked('web', realm, name, ip, admission.first);
        return refusal(admission.refused, admission.retryAfterSeconds);
      }
      let ok = false;
      try {
        ok = await secondFactors.check(owner, name, proof);
      } catch (err) {
        await admission.attempt.finish('aborted');
        throw err;
      }
      await admission.attempt.finish(ok ? 'success' : 'failure');
      const how = { mechanism: 'code' in proof ? 'second-factor' : 'passkey', client: browserName(userAgent) };
      if (!ok) {
        onEvent?.({ protocol: 'web', result: 'failure' });
        await audit.record(admin ? `admin:${name}` : `login:${name}`, admin ? 'admin-login.failure' : 'login.failure', name, displayAddress(ip), 'second factor');
        if (account) remember(account, 'web', how, 'second-factor-failed', ip);
        return badCredentials;
      }
      if (account) {
        remember(account, 'web', how, 'ok', ip);
        await record('web', 'account', 'success', name, ip, { kind: 'mailbox', id: account.id, login: account.login });
        return { ok: true, principal: { kind: 'account', account }, cached: false, browserMark: await issueMark(`account:${name}`) };
      }
      seen(`admin:${admin!.id}`, 'web', ip);
      await record('web', 'admin', 'success', name, ip, { kind: 'admin', id: admin!.id, username: name, isSuper: admin!.isSuper, domainIds: admin!.domainIds, via: 'web' });
      return { ok: true, principal: { kind: 'admin', admin: admin! }, cached: false, browserMark: await issueMark(`admin:${name}`) };
    },

    async external({ realm, principal, ip, userAgent }) {
      if (principal.kind === 'account') {
        const { account } = principal;
        remember(account, 'web', { mechanism: 'oidc', client: browserName(userAgent) }, 'ok', ip);
        await record('web', realm, 'success', account.login, ip, { kind: 'mailbox', id: account.id, login: account.login }, 'oidc');
        return;
      }
      const { admin } = principal;
      seen(`admin:${admin.id}`, 'web', ip);
      await record('web', realm, 'success', admin.username, ip, { kind: 'admin', id: admin.id, username: admin.username, isSuper: admin.isSuper, domainIds: admin.domainIds, via: 'web' }, 'oidc');
    },

    externalRefused: ({ realm, name, ip, why }) => record('web', realm, 'failure', name.slice(0, 320) || MALFORMED_NAME, ip, undefined, `oidc: ${why}`),

    accountStates: (ids) => stores.accounts.readAccountVersions(ids),
  };
}
