import type { AuditEntry } from './audit.js';
import type { SessionOwner } from './sessions.js';

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

/** SPEC §11: TOTP, passkeys and recovery codes of panel owners. */
export interface SecondFactorStore {
  /** An owner's TOTP (null: none) and unused recovery codes. */
  getSecondFactors(owner: SessionOwner): Promise<{ totp: { secret: string; lastStep: number; createdAt: number } | null; recoveryLeft: number }>;
  /** Turns TOTP on with its first accepted step and a new set of recovery codes, with `audit`, in one transaction. */
  addTotp(owner: SessionOwner, secret: string, step: number, recoveryHashes: readonly string[], now: number, audit: AuditEntry): Promise<void>;
  /** Accepts a TOTP step once: true only when it is newer than every step accepted before. */
  useTotpStep(owner: SessionOwner, step: number): Promise<boolean>;
  /** Uses a recovery code once: true only when it existed unused. */
  useRecoveryCode(owner: SessionOwner, hash: string, now: number): Promise<boolean>;
  listPasskeys(owner: SessionOwner): Promise<Passkey[]>;
  /** Whether the owner has any second factor (one indexed read; SMTP asks it on every mailbox login). */
  hasSecondFactor(owner: SessionOwner): Promise<boolean>;
  /** Adds a passkey and a new set of recovery codes, with `audit`, in one transaction. */
  addPasskey(passkey: Passkey, recoveryHashes: readonly string[], audit: AuditEntry): Promise<void>;
  /** Records a use: the new signature counter, only if it moved forward (or both are 0). */
  usePasskey(id: string, counter: number, now: number): Promise<boolean>;
  /** Removes every second factor and recovery code of the owner and ends its sessions, with `audit`. */
  removeSecondFactors(owner: SessionOwner, audit: AuditEntry): Promise<void>;
}
