import { accountMayBeIn, adminMayBeIn } from './account-state.js';
import type { AdminService } from './admins.js';
import type { LoginRealm } from './login-names.js';
import type { Logins, Principal } from './logins.js';
import type { Stores } from './ports.js';
import type { SecondFactorCheck } from './second-factor-check.js';

// SPEC §18: OpenID Connect single sign-on. The protocol (discovery, PKCE, state, nonce, the ID
// token's signature, issuer, audience and lifetime) is the OidcPort's, over a certified client
// library; here is who an identity is in mailpass, and whether it may come in.

/** What the callback of one login must match: made when it begins, kept in the visitor's session. */
export interface OidcCheck {
  state: string;
  nonce: string;
  codeVerifier: string;
}

/** The claims of a verified ID token (and the issuer's userinfo). */
export type OidcClaims = Record<string, unknown> & { sub: string };

export interface OidcPort {
  /** The issuer's authorization URL for a new login, with what its callback must match. */
  begin(redirectUri: string): Promise<{ url: string; check: OidcCheck }>;
  /** The callback's code exchanged and every check made; throws OidcRefusedError when one fails. */
  finish(callbackUrl: string, check: OidcCheck): Promise<{ claims: OidcClaims; idToken: string }>;
  /** Where the browser ends the issuer's session (RP-initiated logout); null when the issuer offers none. */
  logoutUrl(idToken: string | undefined, postLogoutRedirectUri: string): Promise<string | null>;
}

/** The issuer's answer or token failed a check (a wrong state or nonce, a replayed code, an expired token). */
export class OidcRefusedError extends Error {
  override name = 'OidcRefusedError';
}

export interface SsoSettings {
  name: string;
  adminClaim: string;
  superAdminGroup: string | null;
  domainAdminGroupPrefix: string | null;
  users: boolean;
  trustMfa: boolean;
}

export type SsoResult =
  | { ok: true; principal: Extract<Principal, { kind: 'account' | 'admin' }>; secondFactor: boolean }
  /** `why` goes to the audit log; the page says only that the login was refused. */
  | { ok: false; why: string };

export interface Sso {
  /** The button's words: `Log in with <name>`. */
  readonly name: string;
  /** Whether mailbox owners may log in with it too (OIDC_USERS). */
  readonly users: boolean;
  begin(redirectUri: string): Promise<{ url: string; check: OidcCheck }>;
  /** The callback of a login of `realm`: the identity checked, then matched to an admin or a mailbox. */
  finish(realm: LoginRealm, callbackUrl: string, check: OidcCheck, ip: string | null, userAgent?: string): Promise<SsoResult & { idToken?: string }>;
  logoutUrl(idToken: string | undefined, postLogoutRedirectUri: string): Promise<string | null>;
}

/** RFC 8176 methods that are a second factor (or several factors) in themselves. */
const MFA_METHODS = new Set(['mfa', 'otp', 'hwk', 'swk', 'sms', 'sc']);

const text = (value: unknown) => (typeof value === 'string' ? value : '');

export function createSso({
  oidc,
  settings,
  stores,
  admins,
  logins,
  secondFactors,
}: {
  oidc: OidcPort;
  settings: SsoSettings;
  stores: Pick<Stores, 'accounts' | 'admins'>;
  admins: Pick<AdminService, 'provision'>;
  logins: Pick<Logins, 'external' | 'externalRefused'>;
  secondFactors: Pick<SecondFactorCheck, 'has'>;
}): Sso {
  const groupsDecide = settings.superAdminGroup !== null || settings.domainAdminGroupPrefix !== null;

  /** The admin this identity is: matched by name, or made and kept in step from its groups. */
  const adminOf = async (claims: OidcClaims, ip: string | null): Promise<SsoResult> => {
    const name = text(claims[settings.adminClaim]).trim().toLowerCase();
    if (!name) return { ok: false, why: `no ${settings.adminClaim} claim` };
    let admin = await stores.admins.findAdminByUsername(name);
    if (groupsDecide) {
      const groups = Array.isArray(claims.groups) ? claims.groups.filter((g): g is string => typeof g === 'string') : [];
      const isSuper = settings.superAdminGroup !== null && groups.includes(settings.superAdminGroup);
      const prefix = settings.domainAdminGroupPrefix;
      const domains = prefix ? groups.filter((g) => g.startsWith(prefix) && g.length > prefix.length).map((g) => g.slice(prefix.length)) : [];
      // Leaving the groups ends the panel access: no admin group, no login (the admin stays as it was).
      if (!isSuper && domains.length === 0) return { ok: false, why: `${name}: in no admin group` };
      if (admin && !adminMayBeIn(admin)) return { ok: false, why: `${name}: disabled` };
      admin = await admins.provision(name, { isSuper, domains }, ip);
      if (!admin) return { ok: false, why: `${name}: not an admin name, or the last super admin` };
      if (!admin.isSuper && admin.domainIds.length === 0) return { ok: false, why: `${name}: none of its groups' domains exists` };
    }
    if (!admin) return { ok: false, why: `${name}: no such admin` };
    if (!adminMayBeIn(admin)) return { ok: false, why: `${name}: disabled` };
    return { ok: true, principal: { kind: 'admin', admin }, secondFactor: false };
  };

  /** The mailbox this identity is: its verified email address, a mailbox that may log in. */
  const accountOf = async (claims: OidcClaims): Promise<SsoResult> => {
    const email = text(claims.email).trim().toLowerCase();
    if (!settings.users) return { ok: false, why: `${email || claims.sub}: OIDC_USERS is off` };
    if (!email) return { ok: false, why: `${claims.sub}: no email claim` };
    if (claims.email_verified !== true) return { ok: false, why: `${email}: email not verified` };
    const account = await stores.accounts.findAccountByLogin(email);
    if (!account || account.kind !== 'mailbox') return { ok: false, why: `${email}: no such mailbox` };
    if (!accountMayBeIn(account)) return { ok: false, why: `${email}: disabled` };
    return { ok: true, principal: { kind: 'account', account }, secondFactor: false };
  };

  return {
    name: settings.name,
    users: settings.users,
    begin: (redirectUri) => oidc.begin(redirectUri),
    async finish(realm, callbackUrl, check, ip, userAgent) {
      let verified: { claims: OidcClaims; idToken: string };
      try {
        verified = await oidc.finish(callbackUrl, check);
      } catch (err) {
        if (!(err instanceof OidcRefusedError)) throw err;
        await logins.externalRefused({ realm, name: '', ip, why: err.message });
        return { ok: false, why: err.message };
      }
      const { claims, idToken } = verified;
      const result = realm === 'admin' ? await adminOf(claims, ip) : await accountOf(claims);
      if (!result.ok) {
        await logins.externalRefused({ realm, name: realm === 'admin' ? text(claims[settings.adminClaim]) : text(claims.email), ip, why: result.why });
        return result;
      }
      // The local second factor is kept, unless the provider asserts one and the operator trusts it.
      const owner = result.principal.kind === 'admin' ? (`admin:${result.principal.admin.id}` as const) : (`mailbox:${result.principal.account.id}` as const);
      const amr = Array.isArray(claims.amr) ? claims.amr.filter((m): m is string => typeof m === 'string') : [];
      const asserted = settings.trustMfa && amr.some((m) => MFA_METHODS.has(m));
      const secondFactor = !asserted && (await secondFactors.has(owner));
      if (!secondFactor) await logins.external({ realm, principal: result.principal, ip, userAgent });
      return { ...result, secondFactor, idToken };
    },
    logoutUrl: (idToken, post) => oidc.logoutUrl(idToken, post),
  };
}
