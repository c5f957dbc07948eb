import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import request from 'supertest';

// SPEC §18's identity provider in the tests: oidc-provider (a certified OpenID Provider) on
// loopback, with one confidential client for mailpass. Its login and consent steps finish by
// themselves as whoever the test chose (`idp.next`), so that a browser or supertest just follows
// the redirects.

export interface IdpUser {
  preferred_username?: string;
  email?: string;
  email_verified?: boolean;
  groups?: string[];
  name?: string;
}

export interface Idp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  users: Map<string, IdpUser>;
  /** Who logs in next, and the authentication methods the provider asserts for it. */
  next: { user: string; amr?: string[] };
  /** The ID token's lifetime in seconds. */
  idTokenTtl: number;
  /** Registers the client once mailpass listens (its redirect URI names its port); one or several servers. */
  register(...mailpassUrls: string[]): void;
  stop(): Promise<void>;
}

/** Listens first: mailpass needs the issuer's URL to start, the provider needs mailpass's to know its client. */
export async function startIdp(): Promise<Idp> {
  let handler: http.RequestListener = (_req, res) => res.writeHead(503).end();
  const server = http.createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const idp: Idp = {
    issuer,
    clientId: 'mailpass',
    clientSecret: 'mailpass-test-client-secret-0123456789',
    users: new Map(),
    next: { user: '' },
    idTokenTtl: 300,
    register(...mailpassUrls) {
      const provider = new Provider(issuer, {
        clients: [
          {
            client_id: idp.clientId,
            client_secret: idp.clientSecret,
            redirect_uris: mailpassUrls.map((u) => `${u}/oidc/callback`),
            post_logout_redirect_uris: mailpassUrls.flatMap((u) => [`${u}/login`, `${u}/admin/login`]),
            grant_types: ['authorization_code'],
            response_types: ['code'],
            token_endpoint_auth_method: 'client_secret_basic',
          },
        ],
        findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id, ...idp.users.get(id) }) }),
        claims: { openid: ['sub', 'amr', 'auth_time'], email: ['email', 'email_verified'], profile: ['preferred_username', 'name'], groups: ['groups'] },
        scopes: ['openid', 'email', 'profile', 'groups'],
        conformIdTokenClaims: false,
        features: {
          devInteractions: { enabled: false },
          rpInitiatedLogout: {
            enabled: true,
            // The provider's "sign out?" page, answered yes at once.
            logoutSource: async (ctx, form) => {
              ctx.body = `<!doctype html><html><body>${form}<button id="yes" type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button><script>document.getElementById('yes').click()</script></body></html>`;
            },
          },
        },
        interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
        pkce: { required: () => true },
        cookies: { keys: ['mailpass-test-cookie-key'] },
        jwks: { keys: [{ ...(privateKey.export({ format: 'jwk' }) as object), kid: 'test-key', use: 'sig', alg: 'RS256' }] },
        ttl: { IdToken: () => idp.idTokenTtl, AccessToken: 600, AuthorizationCode: 60, Session: 3600, Interaction: 600, Grant: 600 },
      } as ConstructorParameters<typeof Provider>[1]);
      const callback = provider.callback();
      handler = async (req, res) => {
        const m = /^\/interaction\/([^/?]+)$/.exec(req.url ?? '');
        if (!m) return callback(req, res);
        try {
          const details = await provider.interactionDetails(req, res);
          if (details.prompt.name === 'login') {
            await provider.interactionFinished(req, res, { login: { accountId: idp.next.user, amr: idp.next.amr } }, { mergeWithLastSubmission: false });
            return;
          }
          const grant = new provider.Grant({ accountId: details.session!.accountId, clientId: details.params.client_id as string });
          grant.addOIDCScope(String(details.params.scope));
          const grantId = await grant.save();
          await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
        } catch (err) {
          res.writeHead(500).end(String(err));
        }
      };
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  return idp;
}

/**
 * Follows a single sign-on from `startPath` on mailpass through the provider and back, as a
 * browser would (each origin with its own cookies), up to the callback; returns its path and query.
 */
export async function throughIdp(mailpass: ReturnType<typeof request.agent>, provider: ReturnType<typeof request.agent>, mailpassUrl: string, startPath: string): Promise<string> {
  let res = await mailpass.get(startPath);
  for (let hops = 0; hops < 10; hops++) {
    if (res.status !== 302 && res.status !== 303) throw new Error(`no redirect at hop ${hops}: ${res.status} ${res.text.slice(0, 200)}`);
    const next = new URL(res.headers.location!, hops === 0 ? mailpassUrl : res.request.url);
    if (next.href.startsWith(`${mailpassUrl}/oidc/callback`)) return next.pathname + next.search;
    res = await provider.get(next.pathname + next.search);
  }
  throw new Error('too many redirects');
}
