import { randomInt } from 'node:crypto';
import { Secret } from 'otpauth';
import { generateRegistrationOptions, verifyRegistrationResponse } from '@simplewebauthn/server';
import { isSuper, type Actor } from './actors.js';
import type { Alerts } from './alerts.js';
import type { Audit } from './audit.js';
import { NotFoundError, ValidationError } from './errors.js';
import type { MailboxService } from './mailboxes.js';
import type { Clock, Domain, SessionOwner, Stores } from './ports.js';
import { hashCode, PERIOD, totpOf, type SecondFactorCheck } from './second-factor-check.js';
import type { WebAuthnContext } from './second-factor-proof.js';

export type PanelActor = Extract<Actor, { kind: 'mailbox' | 'admin' }>;

/** No 0/o, 1/l/i: a code read off paper is typed right. */
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
export const RECOVERY_CODES = 10;
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

/** SPEC §11's enrolment and removal; with the check of a second step (second-factor-check.ts) it is the panel's second-factor service. */
export interface SecondFactorService extends SecondFactorCheck {
  status(actor: PanelActor): Promise<{ totp: boolean; since: number | null; recoveryLeft: number; passkeys: Array<{ createdAt: number; lastUsedAt: number | null }> }>;
  /** WebAuthn registration options for a new passkey, and the challenge to keep until it answers. */
  passkeyRegistration(actor: PanelActor, ctx: WebAuthnContext): Promise<{ options: unknown; challenge: string }>;
  /** Verifies the browser's registration response and adds the passkey; returns 10 new recovery codes. */
  addPasskey(actor: PanelActor, response: unknown, challenge: string | undefined, ctx: WebAuthnContext, ip?: string | null): Promise<string[]>;
  /** A TOTP secret (base32; a new one unless `secret` is one being set up) and its otpauth:// URI, to show; nothing is stored until it is confirmed. */
  newTotp(actor: PanelActor, secret?: string): { secret: string; uri: string };
  /** Turns TOTP on once a code of `secret` is right; returns the 10 recovery codes, shown once. */
  confirmTotp(actor: PanelActor, secret: unknown, code: unknown, ip?: string | null): Promise<string[]>;
  /** A super admin removes a mailbox's or an admin's second factors; its sessions end. */
  removeFromMailbox(actor: Actor, domain: Domain, address: unknown, ip?: string | null): Promise<void>;
  removeFromAdmin(actor: Actor, username: unknown, ip?: string | null): Promise<void>;
}

export function createSecondFactorService({
  stores,
  clock,
  audit,
  mailboxes,
  alerts,
  check,
}: {
  stores: Pick<Stores, 'admins' | 'secondFactors'>;
  clock: Clock;
  audit: Audit;
  mailboxes: MailboxService;
  alerts: Pick<Alerts, 'raise'>;
  /** The check of a second step, which logins use before any mailbox exists to enrol. */
  check: SecondFactorCheck;
}): SecondFactorService {
  const remove = async (actor: Actor, owner: SessionOwner, target: string, ip: string | null) => {
    // Whose factors they were (a mailbox's or an admin's): what SPEC §19's event tells.
    const entry = audit.entry(actor, 'second-factor.remove', target, ip, owner.startsWith('admin:') ? 'admin' : 'mailbox');
    await stores.secondFactors.removeSecondFactors(owner, entry);
    audit.logged(entry);
    alerts.raise(owner, 'second-factor-removed', { by: 'admin' });
  };

  return {
    ...check,
    async status(actor) {
      const { totp, recoveryLeft } = await stores.secondFactors.getSecondFactors(ownerOf(actor));
      const passkeys = (await stores.secondFactors.listPasskeys(ownerOf(actor))).map((p) => ({ createdAt: p.createdAt, lastUsedAt: p.lastUsedAt }));
      return { totp: totp !== null, since: totp?.createdAt ?? null, recoveryLeft, passkeys };
    },

    async passkeyRegistration(actor, ctx) {
      const existing = await stores.secondFactors.listPasskeys(ownerOf(actor));
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
      await stores.secondFactors.addPasskey(
        { id: credential.id, owner: ownerOf(actor), publicKey: credential.publicKey, counter: credential.counter, transports: knownTransports(credential.transports), createdAt: clock.now(), lastUsedAt: null },
        codes.map(hashCode),
        entry,
      );
      audit.logged(entry);
      alerts.raise(ownerOf(actor), 'second-factor-added', { method: 'passkey', ip: entry.ip });
      return codes;
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
      await stores.secondFactors.addTotp(ownerOf(actor), secret, Math.floor(clock.now() / PERIOD) + delta, codes.map(hashCode), clock.now(), entry);
      audit.logged(entry);
      alerts.raise(ownerOf(actor), 'second-factor-added', { method: 'totp', ip: entry.ip });
      return codes;
    },

    async removeFromMailbox(actor, domain, address, ip = null) {
      if (!isSuper(actor)) throw new NotFoundError('mailbox-not-found', 'Mailbox not found');
      const mailbox = await mailboxes.getMailbox(actor, domain, address);
      await remove(actor, `mailbox:${mailbox.id}`, mailbox.login, ip);
    },

    async removeFromAdmin(actor, usernameInput, ip = null) {
      if (!isSuper(actor)) throw new NotFoundError('admin-not-found', 'Admin not found');
      const username = typeof usernameInput === 'string' ? usernameInput.trim().toLowerCase() : '';
      const admin = username ? await stores.admins.findAdminByUsername(username) : null;
      if (!admin) throw new NotFoundError('admin-not-found', 'Admin not found');
      await remove(actor, `admin:${admin.id}`, admin.username, ip);
    },
  };
}
