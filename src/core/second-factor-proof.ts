/** Where WebAuthn binds a passkey: the panel's host and origin (PUBLIC_URL's, or localhost). */
export interface WebAuthnContext {
  rpID: string;
  origin: string;
}

/** What a second step brings: a TOTP or recovery code, or a passkey's assertion with the challenge it answers. */
export type SecondFactorProof = { code: unknown } | { passkey: unknown; challenge: string | undefined; ctx: WebAuthnContext };
