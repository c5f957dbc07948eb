import { createHash } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import { generateAuthenticationOptions, verifyAuthenticationResponse } from '@simplewebauthn/server';
import { MAX_TOTP_FAILURES, type Alerts } from './alerts.js';
import type { Clock, LimitCounters, SessionOwner, Stores } from './ports.js';
import type { SecondFactorProof, WebAuthnContext } from './second-factor-proof.js';

// SPEC §11: the second step of a login, what `logins` and `sessions` need of second factors.
// Enrolment (second-factors.ts) needs the mailboxes, which need the logins: the check does not.

/** RFC 6238 as SPEC §11 has it: 6 digits, 30 s, SHA-1 (what every authenticator app reads). */
export const PERIOD = 30;
export const totpOf = (secret: string, label: string) => new TOTP({ issuer: 'mailpass', label, algorithm: 'SHA1', digits: 6, period: PERIOD, secret: Secret.fromBase32(secret) });

/** Consecutive wrong TOTP codes are counted this long at most (a success, a recovery code or a passkey ends the run). */
const TOTP_FAILURE_WINDOW_SECONDS = 30 * 86_400;
const normalizeCode = (code: string) => code.replace(/[\s-]/g, '').toLowerCase();
export const hashCode = (code: string) => createHash('sha256').update(normalizeCode(code)).digest('hex');

export interface SecondFactorCheck {
  /** Whether the owner has a second factor (TOTP or a passkey): the one answer every door asks. */
  has(owner: SessionOwner): Promise<boolean>;
  /**
   * A second step: a TOTP code (each accepted once, ±1 step of clock drift), an unused recovery
   * code, or a passkey's assertion (its signature counter must move forward).
   */
  check(owner: SessionOwner, label: string, proof: SecondFactorProof): Promise<boolean>;
  /** WebAuthn authentication options for an owner's passkeys at the second step. */
  passkeyLogin(owner: SessionOwner, ctx: WebAuthnContext): Promise<{ options: unknown; challenge: string }>;
}

export function createSecondFactorCheck({
  stores,
  clock,
  alerts,
  counters,
}: {
  stores: Pick<Stores, 'secondFactors'>;
  clock: Clock;
  alerts: Pick<Alerts, 'raise'>;
  /** The consecutive wrong TOTP codes of each owner, shared by every process (the throttle's counters). */
  counters: LimitCounters;
}): SecondFactorCheck {
  const failuresKey = (owner: SessionOwner) => `totp-failures:${owner}`;
  /** A second step passed: the run of wrong TOTP codes is over. */
  const passed = async (owner: SessionOwner) => {
    await counters.delete(failuresKey(owner));
    return true;
  };
  return {
    has: (owner) => stores.secondFactors.hasSecondFactor(owner),

    async check(owner, label, proof) {
      if ('passkey' in proof) {
        const response = proof.passkey as { id?: unknown } | null;
        const passkey = (await stores.secondFactors.listPasskeys(owner)).find((p) => p.id === response?.id);
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
        const ok = !!verification?.verified && (await stores.secondFactors.usePasskey(passkey.id, verification.authenticationInfo.newCounter, clock.now()));
        return ok && passed(owner);
      }
      const code = typeof proof.code === 'string' ? proof.code.trim() : '';
      if (/^\d{6}$/.test(code.replace(/\s/g, ''))) {
        const { totp } = await stores.secondFactors.getSecondFactors(owner);
        if (!totp) return false;
        // NIST SP 800-63B §5.2.2: after MAX_TOTP_FAILURES wrong codes in a row, codes are refused
        // (a million codes cannot be walked 10 at a time over weeks); recovery codes and passkeys
        // still log in, and end the run.
        if ((await counters.get(failuresKey(owner))).count >= MAX_TOTP_FAILURES) return false;
        const delta = totpOf(totp.secret, label).validate({ token: code.replace(/\s/g, ''), timestamp: clock.now() * 1000, window: 1 });
        // A code is accepted once: its step must be newer than every step accepted before.
        if (delta !== null && (await stores.secondFactors.useTotpStep(owner, Math.floor(clock.now() / PERIOD) + delta))) return passed(owner);
        const run = await counters.add(failuresKey(owner), TOTP_FAILURE_WINDOW_SECONDS);
        if (run === MAX_TOTP_FAILURES) alerts.raise(owner, 'second-factor-guessed', {});
        return false;
      }
      if (normalizeCode(code).length !== 10) return false;
      return (await stores.secondFactors.useRecoveryCode(owner, hashCode(code), clock.now())) && passed(owner);
    },

    async passkeyLogin(owner, ctx) {
      const passkeys = await stores.secondFactors.listPasskeys(owner);
      const options = await generateAuthenticationOptions({
        rpID: ctx.rpID,
        allowCredentials: passkeys.map((p) => ({ id: p.id, transports: p.transports as never })),
        userVerification: 'preferred',
      });
      return { options, challenge: options.challenge };
    },

  };
}
