import { createHash, randomInt } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import { generateAuthenticationOptions, generateRegistrationOptions, verifyAuthenticationResponse, verifyRegistrationResponse } from '@simplewebauthn/server';
import { isSuper, type Actor } from './actors.js';
import { MAX_TOTP_FAILURES, type Alerts } from './alerts.js';
import type { Audit } from './audit.js';
import { NotFoundError, ValidationError } from './errors.js';
import type { MailboxService } from './mailboxes.js';
import type { Clock, Domain, LimitCounters, SessionOwner, Store } from './ports.js';
import type { SecondFactorProof, WebAuthnContext } from './second-factor-proof.js';

export type PanelActor = Extract<Actor, { kind: 'mailbox' | 'admin' }>;

/** RFC 6238 as SPEC §11 has it: 6 digits, 30 s, SHA-1 (what every authenticator app reads). */
const PERIOD = 30;
const totpOf = (secret: string, label: string) => new TOTP({ issuer: 'mailpass', label, algorithm: 'SHA1', digits: 6, period: PERIOD, secret: Secret.fromBase32(secret) });

/** No 0/o, 1/l/i: a code read off paper is typed right. */
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
export const RECOVERY_CODES = 10;
/** Consecutive wrong TOTP codes are counted this long at most (a success, a recovery code or a passkey ends the run). */
const TOTP_FAILURE_WINDOW_SECONDS = 30 * 86_400;
const normalizeCode = (code: string) => code.replace(/[\s-]/g, '').toLowerCase();
const hashCode = (code: string) => createHash('sha256').update(normalizeCode(code)).digest('hex');
/** 10 characters of 31: about 50 bits each, and each works once. */
const newRecoveryCode = () => {
  const chars = Array.from({ length: 10 }, () => RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)]).join('');
  return `${chars.slice(0, 5)}-${chars.slice(5)}`;
};

/** WebAuthn's transports (the browser reports them; only these are kept and handed back). */
const TRANSPORTS = new Set(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);
const knownTransports = (list: readonly string[] | undefined) => (list ?? []).filter((t) => TRANSPORTS.has(t)).slice(0, TRANSPORTS.size);

export const ownerOf = (actor: PanelActor): SessionOwner => (actor.kind === 'admin' ? `admin:${actor.id}` : `mailbox:${actor.id}`);
const labelOf = (actor: PanelActor) => (actor.kind === 'admin' ? actor.username : actor.login);

export interface SecondFactorService {
  status(actor: PanelActor): Promise<{ totp: boolean; since: number | null; recoveryLeft: number; passkeys: Array<{ createdAt: number; lastUsedAt: number | null }> }>;
  /** WebAuthn registration options for a new passkey, and the challenge to keep until it answers. */
  passkeyRegistration(actor: PanelActor, ctx: WebAuthnContext): Promise<{ options: unknown; challenge: string }>;
  /** Verifies the browser's registration response and adds the passkey; returns 10 new recovery codes. */
  addPasskey(actor: PanelActor, response: unknown, challenge: string | undefined, ctx: WebAuthnContext, ip?: string | null): Promise<string[]>;
  /** WebAuthn authentication options for an owner's passkeys at the second step. */
  passkeyLogin(owner: SessionOwner, ctx: WebAuthnContext): Promise<{ options: unknown; challenge: string }>;
  /** A TOTP secret (base32; a new one unless `secret` is one being set up) and its otpauth:// URI, to show; nothing is stored until it is confirmed. */
  newTotp(actor: PanelActor, secret?: string): { secret: string; uri: string };
  /** Turns TOTP on once a code of `secret` is right; returns the 10 recovery codes, shown once. */
  confirmTotp(actor: PanelActor, secret: unknown, code: unknown, ip?: string | null): Promise<string[]>;
  has(owner: SessionOwner): Promise<boolean>;
  /**
   * A second step: a TOTP code (each accepted once, ±1 step of clock drift), an unused recovery
   * code, or a passkey's assertion (its signature counter must move forward).
   */
  check(owner: SessionOwner, label: string, proof: SecondFactorProof): Promise<boolean>;
  /** A super admin removes a mailbox's or an admin's second factors; its sessions end. */
  removeFromMailbox(actor: Actor, domain: Domain, address: unknown, ip?: string | null): Promise<void>;
  removeFromAdmin(actor: Actor, username: unknown, ip?: string | null): Promise<void>;
}

export function createSecondFactorService({
  store,
  clock,
  audit,
  mailboxes,
  alerts,
  counters,
}: {
  store: Store;
  clock: Clock;
  audit: Audit;
  mailboxes: MailboxService;
  alerts: Pick<Alerts, 'raise'>;
  /** The consecutive wrong TOTP codes of each owner, shared by every process (the throttle's counters). */
  counters: LimitCounters;
}): SecondFactorService {
  const failuresKey = (owner: SessionOwner) => `totp-failures:${owner}`;
  /** A second step passed: the run of wrong TOTP codes is over. */
  const passed = async (owner: SessionOwner) => {
    await counters.delete(failuresKey(owner));
    return true;
  };
  const remove = async (actor: Actor, owner: SessionOwner, target: string, ip: string | null) => {
    const entry = audit.entry(actor, 'second-factor.remove', target, ip);
    await store.removeSecondFactors(owner, entry);
    audit.logged(entry);
    alerts.raise(owner, 'second-factor-removed', { by: 'admin' });
  };

  return {
    async status(actor) {
      const { totp, recoveryLeft } = await store.getSecondFactors(ownerOf(actor));
      const passkeys = (await store.listPasskeys(ownerOf(actor))).map((p) => ({ createdAt: p.createdAt, lastUsedAt: p.lastUsedAt }));
      return { totp: totp !== null, since: totp?.createdAt ?? null, recoveryLeft, passkeys };
    },

    async passkeyRegistration(actor, ctx) {
      const existing = await store.listPasskeys(ownerOf(actor));
      const options = await generateRegistrationOptions({
        rpName: 'mailpass',
        rpID: ctx.rpID,
        userName: labelOf(actor),
        userID: new TextEncoder().encode(ownerOf(actor)),
        attestationType: 'none',
        excludeCredentials: existing.map((p) => ({ id: p.id, transports: p.transports as never })),
        authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
      });
      return { options, challenge: options.challenge };
    },

    async addPasskey(actor, response, challenge, ctx, ip = null) {
      if (!challenge) throw new ValidationError({ passkey: ['The setup expired; try again.'] });
      const verification = await verifyRegistrationResponse({
        response: response as never,
        expectedChallenge: challenge,
        expectedOrigin: ctx.origin,
        expectedRPID: ctx.rpID,
        requireUserVerification: false,
      }).catch(() => null);
      if (!verification?.verified || !verification.registrationInfo) throw new ValidationError({ passkey: ['The passkey could not be verified.'] });
      const { credential } = verification.registrationInfo;
      const codes = Array.from({ length: RECOVERY_CODES }, newRecoveryCode);
      const entry = audit.entry(actor, 'second-factor.add', labelOf(actor), ip, 'passkey');
      await store.addPasskey(
        { id: credential.id, owner: ownerOf(actor), publicKey: credential.publicKey, counter: credential.counter, transports: knownTransports(credential.transports), createdAt: clock.now(), lastUsedAt: null },
        codes.map(hashCode),
        entry,
      );
      audit.logged(entry);
      alerts.raise(ownerOf(actor), 'second-factor-added', { method: 'passkey', ip: entry.ip });
      return codes;
    },

    async passkeyLogin(owner, ctx) {
      const passkeys = await store.listPasskeys(owner);
      const options = await generateAuthenticationOptions({
        rpID: ctx.rpID,
        allowCredentials: passkeys.map((p) => ({ id: p.id, transports: p.transports as never })),
        userVerification: 'preferred',
      });
      return { options, challenge: options.challenge };
    },

    newTotp(actor, pending) {
      const secret = pending && /^[A-Z2-7]{32}$/.test(pending) ? pending : new Secret({ size: 20 }).base32;
      return { secret, uri: totpOf(secret, labelOf(actor)).toString() };
    },

    async confirmTotp(actor, secretInput, codeInput, ip = null) {
      const secret = typeof secretInput === 'string' && /^[A-Z2-7]{32}$/.test(secretInput) ? secretInput : null;
      const code = typeof codeInput === 'string' ? codeInput.replace(/\s/g, '') : '';
      if (!secret) throw new ValidationError({ code: ['The setup expired; scan the new code below.'] });
      if (!/^\d{6}$/.test(code)) throw new ValidationError({ code: ['Must be the 6 digits your app shows.'] });
      const delta = totpOf(secret, labelOf(actor)).validate({ token: code, timestamp: clock.now() * 1000, window: 1 });
      if (delta === null) throw new ValidationError({ code: ['Is not right: check the time of your phone, and type the code it shows now.'] });
      const codes = Array.from({ length: RECOVERY_CODES }, newRecoveryCode);
      const entry = audit.entry(actor, 'second-factor.add', labelOf(actor), ip, 'totp');
      await store.addTotp(ownerOf(actor), secret, Math.floor(clock.now() / PERIOD) + delta, codes.map(hashCode), clock.now(), entry);
      audit.logged(entry);
      alerts.raise(ownerOf(actor), 'second-factor-added', { method: 'totp', ip: entry.ip });
      return codes;
    },

    has: (owner) => store.hasSecondFactor(owner),

    async check(owner, label, proof) {
      if ('passkey' in proof) {
        const response = proof.passkey as { id?: unknown } | null;
        const passkey = (await store.listPasskeys(owner)).find((p) => p.id === response?.id);
        if (!passkey || !proof.challenge) return false;
        const verification = await verifyAuthenticationResponse({
          response: response as never,
          expectedChallenge: proof.challenge,
          expectedOrigin: proof.ctx.origin,
          expectedRPID: proof.ctx.rpID,
          credential: { id: passkey.id, publicKey: passkey.publicKey as never, counter: passkey.counter, transports: passkey.transports as never },
          requireUserVerification: false,
        }).catch(() => null);
        // A counter that did not move forward means a cloned authenticator (or a replay).
        const ok = !!verification?.verified && (await store.usePasskey(passkey.id, verification.authenticationInfo.newCounter, clock.now()));
        return ok && passed(owner);
      }
      const code = typeof proof.code === 'string' ? proof.code.trim() : '';
      if (/^\d{6}$/.test(code.replace(/\s/g, ''))) {
        const { totp } = await store.getSecondFactors(owner);
        if (!totp) return false;
        // NIST SP 800-63B §5.2.2: after MAX_TOTP_FAILURES wrong codes in a row, codes are refused
        // (a million codes cannot be walked 10 at a time over weeks); recovery codes and passkeys
        // still log in, and end the run.
        if ((await counters.get(failuresKey(owner))).count >= MAX_TOTP_FAILURES) return false;
        const delta = totpOf(totp.secret, label).validate({ token: code.replace(/\s/g, ''), timestamp: clock.now() * 1000, window: 1 });
        // A code is accepted once: its step must be newer than every step accepted before.
        if (delta !== null && (await store.useTotpStep(owner, Math.floor(clock.now() / PERIOD) + delta))) return passed(owner);
        const run = await counters.add(failuresKey(owner), TOTP_FAILURE_WINDOW_SECONDS);
        if (run === MAX_TOTP_FAILURES) alerts.raise(owner, 'second-factor-guessed', {});
        return false;
      }
      if (normalizeCode(code).length !== 10) return false;
      return (await store.useRecoveryCode(owner, hashCode(code), clock.now())) && passed(owner);
    },

    async removeFromMailbox(actor, domain, address, ip = null) {
      if (!isSuper(actor)) throw new NotFoundError('mailbox-not-found', 'Mailbox not found');
      const mailbox = await mailboxes.getMailbox(actor, domain, address);
      await remove(actor, `mailbox:${mailbox.id}`, mailbox.login, ip);
    },

    async removeFromAdmin(actor, usernameInput, ip = null) {
      if (!isSuper(actor)) throw new NotFoundError('admin-not-found', 'Admin not found');
      const username = typeof usernameInput === 'string' ? usernameInput.trim().toLowerCase() : '';
      const admin = username ? await store.findAdminByUsername(username) : null;
      if (!admin) throw new NotFoundError('admin-not-found', 'Admin not found');
      await remove(actor, `admin:${admin.id}`, admin.username, ip);
    },
  };
}
