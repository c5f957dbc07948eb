import * as client from 'openid-client';
import type { OidcConfig } from '../config.js';
import { OidcRefusedError, type OidcClaims, type OidcPort } from '../core/sso.js';

/** What mailpass asks the issuer for: who (sub, a name), the address, and the groups. */
const SCOPE = 'openid email profile groups';
/** Seconds any request to the issuer may take. */
const TIMEOUT_SECONDS = 10;

/** The claim a check failed on, somewhere in the chain of causes the library gives (`{ claim: 'nonce' }`). */
function claimOf(err: unknown): string | undefined {
  for (let c = err as { cause?: unknown; claim?: unknown } | undefined; c; c = c.cause as typeof c) {
    if (typeof c.claim === 'string') return c.claim;
  }
  return undefined;
}

const loopback = (issuer: string) => ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(issuer).hostname);

/**
 * SPEC §18 over openid-client (a certified relying party): discovery and the issuer's keys (which
 * it fetches again when they rotate), the authorization code flow with PKCE (S256), `state` and
 * `nonce`, and every check of the ID token (signature, issuer, audience, expiry, nonce). The
 * issuer is discovered at the first login, and again after a failure.
 */
export function createOidcClient(settings: OidcConfig): OidcPort {
  let configuration: Promise<client.Configuration> | null = null;
  const discovered = () =>
    (configuration ??= client
      .discovery(
        new URL(settings.issuer),
        settings.clientId,
        { client_secret: settings.clientSecret, [client.clockTolerance]: settings.clockToleranceSeconds },
        client.ClientSecretBasic(settings.clientSecret),
        // Plain HTTP only for an issuer on this machine (config.ts refuses it elsewhere).
        { execute: loopback(settings.issuer) ? [client.allowInsecureRequests] : [], timeout: TIMEOUT_SECONDS },
      )
      .catch((err: unknown) => {
        configuration = null;
        throw err;
      }));

  return {
    async begin(redirectUri) {
      const config = await discovered();
      const codeVerifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: SCOPE,
        code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
        state,
        nonce,
      });
      return { url: url.href, check: { state, nonce, codeVerifier } };
    },

    async finish(callbackUrl, check) {
      const config = await discovered();
      try {
        const tokens = await client.authorizationCodeGrant(config, new URL(callbackUrl), {
          pkceCodeVerifier: check.codeVerifier,
          expectedState: check.state,
          expectedNonce: check.nonce,
          idTokenExpected: true,
        });
        const idClaims = tokens.claims()!;
        // The ID token is what was signed for this login; the userinfo endpoint may add the
        // address or the groups a provider leaves out of it (checked for the same subject).
        let claims: OidcClaims = { ...idClaims } as OidcClaims;
        const missing = claims.email === undefined || claims.groups === undefined;
        if (missing && tokens.access_token && config.serverMetadata().userinfo_endpoint) {
          const info = await client.fetchUserInfo(config, tokens.access_token, idClaims.sub);
          claims = { ...info, ...idClaims } as OidcClaims;
        }
        return { claims, idToken: tokens.id_token! };
      } catch (err) {
        // What the issuer or its token failed (a wrong state or nonce, a used code, an expired or
        // forged token) refuses this login; a network failure is the caller's 503.
        if (err instanceof client.AuthorizationResponseError || err instanceof client.ResponseBodyError || err instanceof client.ClientError) {
          const code = (err as { code?: string; error?: string }).error ?? (err as { code?: string }).code ?? err.name;
          // Which claim failed its check (nonce, exp, iss, aud), when the library says.
          const claim = claimOf(err);
          throw new OidcRefusedError(`${code}: ${err.message}${claim ? ` (${claim})` : ''}`.slice(0, 300));
        }
        throw err;
      }
    },

    async logoutUrl(idToken, postLogoutRedirectUri) {
      const config = await discovered();
      if (!config.serverMetadata().end_session_endpoint) return null;
      const params: Record<string, string> = { post_logout_redirect_uri: postLogoutRedirectUri };
      if (idToken) params.id_token_hint = idToken;
      return client.buildEndSessionUrl(config, params).href;
    },
  };
}
